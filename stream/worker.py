"""``claimwatch worker``: the Faust app that runs the detection core over the event log.

The agent is a thin loop over :class:`WorkerLoop`, which forwards raw events in batches to the
worker's core process (:mod:`stream.coreproc`: the pure :class:`~claimwatch.detect.store.StateStore`
driven by :class:`~claimwatch.detect.driver.RecordDriver`, beside Faust rather than under its
interpreter lock) and sends what each batch gave:

- every event is decoded, applied to its content item's monitor in memory, and its alerts are sent
  as soon as its batch is answered (latency is not held back by checkpoints);
- a checkpoint (every ``CLAIMWATCH_CHECKPOINT_EVENTS`` events or ``CLAIMWATCH_CHECKPOINT_SECONDS``,
  whichever first) writes every item that changed, once, to the state changelog
  ``<app id>-state`` (compacted, versioned JSON: :mod:`claimwatch.detect.state`), flushes the
  producer (alerts and state), and only then acknowledges the events it covers, so the offsets Faust
  commits never run ahead of the stored state. A crash replays from the last commit; each item's
  applied offset makes the replay idempotent, and the alerts it raises again carry the same ids;
- a partition's items are restored from the changelog when its first event arrives; a stored record
  that does not parse (a pickle of the old format, a crafted value) is never executed: it is logged,
  counted and that item rebuilt from the event log;
- an event the core cannot decode or process goes to the quarantine topic as a dead letter with the
  reason, is counted, and the worker carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import faust
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from claimwatch.detect.driver import DEAD_LETTER_TEXT
from claimwatch.logs import logging_config
from claimwatch.logs import setup as setup_logs
from schemas.codec import MAX_RECORD_BYTES
from schemas.events import QuarantineEntry
from stream.coreproc import CoreProcess, CoreProcessError
from stream.coreproto import Applied, ChangelogPosition, Restored
from stream.kafka_io import bounded_reader, end_offset, partition_chunks, read_partition, start_client
from stream.localstate import record_digest
from stream.settings import Settings
from stream.topics import ensure_state_topic, state_topic

log = logging.getLogger("claimwatch.worker")
CHECKPOINT_CHUNK = 256  # items encoded per request to the core: batches are applied in between
BATCH_LIMIT = 5_000  # events per request to the core process
INBOX_LIMIT = 20_000  # events waiting for the core beyond which the agent waits too
# A batch of fewer events than this waits this long for more first. Each request costs the agent
# (whose event loop is the worker's bottleneck) the same whatever its size; a core faster than the
# agent would otherwise be sent a handful of events at a time (measured: 14 % of the throughput).
LINGER_EVENTS, LINGER_SECONDS = 1_000, 0.005
Outgoing = tuple[str, bytes, bytes | None, int | None]  # topic, key, value (None: delete the key), partition
STOP_CHECKPOINT_SECONDS = 7.0  # a stop ends within 10 s (an orchestrator's usual grace period)
BROKER_ASK_S = 0.7  # what /health may wait for the broker; a frozen one must not freeze /health


# Processing time of one batch in the core process, apply and send: a batch of one event takes about a
# millisecond, a full one a few tenths of a second; a checkpoint or a slow broker shows in the upper buckets.
# What generate_latest writes is Prometheus' text format 0.0.4; aiohttp adds "charset=utf-8" itself
# (and refuses a content type that already has one).
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class WorkerStats:
    """What /metrics and /health report: counters since start, and when the agent last made progress.

    The counters are plain fields (the hot path adds to them without a lock); a collector turns them
    into Prometheus families at each scrape, beside the processing-time histogram and the process
    metrics (memory, CPU, open files) of ``prometheus_client``.
    """

    events_in: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)
    alerts_out: Counter[tuple[str, str]] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)
    suspect: Counter[str] = field(default_factory=Counter)  # records the core left out, by reason code
    dead_letter_times: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    skipped_redelivered: int = 0
    state_unreadable: int = 0
    rebuilt_items: int = 0
    checkpoints: int = 0
    checkpoint_failures: int = 0
    failing_since: float | None = None  # when the first of the checkpoints failing now began
    last_checkpoint_ok: float = field(default_factory=time.time)  # start, until one succeeds
    oversized: Counter[str] = field(default_factory=Counter)  # records over the limit, not sent, by topic
    largest_state_record: int = 0
    state_records_written: int = 0
    state_bytes_written: int = 0
    rollups_written: int = 0
    restore_seconds: float = 0.0
    restored_items: int = 0
    restored_tail_records: int = 0  # changelog records read past the local copy's position
    local_state_records: int = 0  # state records the local copy took at checkpoints
    commits: int = 0  # Faust's offset commits (the sensor below)
    commit_seconds: float = 0.0
    rebalances: int = 0
    rebalance_seconds: float = 0.0
    last_progress: float = field(default_factory=time.time)
    broker_ok_at: float = field(default_factory=time.time)
    next_offset: dict[int, int] = field(default_factory=dict)
    committed_offset: dict[int, int] = field(default_factory=dict)  # acknowledged by a checkpoint, per partition
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    latency: Histogram = field(init=False)
    lag: dict[int, int] = field(default_factory=dict)  # as last asked, for the scrape being served

    def __post_init__(self) -> None:
        self.latency = Histogram(
            "claimwatch_processing_seconds",
            "Time for the core to apply a batch of events, and to send its alerts.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        self.registry.register(_StatsCollector(self))

    def prometheus(self, lag: dict[int, int]) -> str:
        """The Prometheus text exposition of everything, with ``lag`` per partition."""
        self.lag = dict(lag)
        return generate_latest(self.registry).decode()

    def dead_letters_in(self, seconds: float) -> int:
        since = time.time() - seconds
        return sum(1 for t in self.dead_letter_times if t >= since)


class _StatsCollector(Collector):
    """The worker's counters and gauges, read from :class:`WorkerStats` at each scrape."""

    def __init__(self, stats: WorkerStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        yield _counter("claimwatch_events_in", "Events applied, by kind.", ["kind"], s.events_in.items())
        yield _counter(
            "claimwatch_alerts_out",
            "Alerts sent, by type and severity.",
            ["type", "severity"],
            ((list(k), v) for k, v in s.alerts_out.items()),
        )
        yield _counter(
            "claimwatch_quarantined", "Records on the quarantine topic, by source.", ["source"], s.quarantined.items()
        )
        yield _counter(
            "claimwatch_dead_letters",
            "Events the core could not decode or process, by reason.",
            ["reason"],
            s.dead_letters.items(),
        )
        yield _counter(
            "claimwatch_oversized_records",
            "Records over the Kafka record limit, dead-lettered instead, by topic.",
            ["topic"],
            s.oversized.items(),
        )
        yield _counter(
            "claimwatch_suspect_records",
            "Records the core left out as impossible (quarantined), by reason.",
            ["reason"],
            s.suspect.items(),
        )
        for name, doc, value in (
            ("claimwatch_redelivered_skipped", "Redelivered events already applied.", s.skipped_redelivered),
            ("claimwatch_state_unreadable", "Stored item states that did not parse (rebuilt).", s.state_unreadable),
            ("claimwatch_checkpoints", "Checkpoints completed.", s.checkpoints),
            (
                "claimwatch_checkpoint_failures",
                "Checkpoints that failed (their events wait for the next).",
                s.checkpoint_failures,
            ),
            ("claimwatch_state_bytes_written", "Bytes of item state written to the changelog.", s.state_bytes_written),
            ("claimwatch_state_records_written", "Item states written to the changelog.", s.state_records_written),
            ("claimwatch_rollups_written", "Weekly report roll-up rows written.", s.rollups_written),
            ("claimwatch_restore_seconds", "Time spent restoring state from the changelog.", s.restore_seconds),
            ("claimwatch_restored_items", "Item states restored from the changelog.", s.restored_items),
            (
                "claimwatch_restored_tail_records",
                "Changelog records read past the local copy's position at restores.",
                s.restored_tail_records,
            ),
            (
                "claimwatch_local_state_records",
                "State records written to the local copy of the changelog.",
                s.local_state_records,
            ),
            ("claimwatch_rebuilt_items", "Items rebuilt from the event log.", s.rebuilt_items),
            ("claimwatch_offset_commits", "Offset commits Faust completed.", s.commits),
            ("claimwatch_offset_commit_seconds", "Time Faust spent in offset commits.", s.commit_seconds),
            ("claimwatch_rebalances", "Consumer group rebalances this worker went through.", s.rebalances),
            ("claimwatch_rebalance_seconds", "Time spent in rebalances (partitions paused).", s.rebalance_seconds),
        ):
            yield CounterMetricFamily(name, doc, value=value)
        lag = GaugeMetricFamily(
            "claimwatch_consumer_lag", "Events on the log not yet processed, by partition.", labels=["partition"]
        )
        for partition, value in sorted(s.lag.items()):
            lag.add_metric([str(partition)], value)
        yield lag
        yield GaugeMetricFamily(
            "claimwatch_seconds_since_progress",
            "Seconds since the last event was applied.",
            value=round(time.time() - s.last_progress, 1),
        )
        yield GaugeMetricFamily(
            "claimwatch_seconds_since_checkpoint",
            "Seconds since the last checkpoint that stored its events and acknowledged them.",
            value=round(time.time() - s.last_checkpoint_ok, 1),
        )
        yield GaugeMetricFamily(
            "claimwatch_largest_state_record_bytes",
            "The largest state record written (key and value).",
            value=s.largest_state_record,
        )
        uncommitted = GaugeMetricFamily(
            "claimwatch_uncommitted_events",
            "Events applied but not yet stored by a checkpoint, by partition.",
            labels=["partition"],
        )
        for partition, applied in sorted(s.next_offset.items()):
            uncommitted.add_metric([str(partition)], max(0, applied - s.committed_offset.get(partition, applied)))
        yield uncommitted


def _counter(name: str, doc: str, labels: list[str], rows: Iterable[tuple[Any, int]]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=labels)
    for key, value in sorted(rows, key=lambda r: str(r[0])):
        # Label values are data (sources, reasons): the client escapes them, and they are cut short.
        family.add_metric([str(v)[:120] for v in (key if isinstance(key, list) else [key])], value)
    return family


class CommitAndRebalanceSensor(faust.Sensor):
    """Faust's commits and rebalances into the worker's /metrics.

    Faust's own Prometheus monitor records every message too, on the hot path; the worker counts its
    events itself, so only these two, which happen per second or per restart, are taken from Faust.
    """

    def __init__(self, stats: WorkerStats) -> None:
        super().__init__()
        self.stats = stats

    def on_commit_initiated(self, consumer: Any) -> Any:
        return time.monotonic()

    def on_commit_completed(self, consumer: Any, state: Any) -> None:
        self.stats.commits += 1
        if isinstance(state, float):
            self.stats.commit_seconds += time.monotonic() - state

    def on_rebalance_start(self, app: Any) -> dict[str, Any]:
        self.stats.rebalances += 1
        return {"started": time.monotonic()}

    def on_rebalance_end(self, app: Any, state: dict[str, Any]) -> None:
        started = state.get("started") if isinstance(state, dict) else None
        if isinstance(started, float):
            self.stats.rebalance_seconds += time.monotonic() - started


def health_problems(stats: WorkerStats, lag: dict[int, int], settings: Settings) -> list[str]:
    """Why the worker should be restarted or looked at; empty when healthy.

    ``lag`` counts events not yet stored by a checkpoint (what a restart would process again), not
    merely events not yet applied: a worker that applies everything but cannot store it is not well.
    """
    problems = []
    if stats.failing_since is not None and time.time() - stats.failing_since > settings.checkpoint_failure_seconds:
        problems.append(
            f"checkpoints failing for {time.time() - stats.failing_since:.0f}s "
            f"({stats.checkpoint_failures} failed; events applied but not stored, offsets not committed)"
        )
    idle = time.time() - stats.last_progress
    if sum(lag.values()) > 0 and idle > settings.stall_seconds:
        problems.append(f"stalled: {sum(lag.values())} events waiting, no progress for {idle:.0f}s")
    if time.time() - stats.broker_ok_at > settings.broker_timeout_seconds:
        problems.append(f"broker unreachable for {time.time() - stats.broker_ok_at:.0f}s")
    recent = stats.dead_letters_in(300)
    if recent > settings.dead_letter_limit:
        problems.append(f"{recent} dead letters in the last 5 minutes (limit {settings.dead_letter_limit})")
    return problems


def too_large(topic: str, partition: int | None, key: bytes, size: int, outcome: str) -> QuarantineEntry:
    """The dead letter of a record the worker could not write: it exceeds what a Kafka record may be."""
    return QuarantineEntry(
        source="worker",
        source_file=f"{topic}[{'' if partition is None else partition}]",
        line=0,
        reason=f"a record of {size:,} bytes is larger than a Kafka record may be ({MAX_RECORD_BYTES:,}): {outcome}",
        reason_code="record_too_large",
        raw=key[:DEAD_LETTER_TEXT].decode("utf-8", "replace"),
    )


class CheckpointIncomplete(RuntimeError):
    """Some records of a checkpoint were not delivered: its events are not acknowledged yet."""


class WorkerLoop:
    """Everything the agent does, as plain methods: forward, deliver, checkpoint, restore.

    The agent appends each event to an inbox; a pump sends the inbox to the core process in batches
    (one batch in flight, the next filling meanwhile: at low rates a batch is one event, so latency
    stays low) and sends the alerts and quarantine entries each batch gave.
    """

    def __init__(self, app: faust.App, settings: Settings, stats: WorkerStats, loglevel: str = "warning") -> None:
        self.app = app
        self.settings = settings
        self.stats = stats
        self.core = CoreProcess(
            settings.topic("events"),
            settings.monitor_config(),
            loglevel,
            state_dir="" if settings.state_dir.lower() in {"none", "off"} else settings.state_dir,
            state_name=state_topic(settings),
        )
        self.events_topic = app.topic(settings.topic("events"), key_type=bytes, value_type=bytes)
        self.quarantine = app.topic(settings.topic("quarantine"), key_type=bytes, value_type=bytes)
        self.alerts_name, self.quarantine_name = settings.topic("alerts"), settings.topic("quarantine")
        self.state_name, self.rollups_name = state_topic(settings), settings.topic("rollups")
        self.sent: list[tuple[Any, Outgoing]] = []  # records sent since the last checkpoint began, with futures
        self.undelivered: list[Outgoing] = []  # what a failed checkpoint could not deliver: sent again first
        self.unwritten: list[str] = []  # items a failed checkpoint had taken but not written: encoded again
        self.restored: set[int] = set()  # partitions whose items the core holds
        self.inbox: list[Any] = []  # events received, not yet sent to the core
        self.in_flight = 0  # events the core is applying now
        self.applied: list[Any] = []  # events applied but not yet covered by a checkpoint
        self.wake = asyncio.Event()  # the inbox has events
        self.room = asyncio.Event()  # the inbox is below its limit
        self.pump_task: asyncio.Future[None] | None = None
        self.reader: Any = None  # the consumer restores read through (restore_reader)
        self.closing = False
        self.last_checkpoint = time.monotonic()
        self.lock = asyncio.Lock()
        self.running: asyncio.Future[None] | None = None

    async def on_event(self, record: Any) -> None:
        partition = record.message.partition
        if partition not in self.restored:
            await self.restore(partition, record.message.offset)
        self.inbox.append(record)
        self.wake.set()
        if self.pump_task is None:
            self.pump_task = asyncio.ensure_future(self.pump())
            self.pump_task.add_done_callback(self._pump_stopped)
        if len(self.inbox) >= INBOX_LIMIT:  # the core is behind: wait rather than buffer without bound
            self.room.clear()
            await self.room.wait()

    async def pump(self) -> None:
        while True:
            if not self.inbox:
                self.wake.clear()
                await self.wake.wait()
                continue
            if len(self.inbox) < LINGER_EVENTS:
                await asyncio.sleep(LINGER_SECONDS)
            batch, self.inbox = self.inbox[:BATCH_LIMIT], self.inbox[BATCH_LIMIT:]
            self.in_flight = len(batch)
            self.room.set()
            await self.apply_batch(batch)
            self.in_flight = 0

    def _pump_stopped(self, task: asyncio.Future[None]) -> None:
        if task.cancelled() or self.closing:
            return
        # Without its core the worker cannot go on; what was not checkpointed is redelivered on restart.
        log.critical("the core process failed, the worker stops: %s", task.exception())
        os._exit(70)

    async def apply_batch(self, batch: list[Any]) -> None:
        started = time.perf_counter()
        records = [(r.message.partition, r.message.offset, r.key, r.value) for r in batch]
        reply = await self.core.apply(records)
        while reply.unreadable:  # items decoded on first touch whose stored state is unreadable
            by_partition: dict[int, list[str]] = {}
            for item in reply.unreadable:
                log.warning(
                    "unreadable state for item %r on partition %s (%s): rebuilding it from the log",
                    item.key,
                    item.partition,
                    item.reason,
                )
                by_partition.setdefault(item.partition, []).append(item.key)
            self.stats.state_unreadable += len(reply.unreadable)
            for partition, keys in by_partition.items():
                first = min(offset for p, offset, _, _ in records if p == partition)
                await self.rebuild(partition, keys, first)
            reply = await self.core.apply(records)
        await self.deliver(reply)
        committed = self.stats.committed_offset
        for record in batch:
            message = record.message
            if message.partition not in committed:  # where this worker began: committed by whoever was before
                committed[message.partition] = message.offset
            self.stats.next_offset[message.partition] = message.offset + 1
        self.applied += batch
        self.stats.latency.observe(time.perf_counter() - started)
        self.stats.last_progress = time.time()
        self.maybe_checkpoint()

    async def deliver(self, reply: Applied) -> None:
        """Send what a batch gave: its alerts, the records left out as suspect, the dead letters."""
        for kind, count in reply.events.items():
            self.stats.events_in[kind] += count
        self.stats.skipped_redelivered += reply.redelivered
        for alert in reply.alerts:
            self.sent.append(await self.produce(self.alerts_name, alert.alert_id.encode(), alert.value.encode()))
            self.stats.alerts_out[(alert.type, alert.severity)] += 1
            log.info(
                "alert raised",
                extra={
                    "alert_id": alert.alert_id,
                    "type": alert.type,
                    "severity": alert.severity,
                    "subject": alert.subject,
                },
            )
        for left_out in reply.suspect:  # left out by the core: quarantined with the reason
            self.sent.append(await self.produce(self.quarantine_name, left_out.where.encode(), left_out.value.encode()))
            self.stats.suspect[left_out.code] += 1
        for dead in reply.dead_letters:
            self.sent.append(await self.produce(self.quarantine_name, dead.where.encode(), dead.value.encode()))
            self.stats.dead_letters[dead.code] += 1
            self.stats.dead_letter_times.append(time.time())
            log.warning("dead letter %s offset=%s: %s", dead.where, dead.offset, dead.reason[:300])

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Wait until every event received has been applied by the core."""
        deadline = time.monotonic() + timeout_s
        while (self.inbox or self.in_flight) and self.pump_task is not None and not self.pump_task.done():
            if time.monotonic() > deadline:
                log.warning("%s event(s) not applied before the deadline", len(self.inbox) + self.in_flight)
                return
            await asyncio.sleep(0.005)

    def checkpoint_due(self) -> bool:
        return bool(self.applied) and (
            len(self.applied) >= self.settings.checkpoint_events
            or time.monotonic() - self.last_checkpoint >= self.settings.checkpoint_seconds
        )

    def maybe_checkpoint(self) -> None:
        """Start a checkpoint in the background when one is due and none is running: the agent goes
        on forwarding events (and the core on raising alerts) while the changed items are written."""
        if self.running is None and self.checkpoint_due():
            self.running = asyncio.ensure_future(self.checkpoint())
            self.running.add_done_callback(self._checkpoint_done)

    def _checkpoint_done(self, task: asyncio.Future[None]) -> None:
        self.running = None
        if not task.cancelled() and task.exception() is not None:
            self.stats.checkpoint_failures += 1
            if self.stats.failing_since is None:
                self.stats.failing_since = self.last_checkpoint
            log.error("checkpoint failed; its events wait for the next one: %r", task.exception())

    async def checkpoint(self) -> None:
        """Write every changed item once, flush alerts and state, then acknowledge the events.

        The events acknowledged are those the core had applied when it was asked for the changed
        items (requests to the core are answered in order), and only once every record sent for
        them (alerts, quarantine entries, states, roll-up rows) is confirmed by the broker: none is
        acknowledged before its effect is stored. Items are encoded a few hundred per request, so
        the core applies batches in between and alerts keep flowing during a checkpoint.

        A checkpoint that fails (the broker refused or timed out records, a frozen broker) keeps its
        events for the next one, which first sends again what was not delivered and re-encodes the
        items it had not written: nothing is acknowledged that is not stored, nothing is dropped.
        """
        async with self.lock:
            covered, self.applied = self.applied, []
            sent, self.sent = self.sent, []
            self.last_checkpoint = time.monotonic()
            try:
                while self.undelivered:  # one at a time: a send that raises leaves the rest listed
                    sent.append(await self.produce(*self.undelivered[0]))
                    del self.undelivered[0]
                self.unwritten = sorted({*self.unwritten, *(await self.core.dirty())})
                for start in range(0, len(self.unwritten), CHECKPOINT_CHUNK):
                    found = await self.core.encode(self.unwritten[start : start + CHECKPOINT_CHUNK])
                    for state in found.states:
                        blob = state.blob()
                        sent.append(await self.produce(self.state_name, state.key.encode(), blob, state.partition))
                        size = len(state.key.encode()) + len(blob or b"")
                        self.stats.state_bytes_written += size
                        self.stats.largest_state_record = max(self.stats.largest_state_record, size)
                    for rollup in found.rollups:
                        sent.append(
                            await self.produce(
                                self.rollups_name, rollup.key.encode(), rollup.row.encode(), rollup.partition
                            )
                        )
                        self.stats.rollups_written += 1
                    for oversized in found.oversized:
                        entry = too_large(
                            self.state_name,
                            oversized.partition,
                            oversized.key.encode(),
                            oversized.size,
                            "the item's state is rebuilt from the event log when it is next restored",
                        )
                        sent.append(
                            await self.produce(
                                self.quarantine_name, entry.source_file.encode(), entry.model_dump_json().encode()
                            )
                        )
                    self.stats.state_records_written += len(found.states)
                self.unwritten = []
                await self.app.producer.flush()
                outcomes = await asyncio.gather(*(future for future, _ in sent), return_exceptions=True)
            except BaseException:
                # Failed before every delivery was known (a send raised, a frozen broker, a
                # cancellation): what is in flight stays watched, by the next checkpoint.
                self.applied = covered + self.applied
                self.sent = sent + self.sent
                raise
            failed = [record for (_, record), o in zip(sent, outcomes, strict=True) if isinstance(o, BaseException)]
            if failed:
                self.undelivered += failed
                self.applied = covered + self.applied
                problem = next(o for o in outcomes if isinstance(o, BaseException))
                raise CheckpointIncomplete(f"{len(failed)} record(s) not delivered: {problem!r}")
            await self.keep_locally(sent, outcomes)
            for record in covered:
                record.ack()
                partition = record.message.partition
                self.stats.committed_offset[partition] = max(
                    self.stats.committed_offset.get(partition, 0), record.message.offset + 1
                )
            self.stats.checkpoints += 1
            self.stats.failing_since = None
            self.stats.last_checkpoint_ok = time.time()

    async def keep_locally(self, sent: list[tuple[Any, Outgoing]], outcomes: list[Any]) -> None:
        """Tell the core the checkpoint's state records are on the changelog, with the offset (and
        digest) of the last one per partition: its local copy takes them. A copy that cannot be
        written costs the next restart a longer read of the changelog, nothing else."""
        last: dict[int, tuple[int, Outgoing]] = {}
        for (_, record), outcome in zip(sent, outcomes, strict=True):
            if (
                record[0] == self.state_name
                and hasattr(outcome, "offset")
                and (outcome.partition not in last or outcome.offset > last[outcome.partition][0])
            ):
                last[outcome.partition] = (outcome.offset, record)
        positions = [
            ChangelogPosition(partition=p, offset=offset, digest=record_digest(record[1], record[2]))
            for p, (offset, record) in sorted(last.items())
        ]
        try:
            self.stats.local_state_records += (await self.core.landed(positions)).records
        except CoreProcessError as exc:
            log.warning("the local copy of the state changelog was not written (%s)", exc)

    async def produce(
        self, topic: str, key: bytes, value: bytes | None, partition: int | None = None
    ) -> tuple[Any, Outgoing]:
        """Hand a record to the producer: its delivery future (awaited by the next checkpoint), and the
        record, to send again if it is not delivered. A record over the record limit would fail its
        whole batch, and so every checkpoint after it: its dead letter is sent instead, and counted."""
        size = len(key) + len(value or b"")
        if size > MAX_RECORD_BYTES:
            self.stats.oversized[topic] += 1
            log.error("a record of %s bytes for %s is over the record limit: dead-lettered", f"{size:,}", topic)
            entry = too_large(topic, partition, key, size, "not written")
            topic, key, value, partition = (
                self.quarantine_name,
                entry.source_file.encode(),
                entry.model_dump_json().encode(),
                None,
            )
        future = await self.app.producer.send(topic, key, value, partition, None, None)
        return future, (topic, key, value, partition)

    async def release(self, partitions: set[int]) -> None:
        """Before partitions go to another worker: apply what was received, store it, forget them."""
        await self.drain()
        await self.checkpoint()
        await self.core.drop(partitions)
        self.restored -= partitions

    async def stop(self, timeout_s: float = STOP_CHECKPOINT_SECONDS) -> None:
        """At a graceful stop: apply and store everything received, then stop the core. The final
        checkpoint has a deadline: against a broker that refuses it, the stop still ends in time,
        and what it could not store is redelivered after the restart, as after a crash."""
        try:
            await asyncio.wait_for(self._final_checkpoint(), timeout_s)
        except Exception as exc:
            log.error("the final checkpoint did not complete (%r): events since the last commit are redelivered", exc)
        self.closing = True
        reader, self.reader = self.reader, None
        if reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(reader.stop(), 5)
        await self.core.close()

    async def _final_checkpoint(self) -> None:
        await self.drain()
        if self.running is not None:
            with contextlib.suppress(Exception):
                await self.running
        await self.checkpoint()

    async def restore(self, partition: int, resume_offset: int) -> None:
        """Load the partition's items into the core; rebuild from the event log those whose state is
        unreadable (or all of them, when state is missing for events already committed).

        With a local copy of the changelog (:mod:`stream.localstate`) only what the changelog holds
        past the copy's position is read, and the items are decoded as their events arrive; a copy
        whose record is no longer where it was is replaced by the whole partition."""
        started = time.perf_counter()
        reader = await self.restore_reader()
        events_end = await end_offset(self.settings, self.settings.topic("events"), partition, reader)
        log_end = max(resume_offset + 1, events_end)
        positioned = await self.core.positioned(partition)
        if positioned.copying:
            report, records = None, 0
            if positioned.offset is not None:
                report, records = await self.restore_into_copy(partition, log_end, positioned.offset)
                if report is None:
                    log.warning("the local copy of partition %s is not the changelog's: reading it whole", partition)
                else:
                    self.stats.restored_tail_records += max(0, records - 1)
            if report is None:
                report, records = await self.restore_into_copy(partition, log_end, 0)
            assert report is not None  # a copy replaced whole is never stale
        else:
            changelog = await read_partition(self.settings, state_topic(self.settings), partition, with_offsets=True)
            report, records = (
                await self.core.restore(partition, log_end, [(partition, o, k, v) for k, v, o in changelog]),
                len(changelog),
            )
        if not records and resume_offset > 0:  # state missing for events already committed
            await self.rebuild(partition, None, resume_offset)
        self.stats.restored_items += report.loaded + report.lazy
        unreadable = report.unreadable
        for key, reason in unreadable.items():
            log.warning(
                "unreadable state for item %r on partition %s (%s): rebuilding it from the log", key, partition, reason
            )
        self.stats.state_unreadable += len(unreadable)
        if unreadable:
            await self.rebuild(partition, sorted(unreadable), resume_offset)
        self.restored.add(partition)
        self.stats.restore_seconds += time.perf_counter() - started

    async def restore_reader(self) -> Any:
        """One consumer (no group) for every restore of this worker: starting one costs a metadata
        round trip, and a restarted worker restores each of its partitions in turn."""
        if self.reader is None:
            reader = bounded_reader(self.settings)
            await start_client(reader, self.settings)
            self.reader = reader
        return self.reader

    async def restore_into_copy(self, partition: int, log_end: int, start: int) -> tuple[Restored | None, int]:
        """Hand the changelog from ``start`` to the core's local copy, chunk by chunk (a partition of
        gigabytes is never held whole); None when the copy's record is not where it was."""
        first, records = True, 0
        reader = await self.restore_reader()
        async for chunk in partition_chunks(
            self.settings, state_topic(self.settings), partition, start=start, reader=reader
        ):
            records += len(chunk)
            sent = [(partition, offset, key, value) for key, value, offset in chunk]
            report = await self.core.restore(partition, log_end, sent, start, first=first, last=False)
            if report.stale_copy:
                return None, records
            first = False
        report = await self.core.restore(partition, log_end, [], start, first=first, last=True)
        return (None if report.stale_copy else report), records

    async def rebuild(self, partition: int, keys: list[str] | None, end: int) -> None:
        """Re-apply the partition's events before ``end`` to these items (all: None), alerts muted."""
        if end <= 0:
            return
        events = await read_partition(
            self.settings, self.settings.topic("events"), partition, end=end, with_offsets=True
        )
        found = await self.core.rebuild(partition, keys, [(partition, o, k, v) for k, v, o in events])
        self.stats.rebuilt_items += found.rebuilt
        log.warning("rebuilt %s item(s) of partition %s from offsets 0..%s", found.rebuilt, partition, end - 1)

    async def lag(self) -> dict[int, int]:
        """Events on the log not yet processed, per assigned partition; right after a restart or a
        rebalance too. Where no event was processed since the partition was assigned, processing
        resumes at the group's committed offset: lag counts from there, not from the consumer's
        fetch position (which runs ahead into Faust's buffers) and never as "none" for want of a
        high-water mark (both once let a test see two workers as drained while a partition they
        had just been given was untouched)."""
        consumer = self.app.consumer
        ours = [tp for tp in consumer.assignment() if tp.topic == self.events_topic.get_topic_name()]
        ends = {tp: consumer.highwater(tp) for tp in ours}
        unknown = [tp for tp, end in ends.items() if end is None]
        if unknown:
            # Bounded: /health must answer while the broker is frozen (it says so separately).
            with contextlib.suppress(Exception):
                ends.update(await asyncio.wait_for(consumer.highwaters(*unknown), BROKER_ASK_S))
        fresh = [tp for tp in ours if tp.partition not in self.stats.next_offset]
        committed = await self.committed(fresh) if fresh else {}
        lag: dict[int, int] = {}
        for tp in ours:
            end = ends.get(tp)
            if end is None:
                continue  # unknown until the broker answers: not reported rather than reported as 0
            position = self.stats.next_offset.get(tp.partition, committed.get(tp.partition, 0))
            lag[tp.partition] = max(0, end - position)
        return lag

    async def committed(self, partitions: list[Any]) -> dict[int, int]:
        """The worker group's committed offsets of these partitions (a real request, public API),
        or nothing when the broker does not answer within :data:`BROKER_ASK_S`."""
        admin = AIOKafkaAdminClient(**self.settings.client_options(), request_timeout_ms=2000)

        async def ask() -> dict[int, int]:
            await admin.start()
            offsets = await admin.list_consumer_group_offsets(self.settings.worker_app_id(), partitions=partitions)
            return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

        try:
            return await asyncio.wait_for(ask(), BROKER_ASK_S)
        except Exception:
            return {}
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(admin.close(), 0.2)

    def on_assigned(self, partitions: set[int]) -> None:
        """A partition (re)assigned resumes at its committed offset: what we knew of it is stale."""
        for partition in partitions:
            self.stats.next_offset.pop(partition, None)
            self.stats.committed_offset.pop(partition, None)


