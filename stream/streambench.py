"""``scripts/bench-stream``: the stream path on one broker, the same event log, in one run.

Side by side, each over the same records:

1. raw aiokafka consume (``getmany``): the ceiling, bytes off the broker and nothing else;
2. a minimal Faust agent with the worker's app settings (decode + dict update): Faust's floor;
3. a quixstreams app doing the closest job (per-post EW z-score in its state store), if installed;
4. the detection core in process over the same records, and ``claimwatch replay`` (the bounded job)
   on one process and on two;
5. ``claimwatch worker``: decode, detect, alerts, checkpointed state (its core in a child process);

then the worker's state changelog (records and bytes per input event, on disk when the broker's
data folder is known), its peak RSS, the restart after kill -9 (seconds until it processes again,
restore records/s), and produce→alert latency at half the worker's measured capacity. Medians
where repeated. ``--json`` prints the summary alone, as one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from claimwatch.ingest.readers import read_paths
from schemas.codec import encode_event
from schemas.events import ClaimEvent
from stream.kafka_io import producer, read_to_end, topic_partitions
from stream.publish import publish
from stream.settings import Settings
from stream.topics import create_topics, ensure_state_topic, state_topic


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def print_summary(summary: dict[str, Any], as_json: bool) -> None:
    """A benchmark's figures: a table on stderr (unless ``as_json``), then the JSON object on stdout."""
    if not as_json:
        width = max(map(len, summary), default=0) + 2
        for key, value in summary.items():
            log(f"  {key:{width}} {value}")
    print(json.dumps(summary, indent=None if as_json else 1))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(settings: Settings, **extra: str) -> dict[str, str]:
    return dict(os.environ) | {
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "CLAIMWATCH_TOPIC_PREFIX": settings.topic_prefix,
        "CLAIMWATCH_PARTITIONS": str(settings.partitions),
        "CLAIMWATCH_APP_ID": settings.app_id,
        "CLAIMWATCH_WEB_PORT": str(settings.web_port),
        **extra,
    }


