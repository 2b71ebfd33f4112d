"""Readers: files as they come out of YouTube and the distributor's systems → canonical events.

A file is recognised by its header (CSV) or first record (JSON / JSON Lines), never by its name.
``.gz`` and a UTF-8 BOM are handled. A record that cannot be read becomes a
:class:`~schemas.QuarantineEntry` naming file, line, field and reason; the rest of the file goes on.
"""

from __future__ import annotations

import bisect
import csv
import gzip
import io
import json
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from claimwatch.ingest import normalize as n
from claimwatch.ingest.normalize import FieldError
from schemas.events import (
    CatalogItem,
    ClaimEvent,
    Event,
    MetricObservation,
    OwnershipConflict,
    QuarantineEntry,
    RightsRecord,
)
from schemas.ids import stable_id

MAX_FIELD_CHARS = 100_000  # a longer CSV cell is a broken or hostile file, not data
MAX_RAW_IN_QUARANTINE = 8_000  # whole records, for people to fix and release; bounded all the same
csv.field_size_limit(MAX_FIELD_CHARS)


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on what one file may make a reader hold: a hostile file cannot exhaust memory.

    A longer line, a larger JSON document or deeper nesting becomes a quarantine entry; past
    ``max_file_bytes`` (decompressed) the rest of the file is one quarantine entry. Set with
    ``CLAIMWATCH_MAX_LINE_BYTES``, ``CLAIMWATCH_MAX_DOCUMENT_BYTES``, ``CLAIMWATCH_MAX_FILE_BYTES``.
    """

    max_line_bytes: int = 1 << 20
    max_document_bytes: int = 64 << 20
    max_file_bytes: int = 4 << 30
    max_json_depth: int = 32

    @classmethod
    def from_env(cls) -> ReadLimits:
        from claimwatch.config import environment

        env = environment()
        return cls(
            max_line_bytes=env.claimwatch_max_line_bytes,
            max_document_bytes=env.claimwatch_max_document_bytes,
            max_file_bytes=env.claimwatch_max_file_bytes,
        )


@dataclass
class FileResult:
    """What one file gave. Every record read is either accepted (it became an event, or was summed
    into one) or quarantined, so ``records == accepted + len(quarantined)`` always holds."""

    path: str
    source: str
    events: list[Event] = field(default_factory=list)
    quarantined: list[QuarantineEntry] = field(default_factory=list)
    records: int = 0
    accepted: int = 0
    columns: list[str] = field(default_factory=list)  # a CSV's normalised header: its layout, for drift

    def reconciles(self) -> bool:
        return self.records == self.accepted + len(self.quarantined)

    def tally(self) -> FileTally:
        return FileTally(
            self.path,
            self.source,
            self.records,
            self.accepted,
            len(self.quarantined),
            len(self.events),
            tuple(self.columns),
            self.data_day(),
            self.days() if date_from_name(Path(self.path)) is None else (),
        )

    def days(self) -> tuple[DayTally, ...]:
        """Per day of data, what the file gave (for a file whose name gives no day): a record's day
        is that of its last event; a quarantined record's is its entry's ``data_day`` (see
        :func:`date_quarantine`), else the file's last day. Empty for a file with no dated event."""
        line_day: dict[int, date] = {}
        events: Counter[date] = Counter()
        for e in self.events:
            when = getattr(e, "event_time", None)
            if when is None:
                continue
            day = when.astimezone(UTC).date()
            events[day] += 1
            line = e.source_line or 0
            line_day[line] = max(day, line_day.get(line, day))
        if not events:
            return ()
        last = max(events)
        accepted = Counter(line_day.values())
        accepted[last] += self.accepted - len(line_day)  # records summed into another's event
        quarantined = Counter(q.data_day or last for q in self.quarantined)
        return tuple(
            DayTally(d, accepted[d] + quarantined[d], accepted[d], quarantined[d], events[d])
            for d in sorted(set(events) | set(quarantined))
        )

    def data_day(self) -> date | None:
        """The last day the file's records are about (by their data time; reference data has none):
        the day a file without a date in its name reports on."""
        times = [t for e in self.events if (t := getattr(e, "event_time", None)) is not None]
        return max(times).astimezone(UTC).date() if times else None


@dataclass(frozen=True)
class DayTally:
    """What a file without a day in its name gave for one day of its data."""

    day: date
    records: int
    accepted: int
    quarantined: int
    events: int


@dataclass(frozen=True)
class FileTally:
    """What one file gave, without its events: what its file row and the run's totals are made of."""

    path: str
    source: str
    records: int
    accepted: int
    quarantined: int
    events: int
    columns: tuple[str, ...] = ()
    data_day: date | None = None
    by_day: tuple[DayTally, ...] = ()  # for a file whose name gives no day: its data, day by day


def source_counts(files: Iterable[FileTally]) -> dict[str, dict[str, int]]:
    """Files, records read, accepted and quarantined, and events produced, per source."""
    table: dict[str, dict[str, int]] = {}
    for f in files:
        row = table.setdefault(f.source, {"files": 0, "records": 0, "accepted": 0, "events": 0, "quarantined": 0})
        row["files"] += 1
        row["records"] += f.records
        row["accepted"] += f.accepted
        row["events"] += f.events
        row["quarantined"] += f.quarantined
    return dict(sorted(table.items()))


@dataclass
class IngestResult:
    files: list[FileResult] = field(default_factory=list)

    @property
    def events(self) -> list[Event]:
        return [e for f in self.files for e in f.events]

    @property
    def quarantined(self) -> list[QuarantineEntry]:
        return [q for f in self.files for q in f.quarantined]

    def counts(self) -> dict[str, dict[str, int]]:
        """Records read, accepted and quarantined, and events produced, per source."""
        return source_counts(f.tally() for f in self.files)

    def reconciles(self) -> bool:
        return all(f.reconciles() for f in self.files)


class _Quarantine(Exception):
    def __init__(self, field: str | None, reason: str, code: str = "invalid_value") -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason
        self.code = code


def _validation_error(exc: ValidationError) -> _Quarantine:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ())) or None
    return _Quarantine(loc, f"{first.get('msg', 'invalid value')} ({len(exc.errors())} error(s))", "invalid_value")


# ---------------------------------------------------------------------------------------- files


def _open_bytes(path: Path) -> io.BufferedIOBase:
    raw = path.open("rb")
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw)
    return raw


GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, OSError)


def _peek(path: Path, size: int = 65536) -> str:
    """The start of the decoded file, for recognising its format."""
    try:
        with _open_bytes(path) as fh:
            head = fh.read(size)
    except GZIP_ERRORS:
        head = b""
    return head.decode("utf-8-sig", errors="replace")


DATE_IN_NAME = re.compile(r"(20\d{2})-?([01]\d)-?([0-3]\d)")


