"""``claimwatch quarantine retract``: take events that were read and published, but are wrong, out of
every re-derivation, and hand their records to people to correct.

A file can pass every check and still be wrong: an export with two columns swapped reads as valid
claims that report the wrong views. Once someone notices, the operator retracts the file:

1. every event on the log that came from it is found (by its ``source_file``), and its position
   (partition, offset) is written to the compacted ``retractions`` topic: ``claimwatch replay``
   skips those records, so no later generation is derived from them;
2. each record becomes a quarantine entry (reason ``retracted``) holding the line as the file has
   it, so ``quarantine export`` / ``release`` work on it as on any other quarantined record: the
   corrected records go back on the log with their provenance, and the entries are resolved.

The live generation keeps what it derived (it applied those events already); the correction takes
effect in the generation a replay derives, which the operator inspects with ``impact`` and then
promotes.
"""

from __future__ import annotations

import asyncio
import gzip
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from claimwatch.ingest.readers import record_texts
from claimwatch.quarantine import Quarantined
from schemas.codec import decode_event
from schemas.events import Event, QuarantineEntry, Retraction
from stream.kafka_io import producer, read_partition, read_to_end, start_client
from stream.settings import Settings

MAX_RAW = 100_000


@dataclass
class RetractReport:
    scanned: int = 0
    retracted: int = 0  # events on the log
    entries: int = 0  # quarantine entries (records of the file)
    already: int = 0  # events retracted before
    files: list[str] = field(default_factory=list)

    def line(self) -> str:
        again = f" ({self.already:,} of them retracted before)" if self.already else ""
        return (
            f"retracted {self.retracted:,} events of {self.scanned:,} on the log{again}, from "
            f"{', '.join(self.files)}; {self.entries:,} records quarantined as `retracted` for correction "
            "(claimwatch quarantine export --reason retracted ...); a replay now skips them"
        )


def matches(source_file: str, wanted: str) -> bool:
    """The file as ingest recorded it (its path), or just its name."""
    return source_file == wanted or Path(source_file).name == wanted


async def load_retracted(settings: Settings) -> set[tuple[int, int]]:
    """The (partition, offset) of every retracted event, for a replay to skip."""
    out: set[tuple[int, int]] = set()
    for _, value in await read_to_end(settings, settings.topic("retractions")):
        if value:
            try:
                found = Retraction.model_validate_json(value)
            except ValueError:
                continue  # not ours: a replay never fails on the retractions topic
            out.add((found.partition, found.offset))
    return out


def _raw_records(source_file: str) -> dict[int, str]:
    """The records as the file has them, by line (empty if the file is gone or not line-based)."""
    path = Path(source_file)
    if not path.is_file():
        return {}
    try:
        return {line: text[:MAX_RAW] for line, text in record_texts(path).items()}
    except (OSError, EOFError, gzip.BadGzipFile):
        return {}


ID_FIELDS = ("claim_id", "video_id", "asset_id", "platform_content_id", "content_id")


def event_ids(event: Event) -> dict[str, str]:
    """The ids an event is about: what an alert it caused names in its subject."""
    return {name: str(value) for name in ID_FIELDS if (value := getattr(event, name, None))}


def _event_id(event: Event) -> str:
    return str(getattr(event, "event_id", None) or f"{event.source_file}:{event.source_line}")


def entry_for(event: Event, raw: str, reason: str, by: str) -> QuarantineEntry:
    return QuarantineEntry(
        source=str(getattr(event, "source", event.kind)),
        source_file=event.source_file,
        line=event.source_line,
        reason=f"retracted by {by}: {reason}"[:1_000],
        reason_code="retracted",
        raw=raw,
    )


async def retract(settings: Settings, wanted: str, reason: str, by: str) -> RetractReport:
    report = RetractReport()
    events_topic = settings.topic("events")
    already = await load_retracted(settings)
    found: list[tuple[int, int, Event]] = []
    for partition in range(settings.partitions):
        for _, value, offset in await read_partition(settings, events_topic, partition, with_offsets=True):
            report.scanned += 1
            try:
                event = decode_event(value or b"")
            except ValueError:
                continue
            if matches(event.source_file, wanted):
                found.append((partition, offset, event))
    if not found:
        raise ValueError(f"no event on {events_topic} came from a file named {wanted!r} (give its name or its path)")
    files = sorted({event.source_file for _, _, event in found})
    raws: dict[tuple[str, int], str] = {}
    for source_file in files:
        raws.update({(source_file, n): text for n, text in _raw_records(source_file).items()})
    at = datetime.now(tz=UTC)
    entries: dict[tuple[str, int], QuarantineEntry] = {}
    out = producer(settings)
    await start_client(out, settings)
    try:
        for partition, offset, event in found:
            place = (event.source_file, event.source_line)
            if place not in entries:
                # The line as the file has it; the event itself if the file is gone (readable, not releasable).
                raw = raws.get(place) or event.model_dump_json()[:MAX_RAW]
                entries[place] = entry_for(event, raw, reason, by)
            entry_id = Quarantined(entries[place]).entry_id
            report.already += (partition, offset) in already
            retraction = Retraction(
                partition=partition,
                offset=offset,
                event_id=_event_id(event),
                entry_id=entry_id,
                source_file=event.source_file,
                line=event.source_line,
                by=by[:200],
                at=at,
                reason=reason[:1_000],
                ids=event_ids(event),
            )
            await out.send(
                settings.topic("retractions"),
                key=f"{partition}:{offset}".encode(),
                value=retraction.model_dump_json().encode(),
            )
        for entry in entries.values():
            await out.send(
                settings.topic("quarantine"), key=entry.source_file.encode(), value=entry.model_dump_json().encode()
            )
        await out.flush()
    finally:
        await out.stop()
    report.retracted, report.entries, report.files = len(found), len(entries), [Path(f).name for f in files]
    return report


def main(settings: Settings, wanted: str, reason: str, by: str) -> int:
    print(asyncio.run(retract(settings, wanted, reason, by)).line())
    return 0