@dataclass
class Worker:
    """A ``claimwatch worker`` child process, watched through its /health and /metrics."""

    process: subprocess.Popen[bytes]
    port: int

    @classmethod
    def start(cls, settings: Settings, log_path: Path, cwd: Path | None = None) -> Worker:
        """A worker whose working folder (where it keeps its local state) is ``cwd``, by default
        the log's folder."""
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "claimwatch.cli", "worker", "--loglevel", "warning"],
            env=child_env(settings, CLAIMWATCH_WEB_PORT=str(port)),
            stdout=log_path.open("ab"),
            stderr=subprocess.STDOUT,
            cwd=cwd or log_path.parent,
        )
        return cls(process, port)

    def get(self, path: str) -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=3) as response:
                return str(response.read().decode())
        except OSError:
            return None

    def health(self) -> dict[str, Any]:
        body = self.get("/health")
        return json.loads(body) if body else {}

    def metric(self, name: str) -> float:
        for line in (self.get("/metrics") or "").splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def peak_rss_mb(self) -> float:
        """Peak resident memory of the worker and its core process, summed."""
        pids = [self.process.pid]
        with contextlib.suppress(OSError):
            pids += [
                int(p) for p in Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
            ]
        total = 0.0
        for pid in pids:
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1]) / 1024
        return total

    def wait(self, condition: Any, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited while waiting for {what}")
            if condition():
                return
            time.sleep(0.2)
        raise TimeoutError(f"timed out waiting for {what}")

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


async def raw_consume_rate(settings: Settings, repeats: int = 3) -> tuple[float, int]:
    rates, count = [], 0
    for _ in range(repeats):
        consumer = AIOKafkaConsumer(**settings.client_options(), enable_auto_commit=False)
        await consumer.start()
        try:
            tps = await topic_partitions(consumer, settings.topic("events"), settings)
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            total = sum(ends.values())
            count = 0
            started = time.perf_counter()
            while count < total:
                batch = await consumer.getmany(timeout_ms=1000, max_records=50_000)
                count += sum(len(r) for r in batch.values())
            rates.append(count / (time.perf_counter() - started))
        finally:
            await consumer.stop()
    return statistics.median(rates), count


WALL: dict[str, float] = {}  # seconds from starting a measured process to its exit, by what it ran


def run_app(kind: str, settings: Settings, events: int, timeout_s: float = 1800) -> float | None:
    """Events/s of a reference app (``stream.benchapps``) over the log (timed from its first event to
    its last), or None if it cannot run; its whole run, start-up included, goes to ``WALL[kind]``."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        result_file = Path(scratch) / "result.json"
        env = child_env(settings, BENCH_EVENTS=str(events), BENCH_STATE_DIR=scratch, BENCH_RESULT=str(result_file))
        env["CLAIMWATCH_APP_ID"] = f"{settings.app_id}-{kind}-{uuid.uuid4().hex[:6]}"
        done = subprocess.run(
            [sys.executable, "-m", "stream.benchapps", kind], env=env, capture_output=True, timeout=timeout_s
        )
        if not result_file.exists():
            log(f"{kind}: did not run ({done.stderr.decode().strip().splitlines()[-1:] or done.returncode})")
            return None
        result = json.loads(result_file.read_text())
    WALL[kind] = time.perf_counter() - started
    return float(result["events"]) / float(result["seconds"])


def pending_claims(n: int, start: datetime, tag: str = "bench") -> list[ClaimEvent]:
    """Potential claims: each raises a content_id_flag alert (the produce→alert probe)."""
    return [
        ClaimEvent(
            event_id=f"{tag}-{i}",
            source="partner_api_claim",
            observed_at=start + timedelta(seconds=i),
            event_time=start + timedelta(seconds=i),
            claim_id=f"{tag}-claim-{i}",
            asset_id=f"BENCH{i % 4096}",  # many assets, as in real traffic: no asset grows without bound
            video_id=f"bv{i}",
            status="potential",
            status_raw="potential",
        )
        for i in range(n)
    ]


def asset_claims(n: int, asset_id: str, start: datetime, tag: str = "storm") -> list[ClaimEvent]:
    """``n`` potential claims on one asset, as a claim storm or a long-lived asset gives: every claim
    is state of the asset's item, and each raises a content_id_flag alert (a dedup key each)."""
    return [
        ClaimEvent(
            event_id=f"{tag}-{i}",
            source="partner_api_claim",
            observed_at=start + timedelta(milliseconds=i),
            event_time=start + timedelta(milliseconds=i),
            claim_id=f"{tag}-claim-{i}",
            asset_id=asset_id,
            video_id=f"{tag}-v{i}",
            channel_id=f"{tag}-UC{i % 9973}",
            status="potential",
            status_raw="potential",
        )
        for i in range(n)
    ]


async def produce(settings: Settings, events: list[ClaimEvent]) -> None:
    out = producer(settings)
    await out.start()
    try:
        for event in events:
            await out.send(settings.topic("events"), key=f"asset:{event.asset_id}".encode(), value=encode_event(event))
    finally:
        await out.stop()


async def latency_at(settings: Settings, rate: float, seconds: float, tag: str = "latency") -> list[float]:
    """Produce alert-raising claims at ``rate``/s; return produce→alert latencies in ms.

    The generator shares the machine with the broker and the worker, so it does as little as it can
    while timed: records are encoded beforehand and alerts are read with a plain JSON parse.
    """
    # A tag of its own per call: the same claims again would be deduplicated, raising no alert.
    events = pending_claims(max(1, int(rate * seconds)), datetime(2030, 1, 1, tzinfo=UTC), tag)
    records = [(e.claim_id, f"asset:{e.asset_id}".encode(), encode_event(e)) for e in events]
    sent_ms: dict[str, int] = {}
    out = producer(settings)
    await out.start()
    alerts = AIOKafkaConsumer(
        settings.topic("alerts"),
        **settings.client_options(),
        auto_offset_reset="latest",
        group_id=f"bench-latency-{time.time_ns()}",
    )
    await alerts.start()
    await alerts.getmany(timeout_ms=1000)  # join and position at the end before producing
    latencies: list[float] = []
    topic = settings.topic("events")
    started = time.perf_counter()
    pending = []
    try:
        for i, (claim_id, key, value) in enumerate(records):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            # The broker's timestamp of each record, read once it is written (not awaited one by one:
            # that would pace the producer by its linger instead of by the rate).
            pending.append((claim_id, await out.send(topic, key=key, value=value)))
        for claim_id, delivery in pending:
            sent_ms[claim_id] = (await delivery).timestamp
        deadline = time.perf_counter() + 60
        while len(latencies) < len(pending) and time.perf_counter() < deadline:
            batch = await alerts.getmany(timeout_ms=1000)
            for batch_records in batch.values():
                for record in batch_records:
                    claim = (json.loads(record.value).get("subject") or {}).get("claim_id") or ""
                    if claim in sent_ms:
                        latencies.append(float(record.timestamp - sent_ms.pop(claim)))
    finally:
        await out.stop()
        await alerts.stop()
    return latencies


def on_disk_bytes(topic: str) -> int | None:
    """Bytes of the topic's log segments, when this run's broker keeps its data where we know."""
    state = os.environ.get("CLAIMWATCH_KAFKA_STATE")
    if not state:
        return None
    return sum(f.stat().st_size for f in Path(state, "data").glob(f"{topic}-*/*.log"))


def percentile(values: list[float], share: float) -> float | None:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1) if ordered else None


