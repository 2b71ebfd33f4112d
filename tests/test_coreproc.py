"""The worker's core process: its framing, its answers, and the real child process behind the worker."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from claimwatch.detect.driver import Outcome, RecordDriver
from claimwatch.detect.monitor import MonitorConfig
from claimwatch.detect.store import StateStore
from stream.coreproc import CoreProcess, CoreProcessError, CoreServer, serve
from stream.coreproto import (
    FAILED,
    FRAME,
    OK,
    REPLY,
    Applied,
    Dirty,
    Dropped,
    Encoded,
    Rebuilt,
    Record,
    Request,
    Restored,
    pack,
    unpack,
)

Reply = TypeVar("Reply", bound=BaseModel)

TOPIC = "t.events"
REPO = Path(__file__).resolve().parents[1]
records_strategy = st.lists(
    st.tuples(
        st.integers(0, 2**31 - 1),
        st.integers(0, 2**63 - 1),
        st.none() | st.binary(max_size=40),
        st.none() | st.binary(max_size=200),
    ),
    max_size=30,
)


@given(
    records_strategy,
    st.dictionaries(st.text(max_size=10), st.integers(-(2**63), 2**63 - 1) | st.text(max_size=10), max_size=4),
)
def test_requests_carry_any_bytes_and_no_record_is_lost_or_changed(records: list[Record], header: dict) -> None:  # type: ignore[type-arg]
    assert unpack(pack(header, records)) == (header, records)


@given(st.binary(max_size=300) | records_strategy.map(lambda r: pack({}, r)[:-1]))
def test_a_malformed_request_is_a_value_error_and_the_server_says_so(payload: bytes) -> None:
    with contextlib.suppress(ValueError):
        unpack(payload)
    inp, out = io.BytesIO(FRAME.pack(Request.APPLY, len(payload)) + payload), io.BytesIO()
    assert serve(inp, out, CoreServer(MonitorConfig(), TOPIC)) == 0
    status, size = REPLY.unpack_from(out.getvalue())
    body = out.getvalue()[REPLY.size :]
    assert len(body) == size and "\n" not in body.decode()
    if status == OK:
        Applied.model_validate_json(body)
    else:
        assert status == FAILED and body  # one line saying why; the server goes on serving


def ask(server: CoreServer, kind: Request, reply: type[Reply], header: dict[str, Any], records: list[Record]) -> Reply:
    """One request through the server's framing, its reply of the type the protocol promises."""
    answer = server.answer(kind, pack(header, records))
    assert isinstance(answer, reply)
    return answer


def apply(server: CoreServer, records: list[Record]) -> Applied:
    return ask(server, Request.APPLY, Applied, {}, records)


def checkpoint(server: CoreServer) -> Encoded:
    """What a worker's checkpoint asks: the changed items, then their stored form (here in one go)."""
    keys = ask(server, Request.DIRTY, Dirty, {}, []).keys
    return ask(server, Request.ENCODE, Encoded, {"keys": keys}, [])


def in_process_alert_ids(records: list[Record]) -> list[str]:
    driver, out = RecordDriver(StateStore()), Outcome()
    for partition, offset, key, value in records:
        driver.apply_record(TOPIC, partition, offset, key, value, out)
    return [a.alert_id for a in out.alerts]


def test_the_server_raises_what_the_driver_raises_in_process(log_records: list[Record]) -> None:
    server = CoreServer(MonitorConfig(), TOPIC)
    replies = [apply(server, log_records[i : i + 500]) for i in range(0, len(log_records), 500)]
    ids = [alert.alert_id for reply in replies for alert in reply.alerts]
    assert ids and ids == in_process_alert_ids(log_records)
    dead = [d for reply in replies for d in reply.dead_letters]
    assert [(d.where, d.offset, d.code) for d in dead] == [(f"{TOPIC}[1]", 10**9, "undecodable_event")]
    assert sum(sum(r.events.values()) for r in replies) == len(log_records) - 1
    assert all(Applied.model_validate_json(r.model_dump_json()) == r for r in replies)  # what crosses the pipe


def test_a_checkpoint_restores_into_a_fresh_core_that_continues_exactly(log_records: list[Record]) -> None:
    half = len(log_records) // 2
    first = CoreServer(MonitorConfig(), TOPIC)
    apply(first, log_records[:half])
    stored = checkpoint(first)
    assert stored.states and checkpoint(first) == Encoded(states=[], rollups=[], oversized=[])
    second = CoreServer(MonitorConfig(), TOPIC)
    for partition in range(4):
        changelog: list[Record] = [
            (s.partition, 0, s.key.encode(), s.blob()) for s in stored.states if s.partition == partition
        ]
        assert ask(second, Request.RESTORE, Restored, {"partition": partition}, changelog).unreadable == {}
    # Redelivered after the "crash": the first half again, then the rest.
    replies = [apply(second, log_records)]
    assert sum(r.redelivered for r in replies) == half - 1  # the dead letter is not an applied event
    ids = [alert.alert_id for reply in replies for alert in reply.alerts]
    whole = in_process_alert_ids(log_records)
    before = [alert.alert_id for alert in apply(first, []).alerts]
    assert before == [] and ids == whole[len(whole) - len(ids) :]


