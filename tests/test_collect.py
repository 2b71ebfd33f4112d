"""The collectors without a broker: the quota planner, and each collector against the local stand-in
of Google's APIs through the maintained clients (every failure mode the issue names)."""

from __future__ import annotations

import gzip
import itertools
import json
import math
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claimwatch.collect.collectors import ContentIdCollector, PollCollector, ReportingCollector
from claimwatch.collect.google import Access, ApiFailure, Apis
from claimwatch.collect.planner import (
    IDS_PER_CALL,
    DailyBudget,
    Planner,
    PlannerConfig,
    pacific_day_bounds,
)
from claimwatch.collect.standin import RunningStandin
from claimwatch.ingest.readers import read_file
from claimwatch.sample.generator import generate

T0 = datetime(2026, 11, 2, 12, tzinfo=UTC).timestamp()
HOUR = 3600.0

# ------------------------------------------------------------------------------------- the planner


def test_the_budget_is_paced_through_the_pacific_day_and_never_exceeded_across_dst() -> None:
    budget = DailyBudget(units_per_day=9_000, burst_share=0.01)
    # 2026-11-01 is the end of daylight saving time in the US: that Pacific day has 25 hours.
    start, end = pacific_day_bounds(datetime(2026, 11, 1, 12, tzinfo=UTC).timestamp())
    assert end - start == 25 * HOUR
    t, stop = start, pacific_day_bounds(start + 2.5 * 86_400)[1]  # three whole Pacific days
    while t < stop:
        allowed = budget.allowed(t)
        budget.spend(t, allowed)
        t += 60
    spent = budget.spent_by_day
    assert max(spent.values()) <= 9_000
    assert min(spent.values()) >= 8_900  # the pace spends what the day allows, not less


@pytest.mark.parametrize(
    ("signal", "expected_first"),
    [
        ("upload", "fresh"),
        ("alert", "alerted"),
        ("claims", "claimed"),
        ("rising", "rising"),
    ],
)
def test_a_video_with_a_signal_is_read_before_a_quiet_one(signal: str, expected_first: str) -> None:
    planner = Planner(PlannerConfig(budget_units_per_day=10_000, reserve_units=0))
    for video in ("quiet", expected_first):
        planner.add(video, published=T0 - 400 * 24 * HOUR)
        planner.record(video, T0 - 2 * HOUR, views=10_000)
        planner.record(video, T0 - HOUR, views=10_100)  # 100 views an hour, its usual
    if signal == "upload":
        planner.add("fresh", published=T0 - 3 * HOUR)
    elif signal == "alert":
        planner.flag_alert("alerted", T0 + 24 * HOUR)
    elif signal == "claims":
        planner.flag_claims("claimed", T0 + 48 * HOUR)
    else:
        planner.record("rising", T0 - 0.5 * HOUR, views=10_250)  # 300 an hour: 3x its usual
    rows = planner.explain(T0)
    assert rows[0]["video_id"] == expected_first
    assert rows[0]["hazard"] > rows[1]["hazard"]
    assert rows[0]["reasons"] != ["floor cadence"]


def test_the_floor_reads_every_video_within_a_day_and_the_minimum_interval_holds() -> None:
    planner = Planner(PlannerConfig(budget_units_per_day=200, reserve_units=0, floor_hours=24.0))
    for v in range(2_000):
        planner.add(f"v{v}")
    planner.add("hot")
    planner.flag_alert("hot", T0 + 100 * HOUR)
    reads: dict[str, list[float]] = {}
    t = T0
    while t < T0 + 48 * HOUR:
        for batch in planner.due(t):
            assert len(batch) <= IDS_PER_CALL and len(set(batch)) == len(batch)
            for video in batch:
                reads.setdefault(video, []).append(t)
                planner.record(video, t, views=int(t))
        t += 300
    assert len(reads) == 2_001
    for video, times in reads.items():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(g >= 15 * 60 for g in gaps), video
        assert times[0] < T0 + 24 * HOUR and all(g <= 24 * HOUR + 300 for g in gaps), video
    assert len(reads["hot"]) > 10 * len(reads["v1"])


