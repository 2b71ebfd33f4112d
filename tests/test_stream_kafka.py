"""The stream path against a real Apache Kafka broker: ingest → event log → Faust worker → alerts."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from claimwatch.cli import BUNDLED_SAMPLE
from claimwatch.detect.keyed import KeyedMonitors
from claimwatch.detect.routing import keyed
from claimwatch.front import order_events
from claimwatch.ingest.readers import read_paths
from claimwatch.sample.generator import generate
from schemas.alerts import Alert
from schemas.codec import decode_event
from schemas.events import ClaimEvent, Event
from stream.kafka_io import read_to_end
from stream.publish import publish
from stream.settings import Settings
from stream.streambench import asset_claims, pending_claims, produce
from stream.topics import state_topic
from tests.streamkit import (
    WorkerProcess,
    alert_ids,
    env_for,
    free_port,
    isolated_settings,
    needs_kafka,
    setup_topics,
    start_worker,
    wait_drained,
    wait_until,
)

pytestmark = needs_kafka


def expected_alert_ids(folder: Path, later: Sequence[Event] = ()) -> set[str]:
    """What the embedded core raises for the same input (and events published after it), without the
    end-of-input flush a stream never sees."""
    return set(_expected_alert_ids(folder, later) if later else _expected_of(folder))


@cache  # the broker's tests run on one worker: the bundled sample's answer is worked out once there
def _expected_of(folder: Path) -> frozenset[str]:
    return _expected_alert_ids(folder, ())


def _expected_alert_ids(folder: Path, later: Sequence[Event]) -> frozenset[str]:
    events, _ = order_events(read_paths([folder]).events)
    events += later
    monitors = KeyedMonitors()
    return frozenset(a.alert_id for key, event in keyed(events) for a in monitors.process(key, event))


def ingest(folder: Path, settings: Settings) -> int:
    report = asyncio.run(publish(read_paths([folder]), settings))
    assert report.reconciles()
    return report.published["events"]


def test_worker_on_kafka_raises_exactly_the_embedded_alerts(tmp_path: Path) -> None:
    settings = isolated_settings()
    setup_topics(settings)
    ingest(BUNDLED_SAMPLE, settings)
    worker = start_worker(settings, tmp_path)
    try:
        wait_drained([worker])
        got = alert_ids(settings)
    finally:
        worker.stop()
    expected = expected_alert_ids(BUNDLED_SAMPLE)
    assert len(expected) > 30
    assert set(got) == expected
    assert len(got) == len(set(got)), "an uninterrupted run sends each alert once"

    # What an operator reads: the retained alerts across partitions in event time order, as JSON.
    env = env_for(settings)
    tail = subprocess.run(
        [sys.executable, "-m", "claimwatch.cli", "alerts", "tail", "--from-beginning", "--json", "--idle-exit", "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tail.returncode == 0, tail.stderr
    shown = [Alert.model_validate_json(line) for line in tail.stdout.splitlines()]
    assert {a.alert_id for a in shown} == expected and len(shown) == len(got)
    assert [(a.event_time, a.alert_id) for a in shown] == sorted((a.event_time, a.alert_id) for a in shown)
    described = subprocess.run(
        [sys.executable, "-m", "claimwatch.cli", "topics", "describe", "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    topics = {t["topic"]: t for t in json.loads(described.stdout)["topics"]}
    assert topics[settings.topic("events")]["partitions"] == settings.partitions, described.stderr


def test_kill_9_half_way_then_restart_loses_nothing(small_data: Path, tmp_path: Path) -> None:
    settings = isolated_settings()
    setup_topics(settings)
    total = ingest(small_data, settings)
    # Checkpoints every 2,000 events, so several land before the kill; the worker runs at full speed.
    first = start_worker(settings, tmp_path, "first", CLAIMWATCH_CHECKPOINT_EVENTS="2000")
    try:
        wait_until(lambda: ((first.health() or {}).get("events", 0)) >= total // 2, 300, "half the events", [first])
    finally:
        first.kill9()
    # Events that arrive after the crash: the restarted worker has work even when the first one got
    # through the whole log between the last look at its health and the kill (it is that fast).
    later = pending_claims(64, datetime(2031, 1, 1, tzinfo=UTC), "after-kill")
    asyncio.run(produce(settings, later))
    started = time.monotonic()
    second = start_worker(settings, tmp_path, "second", CLAIMWATCH_CHECKPOINT_EVENTS="2000")
    try:
        wait_until(lambda: (second.health() or {}).get("events", 0) > 0, 120, "the restart to progress", [second])
        resumed_in = time.monotonic() - started
        wait_drained([second])
        health = second.health() or {}
    finally:
        second.stop()
    got = alert_ids(settings)
    assert set(got) == expected_alert_ids(small_data, later)
    assert health.get("events", 0) < total, "the restarted worker resumed, it did not start over"
    assert resumed_in < 10, f"the restart took {resumed_in:.1f}s to make progress"


def test_two_workers_split_the_partitions_and_agree_with_one(small_data: Path, tmp_path: Path) -> None:
    settings = isolated_settings()
    setup_topics(settings)
    ingest(small_data, settings)
    a = start_worker(settings, tmp_path, "a")
    b = start_worker(settings, tmp_path, "b")
    try:
        wait_until(
            lambda: all(len((w.health() or {}).get("assigned", [])) == 2 for w in (a, b)),
            180,
            "two partitions each",
            [a, b],
        )
        wait_drained([a, b])
        assigned = [set((w.health() or {})["assigned"]) for w in (a, b)]
    finally:
        a.stop()
        b.stop()
    assert assigned[0].isdisjoint(assigned[1]) and assigned[0] | assigned[1] == {0, 1, 2, 3}
    assert set(alert_ids(settings)) == expected_alert_ids(small_data)


def test_bad_records_reach_quarantine_and_counts_reconcile(tmp_path: Path) -> None:
    settings = isolated_settings(partitions=2)
    setup_topics(settings)
    data = tmp_path / "in"
    data.mkdir()
    (data / "catalog.csv").write_text("content_id,title,youtube\nCW-1,Song,yt1\n,nameless,yt2\n")
    (data / "polls.jsonl").write_text(
        '{"platform":"youtube","platform_content_id":"yt1","observed_at":"2026-11-10T00:00:00Z","views_total":5}\n'
        '{"platform":"youtube","platform_content_id":"yt1","observed_at":"soon","views_total":6}\n'
        "not json\n"
    )
    report = asyncio.run(publish(read_paths([data]), settings))
    assert report.reconciles()
    assert report.records == 5 and report.published["events"] == 2 and report.quarantined == 3
    entries = [json.loads(v) for _, v in asyncio.run(read_to_end(settings, settings.topic("quarantine"))) if v]
    assert sorted((Path(e["source_file"]).name, e["line"], e["field"]) for e in entries) == [
        ("catalog.csv", 3, "content_id"),
        ("polls.jsonl", 2, "observed_at"),
        ("polls.jsonl", 3, None),
    ]
    events = asyncio.run(read_to_end(settings, settings.topic("events")))
    assert sorted(k.decode() for k, _ in events if k) == ["CW-1", "CW-1"]
    # The people's view of the same topic: `claimwatch quarantine`, filtered and exported.
    cli = [sys.executable, "-m", "claimwatch.cli", "quarantine"]
    env = env_for(settings)
    listed = subprocess.run([*cli, "list", "--source", "polls"], env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "2 quarantined records" in listed.stdout and "polls.jsonl:2 [observed_at]" in listed.stdout
    recent = subprocess.run(
        [*cli, "list", "--since", "2000-01-01T00:00:00Z", "--until", "2000-01-02T00:00:00Z"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert recent.returncode == 0 and "0 quarantined records" in recent.stdout
    out = tmp_path / "fix-me.jsonl"
    exported = subprocess.run([*cli, "export", "--out", str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert exported.returncode == 0, exported.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 3 and all(r["quarantined_at"] and r["entry_id"].startswith("q-") for r in rows)
    # People fix two of them and release those: they reach the log with their provenance.
    fixed = [r for r in rows if r["raw"] != "not json"]
    for r in fixed:
        r["raw"] = r["raw"].replace('"soon"', '"2026-11-10T01:00:00Z"').replace(",nameless,", "CW-2,nameless,")
    corrected = tmp_path / "fixed.jsonl"
    corrected.write_text("".join(json.dumps(r) + "\n" for r in fixed))
    released = subprocess.run(
        [*cli, "release", str(corrected), "--by", "rights-ops"], env=env, capture_output=True, text=True, timeout=120
    )
    assert released.returncode == 0, released.stderr
    provenance = asyncio.run(read_headers(settings, settings.topic("events")))
    marked = [h for h in provenance if "claimwatch-replaces" in h]
    assert sorted(h["claimwatch-replaces"] for h in marked) == sorted(r["entry_id"] for r in fixed), (
        marked,
        fixed,
        released.stdout,
    )
    assert all(h["claimwatch-released-by"] == "rights-ops" and h["claimwatch-released-at"] for h in marked)


def test_follow_mode_publishes_files_once_they_stop_growing(tmp_path: Path) -> None:
    from stream.publish import watch

    settings = isolated_settings(partitions=2)
    setup_topics(settings)
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "catalog.csv").write_text("content_id,title,youtube\nCW-1,Song,yt1\n")
    watch([incoming], settings, poll_s=0.1, max_rounds=3)
    events = asyncio.run(read_to_end(settings, settings.topic("events")))
    assert [k for k, _ in events] == [b"CW-1"], "published once, not once per look"


async def test_an_event_too_large_for_kafka_is_quarantined_not_fatal(tmp_path: Path, kafka_topics: Settings) -> None:
    from claimwatch.ingest.readers import ReadLimits

    settings = kafka_topics
    data = tmp_path / "in"
    data.mkdir()
    small = '{"platform":"youtube","platform_content_id":"yt1","observed_at":"2026-11-10T00:00:00Z","views_total":5}'
    wide = json.dumps(
        {"platform": "youtube", "platform_content_id": "yt2", "observed_at": "2026-11-10T00:00:00Z", "views_total": 1}
        | {f"extra_{n}": "x" * 400 for n in range(3000)}
    )
    (data / "polls.jsonl").write_text(small + "\n" + wide + "\n")
    read = read_paths([data], limits=ReadLimits(max_line_bytes=4 << 20))
    report = await publish(read, settings)
    assert report.reconciles() and report.published["events"] == 1 and report.quarantined == 1
    (entry,) = [json.loads(v) for _, v in await read_to_end(settings, settings.topic("quarantine")) if v]
    assert entry["reason_code"] == "record_too_large" and entry["line"] == 2


async def test_a_later_ingest_routes_a_claim_by_what_an_earlier_one_learnt(
    tmp_path: Path, kafka_topics: Settings
) -> None:
    """A claim history names only the claim: its item is known from the claims report an earlier
    ingest read, through the routing topic, so its events reach the item's monitors."""
    from claimwatch.detect.routing import Router

    settings = kafka_topics
    data = tmp_path / "sample"
    generate(data, seed=5, items=40, days=8)
    first, later = tmp_path / "first", tmp_path / "later"
    (first / "claims").mkdir(parents=True)
    later.mkdir()
    (data / "catalog").rename(first / "catalog")
    for path in (data / "claims").glob("claims_api_*.jsonl"):
        path.rename(first / "claims" / path.name)
    for path in (data / "claims").glob("claim_history_*.json"):
        path.rename(later / path.name)
    await publish(read_paths([first]), settings)
    routed = await publish(read_paths([later]), settings)
    assert routed.reconciles()

    router = Router()
    router.prime(read_paths([first]).events)
    history = [e for e in order_events(read_paths([later]).events)[0] if isinstance(e, ClaimEvent)]
    expected = Counter(router.key(e) for e in history)
    assert sum(n for key, n in expected.items() if key.startswith("CW-")) > 20, "the sample places these claims"
    logged = [
        (key.decode(), decode_event(value))
        for key, value in await read_to_end(settings, settings.topic("events"))
        if key and value
    ]
    got = Counter(key for key, event in logged if "claim_history" in event.source_file)
    assert got == expected


