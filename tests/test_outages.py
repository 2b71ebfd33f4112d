"""Failing neighbours and hostile records on the real broker: nothing stops the monitor, nothing is lost.

- a webhook that answers 500 for 20 s, then hangs for 45 s: every alert arrives, each once, through a
  sink started as docker-compose.yml starts it (a fresh consumer group, no flags);
- a broker frozen for 60 s in the middle of an ingest: the ingest completes with every event, and the
  worker's /health says 503 while the broker cannot answer;
- a poison event on the log and crafted records in the worker's state changelog: the event is a dead
  letter, the records are rejected without running anything, and the alerts are the embedded run's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiokafka.errors import KafkaError
from prometheus_client.parser import text_string_to_metric_families

from claimwatch.sample.generator import generate
from schemas import Alert, Subject
from schemas.codec import encode_alert
from stream.kafka_io import producer, read_to_end
from stream.topics import ensure_state_topic, state_topic
from tests.streamkit import (
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
from tests.test_stream_kafka import expected_alert_ids, ingest

pytestmark = needs_kafka
T = datetime(2026, 11, 10, tzinfo=UTC)


class FlakyHook:
    """A webhook that fails with 500 for ``fail_s``, then hangs every request for ``hang_s``, then
    works; it records a message only when it answers 200 (a timed-out request was never received)."""

    def __init__(self, fail_s: float, hang_s: float) -> None:
        self.fail_s, self.hang_s = fail_s, hang_s
        self.received: list[dict[str, Any]] = []
        self.port = free_port()
        self.started = 0.0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()

    async def handle(self, request: web.Request) -> web.Response:
        age = time.monotonic() - self.started
        if age < self.fail_s:
            return web.Response(status=500, text="down")
        if age < self.fail_s + self.hang_s:
            await asyncio.sleep(self.fail_s + self.hang_s - age + 5)
            return web.Response(status=504, text="gave up")
        self.received.append(await request.json())
        return web.Response(text="ok")

    def start(self) -> None:
        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            app = web.Application()
            app.router.add_post("/hook", self.handle)
            runner = web.AppRunner(app)
            self.loop.run_until_complete(runner.setup())
            self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
            self.ready.set()
            self.loop.run_forever()

        self.started = time.monotonic()
        threading.Thread(target=serve, daemon=True).start()
        self.ready.wait(10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


def test_a_webhook_outage_and_hang_lose_no_alert(tmp_path: Path) -> None:
    settings = isolated_settings(partitions=2)
    setup_topics(settings)
    alerts = [
        Alert(
            alert_id=f"outage-{n}",
            type="view_spike",
            severity="high",
            score=0.9,
            subject=Subject(content_id=f"CW-{n}"),
            event_time=T,
            detected_at=T,
            title=f"Views at {n}x",
        )
        for n in range(40)
    ]

    async def produce() -> None:
        out = producer(settings)
        await out.start()
        for a in alerts:
            await out.send(settings.topic("alerts"), key=a.alert_id.encode(), value=encode_alert(a))
        await out.stop()

    asyncio.run(produce())
    hook = FlakyHook(fail_s=12, hang_s=25)  # 500s for 12 s (retried, backing off to 5 s), then a 25 s hang
    hook.start()
    env = env_for(settings) | {"CLAIMWATCH_WEBHOOK_URL": f"http://127.0.0.1:{hook.port}/hook"}
    env["CLAIMWATCH_SINK_MAX_BACKOFF_SECONDS"] = "5"
    # Exactly as docker-compose.yml runs it: `alerts sink webhook`, a group of its own, no flags.
    sink = subprocess.Popen(
        [sys.executable, "-m", "claimwatch.cli", "alerts", "sink", "webhook", "--idle-exit", "5"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = sink.communicate(timeout=300)
    finally:
        sink.kill()
        hook.stop()
    assert sink.returncode == 0, err.decode()[-2000:]
    # After the outage the backlog meets the destination's default rate: what it holds back
    # arrives as one digest naming every alert, so each alert reaches the receiver exactly once.
    got = [
        alert_id
        for body in hook.received
        for alert_id in ([body["alert"]["alert_id"]] if "alert" in body else body["digest"]["alert_ids"])
    ]
    assert sorted(got) == sorted(a.alert_id for a in alerts), "every alert delivered, each once"
    counts = re.search(rb"delivered (\d+), digested (\d+)", out)
    assert counts and int(counts[1]) + int(counts[2]) == 40, out.decode()[-500:]
    assert b"Traceback" not in err


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A broker of this test's own (bootstrap, pid): it is frozen, and the run's shared one must not be
    (the other broker tests run beside this one)."""
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "CLAIMWATCH_KAFKA_STATE": str(tmp_path / "kafka")}
    env.pop("KAFKA_PORT", None)

    def local(action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(repo / "scripts" / "kafka-local"), action],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    started = local("start")
    assert started.returncode == 0, started.stderr[-2000:]
    try:
        yield started.stdout.strip().splitlines()[-1], int((tmp_path / "kafka" / "pid").read_text())
    finally:
        local("stop")


