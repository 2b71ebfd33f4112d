"""State snapshots: taken from a generation, listed, kept for N days, and a replay from one that costs
the events after it and gives what a replay of the whole log gives."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import orjson
import pytest

from claimwatch.ingest.readers import read_paths
from schemas.codec import encode_event
from schemas.events import ClaimEvent
from stream import snapshots
from stream.kafka_io import producer, read_to_end, start_client
from stream.publish import publish
from stream.replay import FromSnapshot, replay
from stream.settings import Settings
from stream.topics import state_topic
from tests.streamkit import env_for, free_port, isolated_settings, needs_kafka, setup_topics
from tests.test_replay import alert_ids

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def latest(settings: Settings, topic: str) -> dict[bytes, bytes]:
    out: dict[bytes, bytes | None] = {}
    for key, value in asyncio.run(read_to_end(settings, topic)):
        if key is not None:
            out[key] = value
    return {k: v for k, v in out.items() if v is not None}


async def claims_on(settings: Settings, items: list[str], tag: str) -> None:
    """A potential claim on each of these items, and on as many new ones: events after the snapshot."""
    out = producer(settings)
    await start_client(out, settings)
    try:
        start = datetime(2031, 1, 1, tzinfo=UTC)
        for i, item in enumerate([*items, *(f"NEW-{n}" for n in range(len(items)))]):
            event = ClaimEvent(
                event_id=f"{tag}-{i}",
                source="partner_api_claim",
                observed_at=start + timedelta(minutes=i),
                event_time=start + timedelta(minutes=i),
                claim_id=f"{tag}-claim-{i}",
                asset_id=f"A-{tag}-{i}",
                video_id=f"{tag}v{i}",
                status="potential",
                status_raw="potential",
            )
            await out.send(settings.topic("events"), key=item.encode(), value=encode_event(event))
        await out.flush()
    finally:
        await out.stop()


@needs_kafka
def test_a_replay_from_a_snapshot_reads_only_what_follows_and_ends_where_a_whole_replay_ends(
    small_data: Path, tmp_path: Path
) -> None:
    settings = isolated_settings()
    setup_topics(settings)
    assert asyncio.run(publish(read_paths([small_data]), settings)).reconciles()
    first = replay(settings, 2)  # generation 2 plays the live one: its state and committed offsets
    live = dataclasses.replace(settings, generation=2)
    store = snapshots.Store(str(tmp_path / "snaps"))
    old = (NOW - timedelta(days=20)).date().isoformat()
    store.put(old, snapshots.MANIFEST, b"{}")
    manifest = asyncio.run(snapshots.take(live, store, NOW, keep_days=14))
    assert manifest["deleted"] == [old] and store.names() == ["2026-12-07"]
    parts = manifest["partitions"]
    assert sum(p["items"] for p in parts.values()) == first.items == 50
    assert {int(k): p["event_offset"] for k, p in parts.items()} == first.stop_offsets

    items = sorted({k.split(b"\0")[0].decode() for k in latest(live, state_topic(live))})[:16]
    asyncio.run(claims_on(settings, items, "after"))
    from_snapshot = replay(settings, 3, snapshot=FromSnapshot("2026-12-07", str(tmp_path / "snaps")))
    whole = replay(settings, 4, processes=2)
    assert from_snapshot.records == 32 and whole.records == first.records + 32
    third, fourth = dataclasses.replace(settings, generation=3), dataclasses.replace(settings, generation=4)
    new = set(alert_ids(third))
    assert len(new) >= 32, "every claim after the snapshot raises its alert"
    assert set(alert_ids(fourth)) == set(alert_ids(live)) | new
    assert latest(third, third.topic("rollups")) == latest(fourth, fourth.topic("rollups"))
    assert from_snapshot.items == whole.items == 66


def test_a_snapshot_file_round_trips_and_damage_is_one_clear_error(tmp_path: Path) -> None:
    store = snapshots.Store(str(tmp_path))
    records = [(b"CW-1", b'{"a":1}'), (b"CW-1\0c\0x", b"{}")]
    body = __import__("gzip").compress(snapshots.pack_records(records))
    store.put("2026-12-01", "state-p0.bin.gz", body)
    manifest = {
        "format": snapshots.FORMAT,
        "version": snapshots.VERSION,
        "partitions": {
            "0": {
                "file": "state-p0.bin.gz",
                "event_offset": 7,
                "sha256": __import__("hashlib").sha256(body).hexdigest(),
            }
        },
    }
    store.put("2026-12-01", snapshots.MANIFEST, json.dumps(manifest).encode())
    assert snapshots.load(store, "2026-12-01", [0]) == ({0: 7}, {0: records})
    with pytest.raises(snapshots.SnapshotError, match="no partition 1"):
        snapshots.load(store, "2026-12-01", [0, 1])
    with pytest.raises(snapshots.SnapshotError, match=r"no snapshot 2026-11-30 .*the latest: 2026-12-01"):
        snapshots.load(store, "2026-11-30", [0])
    with pytest.raises(snapshots.SnapshotError, match="YYYY-MM-DD"):
        snapshots.load(store, "yesterday", [0])
    store.put("2026-12-01", "state-p0.bin.gz", body[:-3])
    with pytest.raises(snapshots.SnapshotError, match="checksum"):
        snapshots.load(store, "2026-12-01", [0])
    with pytest.raises(snapshots.SnapshotError, match="ends inside a record"):
        list(snapshots.unpack_records(snapshots.pack_records(records)[:-1]))


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }.items():
        monkeypatch.setenv(name, value)
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="cw-state")
    try:
        yield endpoint
    finally:
        server.stop()


def test_snapshots_in_s3_are_listed_read_and_deleted(s3: str) -> None:
    store = snapshots.Store("s3://cw-state/snapshots")
    for name in ("2026-11-01", "2026-12-01"):
        store.put(name, "state-p0.bin.gz", b"x")
        store.put(name, snapshots.MANIFEST, orjson.dumps({"format": snapshots.FORMAT, "version": 1}))
    store.put("2026-12-02", "state-p0.bin.gz", b"a snapshot cut short: no manifest")
    assert store.names() == ["2026-11-01", "2026-12-01"]
    assert store.read("2026-12-01", "state-p0.bin.gz") == b"x"
    store.delete("2026-11-01")
    assert store.names() == ["2026-12-01"]
    listed = boto3.client("s3", endpoint_url=s3, region_name="us-east-1").list_objects_v2(Bucket="cw-state")
    assert not [o["Key"] for o in listed.get("Contents", []) if "2026-11-01" in o["Key"]]


def test_the_cli_lists_snapshots_and_refuses_a_missing_one_in_one_line(tmp_path: Path) -> None:
    store = snapshots.Store(str(tmp_path))
    store.put(
        "2026-12-01",
        snapshots.MANIFEST,
        orjson.dumps(
            {
                "format": snapshots.FORMAT,
                "version": 1,
                "generation": 1,
                "partitions": {"0": {"items": 3, "bytes": 10, "event_offset": 4}},
            }
        ),
    )
    env = env_for(isolated_settings()) | {"CLAIMWATCH_SNAPSHOTS": str(tmp_path)}
    listed = subprocess.run(
        [sys.executable, "-m", "claimwatch.cli", "snapshots", "list", "--json"], env=env, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    assert [(r["name"], r["items"], r["event_offsets"]) for r in json.loads(listed.stdout)] == [
        ("2026-12-01", 3, {"0": 4})
    ]
    missing = subprocess.run(
        [sys.executable, "-m", "claimwatch.cli", "replay", "--generation", "2", "--from-snapshot", "2026-01-01"],
        env=env | {"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}", "CLAIMWATCH_CONNECT_SECONDS": "0"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.strip().splitlines() == [
        f"claimwatch: error: no snapshot 2026-01-01 in {tmp_path} (the latest: 2026-12-01)"
    ], missing.stderr
