"""The worker's core process: the detection core beside Faust, not under its GIL.

Measured (``docs/stream-worker.md``): the core's ~27 µs of CPU per event took about twice that in the
worker's wall time, because Faust's consumer thread and its event loop share one interpreter lock
with it. So the worker runs the core in a child process of its own, the same
:class:`~claimwatch.detect.driver.RecordDriver` and :class:`~claimwatch.detect.store.StateStore` that replay and
the benchmarks run in process, and its Faust agent only forwards raw records in batches and sends
what comes back.

The two talk over the child's stdin and stdout, one request at a time, each answered before the
next is sent (so the order of applies, checkpoints and restores is the order they were asked in), in
the typed protocol of :mod:`stream.coreproto`. A checkpoint takes the items changed since the last
one (``DIRTY``), then their encoded state and roll-up rows a few hundred at a time (``ENCODE``), so
batches are applied in between.

The child exits when its stdin closes: a worker killed with -9 takes its core with it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import BinaryIO, TypeVar

from pydantic import BaseModel, ValidationError

from claimwatch.detect.alerting import wall_clock
from claimwatch.detect.driver import Outcome, RecordDriver
from claimwatch.detect.monitor import MonitorConfig
from claimwatch.detect.store import StateStore
from claimwatch.logs import setup as setup_logs
from schemas.codec import MAX_RECORD_BYTES, decode_event, encode_alert
from stream.coreproto import (
    FAILED,
    FRAME,
    OK,
    REPLY,
    Applied,
    ChangelogPosition,
    Configured,
    DeadLetter,
    Dirty,
    DropHeader,
    Dropped,
    Encoded,
    EncodeHeader,
    Landed,
    LandedHeader,
    LeftOut,
    OversizedRecord,
    Positioned,
    PositionHeader,
    RaisedAlert,
    RebuildHeader,
    Rebuilt,
    Record,
    Request,
    Restored,
    RestoreHeader,
    RollupRecord,
    StateRecord,
    UnreadableItem,
    config_from_json,
    config_json,
    pack,
    unpack,
)
from stream.localstate import LocalState, record_digest

log = logging.getLogger("claimwatch.core")

PR_SET_PDEATHSIG = 1  # prctl(2)
Reply = TypeVar("Reply", bound=BaseModel)


class CoreProcessError(RuntimeError):
    """The core process failed a request, or is gone."""


# ------------------------------------------------------------------------------- the child's side


class CoreServer:
    """Answers the worker's requests with one store (the child's whole job)."""

    def __init__(
        self,
        config: MonitorConfig,
        topic: str,
        record_limit: int = MAX_RECORD_BYTES,
        local: LocalState | None = None,
    ) -> None:
        self.store = StateStore(config=config, clock=wall_clock, stored=local)
        self.driver = RecordDriver(self.store)
        self.topic = topic
        self.record_limit = record_limit
        self.local = local
        # State records encoded since the last checkpoint the broker confirmed: the local copy
        # takes them then (a failed checkpoint's records wait for the next one that lands).
        self.pending: list[tuple[int, str, bytes | None]] = []
        self.copy_broken = False
        self.restoring: dict[int, tuple[int, str]] = {}  # the last changelog record of a chunked restore

    def answer(self, kind: bytes, payload: bytes) -> BaseModel:
        """The reply to one request; ValueError (or pydantic's) when it is not one."""
        header, records = unpack(payload)
        try:
            request = Request(kind)
        except ValueError:
            raise ValueError(f"unknown request {kind!r}") from None
        if request is Request.APPLY:
            return self.apply_records(records)
        if request is Request.RESTORE:
            restore = RestoreHeader.model_validate(header)
            return self.restore(restore.partition, records, restore.end, restore.start, restore.first, restore.last)
        if request is Request.POSITION:
            position = (
                None if self.local is None else self.local.position(PositionHeader.model_validate(header).partition)
            )
            return Positioned(
                offset=None if position is None else position[0],
                copying=self.local is not None and not self.copy_broken,
            )
        if request is Request.LANDED:
            return self.landed(LandedHeader.model_validate(header))
        if request is Request.REBUILD:
            rebuild = RebuildHeader.model_validate(header)
            return self.rebuild(rebuild.partition, records, None if rebuild.keys is None else set(rebuild.keys))
        if request is Request.DIRTY:
            return Dirty(keys=self.store.take_dirty())
        if request is Request.ENCODE:
            return self.encode(EncodeHeader.model_validate(header).keys)
        if request is Request.DROP:
            self.store.drop_partitions(set(DropHeader.model_validate(header).partitions))
            return Dropped()
        return Configured(config=self.store.config)

    def apply_records(self, records: Sequence[Record]) -> Applied:
        if self.store.lazy:
            unreadable = self.load_items(records)
            if unreadable:
                return Applied(events={}, redelivered=0, alerts=[], suspect=[], dead_letters=[], unreadable=unreadable)
        out = Outcome()
        for partition, offset, key, value in records:
            self.driver.apply_record(self.topic, partition, offset, key, value, out)
        # What a batch leaves is mostly item state that lives on: moved out of the cyclic
        # collector's sight, as replay does (measured there: at 100,000 items it made the core 10x
        # slower). Reference counting still frees what is dropped.
        gc.freeze()
        return applied_reply(out)

    def load_items(self, records: Sequence[Record]) -> list[UnreadableItem]:
        """Decode the items of lazily restored partitions that these events are the first to touch,
        before any is applied; those whose stored state is unreadable."""
        unreadable = []
        for partition, _, raw_key, _ in records:
            key = (raw_key or b"").decode("utf-8", "replace")
            reason = self.store.load(key, partition)
            if reason is not None:
                unreadable.append(UnreadableItem(partition=partition, key=key, reason=reason))
        return unreadable

    def restore(
        self,
        partition: int,
        records: Sequence[Record],
        log_end: int | None = None,
        start: int = 0,
        first: bool = True,
        last: bool = True,
    ) -> Restored:
        """Without a local copy: decode every item now. With one, the changelog's records arrive in
        chunks (``first`` … ``last``): the first is checked to begin with the copy's record
        (``start`` > 0) or replaces the partition's copy (``start`` 0); each is written over the
        copy; after the last the copy's position moves to the last record, and the partition is
        restored lazily."""
        if self.local is None or self.copy_broken:
            if not (first and last):
                raise ValueError("a restore without a local copy comes in one request")
            report = self.store.decode(((key, value) for _, _, key, value in records), log_end)
            self.store.install(partition, report)
            gc.freeze()
            return Restored(loaded=report.loaded, unreadable=report.unreadable)
        tail = list(records)
        if first and start > 0:
            position = self.local.position(partition)
            if (
                position is None
                or not tail
                or tail[0][1] != position[0]
                or record_digest(tail[0][2], tail[0][3]) != position[1]
            ):
                return Restored(loaded=0, unreadable={}, stale_copy=True)
            tail = tail[1:]
        if tail:
            _, last_offset, last_key, last_value = tail[-1]
            self.restoring[partition] = (last_offset, record_digest(last_key, last_value))
        elif first:
            self.restoring.pop(partition, None)
        reached = self.restoring.pop(partition, None) if last else None
        self.local.write(
            ((partition, key.decode("utf-8", "replace"), value) for _, _, key, value in tail if key is not None),
            {partition: reached} if reached else {},
            clear=[partition] if first and start == 0 else [],
        )
        if not last:
            return Restored(loaded=0, unreadable={})
        self.store.restore_lazily(partition, log_end)
        return Restored(loaded=0, unreadable={}, lazy=self.local.count_items(partition))

    def landed(self, header: LandedHeader) -> Landed:
        """A checkpoint's records are confirmed: the local copy takes every record encoded since the
        last one that landed, and the positions they bring its partitions to."""
        if self.local is None or self.copy_broken:
            return Landed(records=0)
        pending, self.pending = self.pending, []
        try:
            written = self.local.write(pending, {p.partition: (p.offset, p.digest) for p in header.positions})
        except sqlite3.Error as exc:
            # The copy now lacks records the changelog has: it must never again pass for current.
            # Its positions go, so every partition is read whole at the next restart.
            self.copy_broken = True
            log.error("the local copy of the state changelog failed (%s): restores read the changelog whole", exc)
            with contextlib.suppress(sqlite3.Error):
                self.local.forget_positions()
            raise
        return Landed(records=written)

    def rebuild(self, partition: int, records: Sequence[Record], keys: set[str] | None) -> Rebuilt:
        events = []
        for _, offset, key, value in records:
            try:
                events.append(((key or b"").decode("utf-8", "replace"), offset, decode_event(value or b"")))
            except ValueError:
                continue  # a dead letter the first time too
        return Rebuilt(rebuilt=self.store.rebuild(partition, events, keys))

    def encode(self, keys: list[str]) -> Encoded:
        """The records that store these items and their changed roll-up rows (a checkpoint asks for
        the items changed since the last one a few at a time, so applying goes on between); records
        over the record limit are listed apart, for the worker to dead-letter."""
        written = self.store.checkpoint_items(keys, self.record_limit)
        if self.local is not None and not self.copy_broken:
            self.pending += written.states
        return Encoded(
            states=[StateRecord.of(p, k, blob) for p, k, blob in written.states],
            rollups=[RollupRecord(partition=p, key=k, row=row.decode()) for p, k, row in written.rollups],
            oversized=[OversizedRecord(partition=p, key=k, size=n) for p, k, n in written.oversized],
        )


def applied_reply(out: Outcome) -> Applied:
    return Applied(
        events=dict(out.events),
        redelivered=out.redelivered,
        alerts=[
            RaisedAlert(
                alert_id=a.alert_id,
                value=encode_alert(a).decode(),
                type=a.type,
                severity=a.severity,
                subject=a.subject.ids(),
            )
            for a in out.alerts
        ],
        suspect=[LeftOut(where=e.source_file, code=e.reason_code, value=e.model_dump_json()) for e in out.suspect],
        dead_letters=[
            DeadLetter(
                where=e.source_file, offset=e.line, code=e.reason_code, reason=e.reason, value=e.model_dump_json()
            )
            for e in out.dead_letters
        ],
    )


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
            status, body = OK, server.answer(kind, payload).model_dump_json().encode()
        except Exception as exc:
            log.exception("the core process failed a %r request", kind)
            status, body = FAILED, " ".join(f"{type(exc).__name__}: {exc}".split())[:500].encode()
        out.write(REPLY.pack(status, len(body)) + body)
        out.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stream.coreproc", description=__doc__)
    parser.add_argument("--topic", required=True, help="the event log's topic (named in dead letters)")
    parser.add_argument("--config", required=True, help="the MonitorConfig, as JSON (stream.coreproto.config_json)")
    parser.add_argument("--loglevel", default="warning")
    parser.add_argument("--parent", type=int, help="the worker's process id: this process dies with it")
    parser.add_argument("--state-dir", help="where the local copy of the state changelog is kept (none: no copy)")
    parser.add_argument("--state-name", default="state", help="the state changelog's name (names the copy)")
    args = parser.parse_args(argv)
    if args.parent:
        die_with(args.parent)
    setup_logs(args.loglevel)
    try:
        config = config_from_json(args.config)
    except ValidationError as exc:
        parser.error(f"--config is not a MonitorConfig: {' '.join(str(exc).split())[:300]}")
    local = LocalState.open(Path(args.state_dir), args.state_name) if args.state_dir else None
    if local is not None:
        log.info("local copy of the state changelog: %s", local.path)
    try:
        return serve(sys.stdin.buffer, sys.stdout.buffer, CoreServer(config, args.topic, local=local))
    finally:
        if local is not None:
            local.close()


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

    def __init__(
        self,
        topic: str,
        config: MonitorConfig,
        loglevel: str = "warning",
        state_dir: str = "",
        state_name: str = "state",
    ) -> None:
        local = ["--state-dir", state_dir, "--state-name", state_name] if state_dir else []
        self.args = [
            *local,
            "--topic",
            topic,
            "--config",
            config_json(config),
            "--loglevel",
            loglevel,
            "--parent",
            str(os.getpid()),
        ]
        self.process: asyncio.subprocess.Process | None = None
        self.lock = asyncio.Lock()

    async def start(self) -> None:
        if self.process is None:
            # A session of its own: Ctrl-C in a terminal signals the whole foreground process group,
            # and the core must not die under the worker's final checkpoint. It stops when the worker
            # closes its stdin (or dies: PR_SET_PDEATHSIG).
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "stream.coreproc",
                *self.args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                start_new_session=True,
            )

    async def apply(self, records: Iterable[Record]) -> Applied:
        return await self.call(Request.APPLY, Applied, records=records)

    async def restore(
        self,
        partition: int,
        end: int | None,
        records: Iterable[Record],
        start: int = 0,
        first: bool = True,
        last: bool = True,
    ) -> Restored:
        header = RestoreHeader(partition=partition, end=end, start=start, first=first, last=last)
        return await self.call(Request.RESTORE, Restored, header, records)

    async def positioned(self, partition: int) -> Positioned:
        """Whether the core keeps a local copy, and the offset its copy of the partition is current to."""
        return await self.call(Request.POSITION, Positioned, PositionHeader(partition=partition))

    async def landed(self, positions: Iterable[ChangelogPosition]) -> Landed:
        return await self.call(Request.LANDED, Landed, LandedHeader(positions=list(positions)))

    async def rebuild(self, partition: int, keys: list[str] | None, records: Iterable[Record]) -> Rebuilt:
        return await self.call(Request.REBUILD, Rebuilt, RebuildHeader(partition=partition, keys=keys), records)

    async def dirty(self) -> list[str]:
        return (await self.call(Request.DIRTY, Dirty)).keys

    async def encode(self, keys: list[str]) -> Encoded:
        return await self.call(Request.ENCODE, Encoded, EncodeHeader(keys=keys))

    async def drop(self, partitions: Iterable[int]) -> None:
        await self.call(Request.DROP, Dropped, DropHeader(partitions=sorted(partitions)))

    async def config(self) -> MonitorConfig:
        """The settings the core process runs with (what crossed at its start)."""
        return (await self.call(Request.CONFIG, Configured)).config

    async def call(
        self,
        kind: bytes,
        reply: type[Reply],
        header: BaseModel | None = None,
        records: Iterable[Record] = (),
    ) -> Reply:
        """One request, answered before the next is sent; its reply, typed."""
        payload = pack(header if header is not None else {}, records)
        async with self.lock:
            await self.start()
            process = self.process
            assert process is not None and process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write(FRAME.pack(kind, len(payload)))
                process.stdin.write(payload)
                await process.stdin.drain()
                status, size = REPLY.unpack(await process.stdout.readexactly(REPLY.size))
                body = await process.stdout.readexactly(size)
            except (OSError, asyncio.IncompleteReadError) as exc:
                raise CoreProcessError(f"the core process is gone (exit code {process.returncode})") from exc
        if status != OK:
            raise CoreProcessError(body.decode("utf-8", "replace"))
        try:
            return reply.model_validate_json(body)
        except ValidationError as exc:
            raise CoreProcessError(f"the core process answered {kind!r} with no {reply.__name__}: {exc}") from None

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
