"""The detection core: events in data-time order → alerts. Pure: no I/O, no clock but the one given.

The embedded run, the stream worker, replay and the batch job all drive this one class. Per-entity
state (posts, claims, assets) lives in plain dataclasses so a worker can keep it in a table.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from claimwatch.detect import policy
from claimwatch.detect.alerting import Candidate, Clock, DedupStage, build, wall_clock
from claimwatch.detect.claims import (
    DISPUTE_STATES,
    MANUAL_ORIGINS,
    PENDING_REVIEW,
    ClaimBook,
    ClaimState,
    Transition,
)
from claimwatch.detect.metrics import BucketPolicy, Finding, PostModel, spike_score
from claimwatch.detect.reference import CatalogIndex, RightsLedger
from claimwatch.detect.risk import (
    ASSET_SURGE_DAYS,
    AssetRiskFeatures,
    RiskFeatures,
    asset_dispute_risk,
    dispute_risk,
    risk_level,
)
from claimwatch.detect.rollup import RollupBook
from claimwatch.detect.timeutil import from_epoch, rfc3339
from schemas.alerts import Alert, AlertType, Severity
from schemas.events import ClaimEvent, Event, MetricObservation, OwnershipConflict, RightsRecord

DAY = 86_400.0
PROPAGATION_WINDOW = timedelta(hours=48)
RELEASE_VIEWS_MEDIUM = 1_000_000
DAILY_SERIES = "youtube-daily"  # daily analytics of a video, a series of its own beside its polls
REPORT_SOURCES = frozenset({"reporting_api_claims", "studio_claims_csv"})


# Data-quality findings of polls, in the order PostModel counts them.
POLL_FINDINGS = ("late_polls", "duplicate_polls", "counter_decreases", "counter_jumps")


@dataclass(frozen=True)
class Step:
    """The result of one event: alerts raised, and claim status changes seen (the report counts them)."""

    alerts: list[Alert]
    transitions: list[Transition]


@dataclass
class MonitorConfig:
    owner: str = "our-label"
    bucket: BucketPolicy = field(default_factory=BucketPolicy)
    # Daily analytics only judge spikes for videos that no poll has covered lately: polls are fresher.
    poll_fresh_hours: float = 48.0


@dataclass
class Monitor:
    config: MonitorConfig = field(default_factory=MonitorConfig)
    clock: Clock = wall_clock
    catalog: CatalogIndex = field(default_factory=CatalogIndex)
    rights: RightsLedger = field(default_factory=RightsLedger)
    claims: ClaimBook = field(default_factory=ClaimBook)
    posts: dict[tuple[str, str], PostModel] = field(default_factory=dict)
    dedup: DedupStage = field(default_factory=DedupStage)
    recent_spikes: dict[str, dict[str, datetime]] = field(default_factory=dict)
    conflicted_assets: set[str] = field(default_factory=set)
    surged_assets: dict[str, float] = field(default_factory=dict)  # asset → end of its last claim-surge day
    asset_risk: dict[str, float] = field(default_factory=dict)  # asset → its last dispute risk score
    watermark: datetime | None = None
    quality: Counter[str] = field(default_factory=Counter)
    rollups: RollupBook = field(default_factory=RollupBook)

    # ------------------------------------------------------------------------------ entry points

    def process(self, event: Event) -> list[Alert]:
        """The alerts one event raises."""
        return self.step(event).alerts

    def step(self, event: Event) -> Step:
        """What one event did: its alerts, and the claim status changes it caused (for the report)."""
        candidates: list[Candidate] = []
        transitions: list[Transition] = []
        time = event_time_of(event)
        if time is not None:
            candidates += self._advance(time)
        # By the event's tag, most frequent first: isinstance on pydantic models goes through ABCMeta.
        if event.kind == "metric":
            candidates += self._on_metric(event)
        elif event.kind == "claim":
            candidates += self._on_claim(event, transitions)
            self.rollups.on_claim(
                event,
                transitions,
                self.claims.claims.get(event.claim_id),
                self.catalog.content_for_claim(event.asset_id, event.custom_id, event.isrc),
            )
        elif event.kind == "catalog":
            self.catalog.add(event)
            self.rollups.on_catalog(event)
        elif event.kind == "rights":
            candidates += self._on_rights(event)
        elif event.kind == "conflict":
            candidates += self._on_conflict(event)
        return Step(self._emit(candidates), transitions)

    def flush(self) -> list[Alert]:
        """End of input: close the open snapshot day."""
        return self._emit(self._close_claim_day())

    # ----------------------------------------------------------------------------- time handling

    def _advance(self, time: datetime) -> list[Candidate]:
        out: list[Candidate] = []
        if self.claims.open_day is not None and time.timestamp() > self.claims.open_day:
            out = self._close_claim_day()
        if self.watermark is None or time > self.watermark:
            self.watermark = time
        return out

    def _close_claim_day(self) -> list[Candidate]:
        if self.claims.open_day is None:
            return []
        day_end = from_epoch(self.claims.open_day)
        self.claims.open_day = None
        self.dedup.expire(day_end)  # once a day: keeps the dedup state bounded, off the per-event path
        out = []
        horizon = day_end.timestamp() - ASSET_SURGE_DAYS * DAY
        self.surged_assets = {a: t for a, t in self.surged_assets.items() if t > horizon}  # bounded
        surged: list[str] = []
        for burst in self.claims.close_day():
            if burst.kind == "new_claims":
                self.surged_assets[burst.asset_id] = day_end.timestamp()
                surged.append(burst.asset_id)
            content_id = self.catalog.content_for_claim(burst.asset_id)
            ratio = burst.count / max(burst.expected, 1e-9)
            what = "new claims" if burst.kind == "new_claims" else "claims changing status"
            score = min(1.0, 0.5 + min(-_log10(burst.p_value), 30.0) / 60.0)
            out.append(
                Candidate(
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
                        "window": {
                            "start": rfc3339(day_end - timedelta(seconds=DAY - 1)),
                            "end": rfc3339(day_end),
                        },
                    },
                    identity=(burst.asset_id, burst.kind, rfc3339(day_end)),
                    dedup_key=(burst.asset_id, burst.kind),
                )
            )
        for asset_id in surged:
            out += self._asset_risk(asset_id, day_end)
        return out

    # ----------------------------------------------------------------------------------- metrics

    def _on_metric(self, event: MetricObservation) -> list[Candidate]:
        key = (event.platform, event.platform_content_id)
        post = self.posts.get(key)
        if post is None:
            post = self.posts[key] = PostModel()
        t = event.event_time.timestamp()
        values = {
            "views": event.views,
            "likes": event.likes,
            "comments": event.comments,
            "shares": event.shares,
        }
        content_id = self.catalog.content_for_post(event.platform, event.platform_content_id)
        if event.granularity == "cumulative":
            before = (post.out_of_order, post.duplicates, post.counter_resets, post.counter_jumps)
            findings = post.observe_totals(t, values, self.config.bucket)
            after = (post.out_of_order, post.duplicates, post.counter_resets, post.counter_jumps)
            seen: dict[str, int] = {}
            for name, b, a in zip(POLL_FINDINGS, before, after, strict=True):
                if a != b:
                    self.quality[name] += a - b
                    seen[name] = a - b
            self.rollups.on_metric(event, t, content_id, seen)
            return self._spike_candidates(event, post, findings)
        restated = 0
        if event.views is not None and post.note_analytics_day(event.event_time.date().toordinal()):
            self.quality["restated_days"] += 1
            restated = 1
        self.rollups.on_metric(event, t, content_id, {"restated_days": restated} if restated else {})
        fresh = post.last_time is not None and t - post.last_time < self.config.poll_fresh_hours * 3600
        if fresh:
            return []
        daily = self.posts.setdefault((DAILY_SERIES, event.platform_content_id), PostModel())
        return self._spike_candidates(event, post, daily.observe_day(t, values, self.config.bucket))

    def _spike_candidates(self, event: MetricObservation, post: PostModel, findings: list[Finding]) -> list[Candidate]:
        out: list[Candidate] = []
        for f in findings:
            content_id = self.catalog.content_for_post(event.platform, event.platform_content_id)
            subject = {
                "content_id": content_id,
                "platform": event.platform,
                "platform_content_id": event.platform_content_id,
                "video_id": event.platform_content_id if event.platform == "youtube" else None,
                "channel_id": event.channel_id,
            }
            score = spike_score(f)
            kind: AlertType = "engagement_spike" if f.kind == "engagement_spike" else "view_spike"  # a drop too
            if f.kind == "view_drop":
                title = f"Views of {event.platform} post {event.platform_content_id} fell to {f.ratio:.2f}x of usual"
                severity = policy.drop_severity(f.bucket_hours)
            else:
                what = "Views" if f.kind == "view_spike" else f"{(f.metric or 'engagement').capitalize()} per view"
                title = f"{what} of {event.platform} post {event.platform_content_id} at {f.ratio:.1f}x of usual"
                severity = policy.spike_severity(score, f.ratio)
            evidence = {
                "rule": f"metrics.{f.kind}",
                "observed": f.observed,
                "expected": f.expected,
                "ratio": f.ratio,
                "z": f.z,
                "novelty": f.novelty,
                **({"metric": f.metric} if f.metric else {}),
                "expected_basis": _expected_basis(f),
                "window": {"start": rfc3339(f.bucket_start), "end": rfc3339(f.time), "hours": f.bucket_hours},
                "source": event.source,
            }
            episode = rfc3339(f.episode_start or f.time)
            out.append(
                Candidate(
                    type=kind,
                    severity=severity,
                    score=score,
                    subject=subject,
                    event_time=f.time,
                    title=title,
                    evidence=evidence,
                    identity=(event.platform, event.platform_content_id, f.kind, episode),
                    dedup_key=(event.platform, event.platform_content_id, f.kind),
                )
            )
            if f.kind == "view_spike" and severity != "low" and content_id:
                out += self._propagation(content_id, event, f, subject)
                if event.platform == "youtube":
                    out += self._viral_without_claim(content_id, event, f)
        return out

    def _propagation(
        self, content_id: str, event: MetricObservation, f: Finding, subject: dict[str, str | None]
    ) -> list[Candidate]:
        spikes = self.recent_spikes.setdefault(content_id, {})
        earlier = {p: t for p, t in spikes.items() if p != event.platform and f.time - t <= PROPAGATION_WINDOW}
        spikes.setdefault(event.platform, f.time)
        if f.time - spikes[event.platform] > PROPAGATION_WINDOW:
            spikes[event.platform] = f.time
        if not earlier:
            return []
        first_platform, first_time = min(earlier.items(), key=lambda kv: (kv[1], kv[0]))
        lag_h = (f.time - first_time).total_seconds() / 3600
        item = self.catalog.items.get(content_id)
        return [
            Candidate(
                type="viral_propagation",
                severity=policy.propagation_severity(len(earlier)),
                score=min(1.0, 0.7 + 0.1 * len(earlier) + min(f.ratio, 10) / 50),
                subject={**subject, "asset_id": item.asset_id if item else None},
                event_time=f.time,
                title=(f"Content {content_id} spiking on {event.platform} {lag_h:.0f}h after {first_platform}"),
                evidence={
                    "rule": "viral_propagation.second_platform_within_48h",
                    "platforms": sorted([*earlier, event.platform]),
                    "first_platform": first_platform,
                    "first_spike_at": rfc3339(first_time),
                    "lag_hours": round(lag_h, 1),
                    "ratio": f.ratio,
                },
                identity=(content_id, event.platform, rfc3339(f.episode_start or f.time)),
                dedup_key=(content_id,),
            )
        ]

    def _viral_without_claim(self, content_id: str, event: MetricObservation, f: Finding) -> list[Candidate]:
        claim_ids = self.claims.by_video.get(event.platform_content_id, set())
        claims = [self.claims.claims[c] for c in sorted(claim_ids)]
        claims = [c for c in claims if not c.third_party]
        if not claims or any(c.status == "active" for c in claims):
            return []
        return [
            Candidate(
                type="performance_discrepancy",
                severity=policy.VIRAL_WITHOUT_CLAIM,
                score=0.85,
                subject={
                    "content_id": content_id,
                    "platform": "youtube",
                    "video_id": event.platform_content_id,
                    "asset_id": self.catalog.asset_of(content_id),
                    "claim_id": claims[0].claim_id,
                },
                event_time=f.time,
                title=f"Video {event.platform_content_id} is spiking ({f.ratio:.1f}x) with no active claim",
                evidence={
                    "rule": "performance_discrepancy.viral_without_active_claim",
                    "claims": {c.claim_id: c.status for c in claims},
                    "ratio": f.ratio,
                },
                identity=(
                    event.platform_content_id,
                    "viral_without_claim",
                    rfc3339(f.episode_start or f.time),
                ),
                dedup_key=(event.platform_content_id, "viral_without_claim"),
            )
        ]

    # ------------------------------------------------------------------------------------ claims

    def _on_claim(self, event: ClaimEvent, transitions: list[Transition]) -> list[Candidate]:
        if event.source == "video_metadata_report":
            return self._on_video_report(event)
        if event.source in REPORT_SOURCES:
            self.claims.open_day = event.event_time.timestamp()
        out: list[Candidate] = []
        disputes_moved = False
        for tr in self.claims.apply(event):
            transitions.append(tr)
            out += self._on_transition(tr, event)
            disputes_moved |= tr.old in DISPUTE_STATES or tr.new in DISPUTE_STATES
        state = self.claims.claims[event.claim_id]
        out += self._claimed_vs_measured(state, event)
        if event.third_party_claim and self.catalog.is_our_video(state.video_id):
            out.append(self._claim_candidate(
                "content_id_flag", policy.THIRD_PARTY_ON_OWN_VIDEO, 0.9, state, event,
                f"Third-party claim {state.claim_id} on our own video {state.video_id}",
                "content_id_flag.third_party_on_own_video", ("third_party",),
            ))  # fmt: skip
        out += self._risk(state, event)
        if disputes_moved:
            out += self._asset_risk(state.asset_id, event.event_time)
        return out

    def _on_transition(self, tr: Transition, event: ClaimEvent) -> list[Candidate]:
        state, old, new = tr.claim, tr.old, tr.new
        views = state.views or 0
        out: list[Candidate] = []
        if new in PENDING_REVIEW and old not in PENDING_REVIEW:
            severity = policy.flag_severity(views)
            label = new.replace("_", " ")
            out.append(self._claim_candidate(
                "content_id_flag", severity, min(1.0, 0.3 + views / 2_000_000), state, event,
                f"Claim {state.claim_id}{_where(state)} is {label} ({views:,} views); "
                "unreviewed claims expire after 30 days",
                f"content_id_flag.{new}", (new,),
            ))  # fmt: skip
        if new in DISPUTE_STATES and old != new:
            severity = policy.dispute_opened_severity(new)
            reason = f" ({state.dispute_reason})" if state.dispute_reason else ""
            out.append(self._claim_candidate(
                "dispute_opened", severity, {"medium": 0.6, "high": 0.8}.get(severity, 0.95), state, event,
                f"Claim {state.claim_id}{_where(state)} is now {new.replace('_', ' ')}{reason}",
                f"dispute_opened.{new}", (new,),
            ))  # fmt: skip
        if old == "active" and new == "inactive":
            ours = self.catalog.is_our_video(state.video_id)
            if ours or views >= RELEASE_VIEWS_MEDIUM:
                out.append(self._claim_candidate(
                    "performance_discrepancy", policy.release_severity(ours), 0.8 if ours else 0.6, state, event,
                    f"Revenue-bearing claim {state.claim_id} released on "
                    f"{'our own' if ours else 'a'} video {state.video_id} ({views:,} views)",
                    "performance_discrepancy.revenue_bearing_released", ("released",),
                ))  # fmt: skip
        return out

    def _claimed_vs_measured(self, state: ClaimState, event: ClaimEvent) -> list[Candidate]:
        if event.views_lifetime is None or not state.video_id or event.source not in REPORT_SOURCES:
            return []
        post = self.posts.get(("youtube", state.video_id))
        if post is None or post.last_time is None or "views" not in post.last_totals:
            return []
        if abs(post.last_time - event.event_time.timestamp()) > 12 * 3600:
            return []
        measured = post.last_totals["views"]
        claimed = event.views_lifetime
        if measured < 10_000 or abs(measured - claimed) < 5_000:
            return []
        ratio = (claimed + 1) / (measured + 1)
        if 0.5 <= ratio <= 2.0:
            return []
        return [self._claim_candidate(
            "performance_discrepancy", policy.discrepancy_severity(ratio),
            min(1.0, 0.55 + abs(_log10(ratio)) / 2), state, event,
            f"Claim {state.claim_id} reports {claimed:,} views; video {state.video_id} measures {measured:,}",
            "performance_discrepancy.claimed_vs_measured_views", ("claimed_vs_measured", event.event_time.date()),
            dedup=("claimed_vs_measured",),
            extra={"claimed_views": claimed, "measured_views": measured, "ratio": round(ratio, 3)},
        )]  # fmt: skip

    def _risk(self, state: ClaimState, event: ClaimEvent) -> list[Candidate]:
        if state.status not in DISPUTE_STATES and not state.reinstatements:
            return []
        t = event.event_time.timestamp()
        post = self.posts.get(("youtube", state.video_id or ""))
        velocity = state.views_per_day
        if post is not None and post.views.detector.ready:
            # The post's own model knows its current daily rate better than two snapshots do.
            velocity = max(velocity, post.views.expected(t, 24.0) or 0.0)
        days_left = None
        if state.status == "appealed" and state.appeal_at is not None:
            days_left = 7 - (t - state.appeal_at) / DAY
        elif state.status == "disputed" and state.dispute_at is not None:
            days_left = 30 - (t - state.dispute_at) / DAY
        asset_conflicted = bool(state.asset_id and state.asset_id in self.conflicted_assets)
        features = RiskFeatures(
            status=state.status,
            reinstatements=state.reinstatements,
            disputed_within_5_days=bool(
                state.dispute_at and state.created_at is not None and state.dispute_at - state.created_at <= 5 * DAY
            ),
            manual_origin=state.origin in MANUAL_ORIGINS,
            short_match=state.short_match,
            other_owners=asset_conflicted,
            block_policy=state.block_policy,
            days_left=days_left,
            views_per_day=velocity,
            dispute_reason=state.dispute_reason,
        )
        score, drivers = dispute_risk(features)
        previous = state.risk
        state.risk, state.risk_drivers = score, drivers
        if risk_level(score) != "high" or risk_level(previous) == "high":
            return []
        return [self._claim_candidate(
            "dispute_risk", policy.risk_severity(score), score, state, event,
            f"Dispute risk of claim {state.claim_id}{_where(state)} is high ({score:.2f})",
            "dispute_risk.crossed_high", ("high",),
            extra={"level": "high", "drivers": drivers, "previous_score": previous},
        )]  # fmt: skip

    def _asset_risk(self, asset_id: str | None, when: datetime) -> list[Candidate]:
        """The asset's dispute risk from its context; a ``dispute_risk`` alert when it crosses high."""
        if not asset_id:
            return []
        t = when.timestamp()
        claims = [c for c in self.claims.claims.values() if c.asset_id == asset_id and c.status != "inactive"]
        open_disputes = sorted(c.claim_id for c in claims if c.status == "disputed")
        open_appeals = sorted(c.claim_id for c in claims if c.status == "appealed")
        days_left = [
            (7 if c.status == "appealed" else 30) - (t - stamp) / DAY
            for c in claims
            if (stamp := c.appeal_at if c.status == "appealed" else c.dispute_at if c.status == "disputed" else None)
            is not None
        ]
        surge_at = self.surged_assets.get(asset_id)
        features = AssetRiskFeatures(
            conflicts=1 if asset_id in self.conflicted_assets else 0,
            surged=surge_at is not None and t - surge_at <= ASSET_SURGE_DAYS * DAY,
            open_disputes=len(open_disputes),
            open_appeals=len(open_appeals),
            takedowns=sum(1 for c in claims if c.status in DISPUTE_STATES - {"disputed", "appealed"}),
            least_days_left=min(days_left) if days_left else None,
            views_per_day=sum(c.views_per_day or 0.0 for c in claims),
        )
        score, drivers = asset_dispute_risk(features)
        previous = self.asset_risk.get(asset_id, 0.0)
        self.asset_risk[asset_id] = score
        content_id = self.catalog.content_for_claim(asset_id)
        self.rollups.on_asset_risk(t, asset_id, content_id, score, drivers)
        if risk_level(score) != "high" or risk_level(previous) == "high":
            return []
        item = self.catalog.items.get(content_id or "")
        named = f" ({item.title})" if item is not None and item.title else ""
        return [
            Candidate(
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
        ]

    def _claim_candidate(
        self, type_: AlertType, severity: Severity, score: float, state: ClaimState, event: ClaimEvent, title: str,
        rule: str, identity: tuple[object, ...], dedup: tuple[object, ...] | None = None,
        extra: dict[str, object] | None = None,
    ) -> Candidate:  # fmt: skip
        content_id = self.catalog.content_for_claim(state.asset_id, event.custom_id, event.isrc)
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

    # ------------------------------------------------------------------------- rights / conflicts

    def _on_video_report(self, event: ClaimEvent) -> list[Candidate]:
        if not event.other_owners_claiming:
            return []
        content_id = self.catalog.content_for_post("youtube", event.video_id or "") or self.catalog.content_for_claim(
            event.asset_id, event.custom_id, event.isrc
        )
        if content_id is None:
            return []
        if event.asset_id:
            self.conflicted_assets.add(event.asset_id)
        views = event.views_lifetime or 0
        others = ", ".join(event.other_owners_claiming[:5])
        return [
            Candidate(
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
        ]

    def _on_conflict(self, event: OwnershipConflict) -> list[Candidate]:
        self.conflicted_assets.add(event.asset_id)
        return self._conflict_alert(event) + self._asset_risk(event.asset_id, event.event_time)

    def _conflict_alert(self, event: OwnershipConflict) -> list[Candidate]:
        content_id = self.catalog.content_for_claim(event.asset_id, event.custom_id)
        our = self.rights.our_share(event.asset_id, self.config.owner)
        views = event.views_in_conflict or 0
        territories = ",".join(event.territories[:10]) or "unknown territories"
        return [
            Candidate(
                type="rights_conflict",
                severity=policy.conflict_severity(our, views),
                score=min(1.0, 0.65 + (0.2 if our >= 100 else 0) + views / 1_000_000),
                subject={"asset_id": event.asset_id, "content_id": content_id},
                event_time=event.event_time,
                title=f"{event.conflicting_owner} claims ownership of asset {event.asset_id} in {territories}",
                evidence={
                    "rule": "rights_conflict.asset_ownership_conflict",
                    "conflicting_owner": event.conflicting_owner,
                    "territories": event.territories,
                    "our_share_pct": our,
                    "daily_views_in_conflict": views,
                    "right_type": event.right_type,
                },
                identity=(event.asset_id, "asset_conflict", event.conflicting_owner),
            )
        ]

    def _on_rights(self, record: RightsRecord) -> list[Candidate]:
        found = self.rights.add(record)
        if not found:
            return []
        key = record.key()
        self.conflicted_assets.add(key)
        content_id = self.catalog.content_for_claim(record.asset_id, record.custom_id, record.isrc)
        worst = max(found, key=lambda o: (o.total_pct, o.territory))
        when = event_time_of(record) or self.watermark
        if when is None:
            return []
        return [
            Candidate(
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
            ),
            *self._asset_risk(record.asset_id, when),
        ]

    # -------------------------------------------------------------------------------- emitting

    def _emit(self, candidates: list[Candidate]) -> list[Alert]:
        return [build(c, self.clock) for c in candidates if self.dedup.admit(c)]

    def risk_table(self, min_score: float = 0.3) -> list[dict[str, Any]]:
        """The current dispute risk of every claim worth listing, highest first."""
        claims = sorted(
            (c for c in self.claims.claims.values() if c.risk >= min_score and c.status != "inactive"),
            key=lambda c: (-c.risk, c.claim_id),
        )
        return [
            {
                "claim_id": c.claim_id,
                "asset_id": c.asset_id,
                "video_id": c.video_id,
                "channel_id": c.channel_id,
                "content_id": self.catalog.content_for_claim(c.asset_id),
                "video_title": c.video_title,
                "status": c.status,
                "score": c.risk,
                "level": risk_level(c.risk),
                "drivers": c.risk_drivers,
            }
            for c in claims
        ]


def event_time_of(event: Event) -> datetime | None:
    """The data time of an event; None for reference data that has none (a catalog item)."""
    if event.kind == "catalog":
        return None
    if event.kind == "rights":
        return datetime.combine(event.valid_from, time(), tzinfo=UTC) if event.valid_from else None
    return event.event_time


def _where(state: ClaimState) -> str:
    """Where a claim is, for a title: its video, else its asset. A claim history event can arrive
    before the day's claims report names the video; "on video None" helps nobody."""
    if state.video_id:
        return f" on video {state.video_id}"
    return f" on asset {state.asset_id}" if state.asset_id else ""


def _log10(x: float) -> float:
    return math.log10(max(x, 1e-300))


def _expected_basis(f: Finding) -> str:
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
