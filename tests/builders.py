"""Small constructors of canonical events for detector tests."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from claimwatch.detect.monitor import Monitor
from schemas import Alert, CatalogItem, ClaimEvent, MetricObservation, OwnershipConflict, RightsRecord

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def day_end(day: int) -> datetime:
    return T0 + timedelta(days=day + 1, seconds=-1)


def catalog(content_id: str = "CW-1", asset_id: str = "A1", **platforms: str) -> CatalogItem:
    ids = {p: [v] for p, v in (platforms or {"youtube": "yt1", "tiktok": "tt1"}).items()}
    return CatalogItem(content_id=content_id, title="Song", asset_id=asset_id, platform_ids=ids)


def claim(claim_id: str, when: datetime, status: str = "active", **fields: Any) -> ClaimEvent:
    base: dict[str, Any] = {
        "event_id": f"{claim_id}-{when.isoformat()}-{status}-{fields.get('event_type', 'snapshot')}",
        "source": "reporting_api_claims",
        "observed_at": when,
        "event_time": when,
        "claim_id": claim_id,
        "asset_id": "A1",
        "video_id": f"v-{claim_id}",
        "channel_id": f"UC-{claim_id}",
        "status": status,
        "status_raw": status.upper(),
        "origin": "audio_match",
    }
    base.update(fields)
    return ClaimEvent(**base)


def poll(
    pid: str,
    when: datetime,
    views: int,
    likes: int | None = None,
    platform: str = "youtube",
    comments: int | None = None,
    shares: int | None = None,
) -> MetricObservation:
    return MetricObservation(
        event_id=f"{pid}-{when.isoformat()}",
        source="platform_poll",
        granularity="cumulative",
        platform=platform,
        platform_content_id=pid,
        event_time=when,
        views=views,
        likes=likes,
        comments=comments,
        shares=shares,
    )


def rights(
    owner: str, share: float, territories: str = "WW", asset_id: str = "A1", since: date | None = None
) -> RightsRecord:
    return RightsRecord(
        asset_id=asset_id, owner=owner, share_pct=share, territories=territories.split("|"), valid_from=since
    )


def conflict(asset_id: str, owner: str, when: datetime, views: int = 100) -> OwnershipConflict:
    return OwnershipConflict(
        event_id=f"{asset_id}-{owner}",
        asset_id=asset_id,
        conflicting_owner=owner,
        territories=["US"],
        views_in_conflict=views,
        observed_at=when,
        event_time=when,
    )


def steady_polls(
    pid: str,
    hours: float,
    per_hour: float,
    *,
    platform: str = "youtube",
    start_views: int = 10_000,
    spike: tuple[float, float, float] | None = None,
    engagement_spike: tuple[float, float, float] | None = None,
    like_rate: float = 0.04,
    seed: int = 1,
    start_hour: float = 0.0,
) -> list[MetricObservation]:
    """Polls every 30-50 minutes of a post with daily seasonality; ``spike`` = (start_h, end_h, factor)."""
    rng = random.Random(seed)
    out = []
    views, likes = float(start_views), float(start_views) * like_rate
    t = start_hour
    while t < hours:
        step = rng.uniform(0.5, 0.85)
        rate = per_hour * (1 + 0.4 * math.cos(2 * math.pi * (t - 20) / 24)) * math.exp(rng.gauss(0, 0.1))
        if spike and spike[0] <= t < spike[1]:
            rate *= spike[2]
        lr = like_rate * (
            engagement_spike[2] if engagement_spike and engagement_spike[0] <= t < engagement_spike[1] else 1
        )
        gained = rate * step
        views += gained
        likes += gained * lr
        t += step
        out.append(poll(pid, at(t), int(views), int(likes), platform=platform))
    return out


def run_events(events: list[Any], monitor: Monitor | None = None) -> list[Alert]:
    monitor = monitor or Monitor(clock=lambda: T0)
    alerts: list[Alert] = []
    for e in events:
        alerts += monitor.process(e)
    return alerts + monitor.flush()


def of_type(alerts: list[Alert], type_: str, min_severity: str = "info") -> list[Alert]:
    from schemas import severity_rank

    return [a for a in alerts if a.type == type_ and severity_rank(a.severity) >= severity_rank(min_severity)]