class BrokerProbe:
    """Asks the cluster for its metadata: a real Kafka request, so a frozen broker (whose port still
    accepts connections) counts as unreachable, unlike a plain TCP check."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.admin: AIOKafkaAdminClient | None = None

    async def ok(self, timeout_s: float = 5.0) -> bool:
        try:
            if self.admin is None:
                admin = AIOKafkaAdminClient(**self.settings.client_options(), request_timeout_ms=int(timeout_s * 1000))
                await asyncio.wait_for(admin.start(), timeout_s)
                self.admin = admin
            await asyncio.wait_for(self.admin.list_topics(), timeout_s)
            return True
        except Exception:
            if self.admin is not None:
                with contextlib.suppress(Exception):
                    await self.admin.close()
            self.admin = None
            return False


def faust_credentials(settings: Settings) -> Any:
    """Faust's form of the clients' security settings (the same context, mechanism and secrets)."""
    options = settings.client_options()
    context = options.get("ssl_context")
    if settings.security_protocol == "SSL":
        return faust.SSLCredentials(context)
    if settings.security_protocol.startswith("SASL"):
        if settings.sasl_mechanism == "OAUTHBEARER":
            return faust.auth.OAuthCredentials(oauth_cb=options["sasl_oauth_token_provider"], ssl_context=context)
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password,
            ssl_context=context,
            mechanism=settings.sasl_mechanism,
        )
    return None


def create_app(settings: Settings | None = None, loglevel: str = "warning") -> faust.App:
    settings = settings or Settings()
    app = faust.App(
        settings.worker_app_id(),
        broker=f"kafka://{settings.bootstrap_servers}",
        broker_credentials=faust_credentials(settings),
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        web_port=settings.web_port,
        web_bind=settings.web_bind,
        # Commit on the interval only. Faust commits every N acks inline in its fetch loop, and a
        # commit flushes the producer first: behind a checkpoint's state writes that held fetching
        # for about a second (profiled: p99 produce→alert 1.6 s at half capacity, 0.12 s without).
        # Our acks arrive in bulk at checkpoints anyway, so a count adds nothing.
        broker_commit_every=1_000_000_000,
        broker_commit_interval=1.0,
        # A killed worker's partitions wait this long for it before they move: the broker's minimum
        # (6 s) makes a restart after kill -9 resume in seconds instead of a minute. Restores yield to
        # the event loop, so heartbeats keep flowing while state loads.
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=min(2.0, settings.session_timeout_seconds / 3),
        producer_linger=0.01,
        producer_max_batch_size=512 * 1024,
        # zstd level 3: state compresses to about a third at a fraction of gzip -9's cost (measured).
        producer_compression_type="zstd",
        # A deeper buffer between the consumer thread and the agent: fewer pause/resume cycles of
        # fetching while the agent works (measured: +15 % events/s on the sample).
        stream_buffer_maxsize=65_536,
        # A stop does not wait for every event to be acknowledged (ours are acked by checkpoints, so it
        # would wait for a timer that has stopped): the final checkpoint below stores them instead.
        stream_wait_empty=False,
    )
    stats = WorkerStats()
    app.sensors.add(CommitAndRebalanceSensor(stats))
    loop = WorkerLoop(app, settings, stats, loglevel)
    app.claimwatch_stats = stats  # type: ignore[attr-defined]
    app.claimwatch_loop = loop  # type: ignore[attr-defined]

    @app.agent(loop.quarantine)
    async def count_quarantined(stream: Any) -> None:
        async for value in stream:
            try:
                stats.quarantined[str(json.loads(value).get("source", "unknown"))[:64]] += 1
            except (ValueError, AttributeError):
                stats.quarantined["unreadable"] += 1

    @app.agent(loop.events_topic)
    async def detect(stream: Any) -> None:
        async for record in stream.events():
            # One more reference than the stream's own: its ack leaves the event unacknowledged until
            # the checkpoint that stores its effect acks it too (cheaper than a noack() stream).
            record.message.incref()
            await loop.on_event(record)

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def checkpoint_when_due() -> None:
        loop.maybe_checkpoint()

    probe = BrokerProbe(settings)

    @app.timer(interval=5.0)  # type: ignore[untyped-decorator]
    async def watch_broker() -> None:
        if await probe.ok():
            stats.broker_ok_at = time.time()

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]  # faust types a sync signature
    async def on_assigned(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        assigned: set[Any] = args[0] if args else kwargs.get("assigned", set())
        loop.on_assigned({tp.partition for tp in assigned if tp.topic == loop.events_topic.get_topic_name()})

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # faust types a sync signature
    async def on_revoked(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        # Faust has flushed the producer and waits for our acks: store what was applied, then let go.
        revoked: set[Any] = args[0] if args else kwargs.get("revoked", set())
        await loop.release({tp.partition for tp in revoked if tp.topic == loop.events_topic.get_topic_name()})

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def final_checkpoint(sender: Any, **kwargs: Any) -> None:
        # The consumer has stopped: store state and roll-ups of everything applied. Offsets are not
        # committed any more; after a restart the events since the last commit are redelivered and
        # skipped by the items that stored them.
        await loop.stop()

    @app.page("/health")
    async def health(web: Any, request: Any) -> Any:
        lag = await loop.lag()
        problems = health_problems(stats, lag, settings)
        body = {
            "status": "unhealthy" if problems else "ok",
            "problems": problems,
            "seconds_since_progress": round(time.time() - stats.last_progress, 1),
            "events": sum(stats.events_in.values()),
            "redelivered_skipped": stats.skipped_redelivered,
            "dead_letters": sum(stats.dead_letters.values()),
            "lag": sum(lag.values()),
            # Applied but not yet stored by a checkpoint: a restart would process these again.
            "uncommitted": sum(
                max(0, applied - stats.committed_offset.get(partition, applied))
                for partition, applied in stats.next_offset.items()
            ),
            "seconds_since_checkpoint": round(time.time() - stats.last_checkpoint_ok, 1),
            "assigned": sorted(
                tp.partition for tp in app.consumer.assignment() if tp.topic == loop.events_topic.get_topic_name()
            ),
        }
        return web.json(body, status=503 if problems else 200)

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.text(stats.prometheus(await loop.lag()), content_type=METRICS_CONTENT_TYPE)

    return app


def main(settings: Settings | None = None, loglevel: str = "info") -> None:
    settings = settings or Settings()
    setup_logs(loglevel)
    asyncio.run(ensure_state_topic(settings))
    run_faust(create_app(settings, loglevel), loglevel)


def run_faust(app: faust.App, loglevel: str) -> None:
    """Run a Faust app's worker until it stops (the worker's way; the benchmark's floor app too)."""
    from faust.worker import Worker

    # Faust sets up logging itself when it starts: it gets the same JSON configuration, so its own
    # lines, mode's and aiokafka's come out as ours do.
    worker = Worker(app, loglevel=loglevel, quiet=True, logging_config=logging_config(loglevel))
    # Faust's terminal spinner sets the root logger to DEBUG so that every log call turns it; that
    # made every debug call in Faust and aiokafka build a record (7 % of the worker's time, profiled).
    worker.spinner = None
    worker.execute_from_commandline()
