"""``claimwatch replay`` on a real broker: exact, deterministic, and a worker continues from it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from claimwatch.detect.store import StateStore
from claimwatch.ingest.readers import read_paths
from schemas.codec import decode_event
from stream.kafka_io import read_partition, read_to_end
from stream.publish import publish
from stream.replay import replay
from stream.settings import Settings
from stream.streambench import pending_claims, produce
from tests.streamkit import env_for, isolated_settings, needs_kafka, setup_topics, start_worker, wait_until
from tests.test_stream_kafka import expected_alert_ids

pytestmark = needs_kafka


def alert_ids(settings: Settings) -> list[str]:
    return [json.loads(v or b"{}")["alert_id"] for _, v in asyncio.run(read_to_end(settings, settings.topic("alerts")))]


def uninterrupted_alert_ids(settings: Settings) -> set[str]:
    """What one store applying the whole event log, partition by partition in offset order, raises."""

    async def read() -> list[tuple[int, int, bytes, bytes]]:
        out = []
        for partition in range(settings.partitions):
            records = await read_partition(settings, settings.topic("events"), partition, with_offsets=True)
            out += [(partition, offset, key or b"", value or b"") for key, value, offset in records]
        return out

    store = StateStore()
    ids: set[str] = set()
    for partition, offset, key, value in asyncio.run(read()):
        ids |= {a.alert_id for a in store.apply_event(key.decode(), partition, offset, decode_event(value)) or []}
    return ids


def metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


def test_replay_is_exact_deterministic_and_the_generation_s_worker_continues(small_data: Path, tmp_path: Path) -> None:
    settings = isolated_settings()
    setup_topics(settings)
    assert asyncio.run(publish(read_paths([small_data]), settings)).reconciles()
    expected = expected_alert_ids(small_data)

    one = replay(settings, 2)
    two = replay(settings, 3, processes=2)
    second, third = dataclasses.replace(settings, generation=2), dataclasses.replace(settings, generation=3)
    assert set(alert_ids(second)) == expected and len(alert_ids(second)) == len(expected) > 30
    assert sorted(alert_ids(third)) == sorted(alert_ids(second)), "the same log gives the same alerts"
    assert one.records == two.records == one.events and one.items == two.items == 50
    assert alert_ids(settings) == [], "the live generation is not touched"

    # The worker of generation 2 restores the replayed state and continues where the replay stopped.
    worker = start_worker(settings, tmp_path, "gen2", CLAIMWATCH_GENERATION="2")
    try:
        asyncio.run(produce(settings, pending_claims(64, datetime(2031, 1, 1, tzinfo=UTC), "after-replay")))
        wait_until(lambda: ((worker.health() or {}).get("events", 0)) >= 64, 180, "the new events", [worker])
        health = worker.health() or {}
        assert health["events"] == 64 and health["redelivered_skipped"] == 0, health
        assert metric(worker.port, "claimwatch_restored_items_total") > 0
        wait_until(lambda: len(alert_ids(second)) >= len(expected) + 64, 60, "the new alerts", [worker])
    finally:
        worker.stop()
    assert set(alert_ids(second)) == uninterrupted_alert_ids(settings), "as if nothing had been replayed"

    # Export and promote: generation 2 becomes what the readers (tail, sinks, the report) see.
    env = env_for(settings)
    env.pop("CLAIMWATCH_GENERATION", None)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "claimwatch.cli", *args], env=env, capture_output=True, text=True)

    exported = cli("alerts", "export", "--generation", "2", "--out", str(tmp_path / "g2.jsonl"))
    assert exported.returncode == 0, exported.stderr
    lines = (tmp_path / "g2.jsonl").read_text().splitlines()
    assert {json.loads(line)["alert_id"] for line in lines} == set(alert_ids(second)) and len(lines) == len(set(lines))
    unknown = cli("promote", "--generation", "9")
    assert (
        unknown.returncode == 2
        and "generation 9 does not exist" in unknown.stderr
        and "Traceback" not in unknown.stderr
    )
    promoted = cli("promote", "--generation", "2")
    assert promoted.returncode == 0 and "live generation: 1 -> 2" in promoted.stdout, promoted.stderr
    dry = cli("report", "--week", "2026-W45", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "generation 2" in json.loads(dry.stderr.splitlines()[0])["source"]
    again = cli("promote", "--generation", "3")
    assert "live generation: 2 -> 3" in again.stdout


def test_impact_names_the_alerts_a_generation_adds_and_removes(small_data: Path, tmp_path: Path) -> None:
    settings = isolated_settings()
    setup_topics(settings)
    assert asyncio.run(publish(read_paths([small_data]), settings)).reconciles()
    replay(settings, 2)
    asyncio.run(produce(settings, pending_claims(40, datetime(2031, 1, 1, tzinfo=UTC), "impact")))
    replay(settings, 3)
    env = env_for(settings)
    env.pop("CLAIMWATCH_GENERATION", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "claimwatch.cli",
            "impact",
            "--from-gen",
            "3",
            "--to-gen",
            "2",
            "--week",
            "2026-W45",
            "--out",
            str(tmp_path / "impact"),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "impact" / "impact.json").read_text())
    removed = {a["subject"]["claim_id"] for a in result["removed"]}
    assert removed == {f"impact-claim-{i}" for i in range(40)}, "exactly the alerts of the extra records"
    assert result["added"] == [] and result["changed"] == []
    assert result["report_changes"] == {"2026-W45": []}, "a week the extra records do not touch is unchanged"
    page = (tmp_path / "impact" / "impact.html").read_text()
    assert "40 removed" in page and "<script" not in page


def test_two_shards_on_separate_processes_give_exactly_the_alerts_of_one_replay(small_data: Path) -> None:
    settings = isolated_settings()
    setup_topics(settings)
    assert asyncio.run(publish(read_paths([small_data]), settings)).reconciles()
    replay(settings, 2)
    env = env_for(settings)
    env.pop("CLAIMWATCH_GENERATION", None)

    def cli(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "claimwatch.cli", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    # Shard 0 alone: generation 3 exists but is incomplete, and promote says which partitions lack.
    first = cli("replay", "--generation", "3", "--shard", "0/2")
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    assert "shard 0/2: partitions [0, 2]" in out
    refused = cli("promote", "--generation", "3")
    _, err = refused.communicate(timeout=120)
    assert refused.returncode == 2 and "generation 3 is incomplete: partition(s) 1, 3" in err and "Traceback" not in err
    # Shard 1 on another process: together, exactly the alerts of one replay.
    second = cli("replay", "--generation", "3", "--shard", "1/2")
    _, err = second.communicate(timeout=600)
    assert second.returncode == 0, err
    whole, sharded = dataclasses.replace(settings, generation=2), dataclasses.replace(settings, generation=3)
    assert sorted(alert_ids(sharded)) == sorted(alert_ids(whole)) and len(alert_ids(whole)) > 30
    promoted = cli("promote", "--generation", "3")
    out, err = promoted.communicate(timeout=120)
    assert promoted.returncode == 0 and "live generation: 1 -> 3" in out, err
    bad = cli("replay", "--generation", "4", "--shard", "2/2")
    _, err = bad.communicate(timeout=120)
    assert bad.returncode == 2 and "--shard '2/2'" in err


def test_two_shards_run_side_by_side(small_data: Path) -> None:
    settings = isolated_settings()
    setup_topics(settings)
    assert asyncio.run(publish(read_paths([small_data]), settings)).reconciles()
    env = env_for(settings)
    env.pop("CLAIMWATCH_GENERATION", None)
    shards = [
        subprocess.Popen(
            [sys.executable, "-m", "claimwatch.cli", "replay", "--generation", "2", "--shard", f"{i}/2"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for shard in shards:
        _, err = shard.communicate(timeout=600)
        assert shard.returncode == 0, err
    assert set(alert_ids(dataclasses.replace(settings, generation=2))) == expected_alert_ids(small_data)
