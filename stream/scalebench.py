"""``scripts/bench-scale``: claimwatch at the catalogue's size, on a real broker.

1. **Synthetic state for N items** (default 100,000): the detection core runs over a generated
   sample (``--template-items`` items, 14 days, overdispersed counts, bursts and gaps) and stores
   every item as a checkpoint would; those items are cloned under new keys until there are N, plus
   one asset item holding ``--asset-claims`` claims (default 100,000). Printed: stored item state
   p50 / max (root and parts, key and value) and the largest record of any kind.
2. **A worker on a machine that never held the state**: the whole changelog written to the
   broker, a worker started with an empty state folder, events for items spread over every
   partition: seconds until it has processed them (reading the changelog whole), and items
   restored per second of restore.
3. **Restart after kill -9**: the same worker killed, new events produced, the worker started
   again on its state folder: seconds until it processes again (``restart_to_progress_s``: the
   consumer group's session timeout, Faust's start-up and the changelog's tail), and items made
   available per second of restore.
4. **Replay of a week from a snapshot**: the worker's state snapshotted (``claimwatch snapshots
   take``), a week of events (the sample's third week) for ``--replay-items`` items put on the log
   after it, and a replay from the snapshot on one shard, on two side by side, and on one shard run
   as the template's replay task runs it (``--processes 2`` on its 2 vCPU); events/s per process and
   per task, the fixed cost (loading the snapshot, writing the state: by items), and the projection
   for 100,000 items x 4 platforms x 15-minute polls on 8 such tasks (the median of three runs of
   the task: two processes on this shared machine's two cores vary more than one). The sample is generated with
   a poll every 15 minutes (with its outages, repeats, late lines and frozen counters), so the rate
   the projection uses is measured on a stream of that cadence.
5. **The weekly job from Kafka**: the peak RSS of loading one week's rows with 4 and with 52
   weeks of roll-ups retained (``--rows-per-week`` rows each).

``--json`` prints the summary alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from claimwatch.detect import packing, state
from claimwatch.detect.driver import Outcome, RecordDriver
from claimwatch.detect.monitor import MonitorConfig
from claimwatch.detect.rollup import iso_week
from claimwatch.detect.routing import Router
from claimwatch.detect.store import StateStore
from claimwatch.front.prepare import Front
from claimwatch.ingest.readers import read_files
from claimwatch.sample.generator import generate
from schemas.codec import encode_event
from stream import snapshots
from stream.replay import FromSnapshot, ReplayReport, replay
from stream.settings import Settings
from stream.streambench import Worker, free_port, log, pending_claims, print_summary
from stream.topics import create_topics, ensure_state_topic, state_topic

ItemRecords = list[tuple[str, bytes]]  # an item's changelog records: root and parts (key, value)
POLL_MINUTES = 15.0  # how often the catalogue's posts are polled: what the replay projection assumes
PROBE_EVENTS = 400  # events after each (re)start, on items spread over every partition


def template_items(folder: Path, items: int, seed: int) -> tuple[dict[str, ItemRecords], dict[str, list[bytes]]]:
    """Every item of a generated three-week sample as a checkpoint stores it (all its parts) after
    two weeks (the state's 14-day horizon is full), and the third week's events by item."""
    generate(folder, seed=seed, items=items, days=21, poll_minutes=(POLL_MINUTES, POLL_MINUTES))
    store = StateStore(config=MonitorConfig(owner="our-label"))
    driver = RecordDriver(store)
    later: dict[str, list[bytes]] = {}
    with Front(read_files([folder]), Router()) as front:
        ordered = list(front.events())
        times = [t for event, _, _ in ordered if (t := getattr(event, "event_time", None)) is not None]
        cut = max(times) - timedelta(days=7) if times else None  # claims carry older times: count back
        for n, (event, key, encoded) in enumerate(ordered, start=1):
            at = getattr(event, "event_time", None)
            if cut is not None and at is not None and at >= cut:
                later.setdefault(key, []).append(encoded)
                continue
            driver.apply_event("bench", 0, n, key, event, Outcome())
            if n % 20_000 == 0:  # as the worker's checkpoints do: expired roll-up rows leave
                store.checkpoint()
    keys = sorted(store.keyed.monitors)
    store.rewrite.update(keys)  # every part written again, as for an item stored the first time
    out: dict[str, ItemRecords] = {}
    for _, key, value in store.checkpoint_items(keys).states:
        if value is not None:
            out.setdefault(key.split(state.PART_SEPARATOR, 1)[0], []).append((key, value))
    return out, later


def week_events(templates: list[str], later: dict[str, list[bytes]], clones: int) -> list[tuple[bytes, bytes]]:
    """The third week's events of the first ``clones`` synthetic items: each clone gets its template
    item's (the clone of item ``i`` is ``SC-i``, its template ``templates[i % len(templates)]``)."""
    return [
        (f"SC-{i:06d}".encode(), value) for i in range(clones) for value in later.get(templates[i % len(templates)], [])
    ]


def clone(item: str, records: ItemRecords, new: str) -> ItemRecords:
    """The item's records under another key, as if it had applied no event yet (offset 0: the
    bench's event log is new)."""
    out = []
    for key, value in records:
        if state.PART_SEPARATOR in key:
            out.append((new + key[len(item) :], value))
        else:
            body = state.stored_json(value)
            body["offset"] = 0
            out.append((new, packing.pack(orjson.dumps(body))))
    return out


def asset_item(item: str, records: ItemRecords, new: str, claims: int) -> ItemRecords:
    """An item holding ``claims`` claims: the template's records and that many claim parts more."""
    base = clone(item, records, new)
    root = state.stored_json(next(v for k, v in base if k == new))
    claim_parts = [(k, state.stored_json(v)) for k, v in base if (state.split_part_key(k) or "xx")[1] == state.CLAIM]
    claim_key, template = next((k, body) for k, body in claim_parts if body.get("v") is not None)
    rows = template.get("rows", {})
    out = [(k, v) for k, v in base if k != new]
    for i in range(claims):
        ident = f"BENCH-{i:09d}"
        template["v"]["f"]["claim_id"] = ident
        template["rows"] = {
            f"claim|{state.row_series(key)[1]}|{ident}": row | {"claim_id": ident} for key, row in rows.items()
        }
        out.append((state.part_key(new, state.CLAIM, ident), packing.pack(orjson.dumps(template))))
    if template["seq"] == root["seq"]:
        root["parts"] += claims
    assert claim_key
    return [*out, (new, packing.pack(orjson.dumps(root)))]


def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives the key (where the item's events go)."""
    return int(murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def synthetic_state(templates: dict[str, ItemRecords], items: int, asset_claims: int) -> list[ItemRecords]:
    names = sorted(templates)
    out = [clone(names[i % len(names)], templates[names[i % len(names)]], f"SC-{i:06d}") for i in range(items)]
    if asset_claims:
        richest = max(
            names, key=lambda n: sum((state.split_part_key(k) or "xx")[1] == state.CLAIM for k, _ in templates[n])
        )
        out.append(asset_item(richest, templates[richest], "SC-ASSET", asset_claims))
    return out


def sizes(catalogue: list[ItemRecords]) -> dict[str, Any]:
    per_item = sorted(sum(len(k.encode()) + len(v) for k, v in records) for records in catalogue)
    largest = max(len(k.encode()) + len(v) for records in catalogue for k, v in records)
    return {
        "items": len(catalogue),
        "changelog_records": sum(map(len, catalogue)),
        "item_state_bytes_p50": per_item[len(per_item) // 2],
        "item_state_bytes_p90": per_item[int(len(per_item) * 0.9)],
        "item_state_bytes_max": per_item[-1],
        "largest_record_bytes": largest,
        "changelog_bytes": sum(per_item),
    }


async def write_changelog(settings: Settings, catalogue: list[ItemRecords]) -> None:
    out = AIOKafkaProducer(
        **settings.client_options(), linger_ms=20, max_batch_size=1024 * 1024, compression_type="zstd"
    )
    await out.start()
    try:
        topic = state_topic(settings)
        for records in catalogue:
            partition = partition_of(records[-1][0], settings.partitions)
            for key, value in records:  # parts first, the root last: as a checkpoint writes them
                await out.send(topic, key=key.encode(), value=value, partition=partition)
        await out.flush()
    finally:
        await out.stop()


def probe_events(items: int, n: int, start: datetime, tag: str, shift: int) -> list[tuple[bytes, bytes]]:
    """``n`` potential claims (bench-stream's probe) on items spread over the catalogue, so over
    every partition: ``(item key, encoded event)``."""
    step = max(1, items // n)
    return [
        (f"SC-{(i * step + shift) % items:06d}".encode(), encode_event(event))
        for i, event in enumerate(pending_claims(n, start, tag))
    ]


def preamble(partitions: int) -> list[tuple[bytes, bytes]]:
    """One event on every partition before the catalogue's: the synthetic items say they applied
    offset 0 (an offset that must exist on the event log), so it is taken here."""
    keys: dict[int, str] = {}
    n = 0
    while len(keys) < partitions:
        keys.setdefault(partition_of(f"PRE-{n}", partitions), f"PRE-{n}")
        n += 1
    start = datetime(2030, 1, 1, tzinfo=UTC)
    return [(key.encode(), probe_events(1, 1, start, key, 0)[0][1]) for _, key in sorted(keys.items())]


def run_worker(
    settings: Settings, folder: Path, name: str, items: int, shift: int, expect: int
) -> tuple[Worker, dict[str, float]]:
    """Start a worker in ``folder`` (its state folder there), produce events, and time until it has
    processed them."""
    worker = Worker.start(settings, folder / f"{name}.log", cwd=folder)
    started = time.perf_counter()
    events = probe_events(items, PROBE_EVENTS, datetime(2031, 1, 1, tzinfo=UTC) + timedelta(days=shift), name, shift)
    asyncio.run(produce_values(settings, events))
    worker.wait(lambda: worker.health().get("events", 0) > 0, 1800, f"{name}: its first event")
    to_progress = time.perf_counter() - started
    worker.wait(lambda: worker.health().get("events", 0) >= expect, 1800, f"{name}: {expect} events")
    return worker, {
        "to_progress_s": to_progress,
        "to_all_s": time.perf_counter() - started,
        "restore_s": worker.metric("claimwatch_restore_seconds_total"),
        "restored_items": worker.metric("claimwatch_restored_items_total"),
        "tail_records": worker.metric("claimwatch_restored_tail_records_total"),
        "peak_rss_mb": worker.peak_rss_mb(),
    }


def restarts(settings: Settings, catalogue_items: int, folder: Path) -> dict[str, Any]:
    cold_worker, cold = run_worker(settings, folder, "cold", catalogue_items, 0, PROBE_EVENTS + settings.partitions)
    try:
        before = cold_worker.metric("claimwatch_checkpoints_total")
        cold_worker.wait(
            lambda: (
                cold_worker.metric("claimwatch_checkpoints_total") > before
                and cold_worker.metric("claimwatch_local_state_records_total") > 0
                and not cold_worker.health().get("lag")
            ),
            300,
            "a checkpoint kept locally",
        )
    finally:
        cold_worker.stop(kill=True)
    log(f"a worker that never held the state: {cold}")
    warm_worker, warm = run_worker(settings, folder, "warm", catalogue_items, 1, PROBE_EVENTS)
    warm_worker.stop()
    log(f"restart after kill -9: {warm}")
    return {
        "cold_start_to_progress_s": round(cold["to_progress_s"], 2),
        "cold_start_to_all_probe_events_s": round(cold["to_all_s"], 2),
        "cold_restore_s": round(cold["restore_s"], 2),
        "cold_restore_items_per_s": round(cold["restored_items"] / cold["restore_s"]) if cold["restore_s"] else None,
        "cold_worker_peak_rss_mb": round(cold["peak_rss_mb"], 1),
        "restart_to_progress_s": round(warm["to_progress_s"], 2),
        "restart_to_all_probe_events_s": round(warm["to_all_s"], 2),
        "restart_restore_s": round(warm["restore_s"], 3),
        "restart_tail_records": int(warm["tail_records"]),
        "restore_items_per_s": round(warm["restored_items"] / warm["restore_s"]) if warm["restore_s"] else None,
        "restart_worker_peak_rss_mb": round(warm["peak_rss_mb"], 1),
        "session_timeout_s": settings.session_timeout_seconds,
    }


WEEK_EVENTS_PER_ITEM = 4 * 4 * 24 * 7  # four platforms, each polled every 15 minutes, for a week
PROJECTED_SHARDS = 8
# The template's replay task (infra/claims-report.yaml): 2 vCPU, ``--processes 2``; tests/test_deploy.py
# holds the template to it. Run here on this 2-core machine, one shard of it is measured as it runs.
REPLAY_TASK_PROCESSES = 2
TASK_RUNS = 3  # the replay task's run is repeated: its rate and projection are those of the median run


async def produce_values(settings: Settings, records: list[tuple[bytes, bytes]]) -> None:
    out = AIOKafkaProducer(**settings.client_options(), linger_ms=20, max_batch_size=1024 * 1024)
    await out.start()
    try:
        for key, value in records:
            await out.send(settings.topic("events"), key=key, value=value)
        await out.flush()
    finally:
        await out.stop()


def replay_from_snapshot(
    settings: Settings, folder: Path, events: list[tuple[bytes, bytes]], items: int
) -> dict[str, Any]:
    """Snapshot the worker's generation, put a week of events for some items on the log after it,
    and replay from the snapshot on one shard, then on two side by side."""
    store = snapshots.Store(str(folder / "snapshots"))
    started = time.perf_counter()
    manifest = asyncio.run(snapshots.take(settings, store, datetime.now(UTC), keep_days=14))
    take_s = time.perf_counter() - started
    log(f"snapshot {manifest['name']} taken in {take_s:.1f} s")
    asyncio.run(produce_values(settings, events))
    log(f"{len(events):,} events of the week after it on the log")
    name = manifest["name"]
    one = replay(settings, 2, snapshot=FromSnapshot(name, str(store.location)))
    log(f"replay from the snapshot, one shard: {one.line()}")
    env = dict(os.environ) | {
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "CLAIMWATCH_TOPIC_PREFIX": settings.topic_prefix,
        "CLAIMWATCH_PARTITIONS": str(settings.partitions),
        "CLAIMWATCH_APP_ID": settings.app_id,
        "CLAIMWATCH_SNAPSHOTS": str(store.location),
    }
    command = [sys.executable, "-m", "claimwatch.cli", "replay", "--generation", "3", "--from-snapshot", name]
    begun = time.perf_counter()
    shards = [
        subprocess.Popen([*command, "--shard", f"{i}/2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        for i in range(2)
    ]
    for shard in shards:
        if shard.wait() != 0:
            raise RuntimeError("a replay shard failed")
    two_s = time.perf_counter() - begun
    log(f"replay from the snapshot, two shards side by side: {two_s:.1f} s")
    week_events = items * WEEK_EVENTS_PER_ITEM
    tasks = []
    for run in range(TASK_RUNS):  # the machine is shared: the median of a few runs, each its own generation
        task = replay(
            settings, 4 + run, snapshot=FromSnapshot(name, str(store.location)), processes=REPLAY_TASK_PROCESSES
        )
        log(f"replay from the snapshot, one shard as the replay task runs it ({run + 1}/{TASK_RUNS}): {task.line()}")
        tasks.append((*projection(task, week_events), task.seconds))
    per_process, one_process_min = projection(one, week_events)
    per_task, task_min, task_s = sorted(tasks, key=lambda t: t[0])[len(tasks) // 2]
    return {
        "snapshot_take_s": round(take_s, 1),
        "snapshot_bytes": sum(p["bytes"] for p in manifest["partitions"].values()),
        "replay_week_events": one.records,
        "replay_events_per_s_per_process": round(per_process),
        "replay_1_shard_s": round(one.seconds, 1),
        "replay_2_shards_s": round(two_s, 1),
        "replay_fixed_s": round(one.seconds - one.loop_seconds, 1),
        "replay_task_processes": REPLAY_TASK_PROCESSES,
        "replay_events_per_s_per_task": round(per_task),
        "replay_task_runs_events_per_s": [round(rate) for rate, _, _ in tasks],
        "replay_task_s": round(task_s, 1),
        "replay_week_projected_events": week_events,
        "replay_week_8_shards_1_process_min": one_process_min,
        "replay_week_8_shards_min": task_min,
    }


def projection(report: ReplayReport, week_events: int) -> tuple[float, float | None]:
    """The run's events/s (its loop: reading and applying), and the minutes ``PROJECTED_SHARDS`` runs
    like it take over ``week_events``: each its share of the events at that rate, plus its share of
    the fixed cost (loading the snapshot, writing the state), which goes by items."""
    rate = report.records / report.loop_seconds if report.loop_seconds else 0.0
    if not rate:
        return 0.0, None
    fixed_s = report.seconds - report.loop_seconds
    return rate, round((fixed_s + week_events / rate) / PROJECTED_SHARDS / 60, 1)


REPORTED = date(2026, 11, 16)  # a Monday: week 2026-W47


async def publish_weeks(settings: Settings, weeks: int, rows_per_week: int) -> None:
    out = AIOKafkaProducer(**settings.client_options(), linger_ms=50, max_batch_size=512 * 1024)
    await out.start()
    try:
        for back in range(weeks):
            week = iso_week(REPORTED - timedelta(weeks=back))
            for item in range(rows_per_week):
                key = f"post|{week}|SC-{item:06d}|youtube|p{item}|@SC-{item:06d}"
                value = {"views": item, "likes": item // 7, "note": "x" * 300, "week": week}
                await out.send(settings.topic("rollups"), key=key.encode(), value=orjson.dumps(value))
        await out.flush()
    finally:
        await out.stop()


def weekly_peak_mb(settings: Settings) -> tuple[float, int, float]:
    """Peak RSS (MB) of a process that loads the reported week from Kafka as the weekly job does,
    the rows it kept, and its wall seconds. The peak is the process's own (VmHWM, reset by exec):
    ru_maxrss would carry the bench's own size across the fork."""
    code = (
        "from batch.job import load_kafka; "
        f"loaded = load_kafka({iso_week(REPORTED)!r}); "
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]; "
        "print(len(loaded.inputs.rows), hwm)"
    )
    env = dict(os.environ) | {
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "CLAIMWATCH_TOPIC_PREFIX": settings.topic_prefix,
        "CLAIMWATCH_PARTITIONS": str(settings.partitions),
    }
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    rows, hwm_kb = done.stdout.split()[-2:]
    return int(hwm_kb) / 1024, int(rows), time.perf_counter() - started


def weekly(bootstrap: str, rows_per_week: int) -> dict[str, Any]:
    out: dict[str, Any] = {"weekly_rows_per_week": rows_per_week}
    for weeks in (4, 52):
        tag = uuid.uuid4().hex[:8]
        settings = Settings(bootstrap_servers=bootstrap, topic_prefix=f"scalew{tag}", app_id=f"scalew-{tag}")
        asyncio.run(create_topics(settings))
        asyncio.run(publish_weeks(settings, weeks, rows_per_week))
        peak, rows, seconds = weekly_peak_mb(settings)
        log(f"weekly job, {weeks} weeks retained: peak {peak:.1f} MB, {rows:,} rows kept, {seconds:.1f} s")
        out[f"weekly_job_peak_mb_{weeks}w"] = round(peak, 1)
        out[f"weekly_job_seconds_{weeks}w"] = round(seconds, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench-scale", description=__doc__)
    parser.add_argument("--items", type=int, default=100_000, help="content items in the synthetic state")
    parser.add_argument("--template-items", type=int, default=200, help="items of the generated sample cloned")
    parser.add_argument("--asset-claims", type=int, default=100_000, help="claims of the one asset item (0: none)")
    parser.add_argument("--rows-per-week", type=int, default=20_000, help="roll-up rows per week for the weekly job")
    parser.add_argument(
        "--replay-items", type=int, default=2_000, help="items given a week of events after the snapshot"
    )
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print only the summary, as one JSON object")
    args = parser.parse_args(argv)
    if args.template_items < 40:  # the generator places every scenario: it needs 40 items
        parser.error("--template-items must be at least 40")
    if args.items < 1 or args.replay_items < 0 or args.asset_claims < 0 or args.rows_per_week < 1:
        parser.error("--items and --rows-per-week must be positive, --replay-items and --asset-claims not negative")
    begun = time.perf_counter()
    tag = uuid.uuid4().hex[:8]
    settings = Settings(topic_prefix=f"scale{tag}", app_id=f"scale-{tag}", web_port=free_port())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        templates, later = template_items(folder / "sample", args.template_items, args.seed)
        catalogue = synthetic_state(templates, args.items, args.asset_claims)
        summary: dict[str, Any] = sizes(catalogue)
        log(f"synthetic state: {summary}")
        asyncio.run(create_topics(settings))
        asyncio.run(ensure_state_topic(settings))
        asyncio.run(produce_values(settings, preamble(settings.partitions)))
        written = time.perf_counter()
        asyncio.run(write_changelog(settings, catalogue))
        log(f"changelog written in {time.perf_counter() - written:.0f} s")
        del catalogue
        summary |= restarts(settings, args.items, folder)
        week = week_events(sorted(templates), later, args.replay_items)
        summary |= replay_from_snapshot(settings, folder, week, args.items)
    summary |= weekly(settings.bootstrap_servers, args.rows_per_week)
    summary["bench_seconds"] = round(time.perf_counter() - begun)
    print_summary(summary, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
