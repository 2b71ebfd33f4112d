"""The worker's checkpoint against a producer that fails: nothing acknowledged that is not stored,
nothing dropped.

The worker loop runs with its real core process; only Faust's producer is replaced, by one whose
every send is decided by the test (delivered, refused by the broker, left pending, or raising as a
frozen broker does). The same paths run against a real broker in the outage tests; here each way of
failing is forced, one at a time, at a chosen point of the checkpoint.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from aiokafka.errors import KafkaTimeoutError, NotEnoughReplicasError

from claimwatch.detect.routing import keyed
from claimwatch.front import order_events
from claimwatch.ingest.readers import read_paths
from claimwatch.sample.generator import generate
from schemas.codec import MAX_RECORD_BYTES, encode_event
from stream.settings import Settings
from stream.topics import state_topic
from stream.worker import CheckpointIncomplete, WorkerLoop, WorkerStats, health_problems

DELIVER, REFUSE, PENDING, RAISE = "deliver", "refuse", "pending", "raise"


@dataclass
class Message:
    partition: int
    offset: int


@dataclass
class Received:
    """An event as the agent receives it from Faust: where it is, its bytes, and its acknowledgement."""

    message: Message
    key: bytes
    value: bytes
    acked: bool = False

    def ack(self) -> None:
        assert not self.acked, "acknowledged twice"
        self.acked = True


@dataclass
class ScriptedProducer:
    """Faust's producer as the worker uses it (``send`` gives a delivery future; ``flush``), each send
    decided by ``decide(topic, n)``, n counting that topic's sends from 0."""

    decide: Callable[[str, int], str] = lambda topic, n: DELIVER
    delivered: list[tuple[str, bytes, bytes]] = field(default_factory=list)
    pending: list[tuple[asyncio.Future[None], tuple[str, bytes, bytes]]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    async def send(self, topic: str, key: bytes, value: bytes, partition: Any, timestamp: Any, headers: Any) -> Any:
        n = self.counts.get(topic, 0)
        self.counts[topic] = n + 1
        verdict = self.decide(topic, n)
        if verdict == RAISE:
            raise KafkaTimeoutError("the broker does not answer")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if verdict == REFUSE:
            future.set_exception(NotEnoughReplicasError("refused"))
        elif verdict == PENDING:
            self.pending.append((future, (topic, key, value)))
        else:
            future.set_result(None)
            self.delivered.append((topic, key, value))
        return future

    async def flush(self) -> None:
        return None


@dataclass
class StubApp:
    """What the worker loop asks of its Faust app here: topics by name, and the producer."""

    producer: ScriptedProducer

    def topic(self, *args: Any, **kwargs: Any) -> None:
        return None


@pytest.fixture(scope="module")
def received(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, int, bytes, bytes]]:
    folder = tmp_path_factory.mktemp("checkpoint-data")
    generate(folder, seed=5, items=40, days=8)
    events, _ = order_events(read_paths([folder]).events)
    offsets = [0, 0]
    out = []
    for key, event in keyed(events):
        partition = sum(key.encode()) % 2
        out.append((partition, offsets[partition], key.encode(), encode_event(event)))
        offsets[partition] += 1
    return out


def fresh(rows: list[tuple[int, int, bytes, bytes]]) -> list[Received]:
    return [Received(Message(p, o), k, v) for p, o, k, v in rows]


def worker_loop(producer: ScriptedProducer) -> WorkerLoop:
    # Checkpoints only when the test asks for one.
    settings = Settings(topic_prefix="ckpt", app_id="ckpt", checkpoint_events=10**9, checkpoint_seconds=1e9)
    return WorkerLoop(cast(Any, StubApp(producer)), settings, WorkerStats())


async def apply_all(loop: WorkerLoop, events: list[Received]) -> None:
    for start in range(0, len(events), 400):
        await loop.apply_batch(events[start : start + 400])


def stored_items(producer: ScriptedProducer, loop: WorkerLoop) -> set[bytes]:
    """The items whose root record was stored (their parts are records of their own)."""
    return {key for topic, key, _ in producer.delivered if topic == loop.state_name and b"\x00" not in key}


async def test_records_the_broker_refused_are_sent_again_before_anything_is_acknowledged(
    received: list[tuple[int, int, bytes, bytes]],
) -> None:
    state = state_topic(Settings(topic_prefix="ckpt", app_id="ckpt"))
    producer = ScriptedProducer(lambda topic, n: REFUSE if topic == state and n in (0, 3, 4) else DELIVER)
    loop, events = worker_loop(producer), fresh(received)
    try:
        await apply_all(loop, events)
        with pytest.raises(CheckpointIncomplete, match="3 record"):
            await loop.checkpoint()
        assert not any(e.acked for e in events)
        assert loop.applied == events  # kept, in order, for the next checkpoint
        assert [r[0] for r in loop.undelivered] == [state] * 3
        refused = {r[1] for r in loop.undelivered}
        assert not refused & stored_items(producer, loop)

        await loop.checkpoint()
        assert all(e.acked for e in events) and loop.applied == [] and loop.undelivered == []
        items = {key for _, _, key, _ in received}
        assert stored_items(producer, loop) == items  # the refused ones included, sent again
        await loop.checkpoint()  # nothing new: nothing acknowledged twice
    finally:
        await loop.core.close()