async def read_headers(settings: Settings, topic: str) -> list[dict[str, str]]:
    """The headers of every record of a topic, decoded."""
    from stream.kafka_io import read_records

    return [{k: v.decode() for k, v in (r.headers or ())} for r in await read_records(settings, topic)]


def test_status_lists_only_claimwatch_s_groups_and_speaks_json(tmp_path: Path) -> None:
    """A shared cluster (MSK often is) holds other teams' groups: status shows ours, as JSON too."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    settings = isolated_settings(partitions=2)
    setup_topics(settings)
    foreign = f"other-team-{settings.topic_prefix}"

    async def groups() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(foreign, 1, 1)])
        finally:
            await admin.close()
        for group, topic in ((f"{settings.app_id}-probe", settings.topic("events")), ("someone-else", foreign)):
            consumer = AIOKafkaConsumer(
                bootstrap_servers=settings.bootstrap_servers, group_id=group, enable_auto_commit=False
            )
            await consumer.start()
            try:
                tp = TopicPartition(topic, 0)
                consumer.assign([tp])
                await consumer.commit({tp: 0})
            finally:
                await consumer.stop()

    asyncio.run(groups())
    done = subprocess.run(
        [sys.executable, "-m", "claimwatch.cli", "status", "--json"],
        env=env_for(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    seen = {g["group"] for g in found["consumer_groups"]}
    assert f"{settings.app_id}-probe" in seen and "someone-else" not in seen
    assert all(g["topic"].startswith(settings.topic_prefix + ".") for g in found["consumer_groups"])
    assert {t["topic"] for t in found["topics"]} >= {settings.topic("events")}


def committed_and_ends(settings: Settings) -> tuple[dict[int, int], dict[int, int]]:
    async def ask() -> tuple[dict[int, int], dict[int, int]]:
        admin = AIOKafkaAdminClient(**settings.client_options())
        consumer = AIOKafkaConsumer(**settings.client_options())
        await admin.start()
        await consumer.start()
        try:
            tps = [TopicPartition(settings.topic("events"), p) for p in range(settings.partitions)]
            offsets = await admin.list_consumer_group_offsets(settings.worker_app_id(), partitions=tps)
            ends = await consumer.end_offsets(tps)
            return {tp.partition: m.offset for tp, m in offsets.items()}, {tp.partition: o for tp, o in ends.items()}
        finally:
            await admin.close()
            await consumer.stop()

    return asyncio.run(ask())


def test_an_asset_of_40000_claims_is_stored_and_every_offset_committed(tmp_path: Path) -> None:
    """The reliability campaign's case: one asset's item with 40,000 claims (each an alert, so 40,000
    dedup keys too) used to pass the 1 MB record limit, after which no checkpoint succeeded and no
    offset was committed while /health said ok. Now every record stays small and everything commits."""
    settings = isolated_settings(partitions=2)
    setup_topics(settings)
    storm = asset_claims(40_000, "STORM-ASSET", datetime(2031, 2, 1, tzinfo=UTC))
    asyncio.run(produce(settings, storm))
    worker = start_worker(settings, tmp_path, CLAIMWATCH_CHECKPOINT_EVENTS="5000")
    try:
        wait_drained([worker])
        wait_until(lambda: (worker.health() or {}).get("uncommitted") == 0, 60, "every event stored", [worker])

        def all_committed() -> bool:
            committed, ends = committed_and_ends(settings)
            seen.append((committed, ends))
            # A partition nothing was written to has nothing to commit (its group offset stays -1).
            return all(committed.get(p, -1) == end for p, end in ends.items() if end > 0)

        seen: list[tuple[dict[int, int], dict[int, int]]] = []

        wait_until(all_committed, 60, "every offset committed", [worker])
        assert sum(seen[-1][1].values()) == len(storm)
        health = worker.health() or {}
        assert health.get("status") == "ok" and health.get("events") == len(storm)
    finally:
        worker.stop()
    state = asyncio.run(read_to_end(settings, state_topic(settings)))
    largest = max(len(key or b"") + len(value or b"") for key, value in state)
    assert largest < 256 * 1024, f"a stored record of {largest:,} bytes"
    assert len({key for key, _ in state if key and b"\x00c\x00" in key}) == len(storm)  # one record per claim


async def test_an_event_whose_key_makes_it_too_large_is_quarantined(tmp_path: Path, kafka_topics: Settings) -> None:
    """A 600,000-character post id is a 600 KB key and a 600 KB value: 1.2 MB on the log. It used to
    stop ingest part-way, misreported as "Kafka unavailable"; it is quarantined like any record too
    large, and every other event is published."""
    from claimwatch.ingest.readers import ReadLimits

    settings = kafka_topics
    data = tmp_path / "in"
    data.mkdir()
    lines = [
        json.dumps(
            {
                "platform": "tiktok",
                "platform_content_id": pid,
                "observed_at": f"2026-11-10T0{n}:00:00Z",
                "views_total": 5 + n,
            }
        )
        for n, pid in enumerate(["t1", "t2", "p" * 600_000, "t3", "t4"])
    ]
    (data / "polls.jsonl").write_text("\n".join(lines) + "\n")
    read = read_paths([data], limits=ReadLimits(max_line_bytes=4 << 20))
    report = await publish(read, settings)
    assert report.reconciles() and report.published["events"] == 4 and report.quarantined == 1
    (entry,) = [json.loads(v) for _, v in await read_to_end(settings, settings.topic("quarantine")) if v]
    assert entry["reason_code"] == "record_too_large" and entry["line"] == 3


class LateProxy:
    """A bootstrap address that refuses connections until ``open()``, then forwards to the broker: a
    broker that is down when a client starts and comes up later (the broker advertises its own
    address, so only the first contact goes through here)."""

    def __init__(self, target: str) -> None:
        self.host, port = target.rsplit(":", 1)
        self.target_port = int(port)
        self.port = free_port()
        self.server: asyncio.Server | None = None

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def test_ingest_waits_for_a_broker_that_is_down_when_it_starts(tmp_path: Path, kafka_topics: Settings) -> None:
    """Down at start used to end ingest in 0.3 s with 0 events; it waits up to its deadline."""
    proxy = LateProxy(kafka_topics.bootstrap_servers)
    settings = dataclasses.replace(kafka_topics, bootstrap_servers=f"127.0.0.1:{proxy.port}")
    data = tmp_path / "in"
    generate(data, seed=3, items=40, days=8)
    read = read_paths([data])
    publishing = asyncio.ensure_future(publish(read, settings, deadline_s=60))
    await asyncio.sleep(5)
    assert not publishing.done(), "ingest gave up on a broker that was down when it started"
    await proxy.open()
    try:
        report = await asyncio.wait_for(publishing, 120)
    finally:
        await proxy.close()
    assert report.reconciles() and report.published["events"] == len(order_events(read.events)[0])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_ends_the_worker_with_a_final_checkpoint(
    signum: signal.Signals, small_data: Path, tmp_path: Path
) -> None:
    """Ctrl-C signals the whole foreground process group. With no checkpoint due before the signal,
    only the final one can store the events: the worker exits 0 within 10 s, and a restart applies
    nothing again (every event is skipped as already stored)."""
    settings = isolated_settings(partitions=2)
    setup_topics(settings)
    total = ingest(small_data, settings)
    never = {"CLAIMWATCH_CHECKPOINT_SECONDS": "100000", "CLAIMWATCH_CHECKPOINT_EVENTS": "1000000000"}
    log = tmp_path / "first.log"
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "claimwatch.cli", "worker", "--loglevel", "warning"],
        env=env_for(settings, port) | never,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        start_new_session=True,
    )
    first = WorkerProcess(process, port, log)
    try:
        wait_until(lambda: (first.health() or {}).get("events", 0) >= total, 300, "every event applied", [first])
        assert (first.health() or {}).get("uncommitted") == total
        os.killpg(process.pid, signum)  # as a terminal's Ctrl-C does: the worker and its core process
        started = time.monotonic()
        code = process.wait(timeout=30)
        took = time.monotonic() - started
    finally:
        first.stop()
    assert code == 0 and took < 10, f"exit {code} after {took:.1f}s: {log.read_text()[-2000:]}"
    assert "Traceback" not in log.read_text()
    second = start_worker(settings, tmp_path, "second", **never)
    seen: list[dict[str, object]] = []

    def redelivered() -> bool:
        seen.append(second.health() or {})
        return seen[-1].get("lag") == 0 and float(str(seen[-1].get("seconds_since_progress", 0))) > 2

    try:
        try:
            wait_until(redelivered, 60, "the redelivery", [second])
        except AssertionError as exc:
            raise AssertionError(f"{exc}: last health {seen[-1:]}") from None
        assert seen[-1].get("events") == 0, f"the final checkpoint stored every event: {seen[-1]}"
    finally:
        second.stop()
