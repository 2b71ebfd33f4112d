"""Rules for ownership: other owners on our video, an asset conflict, shares over 100 %."""

from __future__ import annotations

from datetime import datetime

from claimwatch.detect import policy
from claimwatch.detect.alerting import Candidate
from claimwatch.detect.reference import OverOwnership
from schemas.events import ClaimEvent, OwnershipConflict, RightsRecord


def other_owners_alert(event: ClaimEvent, content_id: str) -> Candidate:
    """The video report says other owners claim a video of ours."""
    views = event.views_lifetime or 0
    others = ", ".join(event.other_owners_claiming[:5])
    return Candidate(
        type="rights_conflict",
        severity=policy.other_owners_severity(views),
        score=min(1.0, 0.6 + views / 5_000_000),
        subject={
            "content_id": content_id,
            "video_id": event.video_id,
            "asset_id": event.asset_id,
            "claim_id": event.claim_id or None,
            "channel_id": event.channel_id,
            "platform": "youtube",
        },
        event_time=event.event_time,
        title=f"Other owners ({others}) claim our video {event.video_id}",
        evidence={
            "rule": "rights_conflict.other_owners_claiming_our_video",
            "other_owners": event.other_owners_claiming,
            "views": views,
            "source_file": event.source_file,
            "source_line": event.source_line,
        },
        identity=(event.video_id, "other_owners", *sorted(event.other_owners_claiming)),
    )


def conflict_alert(event: OwnershipConflict, content_id: str | None, our_share_pct: float) -> Candidate:
    """Another owner claims an asset of ours (the asset conflicts report)."""
    views = event.views_in_conflict or 0
    territories = ",".join(event.territories[:10]) or "unknown territories"
    return Candidate(
        type="rights_conflict",
        severity=policy.conflict_severity(our_share_pct, views),
        score=min(1.0, 0.65 + (0.2 if our_share_pct >= 100 else 0) + views / 1_000_000),
        subject={"asset_id": event.asset_id, "content_id": content_id},
        event_time=event.event_time,
        title=f"{event.conflicting_owner} claims ownership of asset {event.asset_id} in {territories}",
        evidence={
            "rule": "rights_conflict.asset_ownership_conflict",
            "conflicting_owner": event.conflicting_owner,
            "territories": event.territories,
            "our_share_pct": our_share_pct,
            "daily_views_in_conflict": views,
            "right_type": event.right_type,
        },
        identity=(event.asset_id, "asset_conflict", event.conflicting_owner),
    )


def over_ownership_alert(
    record: RightsRecord, found: list[OverOwnership], content_id: str | None, when: datetime
) -> Candidate:
    """The rights records of an asset add up to more than 100 % in some territories (``found``)."""
    key = record.key()
    worst = max(found, key=lambda o: (o.total_pct, o.territory))
    return Candidate(
        type="rights_conflict",
        severity=policy.OVER_100_PERCENT,
        score=min(1.0, 0.7 + (worst.total_pct - 100) / 500),
        subject={"asset_id": record.asset_id, "content_id": content_id},
        event_time=when,
        title=(
            f"Ownership of {key} ({worst.right_type}) adds up to {worst.total_pct:g}% "
            f"in {len(found)} territor{'y' if len(found) == 1 else 'ies'}"
        ),
        evidence={
            "rule": "rights_conflict.ownership_over_100_pct",
            "right_type": worst.right_type,
            "territories": [o.territory for o in found][:50],
            "total_pct": worst.total_pct,
            "owners": [{"owner": o, "share_pct": s} for o, s in worst.owners],
        },
        identity=(key, worst.right_type, "over_100", *(o for o, _ in worst.owners)),
    )