def status_of(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


@pytest.mark.skipif(not (shutil.which("java") and shutil.which("mvn")), reason="starts a broker of its own")
def test_ingest_rides_out_a_broker_frozen_for_60_seconds(tmp_path: Path, own_broker: tuple[str, int]) -> None:
    data = tmp_path / "in"
    generate(data, seed=13, items=60, days=8)
    bootstrap, pid = own_broker
    settings = dataclasses.replace(isolated_settings(partitions=2), bootstrap_servers=bootstrap)
    setup_topics(settings)
    worker = start_worker(settings, tmp_path, "frozen")  # /health: 503 after 20 s without the broker
    wait_until(lambda: status_of(worker.port) == 200, 120, "a healthy worker", [worker])
    ingester = subprocess.Popen(
        [sys.executable, "-m", "claimwatch.cli", "ingest", str(data)],
        env=env_for(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    statuses = []
    try:
        wait_until(lambda: asyncio.run(read_to_end(settings, settings.topic("events"))), 120, "ingest to publish")
        os.kill(pid, signal.SIGSTOP)
        try:
            frozen_at = time.monotonic()
            # Longer than the producer's 40 s request timeout (ingest used to give up after 51 s frozen).
            while time.monotonic() - frozen_at < 60:
                time.sleep(5)
                statuses.append(status_of(worker.port))
        finally:
            os.kill(pid, signal.SIGCONT)
        out, err = ingester.communicate(timeout=400)
    finally:
        ingester.kill()
    try:
        assert ingester.returncode == 0, err.decode()[-2000:]
        published = int(out.decode().split("Published ")[1].split(" events")[0].replace(",", ""))
        assert b"counts reconcile: yes" in out
        # Right after it thaws the broker may not answer metadata yet: read once it does.
        deadline = time.monotonic() + 120
        events = readable_events(settings)
        while not events and time.monotonic() < deadline:
            time.sleep(2)
            events = readable_events(settings)
        assert len(events) == published > 10_000, "every event once: the idempotent producer retried in order"
        assert 503 in statuses, f"/health said {statuses} while the broker was frozen"
        wait_until(lambda: status_of(worker.port) == 200, 120, "the worker to recover", [worker])
    finally:
        worker.stop()


def readable_events(settings: Any) -> list[object]:
    try:
        return list(asyncio.run(read_to_end(settings, settings.topic("events"))))
    except KafkaError:
        return []


class Marker:
    path = Path("/tmp/claimwatch-outage-marker")

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.path}",))


def test_poison_events_and_crafted_state_do_not_stop_the_worker(tmp_path: Path) -> None:
    data = tmp_path / "in"
    generate(data, seed=17, items=40, days=8)
    settings = isolated_settings(partitions=2)
    setup_topics(settings)
    asyncio.run(ensure_state_topic(settings))
    Marker.path.unlink(missing_ok=True)
    ingest(data, settings)
    keys = sorted({k.decode() for k, _ in asyncio.run(read_to_end(settings, settings.topic("events"))) if k})

    async def plant() -> None:
        out = producer(settings)
        await out.start()
        # A pickle that would run a command, a crafted object and plain garbage in the state changelog…
        for key, value in zip(
            keys[:3],
            [
                pickle.dumps((0, Marker())),
                b'{"format":"claimwatch-state","version":1,"offset":9,"monitor":{"o":"os.system"}}',
                b"\x00",
            ],
            strict=True,
        ):
            await out.send_and_wait(state_topic(settings), key=key.encode(), value=value)
        # …and two poison events on the log: not JSON, and JSON that is no event.
        await out.send_and_wait(settings.topic("events"), key=keys[0].encode(), value=b"\xff not json")
        await out.send_and_wait(
            settings.topic("events"), key=keys[1].encode(), value=json.dumps({"kind": "x"}).encode()
        )
        await out.stop()

    asyncio.run(plant())
    worker = start_worker(settings, tmp_path, "hostile")
    try:
        wait_drained([worker])
        health = worker.health() or {}
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/metrics", timeout=3) as response:
            metrics = response.read().decode()
            content_type = response.headers["Content-Type"]
    finally:
        worker.stop()
    assert not Marker.path.exists(), "nothing in the changelog was executed"
    assert content_type.startswith("text/plain; version=0.0.4"), content_type
    if shutil.which("promtool"):  # a real scrape passes Prometheus' own checker
        checked = subprocess.run(["promtool", "check", "metrics"], input=metrics, capture_output=True, text=True)
        assert checked.returncode == 0 and not checked.stdout.strip(), checked
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
    }
    assert samples[("claimwatch_state_unreadable_total", ())] == 3
    assert samples[("claimwatch_dead_letters_total", (("reason", "undecodable_event"),))] == 2
    # Faust's own commits and the group's rebalance, through the worker's sensor.
    assert samples[("claimwatch_offset_commits_total", ())] > 0 and samples[("claimwatch_rebalances_total", ())] >= 1
    assert health["dead_letters"] == 2 and health["status"] == "ok"
    entries = [json.loads(v) for _, v in asyncio.run(read_to_end(settings, settings.topic("quarantine"))) if v]
    dead = [e for e in entries if e.get("reason_code") == "undecodable_event"]
    assert len(dead) == 2 and all(e["source"] == "events" for e in dead)
    assert set(alert_ids(settings)) == expected_alert_ids(data), "the remaining alerts are raised as usual"
