"""The alert rules' own gates, pinned at each boundary (the severity ladders are in test_policy).

Each rule is a pure function: these tests call it with a finding and check what alert comes out,
or that none does, on both sides of every threshold.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from claimwatch.detect.claimstate import Burst, ClaimState, Transition
from claimwatch.detect.dispute_risk import HIGH
from claimwatch.detect.posts import Finding
from claimwatch.detect.rules import claims, rights, risk, spikes
from claimwatch.detect.timeutil import rfc3339
from tests.builders import at, claim, conflict, poll

T = at(100)


def _state(views: int | None = 50_000, **fields: Any) -> ClaimState:
    return ClaimState(claim_id="C1", asset_id="A1", video_id="v1", views=views, **fields)


TRANSITIONS: list[tuple[str | None, str, int, bool, list[tuple[str, str]]]] = [
    # old, new, views, our video → the alerts (type, severity)
    (None, "pending", 99_999, False, [("content_id_flag", "low")]),
    ("active", "pending", 100_000, False, [("content_id_flag", "medium")]),
    ("pending", "potential", 5_000_000, False, []),  # still waiting for review: already flagged
    ("active", "disputed", 10, False, [("dispute_opened", "medium")]),
    ("disputed", "appealed", 10, False, [("dispute_opened", "high")]),
    ("appealed", "appealed", 10, False, []),
    ("active", "takedown", 10, False, [("dispute_opened", "critical")]),
    ("active", "inactive", 999_999, False, []),  # someone else's video, under a million views
    ("active", "inactive", 1_000_000, False, [("performance_discrepancy", "medium")]),
    ("active", "inactive", 0, True, [("performance_discrepancy", "high")]),
    ("pending", "inactive", 5_000_000, True, []),  # never earned: nothing lost
]


@pytest.mark.parametrize(("old", "new", "views", "ours", "expected"), TRANSITIONS)
def test_a_status_change_raises_what_its_rule_says(
    old: str | None, new: str, views: int, ours: bool, expected: list[tuple[str, str]]
) -> None:
    state = _state(views, status=new)
    found = claims.transition_alerts(Transition(state, old, new, T.timestamp()), claim("C1", T, new), "CW-1", ours)
    assert [(c.type, c.severity) for c in found] == expected
    assert all(c.subject["content_id"] == "CW-1" and c.subject["claim_id"] == "C1" for c in found)


DISCREPANCIES: list[tuple[int, int, float, str | None]] = [
    # claimed, measured, hours between the two → severity, or None for no alert
    (90_000, 20_000, 0.0, "high"),
    (90_000, 20_000, 12.0, "high"),
    (90_000, 20_000, 12.01, None),  # not the same moment
    (90_000, 9_999, 0.0, None),  # too small to judge
    (14_999, 10_000, 0.0, None),  # apart by less than 5,000
    (24_999, 10_000, 0.0, "medium"),  # apart by more, 2.5x
    (20_001, 10_000, 0.0, None),  # 2.0x: ordinary lag
    (40_005, 10_000, 0.0, "high"),  # over 4x
    (100_000, 200_001, 0.0, None),  # exactly half: ordinary lag
    (100_000, 200_003, 0.0, "medium"),  # just under half
    (100_000, 210_000, 0.0, "medium"),
]


@pytest.mark.parametrize(("claimed", "measured", "hours", "expected"), DISCREPANCIES)
def test_claimed_against_measured_views(claimed: int, measured: int, hours: float, expected: str | None) -> None:
    event = claim("C1", T, "active", views_lifetime=claimed, video_id="v1")
    found = claims.discrepancy_alert(_state(), event, None, measured, T.timestamp() - hours * 3600)
    assert (found.severity if found else None) == expected


def test_a_third_party_claim_on_our_video_is_a_high_flag() -> None:
    found = claims.third_party_alert(_state(), claim("C1", T), "CW-1")
    assert (found.type, found.severity, found.evidence["rule"]) == (
        "content_id_flag",
        "high",
        "content_id_flag.third_party_on_own_video",
    )


@pytest.mark.parametrize(
    ("count", "expected", "severity"), [(15, 3.0, "high"), (14, 1.0, "medium"), (20, 4.01, "medium")]
)
def test_a_claim_surge_names_its_asset_count_and_usual(count: int, expected: float, severity: str) -> None:
    burst = Burst("A1", "new_claims", count, expected, 1e-9, 3, 10)
    found = claims.surge_alert(burst, "CW-1", T)
    assert found.severity == severity and found.subject == {"asset_id": "A1", "content_id": "CW-1"}
    assert found.title.startswith(f"{count} new claims on asset A1 in one day")
    assert found.evidence["window"]["end"] == rfc3339(T) and found.evidence["observed"] == count


RISK_CROSSINGS: list[tuple[float, float, str | None]] = [
    # score, previous → severity of the alert, or None
    (HIGH, 0.0, "high"),
    (HIGH - 1e-9, 0.0, None),
    (0.93, HIGH - 1e-9, "critical"),
    (0.99, HIGH, None),  # already high: said once
]


@pytest.mark.parametrize(("score", "previous", "expected"), RISK_CROSSINGS)
def test_risk_alerts_when_it_crosses_high_once(score: float, previous: float, expected: str | None) -> None:
    state = _state(status="disputed", risk=score, risk_drivers=[{"driver": "appealed"}])
    found = risk.claim_risk_alert(state, claim("C1", T, "disputed"), None, previous)
    assert (found.severity if found else None) == expected
    found_asset = risk.asset_risk_alert("A1", "CW-1", "Song", T, score, previous, [], ["C1"], [])
    assert (found_asset.severity if found_asset else None) == expected
    if found_asset:
        assert found_asset.subject == {"asset_id": "A1", "content_id": "CW-1"} and "(Song)" in found_asset.title


def _finding(kind: str, ratio: float, novelty: float = 0.9, hours: float = 4.0, metric: str | None = None) -> Finding:
    return Finding(
        kind,  # type: ignore[arg-type]
        T,
        z=8.0,
        ratio=ratio,
        observed=2_000.0 * ratio,
        expected=2_000.0,
        bucket_hours=hours,
        bucket_start=T - timedelta(hours=hours),
        novelty=novelty,
        metric=metric,
        windows=2,  # sustained over two windows: severity by what is at stake
    )


def test_a_metric_finding_becomes_a_spike_drop_or_engagement_alert_naming_its_metric() -> None:
    event = poll("p1", T, 10_000)
    spike = spikes.metric_alert(_finding("view_spike", 5.0), event, "CW-1")
    drop = spikes.metric_alert(_finding("view_drop", 0.1, hours=3.0), event, "CW-1")
    shares = spikes.metric_alert(_finding("engagement_spike", 4.6, metric="shares"), event, "CW-1")
    assert (spike.type, spike.severity) == ("view_spike", "high")
    assert (drop.type, drop.severity, drop.title) == (
        "view_spike",
        "medium",
        "Views of youtube post p1 fell to 0.10x of usual",
    )
    assert (shares.type, shares.evidence["metric"]) == ("engagement_spike", "shares")
    assert shares.title == "Shares per view of youtube post p1 at 4.6x of usual"
    assert "shares per view" in shares.evidence["expected_basis"]


@pytest.mark.parametrize(("earlier", "severity"), [(1, "high"), (2, "critical")])
def test_propagation_names_the_first_platform_and_the_lag(earlier: int, severity: str) -> None:
    platforms = {"tiktok": T - timedelta(hours=30), "instagram": T - timedelta(hours=5)}
    chosen = dict(sorted(platforms.items(), key=lambda kv: kv[1])[:earlier])
    found = spikes.propagation_alert("CW-1", poll("p1", T, 10), _finding("view_spike", 5.0), chosen, "A1")
    assert found.severity == severity and found.evidence["first_platform"] == "tiktok"
    assert found.evidence["lag_hours"] == 30.0 and found.subject["asset_id"] == "A1"


def test_rights_rules_carry_owner_share_and_views() -> None:
    ours_all = rights.conflict_alert(conflict("A1", "Rival", T, views=10), "CW-1", 100.0)
    partly = rights.conflict_alert(conflict("A1", "Rival", T, views=10), "CW-1", 50.0)
    assert (ours_all.severity, partly.severity) == ("high", "medium")
    assert ours_all.evidence["our_share_pct"] == 100.0 and "Rival claims ownership of asset A1" in ours_all.title
