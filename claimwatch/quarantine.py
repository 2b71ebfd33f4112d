"""The quarantine as something people can work with: list, show and export, with filters.

Every record that could not be read is a :class:`~schemas.QuarantineEntry` (file, line, field,
reason code, the raw text), on the Kafka quarantine topic or in an embedded run's
``quarantine.jsonl``. This module gives each entry a stable id (``q-…``, from where it was and
why, so the same bad record has the same id on every run), filters them by source, reason code and
time, counts them, and exports them to CSV or JSON Lines for the people who fix them.

Text from the records is hostile (terminal escapes, formulas, bidi overrides): printing goes
through :func:`~claimwatch.textsafe.safe_text` and CSV cells through the report's formula guard.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from claimwatch.ingest.readers import reader_source
from claimwatch.textsafe import safe_cell, safe_text
from schemas.events import QuarantineEntry, QuarantineResolution
from schemas.ids import stable_id

EXPORT_FIELDS = ("entry_id", "quarantined_at", "source", "source_file", "line", "field", "reason_code", "reason", "raw")
MAX_RAW = 100_000  # a 5 MB line is quarantined whole; an export keeps what a person can read


@dataclass(frozen=True)
class Quarantined:
    """One entry, with its id and (on Kafka) when it was quarantined."""

    entry: QuarantineEntry
    at: datetime | None = None
    resolved: QuarantineResolution | None = None  # its corrected record was released

    @property
    def entry_id(self) -> str:
        e = self.entry
        return "q-" + stable_id(e.source, e.source_file, e.line, e.field, e.reason_code)

    def row(self) -> dict[str, Any]:
        e = self.entry
        return {
            "entry_id": self.entry_id,
            "quarantined_at": self.at.isoformat().replace("+00:00", "Z") if self.at else None,
            "source": e.source,
            "source_file": e.source_file,
            "line": e.line,
            "field": e.field,
            "reason_code": e.reason_code,
            "reason": e.reason,
            "raw": e.raw[:MAX_RAW],
            "resolved": (
                f"released by {self.resolved.by} at {self.resolved.at.isoformat().replace('+00:00', 'Z')}"
                if self.resolved
                else None
            ),
        }


@dataclass(frozen=True)
class Filter:
    sources: frozenset[str] = frozenset()
    reasons: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None
    file_contains: str | None = None
    include_resolved: bool = False  # entries whose corrected record was released are done: hidden

    def admits(self, q: Quarantined) -> bool:
        e = q.entry
        if q.resolved is not None and not self.include_resolved:
            return False
        if self.sources and e.source not in self.sources and reader_source(e.source) not in self.sources:
            return False
        if self.reasons and e.reason_code not in self.reasons:
            return False
        if self.file_contains and self.file_contains not in e.source_file:
            return False
        if self.since is not None or self.until is not None:
            if q.at is None:
                return False  # an entry without a time cannot be placed in a window
            if self.since is not None and q.at < self.since:
                return False
            if self.until is not None and q.at >= self.until:
                return False
        return True


def from_run_folder(folder: Path) -> Iterator[Quarantined]:
    """The entries of an embedded run (``claimwatch run --out FOLDER``), in file order."""
    path = folder / "quarantine.jsonl" if folder.is_dir() else folder
    if not path.exists():
        raise FileNotFoundError(f"no quarantine.jsonl in {folder} (is it a `claimwatch run --out` folder?)")
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                yield Quarantined(_entry(line, f"{path}:{number}"))


def from_records(records: Iterable[tuple[int, bytes | None, bytes | None]]) -> Iterator[Quarantined]:
    """The entries of the quarantine topic's records ``(timestamp ms, key, value)``, each with its
    resolution if one of the topic's resolution records names it."""
    entries: list[Quarantined] = []
    resolutions: dict[str, QuarantineResolution] = {}
    for timestamp, _, value in records:
        if not value:
            continue
        resolution = _resolution(value)
        if resolution is not None:
            resolutions.setdefault(resolution.resolves, resolution)
            continue
        entries.append(Quarantined(_entry(value, "quarantine topic"), datetime.fromtimestamp(timestamp / 1000, tz=UTC)))
    for q in entries:
        yield Quarantined(q.entry, q.at, resolutions.get(q.entry_id)) if q.entry_id in resolutions else q


