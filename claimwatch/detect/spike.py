"""Online spike detection on one series, against a seasonal baseline that spikes cannot drag along.

One small class per idea, in the manner of ``river.anomaly``: :class:`SeasonalBaseline` says
what a value should be at a time of day, :class:`SpikeDetector` scores how far a value is from
it. Both learn one observation at a time and keep a few floats per series.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from river.base import AnomalyDetector

from claimwatch.detect.ewstats import EWMean
from claimwatch.detect.timeutil import DAY


def _ew(alpha: float) -> EWMean:
    return EWMean(fading_factor=alpha)


@dataclass
class SeasonalBaseline:
    """Level + time-of-day offset, each an exponentially weighted mean.

    The level adapts quickly; the daily shape (``slots`` equal parts of the day) slowly, and only
    once a slot has been seen. Until then the level alone is the expectation.

    >>> b = SeasonalBaseline(slots=4)
    >>> for day in range(5):
    ...     for hour, value in ((3, 1.0), (9, 2.0), (15, 3.0), (21, 2.0)):
    ...         b.learn_one(value, (day * 24 + hour) * 3600.0)
    >>> round(b.expect((5 * 24 + 15) * 3600.0), 1), round(b.expect((5 * 24 + 3) * 3600.0), 1)
    (3.0, 1.0)
    """

    slots: int = 6
    level_alpha: float = 0.04
    shape_alpha: float = 0.25
    period: float = DAY
    level: EWMean = field(default=None)  # type: ignore[assignment]
    shape: list[EWMean | None] = field(default_factory=list)
    seen: int = 0

    def __post_init__(self) -> None:
        if self.level is None:
            self.level = _ew(self.level_alpha)
        if not self.shape:
            self.shape = [None] * self.slots
        # The rates are parameters, not state: restored means take this code's values.
        self.level.fading_factor = self.level_alpha
        for offset in self.shape:
            if offset is not None:
                offset.fading_factor = self.shape_alpha

    def slot(self, t: float) -> int:
        return int((t % self.period) / self.period * self.slots) % self.slots

    def expect(self, t: float) -> float:
        offset = self.shape[self.slot(t)]
        return float(self.level.get()) + (float(offset.get()) if offset is not None else 0.0)

    def learn_one(self, x: float, t: float) -> None:
        slot = self.slot(t)
        offset = self.shape[slot]
        deseasoned = x - (float(offset.get()) if offset is not None else 0.0)
        self.level.update(deseasoned)
        if offset is None:
            offset = self.shape[slot] = _ew(self.shape_alpha)
        offset.update(x - float(self.level.get()))
        self.seen += 1


@dataclass(eq=True)
class SpikeDetector(AnomalyDetector):
    """Robust z-score of a value against :class:`SeasonalBaseline`, with outlier protection.

    ``score`` maps the z-score to [0, 1] (0.5 at ``z_alert / 2``, graded, never saturating at
    exactly 1), ``learn`` winsorises the residual at ``clip`` standard deviations so a spike
    barely moves the baseline while a lasting level change is still learnt over a few steps.
    ``extra_var`` lets the caller add sampling noise it knows about (Poisson noise of a count).
    As a river ``AnomalyDetector`` it also takes ``{"value": x, "t": epoch seconds}`` (and
    optionally ``"extra_var"``) in ``learn_one`` / ``score_one``, so river's filters work with it.

    >>> d = SpikeDetector(warmup=5)
    >>> for i in range(48):
    ...     d.learn(10.0 + (i % 3) * 0.1, i * 3600.0)
    >>> d.zscore(10.1, 48 * 3600.0) < 2
    True
    >>> d.zscore(14.0, 48 * 3600.0) > 8
    True
    >>> from river import anomaly
    >>> gate = anomaly.ThresholdFilter(SpikeDetector(warmup=5), threshold=0.5)
    >>> for i in range(48):
    ...     gate.learn_one({"value": 10.0 + (i % 3) * 0.1, "t": i * 3600.0})
    >>> gate.classify(gate.score_one({"value": 14.0, "t": 48 * 3600.0}))
    True
    """

    slots: int = 6
    warmup: int = 8
    clip: float = 2.5
    min_std: float = 0.05
    z_alert: float = 4.0
    var_alpha: float = 0.05
    baseline: SeasonalBaseline = field(default=None)  # type: ignore[assignment]
    residual_var: EWMean = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.baseline is None:
            self.baseline = SeasonalBaseline(slots=self.slots)
        if self.residual_var is None:
            self.residual_var = _ew(self.var_alpha)
        self.residual_var.fading_factor = self.var_alpha

    @property
    def ready(self) -> bool:
        return self.baseline.seen >= self.warmup

    def std(self, extra_var: float = 0.0) -> float:
        return math.sqrt(max(float(self.residual_var.get()), self.min_std**2) + extra_var)

    def zscore(self, x: float, t: float, extra_var: float = 0.0) -> float:
        if not self.ready:
            return 0.0
        return (x - self.baseline.expect(t)) / self.std(extra_var)

    def score_one(self, x: dict[Hashable, Any]) -> float:  # river's protocol
        return self.score(float(x["value"]), float(x["t"]), float(x.get("extra_var", 0.0)))

    def learn_one(self, x: dict[Hashable, Any]) -> None:  # river's protocol
        self.learn(float(x["value"]), float(x["t"]), float(x.get("extra_var", 0.0)))

    def score(self, x: float, t: float, extra_var: float = 0.0) -> float:
        return z_to_score(self.zscore(x, t, extra_var), self.z_alert)

    def learn(self, x: float, t: float, extra_var: float = 0.0) -> None:
        if self.baseline.seen == 0:
            self.baseline.learn_one(x, t)
            return
        expected = self.baseline.expect(t)
        residual = x - expected
        limit = self.clip * self.std(extra_var) if self.ready else math.inf
        clipped = max(-limit, min(limit, residual))
        if abs(residual) <= limit:
            # Outliers never widen the spread: a spike must not teach the detector to expect spikes.
            self.residual_var.update(residual * residual)
        self.baseline.learn_one(expected + clipped, t)


def z_to_score(z: float, z_alert: float = 4.0) -> float:
    """Graded map of a z-score to [0, 1): 0 for z <= 0, 0.5 at z_alert / 2, ~0.88 at z_alert."""
    if z <= 0:
        return 0.0
    return 1.0 - math.exp(-((z / z_alert) ** 2) * 2.1)


@dataclass
class CountRateModel:
    """Expected event rate of a counter (views, likes…) per hour, on a log scale.

    Observed count ``O`` in ``hours`` is compared with the expectation ``E`` through
    ``log((O+1)/(E+1))``, whose sampling variance is about ``1/(E+1)`` (Poisson), so small
    and large posts are judged on one scale.
    """

    detector: SpikeDetector = field(default_factory=SpikeDetector)

    def expected(self, t: float, hours: float) -> float | None:
        if not self.detector.ready:
            return None
        return math.exp(self.detector.baseline.expect(t)) * hours

    def expected_between(self, start: float, end: float) -> float | None:
        """The usual count over exactly ``[start, end]``: the usual rate of each part of the day it
        covers, times the hours it spends there. A window across a night and a morning expects the
        night's rate for its night hours, not the rate of its middle for all of them.

        >>> m = CountRateModel(SpikeDetector(slots=2, warmup=1))
        >>> for day in range(30):  # 10 an hour at night (00-12), 100 an hour by day (12-24)
        ...     m.learn(10.0 * 12, (day * 24 + 6) * 3600.0, 12.0)
        ...     m.learn(100.0 * 12, (day * 24 + 18) * 3600.0, 12.0)
        >>> day0 = 30 * 86_400.0
        >>> night, day = m.expected(day0 + 6 * 3600.0, 1.0), m.expected(day0 + 18 * 3600.0, 1.0)
        >>> across = m.expected_between(day0 + 8 * 3600.0, day0 + 16 * 3600.0)  # 4 night hours, 4 day hours
        >>> round(across) == round(4 * night + 4 * day), round(m.expected(day0 + 12 * 3600.0, 8.0)) == round(8 * day)
        (True, True)
        """
        if not self.detector.ready or end <= start:
            return None
        baseline = self.detector.baseline
        part = baseline.period / baseline.slots
        total, at = 0.0, start
        while at < end:
            edge = min(end, (math.floor(at / part) + 1) * part)
            total += math.exp(baseline.expect(at)) * (edge - at) / 3600.0
            at = edge
        return total

    def zscore(self, count: float, t: float, hours: float, expected: float | None = None) -> float:
        """How far ``count`` is from ``expected`` (by default, the usual for ``hours`` around ``t``)."""
        if expected is None:
            expected = self.expected(t, hours)
        if expected is None:
            return 0.0
        spread = self.detector.std(1.0 / (expected + 1.0))
        return (math.log(count + 1.0) - math.log(expected + 1.0)) / spread

    def learn(self, count: float, t: float, hours: float) -> None:
        expected = self.expected(t, hours)
        self.detector.learn(log_rate(count, hours), t, 1.0 / (expected + 1.0) if expected is not None else 0.0)


def log_rate(count: float, hours: float) -> float:
    """``log((count + 1) / hours)``: the scale both view-rate models learn on; 0 for an empty bucket."""
    return math.log((count + 1.0) / hours) if hours > 0 else 0.0
