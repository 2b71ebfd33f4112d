"""The Data API poller's quota planner: which YouTube videos to read next, within a daily budget.

A project gets 10,000 quota units a day; ``videos.list`` costs one unit for up to 50 ids and the
quota resets at midnight Pacific time. That is 500,000 readings a day: a catalogue of 100,000
videos read uniformly is read every ~5 hours, and a spike is seen hours late. Which videos to read
is therefore part of detection.

Each video has a *hazard*: how likely a spike is to start on it in the next hour, relative to an
old, quiet video, from what claimwatch already knows (its upload age, the velocity its last two
readings showed, an open alert on its item or a spike on another platform, claim activity). A
spike that starts at a uniformly random moment of the ``a`` hours since a video was last read has
waited ``a / 2`` on average, so the expected delay cost of leaving it unread is
``hazard × a² / 2``. Each tick the planner reads the videos whose cost is largest; in steady state
that reads each video at an interval proportional to ``1 / sqrt(hazard)``, the square-root rule of
crawl scheduling, which minimises the mean delay for a given number of readings. Two bounds come
first: every video is read at least once per ``floor_hours`` (a spike with no warning is still
seen within a day), and none more often than ``min_interval_minutes`` (counters barely move in
less, and one viral video must not take the budget of a thousand).

Spending is paced through the Pacific day (what is allowed by now, plus a small burst), so the
budget lasts until the reset, and a share is kept back for the other collectors and retries.

>>> from datetime import UTC, datetime
>>> planner = Planner(PlannerConfig(budget_units_per_day=100, reserve_units=0))
>>> planner.add("dQw4w9WgXcQ", published=None)
>>> planner.add("fresh_video", published=datetime(2026, 11, 2, 6, tzinfo=UTC).timestamp())
>>> now = datetime(2026, 11, 2, 12, tzinfo=UTC).timestamp()
>>> [len(batch) for batch in planner.due(now)]  # never read: both are due
[2]
>>> for video_id in ("dQw4w9WgXcQ", "fresh_video"):
...     planner.record(video_id, now, views=1000)
>>> later = now + 3600
>>> [row["video_id"] for row in planner.explain(later)][:1]  # the recent upload is read first
['fresh_video']
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

PACIFIC = ZoneInfo("America/Los_Angeles")  # the Data API's quota day
IDS_PER_CALL = 50  # videos.list takes at most 50 ids per call
UNITS_PER_CALL = 1  # videos.list costs 1 unit whatever the parts

# Hazard multipliers, each relative to an old video with no signal (1.0): the order of magnitude of
# how much more often each kind of video starts a spike. Chosen on one simulated week (seed 2 of
# scripts/bench-planner) and scored on others; docs/collectors.md gives the figures and the reasons.
UPLOAD_BOOST = 1500.0  # a fresh upload: most of a video's views, and its surges, come in its first days
UPLOAD_DECAY_HOURS = 36.0  # … fading with age (×1500 at upload, ×200 a day later, ×14 after 5 days)
RISING_BOOST = 60.0  # per unit of velocity above RISING_FROM × its usual at the last reading
RISING_FROM = 1.6  # a ratio below this is the noise of hourly variation
RISING_CAP = 10.0  # a ratio of 10 or 100 is already a spike: the same (highest) interest
ALERT_BOOST = 2000.0  # an open alert on its item, or a spike on another platform (propagation)
CLAIM_BOOST = 8.0  # a claim created or changed on its asset in the last two days
POPULARITY_WEIGHT = 2.0  # × (1 + 2 per decade of usual views per hour): a big video's spike matters more
BASELINE_ALPHA = 0.3  # how fast a video's usual rate follows readings that show no surge
BASELINE_SURGE = 1.5  # a reading above this × usual is not learnt into the usual rate


# The planner's memory of each video: what its state chunks hold, and the value of "nothing yet".
STATE_ARRAYS = ("last_read", "last_views", "usual_rate", "last_ratio", "published", "alert_until", "claims_until")
STATE_EMPTY = {
    "last_read": -math.inf,
    "last_views": math.nan,
    "usual_rate": math.nan,
    "last_ratio": 1.0,
    "published": math.nan,
    "alert_until": -math.inf,
    "claims_until": -math.inf,
}


@dataclass(frozen=True)
class PlannerConfig:
    budget_units_per_day: int = 10_000  # the project's daily quota (the default Google grants)
    reserve_units: int = 1_000  # kept for the Reporting and Content ID collectors and retries
    floor_hours: float = 24.0  # every video is read at least this often
    min_interval_minutes: float = 15.0  # and never more often than this
    burst_share: float = 0.01  # spending may run ahead of the day's pace by this share of a day

    @property
    def poll_units_per_day(self) -> int:
        return max(0, self.budget_units_per_day - self.reserve_units)


def pacific_day_bounds(now: float) -> tuple[float, float]:
    """Start and end (epoch seconds) of the Pacific day holding ``now`` (23 or 25 hours at DST)."""
    local = datetime.fromtimestamp(now, tz=PACIFIC)
    start = datetime(local.year, local.month, local.day, tzinfo=PACIFIC)
    following = start.date() + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=PACIFIC)
    return start.timestamp(), end.timestamp()


class DailyBudget:
    """Units spent per Pacific day, paced so the day's budget lasts until the reset.

    >>> budget = DailyBudget(units_per_day=1000, burst_share=0.0)
    >>> start, end = pacific_day_bounds(datetime(2026, 11, 2, 20, tzinfo=UTC).timestamp())
    >>> budget.allowed(start + (end - start) / 2)  # half the day gone: half the budget
    500
    >>> budget.spend(start + 1, 500); budget.allowed(start + (end - start) / 2)
    0
    """

    def __init__(self, units_per_day: int, burst_share: float = 0.01) -> None:
        self.units_per_day = units_per_day
        self.burst = int(units_per_day * burst_share)
        self.day_start = -math.inf
        self.spent_today = 0
        self.spent_by_day: dict[str, int] = {}
        self.stopped_until = -math.inf  # quotaExceeded: nothing until the reset

    def _roll(self, now: float) -> tuple[float, float]:
        start, end = pacific_day_bounds(now)
        if start != self.day_start:
            self.day_start, self.spent_today = start, 0
        return start, end

    def allowed(self, now: float) -> int:
        if now < self.stopped_until:
            return 0
        start, end = self._roll(now)
        paced = self.units_per_day * (now - start) / (end - start) + self.burst
        return max(0, min(self.units_per_day, int(paced)) - self.spent_today)

    def spend(self, now: float, units: int) -> None:
        self._roll(now)
        self.spent_today += units
        day = datetime.fromtimestamp(now, tz=PACIFIC).date().isoformat()
        self.spent_by_day[day] = self.spent_by_day.get(day, 0) + units

    def exhausted(self, now: float) -> float:
        """The API said quotaExceeded: stop until the next Pacific midnight; returns that time."""
        self.stopped_until = pacific_day_bounds(now)[1]
        return self.stopped_until


class Planner:
    """The videos to read, their signals and their last readings (arrays: 100,000 videos are cheap)."""

    last_read: npt.NDArray[np.float64]  # epoch seconds of the last reading (-inf: never)
    last_views: npt.NDArray[np.float64]  # the views counter then
    usual_rate: npt.NDArray[np.float64]  # views per hour when nothing is happening
    last_ratio: npt.NDArray[np.float64]  # the last reading's rate over the usual rate
    published: npt.NDArray[np.float64]  # upload time (NaN: unknown)
    alert_until: npt.NDArray[np.float64]  # an open alert on its item until then
    claims_until: npt.NDArray[np.float64]  # claim activity on its asset until then

    def __init__(self, config: PlannerConfig | None = None) -> None:
        self.config = config or PlannerConfig()
        self.budget = DailyBudget(self.config.poll_units_per_day, self.config.burst_share)
        self.ids: list[str] = []
        self.index: dict[str, int] = {}
        self.published_known: set[str] = set()  # videos whose upload time the API gave
        # One array per field, indexed by the video's position in ``ids`` (grown by doubling).
        for name in STATE_ARRAYS:
            setattr(self, name, np.full(1024, STATE_EMPTY[name]))

    # ---------------------------------------------------------------- the catalogue and signals

    def _grow(self) -> None:
        for name in STATE_ARRAYS:
            old: npt.NDArray[np.float64] = getattr(self, name)
            grown = np.full(len(old) * 2, STATE_EMPTY[name])
            grown[: len(old)] = old
            setattr(self, name, grown)

    def add(self, video_id: str, published: float | None = None, guess: bool = False) -> None:
        """A video of the catalogue (again: only its upload time is updated). A ``guess`` (the
        catalogue's release date) never replaces a time the API gave (``snippet.publishedAt``)."""
        at = self.index.get(video_id)
        if at is None:
            if len(self.ids) == len(self.last_read):
                self._grow()
            at = self.index[video_id] = len(self.ids)
            self.ids.append(video_id)
        if published is not None and not (guess and video_id in self.published_known):
            self.published[at] = published
            if not guess:
                self.published_known.add(video_id)

    def upload_unknown(self, video_id: str) -> bool:
        """Whether the API has not told this video's upload time yet (its next reading asks)."""
        return video_id not in self.published_known

    def flag_alert(self, video_id: str, until: float) -> None:
        """An alert is open on the video's item (or another platform of it spiked) until ``until``."""
        if (at := self.index.get(video_id)) is not None:
            self.alert_until[at] = max(self.alert_until[at], until)

    def flag_claims(self, video_id: str, until: float) -> None:
        if (at := self.index.get(video_id)) is not None:
            self.claims_until[at] = max(self.claims_until[at], until)

    def record(self, video_id: str, when: float, views: int | None) -> None:
        """A reading (or an id the API no longer returns: ``views`` None, read again at the floor)."""
        at = self.index.get(video_id)
        if at is not None:
            self.record_many(np.array([at]), when, np.array([np.nan if views is None else float(views)]))

    def record_many(self, at: npt.NDArray[np.int64], when: float, views: npt.NDArray[np.float64]) -> None:
        """Readings of the videos at positions ``at``, taken at ``when`` (NaN: not returned)."""
        before, then = self.last_views[at], self.last_read[at]
        self.last_read[at] = when
        hours = (when - then) / 3600.0
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = (views - before) / hours
        known = ~np.isnan(rate) & (hours > 0) & (rate >= 0)
        usual = self.usual_rate[at]
        usual = np.where(np.isnan(usual) & known, rate, usual)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(usual > 0, rate / usual, np.where(rate > 0, RISING_CAP, 1.0))
        ratio = np.where(known, ratio, 1.0)
        learn = known & (ratio < BASELINE_SURGE)
        usual = np.where(learn, (1 - BASELINE_ALPHA) * usual + BASELINE_ALPHA * rate, usual)
        self.usual_rate[at] = usual
        self.last_ratio[at] = ratio
        self.last_views[at] = np.where(np.isnan(views), self.last_views[at], views)

    # ---------------------------------------------------------------- deciding

    def hazard(self, now: float) -> npt.NDArray[np.float64]:
        """Each video's relative hazard now (see the module)."""
        n = len(self.ids)
        age_h = (now - self.published[:n]) / 3600.0
        upload = np.where(
            np.isnan(age_h) | (age_h < 0), 0.0, UPLOAD_BOOST * np.exp(-np.maximum(age_h, 0) / UPLOAD_DECAY_HOURS)
        )
        rising = RISING_BOOST * np.clip(self.last_ratio[:n] - RISING_FROM, 0.0, RISING_CAP)
        alert = np.where(self.alert_until[:n] > now, ALERT_BOOST, 0.0)
        claims = np.where(self.claims_until[:n] > now, CLAIM_BOOST, 0.0)
        popularity = 1.0 + POPULARITY_WEIGHT * np.log10(1.0 + np.nan_to_num(self.usual_rate[:n], nan=0.0))
        result: npt.NDArray[np.float64] = popularity * (1.0 + upload + rising + alert + claims)
        return result

    def _costs(self, now: float) -> npt.NDArray[np.float64]:
        n = len(self.ids)
        age_h = (now - self.last_read[:n]) / 3600.0
        cost: npt.NDArray[np.float64] = self.hazard(now) * np.square(np.minimum(age_h, 1e6)) / 2.0
        cost[age_h >= self.config.floor_hours] = np.inf  # the floor first (and never-read videos)
        cost[age_h < self.config.min_interval_minutes / 60.0] = 0.0
        return cost

    def due(self, now: float) -> list[list[str]]:
        """The calls to make now (each a list of ≤ 50 ids), as many as the budget's pace allows,
        the costliest videos first; the budget is charged for them."""
        calls = self.budget.allowed(now) // UNITS_PER_CALL
        if calls <= 0 or not self.ids:
            return []
        cost = self._costs(now)
        eligible = int(np.count_nonzero(cost > 0))
        take = min(calls * IDS_PER_CALL, eligible)
        if take == 0:
            return []
        chosen = np.argpartition(-cost, take - 1)[:take] if take < len(cost) else np.arange(len(cost))
        chosen = chosen[np.argsort(-cost[chosen], kind="stable")]
        ids = [self.ids[i] for i in chosen]
        batches = [ids[i : i + IDS_PER_CALL] for i in range(0, len(ids), IDS_PER_CALL)]
        self.budget.spend(now, len(batches) * UNITS_PER_CALL)
        return batches

    def explain(self, now: float, limit: int | None = None) -> list[dict[str, Any]]:
        """Each video's next reading and why, costliest first: ``claimwatch collect plan --json``.

        The next reading is estimated from the cost at which the planner reads now (the cost of the
        last video a full day's pace would take per tick): ``age² × hazard / 2`` reaches it after
        ``sqrt(2 × threshold / hazard)`` hours, within the floor and the minimum interval."""
        n = len(self.ids)
        if n == 0:
            return []
        hazard = self.hazard(now)
        cost = self._costs(now)
        per_hour = self.config.poll_units_per_day / 24.0 * IDS_PER_CALL
        finite = np.sort(cost[np.isfinite(cost)])[::-1]
        threshold = float(finite[min(len(finite) - 1, int(per_hour))]) if len(finite) else 0.0
        order = np.argsort(-cost, kind="stable")[: limit or n]
        rows = []
        for i in order:
            since = self.last_read[i]
            gap_h = math.sqrt(2 * threshold / hazard[i]) if threshold > 0 else 0.0
            gap_h = min(max(gap_h, self.config.min_interval_minutes / 60.0), self.config.floor_hours)
            next_at = max(now, since + gap_h * 3600.0) if math.isfinite(since) else now
            rows.append(
                {
                    "video_id": self.ids[i],
                    "next_poll": _iso(next_at),
                    "last_poll": _iso(since) if math.isfinite(since) else None,
                    "hazard": round(float(hazard[i]), 3),
                    "reasons": self._reasons(int(i), now),
                }
            )
        return rows

    def _reasons(self, i: int, now: float) -> list[str]:
        reasons = []
        if not math.isfinite(self.last_read[i]):
            return ["never read"]
        if (now - self.last_read[i]) / 3600.0 >= self.config.floor_hours:
            reasons.append(f"not read for {self.config.floor_hours:g} h (the floor)")
        if self.alert_until[i] > now:
            reasons.append("open alert on its item or a spike on another platform")
        age = (now - self.published[i]) / 3600.0
        if not math.isnan(age) and 0 <= age < 7 * 24:
            reasons.append(f"uploaded {age:.0f} h ago")
        if self.last_ratio[i] > RISING_FROM:
            reasons.append(f"velocity {self.last_ratio[i]:.1f}x its usual at the last reading")
        if self.claims_until[i] > now:
            reasons.append("claim activity in the last two days")
        return reasons or ["floor cadence"]

    # ---------------------------------------------------------------- state (the ledger keeps it)

    def to_chunks(self, size: int = 2000) -> list[dict[str, Any]]:
        """The planner's memory, in chunks small enough for a Kafka record each."""
        chunks = []
        for start in range(0, len(self.ids), size):
            part = slice(start, min(start + size, len(self.ids)))
            chunks.append(
                {
                    "ids": self.ids[part],
                    "published_known": [v in self.published_known for v in self.ids[part]],
                    **{
                        name: [None if not math.isfinite(x) else round(float(x), 3) for x in getattr(self, name)[part]]
                        for name in STATE_ARRAYS
                    },
                }
            )
        return chunks

    def load_chunk(self, chunk: dict[str, Any]) -> None:
        for offset, video_id in enumerate(chunk["ids"]):
            self.add(str(video_id))
            at = self.index[str(video_id)]
            for name in STATE_ARRAYS:
                value = chunk[name][offset]
                getattr(self, name)[at] = STATE_EMPTY[name] if value is None else float(value)
            if (chunk.get("published_known") or [False] * len(chunk["ids"]))[offset]:
                self.published_known.add(str(video_id))


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
