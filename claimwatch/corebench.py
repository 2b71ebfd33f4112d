"""``claimwatch bench``: throughput and peak memory of the detection core.

A generated data set of at least a million events (irregular polls of thousands of posts with
daily seasonality and injected spikes, plus daily claim snapshots of busy assets) is built in
memory first, so the figures measure the detection core alone, not file parsing. Each repeat
runs in a fresh process so its peak RSS is its own; medians are printed.
"""

from __future__ import annotations

import gc
import json
import math
import multiprocessing
import random
import resource
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from claimwatch.detect.monitor import Monitor
from claimwatch.detect.state import stored_size
from schemas.events import CatalogItem, ClaimEvent, Event, MetricObservation

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def make_events(target: int, seed: int = 1) -> list[Event]:
    """About ``target`` events in data-time order; built with ``model_construct`` (already valid)."""
    rng = random.Random(seed)
    days = 14
    polls_per_post = days * 24 * 60 // 37  # a poll every ~37 minutes
    claim_share = 0.08
    posts = max(1, int(target * (1 - claim_share) / polls_per_post))
    events: list[tuple[float, Event]] = []
    catalog: list[Event] = []
    for p in range(posts):
        pid = f"p{p:06d}"
        platform = ("youtube", "tiktok", "instagram")[p % 3]
        catalog.append(
            CatalogItem.model_construct(
                content_id=f"CW-{p // 2:06d}", title="t", platform_ids={platform: [pid]}, asset_id=f"A{p // 2:06d}"
            )
        )
        rate = math.exp(rng.gauss(4.0, 1.2))
        spike_at = rng.uniform(96, days * 24 - 24) if p % 25 == 0 else -1e9
        views, likes, t = 10_000.0, 400.0, rng.uniform(0, 0.6)
        for _ in range(polls_per_post):
            step = rng.uniform(0.25, 1.0)
            seasonal = 1 + 0.4 * math.cos(2 * math.pi * (t - 20) / 24)
            boost = 4.0 if spike_at <= t < spike_at + 12 else 1.0
            gained = rate * seasonal * boost * step * math.exp(rng.gauss(0, 0.1))
            views += gained
            likes += gained * 0.04
            t += step
            when = T0 + timedelta(hours=t)
            events.append(
                (
                    t * 3600,
                    MetricObservation.model_construct(
                        event_id=f"{pid}{t}",
                        source="platform_poll",
                        granularity="cumulative",
                        platform=platform,
                        platform_content_id=pid,
                        event_time=when,
                        views=int(views),
                        likes=int(likes),
                        comments=None,
                        shares=None,
                        channel_id=None,
                    ),
                )
            )
    claims_needed = int(target * claim_share)
    per_day = max(1, claims_needed // days)
    assets = max(1, per_day // 40)
    for d in range(days):
        when = T0 + timedelta(days=d + 1, seconds=-1)
        for i in range(per_day):
            asset = f"A{i % assets:06d}"
            events.append(
                (
                    when.timestamp() - T0.timestamp(),
                    ClaimEvent.model_construct(
                        event_id=f"c{i}-{d}",
                        source="reporting_api_claims",
                        observed_at=when,
                        event_time=when,
                        event_type="snapshot",
                        claim_id=f"c{i}",
                        asset_id=asset,
                        video_id=f"v{i}",
                        channel_id=f"UC{i}",
                        status="active" if (i + d) % 97 else "disputed",
                        origin="audio_match",
                        claim_created_at=None,
                        views_lifetime=1000 + d * 10,
                        third_party_claim=None,
                        policy_action_by_territory={},
                        longest_match_s=None,
                        video_duration_s=None,
                        dispute_reason=None,
                        video_title=None,
                        channel_title=None,
                        custom_id=None,
                        isrc=None,
                        status_raw="",
                        other_owners_claiming=[],
                        source_file="",
                        source_line=0,
                    ),
                )
            )
    events.sort(key=lambda pair: pair[0])
    return catalog + [e for _, e in events]


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def _one_run(target: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    events = make_events(target)
    gc.collect()
    rss_before = _current_rss_mb()
    monitor = Monitor(clock=lambda: T0)
    alerts = 0
    started = time.perf_counter()
    for event in events:
        alerts += len(monitor.process(event))
    alerts += len(monitor.flush())
    elapsed = time.perf_counter() - started
    state_mb = _current_rss_mb() - rss_before
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sizes = sorted(stored_size(post) for post in monitor.posts.values()) or [0]
    queue.put(
        {
            "events": len(events),
            "seconds": elapsed,
            "events_per_s": len(events) / elapsed,
            "us_per_event": elapsed / len(events) * 1e6,
            "alerts": alerts,
            "posts": len(monitor.posts),
            "claims": len(monitor.claims.claims),
            "peak_rss_mb": peak_mb,
            "state_rss_mb": state_mb,
            "post_state_bytes_p50": sizes[len(sizes) // 2],
            "post_state_bytes_max": sizes[-1],
        }
    )


def main(events: int = 1_000_000, repeats: int = 3, quiet: bool = False) -> int:
    if events < 1:
        raise ValueError("--events must be positive")
    context = multiprocessing.get_context("spawn")
    runs = []
    for n in range(repeats):
        queue = context.Queue()
        process = context.Process(target=_one_run, args=(events, queue))
        process.start()
        result = queue.get()
        process.join()
        runs.append(result)
        if not quiet:
            print(
                f"run {n + 1}: {result['events']:,} events in {result['seconds']:.2f}s = "
                f"{result['events_per_s']:,.0f} ev/s ({result['us_per_event']:.1f} µs/event), peak RSS "
                f"{result['peak_rss_mb']:.0f} MB (input events included), model state {result['state_rss_mb']:.0f} MB",
                file=sys.stderr,
            )
    summary = {
        "events": runs[0]["events"],
        "posts": runs[0]["posts"],
        "claims": runs[0]["claims"],
        "alerts": runs[0]["alerts"],
        "median_events_per_s": round(statistics.median(r["events_per_s"] for r in runs)),
        "median_us_per_event": round(statistics.median(r["us_per_event"] for r in runs), 2),
        "median_peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in runs), 1),
        "median_model_state_rss_mb": round(statistics.median(r["state_rss_mb"] for r in runs), 1),
        # The stored (versioned JSON) size of each post model at the end of the run.
        "post_state_bytes_p50": runs[0]["post_state_bytes_p50"],
        "post_state_bytes_max": runs[0]["post_state_bytes_max"],
        "repeats": repeats,
    }
    print(json.dumps(summary, indent=1))
    return 0


def novelty_cost(series_dir: Path, repeats: int = 5, quiet: bool = False) -> int:
    """Cost per value of the novelty detector over every series under ``series_dir`` (NAB's data)."""
    from claimwatch.detect.novelty import NoveltyDetector
    from claimwatch.evaluate import epoch_of, read_series

    series = [
        [(epoch_of(stamp), value) for stamp, value in read_series(path)] for path in sorted(series_dir.rglob("*.csv"))
    ]
    values = sum(len(s) for s in series)
    if not values:
        raise ValueError(f"no timestamp,value CSV files under {series_dir}")
    timings = []
    for n in range(repeats):
        started = time.perf_counter()
        for one in series:
            detector = NoveltyDetector()
            for t, value in one:
                detector.update(value, t)
        timings.append((time.perf_counter() - started) / values * 1e6)
        if not quiet:
            print(f"run {n + 1}: {values:,} values, {timings[-1]:.2f} µs/value", file=sys.stderr)
    sizes = []
    for one in series:
        detector = NoveltyDetector()
        for t, value in one:
            detector.update(value, t)
        sizes.append(stored_size(detector))
    sizes.sort()
    summary = {
        "series": len(series),
        "values": values,
        "median_us_per_value": round(statistics.median(timings), 2),
        "values_per_s": round(1e6 / statistics.median(timings)),
        "post_state_bytes_p50": sizes[len(sizes) // 2],
        "post_state_bytes_max": sizes[-1],
        "repeats": repeats,
    }
    print(json.dumps(summary, indent=1))
    return 0