def date_from_name(path: Path) -> date | None:
    """Daily report downloads carry their report date in the name (``..._20261116.csv``)."""
    match = DATE_IN_NAME.search(path.name)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def _snapshot_date(path: Path) -> date:
    # Without a date in the name the file's modification day is the best remaining evidence.
    found = date_from_name(path)
    if found is not None:
        return found
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).date()


# ------------------------------------------------------------------------------- recognition


def _csv_kind(headers: set[str], raw_headers: list[str]) -> str | None:
    """The source a CSV belongs to, by its (normalised) header: the first entry of SOURCES that claims it."""
    return next((src.name for src in SOURCES if src.csv is not None and src.csv(headers, raw_headers)), None)


def _json_kind(record: dict[str, Any]) -> str | None:
    """The source a JSON record belongs to: the first entry of SOURCES that claims it."""
    return next((src.name for src in SOURCES if src.json is not None and src.json(record)), None)


def recognise(path: Path) -> str | None:
    head = _peek(path).lstrip()
    if not head:
        return None
    if head[0] in "[{":
        first = _first_json_record(head)
        return _json_kind(first) if first is not None else None
    lines = head.splitlines()
    if not lines:
        return None
    try:
        raw_headers = next(csv.reader([lines[0].replace("\x00", "")]))
    except (csv.Error, StopIteration):
        return None
    return _csv_kind({n.norm_header(h) for h in raw_headers}, raw_headers)


def _first_json_record(head: str) -> dict[str, Any] | None:
    line = head.splitlines()[0]
    for candidate in (line, head):
        try:
            value = _loads(candidate)
        except (ValueError, RecursionError):
            continue
        records = _json_records(value)
        return records[0] if records else None
    # A big JSON document cut by the peek: look for the first object's keys.
    if '"youtubePartner#claimHistory"' in head:
        return {"kind": "youtubePartner#claimHistory"}
    if '"youtubePartner#claim' in head:
        return {"kind": "youtubePartner#claim"}
    return None


