"""The worker's core process: the detection core beside Faust, not under its GIL.

Measured (``docs/stream-worker.md``): the core's ~27 µs of CPU per event took about twice that in the
worker's wall time, because Faust's consumer thread and its event loop share one interpreter lock
with it. So the worker runs the core in a child process of its own, the same
:class:`~claimwatch.detect.driver.RecordDriver` and :class:`~claimwatch.detect.store.StateStore` that replay and
the benchmarks run in process, and its Faust agent only forwards raw records in batches and sends
what comes back.

The two talk over the child's stdin and stdout, one request at a time, each answered before the
next is sent (so the order of applies, checkpoints and restores is the order they were asked in):

- a request is ``kind`` (one byte), a length, a JSON header and raw records (partition, offset, key,
  value), framed with their lengths: the bytes are never parsed as anything but the event JSON the
  core decodes, and nothing is unpickled;
- a reply is a length and a JSON object (``{"error": ...}`` when the request failed);
- a checkpoint takes the items changed since the last one (``DIRTY``), then their encoded state
  and roll-up rows a few hundred at a time (``ENCODE``), so batches are applied in between.

The child exits when its stdin closes: a worker killed with -9 takes its core with it.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import os
import signal
import struct
import sys
from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO

import orjson

from claimwatch.detect.alerting import wall_clock
from claimwatch.detect.driver import Outcome, RecordDriver
from claimwatch.detect.monitor import MonitorConfig
from claimwatch.detect.store import StateStore
from claimwatch.logs import setup as setup_logs
from schemas.codec import MAX_RECORD_BYTES, decode_event, encode_alert

log = logging.getLogger("claimwatch.core")

FRAME = struct.Struct(">cI")  # request kind, payload length
LENGTH = struct.Struct(">I")
PR_SET_PDEATHSIG = 1  # prctl(2)
RECORD = struct.Struct(">iqii")  # partition, offset, key length, value length (-1: none)
APPLY, RESTORE, REBUILD, DIRTY, ENCODE, DROP = b"A", b"R", b"B", b"C", b"E", b"D"

Record = tuple[int, int, bytes | None, bytes | None]  # partition, offset, key, value


class CoreProcessError(RuntimeError):
    """The core process failed a request, or is gone."""


def pack(header: dict[str, Any], records: Iterable[Record] = ()) -> bytes:
    head = orjson.dumps(header)
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


# ------------------------------------------------------------------------------- the child's side


class CoreServer:
    """Answers the worker's requests with one store (the child's whole job)."""

    def __init__(self, config: MonitorConfig, topic: str, record_limit: int = MAX_RECORD_BYTES) -> None:
        self.store = StateStore(config=config, clock=wall_clock)
        self.driver = RecordDriver(self.store)
        self.topic = topic
        self.record_limit = record_limit

    def answer(self, kind: bytes, payload: bytes) -> dict[str, Any]:
        header, records = unpack(payload)
        if kind == APPLY:
            return self.apply(records)
        if kind == RESTORE:
            end = header.get("end")
            return self.restore(int(header["partition"]), records, None if end is None else int(end))
        if kind == REBUILD:
            keys = header.get("keys")
            return self.rebuild(int(header["partition"]), records, None if keys is None else set(keys))
        if kind == DIRTY:
            return {"keys": self.store.take_dirty()}
        if kind == ENCODE:
            return self.encode([str(k) for k in header["keys"]])
        if kind == DROP:
            self.store.drop_partitions(set(header["partitions"]))
            return {}
        raise ValueError(f"unknown request {kind!r}")

    def apply(self, records: Sequence[Record]) -> dict[str, Any]:
        out = Outcome()
        for partition, offset, key, value in records:
            self.driver.apply(self.topic, partition, offset, key, value, out)
        return outcome_reply(out)

    def restore(self, partition: int, records: Sequence[Record], log_end: int | None = None) -> dict[str, Any]:
        report = self.store.decode(((key, value) for _, _, key, value in records), log_end)
        self.store.install(partition, report)
        return {"loaded": report.loaded, "unreadable": report.unreadable}

    def rebuild(self, partition: int, records: Sequence[Record], keys: set[str] | None) -> dict[str, Any]:
        events = []
        for _, offset, key, value in records:
            try:
                events.append(((key or b"").decode("utf-8", "replace"), offset, decode_event(value or b"")))
            except ValueError:
                continue  # a dead letter the first time too
        return {"rebuilt": self.store.rebuild(partition, events, keys)}

    def encode(self, keys: list[str]) -> dict[str, Any]:
        """The records that store these items and their changed roll-up rows (a checkpoint asks for
        the items changed since the last one a few at a time, so applying goes on between); records
        over the record limit are listed apart, for the worker to dead-letter."""
        written = self.store.checkpoint_items(keys, self.record_limit)
        return {
            "states": [(p, k, None if blob is None else blob.decode()) for p, k, blob in written.states],
            "rollups": [(p, k, row.decode()) for p, k, row in written.rollups],
            "oversized": written.oversized,
        }


def outcome_reply(out: Outcome) -> dict[str, Any]:
    return {
        "events": dict(out.events),
        "redelivered": out.redelivered,
        "alerts": [(a.alert_id, encode_alert(a).decode(), a.type, a.severity, a.subject.ids()) for a in out.alerts],
        "suspect": [(e.source_file, e.reason_code, e.model_dump_json()) for e in out.suspect],
        "dead_letters": [
            (e.source_file, e.line, e.reason_code, e.reason, e.model_dump_json()) for e in out.dead_letters
        ],
    }


def serve(inp: BinaryIO, out: BinaryIO, server: CoreServer) -> int:
    while True:
        head = inp.read(FRAME.size)
        if len(head) < FRAME.size:
            return 0  # the worker is gone (or stopping): so is its core
        kind, size = FRAME.unpack(head)
        payload = inp.read(size)
        if len(payload) < size:
            return 0
        try:
            reply = server.answer(kind, payload)
        except Exception as exc:
            log.exception("the core process failed a %r request", kind)
            reply = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        body = orjson.dumps(reply)
        out.write(LENGTH.pack(len(body)) + body)
        out.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stream.coreproc", description=__doc__)
    parser.add_argument("--topic", required=True, help="the event log's topic (named in dead letters)")
    parser.add_argument("--owner", required=True)
    parser.add_argument("--late-allowance", type=float, required=True)
    parser.add_argument("--loglevel", default="warning")
    parser.add_argument("--parent", type=int, help="the worker's process id: this process dies with it")
    args = parser.parse_args(argv)
    if args.parent:
        die_with(args.parent)
    setup_logs(args.loglevel)
    config = MonitorConfig(owner=args.owner, late_allowance_seconds=args.late_allowance)
    return serve(sys.stdin.buffer, sys.stdout.buffer, CoreServer(config, args.topic))


def die_with(parent: int) -> None:
    """Ask Linux to kill this process when the worker dies (a closed stdin alone does not end a core
    blocked writing a reply nobody reads). Elsewhere the closed stdin is what ends it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the worker died before the request was in place
        os._exit(0)


