"""``scripts/bench-stream``: the stream path on one broker, in one run.

1. raw aiokafka consume rate of the event log (the ceiling: bytes off the broker, nothing else);
2. the worker's end-to-end rate on the same records (decode, detect, alerts, changelog);
3. their ratio;
4. latency from produce to alert at half the measured worker capacity: claim records that each
   raise an alert, produced at a steady rate, matched to their alerts by the broker timestamps.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from claimwatch.ingest.readers import read_paths
from schemas.events import ClaimEvent
from stream.codec import decode_alert, encode_event
from stream.ingest import publish
from stream.kafka_io import producer, topic_partitions
from stream.settings import Settings
from stream.topics import create_topics


async def raw_consume_rate(settings: Settings, repeats: int = 3) -> tuple[float, int]:
    rates, count = [], 0
    for _ in range(repeats):
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
        await consumer.start()
        try:
            tps = await topic_partitions(consumer, settings.topic("events"))
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


def pending_claims(n: int, start: datetime) -> list[ClaimEvent]:
    return [
        ClaimEvent(
            event_id=f"bench-{i}",
            source="partner_api_claim",
            observed_at=start + timedelta(seconds=i),
            event_time=start + timedelta(seconds=i),
            claim_id=f"bench-claim-{i}",
            asset_id=f"BENCH{i % 64}",
            video_id=f"bv{i}",
            status="potential",
            status_raw="potential",
        )
        for i in range(n)
    ]


async def latency_at(settings: Settings, rate: float, seconds: float) -> list[float]:
    """Produce alert-raising claims at ``rate``/s; return produce→alert latencies in ms."""
    events = pending_claims(max(1, int(rate * seconds)), datetime(2030, 1, 1, tzinfo=UTC))
    sent_ms: dict[str, int] = {}
    out = producer(settings)
    await out.start()
    alerts = AIOKafkaConsumer(
        settings.topic("alerts"), bootstrap_servers=settings.bootstrap_servers, auto_offset_reset="latest",
        group_id=f"bench-latency-{time.time_ns()}",
    )  # fmt: skip
    await alerts.start()
    await alerts.getmany(timeout_ms=1000)  # join and position at the end before producing
    latencies: list[float] = []
    started = time.perf_counter()
    try:
        for i, event in enumerate(events):
            due = started + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            meta = await (
                await out.send(
                    settings.topic("events"), key=f"asset:{event.asset_id}".encode(), value=encode_event(event)
                )
            )
            sent_ms[event.claim_id] = meta.timestamp
        deadline = time.perf_counter() + 60
        while len(latencies) < len(events) and time.perf_counter() < deadline:
            batch = await alerts.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    alert = decode_alert(record.value)
                    claim = alert.subject.claim_id or ""
                    if claim in sent_ms:
                        latencies.append(float(record.timestamp - sent_ms.pop(claim)))
    finally:
        await out.stop()
        await alerts.stop()
    return latencies


def main() -> int:
    from claimwatch.cli import BUNDLED_SAMPLE
    from tests.streamkit import isolated_settings, start_worker, wait_drained

    settings = isolated_settings()
    asyncio.run(create_topics(settings))
    report = asyncio.run(publish(read_paths([BUNDLED_SAMPLE]), settings))
    records = report.published["events"]
    raw_rate, consumed = asyncio.run(raw_consume_rate(settings))
    print(f"raw aiokafka consume: {raw_rate:,.0f} records/s (median of 3, {consumed:,} records)", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        worker = start_worker(settings, Path(tmp), "bench")
        try:
            while (worker.health() or {}).get("events", 0) == 0:
                time.sleep(0.2)
            first = time.perf_counter()
            wait_drained([worker], timeout_s=1800)
            idle = (worker.health() or {}).get("seconds_since_progress", 0.0)
            elapsed = time.perf_counter() - first - float(idle)
            worker_rate = records / elapsed
            print(f"worker end to end: {worker_rate:,.0f} events/s", file=sys.stderr)
            latencies = asyncio.run(latency_at(settings, worker_rate / 2, seconds=20))
        finally:
            worker.stop()
    latencies.sort()
    summary = {
        "records": records,
        "raw_consume_per_s": round(raw_rate),
        "worker_events_per_s": round(worker_rate),
        "worker_over_raw": round(worker_rate / raw_rate, 4),
        "latency_rate_per_s": round(worker_rate / 2),
        "latency_samples": len(latencies),
        "latency_p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "latency_p99_ms": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1)
        if latencies
        else None,
    }
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
