"""The weekly job's memory from Kafka does not grow with the weeks the roll-ups topic retains."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import date, timedelta

from aiokafka import AIOKafkaProducer

from claimwatch.detect.rollup import iso_week
from stream.settings import Settings
from tests.streamkit import env_for, isolated_settings, needs_kafka, setup_topics

pytestmark = needs_kafka

REPORTED = date(2026, 11, 16)  # a Monday: week 2026-W47
ROWS_PER_WEEK = 4_000


async def publish_weeks(settings: Settings, weeks: int) -> None:
    out = AIOKafkaProducer(**settings.client_options(), linger_ms=50, max_batch_size=512 * 1024)
    await out.start()
    try:
        for back in range(weeks):
            week = iso_week(REPORTED - timedelta(weeks=back))
            for item in range(ROWS_PER_WEEK):
                key = f"post|{week}|CW-{item:06d}|youtube|p{item}"
                value = {"views": item, "note": "x" * 300, "week": week}
                await out.send(settings.topic("rollups"), key=key.encode(), value=json.dumps(value).encode())
        await out.flush()
    finally:
        await out.stop()


def peak_of_loading(settings: Settings) -> tuple[int, int]:
    """Peak traced memory (bytes) of ``load_kafka`` for the reported week, and the rows it kept."""
    code = (
        "import tracemalloc; tracemalloc.start(); from batch.job import load_kafka; "
        f"loaded = load_kafka({iso_week(REPORTED)!r}); "
        "print(tracemalloc.get_traced_memory()[1], len(loaded.inputs.rows))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env_for(settings), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    peak, rows = done.stdout.split()
    return int(peak), int(rows)


def test_peak_memory_of_the_week_is_the_same_with_twelve_or_twenty_four_weeks_retained() -> None:
    peaks = {}
    for weeks in (12, 24):
        settings = isolated_settings()
        setup_topics(settings)
        asyncio.run(publish_weeks(settings, weeks))
        peak, rows = peak_of_loading(settings)
        assert rows == 2 * ROWS_PER_WEEK  # the week and the one before it, whatever else is retained
        peaks[weeks] = peak
    # Twice the history; the rows of other weeks are scanned and dropped, never held: what is left
    # is the client's fetch buffer, full from a few weeks on (measured: 35.8 MB at 12, 16 and 24
    # weeks; the job that loaded the whole topic first: 56 MB at 12, 92 MB at 24).
    assert peaks[24] < 1.1 * peaks[12], peaks
