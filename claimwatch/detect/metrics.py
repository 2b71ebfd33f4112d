"""Per-post performance models: counters → rates over evaluation buckets → spike findings.

Polls arrive every 15–60 minutes with lifetime totals; a small post gains a handful of views in
that time, far too few to judge. Deltas are therefore pooled into a bucket until it holds enough
expected views (or enough time) to be judged, then scored and learnt once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime

from claimwatch.detect.novelty import NoveltyDetector
from claimwatch.detect.spike import CountRateModel, SpikeDetector, log_rate, z_to_score
from claimwatch.detect.timeutil import from_epoch

ENGAGEMENT = ("likes", "comments", "shares")
COUNTERS = ("views", *ENGAGEMENT)
SPIKE_MIN_RATIO = 1.8
DROP_MIN_EXPECTED = 50.0  # a handful of missing views on a quiet post is noise, not a block
CUSUM_SLACK = 1.0
CUSUM_ALERT = 5.0
NOVEL_MIN_Z = 3.0  # an unprecedented rate still has to clear the rate model's noise
ENGAGEMENT_MIN_COUNT = 40.0
ENGAGEMENT_MAX_HOURS = 12.0


@dataclass(frozen=True)
class Finding:
    """A metric anomaly, before it becomes an alert."""

    kind: str  # "view_spike" | "engagement_spike" | "view_drop"
    time: datetime
    z: float
    ratio: float
    observed: float
    expected: float
    bucket_hours: float
    bucket_start: datetime
    episode_start: datetime | None = None
    novelty: float = 0.0


@dataclass
class BucketPolicy:
    min_hours: float = 1.0
    max_hours: float = 6.0
    min_expected: float = 40.0
    # Faster than the fastest-growing videos ever (tens of millions of views a day): a counter that
    # grows faster is corrupted, not viral.
    max_views_per_hour: float = 20_000_000.0
    rebase_after_polls: int = 3


@dataclass
class PostModel:
    """Everything known about one post on one platform."""

    views: CountRateModel = field(default_factory=CountRateModel)
    novelty: NoveltyDetector = field(default_factory=NoveltyDetector)  # on the log view rate of each bucket
    engagement: SpikeDetector = field(default_factory=lambda: SpikeDetector(warmup=6, min_std=0.1, slots=1))
    last_time: float | None = None
    eng_start: float | None = None
    cusum: float = 0.0  # one-sided CUSUM of the views z-scores: evidence of a sustained rise
    run_start: float | None = None
    run_observed: float = 0.0
    run_expected: float = 0.0
    run_hours: float = 0.0
    eng_views: float = 0.0
    eng_count: float = 0.0
    last_totals: dict[str, int] = field(default_factory=dict)
    bucket_start: float | None = None
    bucket: dict[str, float] = field(default_factory=dict)
    episode: str | None = None  # the kind of the anomaly in progress, if any
    episode_start: float = 0.0
    quiet_buckets: int = 0
    counter_resets: int = 0
    counter_jumps: int = 0
    suspect_polls: int = 0  # polls in a row that were counter artefacts
    out_of_order: int = 0
    duplicates: int = 0
    daily_views: dict[str, int] = field(default_factory=dict)

    def observe_totals(self, t: float, totals: dict[str, int | None], policy: BucketPolicy) -> list[Finding]:
        """A poll of cumulative counters; returns what the closed bucket (if any) revealed.

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
            return []
        self.suspect_polls = 0
        for name in COUNTERS:
            value, last = totals.get(name), self.last_totals.get(name)
            if value is None:
                continue
            if last is not None:
                self.bucket[name] = self.bucket.get(name, 0.0) + (value - last)
            self.last_totals[name] = value
        self.last_time = t
        return self._maybe_close(t, policy)

    def _artefact(self, t: float, totals: dict[str, int | None], policy: BucketPolicy) -> str | None:
        """``"decrease"`` or ``"jump"`` when this poll's counters cannot be real growth, else None."""
        assert self.last_time is not None
        hours = (t - self.last_time) / 3600.0
        for name in COUNTERS:
            value, last = totals.get(name), self.last_totals.get(name)
            if value is None or last is None:
                continue
            if value < last:
                return "decrease"
            if value - last > policy.max_views_per_hour * max(hours, 0.25):
                return "jump"
        return None

    def observe_day(self, t: float, counts: dict[str, int | None], policy: BucketPolicy) -> list[Finding]:
        """One day's counts (analytics): a bucket of its own, 24 hours long."""
        for name in COUNTERS:
            value = counts.get(name)
            if value is not None:
                self.bucket[name] = float(value)
        self.bucket_start = t - 86_400.0 + 1.0
        findings = self._close(t, 24.0)
        return findings

    def _reset_to(self, t: float, totals: dict[str, int | None]) -> None:
        self.last_time = t
        self.last_totals = {k: int(v) for k, v in totals.items() if v is not None}
        self.bucket_start = t
        self.bucket = {}

    def _maybe_close(self, t: float, policy: BucketPolicy) -> list[Finding]:
        assert self.bucket_start is not None
        hours = (t - self.bucket_start) / 3600.0
        if hours < policy.min_hours:
            return []
        expected = self.views.expected(self._mid(t), hours)
        if hours < policy.max_hours and (expected is None or expected < policy.min_expected):
            return []
        return self._close(t, hours)

    def _mid(self, t: float) -> float:
        start = self.bucket_start if self.bucket_start is not None else t
        return (start + t) / 2.0

    def _close(self, t: float, hours: float) -> list[Finding]:
        mid = self._mid(t)
        start = self.bucket_start if self.bucket_start is not None else t
        views = self.bucket.get("views", 0.0)
        findings: list[Finding] = []
        expected = self.views.expected(mid, hours)
        rate = log_rate(views, hours)
        novelty = self.novelty.update(rate, mid)  # learning now is safe: nothing below reads it
        novel = self.novelty.is_alert(novelty)
        if expected is not None:
            z = self.views.zscore(views, mid, hours)
            ratio = (views + 1.0) / (expected + 1.0)
            self._cusum(z, views, expected, hours, start)
            run_ratio = (self.run_observed + 1.0) / (self.run_expected + 1.0)
            z_alert = self.views.detector.z_alert
            if (z >= z_alert or (novel and z >= NOVEL_MIN_Z)) and ratio >= SPIKE_MIN_RATIO:
                findings.append(self._finding("view_spike", t, z, ratio, views, expected, hours, start, novelty))
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
                    )
                )
            if findings:
                self._cusum_reset()  # a signalled rise starts a new run, or it would signal forever
            elif (z <= -z_alert or (novel and z <= -NOVEL_MIN_Z)) and ratio <= 0.25 and expected >= DROP_MIN_EXPECTED:
                findings.append(self._finding("view_drop", t, z, ratio, views, expected, hours, start, novelty))
        findings += self._engagement(t, views, sum(self.bucket.get(k, 0.0) for k in ENGAGEMENT), start)
        self.views.learn(views, mid, hours)
        self.bucket = {}
        self.bucket_start = t
        self._track_episode(findings, t)
        episode = from_epoch(self.episode_start)
        return [replace(f, episode_start=episode) for f in findings]

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

    def _engagement(self, t: float, views: float, engaged: float, start: float) -> list[Finding]:
        """Engagement per view, over its own buckets: reactions are ~5 % of views, so they need longer."""
        if self.eng_start is None:
            self.eng_start = start
        self.eng_views += views
        self.eng_count += engaged
        hours = (t - self.eng_start) / 3600.0
        if self.eng_count < ENGAGEMENT_MIN_COUNT and hours < ENGAGEMENT_MAX_HOURS:
            return []
        views, engaged, begin = self.eng_views, self.eng_count, self.eng_start
        self.eng_views = self.eng_count = 0.0
        self.eng_start = t
        if views <= 0:
            return []
        # A jump in reactions per view means people react more than they watch, which a view spike
        # alone (reactions rising in step with views) does not show.
        mid = (begin + t) / 2.0
        log_rate = math.log((engaged + 1.0) / (views + 1.0))
        noise = 1.0 / (engaged + 1.0) + 1.0 / (views + 1.0)
        detector = self.engagement
        findings = []
        if detector.ready:
            z = detector.zscore(log_rate, mid, noise)
            ratio = math.exp(log_rate - detector.baseline.expect(mid))
            if z >= detector.z_alert and ratio >= 2.0:
                findings.append(self._finding("engagement_spike", t, z, ratio, engaged, engaged / ratio, hours, begin))
        detector.learn_one(log_rate, mid, noise)
        return findings

    def _finding(
        self, kind: str, t: float, z: float, ratio: float, observed: float, expected: float,
        hours: float, start: float, novelty: float = 0.0,
    ) -> Finding:  # fmt: skip
        return Finding(
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
