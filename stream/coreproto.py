"""What the worker and its core process say to each other: request kinds, framing, typed replies.

One request at a time over the child's stdin, each answered on its stdout before the next is sent:

- a request is its :class:`Request` kind (one byte), a length, a JSON header and raw records
  (partition, offset, key, value), framed with their lengths: the bytes are never parsed as
  anything but the event JSON the core decodes, and nothing is unpickled;
- a reply is a status byte (:data:`OK` or :data:`FAILED`), a length, and either the JSON of the
  request's reply model below or a one-line error;
- the core's whole :class:`~claimwatch.detect.monitor.MonitorConfig` crosses as JSON when the
  process starts (:func:`config_json`, :func:`config_from_json`), so a setting added to it reaches
  the worker's core as it reaches replay and the embedded run, and :attr:`Request.CONFIG` says
  which one the core runs.

>>> config_from_json(config_json(MonitorConfig(owner="label-b"))).owner
'label-b'
>>> unpack(pack({"partition": 3}, [(3, 7, b"CW-1", b"{}")]))
({'partition': 3}, [(3, 7, b'CW-1', b'{}')])
"""

from __future__ import annotations

import base64
import dataclasses
import struct
from collections.abc import Iterable
from enum import Enum
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, TypeAdapter

from claimwatch.detect.monitor import MonitorConfig

FRAME = struct.Struct(">cI")  # request kind, payload length
REPLY = struct.Struct(">cI")  # status, body length
LENGTH = struct.Struct(">I")
RECORD = struct.Struct(">iqii")  # partition, offset, key length, value length (-1: none)
OK, FAILED = b"O", b"F"

Record = tuple[int, int, bytes | None, bytes | None]  # partition, offset, key, value


class Request(bytes, Enum):
    """What the worker asks of its core; the value is the byte on the wire."""

    APPLY = b"A"  # records off the event log → :class:`Applied`
    RESTORE = b"R"  # a partition's stored state → :class:`Restored`
    REBUILD = b"B"  # a partition's events, for items whose state is unreadable → :class:`Rebuilt`
    DIRTY = b"C"  # the items changed since the last checkpoint → :class:`Dirty`
    ENCODE = b"E"  # some of those items' records → :class:`Encoded`
    DROP = b"D"  # partitions this worker no longer holds → :class:`Dropped`
    CONFIG = b"G"  # the settings the core runs with → :class:`Configured`
    POSITION = b"P"  # where the local copy of a partition's changelog is current to → :class:`Positioned`
    LANDED = b"L"  # a checkpoint's state records are on the changelog → :class:`Landed`


# ------------------------------------------------------------------------------------ headers


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RestoreHeader(_Message):
    partition: int
    end: int | None = None  # the event log's end offset: a stored offset beyond it is refused
    # The changelog offset the records start at: 0, the whole partition; else the local copy's
    # position (:class:`Positioned`), whose record must be the first one sent.
    start: int = 0
    # With a local copy the records come in chunks: the first is checked against (or replaces) the
    # copy, the last moves its position.
    first: bool = True
    last: bool = True


class PositionHeader(_Message):
    partition: int


class ChangelogPosition(_Message):
    partition: int
    offset: int  # of the last state record a checkpoint wrote to the partition
    digest: str  # of that record (stream.localstate.record_digest)


class LandedHeader(_Message):
    positions: list[ChangelogPosition]


class RebuildHeader(_Message):
    partition: int
    keys: list[str] | None = None  # None: every item of the partition


class EncodeHeader(_Message):
    keys: list[str]


class DropHeader(_Message):
    partitions: list[int]


# ------------------------------------------------------------------------------------ replies


class RaisedAlert(_Message):
    alert_id: str
    value: str  # the alert as the alerts topic stores it
    type: str
    severity: str
    subject: dict[str, str]


class LeftOut(_Message):
    """A record the core applied nothing of, with the reason (quarantined as suspect)."""

    where: str
    code: str
    value: str  # the quarantine entry


class DeadLetter(_Message):
    """A record the core could not decode or process."""

    where: str
    offset: int
    code: str
    reason: str
    value: str  # the quarantine entry


class UnreadableItem(_Message):
    partition: int
    key: str
    reason: str


