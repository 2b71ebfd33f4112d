"""``claimwatch collect`` on the real broker, fetching from the stand-in of Google's APIs: the same
events and alerts as ingest of the same files, and exactly once through kill -9."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from claimwatch.collect.standin import RunningStandin
from claimwatch.ingest.readers import read_paths
from claimwatch.sample.generator import generate
from schemas.codec import decode_event
from schemas.events import Event
from stream.kafka_io import read_to_end
from stream.settings import Settings
from tests.streamkit import (
    alert_ids,
    env_for,
    free_port,
    isolated_settings,
    needs_kafka,
    setup_topics,
    start_worker,
    wait_drained,
)
from tests.test_stream_kafka import expected_alert_ids

pytestmark = needs_kafka

REPORT_TYPES = (
    "content_owner_active_claims_a3,content_owner_asset_conflict_a3,content_owner_video_metadata_a4,channel_basic_a3"
)
# What reaches claimwatch as the distributor's own files, not through an API.
INTERNAL = ("catalog", "rights", "polls")


@pytest.fixture(scope="module")
def seven(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``claimwatch sample --seed 7`` (small): the folder the stand-in serves, and the internal files."""
    folder = tmp_path_factory.mktemp("seven")
    generate(folder, seed=7, items=40, days=8)
    internal = tmp_path_factory.mktemp("internal")
    for name in INTERNAL:
        shutil.copytree(folder / name, internal / name)
    for studio in (folder / "claims").glob("claims_report_studio_*"):
        shutil.copy(studio, internal / studio.name)  # a Studio export: downloaded by a person, not an API
    return folder, internal


def collect_env(settings: Settings, standin: RunningStandin) -> dict[str, str]:
    return env_for(settings) | {
        "CLAIMWATCH_GOOGLE_API_ROOT": standin.url,
        "CLAIMWATCH_GOOGLE_TOKEN_URI": standin.url + "/token",
        "CLAIMWATCH_GOOGLE_CLIENT_ID": "claimwatch-test",
        "CLAIMWATCH_GOOGLE_CLIENT_SECRET": "not-a-secret",
        "CLAIMWATCH_GOOGLE_REFRESH_TOKEN": "standin-refresh",
        "CLAIMWATCH_CONTENT_OWNER_ID": "owner-1",
        "CLAIMWATCH_COLLECT_REPORT_TYPES": REPORT_TYPES,
    }


def collect_command(internal: Path, archive: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "claimwatch.cli",
        "collect",
        "--once",
        "--json",
        "--folder",
        str(internal),
        "--archive",
        str(archive),
        *extra,
    ]


def identity(event: Event) -> str:
    """An event's id; reference data (catalog, rights) has none: its content, wherever it was read."""
    return str(getattr(event, "event_id", None) or event.model_dump_json(exclude={"source_file", "source_line"}))


