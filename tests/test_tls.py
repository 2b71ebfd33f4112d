"""Every client over TLS, for real: the local broker's TLS listener, its certificate made at start.

MSK's default is TLS: ingest, the worker (Faust and its own clients), the topic admin, the alert
tail and replay (whose reader is librdkafka's) must all reach the broker through it, and a client that cannot verify the broker must fail in
one line rather than fall back to anything.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from claimwatch.embedded import run
from claimwatch.sample.generator import generate
from claimwatch.textsafe import format_alert
from tests.builders import T0
from tests.streamkit import env_for, isolated_settings, needs_kafka, start_worker, wait_drained

SSL_BOOTSTRAP = os.environ.get("KAFKA_SSL_BOOTSTRAP_SERVERS", "")
CAFILE = os.environ.get("KAFKA_SSL_CAFILE", "")
pytestmark = [
    needs_kafka,
    pytest.mark.skipif(not (SSL_BOOTSTRAP and CAFILE), reason="no TLS listener given (scripts/test starts one)"),
]


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "claimwatch.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_ingest_worker_and_tail_over_tls(tmp_path: Path) -> None:
    data = tmp_path / "data"
    generate(data, seed=9, items=40, days=8)
    # What the embedded run raises on the same files: the front's ordering and routing included (a
    # dispute read before its claims report names its video from the run's other records).
    expected = sorted(format_alert(a) for a in run([data], tmp_path / "embedded", clock=lambda: T0).alerts)
    assert len(expected) > 5

    settings = dataclasses.replace(
        isolated_settings(), bootstrap_servers=SSL_BOOTSTRAP, security_protocol="SSL", ssl_cafile=CAFILE
    )
    env = env_for(settings)
    for args in (("topics", "create"), ("ingest", str(data), "--quiet")):
        done = _cli(env, *args)
        assert done.returncode == 0, (args, done.stderr[-2000:])
    worker = start_worker(settings, tmp_path, "tls")
    try:
        wait_drained([worker], timeout_s=240)
    finally:
        worker.stop()
    tail = _cli(env, "alerts", "tail", "--from-beginning", "--idle-exit", "3")
    assert tail.returncode == 0, tail.stderr[-2000:]
    lines = sorted(line for line in tail.stdout.splitlines() if line[:2] in ("!!", "  ") and line.strip())
    assert lines == expected

    # Replay reads the log with its own client (librdkafka): over TLS too, to the same alerts.
    replayed = _cli(env, "replay", "--generation", "2")
    assert replayed.returncode == 0, replayed.stderr[-2000:]
    assert f" {len(expected):,} alerts " in replayed.stdout, replayed.stdout

    # Without the CA the broker's certificate cannot be verified: one line, exit 3, nothing sent.
    started = time.monotonic()
    unverified = _cli({**env, "KAFKA_SSL_CAFILE": "", "CLAIMWATCH_CONNECT_SECONDS": "30"}, "topics", "describe")
    assert time.monotonic() - started < 20, "a certificate nobody trusts is not waited out for the connect window"
    assert unverified.returncode == 3 and "Traceback" not in unverified.stderr, unverified.stderr
    assert "TLS certificate the system's CAs cannot verify" in unverified.stderr, unverified.stderr
    assert "set KAFKA_SSL_CAFILE" in unverified.stderr
    # A plaintext client on a TLS port looks like a broker that is not up yet: a short window here.
    plaintext = _cli({**env, "KAFKA_SECURITY_PROTOCOL": "PLAINTEXT", "CLAIMWATCH_CONNECT_SECONDS": "2"}, "status")
    assert plaintext.returncode == 3 and "Traceback" not in plaintext.stderr, plaintext.stderr