class Applied(_Message):
    events: dict[str, int]  # applied, by kind
    redelivered: int  # already applied by their item (after a crash): skipped
    alerts: list[RaisedAlert]
    suspect: list[LeftOut]
    dead_letters: list[DeadLetter]
    # Items of lazily restored partitions whose stored state was unreadable: nothing of the batch
    # was applied; the worker rebuilds them from the event log and sends the batch again.
    unreadable: list[UnreadableItem] = []


class Restored(_Message):
    loaded: int  # items decoded now (restored from the changelog without a local copy)
    unreadable: dict[str, str]  # item → why its stored state was refused
    lazy: int = 0  # items held in the local copy, each decoded when its next event arrives
    stale_copy: bool = False  # the local copy's record is not on the changelog: send the whole partition


class Positioned(_Message):
    offset: int | None  # None: no local copy of the partition
    copying: bool = False  # the core keeps a local copy (restores then come in chunks)


class Landed(_Message):
    records: int  # state records written to the local copy


class Rebuilt(_Message):
    rebuilt: int


class Dirty(_Message):
    keys: list[str]


class StateRecord(_Message):
    partition: int
    key: str
    value: str | None  # the record, base64 (records are packed: not text); None deletes the key

    @classmethod
    def of(cls, partition: int, key: str, blob: bytes | None) -> StateRecord:
        return cls(partition=partition, key=key, value=None if blob is None else base64.b64encode(blob).decode())

    def blob(self) -> bytes | None:
        """The record's bytes (None: a deletion)."""
        return None if self.value is None else base64.b64decode(self.value)


class RollupRecord(_Message):
    partition: int
    key: str
    row: str


class OversizedRecord(_Message):
    partition: int
    key: str
    size: int


class Encoded(_Message):
    """Changelog records (each item's parts before its root), the roll-up rows they changed, and
    what was not written for exceeding the record limit (dead-lettered by the worker)."""

    states: list[StateRecord]
    rollups: list[RollupRecord]
    oversized: list[OversizedRecord]


class Dropped(_Message):
    pass


class Configured(_Message):
    config: MonitorConfig


# ------------------------------------------------------------------------------------ framing


_CONFIG = TypeAdapter(MonitorConfig)


def config_json(config: MonitorConfig) -> str:
    return orjson.dumps(dataclasses.asdict(config)).decode()


def config_from_json(text: str | bytes) -> MonitorConfig:
    """The config a :func:`config_json` text describes; ValueError (pydantic's) when it is not one."""
    return _CONFIG.validate_json(text)


def pack(header: dict[str, Any] | BaseModel, records: Iterable[Record] = ()) -> bytes:
    head = header.model_dump_json().encode() if isinstance(header, BaseModel) else orjson.dumps(header)
    parts = [LENGTH.pack(len(head)), head]
    count = 0
    for partition, offset, key, value in records:
        parts.append(
            RECORD.pack(partition, offset, -1 if key is None else len(key), -1 if value is None else len(value))
        )
        if key is not None:
            parts.append(key)
        if value is not None:
            parts.append(value)
        count += 1
    return b"".join([*parts[:2], LENGTH.pack(count), *parts[2:]])


def unpack(payload: bytes) -> tuple[dict[str, Any], list[Record]]:
    """The header and records of a request; ValueError when it is not one."""
    try:
        return _unpack(payload)
    except struct.error as exc:
        raise ValueError(f"malformed request: {exc}") from None


def _unpack(payload: bytes) -> tuple[dict[str, Any], list[Record]]:
    view = memoryview(payload)
    (head_size,) = LENGTH.unpack_from(view, 0)
    header = orjson.loads(view[4 : 4 + head_size])
    pos = 4 + head_size
    (count,) = LENGTH.unpack_from(view, pos)
    pos += 4
    records: list[Record] = []
    for _ in range(count):
        partition, offset, key_size, value_size = RECORD.unpack_from(view, pos)
        pos += RECORD.size
        if pos + max(key_size, 0) + max(value_size, 0) > len(view):
            raise ValueError("malformed request: a record runs past the end")
        key = None
        if key_size >= 0:
            key, pos = bytes(view[pos : pos + key_size]), pos + key_size
        value = None
        if value_size >= 0:
            value, pos = bytes(view[pos : pos + value_size]), pos + value_size
        records.append((partition, offset, key, value))
    if not isinstance(header, dict) or pos != len(payload):
        raise ValueError("malformed request")
    return header, records
