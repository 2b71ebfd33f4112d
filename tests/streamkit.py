"""Helpers for tests against the real broker: isolated topics per test, worker processes, readers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from schemas.codec import decode_alert
from stream.kafka_io import read_to_end
from stream.settings import Settings
from stream.topics import create_topics

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
# A test of the stream path: skipped without a broker (tests/conftest.py), left out by `scripts/test --quick`.
needs_kafka = pytest.mark.kafka


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Every tag a test made topics under: tests/conftest.py deletes them after the test, so the one broker
# of a run does not carry thousands of partitions (and their heap) to the end.
ISOLATED_TAGS: list[str] = []


def isolated_settings(partitions: int = 4) -> Settings:
    tag = uuid.uuid4().hex[:10]
    ISOLATED_TAGS.append(tag)
    return Settings(
        bootstrap_servers=BOOTSTRAP,
        topic_prefix=f"t{tag}",
        partitions=partitions,
        app_id=f"worker-{tag}",
        web_port=free_port(),
    )


def env_for(settings: Settings, web_port: int | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
            "CLAIMWATCH_TOPIC_PREFIX": settings.topic_prefix,
            "CLAIMWATCH_PARTITIONS": str(settings.partitions),
            "CLAIMWATCH_APP_ID": settings.app_id,
            "CLAIMWATCH_WEB_PORT": str(web_port or settings.web_port),
            "KAFKA_SECURITY_PROTOCOL": settings.security_protocol,
            "KAFKA_SSL_CAFILE": settings.ssl_cafile,
        }
    )
    return env


def setup_topics(settings: Settings) -> None:
    asyncio.run(create_topics_when_up(settings))


async def create_topics_when_up(settings: Settings, deadline_s: float = 90.0) -> None:
    """A test's topics on the shared broker, which may still be catching up after a test that froze
    it (or under the load of the tests beside it): a refused bootstrap is tried again, not a failure."""
    from aiokafka.errors import KafkaConnectionError

    give_up = time.monotonic() + deadline_s
    while True:
        try:
            await create_topics(settings)
            return
        except KafkaConnectionError:
            if time.monotonic() > give_up:
                raise
            await asyncio.sleep(2)


async def delete_topics_of(tags: list[str], timeout_s: float = 30.0) -> None:
    """Delete every topic named after these tags (``t<tag>.*``, ``worker-<tag>*``): a test's own."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP, request_timeout_ms=int(timeout_s * 1000))
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        names = await admin.list_topics()
        ours = sorted(n for n in names if any(n.startswith((f"t{tag}.", f"worker-{tag}")) for tag in tags))
        if ours:
            await admin.delete_topics(ours, timeout_ms=int(timeout_s * 1000))
    finally:
        await admin.close()


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as response:
                return json.loads(response.read())  # type: ignore[no-any-return]
        except OSError:
            return None

    def lag(self) -> int | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as response:
                text = response.read().decode()
        except OSError:
            return None
        values = [
            int(float(line.rsplit(" ", 1)[1]))
            for line in text.splitlines()
            if line.startswith("claimwatch_consumer_lag{")
        ]
        return sum(values) if values else None

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_worker(settings: Settings, tmp: Path, name: str = "w", **env: str) -> WorkerProcess:
    port = free_port()
    log = tmp / f"{name}-{port}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "claimwatch.cli", "worker", "--loglevel", "warning"],
        env=env_for(settings, port) | env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=tmp,
    )
    return WorkerProcess(process, port, log)


def wait_until(condition: Any, timeout_s: float, what: str, workers: list[WorkerProcess] = ()) -> None:  # type: ignore[assignment]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        for w in workers:
            if w.process.poll() is not None:
                raise AssertionError(f"worker exited: {w.log.read_text()[-3000:]}")
        time.sleep(1.0)
    logs = "\n".join(w.log.read_text()[-2000:] for w in workers)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def wait_drained(workers: list[WorkerProcess], timeout_s: float = 300) -> None:
    """Every partition assigned and consumed to its end, and the workers idle for a moment."""

    def drained() -> bool:
        healths = [w.health() for w in workers]
        if any(h is None for h in healths):
            return False
        assigned = sum(len(h["assigned"]) for h in healths if h)
        lags = [w.lag() for w in workers]
        return (
            assigned > 0
            and all(lag == 0 for lag in lags)
            and all(h["seconds_since_progress"] > 2 for h in healths if h)
        )

    wait_until(drained, timeout_s, "the workers to drain the event log", workers)


def alert_ids(settings: Settings) -> list[str]:
    records = asyncio.run(read_to_end(settings, settings.topic("alerts")))
    return [decode_alert(v).alert_id for _, v in records if v is not None]