def _json_records(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    if isinstance(value, dict):
        if isinstance(value.get("items"), list):
            return [v for v in value["items"] if isinstance(v, dict)]
        return [value]
    return []


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number in JSON")


def _loads(text: str) -> Any:
    """``json.loads`` without the non-standard ``NaN`` / ``Infinity`` literals."""
    return json.loads(text, parse_constant=_reject_constant)


def _json_depth(text: str, limit: int) -> int:
    """How deeply ``text`` nests (brackets inside strings count too: an upper bound, cheaply).

    Only called when the text has more than ``limit`` brackets at all, which real records never do.
    """
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
        elif ch in "]}":
            depth -= 1
    return deepest


def _csv_raw(row: list[str]) -> str:
    """A CSV row as text that reads back as the same cells (quoted where a cell needs it)."""
    if not any(("," in cell or '"' in cell or "\n" in cell or "\r" in cell) for cell in row):
        return ",".join(row)[:MAX_RAW_IN_QUARANTINE]
    buffer = io.StringIO()
    # The writer quotes a cell holding its line terminator; with an empty terminator a line break
    # inside a cell went unquoted and the text read back as two records.
    csv.writer(buffer, lineterminator="\r\n").writerow(row)
    return buffer.getvalue().removesuffix("\r\n")[:MAX_RAW_IN_QUARANTINE]


# ---------------------------------------------------------------------------- record streams

# (line or record number, record, raw text or the problem) — a problem is (reason code, reason), and
# the record's text when there is one to show.
Record = tuple[int, dict[str, Any] | None, "str | tuple[str, str] | tuple[str, str, str]"]
_LINE_END = re.compile(rb"\r\n|\r|\n")


def _physical_lines(path: Path, limits: ReadLimits) -> Iterator[tuple[int, bytes | None, tuple[str, str] | None]]:
    """Lines of a file (gzipped or not) as bytes, ended by LF, CRLF or a lone CR, each bounded.

    Yields ``(line number, bytes, None)`` or ``(line number, None, (code, reason))`` for a line that
    is too long, and a last problem for a file cut short or larger than allowed. Memory is bounded
    by ``max_line_bytes`` whatever the file holds.
    """
    number = 0
    buf = b""
    skipping = False  # inside a line already reported as too long
    total = 0
    try:
        with _open_bytes(path) as fh:
            while True:
                chunk = fh.read1(1 << 16)
                total += len(chunk)
                if total > limits.max_file_bytes:
                    yield (
                        number + 1,
                        None,
                        ("file_too_large", f"more than {limits.max_file_bytes:,} bytes decompressed"),
                    )
                    return
                if chunk:
                    buf += chunk
                start = 0
                for match in _LINE_END.finditer(buf):
                    end = match.end()
                    if match.group() == b"\r" and end == len(buf) and chunk:
                        break  # a CR at the end of a chunk may be the first half of a CRLF
                    if skipping:
                        skipping = False
                    else:
                        number += 1
                        yield number, buf[start:end], None
                    start = end
                buf = buf[start:]
                if len(buf) > limits.max_line_bytes:
                    if not skipping:
                        number += 1
                        yield number, None, ("line_too_long", f"line longer than {limits.max_line_bytes:,} bytes")
                        skipping = True
                    buf = b""
                if not chunk:
                    break
    except GZIP_ERRORS as exc:
        # Complete lines before the damage were yielded; the cut line and the rest are one entry.
        yield number + 1, None, ("corrupt_file", f"truncated or corrupt file after line {number}: {exc}"[:300])
        return
    if buf and not skipping:
        number += 1
        yield number, buf, None


def _decoded_lines(path: Path, limits: ReadLimits) -> Iterator[tuple[int, str | None, tuple[str, str] | None]]:
    """Physical lines decoded as UTF-8 one by one: a bad byte spoils its own line, never the rest."""
    for number, data, problem in _physical_lines(path, limits):
        if data is None:
            yield number, None, problem
            continue
        try:
            line = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, None, ("encoding", f"not UTF-8 at byte {exc.start} of the line: {exc.reason}")
            continue
        if number == 1:
            line = line.lstrip("\ufeff")
        if "\x00" in line:
            yield number, None, ("nul_byte", "NUL byte in the line")
            continue
        yield number, line, None


class _LineFeed:
    """Feeds decoded lines to ``csv.reader`` and keeps the problems of the lines it had to skip, and
    where the current row started, so rows and skipped lines keep their physical line numbers."""

    def __init__(self, lines: Iterator[tuple[int, str | None, tuple[str, str] | None]]) -> None:
        self.lines = lines
        self.problems: list[tuple[int, tuple[str, str]]] = []
        self.row_start = 0
        self.last = 0
        self.fresh_row = True

    def __iter__(self) -> Iterator[str]:
        for number, line, problem in self.lines:
            self.last = number
            if line is None:
                assert problem is not None
                self.problems.append((number, problem))
                continue
            if self.fresh_row:
                self.row_start, self.fresh_row = number, False
            yield line


def _csv_records(path: Path, kind: str, limits: ReadLimits) -> Iterator[Record]:
    """Rows as dicts with normalised headers, checked against the report family's structure.

    Unknown columns stay in the dict. A row with the wrong number of cells, or any row of a file
    whose header repeats or lacks a required column, is quarantined: never misattributed values.
    """
    feed = _LineFeed(_decoded_lines(path, limits))
    reader = csv.reader(feed)

    def drain() -> Iterator[Record]:
        while feed.problems:
            number, problem = feed.problems.pop(0)
            yield number, None, problem

    try:
        raw_headers = next(reader)
    except StopIteration:
        yield from drain()
        return
    except csv.Error as exc:
        yield from drain()
        yield feed.row_start, None, ("malformed_csv", f"unreadable header: {exc}")
        raw_headers = None
    yield from drain()
    feed.fresh_row = True
    header_problem: tuple[str, str] | None = None
    headers: list[str] = []
    if raw_headers is None:
        header_problem = ("malformed_csv", "the header could not be read")
    else:
        headers = [n.norm_header(h) for h in raw_headers]
        named = [h for h in headers if h]
        repeated = sorted(h for h, times in Counter(named).items() if times > 1)  # linear: headers are hostile too
        missing = sorted(BY_NAME[kind].required - set(named)) if kind in BY_NAME else []
        if repeated:
            header_problem = ("duplicate_column", f"column(s) {', '.join(repeated)[:200]} appear more than once")
        elif missing:
            header_problem = ("missing_column", f"required column(s) {', '.join(missing)} missing")
    while True:
        try:
            row = next(reader)
        except StopIteration:
            yield from drain()
            return
        except csv.Error as exc:
            yield from drain()
            yield feed.row_start, None, ("malformed_csv", f"malformed CSV: {exc}")
            feed.fresh_row = True
            continue
        yield from drain()
        line = feed.row_start
        feed.fresh_row = True
        if not any(cell.strip() for cell in row):
            continue
        raw = _csv_raw(row)
        if header_problem is not None:
            yield line, None, (*header_problem, raw)
        elif len(row) != len(headers):
            yield line, None, ("cell_count", f"{len(row)} cells for {len(headers)} columns", raw)
        else:
            yield line, {h: cell for h, cell in zip(headers, row, strict=True) if h}, raw


def _json_stream(path: Path, limits: ReadLimits) -> Iterator[Record]:
    """Records of a JSON document (an array, a list response, one pretty-printed object) or of JSON Lines."""
    head = _peek(path, 4096).lstrip()
    if head.startswith("["):
        yield from _json_document(path, limits)
        return
    first_line = head.split("\n", 1)[0].split("\r", 1)[0]
    try:
        _loads(first_line)
    except (ValueError, RecursionError):
        # The first line is not a whole record: one pretty-printed document, unless it is a broken line.
        if head.startswith("{") and (len(first_line.strip()) <= 2 or '\n  "' in head[:200]):
            yield from _json_document(path, limits)
            return
    yield from _json_lines(path, limits)


def _json_value(text: str, limits: ReadLimits) -> Any:
    """Parse one JSON text, or raise :class:`_Quarantine` saying why not."""
    if text.count("[") + text.count("{") > limits.max_json_depth and _json_depth(text, limits.max_json_depth) > (
        limits.max_json_depth
    ):
        raise _Quarantine(None, f"JSON nested deeper than {limits.max_json_depth} levels", "json_too_deep")
    try:
        return _loads(text)
    except RecursionError:
        raise _Quarantine(None, "JSON nested too deeply", "json_too_deep") from None
    except ValueError as exc:
        raise _Quarantine(None, f"invalid JSON: {exc}"[:300], "invalid_json") from None


def _json_lines(path: Path, limits: ReadLimits) -> Iterator[Record]:
    for number, line, problem in _decoded_lines(path, limits):
        if line is None:
            assert problem is not None
            yield number, None, problem
            continue
        if not line.strip():
            continue
        raw = line.rstrip("\r\n")[:MAX_RAW_IN_QUARANTINE]
        try:
            value = _json_value(line, limits)
        except _Quarantine as q:
            yield number, None, (q.code, q.reason, raw)  # the text as read: people fix it from this
            continue
        records = _json_records(value)
        if not records:
            yield number, None, ("not_an_object", "JSON line is not an object", raw)
            continue
        for record in records:
            yield number, record, raw


def record_texts(path: Path) -> dict[int, str]:
    """Each readable record of a line-based file (CSV, JSON Lines) by its line, as text that reads
    back as the same record: what a person corrects when a file turns out wrong after it was read."""
    kind = recognise(path)
    name = path.name.lower().removesuffix(".gz")
    limits = ReadLimits()
    if kind is None:
        return {}
    if name.endswith(".csv"):
        records = _csv_records(path, kind, limits)
    elif name.endswith((".jsonl", ".ndjson")):
        records = _json_lines(path, limits)
    else:
        return {}
    return {line: raw for line, record, raw in records if record is not None and isinstance(raw, str)}


def _json_document(path: Path, limits: ReadLimits) -> Iterator[Record]:
    data = bytearray()
    try:
        with _open_bytes(path) as fh:
            while chunk := fh.read1(1 << 16):
                data += chunk
                if len(data) > limits.max_document_bytes:
                    yield (
                        1,
                        None,
                        ("document_too_large", f"JSON document larger than {limits.max_document_bytes:,} bytes"),
                    )
                    return
    except GZIP_ERRORS as exc:
        yield 1, None, ("corrupt_file", f"truncated or corrupt file: {exc}"[:300])
        return
    # A bad byte is replaced so the rest of the document still reads; the records it touched are
    # quarantined below (they hold U+FFFD where the byte was).
    text = bytes(data).decode("utf-8-sig", errors="replace")
    had_bad_bytes = "\ufffd" in text
    del data
    try:
        value = _json_value(text, limits)
    except _Quarantine as q:
        yield 1, None, (q.code, q.reason)
        return
    records = _json_records(value)
    if not records:
        yield 1, None, ("not_an_object", "JSON document holds no record objects")
    for number, record in enumerate(records, start=1):
        raw = json.dumps(record, ensure_ascii=False)[:MAX_RAW_IN_QUARANTINE]
        if had_bad_bytes and "\ufffd" in raw:
            yield number, None, ("encoding", "record holds bytes that are not UTF-8")
        else:
            yield number, record, raw


# -------------------------------------------------------------------------------- row mappers


def _extra(row: dict[str, Any], known: Iterable[str]) -> dict[str, str]:
    known_set = set(known)
    return {k: str(v)[:MAX_RAW_IN_QUARANTINE] for k, v in row.items() if k not in known_set and v not in ("", None)}


CLAIM_CSV_FIELDS = frozenset(
    """
    claim_id channel_id asset_id video_id reference_id reference_video_id claim_policy_id
    asset_policy_id custom_id claim_status claim_status_detail claim_origin claim_type uploader
    channel_display_name video_title views engaged_views matching_duration longest_match
    video_duration_sec claim_policy_monetize claim_policy_track claim_policy_block
    claim_created_date asset_title isrc
    """.split()
)


def _policy(row: dict[str, Any]) -> dict[str, str]:
    by_territory: dict[str, str] = {}
    for action in ("monetize", "track", "block"):  # a later, stricter action wins a territory
        for territory in n.pipe_list(row, f"claim_policy_{action}"):
            by_territory[territory.upper()[:8]] = action
    return by_territory


def _claim_status(status: str | None, detail: str | None) -> str:
    base = n.open_enum(status, n.CLAIM_STATUS, "unknown")
    if detail:
        refined = n.STATUS_DETAIL_REFINES.get(n.snake(detail))
        if refined and base in ("pending", "active", "unknown"):
            return refined
    return base


def claim_csv_row(row: dict[str, Any], source: str, report_date: date, path: Path, line: int) -> ClaimEvent:
    claim_id = n.required(row, "claim_id")
    status_raw = n.text(row, "claim_status")
    detail = n.text(row, "claim_status_detail")
    observed = n.end_of_day(report_date)
    origin_raw = n.text(row, "claim_origin") or ""
    created = n.opt_date(row, "claim_created_date")
    return ClaimEvent(
        event_id=stable_id(source, claim_id, "snapshot", report_date),
        source="studio_claims_csv" if source == "claims_studio" else "reporting_api_claims",
        source_report_type=None if source == "claims_studio" else "content_owner_active_claims",
        observed_at=observed,
        event_time=observed,
        claim_id=claim_id,
        asset_id=n.text(row, "asset_id"),
        video_id=n.text(row, "video_id"),
        channel_id=n.text(row, "channel_id"),
        reference_id=n.text(row, "reference_id"),
        custom_id=n.text(row, "custom_id"),
        status=_claim_status(status_raw, detail),
        status_raw=status_raw or "",
        status_detail=n.snake(detail) if detail else None,
        content_type=n.open_enum(n.text(row, "claim_type"), n.CONTENT_TYPE, "unknown"),
        origin=n.open_enum(origin_raw or None, n.ORIGIN, "other" if origin_raw else "unknown"),
        origin_raw=origin_raw,
        policy_action_by_territory=_policy(row),
        claim_created_at=n.start_of_day(created) if created else None,
        views_lifetime=n.integer(row, "views"),
        engaged_views_lifetime=n.integer(row, "engaged_views"),
        matching_duration_s=n.number(row, "matching_duration", low=0),
        longest_match_s=n.number(row, "longest_match", low=0),
        video_duration_s=n.number(row, "video_duration_sec", low=0),
        video_title=n.text(row, "video_title"),
        channel_title=n.text(row, "channel_display_name"),
        asset_title=n.text(row, "asset_title"),
        isrc=n.text(row, "isrc"),
        extra=_extra(row, CLAIM_CSV_FIELDS),
        source_file=str(path),
        source_line=line,
    )


VIDEO_REPORT_FIELDS = frozenset(
    """
    video_id channel_id claim_id asset_id custom_id claim_origin claimed_by_this_owner
    claimed_by_another_owner other_owners_claiming views engaged_views video_title
    channel_display_name isrc
    """.split()
)


def video_report_row(row: dict[str, Any], report_date: date, path: Path, line: int) -> ClaimEvent:
    video_id = n.required(row, "video_id")
    others = n.pipe_list(row, "other_owners_claiming")
    by_another = n.boolean(row, "claimed_by_another_owner")
    if by_another and not others:
        others = ["(another owner)"]
    observed = n.end_of_day(report_date)
    origin_raw = n.text(row, "claim_origin") or ""
    claim_id = n.text(row, "claim_id") or ""
    return ClaimEvent(
        event_id=stable_id("video_report", video_id, claim_id, report_date),
        source="video_metadata_report",
        source_report_type="content_owner_video_metadata",
        observed_at=observed,
        event_time=observed,
        claim_id=claim_id,
        asset_id=n.text(row, "asset_id"),
        video_id=video_id,
        channel_id=n.text(row, "channel_id"),
        custom_id=n.text(row, "custom_id"),
        origin=n.open_enum(origin_raw or None, n.ORIGIN, "other" if origin_raw else "unknown"),
        origin_raw=origin_raw,
        other_owners_claiming=[o[:200] for o in others],
        claimed_by_this_owner=n.boolean(row, "claimed_by_this_owner"),
        third_party_claim=bool(others) or None,
        views_lifetime=n.integer(row, "views"),
        engaged_views_lifetime=n.integer(row, "engaged_views"),
        video_title=n.text(row, "video_title"),
        channel_title=n.text(row, "channel_display_name"),
        isrc=n.text(row, "isrc"),
        extra=_extra(row, VIDEO_REPORT_FIELDS),
        source_file=str(path),
        source_line=line,
    )


CONFLICT_FIELDS = frozenset(
    """
    asset_id custom_id conflicting_owner conflicting_country_code ownership approx_daily_views
    lifetime_views_in_conflict right_type
    """.split()
)


def conflict_row(row: dict[str, Any], report_date: date, path: Path, line: int) -> OwnershipConflict:
    asset_id = n.required(row, "asset_id")
    owner = n.required(row, "conflicting_owner")
    observed = n.end_of_day(report_date)
    territories = [t.upper()[:8] for t in n.pipe_list(row, "conflicting_country_code")]
    return OwnershipConflict(
        event_id=stable_id("asset_conflict", asset_id, owner, "|".join(territories), report_date),
        asset_id=asset_id,
        custom_id=n.text(row, "custom_id"),
        conflicting_owner=owner,
        territories=territories,
        right_type=n.open_enum(n.text(row, "right_type"), n.RIGHT_TYPE, "general"),
        ratio=n.number(row, "ownership", low=0, high=100),
        views_in_conflict=n.integer(row, "approx_daily_views"),
        lifetime_views_in_conflict=n.integer(row, "lifetime_views_in_conflict"),
        observed_at=observed,
        event_time=observed,
        extra=_extra(row, CONFLICT_FIELDS),
        source_file=str(path),
        source_line=line,
    )


CATALOG_FIELDS = {
    "content_id",
    "title",
    "artist",
    "label",
    "isrc",
    "upc",
    "custom_id",
    "asset_id",
    "release_date",
    *n.PLATFORM.values(),
}


def catalog_row(row: dict[str, Any], path: Path, line: int) -> CatalogItem:
    platform_ids = {p: ids for p in dict.fromkeys(n.PLATFORM.values()) if (ids := n.pipe_list(row, p))}
    return CatalogItem(
        content_id=n.required(row, "content_id"),
        title=n.text(row, "title") or "",
        artist=n.text(row, "artist") or "",
        label=n.text(row, "label") or "",
        isrc=n.text(row, "isrc"),
        upc=n.text(row, "upc"),
        custom_id=n.text(row, "custom_id"),
        asset_id=n.text(row, "asset_id"),
        release_date=n.opt_date(row, "release_date"),
        platform_ids=platform_ids,
        extra=_extra(row, CATALOG_FIELDS),
        source_file=str(path),
        source_line=line,
    )


TERRITORY = re.compile(r"-?[A-Z]{2}|WW")  # ISO 3166 alpha-2, WW for worldwide, -XX to exclude one
RIGHTS_FIELDS = frozenset(
    """
    asset_id custom_id isrc owner right_type territories share_pct valid_from valid_to
    """.split()
)


ISRC = re.compile(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}")  # ISO 3901, written without hyphens
LOOKS_LIKE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _other_column(value: str) -> str | None:
    """Which other rights column ``value`` looks like it came from, if any (a shifted or swapped row:
    an owner named 'general', 'WW' or '100' would add a share that is not one)."""
    plain = value.strip()
    if n.open_enum(plain, n.RIGHT_TYPE, "") != "":
        return "right_type"
    parts = [p.strip() for p in plain.split("|")]
    if all(TERRITORY.fullmatch(p) for p in parts):  # as written in a territories cell: "WW", "US|CA"
        return "territories"
    if re.fullmatch(r"[-+]?\d+(\.\d*)?%?", plain):
        return "share_pct"
    if LOOKS_LIKE_DATE.match(plain):
        return "valid_from"
    return None


def rights_row(row: dict[str, Any], path: Path, line: int) -> RightsRecord:
    """One share of one asset. Validated as claims rows are: a value that belongs in another column
    is a shifted or swapped row, and quarantined rather than turned into a share that raises a false
    over-ownership alert."""
    if not any(n.text(row, k) for k in ("asset_id", "custom_id", "isrc")):
        raise FieldError("asset_id", "one of asset_id, custom_id or isrc is required")
    share = n.number(row, "share_pct", low=0, high=100)
    if share is None:
        raise FieldError("share_pct", "required value is missing")
    owner = n.required(row, "owner")
    looks = _other_column(owner)
    if looks is not None or owner in {n.text(row, k) for k in ("asset_id", "custom_id", "isrc")}:
        raise FieldError(
            "owner", f"{owner[:40]!r} is a {looks or 'asset id'} value, not an owner: a shifted or swapped row"
        )
    isrc = n.text(row, "isrc")
    if isrc and not ISRC.fullmatch(isrc.replace("-", "").upper()):
        raise FieldError("isrc", f"not an ISRC: {isrc[:40]!r}")
    for key in ("asset_id", "custom_id"):
        value = n.text(row, key)
        if value and _other_column(value) is not None:
            raise FieldError(key, f"{value[:40]!r} is a {_other_column(value)} value: a shifted or swapped row")
    right_raw = n.text(row, "right_type") or "general"
    looks = _other_column(right_raw) if n.open_enum(right_raw, n.RIGHT_TYPE, "") == "" else None
    if looks is not None:  # an unknown right type is kept raw ("other"); a share or a date in its place is not
        raise FieldError(
            "right_type", f"{right_raw[:40]!r} is a {looks} value, not a right type: a shifted or swapped row"
        )
    territories = [t.upper() for t in n.pipe_list(row, "territories")] or ["WW"]
    bad = [t for t in territories if not TERRITORY.fullmatch(t)]
    if bad:
        # A value from another column (a name, a share, a right type) is a shifted or swapped row.
        raise FieldError("territories", f"not a territory code: {bad[0][:40]!r}")
    valid_from, valid_to = n.opt_date(row, "valid_from"), n.opt_date(row, "valid_to")
    if valid_from and valid_to and valid_to < valid_from:
        raise FieldError("valid_to", f"valid_to {valid_to} is before valid_from {valid_from}")
    return RightsRecord(
        asset_id=n.text(row, "asset_id"),
        custom_id=n.text(row, "custom_id"),
        isrc=n.text(row, "isrc"),
        owner=owner,
        right_type=n.open_enum(right_raw, n.RIGHT_TYPE, "other"),
        right_type_raw=right_raw,
        territories=territories,
        share_pct=share,
        valid_from=valid_from,
        valid_to=valid_to,
        extra=_extra(row, RIGHTS_FIELDS),
        source_file=str(path),
        source_line=line,
    )


POLL_FIELDS = {
    "platform",
    "platform_content_id",
    "observed_at",
    "views_total",
    "likes_total",
    "comments_total",
    "shares_total",
}


def poll_row(row: dict[str, Any], path: Path, line: int) -> MetricObservation:
    platform_raw = n.required(row, "platform")
    content_id = n.required(row, "platform_content_id")
    observed = n.parse_datetime(n.required(row, "observed_at"), "observed_at")
    counters = {k: n.integer(row, f"{k}_total") for k in ("views", "likes", "comments", "shares")}
    if all(v is None for v in counters.values()):
        raise FieldError("views_total", "no counter in the poll")
    platform = n.open_enum(platform_raw, n.PLATFORM, n.snake(platform_raw)[:32] or "unknown")
    return MetricObservation(
        event_id=stable_id("poll", platform, content_id, observed.isoformat(), *counters.values()),
        source="platform_poll",
        granularity="cumulative",
        platform=platform,
        platform_raw=platform_raw[:64],
        platform_content_id=content_id,
        event_time=observed,
        extra=_extra(row, POLL_FIELDS),
        source_file=str(path),
        source_line=line,
        **counters,
    )


def claim_api_record(record: dict[str, Any], path: Path, line: int) -> ClaimEvent:
    claim_id = n.required(record, "id")
    created = n.opt_datetime(record, "timeCreated")
    modified = n.opt_datetime(record, "timeStatusLastModified")
    when = modified or created
    if when is None:
        raise FieldError("timeStatusLastModified", "a claim needs timeStatusLastModified or timeCreated")
    origin = record.get("origin") if isinstance(record.get("origin"), dict) else {}
    origin_raw = str((origin or {}).get("source") or "")
    match = record.get("matchInfo") if isinstance(record.get("matchInfo"), dict) else {}
    longest = (match or {}).get("longestMatch") or {}
    total = (match or {}).get("totalMatch") or {}
    status_raw = n.text(record, "status")
    known = frozenset(
        """
        kind id assetId videoId status contentType origin thirdPartyClaim isPartnerUploaded
        timeCreated timeStatusLastModified videoTitle videoViews engagedViews matchInfo policy
        appliedPolicy studioInfo blockOutsideOwnership
        """.split()
    )
    return ClaimEvent(
        event_id=stable_id("partner_api_claim", claim_id, status_raw, when.isoformat()),
        source="partner_api_claim",
        observed_at=when,
        event_time=when,
        claim_id=claim_id,
        asset_id=n.text(record, "assetId"),
        video_id=n.text(record, "videoId"),
        status=n.open_enum(status_raw, n.CLAIM_STATUS, "unknown"),
        status_raw=status_raw or "",
        content_type=n.open_enum(n.text(record, "contentType"), n.CONTENT_TYPE, "unknown"),
        origin=n.open_enum(origin_raw or None, n.ORIGIN, "other" if origin_raw else "unknown"),
        origin_raw=origin_raw[:64],
        is_partner_uploaded=n.boolean(record, "isPartnerUploaded"),
        third_party_claim=n.boolean(record, "thirdPartyClaim"),
        claim_created_at=created,
        views_lifetime=n.integer(record, "videoViews"),
        engaged_views_lifetime=n.integer(record, "engagedViews"),
        longest_match_s=n.number(longest, "durationSecs", low=0) if isinstance(longest, dict) else None,
        video_duration_s=n.number(total, "userVideoDurationSecs", low=0) if isinstance(total, dict) else None,
        video_title=n.text(record, "videoTitle"),
        extra=_extra({k: v for k, v in record.items() if not isinstance(v, dict | list)}, known),
        source_file=str(path),
        source_line=line,
    )


HISTORY_TYPES = {
    "claim_create": "claim_created",
    "claim_update": "claim_updated",
    "claim_remove": "claim_released",
    "claim_resolve": "claim_released",
    "dispute_create": "dispute_created",
    "dispute_resolve": "dispute_resolved",
    "dispute_appeal": "appeal_created",
    "appeal_create": "appeal_created",
    "appeal_resolve": "appeal_resolved",
    "takedown": "takedown",
}
# A claim's creation says nothing of its status (it may be created active, or potential and routed
# for review): its status stays unknown until a record gives it.
HISTORY_STATUS = {
    "dispute_created": "disputed",
    "appeal_created": "appealed",
    "takedown": "takedown",
}


def claim_history_events(record: dict[str, Any], path: Path, line: int) -> Iterator[ClaimEvent | _Quarantine]:
    claim_id = n.required(record, "id")
    uploader = n.text(record, "uploaderChannelId")
    events = record.get("event")
    if not isinstance(events, list):
        raise FieldError("event", "claim history without an event list")
    for index, item in enumerate(events):
        where = f"event[{index}]"
        if not isinstance(item, dict):
            yield _Quarantine(where, "event is not an object")
            continue
        try:
            yield _history_event(claim_id, uploader, item, index, path, line)
        except FieldError as exc:
            yield _Quarantine(f"{where}.{exc.field}", exc.reason, exc.code)
        except ValidationError as exc:
            q = _validation_error(exc)
            yield _Quarantine(f"{where}.{q.field}", q.reason, q.code)


def _history_event(
    claim_id: str, uploader: str | None, item: dict[str, Any], index: int, path: Path, line: int
) -> ClaimEvent:
    when = n.parse_datetime(n.required(item, "time"), "time")
    type_raw = n.required(item, "type")
    event_type = HISTORY_TYPES.get(n.snake(type_raw), "other")
    details = item.get("typeDetails") if isinstance(item.get("typeDetails"), dict) else {}
    details = details or {}
    update_status = n.text(details, "updateStatus")
    status = HISTORY_STATUS.get(event_type, "unknown")
    if update_status:
        status = n.open_enum(update_status, n.CLAIM_STATUS, "unknown")
        if event_type == "claim_updated" and status == "inactive":
            event_type = "claim_released"
        elif event_type == "claim_updated" and status in ("takedown", "delayed_takedown"):
            event_type = "takedown"
    reason_raw = n.text(details, "disputeReason")
    source = item.get("source") if isinstance(item.get("source"), dict) else {}
    return ClaimEvent(
        event_id=stable_id("claim_history", claim_id, index, type_raw, when.isoformat()),
        source="partner_api_claim_history",
        observed_at=when,
        event_time=when,
        event_type=event_type,
        claim_id=claim_id,
        uploader_channel_id=uploader,
        channel_id=uploader,
        status=status,
        status_raw=update_status or type_raw,
        status_detail=n.snake(reason) if (reason := n.text(item, "reason")) else None,
        dispute_reason=n.open_enum(reason_raw, n.DISPUTE_REASON, "other") if reason_raw else None,
        dispute_reason_raw=reason_raw[:64] if reason_raw else None,
        dispute_notes=n.text(details, "disputeNotes") or n.text(details, "appealExplanation"),
        extra={"source_type": str((source or {}).get("type", ""))[:64]} if source else {},
        source_file=str(path),
        source_line=line,
    )


# --------------------------------------------------------------------------- per-source readers

RowMapper = Callable[[dict[str, Any], int], Event | Iterable[Event | _Quarantine] | None]


def _mapper(kind: str, path: Path) -> RowMapper:
    source = BY_NAME.get(kind)
    if source is None or source.mapper is None:
        raise ValueError(f"no row reader for {kind}")
    return source.mapper(path)


def _quarantine(
    result: FileResult, line: int, fld: str | None, reason: str, raw: str = "", code: str = "invalid_value"
) -> None:
    """One record read and quarantined."""
    result.records += 1
    result.quarantined.append(
        QuarantineEntry(
            source=result.source,
            source_file=result.path,
            line=line,
            field=fld,
            reason=reason[:500],
            reason_code=code,
            raw=raw[:MAX_RAW_IN_QUARANTINE],
        )
    )


def _accept(result: FileResult, event: Event | None = None) -> None:
    """One record read and accepted: it became ``event``, or was summed into one (analytics)."""
    result.records += 1
    result.accepted += 1
    if event is not None:
        result.events.append(event)


def read_file(path: Path | str, kind: str | None = None, limits: ReadLimits | None = None) -> FileResult:
    """Read one file of any known source; never raises, whatever the file holds.

    Every record ends as exactly one accepted record or one quarantine entry with its line, field
    and reason code; a file that cannot be read at all is one quarantine entry.
    """
    path = Path(path)
    limits = limits or ReadLimits.from_env()
    result = FileResult(path=str(path), source=kind or "unrecognised")
    try:
        detected = kind or recognise(path)
        result.source = detected or "unrecognised"
        if detected is None:
            _read_unrecognised(path, result, limits)
        elif detected == "analytics":
            result.columns = _csv_columns(path)
            _read_analytics(path, result, limits)
        else:
            mapper = _mapper(detected, path)
            json_file = detected in ("claim_api", "claim_history") or _peek(path, 64).lstrip()[:1] in ("{", "[")
            if not json_file:
                result.columns = _csv_columns(path)
            records = _json_stream(path, limits) if json_file else _csv_records(path, detected, limits)
            _consume(records, mapper, result, _horizon(path))
    except OSError as exc:
        # The file went away or cannot be opened: the file itself is the one record we can account for.
        _quarantine(result, 0, None, f"file unreadable: {exc.strerror or exc}", "", "unreadable_file")
    if date_from_name(path) is None:
        date_quarantine(result)
    return result


def date_quarantine(result: FileResult) -> None:
    """Give each quarantined record of a file the day of the record before it (or, at the top, after
    it): in a log written as it goes, a broken line is about the time of its neighbours."""
    if not result.quarantined:
        return
    days = sorted(
        (e.source_line or 0, when.astimezone(UTC).date())
        for e in result.events
        if (when := getattr(e, "event_time", None)) is not None
    )
    if not days:
        return
    lines = [line for line, _ in days]
    for entry in result.quarantined:
        at = bisect.bisect_right(lines, entry.line) - 1
        entry.data_day = days[max(at, 0)][1]


def _csv_columns(path: Path) -> list[str]:
    """The normalised header of a CSV, sorted: its layout, compared across a report family's
    deliveries to notice schema drift (a column added, renamed or gone)."""
    try:
        header = next(csv.reader(io.StringIO(_peek(path))), [])
    except csv.Error:
        return []
    return sorted({n.norm_header(h) for h in header if h.strip()})[:500]


def _read_unrecognised(path: Path, result: FileResult, limits: ReadLimits) -> None:
    """A file of no known format: each of its lines is a record we could not read, and says so."""
    reason = "unrecognised format (header or first record not known)"
    for number, data, problem in _physical_lines(path, limits):
        if data is None:
            assert problem is not None
            _quarantine(result, number, None, problem[1], "", problem[0])
        elif data.strip():
            _quarantine(result, number, None, reason, data.decode("utf-8", "replace"), "unrecognised_file")
    if result.records == 0:
        _quarantine(result, 0, None, "empty file", "", "empty_file")


FUTURE_ALLOWANCE_DAYS = 2  # a daily file's records may run into the next day (time zones, late cut-off)


def _horizon(path: Path) -> datetime | None:
    """The latest time a record of a dated file can carry; None for a file without a date in its name."""
    day = date_from_name(path)
    if day is None:
        return None
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(days=FUTURE_ALLOWANCE_DAYS + 1)


def _consume(records: Iterator[Record], mapper: RowMapper, result: FileResult, horizon: datetime | None = None) -> None:
    def accept(event: Event) -> None:
        # A record dated after the day its file reports on is a clock or export fault: believed, one
        # far-future poll would make every real poll after it look late and leave a post unwatched.
        when = getattr(event, "event_time", None)
        if horizon is not None and when is not None and when >= horizon:
            _quarantine(
                result,
                line,
                "event_time",
                f"dated {when.isoformat()}, after its file's day (+{FUTURE_ALLOWANCE_DAYS} days)",
                text,
                "future_timestamp",
            )
        else:
            _accept(result, event)

    for line, record, raw in records:
        if record is None:
            if isinstance(raw, tuple):
                code, reason, shown = raw[0], raw[1], raw[2] if len(raw) > 2 else ""
            else:
                code, reason, shown = "invalid_value", raw, ""
            _quarantine(result, line, None, reason, shown, code)
            continue
        text = raw if isinstance(raw, str) else ""
        try:
            produced = mapper(record, line)
            if isinstance(produced, Iterator):
                # One record that stands for several (a claim's history): each item is a record.
                empty = True
                for item in produced:
                    empty = False
                    if isinstance(item, _Quarantine):
                        _quarantine(result, line, item.field, item.reason, text, item.code)
                    else:
                        accept(item)
                if empty:
                    _quarantine(result, line, None, "record holds no events", text, "no_events")
            elif produced is None:
                _accept(result)  # summed into an event made at the end of the file
            else:
                accept(produced)  # type: ignore[arg-type]
        except FieldError as exc:
            _quarantine(result, line, exc.field, exc.reason, text, exc.code)
        except ValidationError as exc:
            q = _validation_error(exc)
            _quarantine(result, line, q.field, q.reason, text, q.code)
        except _Quarantine as q:
            _quarantine(result, line, q.field, q.reason, text, q.code)
        except (ValueError, TypeError, ArithmeticError, RecursionError, KeyError, AttributeError) as exc:
            # A value no rule above foresaw: the record is quarantined with the error, the file goes on.
            _quarantine(result, line, None, f"unreadable record: {type(exc).__name__}: {exc}", text, "reader_error")


ANALYTICS_SUMS = ("views", "likes", "comments", "shares", "engaged_views")


def _read_analytics(path: Path, result: FileResult, limits: ReadLimits) -> None:
    """Many rows per video and day (country, subscription…): summed into one observation each."""
    sums: dict[tuple[str, date], dict[str, Any]] = {}
    has_owner_dims = False

    def add(row: dict[str, Any], line: int) -> None:
        nonlocal has_owner_dims
        video_id = n.required(row, "video_id")
        day = n.parse_date(n.required(row, "date"), "date")
        values = {k: n.integer(row, k) for k in ANALYTICS_SUMS}
        watch = n.number(row, "watch_time_minutes", low=0)
        has_owner_dims = has_owner_dims or "claimed_status" in row or "uploader_type" in row
        acc = sums.setdefault(
            (video_id, day),
            {"channel_id": n.text(row, "channel_id"), "rows": 0, "first_line": line, "watch": 0.0},
        )
        acc["rows"] += 1
        acc["watch"] += watch or 0.0
        for k, v in values.items():
            if v is not None:
                acc[k] = acc.get(k, 0) + v

    _consume(_csv_records(path, "analytics", limits), add, result)
    source = "content_owner_basic" if has_owner_dims else "channel_basic"
    for (video_id, day), acc in sorted(sums.items()):
        result.events.append(
            MetricObservation(
                event_id=stable_id(source, video_id, day),
                source=source,
                granularity="day",
                platform="youtube",
                platform_raw="youtube",
                platform_content_id=video_id,
                channel_id=acc["channel_id"],
                period_start=n.start_of_day(day),
                event_time=n.end_of_day(day),
                views=acc.get("views"),
                likes=acc.get("likes"),
                comments=acc.get("comments"),
                shares=acc.get("shares"),
                engaged_views=acc.get("engaged_views"),
                watch_time_minutes=round(acc["watch"], 3),
                rows_summed=acc["rows"],
                source_file=str(path),
                source_line=acc["first_line"],
            )
        )


def discover(paths: Iterable[Path | str]) -> list[Path]:
    """Files under the given paths, in a stable order; hidden files and labels are skipped."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(
                f
                for f in sorted(p.rglob("*"))
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        elif p.exists():
            found.append(p)
        else:
            raise FileNotFoundError(f"no such file or folder: {p}")
    return [f for f in found if f.name not in ("labels.json", "README.md", "MANIFEST.json")]


def read_paths(paths: Iterable[Path | str], kind: str | None = None, limits: ReadLimits | None = None) -> IngestResult:
    return IngestResult(files=list(read_files(paths, kind, limits)))


def read_files(
    paths: Iterable[Path | str], kind: str | None = None, limits: ReadLimits | None = None
) -> Iterator[FileResult]:
    """The files under ``paths``, read one at a time: what holds one file's events at once."""
    limits = limits or ReadLimits.from_env()
    for path in discover(paths):
        yield read_file(path, kind, limits)


# ------------------------------------------------------------------------------ the sources
# One entry per input source: its one name (what --kind takes, what FileResult.source and the
# quarantine say, what the report counts files by), how its files are recognised, the CSV columns
# without which its rows cannot be read, and how a record becomes events. Adding a source is adding
# an entry (and its row function above). Recognition tries the entries in this order.


def _claims_csv(studio: bool) -> Callable[[set[str], list[str]], bool]:
    # The Studio download has Title Case headers ("Claim ID"); the Reporting API's are snake_case.
    return lambda h, raw: {"claim_id", "claim_status"} <= h and any(" " in x.strip() for x in raw) == studio


def _dated(row_function: Callable[..., Any], *leading: Any) -> Callable[[Path], RowMapper]:
    """A mapper for a daily snapshot: the file's date is read once, and passed to every row."""

    def make(path: Path) -> RowMapper:
        day = _snapshot_date(path)
        return lambda row, line: row_function(row, *leading, day, path, line)

    return make


@dataclass(frozen=True)
class Source:
    name: str
    doc: str
    csv: Callable[[set[str], list[str]], bool] | None = None
    json: Callable[[dict[str, Any]], bool] | None = None
    required: frozenset[str] = frozenset()
    mapper: Callable[[Path], RowMapper] | None = None  # None: a reader of its own (analytics sums rows)


# The events' own ``source`` (what a quarantine entry made from an event names, e.g. a repeated
# record) → the reader that reads such files (what people filter by: ``--source polls``).
READER_OF_EVENT_SOURCE = {
    "reporting_api_claims": "claims_reporting_api",
    "studio_claims_csv": "claims_studio",
    "partner_api_claim": "claim_api",
    "partner_api_claim_history": "claim_history",
    "video_metadata_report": "video_report",
    "platform_poll": "polls",
    "channel_basic": "analytics",
    "content_owner_basic": "analytics",
}


def reader_source(source: str) -> str:
    """The reader's name for a quarantine entry's source (itself when it is one already).

    >>> reader_source("platform_poll"), reader_source("polls")
    ('polls', 'polls')
    """
    return READER_OF_EVENT_SOURCE.get(source, source)


SOURCES: tuple[Source, ...] = (
    Source(
        "claims_studio",
        "Studio claims report (Title Case headers)",
        csv=_claims_csv(studio=True),
        required=frozenset({"claim_id", "claim_status"}),
        mapper=lambda path: _dated(claim_csv_row, "claims_studio")(path),
    ),
    Source(
        "claims_reporting_api",
        "Reporting API daily claims report (content_owner_active_claims)",
        csv=_claims_csv(studio=False),
        required=frozenset({"claim_id", "claim_status"}),
        mapper=lambda path: _dated(claim_csv_row, "claims_reporting_api")(path),
    ),
    Source(
        "asset_conflicts",
        "asset conflicts report (content_owner_asset_conflict)",
        csv=lambda h, raw: {"asset_id", "conflicting_owner"} <= h,
        required=frozenset({"asset_id", "conflicting_owner"}),
        mapper=_dated(conflict_row),
    ),
    Source(
        "video_report",
        "video metadata report (content_owner_video_metadata)",
        csv=lambda h, raw: (
            "video_id" in h and bool(h & {"other_owners_claiming", "claimed_by_this_owner", "claimed_by_another_owner"})
        ),
        required=frozenset({"video_id"}),
        mapper=_dated(video_report_row),
    ),
    Source(
        "analytics",
        "daily analytics (channel_basic, content_owner_basic): rows summed per video and day",
        csv=lambda h, raw: {"date", "video_id", "views"} <= h,
        required=frozenset({"date", "video_id", "views"}),
    ),
    Source(
        "claim_history",
        "Content ID API claim history (JSON)",
        json=lambda r: (
            str(r.get("kind", "")) == "youtubePartner#claimHistory" or ("event" in r and "uploaderChannelId" in r)
        ),
        mapper=lambda path: lambda row, line: claim_history_events(row, path, line),
    ),
    Source(
        "claim_api",
        "Content ID API claims and claim search results (JSON)",
        json=lambda r: (
            str(r.get("kind", "")) in ("youtubePartner#claim", "youtubePartner#claimSnippet")
            or ({"id", "status"} <= r.keys() and bool(r.keys() & {"assetId", "videoId"}))
        ),
        mapper=lambda path: lambda row, line: claim_api_record(row, path, line),
    ),
    Source(
        "catalog",
        "the internal catalog (CSV or JSON)",
        csv=lambda h, raw: "content_id" in h,
        json=lambda r: "content_id" in r and "platform_content_id" not in r,
        required=frozenset({"content_id"}),
        mapper=lambda path: lambda row, line: catalog_row(row, path, line),
    ),
    Source(
        "rights",
        "rights records",
        csv=lambda h, raw: {"owner", "share_pct"} <= h,
        required=frozenset({"owner", "share_pct"}),
        mapper=lambda path: lambda row, line: rights_row(row, path, line),
    ),
    Source(
        "polls",
        "platform polls (CSV or JSON Lines)",
        csv=lambda h, raw: {"platform", "platform_content_id", "observed_at"} <= h,
        json=lambda r: "platform_content_id" in r,
        required=frozenset({"platform", "platform_content_id", "observed_at"}),
        mapper=lambda path: lambda row, line: poll_row(row, path, line),
    ),
)
BY_NAME = {source.name: source for source in SOURCES}
