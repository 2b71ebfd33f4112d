"""Rules for Content ID claims: flags for review, disputes, releases, surges, claimed vs measured views."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from claimwatch.detect import policy
from claimwatch.detect.alerting import Candidate
from claimwatch.detect.claimstate import DISPUTE_STATES, PENDING_REVIEW, Burst, ClaimState, Transition
from claimwatch.detect.timeutil import DAY, rfc3339
from schemas.alerts import AlertType, Severity
from schemas.events import ClaimEvent

RELEASE_VIEWS_MEDIUM = 1_000_000  # a released claim on someone else's video matters from this many views
# Claimed against measured views: only where both are big enough, and far enough apart, to mean something.
DISCREPANCY_MIN_MEASURED = 10_000
DISCREPANCY_MIN_GAP = 5_000
DISCREPANCY_USUAL_RANGE = (0.5, 2.0)  # claimed / measured inside this is ordinary lag between the two
DISCREPANCY_MAX_APART_S = 12 * 3600  # the poll and the report must describe the same moment


def where(state: ClaimState) -> str:
    """Where a claim is, for a title: its video, else its asset. A claim history event can arrive
    before the day's claims report names the video; "on video None" helps nobody."""
    if state.video_id:
        return f" on video {state.video_id}"
    return f" on asset {state.asset_id}" if state.asset_id else ""


def claim_alert(
    state: ClaimState,
    event: ClaimEvent,
    content_id: str | None,
    *,
    type_: AlertType,
    severity: Severity,
    score: float,
    title: str,
    rule: str,
    identity: tuple[object, ...],
    dedup: tuple[object, ...] | None = None,
    extra: dict[str, object] | None = None,
) -> Candidate:
    """An alert about one claim: its ids as the subject, the record that raised it in the evidence."""
    return Candidate(
        type=type_,
        severity=severity,
        score=score,
        subject={
            "claim_id": state.claim_id or None,
            "asset_id": state.asset_id,
            "video_id": state.video_id,
            "channel_id": state.channel_id,
            "content_id": content_id,
            "platform": "youtube",
        },
        event_time=event.event_time,
        title=title,
        evidence={
            "rule": rule,
            "status": state.status,
            "status_raw": event.status_raw,
            "source": event.source,
            "source_file": event.source_file,
            "source_line": event.source_line,
            "views": state.views,
            "origin": state.origin,
            **(extra or {}),
        },
        identity=(state.claim_id or state.video_id, *identity),
        dedup_key=(state.claim_id or state.video_id, *(dedup or identity)),
    )


def transition_alerts(tr: Transition, event: ClaimEvent, content_id: str | None, our_video: bool) -> list[Candidate]:
    """What one status change of a claim says: flagged for review, disputed, or revenue released."""
    state, old, new = tr.claim, tr.old, tr.new
    views = state.views or 0
    out: list[Candidate] = []
    if new in PENDING_REVIEW and old not in PENDING_REVIEW:
        out.append(
            claim_alert(
                state,
                event,
                content_id,
                type_="content_id_flag",
                severity=policy.flag_severity(views),
                score=min(1.0, 0.3 + views / 2_000_000),
                title=f"Claim {state.claim_id}{where(state)} is {new.replace('_', ' ')} ({views:,} views); "
                "unreviewed claims expire after 30 days",
                rule=f"content_id_flag.{new}",
                identity=(new,),
            )
        )
    if new in DISPUTE_STATES and old != new:
        severity = policy.dispute_opened_severity(new)
        reason = f" ({state.dispute_reason})" if state.dispute_reason else ""
        out.append(
            claim_alert(
                state,
                event,
                content_id,
                type_="dispute_opened",
                severity=severity,
                score={"medium": 0.6, "high": 0.8}.get(severity, 0.95),
                title=f"Claim {state.claim_id}{where(state)} is now {new.replace('_', ' ')}{reason}",
                rule=f"dispute_opened.{new}",
                identity=(new,),
            )
        )
    if old == "active" and new == "inactive" and (our_video or views >= RELEASE_VIEWS_MEDIUM):
        out.append(
            claim_alert(
                state,
                event,
                content_id,
                type_="performance_discrepancy",
                severity=policy.release_severity(our_video),
                score=0.8 if our_video else 0.6,
                title=f"Revenue-bearing claim {state.claim_id} released on "
                f"{'our own' if our_video else 'a'} video {state.video_id} ({views:,} views)",
                rule="performance_discrepancy.revenue_bearing_released",
                identity=("released",),
            )
        )
    return out


