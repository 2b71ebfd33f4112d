"""State snapshots: a dated copy of the live generation's state, so a replay costs the days since.

``claimwatch snapshots take`` (daily, as an ECS scheduled task) reads the live generation's worker
group's committed offsets on the event log, then its state changelog to the end, and writes, per
partition, the latest record of every key (a compacted copy, tombstones dropped) to
``<location>/<date>/state-p<partition>.bin.gz``, then a ``manifest.json`` last (a snapshot without
its manifest is not one). Offsets first, state second: the state read is at least as new as the
offsets (a checkpoint writes state before it commits), and every item remembers the offset of the
last event it applied, so a replay from those offsets skips what the state already holds.

``claimwatch replay --generation N --from-snapshot DATE`` loads a snapshot's items and replays only
the events from its offsets (:mod:`stream.replay`). Snapshots older than ``--keep-days`` are deleted
when a new one is taken. The location is a folder or ``s3://bucket/prefix``
(``CLAIMWATCH_SNAPSHOTS``).

The files are length-framed bytes (key, value), never executed: the values are the changelog's own
JSON, decoded by :mod:`claimwatch.detect.state` like any other stored state.

>>> frames = pack_records([(b"CW-1", b"{}"), (b"CW-2", b"[]")])
>>> list(unpack_records(frames))
[(b'CW-1', b'{}'), (b'CW-2', b'[]')]
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from stream.kafka_io import read_partition, start_client
from stream.settings import Settings
from stream.topics import state_topic

FORMAT, VERSION = "claimwatch-snapshot", 1
MANIFEST = "manifest.json"
FRAME = struct.Struct(">II")
NAME = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_FRAME = 64 * 1024 * 1024  # no stored record comes near (the record limit is 1 MB)


class SnapshotError(ValueError):
    """A snapshot that cannot be taken, found or read: one line for the operator."""


def pack_records(records: Iterable[tuple[bytes, bytes]]) -> bytes:
    return b"".join(FRAME.pack(len(k), len(v)) + k + v for k, v in records)


def unpack_records(blob: bytes) -> Iterator[tuple[bytes, bytes]]:
    view, pos = memoryview(blob), 0
    while pos < len(view):
        if pos + FRAME.size > len(view):
            raise SnapshotError("a snapshot file ends inside a record")
        key_size, value_size = FRAME.unpack_from(view, pos)
        pos += FRAME.size
        if key_size > MAX_FRAME or value_size > MAX_FRAME or pos + key_size + value_size > len(view):
            raise SnapshotError("a snapshot file ends inside a record")
        yield bytes(view[pos : pos + key_size]), bytes(view[pos + key_size : pos + key_size + value_size])
        pos += key_size + value_size


# ------------------------------------------------------------------------------------ storage


@dataclass
class Store:
    """Where snapshots live: a folder, or an S3 prefix (``s3://bucket/prefix``)."""

    location: str

    def __post_init__(self) -> None:
        self.s3 = self.location.startswith("s3://")
        if self.s3:
            from claimwatch.aws import client

            self.bucket, _, prefix = self.location[len("s3://") :].partition("/")
            if not self.bucket:
                raise SnapshotError(f"{self.location!r}: no bucket (s3://bucket/prefix)")
            self.prefix = prefix.strip("/")
            self.client = client("s3")
        else:
            self.root = Path(self.location)

    def _key(self, name: str, file: str) -> str:
        return f"{self.prefix}/{name}/{file}" if self.prefix else f"{name}/{file}"

    def names(self) -> list[str]:
        """The dated folders that hold a snapshot's manifest, oldest first."""
        if not self.s3:
            if not self.root.is_dir():
                return []
            return sorted(p.name for p in self.root.iterdir() if NAME.fullmatch(p.name) and (p / MANIFEST).is_file())
        found = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else ""):
            for entry in page.get("Contents", []):
                parts = entry["Key"].rsplit("/", 2)
                if len(parts) >= 2 and parts[-1] == MANIFEST and NAME.fullmatch(parts[-2]):
                    found.append(parts[-2])
        return sorted(set(found))

    def read(self, name: str, file: str) -> bytes:
        try:
            if not self.s3:
                return (self.root / name / file).read_bytes()
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=self._key(name, file))["Body"].read()
            return body
        except Exception as exc:
            raise SnapshotError(f"snapshot {name}: {file} cannot be read ({type(exc).__name__})") from None

    def put(self, name: str, file: str, body: bytes) -> None:
        if not self.s3:
            folder = self.root / name
            folder.mkdir(parents=True, exist_ok=True)
            partial = folder / f".{file}.partial"
            partial.write_bytes(body)
            partial.replace(folder / file)
            return
        self.client.put_object(Bucket=self.bucket, Key=self._key(name, file), Body=body, ServerSideEncryption="AES256")

    def delete(self, name: str) -> None:
        """The snapshot's manifest first (so it stops counting), then its files."""
        if not self.s3:
            folder = self.root / name
            (folder / MANIFEST).unlink(missing_ok=True)
            for path in folder.glob("*"):
                path.unlink()
            folder.rmdir()
            return
        self.client.delete_object(Bucket=self.bucket, Key=self._key(name, MANIFEST))
        listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._key(name, ""))
        for entry in listed.get("Contents", []):
            self.client.delete_object(Bucket=self.bucket, Key=entry["Key"])

    def manifest(self, name: str) -> dict[str, Any]:
        try:
            body = json.loads(self.read(name, MANIFEST))
        except json.JSONDecodeError:
            raise SnapshotError(f"snapshot {name}: its manifest is not JSON") from None
        if not isinstance(body, dict) or body.get("format") != FORMAT or body.get("version") != VERSION:
            raise SnapshotError(f"snapshot {name}: not a {FORMAT} version {VERSION} manifest")
        return body


