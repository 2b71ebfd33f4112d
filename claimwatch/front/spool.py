"""Many files' events, unique and in data-time order, in memory bounded by the largest file.

``ingest`` publishes a run's events in data-time order, each once (the first read of an event id
wins), after learning the catalog and every claim's place from the whole run. Holding every event
of a run for that took 1,875 MB for 520,000 events. The spool reads one file at a time and writes
its events to sorted runs on disk (an external merge sort): what stays in memory is one file, one
run being filled, a line per file, and the duplicates found. A run is a file of lines
``header TAB event-json``; the header carries the sort key, so a merge reads no event it need not.

The order is :func:`claimwatch.front.order.order_events`'s exactly (a test holds the two together):
reference data without a time first, then data time, kind, file and line, and the order read for
what ties. Event ids are found again in a merge of their own, so the duplicates and the records that
only repeat earlier ones (:func:`claimwatch.detect.validation.duplicate_records`) are the same too.
"""

from __future__ import annotations

import hashlib
import heapq
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from claimwatch.detect.monitor import event_time_of
from claimwatch.detect.validation import repeat_entry
from claimwatch.front.order import KIND_ORDER
from claimwatch.ingest.readers import FileResult, FileTally, source_counts
from schemas.codec import decode_event, encode_event
from schemas.events import Event, QuarantineEntry

RUN_EVENTS = 50_000  # events sorted in memory before a run is written: ~20 MB of encoded events
MAX_OPEN_RUNS = 64  # runs merged at once; more are merged into one first, so open files stay few
LANES = ("catalog", "claim", "other")  # priming reads the catalog, then the claims, alone


def _lane(kind: str) -> str:
    return kind if kind in ("catalog", "claim") else "other"


@dataclass
class Spooled:
    """One event out of the spool: the event, its encoded form (what is published), whether an
    earlier read gave the same event id, and its place in the order read."""

    event: Event
    value: bytes
    duplicate: bool
    seq: int


@dataclass
class _Runs:
    folder: Path
    max_open: int = MAX_OPEN_RUNS
    lines: list[tuple[Any, bytes]] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)
    written: int = 0  # runs written so far: each run's file has a name of its own

    def _next(self, name: str) -> Path:
        self.written += 1
        return self.folder / f"{name}-{self.written:06d}.run"

    def add(self, sort_key: Any, line: bytes) -> None:
        self.lines.append((sort_key, line))

    def spill(self, name: str) -> None:
        if not self.lines:
            return
        self.lines.sort(key=lambda pair: pair[0])
        path = self._next(name)
        with path.open("wb") as out:
            out.writelines(line for _, line in self.lines)
        self.paths.append(path)
        self.lines.clear()
        if len(self.paths) > self.max_open:
            self._merge_down(name)

    def _merge_down(self, name: str) -> None:
        first, rest = self.paths[: self.max_open], self.paths[self.max_open :]
        merged = self._next(name)
        with merged.open("wb") as out:
            out.writelines(_merge(first))
        for path in first:
            path.unlink()
        self.paths = [merged, *rest]


def _merge(paths: Iterable[Path]) -> Iterator[bytes]:
    """The lines of sorted runs, in order. A line's header (before the tab) is a JSON array whose
    order is the sort order; lines are compared by that parsed header, never as bytes."""
    files: list[IO[bytes]] = [path.open("rb") for path in paths]
    try:
        streams = [((orjson.loads(line.split(b"\t", 1)[0]), line) for line in f) for f in files]
        for _, line in heapq.merge(*streams, key=lambda pair: pair[0]):
            yield line
    finally:
        for f in files:
            f.close()


