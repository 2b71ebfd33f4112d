"""Alert policy: how severe each finding is, as named thresholds and small pure functions.

The detectors say what happened (a rate 4.6x its usual, a claim appealed, an asset at 0.83
risk); these ladders say how loudly to say it. Each is one function per alert type, grouped by
domain, its thresholds named, typed with the contract's ``Severity``; ``tests/test_policy.py``
pins every boundary, so a one-line change of a tier fails a fast test.

>>> spike_severity(score=0.7, ratio=4.0, excess=9_000), flag_severity(views=99_999), risk_severity(0.93)
('high', 'low', 'critical')
>>> spike_severity(score=0.9, ratio=5.0, excess=18, metric='comments')  # 22 comments where 4 were usual
'low'
"""

from __future__ import annotations

from schemas.alerts import Severity

# ------------------------------------------------------------------------------------ spikes

SPIKE_MIN_SCORE = 0.7  # below it, or below SPIKE_MEDIUM_RATIO, a spike is worth a glance only
SPIKE_MEDIUM_RATIO = 2.2
SPIKE_HIGH_RATIO = 4.0
# Severity by what is at stake: the count beyond the usual over the alert's window, per metric.
# Below the medium floor a surge is real but nobody acts on it (22 comments where 4 were usual);
# from the high floor it is big whatever its ratio (3x on 200,000 views an hour). A surge of
# SPIKE_HIGH_RATIO or more is high from HIGH_RATIO_FLOOR_FACTOR times the medium floor.
IMPACT_FLOORS: dict[str, tuple[float, float]] = {  # metric: (medium, high) extra counts
    "views": (1_000.0, 50_000.0),
    "likes": (250.0, 5_000.0),
    "comments": (40.0, 1_000.0),
    "shares": (40.0, 1_000.0),
}
HIGH_RATIO_FLOOR_FACTOR = 5.0
# A surge is more than low once it has lasted this long (hours since its first window began): a
# burst of an hour from one link or one audience is common and gone before anyone could act; a
# surge that spreads content lasts, and a 3x on 200,000 views an hour is high two hours in.
SUSTAINED_HOURS: dict[str, float] = {"views": 2.0, "likes": 6.0, "comments": 6.0, "shares": 6.0}
SUSTAINED_WINDOWS = 2  # and over this many of its windows: one long window can hold a short wave
DROP_MEDIUM_HOURS = 3.0  # a fall sustained over a bucket this long can be a block or takedown
PROPAGATION_CRITICAL_EARLIER = 2  # spiking on this many platforms before: critical


def spike_is_sure(score: float, ratio: float) -> bool:
    """Whether a view or engagement spike is beyond doubt and large for the post (what medium needs)."""
    return score >= SPIKE_MIN_SCORE and ratio >= SPIKE_MEDIUM_RATIO


def impact(excess: float, metric: str = "views") -> Severity:
    """How much is at stake in ``excess`` counts of ``metric`` beyond the usual: low, medium or high."""
    medium, high = IMPACT_FLOORS[metric]
    return "high" if excess >= high else "medium" if excess >= medium else "low"


def spike_severity(
    score: float, ratio: float, excess: float, metric: str = "views", hours: float = 24.0, windows: int = 2
) -> Severity:
    """A view or engagement spike of ``excess`` extra counts of ``metric`` over ``hours`` and
    ``windows`` so far: sure and large for the post (score, ratio), sustained, then by what is at stake."""
    if not spike_is_sure(score, ratio):
        return "low"
    if hours < SUSTAINED_HOURS[metric] or windows < SUSTAINED_WINDOWS:
        return "low"
    medium, _ = IMPACT_FLOORS[metric]
    if ratio >= SPIKE_HIGH_RATIO and excess >= medium * HIGH_RATIO_FLOOR_FACTOR:
        return "high"
    return impact(excess, metric)


