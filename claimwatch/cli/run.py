"""``run`` (the embedded run: files in, alerts and weekly reports out) and ``sample`` (a labelled data set)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claimwatch.cli.common import (
    EXIT_PARTIAL,
    Subparsers,
    clear_previous_output,
    is_week_folder,
    local_paths,
    print_counts,
    stdout_to_devnull,
)
from claimwatch.config import environment
from claimwatch.sample import BUNDLED_SAMPLE
from claimwatch.textsafe import format_alert
from schemas.alerts import SEVERITIES, Alert

if TYPE_CHECKING:
    from claimwatch.embedded import RunResult

RUN_OUTPUT_FILES = frozenset({"alerts.jsonl", "quarantine.jsonl", "rollups.jsonl", "files.jsonl"})
SAMPLE_OUTPUT = frozenset({"analytics", "catalog", "claims", "conflicts", "polls", "rights", "videos", "labels.json"})
EXAMPLES = {
    "run": "claimwatch run --input exports/ --out out --min-severity high",
    "sample": "claimwatch sample --out data --seed 11 --items 300 --days 18",
}


def register(sub: Subparsers) -> None:
    """The embedded run and the sample data set."""
    p = sub.add_parser("run", help="embedded run: read files, detect, write alerts and weekly reports")
    p.add_argument("--input", nargs="+", help="files or folders (default: the bundled sample)")
    p.add_argument("--out", default="claimwatch-out", help="output folder (default: %(default)s)")
    p.add_argument("--owner", help="our owner name in rights (default: CLAIMWATCH_OWNER, or our-label)")
    p.add_argument("--min-severity", choices=SEVERITIES, default="medium", help="print alerts from this severity")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument(
        "--json", action="store_true", help="no alert lines: one JSON object at the end (counts, alerts, files written)"
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("sample", help="write a realistic, labelled data set")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--items", type=int, default=300)
    p.add_argument("--days", type=int, default=21, help="days of data, at least 8: four of warm-up, then the scenarios")
    p.add_argument("--quiet-data", action="store_true", help="no injected scenarios (for counting false alerts)")
    p.add_argument(
        "--undated",
        action="store_true",
        help="claims reports without creation dates, poll files without dates in names",
    )
    p.set_defaults(func=cmd_sample)


def cmd_run(args: argparse.Namespace) -> int:
    from claimwatch.embedded import run

    inputs = local_paths(args.input) if args.input else [BUNDLED_SAMPLE]
    if not args.input:
        print(f"claimwatch: no --input given, running on the bundled sample ({BUNDLED_SAMPLE})", file=sys.stderr)
    for path in inputs:
        if path.is_dir() and any((path / name).exists() for name in ("rollups.jsonl", "alerts.jsonl")):
            raise ValueError(f"{path} is the output of a claimwatch run, not exports to read")
    out = Path(args.out)
    clear_previous_output(out, lambda e: e.name in RUN_OUTPUT_FILES or is_week_folder(e), "a claimwatch run's output")
    colour = sys.stdout.isatty() and not environment().no_color
    min_rank = SEVERITIES.index(args.min_severity)
    started = time.perf_counter()

    def on_alert(alert: Alert) -> None:
        if not args.json and SEVERITIES.index(alert.severity) >= min_rank:
            try:
                print(format_alert(alert, colour), flush=True)
            except BrokenPipeError:  # `claimwatch run | head`: the reader has enough; the run goes on
                stdout_to_devnull()

    def on_progress(done: int, total: int) -> None:
        if not args.quiet:
            print(f"  … {done:,}/{total:,} events ({100 * done / total:.0f}%)", file=sys.stderr, flush=True)

    owner = args.owner or environment().claimwatch_owner
    result = run(
        inputs,
        out,
        owner=owner,
        on_alert=on_alert,
        on_progress=on_progress,
        late_allowance_s=environment().claimwatch_late_allowance_seconds,
    )
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps(run_summary(result, out, elapsed), indent=1))
    else:
        print_summary(result, out, elapsed)
    read = result.counts().values()
    if not sum(r["records"] for r in read):
        raise ValueError(f"no record in {', '.join(map(str, inputs))}: no export claimwatch knows, or only empty ones")
    if sum(r["accepted"] for r in read) == 0:
        quarantined = sum(r["quarantined"] for r in read)
        print(
            f"claimwatch: error: every record read was quarantined ({quarantined:,}): see {out / 'quarantine.jsonl'}",
            file=sys.stderr,
        )
        return EXIT_PARTIAL
    return 0


def run_summary(result: RunResult, out: Path, elapsed: float) -> dict[str, Any]:
    """``run --json``: what the tables say, as one object."""
    from claimwatch.embedded import summarise

    return {
        "records_by_source": result.counts(),
        "left_out_by_core": result.left_out,
        "events": result.events,
        "duplicates_dropped": result.duplicates,
        "seconds": round(elapsed, 3),
        "alerts": {"total": len(result.alerts), "by_type": summarise(result.alerts)},
        "written": {name: str(out / name) for name in sorted(RUN_OUTPUT_FILES)},
        "reports": [str(folder / "report.html") for folder in result.report_dirs],
    }


def print_summary(result: RunResult, out: Path, elapsed: float) -> None:
    """The run's tables: records per source, events, alerts by type and severity, files written."""
    from claimwatch.embedded import summarise

    print()
    print_counts(result.counts())
    if result.left_out:
        print(f"  and {result.left_out:,} event(s) the detection core left out as impossible or late, also quarantined")
    print(f"\nEvents processed: {result.events:,} ({result.duplicates:,} duplicate records dropped) in {elapsed:.1f}s")
    print("\nAlerts                        " + "".join(f"{s:>9}" for s in SEVERITIES) + "    total")
    for type_, counts in summarise(result.alerts).items():
        cells = "".join(f"{counts.get(s, 0):9}" for s in SEVERITIES)
        print(f"  {type_:28}{cells}{sum(counts.values()):9}")
    print(f"\nWrote {out / 'alerts.jsonl'} ({len(result.alerts)} alerts), {out / 'quarantine.jsonl'}")
    for folder in result.report_dirs:
        print(f"Weekly report: {folder / 'report.html'}")


def cmd_sample(args: argparse.Namespace) -> int:
    from claimwatch.sample.generator import generate

    clear_previous_output(Path(args.out), lambda e: e.name in SAMPLE_OUTPUT, "a claimwatch sample")
    counts = generate(
        Path(args.out),
        seed=args.seed,
        items=args.items,
        days=args.days,
        scenarios=not args.quiet_data,
        undated=args.undated,
    )
    for name, n in counts.items():
        print(f"  {name:22} {n:>9,}")
    print(f"Wrote a data set (seed {args.seed}) to {args.out}")
    return 0