def measure_worker(settings: Settings, records: int, tmp: Path) -> dict[str, Any]:
    worker = Worker.start(settings, tmp / "worker.log")
    try:
        worker.wait(lambda: worker.health().get("events", 0) > 0, 300, "the first event")
        first = time.perf_counter()
        worker.wait(lambda: worker.health().get("events", 0) >= records, 1800, "the whole log")
        rate = records / (time.perf_counter() - first)
        worker.wait(
            lambda: worker.metric("claimwatch_checkpoints_total") > 0 and not worker.health().get("lag"),
            60,
            "a checkpoint",
        )
        time.sleep(settings.checkpoint_seconds + 1)  # the last checkpoint
        peak = worker.peak_rss_mb()
    finally:
        worker.stop(kill=True)  # kill -9: what follows measures the restart
    state = asyncio.run(read_to_end(settings, state_topic(settings)))
    disk = on_disk_bytes(state_topic(settings))  # now, before the probes below write more state
    # Restart after kill -9: seconds until it applies new events, one per partition's worth of keys.
    worker = Worker.start(settings, tmp / "restart.log")
    started = time.perf_counter()
    try:
        asyncio.run(produce(settings, pending_claims(64, datetime(2031, 1, 1, tzinfo=UTC), "restart")))
        worker.wait(lambda: worker.health().get("events", 0) >= 64, 300, "the restarted worker")
        restart_s = time.perf_counter() - started
        restored = worker.metric("claimwatch_restored_items_total")
        restore_s = worker.metric("claimwatch_restore_seconds_total")
        # Latency is probed with claims that each raise an alert, heavier than the sample's mix (mostly
        # polls): "half capacity" is half of what the worker sustains on the probe itself.
        probe = 20_000
        begun, before = time.perf_counter(), worker.health().get("events", 0)
        asyncio.run(produce(settings, pending_claims(probe, datetime(2032, 1, 1, tzinfo=UTC), "capacity")))
        worker.wait(lambda: worker.health().get("events", 0) >= before + probe, 600, "the capacity probe")
        probe_rate = probe / (time.perf_counter() - begun)
        # Steady state before timing latency: the probe's own items are checkpointed first (until no
        # further checkpoint starts: the one running when the probe ended may not cover its end).
        done = worker.metric("claimwatch_checkpoints_total")
        worker.wait(lambda: worker.metric("claimwatch_checkpoints_total") > done, 120, "the probe's checkpoint")
        while done != worker.metric("claimwatch_checkpoints_total"):
            done = worker.metric("claimwatch_checkpoints_total")
            time.sleep(settings.checkpoint_seconds + 1)
        latencies = asyncio.run(latency_at(settings, probe_rate / 2, seconds=20))
        quarter = asyncio.run(latency_at(settings, probe_rate / 4, seconds=20, tag="quarter"))
    finally:
        worker.stop()
    return {
        "worker_events_per_s": round(rate),
        "worker_peak_rss_mb": round(peak, 1),
        "changelog_records": len(state),
        # Key and value: what the broker's record limit applies to (1 MB by default).
        "largest_state_record_bytes": max((len(k or b"") + len(v or b"") for k, v in state), default=0),
        "changelog_records_per_event": round(len(state) / records, 4),
        "changelog_bytes_per_event_uncompressed": round(sum(len(v or b"") for _, v in state) / records, 1),
        "changelog_bytes_per_event_on_disk": None if disk is None else round(disk / records, 1),
        "restart_after_kill9_s": round(restart_s, 2),
        "restore_items": int(restored),
        "restore_items_per_s": round(restored / restore_s) if restore_s else None,
        "alerting_claims_per_s": round(probe_rate),
        "latency_rate_per_s": round(probe_rate / 2),
        "latency_samples": len(latencies),
        "latency_p50_ms": percentile(latencies, 0.5),
        "latency_p99_ms": percentile(latencies, 0.99),
        "latency_quarter_rate_p50_ms": percentile(quarter, 0.5),
        "latency_quarter_rate_p99_ms": percentile(quarter, 0.99),
    }


