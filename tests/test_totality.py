"""Totality, proven with generated inputs: the detection core never raises on any sequence of
valid events, and every reader accounts for every record of any file, whatever its bytes.

Hand-picked cases in the other test files say what the right answer is; these say that there is
always an answer. Example counts are modest so the suite stays fast; ``scripts/fuzz`` runs the
readers over many more corrupted files.
"""

from __future__ import annotations

import gzip
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimwatch.detect.keyed import KeyedMonitors
from claimwatch.detect.novelty import NoveltyDetector, TailSketch
from claimwatch.detect.posts import BucketPolicy, PostModel
from claimwatch.detect.spike import CountRateModel, SpikeDetector
from claimwatch.ingest.readers import ReadLimits, read_file
from schemas import CatalogItem, ClaimEvent, MetricObservation, OwnershipConflict, RightsRecord
from schemas.events import MAX_COUNT, MAX_YEAR, MIN_YEAR

T0 = datetime(2026, 11, 2, tzinfo=UTC)
EDGE_TIMES = [
    datetime(MIN_YEAR, 1, 1, tzinfo=UTC),
    datetime(MAX_YEAR, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime(2100 - 1, 6, 1, tzinfo=UTC),
]
COUNTS = st.one_of(
    st.sampled_from([0, 1, 2, MAX_COUNT, MAX_COUNT - 1, 10**9, 10**12]),
    st.integers(min_value=0, max_value=MAX_COUNT),
    st.integers(min_value=0, max_value=5000),
)
TIMES = st.one_of(
    st.sampled_from(EDGE_TIMES),
    st.integers(min_value=-48 * 3600, max_value=30 * 86400).map(lambda s: T0 + timedelta(seconds=s)),
    st.datetimes(min_value=datetime(MIN_YEAR, 1, 1), max_value=datetime(MAX_YEAR, 12, 31), timezones=st.just(UTC)),
)
IDS = st.sampled_from(["a", "b", "c"])
STATUSES = st.sampled_from(
    ["active", "inactive", "pending", "potential", "disputed", "appealed", "takedown", "unknown", "routed_for_review"]
)


@st.composite
def metric(draw: st.DrawFn) -> MetricObservation:
    daily = draw(st.booleans())
    when = draw(TIMES)
    return MetricObservation(
        event_id=f"m{draw(st.integers(0, 10**6))}",
        source="channel_basic" if daily else "platform_poll",
        granularity="day" if daily else "cumulative",
        platform=draw(st.sampled_from(["youtube", "tiktok", "x"])),
        platform_content_id=draw(IDS),
        event_time=when,
        period_start=when - timedelta(days=1) if daily and when.year > MIN_YEAR else None,
        views=draw(st.none() | COUNTS),
        likes=draw(st.none() | COUNTS),
        comments=draw(st.none() | COUNTS),
        shares=draw(st.none() | COUNTS),
    )


@st.composite
def claim(draw: st.DrawFn) -> ClaimEvent:
    when = draw(TIMES)
    return ClaimEvent(
        event_id=f"c{draw(st.integers(0, 10**6))}",
        source=draw(st.sampled_from(["reporting_api_claims", "partner_api_claim_history", "video_metadata_report"])),
        observed_at=when,
        event_time=when,
        event_type=draw(st.sampled_from(["snapshot", "dispute_created", "appeal_created", "claim_released"])),
        claim_id=draw(IDS),
        asset_id=draw(st.none() | IDS),
        video_id=draw(st.none() | IDS),
        status=draw(STATUSES),
        third_party_claim=draw(st.none() | st.booleans()),
        other_owners_claiming=draw(st.lists(IDS, max_size=2)),
        views_lifetime=draw(st.none() | COUNTS),
        claim_created_at=draw(st.none() | TIMES),
    )


def reference() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(
            CatalogItem,
            content_id=IDS,
            asset_id=st.none() | IDS,
            platform_ids=st.dictionaries(st.sampled_from(["youtube", "tiktok"]), st.lists(IDS, min_size=1, max_size=2)),
        ),
        st.builds(
            RightsRecord,
            asset_id=IDS,
            owner=st.sampled_from(["our-label", "other"]),
            share_pct=st.floats(0, 100),
            territories=st.lists(st.sampled_from(["WW", "US", "GB", "-US"]), min_size=1, max_size=3),
        ),
        st.builds(
            OwnershipConflict,
            event_id=st.text(min_size=1, max_size=5),
            asset_id=IDS,
            conflicting_owner=st.sampled_from(["x", "y"]),
            views_in_conflict=st.none() | COUNTS,
            observed_at=TIMES,
            event_time=TIMES,
        ),
    )