@settings(max_examples=60, deadline=None)
@given(
    budget=st.integers(1, 400),
    reserve=st.integers(0, 50),
    steps=st.lists(
        st.tuples(
            st.floats(0, 6 * HOUR),
            st.sampled_from(["add", "alert", "claims", "read", "due", "gone"]),
            st.integers(0, 30),
            st.integers(0, 10**9),
        ),
        max_size=60,
    ),
)
def test_whatever_happens_the_planner_never_spends_past_its_budget(
    budget: int, reserve: int, steps: list[tuple[float, str, int, int]]
) -> None:
    config = PlannerConfig(budget_units_per_day=budget + reserve, reserve_units=reserve)
    planner = Planner(config)
    t = T0
    for gap, action, video, value in steps:
        t += gap
        vid = f"v{video}"
        if action == "add":
            planner.add(vid, published=t - value % (1000 * HOUR))
        elif action == "alert":
            planner.flag_alert(vid, t + value % (48 * HOUR))
        elif action == "claims":
            planner.flag_claims(vid, t + HOUR)
        elif action == "read":
            planner.record(vid, t, views=value)
        elif action == "gone":
            planner.record(vid, t, views=None)
        else:
            for batch in planner.due(t):
                assert 0 < len(batch) <= IDS_PER_CALL
                for v in batch:
                    planner.record(v, t, views=value)
        for row in planner.explain(t):
            assert row["hazard"] > 0 and math.isfinite(row["hazard"])
    assert all(spent <= budget for spent in planner.budget.spent_by_day.values())


def test_the_planner_state_survives_its_chunks() -> None:
    planner = Planner()
    for v in range(5_001):
        planner.add(f"v{v}", published=T0 - v * HOUR, guess=True)
    planner.record("v7", T0, views=123)
    planner.flag_alert("v9", T0 + HOUR)
    planner.add("v11", published=T0 - HOUR)  # the API's upload time
    planner.add("v11", published=T0 - 900 * HOUR, guess=True)  # a catalogue date does not replace it
    chunks = json.loads(json.dumps(planner.to_chunks()))
    assert len(chunks) == 3
    again = Planner()
    for chunk in chunks:
        again.load_chunk(chunk)
    assert again.explain(T0 + 60) == planner.explain(T0 + 60)
    assert not again.upload_unknown("v11") and again.upload_unknown("v12")
    assert again.published[again.index["v11"]] == T0 - HOUR


def test_the_bench_planner_beats_round_robin_on_a_small_catalogue() -> None:
    from claimwatch.collect.plansim import run

    # 10,000 videos at a tenth of the budget: the same pressure as 100,000 at 10,000 units.
    result = run(seed=5, catalogue=10_000, config=PlannerConfig(budget_units_per_day=1_000, reserve_units=100))
    assert result["max_units_spent_per_day"] <= 900
    assert result["planner_median_delay_h"] < result["round_robin_median_delay_h"]
    for key in ("budget_units_per_day", "planner_p90_delay_h", "round_robin_median_delay_h"):
        assert key in result


# ------------------------------------------------------------------------------------- the stand-in


@pytest.fixture(scope="module")
def sample_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("collect-sample")
    generate(folder, seed=7, items=40, days=8)
    return folder


@pytest.fixture
def standin(sample_folder: Path) -> Iterator[RunningStandin]:
    with RunningStandin(sample_folder) as running:
        yield running


