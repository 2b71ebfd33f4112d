"""Claim state: what each claim is now, how it got there, and how busy each asset usually is.

Daily snapshots (claims reports) and lifecycle events (claim history, API claims) are merged per
claim id; a status change between two observations is a :class:`Transition`. New claims and
status flips per asset and day feed a Poisson model of the asset's usual activity, so a burst is
judged against the asset's own background, not against zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from claimwatch.detect.ewstats import EWMean
from claimwatch.detect.timeutil import DAY
from schemas.events import ClaimEvent

PENDING_REVIEW = frozenset({"pending", "potential", "routed_for_review"})
TAKEDOWN_STATES = ("takedown", "delayed_takedown", "takedown_under_review")  # in the order reports list them
DISPUTE_STATES = frozenset({"disputed", "appealed", *TAKEDOWN_STATES})
MANUAL_ORIGINS = frozenset({"manual_studio", "descriptive_search"})
# The statuses a claim is created in; reaching any other takes an action (a release, a dispute). From
# "unknown" (a creation event's), a creation status is the claim's first known status, not a change.
CREATION_STATES = frozenset({"active", *PENDING_REVIEW, "pending"})


@dataclass
class ClaimState:
    claim_id: str
    asset_id: str | None = None
    video_id: str | None = None
    channel_id: str | None = None
    status: str = "unknown"
    origin: str = "unknown"
    created_at: float | None = None
    first_seen: float = 0.0
    views: int | None = None
    views_at: float | None = None
    views_per_day: float = 0.0
    dispute_at: float | None = None
    appeal_at: float | None = None
    dispute_reason: str | None = None
    reinstatements: int = 0
    block_policy: bool = False
    short_match: bool = False
    third_party: bool = False
    video_title: str | None = None
    channel_title: str | None = None
    risk: float = 0.0
    risk_drivers: list[dict[str, object]] = field(default_factory=list)
    counted: bool = False  # seen in a claims report under its asset: its channel is known to claim it


@dataclass(frozen=True)
class Transition:
    claim: ClaimState
    old: str | None  # None: the claim is new to us
    new: str
    time: float


def poisson_sf(k: int, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam)."""
    if k <= 0:
        return 1.0
    term = math.exp(-lam)
    cdf = term
    for i in range(1, k):
        term *= lam / i
        cdf += term
    return max(0.0, 1.0 - cdf) if cdf < 0.999999 else _sf_tail(k, lam)


def _sf_tail(k: int, lam: float) -> float:
    # Sum the upper tail directly when 1 - cdf would lose every digit to rounding.
    log_term = -lam + k * math.log(lam) - math.lgamma(k + 1) if lam > 0 else -math.inf
    total, i = 0.0, k
    while True:
        term = math.exp(log_term)
        total += term
        if term < total * 1e-12 or i > k + 10_000:
            return total
        i += 1
        log_term += math.log(lam) - math.log(i)


ASSET_RATE_ALPHA = 0.25  # the usual daily claims of an asset: about the last week weighs most


@dataclass
class AssetActivity:
    """Usual daily new claims and status flips of one asset; today's counts."""

    new_rate: EWMean = field(default_factory=lambda: EWMean(fading_factor=ASSET_RATE_ALPHA))
    flip_rate: EWMean = field(default_factory=lambda: EWMean(fading_factor=ASSET_RATE_ALPHA))
    days: int = 0
    new_today: int = 0
    flips_today: int = 0
    # Claimants new to the asset today: a count, since a channel is new once (it is known from then
    # on). State of version 3 kept their names (new_channels_today, read and counted on loading).
    new_claimants_today: int = 0
    new_channels_today: set[str] = field(default_factory=set)
    # Read from state of version 3 and before only: the channels now live in ClaimBook.channels, an
    # index of the claims (an asset of 100,000 claims would otherwise carry them all in one record).
    known_channels: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        # A parameter, not state: a restored asset takes this code's rate.
        self.new_rate.fading_factor = self.flip_rate.fading_factor = ASSET_RATE_ALPHA


@dataclass(frozen=True)
class Burst:
    asset_id: str
    kind: str  # "new_claims" | "status_flips"
    count: int
    expected: float
    p_value: float
    new_claimants: int
    days_of_history: int


@dataclass
class SurgePolicy:
    min_history_days: int = 3
    min_count: int = 8
    min_ratio: float = 3.0
    max_p: float = 1e-6
    rate_floor: float = 0.3