EVENTS = st.lists(st.one_of(metric(), metric(), claim(), reference()), max_size=60)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EVENTS)
def test_the_core_processes_any_sequence_of_valid_events(events: list[Any]) -> None:
    monitors = KeyedMonitors(clock=lambda: T0)
    alerts = []
    for event in events:
        alerts += monitors.process("item", event)
    alerts += monitors.flush()
    for alert in alerts:
        assert 0.0 <= alert.score <= 1.0 and math.isfinite(alert.score)
    monitors.risk_table()
    monitors.quality()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 86400), COUNTS), min_size=1, max_size=80))
def test_a_post_model_takes_any_counters(steps: list[tuple[int, int]]) -> None:
    post, t = PostModel(), T0.timestamp()
    for gap, views in steps:
        t += gap
        for finding in post.observe_totals(t, {"views": views, "likes": views // 20}, BucketPolicy()):
            assert math.isfinite(finding.ratio) and math.isfinite(finding.z)


FAULTS = st.sampled_from(["none", "freeze", "zero", "jump", "reset", "far_future", "late", "repeat", "gap"])


@st.composite
def poll_series(draw: st.DrawFn) -> list[MetricObservation]:
    """A post polled every 15–60 minutes at a steady rate, with faults injected where drawn."""
    rate = draw(st.sampled_from([5.0, 300.0, 1e5, 1e7]))
    faults = draw(st.lists(st.tuples(st.integers(0, 299), FAULTS, st.integers(1, 40)), max_size=4))
    polls, views, t = [], 1000.0, T0
    frozen_until = -1
    for i in range(draw(st.integers(30, 300))):
        t += timedelta(minutes=draw(st.sampled_from([15, 30, 45, 60])))
        fault = next(((kind, n) for at, kind, n in faults if at == i), ("none", 0))
        if fault[0] == "freeze":
            frozen_until = i + fault[1]
        if i > frozen_until:
            views += rate * (1 + 0.3 * math.sin(i / 8))
        reading, when = int(views), t
        if fault[0] == "zero":
            reading = 0
        elif fault[0] == "jump":
            reading += 10**9 * fault[1]
        elif fault[0] == "reset":
            views = float(fault[1])
            reading = fault[1]
        elif fault[0] == "far_future":
            when = datetime(MAX_YEAR, 12, 31, tzinfo=UTC)
        elif fault[0] == "late":
            when = t - timedelta(hours=fault[1])
        elif fault[0] == "gap":
            t += timedelta(hours=fault[1] * 3)
            when = t
        reading = min(reading, MAX_COUNT)
        event = MetricObservation(
            event_id=f"p{i}",
            source="platform_poll",
            granularity="cumulative",
            platform="youtube",
            platform_content_id="v",
            event_time=when,
            views=reading,
            likes=reading // 25,
            shares=reading // 400,
        )
        polls.append(event)
        if fault[0] == "repeat":
            polls.append(event)
    return polls


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(poll_series())
def test_the_core_survives_counter_faults_on_a_busy_post(polls: list[MetricObservation]) -> None:
    monitors = KeyedMonitors(clock=lambda: T0)
    for event in polls:
        for alert in monitors.process("item", event):
            assert 0.0 <= alert.score <= 1.0
    monitors.flush()


FLOATS = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(st.lists(FLOATS, max_size=120))
def test_detectors_learn_and_score_any_finite_values(values: list[float]) -> None:
    novelty, tail, spike, rates = NoveltyDetector(), TailSketch(window=60), SpikeDetector(), CountRateModel()
    t = T0.timestamp()
    for i, x in enumerate(values):
        t += 1800
        assert 0.0 <= novelty.update(x, t) <= 1.0
        tail.learn_one(x)
        assert tail.log_p(x) <= 0.0
        spike.learn(x, t, 1.0)
        spike.zscore(x, t, 1.0)
        count = abs(x) if i % 2 else 0.0
        rates.zscore(count, t, 0.5)
        rates.learn(count, t, 0.5)


def test_a_poll_reading_zero_then_recovering_is_no_spike() -> None:
    """One glitched poll (0) must not turn the recovery into new views."""
    post, t = PostModel(), T0.timestamp()
    views = 100_000
    findings = []
    for i in range(200):
        t += 1800
        views += 300 + (i % 7) * 10
        reading = 0 if i == 150 else views
        findings += post.observe_totals(t, {"views": reading}, BucketPolicy())
    assert not [f for f in findings if f.kind == "view_spike"]
    assert post.counter_resets == 1


def test_an_implausible_jump_is_a_finding_not_a_spike() -> None:
    post, t = PostModel(), T0.timestamp()
    views = 100_000
    findings = []
    for i in range(200):
        t += 1800
        views += 300
        findings += post.observe_totals(t, {"views": views + (10**9 if i == 120 else 0)}, BucketPolicy())
    assert not [f for f in findings if f.kind == "view_spike"]
    assert post.counter_jumps == 1


def test_a_counter_reset_that_holds_becomes_the_new_baseline() -> None:
    post, t = PostModel(), T0.timestamp()
    for i in range(100):
        t += 1800
        post.observe_totals(t, {"views": 50_000 + 300 * i if i < 60 else 300 * (i - 60)}, BucketPolicy())
    assert post.counter_resets == BucketPolicy().rebase_after_polls
    assert post.last_totals["views"] == 300 * 39


# ------------------------------------------------------------------------------------ readers

SAMPLES = {
    "polls.jsonl": (
        b'{"platform":"youtube","platform_content_id":"v1","observed_at":"2026-11-02T10:00:00Z","views_total":100}\n'
        b'{"platform":"tiktok","platform_content_id":"t1","observed_at":"2026-11-02T10:15:00Z","views_total":7}\n'
    ),
    "rights.csv": b"asset_id,custom_id,isrc,owner,right_type,territories,share_pct,valid_from,valid_to\n"
    b"A1,C1,I1,our-label,general,WW,100,2024-01-01,\nA2,C2,I2,other,performance,US|GB,50,,\n",
    "claims_20261102.csv": b"claim_id,channel_id,asset_id,video_id,claim_status,claim_origin,views\n"
    b"c1,UC1,A1,v1,ACTIVE,Audio match,10\nc2,UC2,A1,v2,PENDING,Manual,20\n",
    "history.json": b'[{"kind":"youtubePartner#claimHistory","id":"c1","uploaderChannelId":"UC1",'
    b'"event":[{"time":"2026-11-02T01:00:00Z","type":"claim_create"}]}]',
}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(sorted(SAMPLES)),
    cuts=st.lists(st.tuples(st.integers(0, 400), st.binary(max_size=8)), max_size=4),
    gz=st.booleans(),
)
def test_every_reader_accounts_for_every_record_of_any_file(
    tmp_path: Path, name: str, cuts: list[tuple[int, bytes]], gz: bool
) -> None:
    data = bytearray(SAMPLES[name])
    for at, junk in cuts:
        at = min(at, len(data))
        data[at : at + len(junk)] = junk
    payload = bytes(data)
    if gz:
        payload = gzip.compress(payload)[: max(10, len(payload) - len(cuts))]
    path = tmp_path / name
    path.write_bytes(payload)
    result = read_file(path, limits=ReadLimits(max_line_bytes=200, max_document_bytes=4000))
    assert result.reconciles(), (result.records, result.accepted, len(result.quarantined))
    for entry in result.quarantined:
        assert entry.reason and entry.reason_code


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=600))
def test_any_bytes_are_read_or_quarantined(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "blob"
    path.write_bytes(data)
    result = read_file(path, limits=ReadLimits(max_line_bytes=100))
    assert result.reconciles()
