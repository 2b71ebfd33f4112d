"""Dispute risk of one claim: how likely it is to become (or stay) a costly dispute.

The drivers follow the dispute lifecycle (``youtube-formats.md`` §4): an open dispute or appeal,
reinstatements (an appeal follows one), a dispute inside the 5-day revenue-hold window, manual
or descriptive-search origins, short matches, other owners on the asset, block policies, little
time left on the 30-day / 7-day review timers, and the video's view velocity, which YouTube's
own guidance uses to prioritise disputes. Each driver adds to a logit; the score is its sigmoid.

>>> f = RiskFeatures(status="appealed", reinstatements=1, views_per_day=400_000.0, manual_origin=True)
>>> score, drivers = dispute_risk(f)
>>> risk_level(score), [d["driver"] for d in drivers][:2]
('high', ['appeal open', '400,000 views/day'])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from claimwatch.detect.claimstate import TAKEDOWN_STATES

BASE_LOGIT = -3.0
HIGH = 0.8
MEDIUM = 0.5


@dataclass(frozen=True)
class RiskFeatures:
    status: str = "active"
    reinstatements: int = 0
    disputed_within_5_days: bool = False
    manual_origin: bool = False
    short_match: bool = False
    other_owners: bool = False
    block_policy: bool = False
    days_left: float | None = None
    views_per_day: float = 0.0
    dispute_reason: str | None = None


def dispute_risk(f: RiskFeatures) -> tuple[float, list[dict[str, object]]]:
    """Score in [0, 1] and the drivers that made it, largest first."""
    drivers: list[tuple[str, float]] = []
    if f.status == "appealed":
        drivers.append(("appeal open", 2.5))
    elif f.status in TAKEDOWN_STATES:
        drivers.append(("takedown requested", 3.0))
    elif f.status == "disputed":
        drivers.append(("dispute open", 1.5))
    if f.reinstatements:
        drivers.append((f"reinstated {f.reinstatements}x", 0.8 * min(f.reinstatements, 3)))
    if f.disputed_within_5_days:
        drivers.append(("disputed within 5 days of the claim (revenue held from day 1)", 0.6))
    if f.manual_origin:
        drivers.append(("manual or descriptive-search claim", 0.8))
    if f.short_match:
        drivers.append(("short match", 0.7))
    if f.other_owners:
        drivers.append(("other owners claim the asset or video", 1.0))
    if f.block_policy:
        drivers.append(("block policy (can escalate straight to appeal)", 0.4))
    if f.days_left is not None and f.days_left <= 3 and f.status in ("disputed", "appealed"):
        drivers.append((f"{max(f.days_left, 0):.1f} days left to respond", 0.5))
    if f.views_per_day > 0:
        weight = min(1.5, math.log10(1.0 + f.views_per_day / 10_000.0))
        if weight >= 0.05:
            drivers.append((f"{f.views_per_day:,.0f} views/day", round(weight, 3)))
    if f.dispute_reason in ("licensed", "original_content", "public_domain"):
        drivers.append((f"dispute reason: {f.dispute_reason}", 0.3))
    logit = BASE_LOGIT + sum(w for _, w in drivers)
    score = 1.0 / (1.0 + math.exp(-logit))
    ranked = sorted(drivers, key=lambda d: (-d[1], d[0]))
    return round(score, 4), [{"driver": name, "weight": round(w, 3)} for name, w in ranked]


def risk_level(score: float) -> str:
    return "high" if score >= HIGH else "medium" if score >= MEDIUM else "low"


# ------------------------------------------------------------------------------------ assets
# An asset's risk is its context, which no single claim shows: another owner disputing the asset,
# a surge of new claims on it, several of its claims disputed or appealed at once. Any one of them
# is routine; together they are how a claim pattern becomes a dispute the rights team must fight.

ASSET_BASE_LOGIT = -3.5
ASSET_CONFLICT = 2.0  # another owner claims the asset (conflict report or rights over 100 %)
ASSET_SURGE = 1.5  # a claim surge on the asset in the last ASSET_SURGE_DAYS
ASSET_SURGE_DAYS = 7.0
ASSET_FIRST_DISPUTE = 1.5  # one open dispute on the asset's claims
ASSET_MORE_DISPUTES = 0.3  # each further one, up to ASSET_MORE_DISPUTES_CAP of them
ASSET_MORE_DISPUTES_CAP = 2
ASSET_APPEAL = 1.0  # each open appeal, up to ASSET_APPEALS_CAP
ASSET_APPEALS_CAP = 2
ASSET_TAKEDOWN = 2.0  # a takedown requested on one of its claims
ASSET_TIMER = 0.5  # an open dispute or appeal with ASSET_TIMER_DAYS or less left to respond
ASSET_TIMER_DAYS = 3.0
ASSET_VELOCITY_CAP = 1.0  # log10(1 + views a day / 10,000) of its claimed videos, at most this


@dataclass(frozen=True)
class AssetRiskFeatures:
    conflicts: int = 0
    surged: bool = False
    open_disputes: int = 0
    open_appeals: int = 0
    takedowns: int = 0
    least_days_left: float | None = None
    views_per_day: float = 0.0


def asset_dispute_risk(f: AssetRiskFeatures) -> tuple[float, list[dict[str, object]]]:
    """Score in [0, 1] of one asset and the drivers that made it, largest first.

    >>> high, _ = asset_dispute_risk(AssetRiskFeatures(conflicts=1, surged=True, open_disputes=1))
    >>> routine, _ = asset_dispute_risk(AssetRiskFeatures(open_appeals=1, views_per_day=500_000.0))
    >>> risk_level(high), risk_level(routine)
    ('high', 'low')
    """
    drivers: list[tuple[str, float]] = []
    if f.conflicts:
        drivers.append(
            (f"ownership conflict ({f.conflicts} other owner{'s' if f.conflicts > 1 else ''})", ASSET_CONFLICT)
        )
    if f.surged:
        drivers.append((f"claim surge in the last {ASSET_SURGE_DAYS:.0f} days", ASSET_SURGE))
    if f.open_disputes:
        more = min(f.open_disputes - 1, ASSET_MORE_DISPUTES_CAP)
        drivers.append(
            (
                f"{f.open_disputes} open dispute{'s' if f.open_disputes > 1 else ''}",
                ASSET_FIRST_DISPUTE + ASSET_MORE_DISPUTES * more,
            )
        )
    if f.open_appeals:
        drivers.append(
            (
                f"{f.open_appeals} open appeal{'s' if f.open_appeals > 1 else ''}",
                ASSET_APPEAL * min(f.open_appeals, ASSET_APPEALS_CAP),
            )
        )
    if f.takedowns:
        drivers.append((f"{f.takedowns} takedown{'s' if f.takedowns > 1 else ''} requested", ASSET_TAKEDOWN))
    if f.least_days_left is not None and f.least_days_left <= ASSET_TIMER_DAYS:
        drivers.append((f"{max(f.least_days_left, 0):.1f} days left to respond", ASSET_TIMER))
    if f.views_per_day > 0:
        weight = min(ASSET_VELOCITY_CAP, math.log10(1.0 + f.views_per_day / 10_000.0))
        if weight >= 0.05:
            drivers.append((f"{f.views_per_day:,.0f} views/day on its claimed videos", round(weight, 3)))
    logit = ASSET_BASE_LOGIT + sum(w for _, w in drivers)
    score = 1.0 / (1.0 + math.exp(-logit))
    ranked = sorted(drivers, key=lambda d: (-d[1], d[0]))
    return round(score, 4), [{"driver": name, "weight": round(w, 3)} for name, w in ranked]