def open_entries(values: Iterable[bytes | None]) -> tuple[list[QuarantineEntry], int]:
    """The entries of quarantine records not yet resolved, and how many records were unreadable:
    what the weekly report and the audit count as quarantined."""
    quarantined = list(from_records((0, None, v) for v in values))
    unreadable = sum(1 for q in quarantined if q.entry.reason_code == "unreadable_entry")
    return [
        q.entry for q in quarantined if q.resolved is None and q.entry.reason_code != "unreadable_entry"
    ], unreadable


def _resolution(value: bytes) -> QuarantineResolution | None:
    if b'"resolution"' not in value:
        return None
    try:
        return QuarantineResolution.model_validate_json(value)
    except ValidationError:
        return None


def resolved_entries(values: Iterable[bytes | None]) -> dict[str, tuple[str, str]]:
    """Entry id → (by whom, when) of every resolution on the quarantine topic."""
    out: dict[str, tuple[str, str]] = {}
    for value in values:
        found = _resolution(value) if value else None
        if found is not None:
            out[found.resolves] = (found.by, found.at.isoformat(timespec="seconds"))
    return out


def resolutions_for(entry_ids: Iterable[str], by: str, at: datetime) -> list[QuarantineResolution]:
    return [QuarantineResolution(resolves=i, by=by[:200], at=at) for i in sorted(set(entry_ids))]


def _entry(text: str | bytes, where: str) -> QuarantineEntry:
    try:
        return QuarantineEntry.model_validate_json(text)
    except ValidationError:
        # Not an entry (written by hand, or by another tool): shown as what it is, not dropped.
        raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        return QuarantineEntry(
            source="unknown",
            source_file=where,
            line=0,
            reason="not a quarantine entry",
            reason_code="unreadable_entry",
            raw=raw[:MAX_RAW],
        )


def select(entries: Iterable[Quarantined], where: Filter) -> list[Quarantined]:
    """The admitted entries, each once (an entry published twice after a retry is one entry)."""
    seen: set[str] = set()
    out = []
    for q in entries:
        if where.admits(q) and q.entry_id not in seen:
            seen.add(q.entry_id)
            out.append(q)
    return out


def listing(entries: list[Quarantined], limit: int) -> dict[str, Any]:
    """``quarantine list --json``: the first ``limit`` entries (every field, as exported), how many
    more, and the counts by source and by reason over all of them."""
    return {
        "entries": [q.row() for q in entries[:limit]],
        "total": len(entries),
        "more": max(0, len(entries) - limit),
        "by_source": dict(sorted(Counter(q.entry.source for q in entries).items())),
        "by_reason": dict(sorted(Counter(q.entry.reason_code for q in entries).items())),
    }


def summary(entries: list[Quarantined]) -> str:
    """Counts by source and by reason code, as a short table."""
    by_source = Counter(q.entry.source for q in entries)
    by_reason = Counter(q.entry.reason_code for q in entries)
    lines = [f"{len(entries):,} quarantined records"]
    for title, counts in (("by source", by_source), ("by reason", by_reason)):
        lines.append(f"  {title}:")
        lines += [
            f"    {safe_text(name, 60):40} {n:>8,}" for name, n in sorted(counts.items(), key=lambda x: (-x[1], x[0]))
        ]
    return "\n".join(lines)


def list_line(q: Quarantined) -> str:
    e = q.entry
    when = q.at.strftime("%Y-%m-%d %H:%M") if q.at else "-"
    where = f"{Path(e.source_file).name}:{e.line}" + (f" [{e.field}]" if e.field else "")
    done = "  (released)" if q.resolved else ""
    return (
        f"{q.entry_id}  {when:16}  {safe_text(e.source, 24):24}  {safe_text(e.reason_code, 22):22}  "
        f"{safe_text(where, 60)}{done}"
    )