def test_unreadable_state_is_rebuilt_from_the_log_and_dropped_partitions_forgotten(log_records: list[Record]) -> None:
    server = CoreServer(MonitorConfig(), TOPIC)
    p0 = [r for r in log_records if r[0] == 0]
    key = p0[0][2]
    assert key is not None
    report = ask(server, Request.RESTORE, Restored, {"partition": 0}, [(0, 0, key, b"\x80\x04crafted")])
    assert list(report.unreadable) == [key.decode()] and report.loaded == 0
    rebuilt = ask(server, Request.REBUILD, Rebuilt, {"partition": 0, "keys": [key.decode()]}, p0)
    assert rebuilt == Rebuilt(rebuilt=1)
    assert server.store.applied[key.decode()] == max(r[1] for r in p0 if r[2] == key)
    ask(server, Request.DROP, Dropped, {"partitions": [0]}, [])
    assert key.decode() not in server.store.applied


async def test_the_child_process_answers_in_order_and_exits_with_its_worker(log_records: list[Record]) -> None:
    core = CoreProcess(TOPIC, MonitorConfig())
    try:
        replies = await asyncio.gather(*(core.apply(log_records[i : i + 300]) for i in range(0, len(log_records), 300)))
        assert [a.alert_id for r in replies for a in r.alerts] == in_process_alert_ids(log_records)
        with pytest.raises(CoreProcessError, match="unknown request"):
            await core.call(b"Z", Dropped)
        with pytest.raises(CoreProcessError, match="ValidationError"):
            await core.call(Request.RESTORE, Restored, Dirty(keys=["not a restore header"]))
        keys = await core.dirty()
        assert keys and (await core.encode(keys[:3])).states  # serving after a failed request
    finally:
        process = core.process
        await core.close()
    assert process is not None and process.returncode == 0  # stdin closed: the child is gone


async def test_a_core_that_died_is_one_clear_error() -> None:
    core = CoreProcess(TOPIC, MonitorConfig())
    await core.start()
    assert core.process is not None
    core.process.kill()
    await core.process.wait()
    with pytest.raises(CoreProcessError, match="the core process is gone"):
        await core.apply([(0, 0, b"k", b"{}")])


def test_the_core_dies_with_its_worker_even_one_killed_with_9() -> None:
    script = (
        "import asyncio\n"
        "from claimwatch.detect.monitor import MonitorConfig\n"
        "from stream.coreproc import CoreProcess\n"
        "async def main():\n"
        "    core = CoreProcess('t.events', MonitorConfig())\n"
        "    await core.start()\n"
        "    print(core.process.pid, flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    worker = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert worker.stdout is not None
    core = int(worker.stdout.readline())
    time.sleep(1.0)  # the core has started and asked to die with its parent
    assert alive(core)
    worker.kill()
    worker.wait()
    deadline = time.monotonic() + 10
    while alive(core) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(core)


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting to be reaped)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def every_field_changed(config: Any) -> Any:
    """A copy of a settings dataclass with every leaf field away from its default (nested ones too),
    so a field that does not cross to the core process cannot go unnoticed."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            changes[f.name] = every_field_changed(value)
        elif isinstance(value, bool):
            changes[f.name] = not value
        elif isinstance(value, int | float):
            changes[f.name] = value * 2 + 1
        elif isinstance(value, str):
            changes[f.name] = f"{value}-changed"
        else:
            raise AssertionError(f"MonitorConfig.{f.name}: teach this test to change a {type(value).__name__}")
    return dataclasses.replace(config, **changes)


def leaves(config: Any, prefix: str = "") -> dict[str, Any]:
    return {
        k: v
        for f in dataclasses.fields(config)
        for k, v in (
            leaves(getattr(config, f.name), f"{prefix}{f.name}.")
            if dataclasses.is_dataclass(getattr(config, f.name))
            else {f"{prefix}{f.name}": getattr(config, f.name)}
        ).items()
    }


async def test_every_monitor_setting_reaches_the_core_process() -> None:
    config = every_field_changed(MonitorConfig())
    default = leaves(MonitorConfig())
    assert all(value != default[name] for name, value in leaves(config).items())
    core = CoreProcess(TOPIC, config)
    try:
        running = await core.config()
    finally:
        await core.close()
    assert leaves(running) == leaves(config)


def test_a_core_started_with_a_config_that_is_not_one_says_so_in_one_line() -> None:
    started = subprocess.run(
        [sys.executable, "-m", "stream.coreproc", "--topic", TOPIC, "--config", '{"poll_fresh_hours": "soon"}'],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert started.returncode == 2 and "Traceback" not in started.stderr
    assert "--config is not a MonitorConfig" in started.stderr and "poll_fresh_hours" in started.stderr
