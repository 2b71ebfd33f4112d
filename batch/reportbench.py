"""``scripts/bench-report``: the weekly report job at catalogue scale, on one core.

A generated catalogue (default: 100,000 content items, one YouTube post each polled twice a day
for two weeks, and 150,000 claims listed on each day of the reported week: 1,050,000 claim
observations) goes through the detection core, which leaves its roll-up rows in a run folder; then
``claimwatch report --from-dir`` runs on it in a child process pinned to one core, and the wall
time and peak memory of that child are printed (the weekly task has 1 vCPU and 3 GB).
``--json`` prints the figures as one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from batch.report import ROLLUPS_FILE, rollup_lines
from claimwatch.detect.keyed import KeyedMonitors
from claimwatch.runfolder import write_jsonl
from schemas.events import CatalogItem, ClaimEvent, Event, MetricObservation

START = datetime(2026, 11, 2, tzinfo=UTC)  # the Monday of the week before the reported one
REPORTED_WEEK = "2026-W46"
STATUSES = ("active",) * 40 + ("inactive", "disputed", "appealed", "potential")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def item_events(item: int, claims: list[int], rng: random.Random, day: int) -> Iterator[Event]:
    """One item's events of one day, in data-time order: two polls, then its claims report rows."""
    video = f"v{item:010d}"
    base = 10_000 + item % 5_000
    for hour in (6, 18):
        when = START + timedelta(days=day, hours=hour)
        hours = day * 24 + hour
        yield MetricObservation(
            event_id=f"p{item}-{hours}",
            source="platform_poll",
            granularity="cumulative",
            platform="youtube",
            platform_content_id=video,
            event_time=when,
            views=base * hours // 10 + rng.randrange(50),
            likes=hours * 3,
            comments=hours,
            shares=hours // 2,
        )
    if day < 7:
        return  # claims reports of the reported week only: that is where the million observations are
    day_end = START + timedelta(days=day + 1) - timedelta(seconds=1)
    for claim in claims:
        status = STATUSES[(claim * 7 + (day - 7) * (claim % 3)) % len(STATUSES)] if claim % 10 == 0 else "active"
        yield ClaimEvent(
            event_id=f"c{claim}-{day}",
            source="reporting_api_claims",
            observed_at=day_end,
            event_time=day_end,
            claim_id=f"C{claim:09d}",
            asset_id=f"A{item:09d}",
            video_id=f"u{claim:010d}",
            channel_id=f"UC{claim % 997}",
            status=status,
            status_raw=status.upper(),
            content_type="audio",
            origin="audio_match",
            claim_created_at=START - timedelta(days=claim % 60),
        )


def derive(folder: Path, items: int, claims: int) -> dict[str, Any]:
    """Run the core over the generated catalogue; write the run folder the report job reads."""
    rng = random.Random(7)
    by_item: dict[int, list[int]] = {}
    for claim in range(claims):
        by_item.setdefault(rng.randrange(items), []).append(claim)
    monitors = KeyedMonitors()
    rows: dict[str, dict[str, Any]] = {}
    # Deriving is the fixture, not the measurement: without the cyclic collector scanning 100,000
    # items' objects again and again it takes minutes instead of a quarter of an hour.
    gc.disable()
    events = observations = 0
    started = time.perf_counter()
    for item in range(items):
        content_id = f"CW-{item:06d}"
        monitors.step(
            content_id,
            CatalogItem(
                content_id=content_id,
                title=f"Song {item}",
                asset_id=f"A{item:09d}",
                platform_ids={"youtube": [f"v{item:010d}"]},
            ),
        )
    for day in range(14):
        for item in range(items):
            for event in item_events(item, by_item.get(item, []), rng, day):
                monitors.step(f"CW-{item:06d}", event)
                events += 1
                observations += event.kind == "claim"
        rows.update(monitors.take_rollups())  # what the worker's checkpoints publish
        log(f"  day {day + 1}/14: {events:,} events, {len(rows):,} roll-up rows")
    rows.update(monitors.take_rollups())
    gc.enable()
    folder.mkdir(parents=True, exist_ok=True)
    write_jsonl(folder / ROLLUPS_FILE, rollup_lines(rows))
    write_jsonl(folder / "alerts.jsonl", [])
    write_jsonl(folder / "quarantine.jsonl", [])
    return {
        "items": items,
        "claims": claims,
        "claim_observations": observations,
        "events": events,
        "derive_seconds": round(time.perf_counter() - started, 1),
        "rollup_rows": len(rows),
        "rollups_mb": round((folder / ROLLUPS_FILE).stat().st_size / 1e6, 1),
    }


def report_on_one_core(folder: Path, out: Path) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "claimwatch.cli",
        "report",
        "--week",
        REPORTED_WEEK,
        "--from-dir",
        str(folder),
        "--out",
        str(out),
    ]
    if hasattr(os, "sched_setaffinity"):
        command = ["taskset", "-c", "0", *command]
    # Measured from a small intermediate process: a child forked from this one (which holds the whole
    # derived catalogue) would be charged this process's resident pages until it execs.
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK_OF_CHILD, *command], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 4):
        raise SystemExit(f"report failed ({done.returncode}): {done.stderr[-2000:]}")
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    return {
        "report_seconds": round(seconds, 1),
        "report_peak_rss_mb": round(peak_kb / 1024, 1),
        "exit_code": done.returncode,
    }


PEAK_OF_CHILD = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench-report", description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--claims", type=int, default=150_000, help="claims listed each day of the week")
    parser.add_argument("--json", action="store_true", help="print only the figures, as one JSON object")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        log(f"deriving roll-ups: {args.items:,} items, {args.claims:,} claims listed daily")
        figures = derive(Path(tmp) / "run", args.items, args.claims)
        log(f"report of {REPORTED_WEEK} on one core")
        figures |= report_on_one_core(Path(tmp) / "run", Path(tmp) / "reports")
        figures["report_files_bytes"] = sum(p.stat().st_size for p in (Path(tmp) / "reports").rglob("*") if p.is_file())
    if not args.json:
        for key, value in figures.items():
            log(f"  {key:28} {value}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