def control(running: RunningStandin, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        running.url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def usage(running: RunningStandin) -> Any:
    with urllib.request.urlopen(running.url + "/standin/usage", timeout=10) as response:
        return json.loads(response.read())


def apis_for(running: RunningStandin, refresh_token: str = "standin-refresh") -> Apis:
    return Apis(
        Access(
            client_id="claimwatch-test",
            client_secret="not-a-secret",
            refresh_token=refresh_token,
            token_uri=running.url + "/token",
            api_root=running.url,
            content_owner="owner-1",
        )
    )


REPORT_TYPES = ["content_owner_active_claims_a3", "content_owner_asset_conflict_a3", "channel_basic_a3"]


def _plain(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if path.suffix == ".gz" else raw


def test_reports_are_fetched_whole_once_and_a_reissue_adds_only_what_changed(
    standin: RunningStandin, sample_folder: Path, tmp_path: Path
) -> None:
    collector = ReportingCollector(apis_for(standin), tmp_path, REPORT_TYPES)
    unit = collector.collect({}, datetime.now(tz=UTC))
    assert not unit.failure and not unit.quarantined
    # channel_basic is not system-managed: its job was created; the others existed.
    assert set(unit.state["jobs"]) >= set(REPORT_TYPES)
    sources = {p.name.split(".")[0]: p for p in sample_folder.rglob("*") if p.name.startswith(tuple(REPORT_TYPES))}
    fetched = {p.name.split(".")[0]: p for p in unit.files}
    assert fetched.keys() == sources.keys()
    assert all(_plain(sources[name]) == fetched[name].read_bytes() for name in fetched)
    again = collector.collect(unit.state, datetime.now(tz=UTC))
    assert again.files == [] and again.state["seen"] == unit.state["seen"]
    # A re-issue of one day with one row changed: a new report id, read whole; what the first issue
    # gave is known (not published again), so only the changed row's events are new.
    name = sorted(n for n in fetched if n.startswith("content_owner_active_claims"))[-1]
    day = datetime.strptime(name.rsplit("_", 1)[1], "%Y%m%d").date()
    lines = fetched[name].read_text().splitlines()
    changed = lines[1].replace("ACTIVE", "INACTIVE", 1)
    assert changed != lines[1]
    body = "\n".join([lines[0], changed, *lines[2:]]) + "\n"
    control(
        standin,
        "/standin/reissue",
        {"report_type": "content_owner_active_claims_a3", "day": day.isoformat(), "body": body},
    )
    reissued = collector.collect(again.state, datetime.now(tz=UTC))
    assert len(reissued.files) == 1 and reissued.files[0].name == fetched[name].name
    new_ids = {e.event_id for e in read_file(reissued.files[0]).events}  # type: ignore[union-attr]
    assert len(new_ids - reissued.known_ids) == 1
    assert set(reissued.restated) == new_ids - reissued.known_ids  # the corrected row, under a new id


def test_claims_and_histories_follow_the_watermark_without_gaps_or_repeats(
    standin: RunningStandin, sample_folder: Path, tmp_path: Path
) -> None:
    collector = ContentIdCollector(apis_for(standin), tmp_path)
    data = standin.standin.data
    times = sorted({v[0] for versions in data.claim_versions.values() for v in versions})
    middle = times[len(times) // 2]
    control(standin, "/standin/clock", {"now": middle.isoformat()})
    first = collector.collect({}, datetime.now(tz=UTC))
    control(standin, "/standin/clock", {"now": (times[-1] + timedelta(days=2)).isoformat()})
    second = collector.collect(first.state, datetime.now(tz=UTC))
    third = collector.collect(second.state, datetime.now(tz=UTC))
    assert third.files == [] and not third.quarantined
    snippets = [
        json.loads(line)
        for unit in (first, second)
        for path in unit.files
        if path.name.startswith("claims_api_")
        for line in path.read_text().splitlines()
    ]
    pairs = [(s["id"], s["timeStatusLastModified"]) for s in snippets]
    assert len(pairs) == len(set(pairs))
    # Every claim record of the files is seen: each claim at its latest version by the time it was asked.
    assert {cid for cid, _ in pairs} >= set(data.claim_versions)
    # History events: every one of the folder's, and each published once (later copies are known).
    events = [
        e
        for unit in (first, second)
        for path in unit.files
        if path.name.startswith("claim_history_")
        for e in read_file(path).events
        if e.event_id not in unit.known_ids  # type: ignore[union-attr]
    ]
    published = [e.event_id for e in events]  # type: ignore[union-attr]
    assert len(published) == len(set(published))
    expected = {
        e.event_id  # type: ignore[union-attr]
        for path in sample_folder.rglob("claim_history_*")
        for e in read_file(path).events
    }
    assert expected <= set(published)


def test_the_poller_reads_what_the_planner_chose_and_stops_at_the_quota(
    standin: RunningStandin, tmp_path: Path
) -> None:
    planner = Planner(PlannerConfig(budget_units_per_day=10_000, reserve_units=0, burst_share=0.5))
    videos = sorted(standin.standin.data.polls)
    for video in videos:
        planner.add(video)
    planner.add("deleted-video")
    collector = PollCollector(apis_for(standin), tmp_path, planner)
    now = datetime.now(tz=UTC)
    unit = collector.collect({}, now)
    rows = [json.loads(line) for line in unit.files[0].read_text().splitlines()]
    assert {r["platform_content_id"] for r in rows} == set(videos)
    # The first reading asked each video's upload time too (snippet.publishedAt); the next do not.
    assert all(not planner.upload_unknown(v) for v in videos) and planner.upload_unknown("deleted-video")
    result = read_file(unit.files[0])
    assert result.quarantined == [] and len(result.events) == len(videos)
    assert usage(standin)["units"] and sum(usage(standin)["units"].values()) == collector.calls
    # quotaExceeded: the poller stops until midnight Pacific and says so; nothing is lost or raised.
    control(standin, "/standin/faults", {"api": "data", "faults": ["quota"]})
    later = now + timedelta(hours=25)
    stopped = collector.collect({}, later)
    assert "quota_exceeded" in stopped.failure and "until" in stopped.failure
    assert planner.budget.stopped_until == pacific_day_bounds(later.timestamp())[1]
    assert collector.collect({}, later + timedelta(minutes=5)).files == []


@pytest.mark.parametrize("fault", ["429", "500", "503"])
def test_rate_limits_and_server_errors_are_retried_by_the_client(
    standin: RunningStandin, tmp_path: Path, fault: str
) -> None:
    collector = ContentIdCollector(apis_for(standin), tmp_path)
    control(standin, "/standin/faults", {"api": "partner", "faults": [fault, fault]})
    unit = collector.collect({}, datetime.now(tz=UTC))
    assert not unit.failure and unit.files


def test_an_expired_token_is_refreshed_once_and_a_refused_one_is_one_clear_failure(
    standin: RunningStandin, tmp_path: Path
) -> None:
    collector = ReportingCollector(apis_for(standin), tmp_path, REPORT_TYPES[:1])
    unit = collector.collect({}, datetime.now(tz=UTC))
    issued = usage(standin)["tokens_issued"]
    control(standin, "/standin/faults", {"api": "reporting", "faults": ["unauthorized"]})
    again = collector.collect({"jobs": {}}, datetime.now(tz=UTC))
    assert not again.failure
    assert usage(standin)["tokens_issued"] == issued + 1
    assert unit.files
    with pytest.raises(ApiFailure) as refused:
        ReportingCollector(apis_for(standin, "revoked"), tmp_path, REPORT_TYPES[:1]).collect({}, datetime.now(tz=UTC))
    assert refused.value.kind == "unauthorised"
    assert "revoked" not in str(refused.value) and "not-a-secret" not in str(refused.value)


@pytest.mark.parametrize("fault", ["malformed", "truncated"])
def test_a_malformed_body_is_quarantined_with_its_bytes(standin: RunningStandin, tmp_path: Path, fault: str) -> None:
    planner = Planner(PlannerConfig(reserve_units=0, burst_share=0.5))
    for video in sorted(standin.standin.data.polls)[:10]:
        planner.add(video)
    collector = PollCollector(apis_for(standin), tmp_path, planner)
    control(standin, "/standin/faults", {"api": "data", "faults": [fault]})
    unit = collector.collect({}, datetime.now(tz=UTC))
    assert unit.files == [] and len(unit.quarantined) == 1
    entry = unit.quarantined[0]
    assert entry.reason_code == "malformed_response" and entry.raw and "videos.list" in entry.source_file


def test_items_of_the_wrong_shape_are_quarantined_one_by_one(tmp_path: Path) -> None:
    from claimwatch.collect.collectors import _poll_record

    assert _poll_record({"id": 12, "statistics": {}}, "2026-11-02T00:00:00Z") is None
    assert _poll_record({"id": "x", "statistics": "lots"}, "2026-11-02T00:00:00Z") is None
    row = _poll_record({"id": "x", "statistics": {"viewCount": "lots"}}, "2026-11-02T00:00:00Z")
    path = tmp_path / "polls_youtube_20261102T000000.jsonl"
    path.write_text(json.dumps(row) + "\n")
    result = read_file(path)
    assert result.events == [] and len(result.quarantined) == 1  # "lots" is not a count


def test_credentials_come_from_secrets_manager_and_are_never_shown(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    from claimwatch.cli import main
    from claimwatch.collect.google import access_from_environment
    from tests.streamkit import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        for name, value in {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "CLAIMWATCH_GOOGLE_CLIENT_SECRET": "env-secret-never-shown",
        }.items():
            monkeypatch.setenv(name, value)
        secrets = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="eu-west-1")
        stored = {
            "client_id": "cid-from-secret",
            "client_secret": "s3cr3t-from-aws",
            "refresh_token": "1//refresh-from-aws",
        }
        secrets.create_secret(Name="claimwatch/google", SecretString=json.dumps(stored))
        monkeypatch.setenv("CLAIMWATCH_GOOGLE_SECRET_ID", "claimwatch/google")
        access = access_from_environment()
        assert (access.client_id, access.client_secret, access.refresh_token) == tuple(stored.values())
        assert "s3cr3t" not in repr(access) and "refresh-from-aws" not in repr(access)
        secrets.create_secret(Name="claimwatch/bad", SecretString="not json")
        monkeypatch.setenv("CLAIMWATCH_GOOGLE_SECRET_ID", "claimwatch/bad")
        with pytest.raises(ValueError, match="not a JSON object"):
            access_from_environment()
        assert main(["config", "show", "--json"]) == 0
        shown = capsys.readouterr().out
        assert "env-secret-never-shown" not in shown and "CLAIMWATCH_GOOGLE_CLIENT_SECRET" in shown
    finally:
        server.stop()


def test_unreachable_apis_are_one_line_and_exit_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from claimwatch.cli import main
    from tests.streamkit import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    for name, value in {
        "CLAIMWATCH_GOOGLE_API_ROOT": dead,
        "CLAIMWATCH_GOOGLE_TOKEN_URI": dead + "/token",
        "CLAIMWATCH_GOOGLE_CLIENT_ID": "a",
        "CLAIMWATCH_GOOGLE_CLIENT_SECRET": "b",
        "CLAIMWATCH_GOOGLE_REFRESH_TOKEN": "c",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["collect", "--once"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("claimwatch: error: ") and "unavailable" in err and len(err.strip().splitlines()) == 1
