"""Rules for dispute risk: a claim's or an asset's risk crossing high."""

from __future__ import annotations

from datetime import datetime

from claimwatch.detect import policy
from claimwatch.detect.alerting import Candidate
from claimwatch.detect.claimstate import ClaimState
from claimwatch.detect.dispute_risk import risk_level
from claimwatch.detect.rules.claims import claim_alert, where
from claimwatch.detect.timeutil import rfc3339
from schemas.events import ClaimEvent


def crossed_high(score: float, previous: float) -> bool:
    """A risk alert is news once: when the score enters the high band, not while it stays there."""
    return risk_level(score) == "high" and risk_level(previous) != "high"


def claim_risk_alert(state: ClaimState, event: ClaimEvent, content_id: str | None, previous: float) -> Candidate | None:
    """The claim's dispute risk (``state.risk``, its drivers) after ``event``, if it just crossed high."""
    score = state.risk
    if not crossed_high(score, previous):
        return None
    return claim_alert(
        state,
        event,
        content_id,
        type_="dispute_risk",
        severity=policy.risk_severity(score),
        score=score,
        title=f"Dispute risk of claim {state.claim_id}{where(state)} is high ({score:.2f})",
        rule="dispute_risk.crossed_high",
        identity=("high",),
        extra={"level": "high", "drivers": state.risk_drivers, "previous_score": previous},
    )


def asset_risk_alert(
    asset_id: str,
    content_id: str | None,
    title: str | None,
    when: datetime,
    score: float,
    previous: float,
    drivers: list[dict[str, object]],
    open_disputes: list[str],
    open_appeals: list[str],
) -> Candidate | None:
    """The asset's dispute risk from its context (conflicts, a surge, open disputes), if it just crossed high."""
    if not crossed_high(score, previous):
        return None
    named = f" ({title})" if title else ""
    return Candidate(
        type="dispute_risk",
        severity=policy.risk_severity(score),
        score=score,
        subject={"asset_id": asset_id, "content_id": content_id},
        event_time=when,
        title=f"Dispute risk of asset {asset_id}{named} is high ({score:.2f})",
        evidence={
            "rule": "dispute_risk.asset_crossed_high",
            "level": "high",
            "drivers": drivers,
            "previous_score": previous,
            "open_disputes": open_disputes[:10],
            "open_appeals": open_appeals[:10],
        },
        identity=(asset_id, "asset_risk", rfc3339(when)),
        dedup_key=(asset_id, "asset_risk"),
    )
