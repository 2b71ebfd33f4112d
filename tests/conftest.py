from __future__ import annotations

import asyncio
import gzip
import os
import shutil
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer

from stream.kafka_io import producer
from stream.settings import Settings
from tests import streamkit


def write(path: Path, text: str, *, gz: bool = False, bom: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (("\ufeff" if bom else "") + text).encode("utf-8")
    if gz:
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)
    return path


# What each marker's tests need, and what to say when it is missing (`scripts/test` provides them all;
# `scripts/test --quick` leaves these tests out, and the slow ones).
REQUIREMENTS: dict[str, tuple[Callable[[], bool], str]] = {
    "kafka": (
        lambda: bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")),
        "needs a broker: run scripts/test, or set KAFKA_BOOTSTRAP_SERVERS",
    ),
    "alertmanager": (
        lambda: bool(shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")),
        "needs prometheus-alertmanager (scripts/test installs it)",
    ),
    "promtool": (
        lambda: bool(shutil.which("promtool")),
        "needs promtool (Debian's prometheus; scripts/test installs it)",
    ),
    "browser": (
        lambda: bool(shutil.which("chromium")),
        "needs Debian's chromium (scripts/test installs it)",
    ),
}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups (`--dist loadgroup`)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The broker's tests run side by side on the one shared broker, each on topics of its own; the
    # one that freezes a broker freezes a broker of its own (tests/test_outages.py).
    for name, (available, reason) in REQUIREMENTS.items():
        if any(item.get_closest_marker(name) for item in items) and not available():
            for item in items:
                if item.get_closest_marker(name):
                    item.add_marker(pytest.mark.skip(reason=reason))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Refuse to run when `--dist loadgroup` groups nothing (a test's group would be split silently)."""
    if not (os.environ.get("PYTEST_XDIST_WORKER") and session.config.getvalue("loadgroup")):
        return
    ungrouped = [i.nodeid for i in session.items if i.get_closest_marker("xdist_group") and "@" not in i.nodeid]
    if ungrouped:
        raise pytest.UsageError(
            f"pytest-xdist did not group {ungrouped[0]}: this pytest and pytest-xdist do not work together "
            "for --dist loadgroup (see pyproject.toml)"
        )


@pytest.fixture(autouse=True)
def _drop_the_test_s_topics(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a broker test, its topics go: a run's broker stays as small as one test's."""
    yield
    if not request.node.get_closest_marker("kafka") or not streamkit.ISOLATED_TAGS:
        return
    tags = list(streamkit.ISOLATED_TAGS)
    streamkit.ISOLATED_TAGS.clear()
    try:
        asyncio.run(streamkit.delete_topics_of(tags))
    except Exception as exc:  # cleanup only: a broker that is down (a test froze it) keeps them
        warnings.warn(f"topics of {tags} not deleted: {type(exc).__name__}: {exc}", stacklevel=1)


@pytest.fixture(scope="session")
def bundled_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first command's output (``claimwatch run`` on the bundled sample), made once per test
    process for the tests that only read it (none may change it)."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("bundled-run") / "out"
    done = subprocess.run(
        [sys.executable, "-m", "claimwatch.cli", "run", "--quiet", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="session")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A third of the bundled sample's events (50 items, 8 days, every scenario), made once per test
    process: what the broker's tests publish when the bundled sample's size proves nothing more."""
    from claimwatch.sample.generator import generate

    folder = tmp_path_factory.mktemp("stream-data")
    generate(folder, seed=21, items=50, days=8)
    return folder


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path


@pytest_asyncio.fixture
async def kafka_topics() -> Settings:
    """A fresh set of claimwatch topics (two partitions) on the test broker, for one test."""
    from tests.streamkit import create_topics_when_up, isolated_settings

    settings = isolated_settings(partitions=2)
    await create_topics_when_up(settings)
    return settings


@pytest_asyncio.fixture
async def kafka_producer(kafka_topics: Settings) -> AsyncIterator[AIOKafkaProducer]:
    """claimwatch's idempotent producer, started, on those topics' broker; stopped after the test."""
    out = producer(kafka_topics)
    await out.start()
    try:
        yield out
    finally:
        await out.stop()


@pytest.fixture(scope="session")
def log_records(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, int, bytes | None, bytes | None]]:
    """A small generated week as the worker would receive it: four partitions, offsets per partition."""
    from claimwatch.detect.routing import keyed
    from claimwatch.front import order_events
    from claimwatch.ingest.readers import read_paths
    from claimwatch.sample.generator import generate
    from schemas.codec import encode_event

    folder = tmp_path_factory.mktemp("core-data")
    generate(folder, seed=9, items=40, days=8)
    events, _ = order_events(read_paths([folder]).events)
    offsets = [0, 0, 0, 0]
    out: list[tuple[int, int, bytes | None, bytes | None]] = []
    for key, event in keyed(events):
        partition = sum(key.encode()) % 4
        out.append((partition, offsets[partition], key.encode(), encode_event(event)))
        offsets[partition] += 1
    out.insert(len(out) // 3, (1, 10**9, b"CW-x", b"{not an event"))
    return out
