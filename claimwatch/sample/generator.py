"""A realistic, seeded data set in the real export formats, with labelled injected scenarios.

Background first: heavy-tailed popularity, daily and weekly seasonality, slow trends, over-
dispersed noise, irregular polls (missed, repeated, late, two collectors), daily claim reports
whose claims are created, reviewed, released and disputed at realistic rates. Then scenarios of
every alert type, of realistic size (a spike is a few times a post's usual rate on a post with
traffic worth acting on; a claim surge stands out from a busy asset's background), each written
to ``labels.json`` with its subject and data-time window.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import json
import math
import random
import string
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

HOSTILE_TITLES = [
    '<script>alert("x")</script> Official Video',
    '=HYPERLINK("http://evil.example/","click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3 Remix",
    'Say "Hello", World',
    "Line one\nLine two",
    "\u202eevil\u202c Title",
    "<img src=x onerror=alert(1)>",
    "Tom & Jerry's <b>Theme</b>",
    "A" * 1500,
]
WORDS = """
    Midnight River Gold Echo Neon Summer Heart City Fire Blue Wild Dream Shadow Light Storm Velvet
    Paper Stone Silver Ocean
    """.split()
ARTISTS = ["Nova Lane", "The Parallels", "DJ Kestrel", "Mara Quinn", "Oslo Drift", "Juno & Wolf", "Kid Atlas"]
COUNTRIES = ["US", "GB", "DE", "BR", "IN", "FR", "JP", "MX"]
PLATFORM_SHARE = {"youtube": 0.92, "tiktok": 0.5, "instagram": 0.4, "facebook": 0.15, "x": 0.1}
PLATFORM_SCALE = {"youtube": 1.0, "tiktok": 1.6, "instagram": 0.7, "facebook": 0.3, "x": 0.25}
PLATFORM_PHASE = {"youtube": 20.0, "tiktok": 22.0, "instagram": 19.0, "facebook": 18.0, "x": 16.0}
OTHER_OWNERS = ["Rival Music Group", "Indie Collective LLC", "Global Rights Admin", "SoundClaim Partners"]
SPIKE_MIN_DAILY_VIEWS = 600.0  # below this a 3x rise is a few views: nobody acts on it, nothing can see it
REACTIONS = {"likes": (0.02, 0.06), "comments": (0.002, 0.006), "shares": (0.002, 0.01)}  # per view
# A surge of one reaction: shares x8 for ~10 hours while views barely move, on a busy post. Summed with likes and comments it is ~1.3x: only a per-metric baseline sees it.
# Extra reactions of the surging kind a labelled surge adds at the least, at the post's usual rates:
# what a rights team would act on (a few hundred likes, a few dozen comments or shares), never
# below 60. A surge of 8 comments or 50 likes is no scenario: nobody could see it, nor would act.
ENGAGEMENT_MIN_EXTRA = {"likes": 250.0, "comments": 60.0, "shares": 60.0}
WARMUP_HOURS = 96  # models need a few days of history before scenarios start
DECAY_HOURS = 4.0  # a spike fades over this long after its plateau: still part of the scenario
# The background's own bursts, never labelled: (per post-day, (lowest, highest) factor, (shortest,
# longest) hours). Views get a link shared somewhere; a reaction gets a wave from one audience.
VIEW_BURSTS = (0.1, (1.2, 1.8), (1.0, 3.0))
REACTION_WAVES = (0.1, (1.5, 3.0), (1.0, 3.0))
REACTION_DRIFT_PER_DAY = 0.15  # the standard deviation of a day's change of log(rate per view)
REACTION_GAMMA_SHAPE = (2.0, 12.0)  # a post's hour-to-hour mixing: 2 is very overdispersed
CLUSTER_SIZE = {"likes": (1.0, 1.3), "comments": (1.2, 2.5), "shares": (1.2, 2.5)}  # mean arrivals a cluster
SPIKE_RAMP_HOURS = (0.5, 8.0)
SPIKE_PLATEAU_HOURS = (5.0, 18.0)
SPIKE_MULTIPLIER = (3.0, 8.0)
FREEZES_PER_POST_DAY = 0.02  # a collector serving stale counters: all of them, or one
FREEZE_HOURS = (3.0, 14.0)
BUSY_SHARE = 0.05  # posts of a few hits a catalogue has: 10-300x the popularity of the rest
BUSY_FACTOR = (10.0, 300.0)


@dataclass
class Item:
    content_id: str
    title: str
    artist: str
    label: str
    isrc: str
    upc: str
    custom_id: str
    asset_id: str
    release_date: date
    platform_ids: dict[str, str]
    channel_id: str
    claim_rate: float  # usual new UGC claims per day on the asset
    base_views: dict[str, float] = field(default_factory=dict)  # per platform, views/day
    per_view: dict[str, dict[str, float]] = field(default_factory=dict)  # per platform, reactions per view
    used: bool = False


@dataclass
class Claim:
    claim_id: str
    asset_id: str
    video_id: str
    channel_id: str
    uploader: str
    channel_title: str
    video_title: str
    created: datetime
    views: float
    velocity: float  # views per day
    origin: str
    claim_type: str
    status: str = "ACTIVE"
    detail: str = ""
    policy_block: list[str] = field(default_factory=list)
    matching: float = 60.0
    longest: float = 30.0
    duration: float = 180.0
    own: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    plan: list[tuple[datetime, str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class Spike:
    platform: str
    start_h: float
    ramp_h: float
    plateau_h: float
    multiplier: float
    engagement_only: bool = False
    metric: str | None = None  # an engagement spike of this reaction alone (likes, comments, shares)

    def factor(self, hours: np.ndarray) -> np.ndarray:
        rel = hours - self.start_h
        up = np.clip(rel / self.ramp_h, 0, 1)
        down = np.clip(1 - (rel - self.ramp_h - self.plateau_h) / DECAY_HOURS, 0, 1)
        shape = np.where(rel < 0, 0.0, np.where(rel <= self.ramp_h + self.plateau_h, up, down))
        return np.asarray(1.0 + (self.multiplier - 1.0) * shape)

    @property
    def end_h(self) -> float:
        return self.start_h + self.ramp_h + self.plateau_h + DECAY_HOURS


class Generator:
    def __init__(
        self,
        seed: int = 7,
        items: int = 300,
        days: int = 21,
        start: date | None = None,
        scenarios: bool = True,
        undated: bool = False,
        poll_minutes: tuple[float, float] = (15.0, 60.0),
    ) -> None:
        if days < 8:
            raise ValueError("--days must be at least 8: the models need a few days before any scenario")
        if items < 40:
            raise ValueError("--items must be at least 40 to hold every scenario")
        self.seed = seed
        self.scenarios = scenarios  # False: quiet data, the background alone (what false alerts are measured on)
        # True: exports as some real deliveries are: claims reports without a creation date (Studio's
        # own export has none) and poll files whose names carry no date (a collector's batches).
        self.undated = undated
        # How far apart a collector's polls of one post are (drawn evenly between the two): a catalogue
        # polled on a schedule is (15, 15), what the scale bench projects.
        if not 0 < poll_minutes[0] <= poll_minutes[1]:
            raise ValueError(f"poll_minutes {poll_minutes}: give (shortest, longest), both above 0")
        self.poll_hours = (poll_minutes[0] / 60.0, poll_minutes[1] / 60.0)
        self.n_items = items
        self.days = days
        self.start = datetime.combine(start or date(2026, 11, 2), datetime.min.time(), tzinfo=UTC)
        self.rng = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self.hours = days * 24
        self.labels: list[dict[str, Any]] = []
        self.items: list[Item] = []
        self.claims: list[Claim] = []
        self.spikes: dict[tuple[str, str], list[Spike]] = {}
        self.rights_rows: list[dict[str, Any]] = []
        self.conflict_rows: dict[int, list[dict[str, Any]]] = {}
        self.video_report_others: dict[tuple[int, str], list[str]] = {}
        self.claimed_view_factor: dict[tuple[int, str], float] = {}
        self.api_claims: dict[int, list[dict[str, Any]]] = {}
        self.our_channels = [self._channel_id() for _ in range(6)]

    # -------------------------------------------------------------------------------- ids

    def _token(self, n: int, alphabet: str = string.ascii_letters + string.digits + "-_") -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def _channel_id(self) -> str:
        return "UC" + self._token(22)

    def _time(self, hours: float) -> datetime:
        return self.start + timedelta(hours=hours)

    def _label(self, type_: str, subject: dict[str, Any], start: datetime, end: datetime, note: str) -> None:
        self.labels.append(
            {
                "type": type_,
                "subject": {k: v for k, v in subject.items() if v},
                "start": _iso(start),
                "end": _iso(end),
                "note": note,
            }
        )

    def _day(self, first: int, margin: int) -> int:
        """A scenario day at or after ``first`` that leaves ``margin`` days of data after it."""
        return self.rng.randrange(first, max(first + 1, self.days - margin))

    def _scenario_hour(self, length_h: float) -> float:
        return self.rng.uniform(WARMUP_HOURS, self.hours - length_h - 12)

    # ------------------------------------------------------------------------------ catalog

    def build_catalog(self) -> None:
        for i in range(self.n_items):
            title = f"{self.rng.choice(WORDS)} {self.rng.choice(WORDS)}"
            if i % 23 == 5:
                title = HOSTILE_TITLES[(i // 23) % len(HOSTILE_TITLES)]
            platforms = {"youtube": self._token(11)} if self.rng.random() < PLATFORM_SHARE["youtube"] else {}
            for p in ("tiktok", "instagram", "facebook", "x"):
                if self.rng.random() < PLATFORM_SHARE[p]:
                    platforms[p] = str(self.rng.randrange(10**18, 10**19)) if p != "instagram" else self._token(11)
            if not platforms:
                platforms["youtube"] = self._token(11)
            popularity = math.exp(self.np.normal(7.0, 1.4))
            if self.rng.random() < BUSY_SHARE:  # a hit: small and busy posts side by side
                popularity *= math.exp(self.rng.uniform(*map(math.log, BUSY_FACTOR)))
            item = Item(
                content_id=f"CW-{i:06d}",
                title=title,
                artist=self.rng.choice(ARTISTS),
                label="Northwind Records" if i % 3 else "Harbor Lights Music",
                isrc=f"QZ{self.rng.choice('ABCDEFGH')}{self.rng.randrange(10**8):08d}"[:12].ljust(12, "0"),
                upc=str(self.rng.randrange(10**11, 10**12)),
                custom_id=f"NW{i:06d}",
                asset_id="A" + "".join(self.rng.choice(string.digits) for _ in range(15)),
                release_date=(self.start - timedelta(days=self.rng.randrange(20, 1500))).date(),
                platform_ids=platforms,
                channel_id=self.rng.choice(self.our_channels),
                claim_rate=min(14.0, math.exp(self.np.normal(-1.3, 1.3))),
            )
            for p in platforms:
                item.base_views[p] = max(15.0, popularity * PLATFORM_SCALE[p] * math.exp(self.np.normal(0, 0.5)))
                item.per_view[p] = {name: self.rng.uniform(lo, hi) for name, (lo, hi) in REACTIONS.items()}
            self.items.append(item)

    def build_rights(self) -> None:
        for n, item in enumerate(self.items):
            shape = n % 10
            if shape < 7:
                self.rights_rows.append(self._right(item, "our-label", "general", "WW", 100))
            elif shape < 9:
                self.rights_rows.append(self._right(item, "our-label", "general", "WW", 50))
                self.rights_rows.append(self._right(item, "Co-Publisher Ltd", "general", "WW", 50))
            else:
                self.rights_rows.append(self._right(item, "our-label", "general", "US|CA|MX", 100))
                self.rights_rows.append(self._right(item, "Euro Partner GmbH", "general", "GB|DE|FR", 100))
            if n % 4 == 0:
                self.rights_rows.append(self._right(item, "our-label", "performance", "WW", 100))

    def _right(
        self, item: Item, owner: str, right: str, terr: str, share: float, since: date | None = None
    ) -> dict[str, Any]:
        return {
            "asset_id": item.asset_id,
            "custom_id": item.custom_id,
            "isrc": item.isrc,
            "owner": owner,
            "right_type": right,
            "territories": terr,
            "share_pct": f"{share:g}",
            "valid_from": (since or item.release_date).isoformat(),
            "valid_to": "",
        }

    # ----------------------------------------------------------------------------- claims

    def _ugc_claim(self, item: Item, created: datetime, status: str = "ACTIVE") -> Claim:
        title = f"{item.title[:40]} cover by {self._token(5, string.ascii_lowercase)}"
        if self.rng.random() < 0.02:
            title = self.rng.choice(HOSTILE_TITLES)
        channel_title = self._token(8, string.ascii_letters)
        if self.rng.random() < 0.01:
            channel_title = "=cmd|' /C calc'!A0"
        origin = self.rng.choices(
            ["Audio match", "Audio and video match", "Melody match", "In-product (Studio)", "Descriptive search"],
            weights=[70, 12, 8, 7, 3],
        )[0]
        duration = self.rng.uniform(30, 900)
        longest = min(duration, self.rng.uniform(5, 200)) if self.rng.random() > 0.05 else self.rng.uniform(2, 8)
        return Claim(
            claim_id=self._token(11),
            asset_id=item.asset_id,
            video_id=self._token(11),
            channel_id=self._channel_id(),
            uploader=self._token(8, string.ascii_lowercase),
            channel_title=channel_title,
            video_title=title,
            created=created,
            views=float(math.exp(self.np.normal(7.5, 1.3))),
            velocity=float(math.exp(self.np.normal(3.5, 1.2))),
            origin=origin,
            claim_type=self.rng.choice(["Audio", "Audio", "Audiovisual", "Visual"]),
            status=status,
            policy_block=["DE", "FR"] if self.rng.random() < 0.1 else [],
            matching=min(duration, longest * self.rng.uniform(1, 3)),
            longest=longest,
            duration=duration,
        )

    def build_claims(self) -> None:
        for item in self.items:
            existing = self.np.poisson(item.claim_rate * 20)
            for _ in range(int(existing)):
                created = self.start - timedelta(hours=self.rng.uniform(24, 24 * 60))
                self.claims.append(self._ugc_claim(item, created))
            if "youtube" in item.platform_ids:
                own = Claim(
                    claim_id=self._token(11),
                    asset_id=item.asset_id,
                    video_id=item.platform_ids["youtube"],
                    channel_id=item.channel_id,
                    uploader="northwind",
                    channel_title="Northwind Records",
                    video_title=item.title,
                    created=datetime.combine(item.release_date, datetime.min.time(), tzinfo=UTC),
                    views=0.0,
                    velocity=0.0,
                    origin="Web upload",
                    claim_type="Audiovisual",
                    own=True,
                    duration=200.0,
                    longest=200.0,
                    matching=200.0,
                )
                self.claims.append(own)
            for day in range(self.days):
                for _ in range(int(self.np.poisson(item.claim_rate))):
                    created = self._time(day * 24 + self.rng.uniform(0, 24))
                    self.claims.append(self._background_new_claim(item, created))
        for claim in list(self.claims):
            if claim.own or claim.status != "ACTIVE":
                continue
            for day in range(self.days):
                when = self._time(day * 24 + self.rng.uniform(0, 24))
                if when < claim.created:
                    continue
                roll = self.rng.random()
                if roll < 0.003:
                    claim.plan.append((when, "release", {}))
                    break
                if roll < 0.0045:
                    self._plan_background_dispute(claim, when)
                    break

    def _background_new_claim(self, item: Item, created: datetime) -> Claim:
        if self.rng.random() < 0.03:
            claim = self._ugc_claim(item, created, status="PENDING")
            claim.detail = self.rng.choice(["POTENTIAL", "PENDING_FOR_REVIEW"])
            day_end = _day_end(created)
            self._label(
                "content_id_flag",
                {"claim_id": claim.claim_id, "video_id": claim.video_id},
                created,
                day_end + timedelta(hours=12),
                f"new claim routed for review ({claim.detail})",
            )
            resolve = created + timedelta(days=self.rng.uniform(2, 6))
            claim.plan.append((resolve, "review", {"to": self.rng.choice(["ACTIVE", "INACTIVE"])}))
            return claim
        return self._ugc_claim(item, created)

    def _plan_background_dispute(self, claim: Claim, when: datetime) -> None:
        reason = self.rng.choice(["misidentified", "fair_use", "license", "original_content", "public_domain"])
        claim.plan.append((when, "dispute", {"reason": reason}))
        self._label(
            "dispute_opened",
            {"claim_id": claim.claim_id, "video_id": claim.video_id},
            when,
            _day_end(when) + timedelta(hours=12),
            f"uploader disputed the claim ({reason})",
        )
        outcome_at = when + timedelta(days=self.rng.uniform(2, 9))
        claim.plan.append((outcome_at, self.rng.choice(["release_dispute", "reinstate"]), {}))

    # ---------------------------------------------------------------------------- scenarios

    def _pick(self, predicate: Any) -> Item | None:
        candidates = [i for i in self.items if not i.used and predicate(i)]
        if not candidates:
            return None
        item = self.rng.choice(candidates)
        item.used = True
        return item

    def _add_spike(self, item: Item, platform: str, start_h: float) -> Spike:
        spike = self._draw_spike(platform, start_h)
        self.spikes.setdefault((item.content_id, platform), []).append(spike)
        return spike

    def _draw_spike(self, platform: str, start_h: float, engagement: bool = False) -> Spike:
        """A surge of the ranges real ones span: ramps from half an hour to 8 hours, 5-18 hours at
        its height, 3-8x (log-uniform, so most are modest), on small posts as on busy ones."""
        return Spike(
            platform=platform,
            start_h=start_h,
            ramp_h=self.rng.uniform(*SPIKE_RAMP_HOURS),
            plateau_h=self.rng.uniform(*SPIKE_PLATEAU_HOURS),
            multiplier=math.exp(self.rng.uniform(*map(math.log, SPIKE_MULTIPLIER))),
            engagement_only=engagement,
        )

    def _visible_reactions(self, item: Item, platform: str, spike: Spike) -> list[str | None]:
        """The reactions a surge can be of on this post: those it adds ENGAGEMENT_MIN_EXTRA of at the
        post's own rate per view (all of them together, None, when every one does)."""
        visible: list[str | None] = [
            name for name in REACTIONS if self._extra(item, platform, name, spike) >= ENGAGEMENT_MIN_EXTRA[name]
        ]
        if len(visible) == len(REACTIONS):
            visible.append(None)
        return visible

    @staticmethod
    def _extra(item: Item, platform: str, name: str, spike: Spike) -> float:
        """The reactions of ``name`` a surge adds over its height, at the post's usual rates."""
        per_hour = item.base_views[platform] / 24.0 * item.per_view[platform][name]
        return per_hour * (spike.multiplier - 1.0) * spike.plateau_h

    def _spike_label(self, type_: str, item: Item, spike: Spike, note: str) -> None:
        pid = item.platform_ids[spike.platform]
        self._label(
            type_,
            {
                "content_id": item.content_id,
                "platform": spike.platform,
                "platform_content_id": pid,
                "video_id": pid if spike.platform == "youtube" else None,
            },
            self._time(spike.start_h),
            self._time(spike.end_h),
            note,
        )

    def inject(self) -> None:
        n = self.n_items
        count = max(3, n // 40)
        for _ in range(count):  # view spikes on one platform
            item = self._pick(lambda i: any(v >= SPIKE_MIN_DAILY_VIEWS for v in i.base_views.values()))
            if item is None:
                break
            platform = self.rng.choice(sorted(p for p, v in item.base_views.items() if v >= SPIKE_MIN_DAILY_VIEWS))
            spike = self._add_spike(item, platform, self._scenario_hour(30))
            self._spike_label("view_spike", item, spike, f"views x{spike.multiplier:.1f} on {platform}")
        # Engagement surges and spreading spikes are the hardest to see: more of them (12 and 4 in 200
        # items), so that one seed's recall of each is measured to a twelfth, not a seventh.
        for _ in range(max(3, n // 25)):  # engagement spikes: reactions jump, views do not
            spike = self._draw_spike("", self._scenario_hour(30), engagement=True)

            def visible(i: Item, p: str, surge: Spike = spike) -> bool:
                return any(self._extra(i, p, name, surge) >= ENGAGEMENT_MIN_EXTRA[name] for name in REACTIONS)

            item = self._pick(lambda i: any(visible(i, p) for p in i.base_views))
            if item is None:
                break
            spike.platform = self.rng.choice(sorted(p for p in item.base_views if visible(item, p)))
            spike.metric = metric = self.rng.choice(self._visible_reactions(item, spike.platform, spike))
            self.spikes.setdefault((item.content_id, spike.platform), []).append(spike)
            what = metric or "likes/comments/shares"
            self._spike_label("engagement_spike", item, spike, f"{what} x{spike.multiplier:.1f}")
        for _ in range(max(2, n // 50)):  # cross-platform propagation
            item = self._pick(lambda i: sum(v >= SPIKE_MIN_DAILY_VIEWS for v in i.base_views.values()) >= 2)
            if item is None:
                break
            first, second = self.rng.sample(
                sorted(p for p, v in item.base_views.items() if v >= SPIKE_MIN_DAILY_VIEWS), 2
            )
            start = self._scenario_hour(60)
            a = self._add_spike(item, first, start)
            b = self._add_spike(item, second, start + self.rng.uniform(2, 24))
            self._spike_label("view_spike", item, a, f"viral on {first} first")
            self._spike_label("view_spike", item, b, f"then on {second}")
            self._spike_label("viral_propagation", item, b, f"{first} → {second}")
        self._inject_claim_surges(max(2, n // 60))
        self._inject_rights(max(2, n // 60))
        self._inject_discrepancies(max(2, n // 60))
        self._inject_third_party(max(1, n // 100))
        self._inject_risky_disputes(max(2, n // 80))
        self._inject_share_surges(max(2, n // 50))
        self._inject_asset_risk(max(1, n // 100))

    def _inject_asset_risk(self, count: int) -> None:
        """An asset whose context adds up: another owner, then a surge of claims, then a dispute.

        No single claim is risky (one ordinary dispute); the asset is, and only the asset-level
        score sees it.
        """
        for _ in range(count):
            item = self._pick(lambda i: True)
            if item is None:
                return
            item.claim_rate = max(item.claim_rate, 1.0)
            day = self._day(5, 3)
            when = self._time(day * 24)
            subject = {"asset_id": item.asset_id, "content_id": item.content_id}
            owner = self._add_conflict(item, day, when)
            surge_day = day + 1
            extra = max(15, round(item.claim_rate * self.rng.uniform(5, 8)))
            for _ in range(extra):
                self.claims.append(self._ugc_claim(item, self._time(surge_day * 24 + self.rng.uniform(0, 24))))
            surge_start = self._time(surge_day * 24)
            self._label(
                "claim_surge",
                subject,
                surge_start,
                surge_start + timedelta(hours=36),
                f"{extra} extra new claims after a conflict",
            )
            disputed = self._ugc_claim(item, self._time((day - 3) * 24 + self.rng.uniform(0, 24)))
            self.claims.append(disputed)
            dispute_at = self._time((surge_day + 1) * 24 + self.rng.uniform(2, 20))
            disputed.plan.append((dispute_at, "dispute", {"reason": "original_content"}))
            self._label(
                "dispute_opened",
                {"claim_id": disputed.claim_id, "video_id": disputed.video_id},
                dispute_at,
                _day_end(dispute_at) + timedelta(hours=12),
                "disputed amid the conflict",
            )
            self._label(
                "dispute_risk",
                subject,
                when,
                _day_end(dispute_at) + timedelta(hours=12),
                f"asset risk: conflict with {owner}, {extra} new claims, then a dispute",
            )

    def _inject_share_surges(self, count: int) -> None:
        """Shares x5-9 for 6-12 hours while views barely move, on a post where that is 60 or more
        extra shares (a busy one): only a per-metric baseline sees it."""
        for _ in range(count):
            start = self._scenario_hour(30)
            ramp, plateau = self.rng.uniform(0.5, 4.0), self.rng.uniform(6.0, 12.0)
            shares = Spike("", start, ramp, plateau, self.rng.uniform(5.0, 9.0), engagement_only=True, metric="shares")

            def visible(i: Item, surge: Spike = shares) -> bool:
                return any(self._extra(i, p, "shares", surge) >= ENGAGEMENT_MIN_EXTRA["shares"] for p in i.base_views)

            item = self._pick(visible)
            if item is None:
                break
            shares.platform = self.rng.choice(
                sorted(
                    p
                    for p in item.base_views
                    if self._extra(item, p, "shares", shares) >= ENGAGEMENT_MIN_EXTRA["shares"]
                )
            )
            views = Spike(shares.platform, start, ramp, plateau, self.rng.uniform(1.0, 1.5))
            self.spikes.setdefault((item.content_id, shares.platform), []).extend([shares, views])
            self._spike_label(
                "engagement_spike", item, shares, f"shares x{shares.multiplier:.1f}, views x{views.multiplier:.2f}"
            )

    def _inject_claim_surges(self, count: int) -> None:
        for _ in range(count):
            item = self._pick(lambda i: i.claim_rate >= 1.0)
            if item is None:
                item = self._pick(lambda i: True)
                if item is None:
                    return
                item.claim_rate = 1.5
            day = self._day(5, 1)
            extra = max(15, round(item.claim_rate * self.rng.uniform(5, 8)))
            for _ in range(extra):
                self.claims.append(self._ugc_claim(item, self._time(day * 24 + self.rng.uniform(0, 24))))
            start = self._time(day * 24)
            self._label(
                "claim_surge",
                {"asset_id": item.asset_id, "content_id": item.content_id},
                start,
                start + timedelta(hours=36),
                f"{extra} extra new claims (usual {item.claim_rate:.1f}/day)",
            )

    def _inject_rights(self, count: int) -> None:
        for k in range(count):
            item = self._pick(lambda i: True)
            if item is None:
                return
            day = self._day(4, 1)
            when = self._time(day * 24)
            subject = {"asset_id": item.asset_id, "content_id": item.content_id}
            kind = k % 3
            if kind == 0:
                owner = self.rng.choice(OTHER_OWNERS)
                self.rights_rows.append(
                    self._right(item, owner, "general", "US|GB", self.rng.choice([25, 40, 60]), when.date())
                )
                self._label(
                    "rights_conflict", subject, when, when + timedelta(days=1), f"{owner} registers a share: over 100%"
                )
            elif kind == 1:
                self._add_conflict(item, day, when)
            else:
                if "youtube" not in item.platform_ids:
                    item.platform_ids["youtube"] = self._token(11)
                    item.base_views["youtube"] = 300.0
                    # A post of its own needs its own reaction rates (seed 111 crashed without them).
                    item.per_view["youtube"] = {name: self.rng.uniform(lo, hi) for name, (lo, hi) in REACTIONS.items()}
                owners = self.rng.sample(OTHER_OWNERS, self.rng.randrange(1, 3))
                for d in range(day, min(self.days, day + self.rng.randrange(1, 4))):
                    self.video_report_others[(d, item.platform_ids["youtube"])] = owners
                subject["video_id"] = item.platform_ids["youtube"]
                self._label(
                    "rights_conflict",
                    subject,
                    when,
                    _day_end(when) + timedelta(hours=12),
                    f"{', '.join(owners)} claim our video",
                )

    def _add_conflict(self, item: Item, day: int, when: datetime) -> str:
        """Another owner in the asset conflicts report of ``day``, labelled; returns the owner."""
        owner = self.rng.choice(OTHER_OWNERS)
        self.conflict_rows.setdefault(day, []).append(
            {
                "asset_id": item.asset_id,
                "custom_id": item.custom_id,
                "conflicting_owner": owner,
                "conflicting_country_code": "|".join(self.rng.sample(COUNTRIES, 3)),
                "approx_daily_views": str(int(item.base_views.get("youtube", 500))),
                "active_claims": str(self.rng.randrange(1, 40)),
                "lifetime_views_in_conflict": str(self.rng.randrange(10_000, 900_000)),
                "ownership_last_updated": when.date().isoformat(),
                "match_policy": "Monetize in all countries",
            }
        )
        subject = {"asset_id": item.asset_id, "content_id": item.content_id}
        self._label(
            "rights_conflict", subject, when, _day_end(when) + timedelta(hours=12), f"asset conflict with {owner}"
        )
        return owner

    def _inject_discrepancies(self, count: int) -> None:
        for k in range(count):
            item = self._pick(lambda i: i.base_views.get("youtube", 0) >= SPIKE_MIN_DAILY_VIEWS)
            if item is None:
                return
            video = item.platform_ids["youtube"]
            day = self._day(4, 3)
            start = self._time(day * 24)
            own = next(c for c in self.claims if c.own and c.video_id == video)
            subject = {"content_id": item.content_id, "video_id": video, "claim_id": own.claim_id}
            if k % 2 == 0:
                factor = self.rng.uniform(0.15, 0.35)
                for d in range(day, day + 3):
                    self.claimed_view_factor[(d, video)] = factor
                self._label(
                    "performance_discrepancy",
                    subject,
                    start,
                    start + timedelta(days=3),
                    f"claims report views x{factor:.2f} of measured",
                )
            else:
                when = start + timedelta(hours=self.rng.uniform(8, 20))
                own.plan.append((when, "release", {}))
                spike = self._add_spike(item, "youtube", day * 24 + self.rng.uniform(30, 60))
                self._spike_label("view_spike", item, spike, "our video goes viral after its claim was released")
                end = self._time(spike.end_h)
                self._label(
                    "performance_discrepancy", subject, when, end, "claim on our own video released, then it went viral"
                )

    def _inject_third_party(self, count: int) -> None:
        for _ in range(count):
            item = self._pick(lambda i: "youtube" in i.platform_ids)
            if item is None:
                return
            day = self._day(4, 1)
            when = self._time(day * 24 + self.rng.uniform(1, 22))
            claim_id = self._token(11)
            self.api_claims.setdefault(day, []).append(
                {
                    "kind": "youtubePartner#claim",
                    "id": claim_id,
                    "assetId": "A" + "".join(self.rng.choice(string.digits) for _ in range(15)),
                    "videoId": item.platform_ids["youtube"],
                    "status": "active",
                    "contentType": "audio",
                    "origin": {"source": "audioMatch"},
                    "thirdPartyClaim": True,
                    "isPartnerUploaded": False,
                    "timeCreated": _iso(when),
                    "timeStatusLastModified": _iso(when),
                    "videoViews": str(int(item.base_views["youtube"] * 200)),
                }
            )
            self._label(
                "content_id_flag",
                {"claim_id": claim_id, "video_id": item.platform_ids["youtube"], "content_id": item.content_id},
                when,
                when + timedelta(hours=12),
                "third-party claim on our own video",
            )

    def _inject_risky_disputes(self, count: int) -> None:
        for _ in range(count):
            item = self._pick(lambda i: True)
            if item is None:
                return
            day = self._day(3, 5)
            created = self._time(day * 24 + self.rng.uniform(0, 12))
            claim = self._ugc_claim(item, created)
            claim.origin = "In-product (Studio)"
            claim.views = float(self.rng.uniform(200_000, 2_000_000))
            claim.velocity = float(self.rng.uniform(150_000, 600_000))
            self.claims.append(claim)
            disputed = created + timedelta(hours=self.rng.uniform(14, 40))
            reinstated = disputed + timedelta(hours=self.rng.uniform(20, 40))
            appealed = reinstated + timedelta(hours=self.rng.uniform(6, 30))
            claim.plan += [
                (disputed, "dispute", {"reason": "fair_use"}),
                (reinstated, "reinstate", {}),
                (appealed, "appeal", {}),
            ]
            subject = {"claim_id": claim.claim_id, "video_id": claim.video_id}
            self._label("dispute_opened", subject, disputed, _day_end(disputed) + timedelta(hours=12), "disputed")
            self._label("dispute_opened", subject, appealed, _day_end(appealed) + timedelta(hours=12), "appealed")
            self._label(
                "dispute_risk",
                subject,
                disputed,
                appealed + timedelta(hours=24),
                "manual claim on a fast-growing video: disputed early, reinstated, appealed",
            )

    # ------------------------------------------------------------------------------ series

    def series(self, item: Item, platform: str) -> dict[str, np.ndarray]:
        """Hourly counts of views and reactions over the whole period.

        Views: a Poisson count of a rate with daily and weekly seasonality, a slow random trend,
        hour-to-hour log-normal noise and short unlabelled bursts (a link shared somewhere: x1.2-1.8
        for an hour or three), times the injected spikes. Reactions are not Poisson given views: see
        :meth:`_reactions`.
        """
        hours = np.arange(self.hours, dtype=float)
        base = item.base_views[platform] / 24.0
        amplitude = self.rng.uniform(0.25, 0.6)
        phase = PLATFORM_PHASE[platform] + self.rng.uniform(-2, 2)
        diurnal = 1.0 + amplitude * np.cos(2 * np.pi * (hours - phase) / 24.0)
        weekday = ((self.start.weekday() + hours // 24) % 7).astype(int)
        weekly = np.where(weekday >= 5, self.rng.uniform(1.0, 1.3), 1.0)
        trend = np.exp(np.cumsum(self.np.normal(0, 0.05 / math.sqrt(24), self.hours)))
        noise = np.exp(self.np.normal(0, 0.12, self.hours))
        rate = base * diurnal * weekly * trend * noise * self._bursts(VIEW_BURSTS)
        reaction_factor = {name: np.ones(self.hours) for name in REACTIONS}
        for spike in self.spikes.get((item.content_id, platform), []):
            if spike.engagement_only:
                for name in [spike.metric] if spike.metric else REACTIONS:
                    reaction_factor[name] = reaction_factor[name] * spike.factor(hours)
            else:
                rate = rate * spike.factor(hours)
        views = self.np.poisson(rate)
        out = {"views": views}
        for name in REACTIONS:
            out[name] = self._reactions(name, views, item.per_view[platform][name], reaction_factor[name])
        return out

    def _reactions(self, name: str, views: np.ndarray, per_view: float, factor: np.ndarray) -> np.ndarray:
        """One reaction's hourly counts, as overdispersed as real ones.

        - the rate per view drifts (a slow random walk) and varies by hour (who is watching);
        - it comes in waves from one audience (x1.5-3 for 1-3 hours, unlabelled);
        - the hour's rate is gamma-mixed with a shape of the post's own (negative binomial counts);
        - arrivals are clustered: comments in threads, shares in bursts of a group, likes nearly
          alone; a cluster's size is geometric with a mean of the post's own.
        """
        hours = np.arange(self.hours, dtype=float)
        drift = np.exp(np.cumsum(self.np.normal(0, REACTION_DRIFT_PER_DAY / math.sqrt(24), self.hours)))
        audience = 1.0 + self.rng.uniform(0.0, 0.4) * np.cos(2 * np.pi * (hours - self.rng.uniform(0, 24)) / 24.0)
        mean = views * per_view * drift * audience * self._bursts(REACTION_WAVES) * factor
        shape = self.rng.uniform(*REACTION_GAMMA_SHAPE)
        mixed = mean * self.np.gamma(shape, 1.0 / shape, self.hours)
        size = self.rng.uniform(*CLUSTER_SIZE[name])
        clusters = self.np.poisson(mixed / size)
        extra = self.np.negative_binomial(np.maximum(clusters, 1), 1.0 / size)
        return np.asarray(clusters + np.where(clusters > 0, extra, 0))

    def _bursts(self, spec: tuple[float, tuple[float, float], tuple[float, float]]) -> np.ndarray:
        """A factor of 1 with short unlabelled bursts: ``(per day, (lowest, highest) x, (shortest, longest) h)``."""
        per_day, (low, high), (shortest, longest) = spec
        factor = np.ones(self.hours)
        for _ in range(int(self.np.poisson(per_day * self.days))):
            start = self.rng.randrange(self.hours)
            length = max(1, round(self.rng.uniform(shortest, longest)))
            factor[start : start + length] *= self.rng.uniform(low, high)
        return factor

    # ------------------------------------------------------------------------------ writing

    def write(self, out: Path) -> dict[str, int]:
        self.build_catalog()
        self.build_rights()
        self.build_claims()
        if self.scenarios:
            self.inject()
        out.mkdir(parents=True, exist_ok=True)
        counts: dict[str, int] = {}
        counts["catalog"] = self._write_catalog(out / "catalog")
        counts["rights"] = _write_csv(out / "rights" / "rights.csv", list(self.rights_rows[0]), self.rights_rows)
        lifetime = self._write_metrics(out)
        counts.update(lifetime.pop("_counts"))
        counts.update(self._write_claims(out, lifetime))
        counts["asset_conflicts"] = self._write_conflicts(out / "conflicts")
        counts["video_report"] = self._write_video_reports(out / "videos", lifetime)
        self.labels.sort(key=lambda lab: (lab["start"], lab["type"], json.dumps(lab["subject"], sort_keys=True)))
        (out / "labels.json").write_text(json.dumps(self.labels, indent=1, ensure_ascii=False) + "\n")
        counts["labels"] = len(self.labels)
        return counts

    def _write_catalog(self, folder: Path) -> int:
        rows = [
            {
                "content_id": i.content_id,
                "title": i.title,
                "artist": i.artist,
                "label": i.label,
                "isrc": i.isrc,
                "upc": i.upc,
                "custom_id": i.custom_id,
                "asset_id": i.asset_id,
                "release_date": i.release_date.isoformat(),
                **{p: i.platform_ids.get(p, "") for p in PLATFORM_SHARE},
            }
            for i in self.items
        ]
        return _write_csv(folder / "catalog.csv", list(rows[0]), rows)

    def _write_metrics(self, out: Path) -> dict[str, Any]:
        """Polls for every post, daily analytics for YouTube; returns lifetime views at day ends."""
        polls_by_day: dict[int, list[str]] = {d: [] for d in range(self.days + 1)}
        analytics_by_day: dict[int, list[dict[str, Any]]] = {d: [] for d in range(self.days)}
        lifetime: dict[tuple[int, str], int] = {}
        n_polls = 0
        for item in self.items:
            for platform in sorted(item.platform_ids):
                pid = item.platform_ids[platform]
                s = self.series(item, platform)
                age_days = (self.start.date() - item.release_date).days
                initial = {
                    k: int(item.base_views[platform] * age_days * ratio)
                    for k, ratio in (("views", 1.0), ("likes", 0.04), ("comments", 0.004), ("shares", 0.006))
                }
                cum = {k: np.concatenate([[0], np.cumsum(v)]) + initial[k] for k, v in s.items()}
                n_polls += self._polls(item, platform, pid, cum, polls_by_day)
                if platform == "youtube":
                    for d in range(self.days):
                        lifetime[(d, pid)] = int(cum["views"][(d + 1) * 24])
                        analytics_by_day[d] += self._analytics_rows(item, pid, d, s)
        if self.undated:  # batches of five days, named by letter: only the records say when they are
            for batch in range(0, self.days + 1, 5):
                lines = [line for d in range(batch, min(batch + 5, self.days + 1)) for line in polls_by_day[d]]
                _write_gz(
                    out / "polls" / f"poller-export-{string.ascii_lowercase[batch // 5]}.jsonl.gz", "".join(lines)
                )
        else:
            for d, lines in polls_by_day.items():
                if lines:
                    name = f"polls_{_ymd(self.start + timedelta(days=d))}.jsonl.gz"
                    _write_gz(out / "polls" / name, "".join(lines))
        n_rows = 0
        for d, rows in analytics_by_day.items():
            name = f"channel_basic_a3_{_ymd(self.start + timedelta(days=d))}.csv"
            n_rows += _write_csv(out / "analytics" / name, ANALYTICS_HEADER, rows)
        return {
            "_counts": {"polls": n_polls, "analytics_rows": n_rows},
            **{f"{k[0]}|{k[1]}": v for k, v in lifetime.items()},
        }

    def _polls(
        self, item: Item, platform: str, pid: str, cum: dict[str, np.ndarray], by_day: dict[int, list[str]]
    ) -> int:
        """Poll lines as collectors write them: every 15-60 minutes (``poll_minutes``), missing hours (an outage),
        repeating a line, a second collector in between, a line late into the next day's file, and
        counters frozen for hours (the collector read a cache) that then catch up at once."""
        freezes = self._freezes()
        t = self.rng.uniform(0, 0.5)
        written = 0
        while t < self.hours - 0.01:
            if self.rng.random() < 0.01:
                t += self.rng.uniform(2, 8)  # a collector outage: missed polls
                continue
            rows = [t]
            if self.rng.random() < 0.03:
                rows.append(t + self.rng.uniform(1, 3) / 60)  # a second collector
            for when in rows:
                if when >= self.hours:
                    break
                read_at = {
                    name: next((a for a, b, names in freezes if a <= when < b and name in names), when) for name in cum
                }
                line = self._poll_line(platform, pid, when, read_at, cum)
                day = int(when // 24)
                if self.rng.random() < 0.02:
                    day += 1  # arrives late, in the next day's file
                copies = 2 if self.rng.random() < 0.02 else 1  # repeated by the collector
                by_day[min(day, self.days)].extend([line] * copies)
                written += copies
            t += self.rng.uniform(*self.poll_hours)
        return written

    def _freezes(self) -> list[tuple[float, float, tuple[str, ...]]]:
        """When a collector served stale counters: (from, until, which counters), never labelled."""
        spans = []
        for _ in range(int(self.np.poisson(FREEZES_PER_POST_DAY * self.days))):
            start = self.rng.uniform(24.0, self.hours - 1.0)
            counters = ("views", *REACTIONS) if self.rng.random() < 0.5 else (self.rng.choice(list(REACTIONS)),)
            spans.append((start, start + self.rng.uniform(*FREEZE_HOURS), counters))
        return spans

    def _poll_line(
        self, platform: str, pid: str, hours: float, read_at: dict[str, float], cum: dict[str, np.ndarray]
    ) -> str:
        values = {}
        for k, v in cum.items():
            at = read_at[k]
            h = int(at)
            values[k] = int(v[h] + (at - h) * (v[h + 1] - v[h]))
        record = {
            "platform": platform,
            "platform_content_id": pid,
            "observed_at": _iso(self._time(hours).replace(microsecond=0)),
            "views_total": values["views"],
            "likes_total": values["likes"],
            "comments_total": values["comments"],
            "shares_total": values["shares"],
            "collector": "poller-1",
        }
        return json.dumps(record, separators=(",", ":")) + "\n"

    def _analytics_rows(self, item: Item, video: str, day: int, s: dict[str, np.ndarray]) -> list[dict[str, Any]]:
        sl = slice(day * 24, (day + 1) * 24)
        totals = {k: int(v[sl].sum()) for k, v in s.items()}
        parts = self.rng.sample(COUNTRIES, 3)
        splits = [(c, sub) for c in parts for sub in ("subscribed", "not_subscribed")]
        weights = self.np.dirichlet(np.ones(len(splits)))
        rows = []
        remaining = dict(totals)
        for k, ((country, sub), w) in enumerate(zip(splits, weights, strict=True)):
            last = k == len(splits) - 1
            share = {m: (remaining[m] if last else int(totals[m] * w)) for m in totals}
            for m in totals:
                remaining[m] -= share[m]
            rows.append(
                {
                    "date": _ymd(self.start + timedelta(days=day)),
                    "channel_id": item.channel_id,
                    "video_id": video,
                    "live_or_on_demand": "on_demand",
                    "subscribed_status": sub,
                    "country_code": country,
                    "views": share["views"],
                    "comments": share["comments"],
                    "likes": share["likes"],
                    "dislikes": share["likes"] // 30,
                    "shares": share["shares"],
                    "watch_time_minutes": f"{share['views'] * 2.1:.2f}",
                    "average_view_duration_seconds": "126",
                    "engaged_views": int(share["views"] * 0.93),
                }
            )
        return rows

    def _write_claims(self, out: Path, lifetime: dict[str, Any]) -> dict[str, int]:
        histories: dict[int, dict[str, dict[str, Any]]] = {}
        snapshots = 0
        for d in range(self.days):
            day_end = _day_end(self.start + timedelta(days=d))
            rows = []
            changed_today: list[Claim] = []
            for claim in self.claims:
                if claim.created > day_end:
                    continue
                for when, action, args in sorted(claim.plan, key=lambda p: p[0]):
                    if day_end - timedelta(days=1) < when <= day_end:
                        self._apply(claim, when, action, args)
                        changed_today.append(claim)
                rows.append(self._claim_row(claim, d, day_end, lifetime))
            for claim in changed_today:
                if claim.history:
                    histories.setdefault(d, {})[claim.claim_id] = {
                        "kind": "youtubePartner#claimHistory",
                        "id": claim.claim_id,
                        "uploaderChannelId": claim.channel_id,
                        "event": list(claim.history),
                    }
                if any(
                    a in ("release", "review") for w, a, _ in claim.plan if day_end - timedelta(days=1) < w <= day_end
                ):
                    self.api_claims.setdefault(d, []).append(self._api_claim(claim))
            studio = d == 0
            header = STUDIO_HEADER if studio else REPORTING_HEADER
            if self.undated:
                header = [h for h in header if h not in ("claim_created_date", STUDIO_MAP["claim_created_date"])]
            if studio:
                rows = [{STUDIO_MAP.get(k, k): v for k, v in r.items() if k in STUDIO_MAP} for r in rows]
            name = ("claims_report_studio_" if studio else "content_owner_active_claims_a3_") + _ymd(day_end) + ".csv"
            snapshots += _write_csv(out / "claims" / name, header, rows)
        n_hist = 0
        for d, by_claim in histories.items():
            docs = [by_claim[k] for k in sorted(by_claim)]
            n_hist += len(docs)
            path = out / "claims" / f"claim_history_{_ymd(self.start + timedelta(days=d))}.json"
            path.write_text(json.dumps(docs, indent=1, ensure_ascii=False) + "\n")
        n_api = 0
        for d, records in sorted(self.api_claims.items()):
            n_api += len(records)
            body = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
            (out / "claims" / f"claims_api_{_ymd(self.start + timedelta(days=d))}.jsonl").write_text(body)
        return {"claim_snapshot_rows": snapshots, "claim_histories": n_hist, "api_claims": n_api}

    def _apply(self, claim: Claim, when: datetime, action: str, args: dict[str, Any]) -> None:
        event: dict[str, Any] = {"time": _iso(when), "source": {"type": "partner" if action == "release" else "user"}}
        if action == "release":
            claim.status, claim.detail = "INACTIVE", "CLOSED_MANUALLY"
            event |= {"type": "claim_update", "reason": "closed_manually", "typeDetails": {"updateStatus": "inactive"}}
        elif action == "review":
            claim.status = args["to"]
            claim.detail = "" if args["to"] == "ACTIVE" else "REVIEW_EXPIRED"
            event |= {"type": "claim_update", "typeDetails": {"updateStatus": args["to"].lower()}}
        elif action == "dispute":
            claim.status, claim.detail = "PENDING", "DISPUTED"
            event |= {
                "type": "dispute_create",
                "typeDetails": {"disputeReason": args["reason"], "disputeNotes": "I have a license for this."},
            }
        elif action == "release_dispute":
            claim.status, claim.detail = "INACTIVE", "DISPUTE_RESOLUTION"
            event |= {
                "type": "claim_update",
                "reason": "dispute_resolution",
                "typeDetails": {"updateStatus": "inactive"},
            }
        elif action == "reinstate":
            claim.status, claim.detail = "ACTIVE", "DISPUTE_REINSTATED"
            event |= {"type": "claim_update", "typeDetails": {"updateStatus": "active"}}
        elif action == "appeal":
            claim.status, claim.detail = "PENDING", "APPEALED"
            event |= {
                "type": "dispute_appeal",
                "typeDetails": {"disputeReason": "fair_use", "appealExplanation": "fair use"},
            }
        if not claim.history:
            claim.history.append({"time": _iso(claim.created), "type": "claim_create", "source": {"type": "system"}})
        claim.history.append(event)

    def _claim_views(self, claim: Claim, d: int, day_end: datetime, lifetime: dict[str, Any]) -> int:
        if claim.own:
            measured = int(lifetime.get(f"{d}|{claim.video_id}", 0))
            return int(measured * self.claimed_view_factor.get((d, claim.video_id), self.rng.uniform(0.985, 1.0)))
        age = max(0.0, (day_end - claim.created).total_seconds() / 86_400)
        return int(claim.views + claim.velocity * age)

    @functools.cached_property
    def items_by_asset(self) -> dict[str, Item]:
        return {item.asset_id: item for item in self.items}  # once the catalog is built

    def _claim_row(self, claim: Claim, d: int, day_end: datetime, lifetime: dict[str, Any]) -> dict[str, Any]:
        views = self._claim_views(claim, d, day_end, lifetime)
        owned = self.items_by_asset.get(claim.asset_id)
        return {
            "claim_id": claim.claim_id,
            "channel_id": claim.channel_id,
            "asset_id": claim.asset_id,
            "video_id": claim.video_id,
            "reference_id": "R" + claim.asset_id[1:12],
            "custom_id": "",
            "claim_status": claim.status,
            "claim_status_detail": claim.detail,
            "claim_origin": claim.origin,
            "claim_type": claim.claim_type,
            "uploader": claim.uploader,
            "channel_display_name": claim.channel_title,
            "video_title": claim.video_title,
            "views": views,
            "engaged_views": int(views * 0.94),
            "matching_duration": f"{claim.matching:.0f}",
            "longest_match": f"{claim.longest:.0f}",
            "video_duration_sec": f"{claim.duration:.0f}",
            "claim_policy_monetize": "" if claim.policy_block else "WW",
            "claim_policy_track": "",
            "claim_policy_block": "|".join(claim.policy_block),
            "claim_created_date": claim.created.date().isoformat(),
            # The asset's metadata as YouTube holds it: the catalog's (no draw, so no seed's data moves).
            "asset_title": owned.title if owned else "",
            "isrc": owned.isrc if owned else "",
            "is_shorts_eligible": "False",
        }

    def _api_claim(self, claim: Claim) -> dict[str, Any]:
        return {
            "kind": "youtubePartner#claim",
            "id": claim.claim_id,
            "assetId": claim.asset_id,
            "videoId": claim.video_id,
            "status": claim.status.lower() if claim.detail not in ("DISPUTED", "APPEALED") else claim.detail.lower(),
            "contentType": {"Audio": "audio", "Visual": "video"}.get(claim.claim_type, "audiovisual"),
            "origin": {"source": claim.origin},
            "timeCreated": _iso(claim.created),
            "timeStatusLastModified": claim.history[-1]["time"] if claim.history else _iso(claim.created),
            "videoTitle": claim.video_title,
        }

    def _write_conflicts(self, folder: Path) -> int:
        written = 0
        for d in range(self.days):
            rows = self.conflict_rows.get(d, [])
            written += _write_csv(
                folder / f"content_owner_asset_conflict_a3_{_ymd(self.start + timedelta(days=d))}.csv",
                CONFLICT_HEADER,
                rows,
            )
        return written

    def _write_video_reports(self, folder: Path, lifetime: dict[str, Any]) -> int:
        written = 0
        for d in range(self.days):
            rows = []
            for item in self.items:
                video = item.platform_ids.get("youtube")
                if not video:
                    continue
                others = self.video_report_others.get((d, video), [])
                rows.append(
                    {
                        "video_id": video,
                        "channel_id": item.channel_id,
                        "claim_id": "",
                        "asset_id": item.asset_id,
                        "custom_id": item.custom_id,
                        "claimed_by_this_owner": "true",
                        "other_owners_claiming": "|".join(others),
                        "views": lifetime.get(f"{d}|{video}", 0),
                        "video_title": item.title,
                        "channel_display_name": "Northwind Records",
                        "video_privacy_status": "public",
                    }
                )
            written += _write_csv(
                folder / f"content_owner_video_metadata_a4_{_ymd(self.start + timedelta(days=d))}.csv",
                VIDEO_HEADER,
                rows,
            )
        return written


REPORTING_HEADER = """
    claim_id channel_id asset_id video_id reference_id custom_id claim_status claim_status_detail
    claim_origin claim_type uploader channel_display_name video_title views engaged_views
    matching_duration longest_match video_duration_sec claim_policy_monetize claim_policy_track
    claim_policy_block claim_created_date asset_title isrc is_shorts_eligible
    """.split()
STUDIO_MAP = {
    "claim_id": "Claim ID",
    "channel_id": "Channel ID",
    "asset_id": "Asset ID",
    "video_id": "Video ID",
    "reference_id": "Reference ID",
    "custom_id": "Custom ID",
    "claim_status": "Claim Status",
    "claim_status_detail": "Claim Status Detail",
    "claim_origin": "Claim Origin",
    "claim_type": "Claim Type",
    "uploader": "Uploader",
    "channel_display_name": "Channel Display Name",
    "video_title": "Video Title",
    "views": "Views",
    "matching_duration": "Matching Duration",
    "longest_match": "Longest Match",
    "claim_created_date": "Claim Created Date",
}
STUDIO_HEADER = list(STUDIO_MAP.values())
ANALYTICS_HEADER = """
    date channel_id video_id live_or_on_demand subscribed_status country_code views comments likes
    dislikes shares watch_time_minutes average_view_duration_seconds engaged_views
    """.split()
CONFLICT_HEADER = """
    asset_id custom_id conflicting_owner conflicting_country_code approx_daily_views active_claims
    lifetime_views_in_conflict ownership_last_updated match_policy
    """.split()
VIDEO_HEADER = """
    video_id channel_id claim_id asset_id custom_id claimed_by_this_owner other_owners_claiming
    views video_title channel_display_name video_privacy_status
    """.split()


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _ymd(value: datetime) -> str:
    return value.strftime("%Y%m%d")


def _day_end(value: datetime) -> datetime:
    return datetime.combine(value.date(), datetime.min.time(), tzinfo=UTC) + timedelta(days=1, seconds=-1)


def _write_csv(path: Path, header: list[str], rows: list[dict[str, Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return len(rows)


def _write_gz(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(text.encode("utf-8"))


def generate(
    out: Path,
    seed: int = 7,
    items: int = 300,
    days: int = 21,
    start: date | None = None,
    scenarios: bool = True,
    undated: bool = False,
    poll_minutes: tuple[float, float] = (15.0, 60.0),
) -> dict[str, int]:
    """Write a data set under ``out``; returns what was written, by source. Without ``scenarios``,
    nothing is injected and ``labels.json`` is empty: quiet data, for counting false alerts. With
    ``undated``, claims reports carry no creation date and poll file names no date."""
    return Generator(
        seed=seed, items=items, days=days, start=start, scenarios=scenarios, undated=undated, poll_minutes=poll_minutes
    ).write(out)