class EventSpool:
    """Add files as they are read; then :meth:`seal`, and read the events back in order.

    >>> from datetime import UTC, datetime
    >>> from schemas.events import MetricObservation
    >>> def poll(line, hour, views):
    ...     return MetricObservation(event_id=f"p{hour}", source="platform_poll", granularity="cumulative",
    ...         platform="youtube", platform_content_id="v1", event_time=datetime(2026, 11, 2, hour, tzinfo=UTC),
    ...         views=views, source_file="polls.jsonl", source_line=line)
    >>> with EventSpool() as spool:
    ...     spool.add(FileResult("polls.jsonl", "platform_poll", [poll(1, 9, 20), poll(2, 8, 10), poll(3, 8, 10)],
    ...                          records=3, accepted=3))
    ...     spool.seal()
    ...     [(s.event.source_line, s.duplicate) for s in spool.ordered()], spool.duplicates
    ([(2, False), (3, True), (1, False)], 1)
    """

    def __init__(self, run_events: int = RUN_EVENTS, max_open_runs: int = MAX_OPEN_RUNS) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="claimwatch-spool-")
        folder = Path(self._dir.name)
        self._runs = {lane: _Runs(folder, max_open_runs) for lane in LANES}
        self._ids = _Runs(folder, max_open_runs)
        self._records = _Runs(folder, max_open_runs)
        self._quarantine = (folder / "quarantine.jsonl").open("wb+")
        self._run_events = run_events
        self._pending = 0
        self.seq = 0
        self.files: list[FileTally] = []
        self.duplicates = 0
        self._repeats: dict[int, tuple[int, str]] = {}
        self._duplicate_seqs: set[int] = set()
        self._sealed = False

    def __enter__(self) -> EventSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._quarantine.close()
        self._dir.cleanup()

    def add(self, result: FileResult) -> None:
        """One file read: its events to the runs, its quarantine entries to disk, its counts kept."""
        if self._sealed:
            raise RuntimeError("the spool is sealed: no file can be added after reading has begun")
        self.files.append(result.tally())
        for entry in result.quarantined:
            self._quarantine.write(entry.model_dump_json().encode() + b"\n")
        for event in result.events:
            self.seq += 1
            t = event_time_of(event)
            sort_key = [
                0 if t is None else 1,
                t.isoformat() if t else "",
                KIND_ORDER[event.kind],
                event.source_file,
                event.source_line,
                self.seq,
            ]
            self._runs[_lane(event.kind)].add(sort_key, orjson.dumps(sort_key) + b"\t" + encode_event(event) + b"\n")
            event_id = _event_id(event)
            if event_id is not None:
                header = [hashlib.blake2b(event_id.encode(), digest_size=16).hexdigest(), self.seq]
                where = orjson.dumps(f"{event.source_file}:{event.source_line}")
                self._ids.add(header, orjson.dumps(header) + b"\t" + where + b"\n")
                if event.source_file:
                    at = [event.source_file, event.source_line, self.seq]
                    self._records.add(at, orjson.dumps(at) + b"\t\n")
        self._pending += len(result.events)
        if self._pending >= self._run_events:
            self._spill()

    def _spill(self) -> None:
        for lane, runs in self._runs.items():
            runs.spill(lane)
        self._ids.spill("ids")
        self._records.spill("records")
        self._pending = 0

    def seal(self) -> None:
        """Every file added: find the duplicates (every reading of an event id but its first) and the
        records (a file's line) all of whose events are duplicates, as duplicate_records does."""
        self._spill()
        self._sealed = True
        previous: str | None = None
        first = b""
        first_read: dict[int, bytes] = {}  # a duplicate's seq → where its event id was first read
        for line in _merge(self._ids.paths):
            header, where = line.rstrip(b"\n").split(b"\t", 1)
            digest, seq = orjson.loads(header)
            if digest != previous:
                previous, first = digest, where
            else:
                first_read[seq] = first
        self.duplicates = len(first_read)
        self._duplicate_seqs = set(first_read)
        record: list[Any] = []
        for line in [*_merge(self._records.paths), b"[null,0,0]\t\n"]:  # a sentinel ends the last record
            source_file, source_line, seq = orjson.loads(line.split(b"\t", 1)[0])
            if record and record[:2] == [source_file, source_line]:
                record[3] += 1
                record[4] += seq in first_read
                continue
            if record and record[2] in first_read and record[3] == record[4]:
                self._repeats[record[2]] = (record[3], orjson.loads(first_read[record[2]]))
            record = [source_file, source_line, seq, 1, int(seq in first_read)]

    def ordered(self, lanes: Iterable[str] = LANES) -> Iterator[Spooled]:
        """The events of the given lanes in publishing order, duplicates marked (not dropped)."""
        if not self._sealed:
            raise RuntimeError("seal the spool before reading it")
        paths = [path for lane in lanes for path in self._runs[lane].paths]
        for line in _merge(paths):
            header, value = line.rstrip(b"\n").split(b"\t", 1)
            seq = orjson.loads(header)[-1]
            yield Spooled(decode_event(value), value, seq in self._duplicate_seqs, seq)

    def repeat_of(self, spooled: Spooled) -> QuarantineEntry | None:
        """The quarantine entry of the record ``spooled`` is the first event of, if that record only
        repeats events read before it; entries sorted by ``seq`` are in the order read."""
        found = self._repeats.get(spooled.seq)
        return repeat_entry(spooled.event, *found) if found else None

    @property
    def repeats(self) -> int:
        return len(self._repeats)

    def quarantined(self) -> Iterator[QuarantineEntry]:
        """The readers' quarantine entries, in the order read."""
        self._quarantine.flush()
        self._quarantine.seek(0)
        for line in self._quarantine:
            yield QuarantineEntry.model_validate_json(line)

    @property
    def unique(self) -> int:
        return self.seq - self.duplicates

    def counts(self) -> dict[str, dict[str, int]]:
        """Records read, accepted and quarantined, and events produced, per source."""
        return source_counts(self.files)


def _event_id(event: Event) -> str | None:
    event_id: str | None = getattr(event, "event_id", None)
    return event_id
