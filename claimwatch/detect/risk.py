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
    elif f.status in ("takedown", "delayed_takedown", "takedown_under_review"):
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
