"""``claimwatch ingest``: files → readers → validated events → Kafka, keyed by content item.

Events are published in data-time order (as the embedded run processes them), so each partition of
the event log is in data-time order too. Bad records go to the quarantine topic with their reason
and source position. Nothing is dropped silently: the final count reconciles every record read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from claimwatch.detect.routing import Router
from claimwatch.front import order_events
from claimwatch.front.filerows import file_key
from claimwatch.front.prepare import Front
from claimwatch.ingest.readers import FileResult, IngestResult, read_files
from schemas.codec import decode_event, encode_event
from schemas.events import CatalogItem, ClaimEvent, Event, QuarantineEntry, RightsRecord
from stream.kafka_io import MAX_RECORD_BYTES, IncompleteRead, producer, read_to_end, start_client
from stream.settings import Settings

log = logging.getLogger("claimwatch.ingest")
T = TypeVar("T")


@dataclass
class IngestReport:
    files: int = 0
    records: int = 0
    published: Counter[str] = field(default_factory=Counter)
    quarantined: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)

    def reconciles(self) -> bool:
        """Every record read was accepted or quarantined; every event is on the log (published now,
        or found there already by a collector's recovery) or a duplicate dropped; every quarantine
        entry is on the quarantine topic."""
        rows = self.by_source.values()
        events = sum(r["events"] for r in rows)
        return (
            all(r["records"] == r["accepted"] + r["quarantined"] for r in rows)
            and self.published["events"] + self.published["already_on_log"] == events - self.duplicates
            and self.quarantined == sum(r["quarantined"] for r in rows)
        )


async def load_router(settings: Settings) -> Router:
    """What earlier ingests learnt: the catalog and where each claim belongs."""
    router = Router()
    for _, value in await read_to_end(settings, settings.topic("catalog")):
        if value:
            event = decode_event(value)
            if isinstance(event, CatalogItem):
                router.learn(event)
    for key, value in await read_to_end(settings, settings.topic("routing")):
        if key and value:
            router.by_claim[key.decode()] = value.decode()
    return router


def oversized(event: Event, size: int) -> QuarantineEntry:
    return QuarantineEntry(
        source=str(getattr(event, "source", event.kind)),
        source_file=event.source_file,
        line=event.source_line,
        reason=f"event of {size:,} bytes with its key is larger than a Kafka record may be ({MAX_RECORD_BYTES:,})",
        reason_code="record_too_large",
    )


def record_size(event: Event, key: str, value: bytes) -> int:
    """The largest record an event makes (key and value): on the log, and on its compacted topic."""
    keys = [key]
    if isinstance(event, CatalogItem):
        keys.append(event.content_id)
    elif isinstance(event, RightsRecord):
        keys.append(rights_key(event))
    return len(value) + max(len(k.encode()) for k in keys)


def rights_key(event: RightsRecord) -> str:
    return "|".join((event.key(), event.owner, event.right_type, ",".join(event.territories)))


STARTUP_TRY_SECONDS = 15.0  # one try at the broker at start; a frozen one answers nothing at all
STARTUP_PAUSE_SECONDS = 2.0


async def ride_out(what: str, attempt: Callable[[], Awaitable[T]], deadline_s: float) -> T:
    """``attempt()`` until it succeeds or ``deadline_s`` has passed (CLAIMWATCH_INGEST_DEADLINE_SECONDS):
    a broker that is down or frozen when ingest starts is waited for, as one that fails mid-way is by
    the producer's own retries. The last failure is raised at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    while True:
        remaining = deadline - loop.time()
        try:
            return await asyncio.wait_for(attempt(), max(0.5, min(STARTUP_TRY_SECONDS, remaining)))
        except (KafkaError, IncompleteRead, ConnectionError, OSError, TimeoutError) as exc:
            if loop.time() + STARTUP_PAUSE_SECONDS >= deadline:
                raise
            log.warning("%s: Kafka not available yet (%s); trying again until the deadline", what, type(exc).__name__)
            await asyncio.sleep(STARTUP_PAUSE_SECONDS)


async def _send_event(
    out: AIOKafkaProducer,
    settings: Settings,
    router: Router,
    known_claims: dict[str, str],
    event: Event,
    value: bytes,
    published: Counter[str],
    headers: list[tuple[str, bytes]] | None = None,
    item_key: str | None = None,
) -> None:
    """One event onto the log (keyed by its item), and onto the compacted topic of its kind."""
    key = item_key if item_key is not None else router.key(event)
    await out.send(settings.topic("events"), key=key.encode(), value=value, headers=headers)
    published["events"] += 1
    if isinstance(event, CatalogItem):
        await out.send(settings.topic("catalog"), key=event.content_id.encode(), value=value)
        published["catalog"] += 1
    elif isinstance(event, RightsRecord):
        await out.send(settings.topic("rights"), key=rights_key(event).encode(), value=value)
        published["rights"] += 1
    elif isinstance(event, ClaimEvent) and event.claim_id:
        placed = router.by_claim.get(event.claim_id)
        if placed is not None and known_claims.get(event.claim_id) != placed:
            known_claims[event.claim_id] = placed
            await out.send(settings.topic("routing"), key=event.claim_id.encode(), value=placed.encode())
            published["routing"] += 1


class ReleaseRefused(ValueError):
    """A release that would publish what must not be: nothing of it is published."""


def refuse_released(
    replaces: dict[tuple[str, int], str], quarantine: Sequence[tuple[bytes | None, bytes | None]]
) -> None:
    """Entries already released once are not released again (their events are on the log)."""
    from claimwatch.quarantine import resolved_entries

    done = resolved_entries(value for _, value in quarantine)
    again = sorted(set(replaces.values()) & done.keys())
    if again:
        who, when = done[again[0]]
        raise ReleaseRefused(
            f"{len(again)} entr{'y was' if len(again) == 1 else 'ies were'} released already ({again[0]} by "
            f"{who} at {when}); nothing released: export the open entries again (quarantine export)"
        )


def refuse_moves(events: list[Event], router: Router) -> None:
    """A correction may fix a claim's fields, not move it to another item: the claim's state lives
    with the item it was first placed at, and a release would otherwise split it silently."""
    for event in events:
        if not isinstance(event, ClaimEvent) or not event.claim_id:
            continue
        placed = router.by_claim.get(event.claim_id)
        named = router.item_for_asset(event.asset_id, event.custom_id, event.isrc)
        if placed is not None and named is not None and named != placed:
            raise ReleaseRefused(
                f"{event.source_file}:{event.source_line}: claim {event.claim_id[:80]} belongs to item {placed[:80]}; "
                f"the correction names an asset of item {named[:80]}: a correction cannot move a claim; nothing released"
            )


async def publish_released(
    events: list[Event], replaces: dict[tuple[str, int], str], released_by: str, settings: Settings
) -> Counter[str]:
    """Corrected records' events onto the log, each with its provenance in Kafka headers: who released
    it, when, and the quarantine entry it replaces; then a resolution of each of those entries on the
    quarantine topic, so the quarantine's readers count them as dealt with. Events go out in the
    order ingest would have published them (data time), so a replay applies them as it would have."""
    from claimwatch.quarantine import resolutions_for

    events, _ = order_events(events)
    router = await load_router(settings)
    refuse_released(replaces, await read_to_end(settings, settings.topic("quarantine")))
    refuse_moves(events, router)
    router.prime(events)
    now = datetime.now(tz=UTC)
    released_at = now.isoformat(timespec="seconds").replace("+00:00", "Z").encode()
    published: Counter[str] = Counter()
    out = producer(settings, settings.ingest_deadline_seconds)
    await start_client(out, settings)
    try:
        for event in events:
            headers = [
                ("claimwatch-released-by", released_by.encode()[:200]),
                ("claimwatch-released-at", released_at),
                ("claimwatch-replaces", replaces.get((event.source_file, event.source_line), "").encode()),
            ]
            await _send_event(
                out, settings, router, dict(router.by_claim), event, encode_event(event), published, headers
            )
        await out.flush()  # the events first: an entry is resolved only once its correction is on the log
        for resolution in resolutions_for(replaces.values(), released_by, now):
            await out.send(
                settings.topic("quarantine"),
                key=resolution.resolves.encode(),
                value=resolution.model_dump_json().encode(),
            )
            published["resolutions"] += 1
        await out.flush()
    finally:
        await out.stop()
    return published


async def publish(
    result: IngestResult,
    settings: Settings,
    on_progress: Callable[[int, int], None] | None = None,
    deadline_s: float | None = None,
) -> IngestReport:
    """What was read, onto Kafka (see :func:`publish_files`)."""
    return await publish_files(result.files, settings, on_progress, deadline_s)


async def publish_files(
    files: Iterable[FileResult],
    settings: Settings,
    on_progress: Callable[[int, int], None] | None = None,
    deadline_s: float | None = None,
    already: Callable[[Event | QuarantineEntry, bytes], bool] | None = None,
) -> IngestReport:
    """Files' events onto the log, unique and in data-time order, then the quarantine entries and a
    row per file. The files may be a generator: one is read at a time into an :class:`EventSpool`,
    so memory holds one file and what the spool keeps, never the run (1,875 MB for 520,000 events
    when it did). ``already(event, value)`` names events and entries that are on the log already
    (a collector recovering a round that a crash cut short): they are counted, not sent again."""
    started = time.perf_counter()
    deadline = deadline_s or settings.ingest_deadline_seconds
    with Front(files) as front:
        router = await ride_out("reading what earlier ingests learnt", lambda: load_router(settings), deadline)
        front.route_with(router)
        report = IngestReport(files=len(front.files), duplicates=front.duplicates, by_source=front.counts())
        out = producer(settings, deadline)
        await ride_out("connecting to Kafka", out.start, deadline)
        try:
            for sent, (event, key, value) in enumerate(front.events(), start=1):
                # An event too large for a Kafka record (its key included) is quarantined instead of
                # failing the whole ingest.
                if already is not None and already(event, value):
                    report.published["already_on_log"] += 1
                elif (size := record_size(event, key, value)) > MAX_RECORD_BYTES:
                    front.tally.too_large(oversized(event, size))
                else:
                    await _send_event(
                        out, settings, router, front.known_claims, event, value, report.published, item_key=key
                    )
                if on_progress and sent % 20_000 == 0:
                    on_progress(sent, front.unique)
            for entry in front.quarantined():
                if already is not None and already(entry, entry.model_dump_json().encode()):
                    report.quarantined += 1
                    continue
                await out.send(
                    settings.topic("quarantine"), key=entry.source_file.encode(), value=entry.model_dump_json().encode()
                )
                report.quarantined += 1
            for file_row in front.file_rows():
                value = orjson.dumps(file_row, option=orjson.OPT_SORT_KEYS)
                await out.send(settings.topic("rollups"), key=file_key(file_row).encode(), value=value)
                report.published["rollups"] += 1
            await out.flush()
        finally:
            await out.stop()
        report.records = sum(r["records"] for r in report.by_source.values())
        if on_progress:
            on_progress(front.unique, front.unique)
    report.seconds = time.perf_counter() - started
    return report


def ingest(
    paths: Sequence[Path],
    settings: Settings,
    kind: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    return asyncio.run(publish_files(read_files(paths, kind), settings, on_progress))


def watch(
    folders: Sequence[Path],
    settings: Settings,
    kind: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    poll_s: float = 10.0,
    max_rounds: int | None = None,
) -> int:
    """Publish every file already there, then each new export file as it appears (and stops growing)."""
    from claimwatch.ingest.readers import discover

    done: set[Path] = set()
    sizes: dict[Path, int] = {}
    rounds = 0
    while max_rounds is None or rounds < max_rounds:
        rounds += 1
        ready = []
        for path in discover(folders):
            if path in done:
                continue
            size = path.stat().st_size
            if sizes.get(path) == size:
                ready.append(path)  # unchanged since the last look: the export is complete
            sizes[path] = size
        if ready:
            report = asyncio.run(publish_files(read_files(ready, kind), settings, on_progress))
            done.update(ready)
            print(
                f"ingested {len(ready)} file(s): {report.published['events']:,} events, "
                f"{report.quarantined:,} quarantined",
                flush=True,
            )
        time.sleep(poll_s)
    return 0
