"""Alert policy: how severe each finding is, as named thresholds and small pure functions.

The detectors say what happened (a rate 4.6x its usual, a claim appealed, an asset at 0.83
risk); these ladders say how loudly to say it. Each is one function per alert type, grouped by
domain, its thresholds named, typed with the contract's ``Severity``; ``tests/test_policy.py``
pins every boundary, so a one-line change of a tier fails a fast test.

>>> spike_severity(score=0.7, ratio=4.0), flag_severity(views=99_999), risk_severity(0.93)
('high', 'low', 'critical')
"""

from __future__ import annotations

from schemas.alerts import Severity

# ------------------------------------------------------------------------------------ spikes

SPIKE_MIN_SCORE = 0.6  # below it, or below SPIKE_MEDIUM_RATIO, a spike is worth a glance only
SPIKE_MEDIUM_RATIO = 2.2
SPIKE_HIGH_RATIO = 4.0
DROP_MEDIUM_HOURS = 3.0  # a fall sustained over a bucket this long can be a block or takedown
PROPAGATION_CRITICAL_EARLIER = 2  # spiking on this many platforms before: critical


def spike_severity(score: float, ratio: float) -> Severity:
    """A view or engagement spike, from its score and how many times its usual it is."""
    if score < SPIKE_MIN_SCORE or ratio < SPIKE_MEDIUM_RATIO:
        return "low"
    return "high" if ratio >= SPIKE_HIGH_RATIO else "medium"


def drop_severity(bucket_hours: float) -> Severity:
    return "medium" if bucket_hours >= DROP_MEDIUM_HOURS else "low"


def propagation_severity(earlier_platforms: int) -> Severity:
    """Content spiking on one more platform after ``earlier_platforms`` others."""
    return "critical" if earlier_platforms >= PROPAGATION_CRITICAL_EARLIER else "high"


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
