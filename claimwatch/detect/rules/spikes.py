"""Rules for a post's views and reactions: spikes, falls, a spike spreading across platforms."""

from __future__ import annotations

from datetime import datetime

from claimwatch.detect import policy
from claimwatch.detect.alerting import Candidate
from claimwatch.detect.posts import Finding, spike_score
from claimwatch.detect.timeutil import rfc3339
from schemas.alerts import AlertType
from schemas.events import MetricObservation


def post_subject(event: MetricObservation, content_id: str | None) -> dict[str, str | None]:
    return {
        "content_id": content_id,
        "platform": event.platform,
        "platform_content_id": event.platform_content_id,
        "video_id": event.platform_content_id if event.platform == "youtube" else None,
        "channel_id": event.channel_id,
    }


def metric_alert(f: Finding, event: MetricObservation, content_id: str | None) -> Candidate:
    """A view spike, a view drop or a one-reaction engagement spike of one post.

    >>> from dataclasses import replace
    >>> from datetime import UTC, datetime
    >>> t, start = datetime(2026, 11, 2, 10, tzinfo=UTC), datetime(2026, 11, 2, 6, tzinfo=UTC)
    >>> poll = MetricObservation(event_id="e1", source="platform_poll", granularity="cumulative",
    ...     platform="youtube", platform_content_id="p1", event_time=t, views=50_000)
    >>> f = Finding("view_spike", t, z=6.1, ratio=9.0, observed=9_000.0, expected=1_000.0,
    ...     bucket_hours=4.0, bucket_start=start, novelty=0.7)
    >>> c = metric_alert(f, poll, "CW-1")
    >>> c.type, c.severity, c.title  # one window so far: worth a glance, not yet sustained
    ('view_spike', 'low', 'Views of youtube post p1 at 9.0x of usual')
    >>> metric_alert(replace(f, episode_windows=2), poll, "CW-1").severity  # 8,000 extra views, sustained
    'high'
    """
    score = spike_score(f)
    kind: AlertType = "engagement_spike" if f.kind == "engagement_spike" else "view_spike"  # a drop too
    if f.kind == "view_drop":
        title = f"Views of {event.platform} post {event.platform_content_id} fell to {f.ratio:.2f}x of usual"
        severity = policy.drop_severity(f.bucket_hours, f.expected - f.observed)
    else:
        what = "Views" if f.kind == "view_spike" else f"{(f.metric or 'engagement').capitalize()} per view"
        title = f"{what} of {event.platform} post {event.platform_content_id} at {f.ratio:.1f}x of usual"
        severity = policy.spike_severity(
            score,
            f.ratio,
            max(excess(f), f.episode_excess),
            f.metric or "views",
            max(f.bucket_hours, f.episode_hours),
            max(f.windows, f.episode_windows),
        )
    evidence = {
        "rule": f"metrics.{f.kind}",
        "observed": f.observed,
        "expected": f.expected,
        "ratio": f.ratio,
        "z": f.z,
        "excess": round(excess(f), 1),
        "episode": {"excess": f.episode_excess, "hours": f.episode_hours, "windows": f.episode_windows},
        "novelty": f.novelty,
        **({"metric": f.metric} if f.metric else {}),
        "expected_basis": expected_basis(f),
        "window": {"start": rfc3339(f.bucket_start), "end": rfc3339(f.time), "hours": f.bucket_hours},
        "source": event.source,
    }
    return Candidate(
        type=kind,
        severity=severity,
        score=score,
        subject=post_subject(event, content_id),
        event_time=f.time,
        title=title,
        evidence=evidence,
        identity=(event.platform, event.platform_content_id, f.kind, rfc3339(f.episode_start or f.time)),
        dedup_key=(event.platform, event.platform_content_id, f.kind),
    )