def asset_storm(settings: Settings, claims: int, tmp: Path) -> dict[str, Any]:
    """One asset's item with ``claims`` claims (each raising an alert) through a worker of its own:
    whether every offset is committed, and the largest state record it wrote."""
    tag = uuid.uuid4().hex[:8]
    storm = dataclasses.replace(settings, topic_prefix=f"storm{tag}", app_id=f"storm-{tag}")
    asyncio.run(create_topics(storm))
    asyncio.run(ensure_state_topic(storm))
    asyncio.run(produce(storm, asset_claims(claims, "STORM-ASSET", datetime(2031, 2, 1, tzinfo=UTC), tag)))
    worker = Worker.start(storm, tmp / "storm.log")
    started = time.perf_counter()
    try:
        worker.wait(lambda: worker.health().get("events", 0) >= claims, 1800, "the asset's claims")
        applied_s = time.perf_counter() - started
        worker.wait(lambda: worker.health().get("uncommitted") == 0, 300, "every event stored")
        stored_s = time.perf_counter() - started
        health = worker.health()
    finally:
        worker.stop()
    state = asyncio.run(read_to_end(storm, state_topic(storm)))
    return {
        "asset_claims": claims,
        "asset_claims_applied_s": round(applied_s, 1),
        "asset_claims_all_stored_s": round(stored_s, 1),
        "asset_claims_health": health.get("status"),
        "asset_claims_largest_state_record_bytes": max((len(k or b"") + len(v or b"") for k, v in state), default=0),
        "asset_claims_state_records": len(state),
    }


def core_rate(settings: Settings, repeats: int = 3) -> float:
    """The detection core in process over the same records (the driver the worker's core process and
    replay run: decode + apply), events/s, median."""
    from claimwatch.detect.driver import Outcome, RecordDriver
    from claimwatch.detect.store import StateStore

    records = asyncio.run(read_to_end(settings, settings.topic("events")))
    topic = settings.topic("events")
    rates = []
    for _ in range(repeats):
        driver, out = RecordDriver(StateStore()), Outcome()
        started = time.perf_counter()
        for offset, (key, value) in enumerate(records):
            driver.apply_record(topic, 0, offset, key, value, out)
        rates.append(len(records) / (time.perf_counter() - started))
    return statistics.median(rates)


