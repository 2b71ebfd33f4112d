"""``scripts/bench-planner``: the quota planner against uniform round-robin, a simulated week.

A catalogue of 100,000 YouTube videos (usual rates log-normal over four decades, uploads aged up
to five years) gains ~100 uploads a day. View spikes start during the week in four kinds, each
with its own warning, or none:

- **fresh**: on a video uploaded in the last three days (the commonest surge in practice);
- **propagated**: the same item spiked on another platform 1–8 hours before (claimwatch's alert on
  that platform is the warning; as many other-platform spikes never reach YouTube: decoys);
- **ramped**: a catalogue video whose rate climbs over 2–6 hours (a reading on the ramp shows a
  rising velocity);
- **sudden**: a catalogue video, no warning at all, full height within half an hour.

A third of catalogue spikes follow claim activity on their asset, and 200 assets a day have claim
activity that leads to nothing. Magnitudes run from ×3 to ×40, plateaus from 3 to 24 hours.

A reading *shows* a spike when the mean rate since the video's previous reading is at least twice
its usual rate (a reading after a long gap dilutes a young spike: that is the real cost of reading
rarely). The delay is from the spike's start to the first reading that shows it; a spike that no
reading shows by its end counts as missed (an infinite delay in the quantiles).

Both policies get the same calls at the same pace (the planner's :class:`DailyBudget`), and the
same signals; round-robin ignores them. Everything is drawn from one seed: the same seed gives the
same figures.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from claimwatch.collect.planner import IDS_PER_CALL, DailyBudget, Planner, PlannerConfig
from claimwatch.detect.policy import IMPACT_FLOORS

START = datetime(2026, 11, 2, 8, tzinfo=UTC).timestamp()  # midnight Pacific
HOUR = 3600.0
SHOWS_AT = 2.0  # a reading shows a spike when the rate since the last reading is ≥ 2 × usual
ALERT_LAG_H = 0.5  # claimwatch raises the other platform's alert half an hour after it starts
ALERT_HOURS = 24.0  # an alert stays open a day
CLAIM_HOURS = 48.0
MEDIUM_VIEWS = IMPACT_FLOORS["views"][0]  # extra views from which a view spike is medium
DAILY_SWING = 0.4  # a video's rate swings ±40 % through the day (its audience sleeps)


@dataclass
class Spike:
    video: int
    start: float  # hours from START
    magnitude: float
    ramp: float
    plateau: float
    kind: str
    shown_at: float = math.inf

    @property
    def end(self) -> float:
        return self.start + self.ramp + self.plateau + self.plateau / 2

    def excess(self, usual: float) -> float:
        """Extra views over its whole course."""
        return usual * (self.magnitude - 1) * self.area(self.end)

    def area(self, t: float) -> float:
        """∫ shape from the start to ``t`` hours (shape: linear up, flat, linear down)."""
        x = t - self.start
        if x <= 0:
            return 0.0
        r, d, f = self.ramp, self.plateau, self.plateau / 2
        if x <= r:
            return x * x / (2 * r)
        total = r / 2
        if x <= r + d:
            return total + (x - r)
        total += d
        y = min(x - r - d, f)
        return total + y - y * y / (2 * f)


@dataclass
class World:
    usual: npt.NDArray[np.float64]  # views per hour, on average over a day
    phase: npt.NDArray[np.float64]  # hour of the day its audience is most awake
    published: npt.NDArray[np.float64]  # hours from START (negative: before)
    spikes: list[Spike]
    by_video: dict[int, list[Spike]]
    alerts: list[tuple[float, int]]  # (hour the alert is raised, video)
    claims: list[tuple[float, int]]
    initial: int  # videos in the catalogue at the start

    def views(self, at: npt.NDArray[np.int64], t: float) -> npt.NDArray[np.float64]:
        """Each video's views counter at ``t`` hours: its usual rate through a daily cycle (±40 %,
        so a short gap between readings can show 1.4× with nothing happening), plus its spikes."""
        born = self.published[at]
        since = np.maximum(0.0, t - born)
        w = 2 * math.pi / 24.0
        phase = self.phase[at]
        cycle = DAILY_SWING / w * (np.cos(w * (np.minimum(born, t) - phase)) - np.cos(w * (t - phase)))
        base = self.usual[at] * (since + np.where(since > 0, cycle, 0.0))
        for k, v in enumerate(at.tolist()):
            for spike in self.by_video.get(v, ()):
                base[k] += self.usual[v] * (spike.magnitude - 1) * spike.area(t)
        rounded: npt.NDArray[np.float64] = np.round(base)
        return rounded


def build_world(seed: int, catalogue: int = 100_000, days: int = 7, uploads_per_day: int = 100) -> World:
    rng = np.random.default_rng(seed)
    hours = days * 24.0
    new = uploads_per_day * days
    total = catalogue + new
    usual = np.exp(rng.normal(math.log(4.0), 1.7, total))
    published = np.empty(total)
    published[:catalogue] = -rng.uniform(24.0, 5 * 365 * 24.0, catalogue)
    # The last three days' uploads are in the catalogue at the start (young, so warm), then ~100 a day.
    recent = 3 * uploads_per_day
    published[catalogue - recent : catalogue] = -rng.uniform(0.0, 72.0, recent)
    published[catalogue:] = np.sort(rng.uniform(0.0, hours, new))
    usual[catalogue - recent :] *= 3.0  # new uploads start busier
    spikes: list[Spike] = []
    alerts: list[tuple[float, int]] = []
    claims: list[tuple[float, int]] = []
    weights = usual[: catalogue - recent] / usual[: catalogue - recent].sum()

    def cold_video() -> int:
        # Popular videos spike more often, but not in proportion: a mix of weighted and uniform.
        if rng.random() < 0.5:
            return int(rng.choice(catalogue - recent, p=weights))
        return int(rng.integers(0, catalogue - recent))

    def shape(kind: str, video: int, start: float, ramp: tuple[float, float]) -> Spike:
        return Spike(
            video=video,
            start=start,
            magnitude=float(math.exp(rng.uniform(math.log(3.0), math.log(40.0)))),
            ramp=float(rng.uniform(*ramp)),
            plateau=float(rng.uniform(3.0, 24.0)),
            kind=kind,
        )

    # Drawn per kind, then only those at stake kept (see below): about 60 % of them.
    per_kind = {"fresh": 300, "propagated": 130, "ramped": 100, "sudden": 130}
    young = np.flatnonzero(published > -72.0)
    for _ in range(per_kind["fresh"]):
        video = int(rng.choice(young))
        start = published[video] + min(60.0, rng.exponential(18.0))
        if 0 < start < hours - 12:
            spikes.append(shape("fresh", video, float(start), (0.25, 3.0)))
    for _ in range(per_kind["propagated"]):
        video = cold_video()
        other = float(rng.uniform(0.0, hours - 20))
        alerts.append((other + ALERT_LAG_H, video))
        spikes.append(shape("propagated", video, other + float(rng.uniform(1.0, 8.0)), (0.25, 2.0)))
        alerts.append((float(rng.uniform(0.0, hours)) + ALERT_LAG_H, cold_video()))  # a decoy
    for kind, ramp in (("ramped", (2.0, 6.0)), ("sudden", (0.1, 0.5))):
        for _ in range(per_kind[kind]):
            video = cold_video()
            start = float(rng.uniform(6.0, hours - 12))
            spikes.append(shape(kind, video, start, ramp))
            if rng.random() < 1 / 3:
                claims.append((start - float(rng.uniform(1.0, 12.0)), video))
    for _ in range(200 * days):
        claims.append((float(rng.uniform(0.0, hours)), cold_video()))
    # Only spikes a rights team would act on are scored: their extra views reach the detector's
    # medium floor (a ×10 on a video of 4 views an hour is real, and of no consequence).
    spikes = [s for s in spikes if s.excess(float(usual[s.video])) >= MEDIUM_VIEWS]
    by_video: dict[int, list[Spike]] = {}
    for spike in spikes:
        by_video.setdefault(spike.video, []).append(spike)
    phase = rng.uniform(0.0, 24.0, total)
    return World(usual, phase, published, spikes, by_video, sorted(alerts), sorted(claims), catalogue)


@dataclass
class Outcome:
    delays_h: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    spent_by_day: dict[str, int] = field(default_factory=dict)
    readings: int = 0
    decide_seconds: list[float] = field(default_factory=list)


def simulate(world: World, policy: str, config: PlannerConfig, days: int = 7, tick_minutes: float = 5.0) -> Outcome:
    """One week of ``policy`` ("planner" or "round_robin") on ``world``; spikes' shown times filled."""
    for spike in world.spikes:
        spike.shown_at = math.inf
    planner = Planner(config)
    budget: DailyBudget = planner.budget
    ids = [f"v{i:06d}" for i in range(len(world.usual))]
    known = 0
    order: list[int] = []
    cursor = 0
    last_read = np.full(len(world.usual), -np.inf)
    last_views = np.full(len(world.usual), np.nan)
    alerts, claims = list(world.alerts), list(world.claims)
    out = Outcome()
    steps = int(days * 24 * 60 / tick_minutes)
    for step in range(steps):
        t = step * tick_minutes / 60.0
        now = START + t * HOUR
        while known < len(ids) and world.published[known] <= t:
            published = START + world.published[known] * HOUR
            planner.add(ids[known], published=published)
            order.append(known)
            known += 1
        while alerts and alerts[0][0] <= t:
            planner.flag_alert(ids[alerts.pop(0)[1]], now + ALERT_HOURS * HOUR)
        while claims and claims[0][0] <= t:
            planner.flag_claims(ids[claims.pop(0)[1]], now + CLAIM_HOURS * HOUR)
        began = time.perf_counter()
        if policy == "planner":
            batches = planner.due(now)
            chosen = np.array([planner.index[v] for batch in batches for v in batch], dtype=np.int64)
        else:
            calls = budget.allowed(now)
            take = min(calls * IDS_PER_CALL, len(order))
            picks = [order[(cursor + k) % len(order)] for k in range(take)]
            cursor = (cursor + take) % max(1, len(order))
            budget.spend(now, math.ceil(take / IDS_PER_CALL))
            chosen = np.array(picks, dtype=np.int64)
        out.decide_seconds.append(time.perf_counter() - began)
        if len(chosen) == 0:
            continue
        views = world.views(chosen, t)
        _judge(world, chosen, t, views, last_read, last_views)
        if policy == "planner":
            planner.record_many(chosen, now, views)
            # claimwatch's own detector raises an alert on a reading that shows a surge.
            for v in chosen[planner.last_ratio[chosen] >= SHOWS_AT].tolist():
                planner.flag_alert(ids[v], now + ALERT_HOURS * HOUR)
        last_read[chosen] = t
        last_views[chosen] = views
        out.readings += len(chosen)
    for spike in world.spikes:
        delay = spike.shown_at - spike.start
        out.delays_h.append(delay)
        out.by_kind.setdefault(spike.kind, []).append(delay)
    out.spent_by_day = dict(budget.spent_by_day)
    return out