@dataclass
class ClaimBook:
    """Every claim of an item, the item's assets' activity, and two indexes derived from the claims.

    ``by_video`` and ``channels`` are indexes of ``claims`` (rebuilt by :meth:`reindex` when a
    stored item is loaded), and ``changed`` names the claims changed since they were last taken: a
    worker stores each claim as a record of its own, and only the changed ones at a checkpoint.
    """

    claims: dict[str, ClaimState] = field(default_factory=dict)
    by_video: dict[str, set[str]] = field(default_factory=dict)
    channels: dict[str, set[str]] = field(default_factory=dict)  # asset → channels known to claim it
    assets: dict[str, AssetActivity] = field(default_factory=dict)
    open_day: float | None = None  # end (epoch) of the snapshot day being counted
    policy: SurgePolicy = field(default_factory=SurgePolicy)
    changed: set[str] = field(default_factory=set)

    def reindex(self) -> None:
        """Rebuild the indexes from the claims (after loading them one record at a time)."""
        self.by_video, self.channels = {}, {}
        for claim_id in sorted(self.claims):
            state = self.claims[claim_id]
            if state.video_id:
                self.by_video.setdefault(state.video_id, set()).add(claim_id)
            if state.counted and state.asset_id and state.channel_id:
                self.channels.setdefault(state.asset_id, set()).add(state.channel_id)
        for asset_id, activity in self.assets.items():
            if activity.known_channels:  # state of version 3: its channels join the index
                self.channels.setdefault(asset_id, set()).update(activity.known_channels)
                activity.known_channels = set()
            if activity.new_channels_today:
                activity.new_claimants_today += len(activity.new_channels_today)
                activity.new_channels_today = set()

    def take_changed(self) -> list[str]:
        """The claims changed since the last call (sorted), which then start unchanged."""
        changed = sorted(self.changed)
        self.changed.clear()
        return changed

    def observe(self, event: ClaimEvent) -> list[Transition]:
        t = event.event_time.timestamp()
        state = self.claims.get(event.claim_id)
        is_new = state is None
        if state is None:
            state = self.claims[event.claim_id] = ClaimState(claim_id=event.claim_id, first_seen=t)
        self.changed.add(event.claim_id)
        old = None if is_new else state.status
        self._merge(state, event, t)
        new_status = self._status_after(state, event)
        transitions: list[Transition] = []
        if is_new or new_status != old:
            if old in DISPUTE_STATES and new_status == "active":
                state.reinstatements += 1
            if new_status == "disputed" and old != "disputed":
                state.dispute_at = t
            if new_status == "appealed" and old != "appealed":
                state.appeal_at = t
            state.status = new_status
            transitions.append(Transition(state, old, new_status, t))
        if event.event_type == "snapshot" and event.source in ("reporting_api_claims", "studio_claims_csv"):
            self._count(state, old, new_status, is_new, t, event)
        return transitions

    def _merge(self, state: ClaimState, event: ClaimEvent, t: float) -> None:
        state.asset_id = event.asset_id or state.asset_id
        if event.video_id and state.video_id and event.video_id != state.video_id:
            # The index lists a claim under its current video only, as a rebuilt index would.
            self.by_video.get(state.video_id, set()).discard(state.claim_id)
        state.video_id = event.video_id or state.video_id
        state.channel_id = event.channel_id or state.channel_id
        if event.origin not in ("unknown", "other") or state.origin == "unknown":
            state.origin = event.origin if event.origin != "unknown" else state.origin
        if event.claim_created_at is not None:
            state.created_at = event.claim_created_at.timestamp()
        elif event.event_type == "claim_created" and state.created_at is None:
            state.created_at = t
        if event.views_lifetime is not None:
            if state.views is not None and state.views_at is not None and t - state.views_at >= 3600:
                days = (t - state.views_at) / DAY
                state.views_per_day = max(0.0, (event.views_lifetime - state.views) / days)
            if state.views_at is None or t - state.views_at >= 3600:
                state.views, state.views_at = event.views_lifetime, t
        if event.dispute_reason:
            state.dispute_reason = event.dispute_reason
        if event.policy_action_by_territory:
            state.block_policy = "block" in event.policy_action_by_territory.values()
        if event.longest_match_s is not None:
            ratio = event.longest_match_s / event.video_duration_s if event.video_duration_s else 1.0
            state.short_match = event.longest_match_s < 10 or ratio < 0.05
        if event.third_party_claim:
            state.third_party = True
        state.video_title = event.video_title or state.video_title
        state.channel_title = event.channel_title or state.channel_title
        if state.video_id:
            self.by_video.setdefault(state.video_id, set()).add(state.claim_id)

    @staticmethod
    def _status_after(state: ClaimState, event: ClaimEvent) -> str:
        if event.status != "unknown":
            return event.status
        if event.event_type == "claim_released":
            return "inactive"
        if event.event_type == "claim_reinstated":
            return "active"
        return state.status  # unknown until a record says (a creation event does not)

    def _count(self, state: ClaimState, old: str | None, new: str, is_new: bool, t: float, event: ClaimEvent) -> None:
        if not state.asset_id:
            return
        activity = self.assets.setdefault(state.asset_id, AssetActivity())
        known = self.channels.setdefault(state.asset_id, set())
        channel = state.channel_id or ""
        if is_new:
            created = state.created_at
            backfilled = created is not None and t - created > 3 * DAY
            if not backfilled:
                activity.new_today += 1
                if channel and channel not in known:
                    activity.new_claimants_today += 1
        elif old != new:
            activity.flips_today += 1
        state.counted = True
        if channel:
            known.add(channel)

    def close_day(self) -> list[Burst]:
        """End of a snapshot day: test every asset's counts against its usual day, then learn them."""
        bursts: list[Burst] = []
        p = self.policy
        for asset_id in sorted(self.assets):
            a = self.assets[asset_id]
            if a.days == 0:
                # The first snapshot lists every existing claim as "new": it is no day's activity.
                a.days = 1
                a.new_today = a.flips_today = 0
                a.new_claimants_today = 0
                continue
            for kind, count, model in (
                ("new_claims", a.new_today, a.new_rate),
                ("status_flips", a.flips_today, a.flip_rate),
            ):
                usual = max(float(model.get()) if a.days > 1 else 0.0, p.rate_floor)
                p_value = poisson_sf(count, usual)
                if (
                    a.days - 1 >= p.min_history_days
                    and count >= p.min_count
                    and count >= p.min_ratio * usual
                    and p_value < p.max_p
                ):
                    bursts.append(
                        Burst(
                            asset_id,
                            kind,
                            count,
                            round(usual, 3),
                            p_value,
                            a.new_claimants_today if kind == "new_claims" else 0,
                            a.days - 1,
                        )
                    )
                    count = min(count, math.ceil(p.min_ratio * usual + 3))  # keep bursts out of "usual"
                model.update(count)
            a.days += 1
            a.new_today = a.flips_today = a.new_claimants_today = 0
        return bursts
