"""``claimwatch replay``: re-derive state, alerts and roll-ups from the event log into a generation.

A replay is a bounded job, run the way Flink runs a bounded stream in batch mode: it reads a fixed
slice of the log (from the beginning of what the log retains to the end offsets it saw at start, or
to ``--to``) with batched reads and no consumer group, drives the same
:class:`~claimwatch.detect.store.StateStore` as the worker in process, and writes each item's state
and roll-ups **once, at the end**, to generation N's own topics. Partitions are independent (an
item lives in one), so ``--processes P`` splits them over P processes.

- State is always derived from the start of the retained log (the detectors need the history);
  ``--from`` says from when alerts are raised again: earlier events rebuild state silently.
- Generation N writes ``<prefix>.alerts.gN``, ``<prefix>.rollups.gN`` and ``<app id>-gN-state``,
  and commits the consumer group ``<app id>-gN`` at the offsets it stopped at: a worker started with
  ``CLAIMWATCH_GENERATION=N`` restores the replayed state and continues from there. The live
  generation's topics are never touched.
- Records the core cannot decode are counted (the live worker already dead-lettered them).
- Events an operator retracted (``claimwatch quarantine retract``) are skipped and counted: a
  replay after a data-quality incident derives the generation without them, and with the corrected
  records ``quarantine release`` put back on the log.
- ``--shard I/N`` replays the partitions ``p`` with ``p % N == I`` only, so N machines (ECS tasks of
  the template's replay task definition) derive one generation side by side. Each shard, when done,
  writes a completion marker to the control topic (its partitions and stop offsets); ``promote``
  refuses a generation whose markers do not cover every partition of the event log.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from claimwatch.detect import state
from claimwatch.detect.alerting import wall_clock
from claimwatch.detect.driver import Outcome, RecordDriver
from claimwatch.detect.store import StateStore, published_row
from schemas.codec import MAX_RECORD_BYTES, encode_alert
from stream import snapshots
from stream.kafka_io import BatchedSender, producer, start_client
from stream.logslice import LogSlice
from stream.retract import load_retracted
from stream.settings import Settings
from stream.topics import create_topics, ensure_state_topic, state_topic

log = logging.getLogger("claimwatch.replay")


@dataclass
class ReplayReport:
    generation: int
    records: int = 0
    events: int = 0
    undecodable: int = 0
    retracted: int = 0  # events an operator retracted (claimwatch quarantine retract): skipped
    suspect: int = 0  # records the core left out as impossible: quarantined with the reason
    alerts: int = 0
    muted_alerts: int = 0  # raised by events before --from: state only
    items: int = 0
    rollups: int = 0
    oversized: int = 0  # state records over the record limit: not written (logged)
    seconds: float = 0.0
    loop_seconds: float = 0.0  # reading and applying, without start-up and the final writes
    stop_offsets: dict[int, int] = field(default_factory=dict)

    def add(self, other: ReplayReport) -> None:
        for f in tuple(
            """
            records events undecodable retracted suspect alerts muted_alerts items rollups oversized
            """.split()
        ):
            setattr(self, f, getattr(self, f) + getattr(other, f))
        self.loop_seconds = max(self.loop_seconds, other.loop_seconds)
        self.stop_offsets.update(other.stop_offsets)

    def line(self) -> str:
        rate = self.records / self.seconds if self.seconds else 0.0
        return (
            f"generation {self.generation}: {self.records:,} records, {self.events:,} events, "
            f"{self.undecodable:,} undecodable, {self.retracted:,} retracted (skipped), {self.suspect:,} left out as suspect (quarantined), {self.alerts:,} alerts ({self.muted_alerts:,} before --from, "
            f"not raised), {self.items:,} items, {self.rollups:,} roll-up rows in {self.seconds:.1f}s "
            f"({rate:,.0f} records/s)"
        ) + (f"; {self.oversized:,} state record(s) over the record limit not written" if self.oversized else "")


@dataclass
class SnapshotItems:
    """A snapshot's items, kept as their stored records and decoded when an event first touches them
    (:meth:`StateStore.restore_lazily`): a replay from a snapshot decodes the items that move."""

    records: dict[tuple[int, str], list[tuple[bytes, bytes]]] = field(default_factory=dict)

    @classmethod
    def of(cls, by_partition: dict[int, list[tuple[bytes, bytes]]]) -> SnapshotItems:
        items = cls()
        for partition, records in by_partition.items():
            for key, value in records:
                item = key.split(b"\0", 1)[0].decode("utf-8", "replace")
                items.records.setdefault((partition, item), []).append((key, value))
        return items

    def item(self, partition: int, item: str) -> list[tuple[bytes, bytes]]:
        return self.records.get((partition, item), [])


@dataclass
class FromSnapshot:
    """Replay from a snapshot (its date) kept at ``location`` (:mod:`stream.snapshots`)."""

    name: str
    location: str


async def replay_partitions(
    settings: Settings,
    partitions: list[int] | None,
    since: datetime | int | None = None,
    to: datetime | None = None,
    progress: Callable[[str], None] | None = None,
    snapshot: FromSnapshot | None = None,
) -> ReplayReport:
    """Replay these partitions of the event log (all when None) into ``settings.generation``; alerts
    are raised from ``since`` on (a time, or an offset in every partition). From a snapshot: its
    items, and the events after its offsets only."""
    started = time.perf_counter()
    report = ReplayReport(settings.generation)
    store = StateStore(config=settings.monitor_config(), clock=wall_clock)
    driver, topic = RecordDriver(store), settings.topic("events")
    apply = driver.apply_record
    since_ms = int(since.timestamp() * 1000) if isinstance(since, datetime) else None
    since_offset = since if isinstance(since, int) else None
    gated = since_ms is not None or since_offset is not None  # else no record is muted: not asked per record
    mine = list(range(settings.partitions)) if partitions is None else partitions
    begin: dict[int, int] | None = None
    stored: dict[int, list[tuple[bytes, bytes]]] = {}
    if snapshot is not None:
        begin, stored = await asyncio.to_thread(snapshots.load, snapshots.Store(snapshot.location), snapshot.name, mine)
        store.stored = SnapshotItems.of(stored)
        for partition in mine:
            store.restore_lazily(partition)
    log_slice = LogSlice(settings, topic, partitions, to, begin=begin)
    out = producer(settings)
    try:
        # Start-up costs are paid side by side: the retractions are read by a consumer of their own.
        retracted, parts, _ = await asyncio.gather(
            load_retracted(settings), asyncio.to_thread(log_slice.open), start_client(out, settings)
        )
        if begin is not None and snapshot is not None:
            held = sorted((p, o) for p, o in retracted if o < begin.get(p, 0) and p in begin)
            if held:
                raise snapshots.SnapshotError(
                    f"snapshot {snapshot.name} already holds {len(held)} retracted event(s) (the first: partition "
                    f"{held[0][0]} offset {held[0][1]}): replay from a snapshot taken before the incident"
                )
        if not parts:
            return report
        stops = log_slice.stops
        alerts_out, last_note = BatchedSender(out, settings.topic("alerts")), time.monotonic()
        quarantine_out = BatchedSender(out, settings.topic("quarantine"))
        loop_started = time.perf_counter()
        for batch in log_slice.batches():
            # Batch mode: what survives a batch is state that lives to the end of the job, so it is
            # moved out of the collector's sight rather than scanned again and again (measured: at
            # 100,000 items the cyclic collector made deriving 10x slower).
            gc.freeze()
            outcome = Outcome()
            report.records += len(batch)
            for partition, offset, timestamp, record_key, record_value in batch:
                if retracted and (partition, offset) in retracted:
                    report.retracted += 1
                    continue
                muted = gated and (
                    (since_ms is not None and timestamp < since_ms)
                    or (since_offset is not None and offset < since_offset)
                )
                apply(topic, partition, offset, record_key, record_value, outcome, muted)
            # Dead letters are counted only: the live worker quarantined them when it met them. Suspect
            # records get the same entries (the same ids) the live worker wrote for them: a generation
            # derived from a corrected log has its own, and readers count each once.
            report.events += outcome.applied + outcome.redelivered
            report.undecodable += len(outcome.dead_letters)
            report.muted_alerts += outcome.muted
            for entry in outcome.suspect:
                await quarantine_out.send(entry.source_file.encode(), entry.model_dump_json().encode())
                report.suspect += 1
            for alert in outcome.alerts:
                await alerts_out.send(alert.alert_id.encode(), encode_alert(alert))
                report.alerts += 1
            if progress and time.monotonic() - last_note > 5:
                last_note = time.monotonic()
                progress(f"  partitions {parts}: {report.records:,} records")
        await alerts_out.flush()
        await quarantine_out.flush()
        report.loop_seconds = time.perf_counter() - loop_started
        gc.unfreeze()
        # The end: every item's state and roll-ups, once.
        keys = store.take_dirty()
        states, rollups = BatchedSender(out, state_topic(settings)), BatchedSender(out, settings.topic("rollups"))
        # From a snapshot: its records first, as they are (most items never moved, and are never
        # decoded), and the roll-up rows they hold; what the replay changed is written after them.
        for partition, records in sorted(stored.items()):
            for stored_key, stored_value in records:
                await states.send(stored_key, stored_value, partition)
                for row_key, row in snapshot_rows(stored_key, stored_value):
                    await rollups.send(row_key, row, partition)
                    report.rollups += 1
        written = store.checkpoint_items(keys, MAX_RECORD_BYTES)
        for partition, key, blob in written.states:
            await states.send(key.encode(), blob, partition)
        for partition, key, row in written.rollups:
            await rollups.send(key.encode(), row, partition)
            report.rollups += 1
        for partition, key, size in written.oversized:
            # Never sent (it would fail its batch): the item is rebuilt from the log if restored.
            log.error(
                "state record %r of partition %s is %s bytes, over the record limit: not written",
                key[:80],
                partition,
                f"{size:,}",
            )
            report.oversized += 1
        await states.flush()
        await rollups.flush()
        await out.flush()
        # Every item of the generation: the snapshot's and those the replay added.
        snapshot_items = (
            {item for _, item in store.stored.records} if isinstance(store.stored, SnapshotItems) else set()
        )
        report.items = len(snapshot_items | set(keys))
        report.stop_offsets = {p: stops[p] for p in parts}
        await _commit_for_worker(settings, {TopicPartition(topic, p): stops[p] for p in parts})
    finally:
        log_slice.close()
        await out.stop()
    report.seconds = time.perf_counter() - started
    return report


def snapshot_rows(key: bytes, value: bytes) -> list[tuple[bytes, bytes]]:
    """The roll-up rows a stored part holds (a series of rows, or a claim's with its rows), keyed as
    the rows topic keys them; none for other records or records that do not read."""
    split = state.split_part_key(key.decode("utf-8", "replace"))
    if split is None or split[1] not in (state.ROW, state.CLAIM):
        return []
    item, kind, ident = split
    try:
        _, _, value_read = state.decode_part(kind, ident, value)
    except state.StateFormatError:
        return []
    rows: dict[str, dict[str, object]] = value_read[1] if kind == state.CLAIM else value_read
    out = []
    for row_key, row in sorted(rows.items()):
        topic_key, row_json = published_row(item, row_key, row)
        out.append((topic_key.encode(), row_json))
    return out


async def _commit_for_worker(settings: Settings, offsets: dict[TopicPartition, int]) -> None:
    """Commit the stop offsets for the generation's worker group: it resumes there, with the state."""
    group = AIOKafkaConsumer(**settings.client_options(), group_id=settings.worker_app_id(), enable_auto_commit=False)
    await start_client(group, settings)
    try:
        group.assign(list(offsets))
        await group.commit(offsets)
    finally:
        await group.stop()


def _replay_in_child(
    args: tuple[dict[str, Any], list[int], datetime | int | None, datetime | None, FromSnapshot | None],
) -> ReplayReport:
    fields, partitions, since, to, snapshot = args
    return asyncio.run(replay_partitions(Settings(**fields), partitions, since, to, snapshot=snapshot))


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` as (I, N), 0 ≤ I < N; a clear error for anything else."""
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit()) or not 0 <= int(index) < int(count):
        raise ValueError(f"--shard {text[:40]!r}: give I/N with 0 <= I < N (shard 0/2 and shard 1/2 make one replay)")
    return int(index), int(count)


def shard_partitions(partitions: int, shard: tuple[int, int]) -> list[int]:
    """The partitions of the event log shard ``I/N`` replays (disjoint, and together all of them).

    >>> [shard_partitions(8, (i, 3)) for i in range(3)]
    [[0, 3, 6], [1, 4, 7], [2, 5]]
    """
    index, count = shard
    return [p for p in range(partitions) if p % count == index]


def replay(
    settings: Settings,
    generation: int,
    since: datetime | int | None = None,
    to: datetime | None = None,
    processes: int = 1,
    progress: Callable[[str], None] | None = None,
    shard: tuple[int, int] = (0, 1),
    snapshot: FromSnapshot | None = None,
) -> ReplayReport:
    """Replay shard ``I/N`` of the event log (the whole log: ``0/1``) into ``generation`` with
    ``processes`` processes, then mark the shard complete on the control topic."""
    if generation < 2:
        raise ValueError("--generation must be 2 or more: generation 1 is the first live derivation")
    if snapshot is not None:  # before anything is created: a snapshot that is not there is one line
        snapshots.find(snapshots.Store(snapshot.location), snapshot.name)
    target = dataclasses.replace(settings, generation=generation)
    asyncio.run(create_topics(target))
    asyncio.run(ensure_state_topic(target))
    started = time.perf_counter()
    mine = shard_partitions(target.partitions, shard)
    if processes <= 1 or len(mine) <= 1:
        report = asyncio.run(replay_partitions(target, mine, since, to, progress, snapshot))
    else:
        shares = [mine[i::processes] for i in range(processes)]
        fields = dataclasses.asdict(target)
        report = ReplayReport(generation)
        with ProcessPoolExecutor(max_workers=processes) as pool:
            for part in pool.map(_replay_in_child, [(fields, share, since, to, snapshot) for share in shares if share]):
                report.add(part)
    report.seconds = time.perf_counter() - started
    asyncio.run(mark_shard_done(target, shard, mine, report))
    return report


def shard_key(generation: int, shard: tuple[int, int]) -> bytes:
    return f"replay_done|g{generation}|{shard[0]}/{shard[1]}".encode()


async def mark_shard_done(
    settings: Settings, shard: tuple[int, int], partitions: list[int], report: ReplayReport
) -> None:
    """The shard's completion marker on the control topic (written after its last record is flushed)."""
    out = producer(settings)
    await start_client(out, settings)
    try:
        record = {
            "generation": settings.generation,
            "shard": f"{shard[0]}/{shard[1]}",
            "partitions": partitions,
            "stop_offsets": {str(p): o for p, o in sorted(report.stop_offsets.items())},
            "records": report.records,
            "alerts": report.alerts,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        await out.send_and_wait(
            settings.topic("control"), key=shard_key(settings.generation, shard), value=json.dumps(record).encode()
        )
    finally:
        await out.stop()


def main(
    settings: Settings,
    generation: int,
    since: datetime | int | None,
    to: datetime | None,
    processes: int,
    shard: tuple[int, int] = (0, 1),
    snapshot: FromSnapshot | None = None,
) -> int:
    log = logging.getLogger("claimwatch.replay")

    def note(line: str) -> None:
        log.info(line.strip())

    if generation < 2:
        raise ValueError("--generation must be 2 or more: generation 1 is the first live derivation")
    if snapshot is not None:
        snapshots.find(snapshots.Store(snapshot.location), snapshot.name)
    part = (
        f" (shard {shard[0]}/{shard[1]}: partitions {shard_partitions(settings.partitions, shard)})"
        if shard[1] > 1
        else ""
    )
    note(f"replaying {settings.topic('events')} into generation {generation} with {processes} process(es){part}")
    if snapshot is not None:
        note(f"from snapshot {snapshot.name} in {snapshot.location}: only the events after it")
    report = replay(settings, generation, since, to, processes, note, shard, snapshot)
    print(report.line() + part)
    return 0