def in_child(settings: Settings, *args: str) -> dict[str, Any]:
    """Run one measurement in a fresh process (``python -m stream.streambench --child ...``), as an operator
    runs the job: not inside this process, whose heap holds the whole benchmark. The process's whole
    run, start-up included, goes to ``WALL`` under the arguments' name."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "stream.streambench", "--child", *args],
        env=child_env(settings),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args}: {done.stderr[-1500:]}")
    WALL[" ".join(args)] = time.perf_counter() - started
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def replay_rates(settings: Settings, generation: int) -> dict[str, Any]:
    """The replay job over the same log, each run in a fresh process: one process (its read-and-apply
    loop, and end to end with start-up and the final writes) and two processes (end to end)."""
    one = in_child(settings, "replay", str(generation), "1")
    one_wall = WALL[f"replay {generation} 1"]
    two = in_child(settings, "replay", str(generation + 1), "2")
    return {
        # From starting the process to its exit, like the quixstreams app's whole run.
        "replay_1_process_wall_seconds": round(one_wall, 2),
        "replay_1_process_loop_per_s": round(one["records"] / one["loop_seconds"]) if one["loop_seconds"] else None,
        "replay_1_process_per_s": round(one["records"] / one["seconds"]),
        "replay_2_processes_per_s": round(two["records"] / two["seconds"]),
    }


def child(args: list[str]) -> int:
    """The measurements ``in_child`` asks for; prints one JSON object."""
    settings = Settings()
    if args[0] == "core":
        print(json.dumps({"per_s": core_rate(settings)}))
    else:
        from stream.replay import replay

        report = replay(settings, int(args[1]), processes=int(args[2]))
        print(json.dumps({"records": report.records, "seconds": report.seconds, "loop_seconds": report.loop_seconds}))
    return 0


def main(argv: list[str] | None = None) -> int:
    from claimwatch.sample import BUNDLED_SAMPLE

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child(argv[1:])

    parser = argparse.ArgumentParser(prog="scripts/bench-stream", description=__doc__)
    parser.add_argument("--input", nargs="+", help="export files or folders (default: the bundled sample)")
    parser.add_argument("--json", action="store_true", help="print only the summary, as one JSON object")
    parser.add_argument("--no-quix", action="store_true", help="skip the quixstreams comparison")
    parser.add_argument(
        "--asset-claims",
        type=int,
        default=100_000,
        metavar="N",
        help="claims on one asset for the bounded-state run (0: skip; default 100,000)",
    )
    args = parser.parse_args(argv)
    tag = uuid.uuid4().hex[:8]
    settings = Settings(topic_prefix=f"bench{tag}", app_id=f"bench-{tag}", web_port=free_port())
    asyncio.run(create_topics(settings))
    asyncio.run(ensure_state_topic(settings))
    report = asyncio.run(publish(read_paths(args.input or [BUNDLED_SAMPLE]), settings))
    records = report.published["events"]
    log(f"event log: {records:,} events on {settings.partitions} partitions")
    raw_rate, _ = asyncio.run(raw_consume_rate(settings))
    log(f"raw aiokafka consume: {raw_rate:,.0f} events/s")
    floor = run_app("faust", settings, records)
    log(f"minimal Faust agent: {floor or 0:,.0f} events/s")
    quix = None if args.no_quix else run_app("quix", settings, records)
    if quix:
        log(f"quixstreams app: {quix:,.0f} events/s")
    # The core and replay on the very records the others read: before the worker's probes (below)
    # append their alert-raising claims to the log.
    core = float(in_child(settings, "core")["per_s"])
    log(f"detection core in process: {core:,.0f} events/s")
    replays = replay_rates(settings, generation=2)
    log(f"replay: {replays}")
    with tempfile.TemporaryDirectory() as tmp:
        worker = measure_worker(settings, records, Path(tmp))
        storm = asset_storm(settings, args.asset_claims, Path(tmp)) if args.asset_claims > 0 else {}
    log(f"claimwatch worker: {worker['worker_events_per_s']:,} events/s")
    if storm:
        log(f"an asset of {args.asset_claims:,} claims: {storm}")
    rate = worker["worker_events_per_s"]
    summary = {
        "events": records,
        "raw_consume_per_s": round(raw_rate),
        "faust_floor_per_s": round(floor) if floor else None,
        "worker_events_per_s": rate,
        "quixstreams_per_s": round(quix) if quix else None,
        "worker_over_faust_floor": round(rate / floor, 3) if floor else None,
        "worker_over_raw": round(rate / raw_rate, 4),
        "worker_over_quixstreams": round(rate / quix, 3) if quix else None,
        "core_in_process_per_s": round(core),
        **replays,
        "replay_loop_over_core": round(replays["replay_1_process_loop_per_s"] / core, 3)
        if replays["replay_1_process_loop_per_s"]
        else None,
        # Like for like with the quixstreams app, timed from its first event to its last: the loop.
        "replay_loop_over_quixstreams": round(replays["replay_1_process_loop_per_s"] / quix, 3) if quix else None,
        "replay_over_quixstreams": round(replays["replay_1_process_per_s"] / quix, 3) if quix else None,
        # Whole runs side by side, start-up to exit, on the same records: seconds, fewer is faster.
        "quixstreams_wall_seconds": round(WALL["quix"], 2) if quix else None,
        "quixstreams_wall_over_replay_wall": round(WALL["quix"] / replays["replay_1_process_wall_seconds"], 3)
        if quix
        else None,
        **{k: v for k, v in worker.items() if k != "worker_events_per_s"},
        **storm,
    }
    print_summary(summary, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