async def test_a_checkpoint_cut_short_keeps_watching_what_was_in_flight(
    received: list[tuple[int, int, bytes, bytes]],
) -> None:
    """A frozen broker makes a send raise half-way through a checkpoint while alerts sent earlier are
    still in flight; those alerts are refused later. The next checkpoints must still notice them,
    send them again, and write every item before any event is acknowledged."""
    loop_ref: list[WorkerLoop] = []
    frozen = {"on": False}

    def decide(topic: str, n: int) -> str:
        loop = loop_ref[0]
        if topic == loop.alerts_name and not frozen["on"]:
            return PENDING
        if topic == loop.state_name and frozen["on"] and n >= 2:
            return RAISE
        return DELIVER

    producer = ScriptedProducer(decide)
    loop, events = worker_loop(producer), fresh(received)
    loop_ref.append(loop)
    try:
        await apply_all(loop, events)
        alerts = [record for _, record in producer.pending]
        assert alerts, "the data set must raise alerts for this test to mean anything"
        frozen["on"] = True
        with pytest.raises(KafkaTimeoutError):
            await loop.checkpoint()
        assert not any(e.acked for e in events) and loop.applied == events
        assert loop.unwritten, "the items not yet written are remembered"
        watched = {id(future) for future, _ in loop.sent}
        assert all(id(future) in watched for future, _ in producer.pending)  # still awaited next time

        for future, _ in producer.pending:  # the broker comes back and refuses what it had
            future.set_exception(NotEnoughReplicasError("refused"))
        frozen["on"] = False
        producer.decide = lambda topic, n: DELIVER
        with pytest.raises(CheckpointIncomplete, match=f"{len(alerts)} record"):
            await loop.checkpoint()
        assert not any(e.acked for e in events)

        await loop.checkpoint()
        assert all(e.acked for e in events)
        delivered_alerts = sorted(key for topic, key, _ in producer.delivered if topic == loop.alerts_name)
        assert delivered_alerts == sorted(key for _, key, _ in alerts)  # each once, none lost
        assert stored_items(producer, loop) == {key for _, _, key, _ in received}
    finally:
        await loop.core.close()


async def wait_idle(loop: WorkerLoop) -> None:
    for _ in range(2000):
        if loop.running is None:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the checkpoint did not end")


async def test_checkpoints_failing_longer_than_the_limit_make_health_fail_until_one_succeeds(
    received: list[tuple[int, int, bytes, bytes]],
) -> None:
    """Applied is not stored: while checkpoints fail, lag (events applied) says 0 but nothing is
    committed. Past CLAIMWATCH_CHECKPOINT_FAILURE_SECONDS /health names it; a checkpoint that
    succeeds clears it, and the uncommitted count goes back to 0."""
    state = state_topic(Settings(topic_prefix="ckpt", app_id="ckpt"))
    producer = ScriptedProducer(lambda topic, n: REFUSE if topic == state else DELIVER)
    settings = Settings(
        topic_prefix="ckpt", app_id="ckpt", checkpoint_events=1, checkpoint_seconds=1e9, checkpoint_failure_seconds=0.3
    )
    stats = WorkerStats()
    loop, events = WorkerLoop(cast(Any, StubApp(producer)), settings, stats), fresh(received[:2000])
    try:
        await apply_all(loop, events)  # each batch starts a checkpoint in the background: all fail
        await wait_idle(loop)
        assert stats.checkpoint_failures >= 1 and stats.failing_since is not None
        assert not any(e.acked for e in events)
        await asyncio.sleep(0.35)
        problems = health_problems(stats, {0: 0, 1: 0}, settings)
        assert len(problems) == 1 and problems[0].startswith("checkpoints failing for")
        metrics = stats.prometheus({0: 0, 1: 0})
        assert "claimwatch_checkpoint_failures_total" in metrics and "claimwatch_seconds_since_checkpoint" in metrics
        assert 'claimwatch_uncommitted_events{partition="0"} 0.0' not in metrics

        producer.decide = lambda topic, n: DELIVER
        loop.maybe_checkpoint()
        await wait_idle(loop)
        assert all(e.acked for e in events)
        assert health_problems(stats, {0: 0, 1: 0}, settings) == [] and stats.failing_since is None
        assert 'claimwatch_uncommitted_events{partition="0"} 0.0' in stats.prometheus({0: 0, 1: 0})
    finally:
        await loop.core.close()


async def test_a_record_over_the_limit_is_dead_lettered_and_the_checkpoint_goes_through() -> None:
    """A record Kafka would refuse fails its whole batch, and every checkpoint after it: the worker
    sends its dead letter instead (named, counted) and nothing else is held back."""
    producer = ScriptedProducer()
    loop = worker_loop(producer)
    try:
        future, record = await loop.produce(loop.alerts_name, b"alert-1", b"x" * (MAX_RECORD_BYTES + 1))
        await future
        ((topic, _, value),) = producer.delivered
        assert topic == loop.quarantine_name and record[0] == loop.quarantine_name
        entry = json.loads(value)
        assert entry["reason_code"] == "record_too_large" and entry["raw"] == "alert-1"
        assert loop.stats.oversized == {loop.alerts_name: 1}
        await loop.produce(loop.state_name, b"CW-1\x00c\x00C1", None, 0)  # a deletion is never too large
        assert producer.delivered[-1][:2] == (loop.state_name, b"CW-1\x00c\x00C1")
    finally:
        await loop.core.close()