def show(q: Quarantined) -> str:
    row = q.row()
    width = max(len(k) for k in row)
    lines = [f"{k:{width}}  {safe_text(str(v) if v is not None else '-', 2_000)}" for k, v in row.items() if k != "raw"]
    lines.append(f"{'raw':{width}}  {safe_text(row['raw'], 2_000)!s}")
    return "\n".join(lines)


def export(entries: list[Quarantined], path: Path) -> None:
    """CSV (for spreadsheets: UTF-8 with BOM, CRLF, formulas defused) or JSON Lines, by extension."""

    if path.suffix.lower() == ".csv":
        buffer = io.StringIO()
        buffer.write("\ufeff")
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(EXPORT_FIELDS)
        for q in entries:
            row = q.row()
            writer.writerow([safe_cell(row[k]) if k != "raw" else _defused(row[k]) for k in EXPORT_FIELDS])
        path.write_text(buffer.getvalue(), encoding="utf-8")
    elif path.suffix.lower() in (".jsonl", ".json"):
        with path.open("w", encoding="utf-8") as fh:
            for q in entries:
                fh.write(json.dumps(q.row(), ensure_ascii=False) + "\n")
    else:
        raise ValueError(f"--out must end in .csv or .jsonl, got {path.name!r}")


def _defused(raw: str) -> str:
    """The raw record, whole (people fix it from this), but never run as a spreadsheet formula."""
    return "'" + raw if raw.startswith(("=", "+", "-", "@", "\t", "\r")) else raw


# ------------------------------------------------------------------------------------ release
# A person fixes the ``raw`` of exported entries; release reads each corrected record again, with
# the reader of its original file (the same header, the same name), and hands back events that
# say where they came from: the original file and line. Nothing is published while any corrected
# record still fails: the person sees which and why, and fixes them first.

LINE_FORMATS = (".csv", ".jsonl", ".ndjson")
LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what the readers count as the end of a line


@dataclass(frozen=True)
class Correction:
    entry_id: str
    source_file: str
    line: int
    raw: str


@dataclass
class Reread:
    events: list[Any]  # schemas.events.Event, with the original file and line
    replaces: dict[tuple[str, int], str]  # (original file, line) → the entry id it replaces
    still_bad: list[tuple[Correction, QuarantineEntry]]


# A corrected record is one record of a line-based file: no larger than a line may be.
MAX_CORRECTION_BYTES = 1 << 20


