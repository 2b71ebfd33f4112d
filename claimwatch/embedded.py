"""The embedded run: files → readers → the detection core in data-time order → alerts and reports.

No Kafka, no AWS: the same readers, detection core and report builder the stream worker and the
batch job use, in one process.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batch.report import (
    ROLLUPS_FILE,
    ReportInputs,
    WeekIndex,
    build_report,
    rollup_lines,
    write_report,
)
from claimwatch.detect.alerting import Clock, wall_clock
from claimwatch.detect.driver import Outcome, RecordDriver
from claimwatch.detect.monitor import MonitorConfig
from claimwatch.detect.routing import Router
from claimwatch.detect.store import StateStore
from claimwatch.front.filerows import file_key
from claimwatch.front.prepare import Front
from claimwatch.ingest.readers import FileTally, read_files
from claimwatch.runfolder import write_jsonl
from schemas.alerts import Alert
from schemas.events import QuarantineEntry

ROLLUP_EVERY = 20_000
FILES = "files"  # where the embedded run's events come from, as the driver names a source


@dataclass
class RunResult:
    alerts: list[Alert]
    files_read: list[FileTally]
    weeks: list[str]
    report_dirs: list[Path]
    events: int
    duplicates: int
    quality: dict[str, int] = field(default_factory=dict)
    # One row per file (``files.jsonl``): a record that only repeats an earlier one counts as
    # quarantined there, as in the weekly report; ``left_out`` are events the core quarantined.
    files: list[dict[str, Any]] = field(default_factory=list)
    left_out: int = 0

    def counts(self) -> dict[str, dict[str, int]]:
        """Records read, accepted and quarantined, and events produced, per source."""
        table: dict[str, dict[str, int]] = {}
        for f in self.files:
            row = table.setdefault(f["source"], dict.fromkeys(("files", *FILE_COUNTS), 0))
            row["files"] += 1
            for name in FILE_COUNTS:
                row[name] += f[name]
        return dict(sorted(table.items()))


def _refuse_foreign(front: Front) -> None:
    """A folder of files none of which is an export claimwatch reads is a mistake to say, not a run."""
    unrecognised = {
        q.source_file for q in front.spool.quarantined() if q.reason_code in ("unrecognised_file", "empty_file")
    }
    if not front.unique and front.files and all(f.path in unrecognised for f in front.files):
        names = ", ".join(Path(f.path).name for f in front.files[:3]) + (", …" if len(front.files) > 3 else "")
        raise ValueError(
            f"no claimwatch export among the {len(front.files)} file(s) read ({names}): none is a known claims "
            "report, analytics report, poll log, catalog or rights file (see the input contract)"
        )


def run(
    inputs: Sequence[Path],
    out: Path | None,
    owner: str = "our-label",
    on_alert: Callable[[Alert], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    clock: Clock = wall_clock,
    late_allowance_s: float = MonitorConfig.late_allowance_seconds,
) -> RunResult:
    with Front(read_files(inputs), Router()) as front:
        _refuse_foreign(front)
        # The driver the worker's core process and replay run, over events already decoded: one
        # offset per event, in data-time order.
        store = StateStore(config=MonitorConfig(owner=owner, late_allowance_seconds=late_allowance_s), clock=clock)
        driver, monitors = RecordDriver(store), store.keyed
        alerts: list[Alert] = []
        left_out: list[QuarantineEntry] = []  # by the core: impossible, or an event it failed on
        rollups: dict[str, dict[str, Any]] = {}

        def deliver(batch: list[Alert]) -> None:
            for alert in batch:
                alerts.append(alert)
                if on_alert:
                    on_alert(alert)

        total = front.unique
        for n, (event, key, _) in enumerate(front.events(), start=1):
            outcome = Outcome()
            driver.apply_event(FILES, 0, n, key, event, outcome)
            deliver(outcome.alerts)
            left_out += outcome.suspect  # left out by the core as impossible: quarantined, with why
            # An event the core failed on (a bug) is quarantined where its record was; the run goes on.
            left_out += [
                entry.model_copy(update={"source_file": event.source_file, "line": event.source_line})
                for entry in outcome.dead_letters
            ]
            if n % ROLLUP_EVERY == 0:  # what the worker's checkpoints do: rows leave memory past the horizon
                rollups.update(monitors.take_rollups())
            if on_progress and (n % 20_000 == 0 or n == total):
                on_progress(n, total)
        deliver(monitors.flush())
        rollups.update(monitors.take_rollups())
        rows = front.file_rows()
        rollups.update((file_key(row), row) for row in rows)
        # A record that only repeats what was read before is quarantined with where the first was.
        report_inputs = ReportInputs(rows=rollups, alerts=alerts, quarantine=[*front.quarantined(), *left_out])
        files_read, duplicates = front.files, front.duplicates

    quality = monitors.quality()
    quality["duplicate_records_dropped"] = duplicates
    index = WeekIndex.build(report_inputs)
    weeks = index.weeks()
    report_dirs: list[Path] = []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_jsonl(out / "alerts.jsonl", (a.model_dump(mode="json") for a in alerts))
        write_jsonl(out / "quarantine.jsonl", (q.model_dump(mode="json") for q in report_inputs.quarantine))
        write_jsonl(out / ROLLUPS_FILE, rollup_lines(report_inputs.rows))
        write_jsonl(out / "files.jsonl", (_file_line(row) for row in rows))
        for week in weeks:
            report_dirs.append(write_report(build_report(index, week), out))
    return RunResult(alerts, files_read, weeks, report_dirs, total, duplicates, quality, rows, len(left_out))


FILE_COUNTS = ("records", "accepted", "quarantined", "events")


def _file_line(row: dict[str, Any]) -> dict[str, Any]:
    """A file's line of ``files.jsonl``: what it gave, repeats counted as quarantined."""
    return {name: row[name] for name in ("path", "source", "day", *FILE_COUNTS, "duplicates")}


def summarise(alerts: list[Alert]) -> dict[str, Counter[str]]:
    table: dict[str, Counter[str]] = {}
    for a in alerts:
        table.setdefault(a.type, Counter())[a.severity] += 1
    return dict(sorted(table.items()))
