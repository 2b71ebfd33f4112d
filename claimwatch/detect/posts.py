"""Per-post performance models: counters → rates over evaluation buckets → spike findings.

Polls arrive every 15–60 minutes with lifetime totals; a small post gains a handful of views in
that time, far too few to judge. Deltas are therefore pooled into a bucket until it holds enough
expected views (or enough time) to be judged, then scored and learnt once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import ClassVar, Literal

from claimwatch.detect.novelty import NoveltyDetector
from claimwatch.detect.spike import CountRateModel, log_rate, z_to_score
from claimwatch.detect.timeutil import DAY, from_epoch

FindingKind = Literal["view_spike", "engagement_spike", "view_drop"]
ENGAGEMENT = ("likes", "comments", "shares")
COUNTERS = ("views", *ENGAGEMENT)
SPIKE_MIN_RATIO = 1.8
DROP_MIN_EXPECTED = 50.0  # a handful of missing views on a quiet post is noise, not a block
# A fall of views is held to the next fresh poll; when at least this share of the views it missed
# comes back then (beyond the usual for the time since), the counter was behind, not the audience.
DROP_CAUGHT_UP_SHARE = 0.5
CUSUM_SLACK = 1.0
CUSUM_ALERT = 5.0
NOVEL_MIN_Z = 3.0  # an unprecedented rate still has to clear the rate model's noise
# A post whose content is spiking on another platform is far more likely to spike too, so it is
# judged on every bucket of an hour (or more, to hold PRIMED_MIN_EXPECTED views) at this lower z:
# the spread to a second platform is raised within a few polls of its crossing, not a day later.
PRIMED_Z = 3.0
PRIMED_MIN_EXPECTED = 10.0
EPISODE_MIN_RATIO = 2.0  # a finding this far above usual counts toward its episode being sustained
# Views a post usually gets over a span its counters stood still, above which standing still was a
# collector's freeze, not a quiet post: the growth that follows is spread over the span.
FREEZE_MIN_USUAL_VIEWS = 200.0
# A views counter that has not moved where this many views were usual since it last moved (a
# Poisson zero has odds under 1 %) is a stale reading, not a quiet hour.
STALLED_MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class Finding:
    """A metric anomaly, before it becomes an alert."""

    kind: FindingKind
    time: datetime
    z: float
    ratio: float
    observed: float
    expected: float
    bucket_hours: float
    bucket_start: datetime
    episode_start: datetime | None = None
    novelty: float = 0.0
    metric: str | None = None  # the reaction of an engagement spike: likes, comments or shares
    # The episode so far (the anomaly's findings in a row): its extra counts of this finding's
    # metric, and the hours since its first window began. Severity is judged on these.
    episode_excess: float = 0.0
    episode_hours: float = 0.0
    episode_windows: int = 1  # windows (or buckets) of this metric in the episode that were anomalous
    windows: int = 1  # windows this finding spans: more than one for a sustained rise (CUSUM)
    # When the rise began, as far as the post's own evidence tells: the start of the run of windows
    # above usual it ends (a slow ramp's first window), else its own window's start.
    onset: datetime | None = None


ANALYTICS_DAYS_KEPT = 62  # past the roll-ups' 14-day horizon with room to spare
ANALYTICS_DAYS_MASK = (1 << ANALYTICS_DAYS_KEPT) - 1


@dataclass(frozen=True, slots=True)
class WindowFigures:
    """A closed window's views and reactions (likes, comments and shares together) beside what was
    usual for the post over it, each with its variance under the post's own noise model: what a
    person reviewing an alert sees as a picture. Expectations and variances add up over a day's
    windows, so a day's usual range is ``expected ± BAND_Z·sqrt(variance)`` (as if its windows were
    independent). The reactions' usual is their usual rate per view times this window's views, so
    reactions that surge while views do not stand out of their range."""

    views: float
    expected: float
    variance: float
    reactions: float = 0.0
    reactions_expected: float = 0.0
    reactions_variance: float = 0.0


@dataclass
class BucketPolicy:
    min_hours: float = 1.0
    max_hours: float = 6.0
    min_expected: float = 40.0
    # Faster than the fastest-growing videos ever (tens of millions of views a day): a counter that
    # grows faster is corrupted, not viral.
    max_views_per_hour: float = 20_000_000.0
    rebase_after_polls: int = 3
    # A reaction counter (likes, comments, shares) that rises by more than this many times the views
    # gained since the last poll, and by more than the floor, was misread ("1,234" read where 81
    # stood), not reacted to: reactions come from viewers. The floor leaves room for a views counter
    # that lags behind its reactions for a poll or two.
    max_reactions_per_view: float = 3.0
    reaction_jump_floor: int = 500


@dataclass
class ReactionRate:
    """One kind of reaction (likes, comments or shares) per view, against its own baseline.

    Reactions are counted over windows of at least :attr:`MIN_HOURS` that close once
    :attr:`MIN_COUNT` of them (or :attr:`MAX_HOURS`) have passed, so rare ones (shares) are judged
    over longer windows than frequent ones (likes), and a wave of an hour or two is not a window of
    its own. The usual rate per view is the ratio of exponentially weighted reactions and views, so
    a window's expected count is that rate times its views.

    A window is judged on Anscombe's variance-stabilised difference, ``2(sqrt(c + 3/8) -
    sqrt(expected + 3/8))``, about a standard normal for Poisson counts however small. Real
    reactions are not Poisson: they come in threads and waves and their rate drifts, so the
    difference's own variance (``1 + dispersion``) is learnt from the post's windows (see
    :meth:`_learn_spread`). Its ``z`` is the difference over that spread: "rare for this post",
    not "a large ratio".

    A surge is one window at ``z >= Z_ALERT`` and :attr:`MIN_RATIO` times the usual count or more,
    or a run of windows whose one-sided CUSUM of ``z`` (slack :attr:`CUSUM_SLACK`) reaches
    :attr:`CUSUM_ALERT` at :attr:`RUN_MIN_RATIO` or more: a surge that lasts is found even where
    each window of it is within the noise (as ``low`` until it is sure and large: see the policy).

    >>> r = ReactionRate()
    >>> quiet = [r.observe(h * 3600.0, (h - 2) * 3600.0, 120.0, 0.6 + (h % 3) * 0.2) for h in range(2, 800, 2)]
    >>> any(quiet)
    False
    >>> surge = [r.observe(h * 3600.0, (h - 2) * 3600.0, 168.0, 5.6) for h in range(800, 830, 2)]
    >>> z, ratio, *_ = next(s for s in surge if s)
    >>> round(ratio, 1), round(z, 1)  # the first window is partly the quiet hours before the surge
    (3.0, 3.9)
    """

    usual_count: float = 0.0  # exponentially weighted reactions per window
    usual_views: float = 0.0  # and views per window: their ratio is the usual rate per view
    dispersion: float = 0.0  # the variance of the window's difference beyond Poisson's 1
    seen: int = 0
    start: float | None = None
    views: float = 0.0
    count: float = 0.0
    cusum: float = 0.0  # one-sided CUSUM of the windows' z: evidence of a sustained rise
    run_start: float | None = None
    run_count: float = 0.0
    run_expected: float = 0.0

    MIN_COUNT: ClassVar[float] = 20.0
    MIN_HOURS: ClassVar[float] = 2.0
    MAX_HOURS: ClassVar[float] = 12.0
    WARMUP: ClassVar[int] = 6
    LEVEL_ALPHA: ClassVar[float] = 0.1
    LEVEL_HOURS: ClassVar[float] = 48.0
    DISPERSION_ALPHA: ClassVar[float] = 0.05
    CLIP: ClassVar[float] = 2.5
    Z_ALERT: ClassVar[float] = 3.5
    CUSUM_SLACK: ClassVar[float] = 0.75
    CUSUM_ALERT: ClassVar[float] = 3.0
    RUN_MAX_HOURS: ClassVar[float] = 24.0
    MIN_RATIO: ClassVar[float] = 2.0
    RUN_MIN_RATIO: ClassVar[float] = 2.0  # the same as one window: a bursty post runs at 1.6x now and then
    # A window of a run counts toward the run's ratio only at this z or more: one within the noise
    # (a long quiet window before the surge began) adds nothing to the evidence, and would dilute it.
    RUN_EVIDENCE_Z: ClassVar[float] = 1.0

    def observe(
        self, t: float, start: float, views: float, count: float
    ) -> tuple[float, float, float, float, float, float] | None:
        """Add a bucket; when a window closes, ``(z, ratio, observed, expected, hours, start)`` of a surge."""
        if self.start is None:
            self.start = start
        self.views += views
        self.count += count
        hours = (t - self.start) / 3600.0
        if hours < self.MAX_HOURS and (self.count < self.MIN_COUNT or hours < self.MIN_HOURS):
            return None
        views, count, begin = self.views, self.count, self.start
        self.views = self.count = 0.0
        self.start = t
        if views <= 0:
            return None
        if self.seen == 0:
            self.usual_count, self.usual_views, self.seen = count, views, 1
            return None
        expected = self.usual_count / self.usual_views * views if self.usual_views > 0 else 0.0
        spread = math.sqrt(1.0 + max(0.0, self.dispersion))
        raw = 2.0 * (math.sqrt(count + 0.375) - math.sqrt(expected + 0.375))
        z = raw / spread
        rising = self.cusum > 0.0 and z > self.CUSUM_SLACK
        surge = self._judge(z, count, expected, hours, begin) if self.seen >= self.WARMUP else None
        if not rising:  # a window that adds to a rise in progress is not learnt as noise
            self._learn_spread(raw, z, spread)
        if abs(z) > self.CLIP and self.seen >= self.WARMUP:
            # A surge must not teach the baseline to expect surges: its count is learnt at the clip.
            edge = math.sqrt(expected + 0.375) + math.copysign(self.CLIP * spread / 2.0, raw)
            count = max(0.0, edge * edge - 0.375)
        # A long window is as much news of the level as several short ones: a rare reaction judged
        # over 12-hour windows must follow a drifting rate per view within a day or two, not a week.
        alpha = max(self.LEVEL_ALPHA, 1.0 - math.exp(-hours / self.LEVEL_HOURS))
        self.usual_count += alpha * (count - self.usual_count)
        self.usual_views += alpha * (views - self.usual_views)
        self.seen += 1
        return surge

    def _judge(
        self, z: float, count: float, expected: float, hours: float, begin: float
    ) -> tuple[float, float, float, float, float, float] | None:
        self.cusum = max(0.0, self.cusum + z - self.CUSUM_SLACK)
        if self.run_start is not None and begin - self.run_start > self.RUN_MAX_HOURS * 3600.0:
            # A rise that took more than a day to add up is drift, not a surge: start again from here.
            self.cusum = max(0.0, z - self.CUSUM_SLACK)
            self.run_start, self.run_count, self.run_expected = None, 0.0, 0.0
        if self.cusum == 0.0:
            self.run_start, self.run_count, self.run_expected = None, 0.0, 0.0
        else:
            if self.run_start is None:
                self.run_start = begin
            if z >= self.RUN_EVIDENCE_Z:
                self.run_count += count
                self.run_expected += expected
        ratio = (count + 1.0) / (expected + 1.0)
        if z >= self.Z_ALERT and ratio >= self.MIN_RATIO:
            surge = (z, ratio, count, expected, hours, begin)
        elif self.cusum >= self.CUSUM_ALERT and self.run_start is not None:
            run_ratio = (self.run_count + 1.0) / (self.run_expected + 1.0)
            if run_ratio < self.RUN_MIN_RATIO:
                return None
            run_hours = hours + (begin - self.run_start) / 3600.0
            surge = (max(z, self.cusum / 2.0), run_ratio, self.run_count, self.run_expected, run_hours, self.run_start)
        else:
            return None
        self.cusum, self.run_start, self.run_count, self.run_expected = 0.0, None, 0.0, 0.0
        return surge

    def _learn_spread(self, raw: float, z: float, spread: float) -> None:
        """The window difference's variance: a plain mean over the first windows (the second one's
        difference is mostly the level's own error after one window, so it is left out), then
        exponentially weighted and winsorised at :attr:`CLIP` of the spread. Winsorised, not cut:
        leaving the windows beyond the clip out made a post whose comments come in threads (a
        heavy right tail) learn an ever smaller spread, and alert every eight hours."""
        if self.seen < 2:
            return
        if self.seen >= self.WARMUP:
            raw = max(-self.CLIP, min(self.CLIP, z)) * spread
        alpha = max(self.DISPERSION_ALPHA, 1.0 / (self.seen - 1))
        self.dispersion += alpha * (raw * raw - 1.0 - self.dispersion)


@dataclass
class PostModel:
    """Everything known about one post on one platform."""

    views: CountRateModel = field(default_factory=CountRateModel)
    # On the log view rate of each bucket; buckets are an hour or more, so hourly slots record the day.
    novelty: NoveltyDetector = field(default_factory=lambda: NoveltyDetector(day_slots=24))
    # Likes, comments and shares per view, each against its own baseline: one metric's surge is
    # not diluted by the others (a share surge with flat views is the early sign of spreading).
    reactions: dict[str, ReactionRate] = field(default_factory=dict)
    last_time: float | None = None
    cusum: float = 0.0  # one-sided CUSUM of the views z-scores: evidence of a sustained rise
    run_start: float | None = None
    run_observed: float = 0.0
    run_expected: float = 0.0
    run_hours: float = 0.0
    last_totals: dict[str, int] = field(default_factory=dict)
    changed_at: dict[str, float] = field(default_factory=dict)  # when each counter last moved
    bucket_start: float | None = None
    bucket: dict[str, float] = field(default_factory=dict)
    episode: str | None = None  # the kind of the anomaly in progress, if any
    episode_start: float = 0.0
    # Per metric (views, likes, comments, shares) in the episode: extra counts so far, and when the
    # first window of its findings began: a wave of shares does not make a later comment surge "sustained".
    episode_excess: dict[str, float] = field(default_factory=dict)
    episode_began: dict[str, float] = field(default_factory=dict)
    episode_windows: dict[str, int] = field(default_factory=dict)
    quiet_buckets: int = 0
    counter_resets: int = 0
    counter_jumps: int = 0
    suspect_polls: int = 0  # polls in a row that were counter artefacts
    out_of_order: int = 0
    duplicates: int = 0
    stale_polls: int = 0  # polls whose views counter stood still where views were all but certain
    drops_caught_up: int = 0  # falls of views whose missing views came back at the next poll
    recent_rate: float = 0.0  # views an hour of the last bucket judged: "usual" while the model learns
    # The analytics days seen, as bits back from the newest (bit 0): a day seen again is restated.
    analytics_days: int = 0
    newest_analytics_day: int = 0  # its proleptic ordinal
    # A fall of views found at the last poll, held until the next fresh one tells a fall from a
    # collector that fell behind: ``[end, z, ratio, observed, expected, hours, start, novelty]``.
    held_drop: list[float] = field(default_factory=list)

    def note_analytics_day(self, day: int) -> bool:
        """Record a day of analytics; True when it had been recorded before (a restatement).

        Only the last :data:`ANALYTICS_DAYS_KEPT` days are remembered, so the state stays bounded
        however old the post; a restatement older than that is not recognised as one.
        """
        if day > self.newest_analytics_day:
            shift = day - self.newest_analytics_day
            self.analytics_days = (
                (self.analytics_days << shift) & ANALYTICS_DAYS_MASK if shift < ANALYTICS_DAYS_KEPT else 0
            )
            self.newest_analytics_day = day
        back = self.newest_analytics_day - day
        if back >= ANALYTICS_DAYS_KEPT:
            return False
        seen = bool(self.analytics_days >> back & 1)
        self.analytics_days |= 1 << back
        return seen

    def observe_totals(
        self,
        t: float,
        totals: dict[str, int | None],
        policy: BucketPolicy,
        primed: bool = False,
        windows: list[WindowFigures] | None = None,
    ) -> list[Finding]:
        """A poll of cumulative counters; returns what the closed bucket (if any) revealed.

        ``primed``: the content is spiking on another platform (see :data:`PRIMED_Z`). ``windows``:
        when given, a bucket judged against a trained model adds its :class:`WindowFigures` to it.

        A poll whose counters went down, or rose faster than any post can, is a counter artefact (a
        collector glitch, a reset, a corrupted value), not views: it is counted as a data-quality
        finding and left out, so the next good poll is measured from the last good one. A new level
        held for ``policy.rebase_after_polls`` polls in a row is believed: the counter was reset.
        """
        if self.last_time is None:
            self._reset_to(t, totals)
            return []
        if t < self.last_time:
            self.out_of_order += 1  # a late poll says nothing new about the present
            return []
        if t == self.last_time:
            self.duplicates += 1
            return []
        artefact = self._artefact(t, totals, policy)
        if artefact is not None:
            if artefact == "decrease":
                self.counter_resets += 1
            else:
                self.counter_jumps += 1
            self.suspect_polls += 1
            if self.suspect_polls >= policy.rebase_after_polls:
                self.suspect_polls = 0
                self.last_time = t
                self.last_totals.update({k: int(v) for k, v in totals.items() if v is not None})
                self.changed_at.update({k: t for k, v in totals.items() if v is not None})
            return []
        self.suspect_polls = 0
        if self._stale(t, totals):
            # A collector serving stale counters, not an audience gone: the poll is left out like a
            # repeat, so the next fresh one is measured from the last fresh one over the whole
            # span. Learnt, a stale afternoon would teach the model to expect nothing then for days.
            self.stale_polls += 1
            return []
        for name in COUNTERS:
            value, last = totals.get(name), self.last_totals.get(name)
            if value is None:
                continue
            if last is not None:
                growth = float(value - last)
                if growth > 0:
                    growth *= self._caught_up_share(name, t)
                    self.changed_at[name] = t
                self.bucket[name] = self.bucket.get(name, 0.0) + growth
            else:
                self.changed_at[name] = t
            self.last_totals[name] = value
        self.last_time = t
        released = self._settle_drop(t) if self.held_drop else []
        return released + self._maybe_close(t, policy, primed, windows)

    def _settle_drop(self, t: float) -> list[Finding]:
        """The held fall of views, unless the views it missed came back at this poll: then the
        counter was behind (a collector that froze it part of the way through the window and
        caught up since), not the audience gone. A fall is news an hour late; a false one is not."""
        end, z, ratio, observed, expected, hours, start, novelty = self.held_drop
        self.held_drop = []
        returned = self.bucket.get("views", 0.0) - self._usual_views(end, t)
        if returned >= DROP_CAUGHT_UP_SHARE * (expected - observed):
            self.drops_caught_up += 1
            return []
        drop = self._finding("view_drop", end, z, ratio, observed, expected, hours, start, novelty)
        self._track_episode([drop], end)
        return self._with_episode([drop], end)

    def _stale(self, t: float, totals: dict[str, int | None]) -> bool:
        """Whether the views counter stands still where :data:`STALLED_MIN_EXPECTED` views were usual."""
        views, last = totals.get("views"), self.last_totals.get("views")
        if views is None or views != last:
            return False
        since = self.changed_at.get("views", t)
        return t > since and self._usual_views(since, t) >= STALLED_MIN_EXPECTED

    def _usual_views(self, start: float, end: float) -> float:
        """The post's usual views over ``[start, end]``; while its model learns, at the last bucket's rate."""
        usual = self.views.expected_between(start, end)
        return usual if usual is not None else self.recent_rate * (end - start) / 3600.0

    def _caught_up_share(self, name: str, t: float) -> float:
        """The share of a counter's growth that belongs to the open bucket: all of it, unless the
        counter stood still since before the bucket began on a post that is busy over that time (a
        collector that froze it). Then it is catching up, and its growth is spread over the whole
        still span: the closed buckets saw it stand still, this one gets its own part, not 12 hours'."""
        since = self.changed_at.get(name)
        start = self.bucket_start
        if since is None or start is None or since >= start or t <= start:
            return 1.0
        if self._usual_views(since, start) < FREEZE_MIN_USUAL_VIEWS:
            return 1.0  # a quiet post's counters often stand still: that is no freeze
        return (t - start) / (t - since)

    def _artefact(self, t: float, totals: dict[str, int | None], policy: BucketPolicy) -> str | None:
        """``"decrease"`` or ``"jump"`` when this poll's counters cannot be real growth, else None."""
        assert self.last_time is not None
        hours = (t - self.last_time) / 3600.0
        most = policy.max_views_per_hour * max(hours, 0.25)
        last_totals = self.last_totals
        views, last_views = totals.get("views"), last_totals.get("views")
        viewed = max(0, views - last_views) if views is not None and last_views is not None else None
        for name in COUNTERS:
            value, last = totals.get(name), last_totals.get(name)
            if value is None or last is None:
                continue
            if value < last:
                return "decrease"
            if value - last > most:
                return "jump"
            if (
                name != "views"
                and viewed is not None
                and value - last > max(policy.reaction_jump_floor, policy.max_reactions_per_view * viewed)
            ):
                return "jump"
        return None

    def observe_day(self, t: float, counts: dict[str, int | None], policy: BucketPolicy) -> list[Finding]:
        """One day's counts (analytics): a bucket of its own, 24 hours long."""
        for name in COUNTERS:
            value = counts.get(name)
            if value is not None:
                self.bucket[name] = float(value)
        self.bucket_start = t - DAY + 1.0
        findings = self._close(t, 24.0, hold_drop=False)  # a day of analytics is no collector's reading
        return findings

    def _reset_to(self, t: float, totals: dict[str, int | None]) -> None:
        self.last_time = t
        self.last_totals = {k: int(v) for k, v in totals.items() if v is not None}
        self.changed_at = dict.fromkeys(self.last_totals, t)
        self.bucket_start = t
        self.bucket = {}

    def _maybe_close(
        self, t: float, policy: BucketPolicy, primed: bool = False, windows: list[WindowFigures] | None = None
    ) -> list[Finding]:
        assert self.bucket_start is not None
        hours = (t - self.bucket_start) / 3600.0
        if hours < policy.min_hours:
            return []
        expected = self.views.expected(self._mid(t), hours)
        enough = PRIMED_MIN_EXPECTED if primed else policy.min_expected
        if hours < policy.max_hours and (expected is None or expected < enough):
            return []
        return self._close(t, hours, primed, windows)

    def _mid(self, t: float) -> float:
        start = self.bucket_start if self.bucket_start is not None else t
        return (start + t) / 2.0

    def _close(
        self,
        t: float,
        hours: float,
        primed: bool = False,
        figures: list[WindowFigures] | None = None,
        hold_drop: bool = True,
    ) -> list[Finding]:
        mid = self._mid(t)
        start = self.bucket_start if self.bucket_start is not None else t
        views = self.bucket.get("views", 0.0)
        findings: list[Finding] = []
        # Like with like: the usual count over exactly this window, each hour at its time of day.
        expected = self.views.expected_between(start, t) if t - start >= 1800.0 else self.views.expected(mid, hours)
        self.recent_rate = views / hours if hours > 0 else self.recent_rate
        rate = log_rate(views, hours)
        novelty = self.novelty.update(rate, mid)  # learning now is safe: nothing below reads it
        novel = self.novelty.is_alert(novelty)
        if expected is not None:
            if figures is not None:
                figures.append(self._figures(views, expected))
            z = self.views.zscore(views, mid, hours, expected)
            ratio = (views + 1.0) / (expected + 1.0)
            self._cusum(z, views, expected, hours, start)
            onset = self.run_start  # before a finding resets the run: where a slow ramp began
            run_ratio = (self.run_observed + 1.0) / (self.run_expected + 1.0)
            z_alert = PRIMED_Z if primed else self.views.detector.z_alert
            if (z >= z_alert or (novel and z >= NOVEL_MIN_Z)) and ratio >= SPIKE_MIN_RATIO:
                findings.append(
                    self._finding("view_spike", t, z, ratio, views, expected, hours, start, novelty, onset=onset)
                )
            elif self.cusum >= CUSUM_ALERT and run_ratio >= SPIKE_MIN_RATIO and self.run_start is not None:
                # A sustained rise that no single bucket shows beyond doubt: judged over the whole run.
                findings.append(
                    self._finding(
                        "view_spike",
                        t,
                        max(z, self.cusum / 2),
                        run_ratio,
                        self.run_observed,
                        self.run_expected,
                        self.run_hours,
                        self.run_start,
                        windows=2,
                    )
                )
            if findings:
                self._cusum_reset()  # a signalled rise starts a new run, or it would signal forever
            elif (z <= -z_alert or (novel and z <= -NOVEL_MIN_Z)) and ratio <= 0.25 and expected >= DROP_MIN_EXPECTED:
                if hold_drop:  # judged at the next fresh poll (see _settle_drop)
                    self.held_drop = [t, z, ratio, views, expected, hours, start, novelty]
                else:
                    findings.append(self._finding("view_drop", t, z, ratio, views, expected, hours, start, novelty))
        findings += self._engagement(t, views, start)
        self.views.learn(views, mid, hours)
        self.bucket = {}
        self.bucket_start = t
        self._track_episode(findings, t)
        return self._with_episode(findings, t)

    def _with_episode(self, findings: list[Finding], t: float) -> list[Finding]:
        """The findings of a bucket ending at ``t`` with their episode so far."""
        if not findings:  # most buckets: no datetime to build
            return findings
        episode = from_epoch(self.episode_start)
        out = []
        for f in findings:
            metric = f.metric or "views"
            if f.kind != "view_drop" and f.ratio >= EPISODE_MIN_RATIO:
                # Only a clear rise makes the episode sustained: a slow run at 1.6x is news at low,
                # not evidence that a later window's jump has lasted.
                self.episode_began.setdefault(metric, f.bucket_start.timestamp())
                self.episode_excess[metric] = self.episode_excess.get(metric, 0.0) + max(0.0, f.observed - f.expected)
                self.episode_windows[metric] = self.episode_windows.get(metric, 0) + f.windows
            began = self.episode_began.get(metric, f.bucket_start.timestamp())
            extra = round(self.episode_excess.get(metric, 0.0), 1)
            hours = round((t - began) / 3600.0, 2)
            windows = self.episode_windows.get(metric, 0)
            out.append(
                replace(f, episode_start=episode, episode_excess=extra, episode_hours=hours, episode_windows=windows)
            )
        return out

    def _figures(self, views: float, expected: float) -> WindowFigures:
        """This bucket beside what was usual (before either model learns from it). Views are judged
        on the log scale, ``log(c + 1) ~ N(log(e + 1), s²)``: a log-normal count's variance. Reactions
        are judged on Anscombe's square-root scale with a learnt dispersion: about ``e·(1 + d)``."""
        spread = self.views.detector.std(1.0 / (expected + 1.0))
        variance = (expected + 1.0) ** 2 * math.expm1(spread * spread)
        seen = usual = usual_variance = 0.0
        for metric in ENGAGEMENT:
            count = self.bucket.get(metric)
            rate = self.reactions.get(metric)
            if count is None or rate is None or rate.seen == 0 or rate.usual_views <= 0:
                continue  # not reported, or no usual rate yet: left out of both sides alike
            mean = rate.usual_count / rate.usual_views * views
            seen += count
            usual += mean
            usual_variance += (mean + 0.375) * (1.0 + max(0.0, rate.dispersion))
        return WindowFigures(views, expected, variance, seen, usual, usual_variance)

    def _cusum(self, z: float, observed: float, expected: float, hours: float, start: float) -> None:
        self.cusum = max(0.0, self.cusum + z - CUSUM_SLACK)
        if self.cusum == 0.0:
            self._cusum_reset()
            return
        if self.run_start is None:
            self.run_start = start
        self.run_observed += observed
        self.run_expected += expected
        self.run_hours += hours

    def _cusum_reset(self) -> None:
        self.cusum = 0.0
        self.run_start, self.run_observed, self.run_expected, self.run_hours = None, 0.0, 0.0, 0.0

    def _engagement(self, t: float, views: float, start: float) -> list[Finding]:
        """Each reaction per view, over its own windows (a share is rarer than a like)."""
        findings = []
        for metric in ENGAGEMENT:
            count = self.bucket.get(metric)
            if count is None:
                continue  # this platform does not report it
            rate = self.reactions.get(metric)
            if rate is None:
                rate = self.reactions[metric] = ReactionRate()
            window_start = rate.start if rate.start is not None else start
            surge = rate.observe(t, start, views, count)
            if surge is not None:
                z, ratio, observed, expected, hours, begin = surge
                windows = 1 if begin >= window_start else 2  # a CUSUM run of windows
                findings.append(
                    self._finding(
                        "engagement_spike",
                        t,
                        z,
                        ratio,
                        observed,
                        expected,
                        hours,
                        begin,
                        metric=metric,
                        windows=windows,
                    )
                )
        # Two reactions surging together are one episode: the strongest speaks for it.
        return sorted(findings, key=lambda f: -f.z)[:1] if findings else findings

    def _finding(
        self,
        kind: FindingKind,
        t: float,
        z: float,
        ratio: float,
        observed: float,
        expected: float,
        hours: float,
        start: float,
        novelty: float = 0.0,
        metric: str | None = None,
        windows: int = 1,
        onset: float | None = None,
    ) -> Finding:
        return Finding(
            metric=metric,
            windows=windows,
            onset=from_epoch(onset if onset is not None and onset < start else start),
            kind=kind,
            time=from_epoch(t),
            z=round(z, 3),
            ratio=round(ratio, 3),
            observed=round(observed, 1),
            expected=round(expected, 1),
            bucket_hours=round(hours, 2),
            bucket_start=from_epoch(start),
            novelty=round(novelty, 4),
        )

    def _track_episode(self, findings: list[Finding], t: float) -> None:
        if findings:
            if self.episode is None:
                self.episode_start = t
                self.episode_excess, self.episode_began, self.episode_windows = {}, {}, {}
            self.episode = findings[0].kind
            self.quiet_buckets = 0
        elif self.episode is not None:
            self.quiet_buckets += 1
            if self.quiet_buckets >= 3:
                self.episode = None


def spike_score(finding: Finding, z_alert: float = 4.0) -> float:
    # The ratio is rounded to 3 places, so a fall to almost nothing reads 0.0.
    magnitude = min(1.0, 0.5 + abs(math.log(max(finding.ratio, 1e-6))) / 3)
    return round(max(z_to_score(abs(finding.z), z_alert), finding.novelty) * magnitude, 4)