def third_party_alert(state: ClaimState, event: ClaimEvent, content_id: str | None) -> Candidate:
    """Someone else's claim on a video that is ours."""
    return claim_alert(
        state,
        event,
        content_id,
        type_="content_id_flag",
        severity=policy.THIRD_PARTY_ON_OWN_VIDEO,
        score=0.9,
        title=f"Third-party claim {state.claim_id} on our own video {state.video_id}",
        rule="content_id_flag.third_party_on_own_video",
        identity=("third_party",),
    )


def discrepancy_alert(
    state: ClaimState, event: ClaimEvent, content_id: str | None, measured: int, measured_at: float
) -> Candidate | None:
    """The claims report's lifetime views against the post's own poll at about the same time.

    >>> from claimwatch.detect.claimstate import ClaimState
    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 11, 2, 12, tzinfo=UTC)
    >>> e = ClaimEvent(event_id="c", source="reporting_api_claims", claim_id="C1", event_time=t, observed_at=t,
    ...     status="active", video_id="v1", views_lifetime=90_000)
    >>> state = ClaimState(claim_id="C1", video_id="v1")
    >>> discrepancy_alert(state, e, None, measured=20_000, measured_at=t.timestamp()).severity
    'high'
    >>> discrepancy_alert(state, e, None, measured=60_000, measured_at=t.timestamp()) is None
    True
    """
    claimed = event.views_lifetime
    if claimed is None or abs(measured_at - event.event_time.timestamp()) > DISCREPANCY_MAX_APART_S:
        return None
    if measured < DISCREPANCY_MIN_MEASURED or abs(measured - claimed) < DISCREPANCY_MIN_GAP:
        return None
    ratio = (claimed + 1) / (measured + 1)
    if DISCREPANCY_USUAL_RANGE[0] <= ratio <= DISCREPANCY_USUAL_RANGE[1]:
        return None
    return claim_alert(
        state,
        event,
        content_id,
        type_="performance_discrepancy",
        severity=policy.discrepancy_severity(ratio),
        score=min(1.0, 0.55 + abs(math.log10(max(ratio, 1e-300))) / 2),
        title=f"Claim {state.claim_id} reports {claimed:,} views; video {state.video_id} measures {measured:,}",
        rule="performance_discrepancy.claimed_vs_measured_views",
        identity=("claimed_vs_measured", event.event_time.date()),
        dedup=("claimed_vs_measured",),
        extra={"claimed_views": claimed, "measured_views": measured, "ratio": round(ratio, 3)},
    )


def surge_alert(burst: Burst, content_id: str | None, day_end: datetime) -> Candidate:
    """A day of new claims (or status changes) on one asset far beyond its usual."""
    ratio = burst.count / max(burst.expected, 1e-9)
    what = "new claims" if burst.kind == "new_claims" else "claims changing status"
    score = min(1.0, 0.5 + min(-math.log10(max(burst.p_value, 1e-300)), 30.0) / 60.0)
    return Candidate(
        type="claim_surge",
        severity=policy.surge_severity(ratio, burst.count),
        score=score,
        subject={"asset_id": burst.asset_id, "content_id": content_id},
        event_time=day_end,
        title=f"{burst.count} {what} on asset {burst.asset_id} in one day (usually {burst.expected:.1f})",
        evidence={
            "rule": f"claim_surge.{burst.kind}",
            "observed": burst.count,
            "expected": burst.expected,
            "ratio": round(ratio, 2),
            "p_value": float(f"{burst.p_value:.3g}"),
            "new_claimants": burst.new_claimants,
            "history_days": burst.days_of_history,
            "window": {"start": rfc3339(day_end - timedelta(seconds=DAY - 1)), "end": rfc3339(day_end)},
        },
        identity=(burst.asset_id, burst.kind, rfc3339(day_end)),
        dedup_key=(burst.asset_id, burst.kind),
    )