def load_corrections(path: Path) -> list[Correction]:
    """The rows of an export (CSV or JSON Lines) that people corrected: id, file, line, raw. A file
    that is not such an export, a cell or line too large for a record, an entry named twice: one
    ValueError naming where (nothing is released)."""
    try:
        rows = _export_rows(path)
    except (csv.Error, json.JSONDecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise ValueError(
            f"{path}: not a quarantine export that can be read ({type(exc).__name__}: {exc})"[:300]
        ) from None
    out = []
    seen: dict[str, int] = {}
    for n, row in enumerate(rows, start=2 if path.suffix.lower() == ".csv" else 1):
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{n}: not a record of a quarantine export (a JSON object per line)")
        try:
            raw = str(row["raw"])
            if len(raw.encode("utf-8", "replace")) > MAX_CORRECTION_BYTES:
                raise ValueError(
                    f"{path}:{n}: the corrected record is larger than a record may be ({MAX_CORRECTION_BYTES:,} bytes)"
                )
            entry_id = str(row["entry_id"])
            if entry_id in seen:
                raise ValueError(f"{path}:{n}: entry {entry_id} is corrected twice (also on line {seen[entry_id]})")
            seen[entry_id] = n
            if path.suffix.lower() == ".csv" and raw.startswith("'") and raw[1:2] in ("=", "+", "-", "@"):
                raw = raw[1:]  # the export's formula guard, taken off again
            out.append(Correction(entry_id, str(row["source_file"]), int(row["line"]), raw))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: needs entry_id, source_file, line and raw ({exc})") from None
    return out


def _export_rows(path: Path) -> list[Any]:
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return list(csv.DictReader(fh))
    with path.open(encoding="utf-8") as fh:
        rows = []
        for line in fh:
            if len(line) > 4 * MAX_CORRECTION_BYTES:
                raise ValueError(f"{path}: a line larger than a quarantine export's rows may be")
            if line.strip():
                rows.append(json.loads(line))
        return rows


def reread(corrections: list[Correction], workdir: Path) -> Reread:
    """Read corrected records again, each with its original file's reader and header."""
    from claimwatch.ingest.readers import read_paths

    by_file: dict[str, list[Correction]] = {}
    for c in corrections:
        by_file.setdefault(c.source_file, []).append(c)
    place: dict[tuple[str, int], Correction] = {}
    for n, (source_file, group) in enumerate(sorted(by_file.items())):
        name = Path(source_file).name.removesuffix(".gz")
        if not name.lower().endswith(LINE_FORMATS):
            raise ValueError(f"{source_file}: only line-based files (CSV, JSON Lines) can be released record by record")
        lines = []
        if name.lower().endswith(".csv"):
            lines.append(_header_of(Path(source_file)))
        folder = workdir / f"f{n}"
        folder.mkdir(parents=True)
        csv_file = name.lower().endswith(".csv")
        next_line = len(lines) + 1
        for c in group:
            # A CSV record may span lines (a quoted title with a line break): kept as it is, and the
            # record is placed by the line it starts on. A JSON line cannot: a break is a typo there.
            text = c.raw if csv_file else c.raw.replace("\r", " ").replace("\n", " ")
            lines.append(text)
            place[(str(folder / name), next_line)] = c
            next_line += len(LINE_BREAK.findall(text)) + 1
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = read_paths([workdir])
    events, replaces = [], {}
    extra: list[tuple[Correction, QuarantineEntry]] = []
    starts = sorted(place)
    for event in result.events:
        found = place.get((event.source_file, event.source_line))
        if found is None:
            # A record that starts inside a correction's text: a second row hidden in one cell. One
            # entry is one record; anything more is refused, never dropped without a word.
            owner = _correction_at(starts, place, event.source_file, event.source_line)
            if owner is not None:
                extra.append(
                    (
                        owner,
                        QuarantineEntry(
                            source="release",
                            source_file=owner.source_file,
                            line=owner.line,
                            reason=f"the corrected text holds more than one record (another starts {event.source_line - _start_of(starts, place, owner)} line(s) below)",
                            reason_code="extra_record",
                        ),
                    )
                )
            continue
        events.append(event.model_copy(update={"source_file": found.source_file, "source_line": found.line}))
        replaces[(found.source_file, found.line)] = found.entry_id
    still_bad = [(place[(q.source_file, q.line)], q) for q in result.quarantined if (q.source_file, q.line) in place]
    still_bad += extra
    unplaced = [q for q in result.quarantined if (q.source_file, q.line) not in place]
    still_bad += [(next(iter(place.values())), q) for q in unplaced]  # e.g. a file no reader recognises
    answered = {(c.source_file, c.line) for c, _ in still_bad} | set(replaces)
    for c in corrections:  # a blank correction reads as nothing at all: say so, never skip it silently
        if (c.source_file, c.line) not in answered:
            nothing = QuarantineEntry(
                source="release",
                source_file=c.source_file,
                line=c.line,
                reason="the corrected text holds no record",
                reason_code="no_record",
            )
            still_bad.append((c, nothing))
    return Reread(events, replaces, still_bad)


def _correction_at(
    starts: list[tuple[str, int]], place: dict[tuple[str, int], Correction], file: str, line: int
) -> Correction | None:
    """The correction whose text holds line ``line`` of the rewritten ``file`` (the last one that
    starts above it), or None (the header)."""
    index = bisect.bisect_right(starts, (file, line)) - 1
    if index < 0 or starts[index][0] != file:
        return None
    return place[starts[index]]


def _start_of(starts: list[tuple[str, int]], place: dict[tuple[str, int], Correction], owner: Correction) -> int:
    return next(key[1] for key in starts if place[key] is owner)


def _header_of(path: Path) -> str:
    """The first line of the original file: the header its records are read with."""
    import gzip

    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8-sig", errors="replace") as fh:
            return str(fh.readline()).rstrip("\r\n")
    except OSError as exc:
        raise ValueError(f"{path}: the original file is needed for its header ({exc.strerror})") from None