def propagation_alert(
    content_id: str,
    event: MetricObservation,
    f: Finding,
    earlier: dict[str, datetime],
    asset_id: str | None,
    unclear: bool = False,
) -> Candidate:
    """Content spiking on ``event.platform`` after spiking on the ``earlier`` platforms (name → when
    found). ``unclear``: this platform's rise may have begun before the others were found (its
    window opened earlier: its polls are far apart), so which came first is not known; the alert is
    then about the content, not one post, and says so.

    >>> from datetime import UTC, datetime, timedelta
    >>> t = datetime(2026, 11, 11, 3, 48, tzinfo=UTC)
    >>> poll = MetricObservation(event_id="e1", source="platform_poll", granularity="cumulative",
    ...     platform="facebook", platform_content_id="fb1", event_time=t, views=90_000)
    >>> f = Finding("view_spike", t, z=6.0, ratio=4.0, observed=8_000.0, expected=2_000.0,
    ...     bucket_hours=6.75, bucket_start=t - timedelta(hours=6.75))
    >>> c = propagation_alert("CW-1", poll, f, {"instagram": t - timedelta(hours=2.3)}, "A1", unclear=True)
    >>> c.title, c.subject.get("platform")
    ('Content CW-1 spiking on facebook and instagram (which first is unclear: facebook was polled 6.8h apart)', None)
    """
    first_platform, first_time = min(earlier.items(), key=lambda kv: (kv[1], kv[0]))
    lag_h = (f.time - first_time).total_seconds() / 3600
    if unclear:
        subject: dict[str, str | None] = {"content_id": content_id, "asset_id": asset_id}
        others = " and ".join(sorted(earlier))
        title = (
            f"Content {content_id} spiking on {event.platform} and {others} (which first is unclear: "
            f"{event.platform} was polled {f.bucket_hours:.1f}h apart)"
        )
    else:
        subject = {**post_subject(event, content_id), "asset_id": asset_id}
        title = f"Content {content_id} spiking on {event.platform} {lag_h:.0f}h after {first_platform}"
    return Candidate(
        type="viral_propagation",
        severity=policy.propagation_severity(len(earlier), max(excess(f), f.episode_excess)),
        score=min(1.0, 0.7 + 0.1 * len(earlier) + min(f.ratio, 10) / 50),
        subject=subject,
        event_time=f.time,
        title=title,
        evidence={
            "rule": "viral_propagation.second_platform_within_48h",
            "platforms": sorted([*earlier, event.platform]),
            "first_platform": None if unclear else first_platform,
            "first_spike_at": rfc3339(first_time),
            "lag_hours": round(lag_h, 1),
            "ratio": f.ratio,
            "post": {"platform": event.platform, "platform_content_id": event.platform_content_id},
            **({"order_unclear": True, "window_start": rfc3339(f.bucket_start)} if unclear else {}),
        },
        identity=(content_id, event.platform, rfc3339(f.episode_start or f.time)),
        # One alert per platform the content spreads to: spreading to TikTok is news after spreading to YouTube.
        dedup_key=(content_id, event.platform),
    )


def viral_without_claim_alert(
    content_id: str, event: MetricObservation, f: Finding, claims: dict[str, str], asset_id: str | None
) -> Candidate:
    """A YouTube video spiking while none of our claims on it (id → status, first id first) is active."""
    return Candidate(
        type="performance_discrepancy",
        severity=policy.viral_without_claim_severity(max(excess(f), f.episode_excess)),
        score=0.85,
        subject={
            "content_id": content_id,
            "platform": "youtube",
            "video_id": event.platform_content_id,
            "asset_id": asset_id,
            "claim_id": next(iter(claims)),
        },
        event_time=f.time,
        title=f"Video {event.platform_content_id} is spiking ({f.ratio:.1f}x) with no active claim",
        evidence={"rule": "performance_discrepancy.viral_without_active_claim", "claims": claims, "ratio": f.ratio},
        identity=(event.platform_content_id, "viral_without_claim", rfc3339(f.episode_start or f.time)),
        dedup_key=(event.platform_content_id, "viral_without_claim"),
    )


def excess(f: Finding) -> float:
    """The count beyond the usual over the finding's window: what severity is judged on."""
    return max(0.0, f.observed - f.expected)


def expected_basis(f: Finding) -> str:
    """How "usual" was computed, in the alert's words: the reader should not have to guess."""
    if f.kind == "engagement_spike":
        return (
            f"the post's usual {f.metric or 'reactions'} per view (exponentially weighted over its past "
            f"windows) times the views of this {f.bucket_hours:g}-hour window"
        )
    return (
        f"the post's usual views per hour at each time of day (six 4-hour parts, learnt from its own "
        f"polls), summed over exactly this {f.bucket_hours:g}-hour window"
    )