def drop_severity(bucket_hours: float, missing_views: float) -> Severity:
    """A fall of views: medium when sustained (a block or takedown can look so) and a real loss."""
    return "medium" if bucket_hours >= DROP_MEDIUM_HOURS and impact(missing_views) != "low" else "low"


def propagation_severity(earlier_platforms: int, excess_views: float) -> Severity:
    """Content spiking on one more platform after ``earlier_platforms`` others; low while the new
    platform's extra views are below the medium floor (spreading, but nothing at stake yet)."""
    if impact(excess_views) == "low":
        return "low"
    return "critical" if earlier_platforms >= PROPAGATION_CRITICAL_EARLIER else "high"


def viral_without_claim_severity(excess_views: float) -> Severity:
    """A YouTube video spiking while none of our claims on it is active: revenue not collected."""
    return VIRAL_WITHOUT_CLAIM if impact(excess_views) != "low" else "low"


# ------------------------------------------------------------------------------------ claims

FLAG_VIEWS_MEDIUM = 100_000  # an unreviewed claim on a video this big is worth a reviewer's time
FLAG_VIEWS_HIGH = 1_000_000
THIRD_PARTY_ON_OWN_VIDEO: Severity = "high"
DISPUTE_SEVERITY: dict[str, Severity] = {"disputed": "medium", "appealed": "high"}  # takedowns: critical
DISCREPANCY_HIGH_BELOW = 0.25  # claimed views under a quarter, or over 4x, of the measured ones
DISCREPANCY_HIGH_ABOVE = 4.0
SURGE_HIGH_RATIO = 5.0
SURGE_HIGH_COUNT = 15
VIRAL_WITHOUT_CLAIM: Severity = "high"


def flag_severity(views: int) -> Severity:
    """A claim waiting for review (pending, potential, routed for review), by its video's views."""
    return "high" if views >= FLAG_VIEWS_HIGH else "medium" if views >= FLAG_VIEWS_MEDIUM else "low"


def dispute_opened_severity(status: str) -> Severity:
    """A claim entering a dispute state: disputed, appealed, or a takedown of some kind."""
    return DISPUTE_SEVERITY.get(status, "critical")


def release_severity(our_video: bool) -> Severity:
    """A revenue-bearing claim released: on our own video it is lost revenue for certain."""
    return "high" if our_video else "medium"


def discrepancy_severity(claimed_over_measured: float) -> Severity:
    ratio = claimed_over_measured
    return "high" if ratio < DISCREPANCY_HIGH_BELOW or ratio > DISCREPANCY_HIGH_ABOVE else "medium"


def surge_severity(ratio: float, count: int) -> Severity:
    """A day's new claims (or status changes) on an asset, against its usual."""
    return "high" if ratio >= SURGE_HIGH_RATIO and count >= SURGE_HIGH_COUNT else "medium"


# ------------------------------------------------------------------------------------ rights

CONFLICT_HIGH_VIEWS = 10_000  # daily views in conflict
CONFLICT_HIGH_OUR_SHARE = 100.0  # we own it all, and someone else says they do too
OTHER_OWNERS_HIGH_VIEWS = 100_000  # lifetime views of our video that other owners claim
OVER_100_PERCENT: Severity = "high"


def conflict_severity(our_share_pct: float, daily_views: int) -> Severity:
    """Another owner claims an asset (the asset conflicts report)."""
    high = our_share_pct >= CONFLICT_HIGH_OUR_SHARE or daily_views >= CONFLICT_HIGH_VIEWS
    return "high" if high else "medium"


def other_owners_severity(views: int) -> Severity:
    """Other owners claim our own video (the video report)."""
    return "high" if views >= OTHER_OWNERS_HIGH_VIEWS else "medium"


# ------------------------------------------------------------------------------------ risk

RISK_CRITICAL = 0.93  # a dispute_risk alert is raised when the score crosses high (risk.HIGH)


def risk_severity(score: float) -> Severity:
    return "critical" if score >= RISK_CRITICAL else "high"