def _judge(
    world: World,
    chosen: npt.NDArray[np.int64],
    t: float,
    views: npt.NDArray[np.float64],
    last_read: npt.NDArray[np.float64],
    last_views: npt.NDArray[np.float64],
) -> None:
    """Mark the spikes a reading at ``t`` shows (rate since the previous reading ≥ 2 × usual)."""
    for k, v in enumerate(chosen.tolist()):
        spikes = world.by_video.get(v)
        if not spikes or not math.isfinite(last_read[v]):
            continue
        rate = (views[k] - last_views[v]) / (t - last_read[v])
        for spike in spikes:
            if spike.start < t <= spike.end and spike.shown_at == math.inf and rate >= SHOWS_AT * world.usual[v]:
                spike.shown_at = t


def quantile(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) with missed spikes (inf) counted, not dropped."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def run(seed: int, catalogue: int, config: PlannerConfig) -> dict[str, Any]:
    world = build_world(seed, catalogue)
    planned = simulate(world, "planner", config)
    robin = simulate(world, "round_robin", config)

    def figure(x: float) -> float | None:
        return round(x, 2) if math.isfinite(x) else None

    kinds = sorted(planned.by_kind)
    return {
        "seed": seed,
        "catalogue_videos": len(world.usual),
        "spikes": len(world.spikes),
        "budget_units_per_day": config.budget_units_per_day,
        "reserve_units_per_day": config.reserve_units,
        "max_units_spent_per_day": max(planned.spent_by_day.values(), default=0),
        "round_robin_max_units_spent_per_day": max(robin.spent_by_day.values(), default=0),
        "planner_median_delay_h": figure(quantile(planned.delays_h, 0.5)),
        "planner_p90_delay_h": figure(quantile(planned.delays_h, 0.9)),
        "planner_missed": sum(1 for d in planned.delays_h if not math.isfinite(d)),
        "round_robin_median_delay_h": figure(quantile(robin.delays_h, 0.5)),
        "round_robin_p90_delay_h": figure(quantile(robin.delays_h, 0.9)),
        "round_robin_missed": sum(1 for d in robin.delays_h if not math.isfinite(d)),
        "by_kind": {
            kind: {
                "spikes": len(planned.by_kind[kind]),
                "planner_median_delay_h": figure(quantile(planned.by_kind[kind], 0.5)),
                "planner_p90_delay_h": figure(quantile(planned.by_kind[kind], 0.9)),
                "round_robin_median_delay_h": figure(quantile(robin.by_kind[kind], 0.5)),
                "round_robin_p90_delay_h": figure(quantile(robin.by_kind[kind], 0.9)),
            }
            for kind in kinds
        },
        "readings_per_day": round(planned.readings / 7),
        "planner_decide_ms_median": round(float(np.median(planned.decide_seconds)) * 1000, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench-planner", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--videos", type=int, default=100_000, help="catalogue size at the start")
    parser.add_argument("--budget", type=int, default=10_000, help="quota units per day")
    parser.add_argument("--reserve", type=int, default=1_000, help="units kept for other collectors")
    args = parser.parse_args(argv)
    if args.videos < 1000 or args.budget < 1 or not 0 <= args.reserve < args.budget:
        print("bench-planner: --videos ≥ 1000, --budget ≥ 1, 0 ≤ --reserve < --budget", file=sys.stderr)
        return 2
    result = run(args.seed, args.videos, PlannerConfig(budget_units_per_day=args.budget, reserve_units=args.reserve))
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(
        f"Quota planner, one simulated week, {result['catalogue_videos']:,} videos, {result['spikes']} view spikes, "
        f"seed {result['seed']}; budget {result['budget_units_per_day']:,} units/day "
        f"({result['reserve_units_per_day']:,} kept back), {result['readings_per_day']:,} readings/day"
    )
    print(
        f"  units spent, busiest Pacific day: planner {result['max_units_spent_per_day']:,}, "
        f"round-robin {result['round_robin_max_units_spent_per_day']:,}"
    )
    print(f"  {'spikes':12} {'n':>4} {'planner median':>15} {'p90':>7} {'round-robin median':>19}")

    def h(x: float | None) -> str:
        return "missed" if x is None else f"{x:.2f} h"

    for kind, row in result["by_kind"].items():
        print(
            f"  {kind:12} {row['spikes']:>4} {h(row['planner_median_delay_h']):>15} "
            f"{h(row['planner_p90_delay_h']):>7} {h(row['round_robin_median_delay_h']):>19}"
        )
    print(
        f"  {'all':12} {result['spikes']:>4} {h(result['planner_median_delay_h']):>15} "
        f"{h(result['planner_p90_delay_h']):>7} {h(result['round_robin_median_delay_h']):>19}"
    )
    print(
        f"  missed (no reading showed it before it ended): planner {result['planner_missed']}, "
        f"round-robin {result['round_robin_missed']}; planner decision per tick {result['planner_decide_ms_median']} ms (median)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