def run_collect(env: dict[str, str], internal: Path, archive: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``collect --once`` to its end, its output captured."""
    return subprocess.run(
        collect_command(internal, archive, *extra), env=env, capture_output=True, text=True, timeout=600
    )


def same_as_ingest_of(on_log: Counter[str], archive: Path, internal: Path, tmp_path: Path) -> Path:
    """The fetched files and the internal ones in one folder, checked to give exactly the events on
    the log (what ingest of them would publish); the folder."""
    combined = tmp_path / "combined"
    shutil.copytree(archive, combined / "fetched")
    shutil.copytree(internal, combined / "internal")
    assert set(on_log) == set(file_ids(combined))
    return combined


def log_ids(settings: Settings) -> Counter[str]:
    records = asyncio.run(read_to_end(settings, settings.topic("events")))
    return Counter(identity(decode_event(v)) for _, v in records if v is not None)


def file_ids(*folders: Path) -> Counter[str]:
    return Counter(identity(e) for e in read_paths(list(folders)).events)


def post(standin: RunningStandin, path: str, body: dict[str, object]) -> None:
    request = urllib.request.Request(
        standin.url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=10).read()


def data_calls(standin: RunningStandin) -> int:
    with urllib.request.urlopen(standin.url + "/standin/usage", timeout=10) as response:
        return int(json.loads(response.read())["calls"].get("data", 0))


def test_collect_gives_the_events_and_alerts_of_ingest_of_the_same_files(
    seven: tuple[Path, Path], tmp_path: Path
) -> None:
    folder, internal = seven
    settings = isolated_settings()
    setup_topics(settings)
    archive = tmp_path / "archive"
    with RunningStandin(folder) as standin:
        done = run_collect(collect_env(settings, standin), internal, archive, "--no-poll")
        assert done.returncode == 0, done.stderr[-3000:]
        figures = json.loads(done.stdout)
        assert figures["reconciles"] and not figures["failures"]
        again = run_collect(collect_env(settings, standin), internal, archive, "--no-poll")
        assert again.returncode == 0 and json.loads(again.stdout)["published"] == 0  # nothing new: nothing twice
    on_log = log_ids(settings)
    assert max(on_log.values()) == 1, "an event id repeated on the log"
    # Exactly what ingest of the fetched files (and the internal ones) publishes, event for event.
    combined = same_as_ingest_of(on_log, archive, internal, tmp_path)
    # Every record of the sample's own files is among them; what is more is the API's own view of
    # claims: snippets of claims the files tell of only through histories, and the history (its
    # creation) of claims the files give no history for.
    extra = set(on_log) - set(file_ids(folder))
    assert set(file_ids(folder)) <= set(on_log)
    events = {e.event_id: e for e in read_paths([combined]).events if getattr(e, "event_id", None)}  # type: ignore[union-attr]
    assert {events[i].source for i in extra} <= {"partner_api_claim", "partner_api_claim_history"}  # type: ignore[union-attr]
    worker = start_worker(settings, tmp_path)
    try:
        wait_drained([worker])
        got = alert_ids(settings)
    finally:
        worker.stop()
    assert len(got) > 5 and set(got) == expected_alert_ids(combined)
    # and exactly the alerts of the sample's own files: the API's extra view of claims changes none.
    assert set(got) == expected_alert_ids(folder)


def _marker_seen(settings: Settings) -> bool:
    records = asyncio.run(read_to_end(settings, settings.topic("collectors")))
    latest = {k: v for k, v in records}
    return latest.get(b"round") not in (None, b"null")


@pytest.mark.parametrize("archive_lost", [False, True])
def test_kill_9_during_downloads_and_publishing_loses_and_repeats_nothing(
    seven: tuple[Path, Path], tmp_path: Path, archive_lost: bool
) -> None:
    folder, internal = seven
    settings = isolated_settings()
    setup_topics(settings)
    archive = tmp_path / "archive"
    with RunningStandin(folder) as standin:
        env = collect_env(settings, standin)
        post(standin, "/standin/delay", {"seconds": 0.01})
        kills = []
        # 1: during the downloads (before any round is written); 2 and 3: once the round's marker is
        # on the collectors topic, at once and a moment later (its events partly published).
        for wait_for_marker, pause in ((False, 2.0), (True, 0.0), (True, 1.5)):
            process = subprocess.Popen(
                collect_command(internal, archive, "--no-poll"),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            deadline = time.monotonic() + 300
            if wait_for_marker:
                while not _marker_seen(settings) and time.monotonic() < deadline and process.poll() is None:
                    time.sleep(0.2)
            time.sleep(pause)
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills.append(wait_for_marker)
            process.wait(timeout=60)
        assert len(kills) == 3, "each run was killed while it worked"
        if archive_lost:  # the machine is replaced: the round in flight is fetched again
            shutil.rmtree(archive, ignore_errors=True)
        done = run_collect(env, internal, archive, "--no-poll")
        assert done.returncode == 0, done.stderr[-3000:]
        figures = json.loads(done.stdout)
        assert figures["recovered"] and figures["reconciles"]
    on_log = log_ids(settings)
    assert max(on_log.values()) == 1, [i for i, n in on_log.items() if n > 1][:5]
    same_as_ingest_of(on_log, archive, internal, tmp_path)
    assert set(file_ids(folder)) <= set(on_log)


def test_kill_9_during_polls_repeats_no_reading(seven: tuple[Path, Path], tmp_path: Path) -> None:
    folder, internal = seven
    settings = isolated_settings()
    setup_topics(settings)
    archive = tmp_path / "archive"
    with RunningStandin(folder) as standin:
        env = collect_env(settings, standin)
        first = run_collect(env, internal, archive, "--no-poll")
        assert first.returncode == 0, first.stderr[-3000:]  # the catalogue is on Kafka: the poller has videos
        post(standin, "/standin/delay", {"seconds": 3.0, "api": "data"})
        for _ in range(3):  # killed while its videos.list call is on the wire, three times
            calls = data_calls(standin)
            process = subprocess.Popen(
                collect_command(internal, archive), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            deadline = time.monotonic() + 120
            while data_calls(standin) == calls and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.1)
            assert process.poll() is None, "the run ended before it polled"
            time.sleep(1.0)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=60)
        post(standin, "/standin/delay", {"seconds": 0.0})
        done = run_collect(env, internal, archive)
        assert done.returncode == 0, done.stderr[-3000:]
        assert json.loads(done.stdout)["by_collector"].get("poller", 0) > 0, done.stdout + done.stderr[-2000:]
        # The plan the finished run saved: every video's next reading, with its reasons.
        plan = subprocess.run(
            [sys.executable, "-m", "claimwatch.cli", "collect", "plan", "--json", "--limit", "0"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert plan.returncode == 0, plan.stderr[-2000:]
        planned = json.loads(plan.stdout)
        assert planned["videos"] == len(planned["plan"]) > 0 and planned["budget_units_per_day"] == 10_000
        row = planned["plan"][0]
        assert row["last_poll"] and row["next_poll"] > row["last_poll"] and row["reasons"]
    on_log = log_ids(settings)
    assert max(on_log.values()) == 1
    polls = file_ids(archive / "polls")
    assert polls and set(polls) & set(on_log)
    assert set(on_log) - set(file_ids(archive, internal)) == set()


def test_the_running_service_says_in_metrics_and_logs_when_the_quota_stops_it(
    seven: tuple[Path, Path], tmp_path: Path
) -> None:
    folder, internal = seven
    settings = isolated_settings()
    setup_topics(settings)
    port = free_port()
    with RunningStandin(folder) as standin:
        first = run_collect(collect_env(settings, standin), internal, tmp_path / "a", "--no-poll")
        assert first.returncode == 0, first.stderr[-3000:]  # the catalogue is on Kafka: the poller has videos
        post(standin, "/standin/faults", {"api": "data", "faults": ["quota"]})
        env = collect_env(settings, standin) | {
            "CLAIMWATCH_COLLECT_TICK_SECONDS": "1",
            "CLAIMWATCH_COLLECT_REPORT_SECONDS": "2",
            "CLAIMWATCH_COLLECT_METRICS_PORT": str(port),
        }
        log = tmp_path / "collect.log"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "claimwatch.cli",
                "collect",
                "--folder",
                str(internal),
                "--archive",
                str(tmp_path / "a"),
            ],
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        try:

            def metric(name: str) -> float:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                        text = response.read().decode()
                except OSError:
                    return -1.0
                values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(name)]
                return max(values, default=-1.0)

            deadline = time.monotonic() + 120
            stopped = "claimwatch_collect_quota_stopped_until_timestamp_seconds"
            while metric(stopped) <= 0 and time.monotonic() < deadline:
                assert process.poll() is None, log.read_text()[-3000:]
                time.sleep(0.5)
            assert metric(stopped) > time.time(), log.read_text()[-3000:]
            assert metric("claimwatch_collect_videos") > 0
            assert metric("claimwatch_collect_units_spent_today") >= 1
            time.sleep(3)  # more ticks: the poller stays stopped, the service runs on
            assert process.poll() is None and data_calls(standin) == 1
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    text = log.read_text()
    assert "quota_exceeded" in text and "polling stops until" in text
    assert "Traceback" not in text