# ------------------------------------------------------------------------------ the worker's side


class CoreProcess:
    """The worker's handle on its core process: one request at a time, in the order asked."""

    def __init__(self, topic: str, config: MonitorConfig, loglevel: str = "warning") -> None:
        self.args = [
            "--topic", topic, "--owner", config.owner, "--late-allowance", repr(config.late_allowance_seconds),
            "--loglevel", loglevel, "--parent", str(os.getpid()),
        ]  # fmt: skip
        self.process: asyncio.subprocess.Process | None = None
        self.lock = asyncio.Lock()

    async def start(self) -> None:
        if self.process is None:
            # A session of its own: Ctrl-C in a terminal signals the whole foreground process group,
            # and the core must not die under the worker's final checkpoint. It stops when the worker
            # closes its stdin (or dies: PR_SET_PDEATHSIG).
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "stream.coreproc", *self.args,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, start_new_session=True,
            )  # fmt: skip

    async def call(self, kind: bytes, header: dict[str, Any] | None = None, records: Iterable[Record] = ()) -> Any:
        payload = pack(header or {}, records)
        async with self.lock:
            await self.start()
            process = self.process
            assert process is not None and process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write(FRAME.pack(kind, len(payload)))
                process.stdin.write(payload)
                await process.stdin.drain()
                (size,) = LENGTH.unpack(await process.stdout.readexactly(LENGTH.size))
                reply = orjson.loads(await process.stdout.readexactly(size))
            except (OSError, asyncio.IncompleteReadError) as exc:
                raise CoreProcessError(f"the core process is gone (exit code {process.returncode})") from exc
        if isinstance(reply, dict) and "error" in reply:
            raise CoreProcessError(str(reply["error"]))
        return reply

    async def close(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.stdin is not None:
            process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()


if __name__ == "__main__":
    sys.exit(main())