# ------------------------------------------------------------------------------------- taking


async def committed_offsets(settings: Settings) -> dict[int, int]:
    """The live worker group's committed offsets on the event log (0 where none is committed)."""
    admin = AIOKafkaAdminClient(**settings.client_options())
    await start_client(admin, settings)
    try:
        topic = settings.topic("events")
        partitions = [TopicPartition(topic, p) for p in range(settings.partitions)]
        found = await admin.list_consumer_group_offsets(settings.worker_app_id(), partitions=partitions)
    finally:
        await admin.close()
    return {tp.partition: max(0, meta.offset) for tp, meta in found.items() if tp.topic == topic} | {
        p: 0 for p in range(settings.partitions) if TopicPartition(topic, p) not in found
    }


def compacted(records: list[tuple[bytes | None, bytes | None]]) -> list[tuple[bytes, bytes]]:
    """The latest value of every key, tombstones dropped, in key order."""
    latest: dict[bytes, bytes | None] = {}
    for key, value in records:
        if key is not None:
            latest[key] = value
    return [(k, v) for k, v in sorted(latest.items()) if v is not None]


async def take(settings: Settings, store: Store, now: datetime, keep_days: int) -> dict[str, Any]:
    """Take today's snapshot of ``settings``' generation; delete those older than ``keep_days``."""
    name = now.astimezone(UTC).date().isoformat()
    offsets = await committed_offsets(settings)  # first: the state read below is at least as new
    topic = state_topic(settings)
    partitions: dict[str, Any] = {}
    for partition in range(settings.partitions):
        records = compacted(await read_partition(settings, topic, partition))
        body = gzip.compress(pack_records(records), compresslevel=5)
        file = f"state-p{partition}.bin.gz"
        store.put(name, file, body)
        items = sum(1 for k, _ in records if b"\0" not in k)
        partitions[str(partition)] = {
            "file": file,
            "event_offset": offsets.get(partition, 0),
            "records": len(records),
            "items": items,
            "bytes": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "name": name,
        "taken_at": now.astimezone(UTC).isoformat(timespec="seconds"),
        "generation": settings.generation,
        "events_topic": settings.topic("events"),
        "state_topic": topic,
        "partitions": partitions,
    }
    store.put(name, MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
    cutoff = now.astimezone(UTC).date() - timedelta(days=keep_days)
    deleted = [old for old in store.names() if date.fromisoformat(old) < cutoff]
    for old in deleted:
        store.delete(old)
    return manifest | {"deleted": deleted}


def find(store: Store, name: str) -> dict[str, Any]:
    """The manifest of the snapshot of that date; SnapshotError, naming the latest ones, when there is none."""
    if not NAME.fullmatch(name):
        raise SnapshotError(f"--from-snapshot {name[:40]!r}: give the snapshot's date, YYYY-MM-DD")
    names = store.names()
    if name not in names:
        listed = ", ".join(names[-5:]) or "none"
        raise SnapshotError(f"no snapshot {name} in {store.location} (the latest: {listed})")
    return store.manifest(name)


def load(
    store: Store, name: str, partitions: Iterable[int]
) -> tuple[dict[int, int], dict[int, list[tuple[bytes, bytes]]]]:
    """A snapshot's event offsets and its records, for these partitions; SnapshotError when it is
    missing, incomplete or damaged."""
    manifest = find(store, name)
    offsets, records = {}, {}
    for partition in partitions:
        entry = manifest.get("partitions", {}).get(str(partition))
        if not isinstance(entry, dict):
            raise SnapshotError(f"snapshot {name} has no partition {partition}: the event log has more partitions")
        body = store.read(name, str(entry.get("file")))
        if hashlib.sha256(body).hexdigest() != entry.get("sha256"):
            raise SnapshotError(f"snapshot {name}: {entry.get('file')} does not match its manifest's checksum")
        try:
            records[partition] = list(unpack_records(gzip.decompress(body)))
        except (OSError, EOFError) as exc:
            raise SnapshotError(f"snapshot {name}: {entry.get('file')} is not gzip ({exc})") from None
        offsets[partition] = int(entry.get("event_offset", 0))
    return offsets, records


def take_now(settings: Settings, location: str, keep_days: int) -> dict[str, Any]:
    return asyncio.run(take(settings, Store(location), datetime.now(UTC), keep_days))
