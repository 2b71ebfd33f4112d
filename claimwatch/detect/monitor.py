"""The detection core: events in data-time order → alerts. Pure: no I/O, no clock but the one given.

The embedded run, the stream worker, replay and the batch job all drive this one class. Per-entity
state (posts, claims, assets) lives in plain dataclasses so a worker can keep it in a table.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from claimwatch.detect import policy
from claimwatch.detect.alerting import Candidate, Clock, DedupStage, build, wall_clock
from claimwatch.detect.claimstate import (
    DISPUTE_STATES,
    MANUAL_ORIGINS,
    TAKEDOWN_STATES,
    ClaimBook,
    ClaimState,
    Transition,
)
from claimwatch.detect.dispute_risk import (
    ASSET_SURGE_DAYS,
    AssetRiskFeatures,
    RiskFeatures,
    asset_dispute_risk,
    dispute_risk,
    risk_level,
)
from claimwatch.detect.posts import BucketPolicy, Finding, PostModel, WindowFigures
from claimwatch.detect.reference import CatalogIndex, RightsLedger
from claimwatch.detect.rollup import RollupBook
from claimwatch.detect.rules import claims as claims_rules
from claimwatch.detect.rules import rights as rights_rules
from claimwatch.detect.rules import risk as risk_rules
from claimwatch.detect.rules import spikes
from claimwatch.detect.timeutil import DAY, from_epoch
from claimwatch.detect.validation import SUSPECT_REASONS, suspect_entry
from schemas.alerts import Alert
from schemas.events import ClaimEvent, Event, MetricObservation, OwnershipConflict, QuarantineEntry, RightsRecord

PROPAGATION_WINDOW = timedelta(hours=48)
# A platform's spike is over once nothing has been found on it for this long: a rise after that is a
# new spike, which may have spread from another platform (a blip a day before does not make the
# platform the origin of everything for two days).
SPIKE_QUIET = timedelta(hours=24)
DAILY_SERIES = "youtube-daily"  # daily analytics of a video, a series of its own beside its polls
REPORT_SOURCES = frozenset({"reporting_api_claims", "studio_claims_csv"})


# Data-quality findings of polls, in the order PostModel counts them.
POLL_FINDINGS = ("late_polls", "duplicate_polls", "counter_decreases", "counter_jumps")


@dataclass(frozen=True)
class Step:
    """The result of one event: alerts raised, and claim status changes seen (the report counts them)."""

    alerts: list[Alert]
    transitions: list[Transition]
    # Records the core left out as impossible against the item's history, quarantined with the reason.
    suspect: list[QuarantineEntry] = field(default_factory=list)


@dataclass
class MonitorConfig:
    owner: str = "our-label"
    bucket: BucketPolicy = field(default_factory=BucketPolicy)
    # Daily analytics only judge spikes for videos that no poll has covered lately: polls are fresher.
    poll_fresh_hours: float = 48.0
    # A poll at most this much older than the post's latest is collector jitter: counted as late, not
    # quarantined. Older than that it is quarantined as `late_poll` (CLAIMWATCH_LATE_ALLOWANCE_SECONDS).
    late_allowance_seconds: float = 900.0


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
    # Per content and platform: when the window in which its current spike was first found opened
    # (the poll before it). A platform polled hours apart may have begun to rise before another was found.
    spike_opened: dict[str, dict[str, datetime]] = field(default_factory=dict)
    spike_last: dict[str, dict[str, datetime]] = field(default_factory=dict)  # its latest finding
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
        suspect: list[QuarantineEntry] = []
        time = event_time_of(event)
        if time is not None:
            candidates += self._advance(time)
        # By the event's tag, most frequent first: isinstance on pydantic models goes through ABCMeta.
        if event.kind == "metric":
            candidates += self._on_metric(event, suspect)
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
        return Step(self._emit(candidates), transitions, suspect)

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
            out.append(claims_rules.surge_alert(burst, self.catalog.content_for_claim(burst.asset_id), day_end))
        for asset_id in surged:
            out += self._asset_risk(asset_id, day_end)
        return out

    # ----------------------------------------------------------------------------------- metrics

    def _on_metric(self, event: MetricObservation, suspect: list[QuarantineEntry]) -> list[Candidate]:
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
            latest = post.last_time
            primed = content_id is not None and self._spiking_elsewhere(content_id, event.platform, event.event_time)
            windows: list[WindowFigures] = []
            findings = post.observe_totals(t, values, self.config.bucket, primed, windows)
            after = (post.out_of_order, post.duplicates, post.counter_resets, post.counter_jumps)
            seen: dict[str, int] = {}
            if after != before:  # most polls find nothing: no loop over the findings for them
                for name, b, a in zip(POLL_FINDINGS, before, after, strict=True):
                    if a != b:
                        self.quality[name] += a - b
                        seen[name] = a - b
                        jitter = (
                            name == "late_polls"
                            and latest is not None
                            and latest - t <= self.config.late_allowance_seconds
                        )
                        if not jitter:
                            suspect.append(suspect_entry(event, SUSPECT_REASONS[name][0]))
            self.rollups.on_metric(event, t, content_id, seen, windows[0] if windows else None)
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
            alert = spikes.metric_alert(f, event, content_id)
            # The post's last days beside its usual range: what a reviewer sees as a picture.
            alert.evidence["recent_days"] = self.rollups.recent_band(
                event.platform, event.platform_content_id, f.time.timestamp()
            )
            out.append(alert)
            if f.kind == "view_spike" and content_id:
                sure = policy.spike_is_sure(alert.score, f.ratio)
                out += self._propagation(content_id, event, f, sure)
                if event.platform == "youtube" and sure:
                    out += self._viral_without_claim(content_id, event, f)
        return out

    def _spiking_elsewhere(self, content_id: str, platform: str, when: datetime) -> bool:
        """Whether the content spiked on another platform within the propagation window, and not
        yet on this one: then this platform is watched closely (``PostModel``'s ``primed``)."""
        seen = self.recent_spikes.get(content_id)
        if not seen:
            return False
        here = seen.get(platform)
        if here is not None and when - here <= PROPAGATION_WINDOW:
            return False
        return any(p != platform and timedelta(0) <= when - t <= PROPAGATION_WINDOW for p, t in seen.items())

    def _propagation(self, content_id: str, event: MetricObservation, f: Finding, sure: bool) -> list[Candidate]:
        """A spike on this platform after the content spiked on others within the window. Every
        rise found marks its platform as spiking from then (what later platforms are measured from,
        and what primes them); a rise that is not sure yet says, at low, that the content may be
        spreading here, and the alert escalates when it is sure and large."""
        spikes_seen = self.recent_spikes.setdefault(content_id, {})
        opened_at = self.spike_opened.setdefault(content_id, {})
        last = self.spike_last.setdefault(content_id, {})
        if (
            event.platform not in spikes_seen
            or f.time - spikes_seen[event.platform] > PROPAGATION_WINDOW
            or f.time - last.get(event.platform, f.time) > SPIKE_QUIET
        ):
            spikes_seen[event.platform] = f.time
            opened_at[event.platform] = f.onset or f.bucket_start
        last[event.platform] = f.time
        began = spikes_seen[event.platform]
        # Only platforms that spiked before this one began to: the platform it started on is the
        # origin, not a platform it spread to, however long its own spike goes on.
        earlier = {
            p: t
            for p, t in spikes_seen.items()
            if p != event.platform and t <= began and began - t <= PROPAGATION_WINDOW
        }
        if not earlier:
            return []
        # Found after the others, but its rise may have begun before they were found: its window
        # (the time since its last poll) opened earlier, or it rose slowly through a run of windows
        # above usual that began earlier (its onset). Then the order cannot be told from the polls,
        # and an alert that names one post as the follower would name the wrong one half the time.
        opened = opened_at.get(event.platform, f.onset or f.bucket_start)
        clear = {p: t for p, t in earlier.items() if t <= opened}
        unclear = not clear
        alert = spikes.propagation_alert(
            content_id, event, f, clear or earlier, self.catalog.asset_of(content_id), unclear=unclear
        )
        return [alert if sure else replace(alert, severity="low")]

    def _viral_without_claim(self, content_id: str, event: MetricObservation, f: Finding) -> list[Candidate]:
        claim_ids = self.claims.by_video.get(event.platform_content_id, set())
        claims = [self.claims.claims[c] for c in sorted(claim_ids)]
        claims = [c for c in claims if not c.third_party]
        if not claims or any(c.status == "active" for c in claims):
            return []
        statuses = {c.claim_id: c.status for c in claims}
        return [spikes.viral_without_claim_alert(content_id, event, f, statuses, self.catalog.asset_of(content_id))]

    # ------------------------------------------------------------------------------------ claims

    def _on_claim(self, event: ClaimEvent, transitions: list[Transition]) -> list[Candidate]:
        if event.source == "video_metadata_report":
            return self._on_video_report(event)
        if event.source in REPORT_SOURCES:
            self.claims.open_day = event.event_time.timestamp()
        out: list[Candidate] = []
        disputes_moved = False
        for tr in self.claims.observe(event):
            transitions.append(tr)
            out += self._on_transition(tr, event)
            disputes_moved |= tr.old in DISPUTE_STATES or tr.new in DISPUTE_STATES
        state = self.claims.claims[event.claim_id]
        out += self._claimed_vs_measured(state, event)
        if event.third_party_claim and self.catalog.is_our_video(state.video_id):
            out.append(claims_rules.third_party_alert(state, event, self._content_of(state, event)))
        out += self._risk(state, event)
        if disputes_moved:
            out += self._asset_risk(state.asset_id, event.event_time)
        return out

    def _on_transition(self, tr: Transition, event: ClaimEvent) -> list[Candidate]:
        our_video = self.catalog.is_our_video(tr.claim.video_id)
        return claims_rules.transition_alerts(tr, event, self._content_of(tr.claim, event), our_video)

    def _claimed_vs_measured(self, state: ClaimState, event: ClaimEvent) -> list[Candidate]:
        if event.views_lifetime is None or not state.video_id or event.source not in REPORT_SOURCES:
            return []
        post = self.posts.get(("youtube", state.video_id))
        if post is None or post.last_time is None or "views" not in post.last_totals:
            return []
        found = claims_rules.discrepancy_alert(
            state, event, self._content_of(state, event), int(post.last_totals["views"]), post.last_time
        )
        return [found] if found is not None else []

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
        previous = state.risk
        state.risk, state.risk_drivers = dispute_risk(features)
        found = risk_rules.claim_risk_alert(state, event, self._content_of(state, event), previous)
        return [found] if found is not None else []

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
            takedowns=sum(1 for c in claims if c.status in TAKEDOWN_STATES),
            least_days_left=min(days_left) if days_left else None,
            views_per_day=sum(c.views_per_day or 0.0 for c in claims),
        )
        score, drivers = asset_dispute_risk(features)
        previous = self.asset_risk.get(asset_id, 0.0)
        self.asset_risk[asset_id] = score
        content_id = self.catalog.content_for_claim(asset_id)
        self.rollups.on_asset_risk(t, asset_id, content_id, score, drivers)
        item = self.catalog.items.get(content_id or "")
        found = risk_rules.asset_risk_alert(
            asset_id,
            content_id,
            item.title if item is not None else None,
            when,
            score,
            previous,
            drivers,
            open_disputes,
            open_appeals,
        )
        return [found] if found is not None else []

    def _content_of(self, state: ClaimState, event: ClaimEvent) -> str | None:
        """Our item a claim is about: the one its asset names, else, for a third party's claim on
        our video, the one the video is (their asset is not in our catalog; the video is)."""
        return self.catalog.content_for_claim(state.asset_id, event.custom_id, event.isrc) or (
            self.catalog.content_for_post("youtube", state.video_id) if state.video_id else None
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
        return [rights_rules.other_owners_alert(event, content_id)]

    def _on_conflict(self, event: OwnershipConflict) -> list[Candidate]:
        self.conflicted_assets.add(event.asset_id)
        return self._conflict_alert(event) + self._asset_risk(event.asset_id, event.event_time)

    def _conflict_alert(self, event: OwnershipConflict) -> list[Candidate]:
        content_id = self.catalog.content_for_claim(event.asset_id, event.custom_id)
        our_share = self.rights.our_share(event.asset_id, self.config.owner)
        return [rights_rules.conflict_alert(event, content_id, our_share)]

    def _on_rights(self, record: RightsRecord) -> list[Candidate]:
        found = self.rights.add(record)
        if not found:
            return []
        self.conflicted_assets.add(record.key())
        content_id = self.catalog.content_for_claim(record.asset_id, record.custom_id, record.isrc)
        when = event_time_of(record) or self.watermark
        if when is None:
            return []
        return [
            rights_rules.over_ownership_alert(record, found, content_id, when),
            *self._asset_risk(record.asset_id, when),
        ]

    # -------------------------------------------------------------------------------- emitting

    def _emit(self, candidates: list[Candidate]) -> list[Alert]:
        if not candidates:  # most events: skip building an empty comprehension
            return []
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
