"""Online novelty of a value against a series' own history: has it ever been this far out?

Viral spikes, takedowns and outages show up first as values (or short-run averages, or changes
against the same time yesterday) beyond anything the series has done recently.
:class:`TailSketch` turns "how far beyond its recent extremes" into a tail probability in bounded
memory; :class:`NoveltyDetector` watches three views of a series, scores the rarest, and rests
after it signals, so one episode gives one alert. Both learn one value at a time, in order, and
never look ahead: the score of a value depends on the values before it only.

This is the detector measured on the Numenta Anomaly Benchmark (``claimwatch backtest --score``)
and run by the worker on every post's view rate (``claimwatch.detect.posts``). Its parameters
were chosen by leaving one NAB category out at a time (``claimwatch.tuning``, ``docs/detection.md``).
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from river.base import AnomalyDetector

from claimwatch.detect.timeutil import DAY

LOG10 = math.log(10.0)
FLOAT32_MAX = 3.4e38  # values are kept as 32-bit floats (half the state); beyond this they are clamped


def _f32s() -> array[float]:
    return array("f")


def _bytes() -> array[int]:
    return array("B")


def _clamp(x: float) -> float:
    return max(-FLOAT32_MAX, min(FLOAT32_MAX, x)) if x == x else 0.0


@dataclass
class TailSketch:
    """Log tail probability of a value among the last ``window`` values seen, in bounded memory.

    Only the tails decide an alert: a value is news when few past values are as extreme. So the
    sketch keeps the ``extremes`` highest and lowest values exactly and, for the middle, a
    systematic sample of at most ``sample_size`` values (every ``stride``-th value; when full, every
    other one by rank is dropped and the stride doubles). It keeps two generations of up to
    ``window / 2`` values each: when the current one is full the older is dropped, so the history
    always holds between half a window and a window. Counts of values as extreme as ``x`` are exact
    while they are below ``extremes`` (every count an alert can depend on, for histories up to
    ``extremes × 10**3.1`` values) and estimated from the sample above that.

    The probability is the share of past values at least as extreme, counting as "as extreme" any
    within ``tolerance`` × (observed range) of it: in a series that keeps touching the same
    ceiling, grazing it again is not news. Past the extremes, the rank of a new record is further
    discounted by how far past it lies, in units of the spread of the outermost 1 % of the
    history (at least 3 values, at most ``extremes``: a peaks-over-threshold tail), so a record by a hair is unremarkable while one by
    several tail-spreads is not.

    >>> t = TailSketch(window=200)
    >>> for i in range(100):
    ...     t.learn_one(float(i % 10))
    >>> round(t.log_p(9.0), 2), t.log_p(10.0) < t.log_p(9.5) < t.log_p(9.0)
    (-2.22, True)
    >>> t.log_p(30.0) < math.log(1e-6)
    True
    """

    window: int = 10_000
    extremes: int = 24
    sample_size: int = 16
    tolerance: float = 0.02
    min_history: int = 20
    count: int = 0
    high: array[float] = field(default_factory=_f32s)  # the current generation's highest, ascending
    low: array[float] = field(default_factory=_f32s)  # its lowest, ascending
    sample: array[float] = field(default_factory=_f32s)  # ascending
    stride: int = 1
    old_count: int = 0
    old_high: array[float] = field(default_factory=_f32s)
    old_low: array[float] = field(default_factory=_f32s)
    old_sample: array[float] = field(default_factory=_f32s)
    old_stride: int = 1

    @property
    def n(self) -> int:
        return self.count + self.old_count

    def learn_one(self, x: float) -> None:
        if not -FLOAT32_MAX <= x <= FLOAT32_MAX:
            x = _clamp(x)
        if self.count >= self.window // 2:
            self.old_count, self.old_high, self.old_low = self.count, self.high, self.low
            self.old_sample, self.old_stride = self.sample, self.stride
            self.count, self.high, self.low, self.sample, self.stride = 0, _f32s(), _f32s(), _f32s(), 1
        high, low = self.high, self.low
        # Fill up while every value of the generation is kept. A generation restored from state
        # written with fewer extremes keeps that many until it is dropped: its counts stay exact.
        self.count += 1
        if len(high) == self.count - 1 and len(high) < self.extremes:
            bisect.insort(high, x)
            bisect.insort(low, x)
        else:
            if x > high[0]:
                del high[0]
                bisect.insort(high, x)
            if x < low[-1]:
                del low[-1]
                bisect.insort(low, x)
        if self.count % self.stride == 0:
            bisect.insort(self.sample, x)
            if len(self.sample) > self.sample_size:
                # Every other value by rank, from an offset that alternates with the stride so that
                # neither end is favoured over many halvings.
                self.sample = self.sample[(self.stride.bit_length() - 1) % 2 :: 2]
                self.stride *= 2

    def log_p(self, x: float) -> float:
        n = self.count + self.old_count
        if n < self.min_history:
            return 0.0
        high, low = self.high, self.low
        if self.old_count:
            highest, lowest = max(high[-1], self.old_high[-1]), min(low[0], self.old_low[0])
        else:
            highest, lowest = high[-1], low[0]
        slack = self.tolerance * (highest - lowest)
        as_high = _at_least(high, self.sample, self.count, x - slack)
        as_low = _at_most(low, self.sample, self.count, x + slack)
        if self.old_count:
            as_high += _at_least(self.old_high, self.old_sample, self.old_count, x - slack)
            as_low += _at_most(self.old_low, self.old_sample, self.old_count, x + slack)
        log_p = math.log((min(as_high, as_low) + 1) / (n + 1))
        if lowest <= x <= highest:
            return log_p
        floor = 1e-3 * ((self.quantile(0.9) - self.quantile(0.1)) or (highest - lowest) or 1e-6)
        k = min(self.extremes, max(3, n // 100), len(high) + len(self.old_high))
        if x > highest:
            tail = max(highest - sorted([*high, *self.old_high])[-k], floor)
            return log_p - (x - highest) / tail
        tail = max(sorted([*low, *self.old_low])[k - 1] - lowest, floor)
        return log_p - (lowest - x) / tail

    def quantile(self, q: float) -> float:
        """The ``q`` quantile of the history, estimated from the samples of both generations."""
        weighted = sorted([(v, self.stride) for v in self.sample] + [(v, self.old_stride) for v in self.old_sample])
        target = q * sum(w for _, w in weighted)
        seen = 0
        for value, weight in weighted:
            seen += weight
            if seen >= target:
                return value
        return weighted[-1][0] if weighted else 0.0


def _at_least(high: array[float], sample: array[float], count: int, y: float) -> int:
    """Values of one generation at or above ``y``: exact among its extremes, else from its sample."""
    if y > high[0] or len(high) == count:
        return len(high) - bisect.bisect_left(high, y)
    # The sample stands for the whole generation: its share at or above y, of all its values.
    share = (len(sample) - bisect.bisect_left(sample, y)) / len(sample) if sample else 1.0
    return min(count, max(len(high), round(count * share)))


def _at_most(low: array[float], sample: array[float], count: int, y: float) -> int:
    if y < low[-1] or len(low) == count:
        return bisect.bisect_right(low, y)
    share = bisect.bisect_right(sample, y) / len(sample) if sample else 1.0
    return min(count, max(len(low), round(count * share)))


@dataclass
class DayRing:
    """The last value of each slot of the past period (plus ``look``), in bounded memory.

    ``value_before(target, t)`` is what "the same time one period ago" means: the latest value at
    or before ``target`` within ``look`` seconds, else the earliest after it (and before ``t``).
    A slot is 1/``slots`` of the period; each keeps its last value and where in the slot it fell
    (to the nearest 1/150 of a slot: two seconds for five-minute slots), so the answer is the one a
    full record of the period would give for series sampled at most once a slot.

    >>> ring = DayRing()
    >>> for i in range(300):
    ...     ring.learn_one(float(i), i * 300.0)
    >>> ring.value_before(300 * 300.0 - DAY, 300 * 300.0)
    12.0
    """

    period: float = DAY
    slots: int = 288
    look: float = 1_800.0
    values: array[float] = field(default_factory=_f32s)  # by slot number modulo the ring's length; NaN: none
    offsets: array[int] = field(default_factory=_bytes)
    newest: int = 0  # the newest slot written

    def __eq__(self, other: object) -> bool:  # NaN marks an empty slot: compare the stored bytes
        return (
            type(other) is DayRing
            and (self.period, self.slots, self.look, self.newest)
            == (other.period, other.slots, other.look, other.newest)
            and self.values.tobytes() == other.values.tobytes()
            and self.offsets == other.offsets
        )

    __hash__ = None  # type: ignore[assignment]

    def _slot_length(self) -> float:
        return self.period / self.slots

    def value_before(self, target: float, t: float) -> float | None:
        if not self.values:
            return None
        length = self._slot_length()
        ring = len(self.values)
        then = math.floor(target / length)
        oldest_kept = self.newest - ring + 1
        for slot in range(min(then, self.newest), max(then - math.ceil(self.look / length), oldest_kept) - 1, -1):
            value = self.values[slot % ring]
            if value == value:
                at = (slot + self.offsets[slot % ring] / 150.0) * length
                if at <= target + 1e-6 * length:  # "at" is to the nearest 1/150 of a slot
                    if target - at <= self.look + 1e-6 * length:
                        return value
                    break
        for slot in range(max(then, oldest_kept), min(then + math.ceil(self.look / length), self.newest) + 1):
            value = self.values[slot % ring]
            if value == value:
                at = (slot + self.offsets[slot % ring] / 150.0) * length
                if target + 1e-6 * length < at < t and at - target <= self.look + 1e-6 * length:
                    return value
        return None

    def learn_one(self, x: float, t: float) -> None:
        length = self._slot_length()
        slot = math.floor(t / length)
        ring = self.slots + math.ceil(self.look / length) + 2
        if not self.values:
            self.values = array("f", [math.nan] * ring)
            self.offsets = array("B", bytes(ring))
        elif slot < self.newest:
            return  # time went backwards: the record of the period keeps what it has
        else:
            for gone in range(self.newest + 1, min(slot, self.newest + ring) + 1):
                self.values[gone % ring] = math.nan  # a slot without a value keeps none from a period before
        self.newest = slot
        self.values[slot % ring] = _clamp(x)
        self.offsets[slot % ring] = min(149, round((t / length - slot) * 150.0))


class NoveltyDetector(AnomalyDetector):
    """Novelty of a value, of its short-run mean and of its change since one period ago.

    The score is ``L / (L + 3)`` with ``L = -log10 p`` for the rarest view: 0.5 at ``p = 10**-3``,
    graded, never saturating at 1. The change since one ``period`` ago (see :class:`DayRing`) is
    twice as noisy as a value, so it must be ``10**period_penalty`` times rarer to count the same.
    ``is_alert`` is the decision: ``L`` at or above ``alert_surprise`` (``score >= alert_score``).
    A clear alert (``L >= rest_surprise``) starts a rest of ``rest`` values (scores 0): the rest of
    that episode is the same news. A borderline one does not, so an episode that grows is still
    reported when it becomes clear.

    Memory is bounded whatever the length of the series: three :class:`TailSketch` es, the last
    ``mean_span`` values and a :class:`DayRing` of ``day_slots`` slots (288: five minutes; a series
    sampled at most hourly needs only 24). As a river ``AnomalyDetector`` it takes
    ``{"value": x, "t": epoch seconds}`` in ``learn_one``/``score_one``, so river's
    ``anomaly.ThresholdFilter`` and evaluation helpers work with it; ``update(x, t)`` is the fast
    path that scores then learns.

    >>> d = NoveltyDetector()
    >>> scores = [d.update(10.0 + (i % 7) * 0.5, i * 300.0) for i in range(500)]
    >>> max(scores[100:]) < d.alert_score
    True
    >>> d.is_alert(d.update(40.0, 500 * 300.0)), d.update(41.0, 501 * 300.0)
    (True, 0.0)
    >>> from river import anomaly
    >>> gate = anomaly.ThresholdFilter(NoveltyDetector(), threshold=NoveltyDetector().alert_score)
    >>> for i in range(500):
    ...     gate.learn_one({"value": 10.0 + (i % 7) * 0.5, "t": i * 300.0})
    >>> gate.classify(gate.score_one({"value": 40.0, "t": 500 * 300.0}))
    True
    """

    # The parameters, chosen by leave-one-category-out on NAB (docs/detection.md). They are code,
    # not state: a restored detector takes the running version's values.
    PARAMETERS = (
        "window",
        "tolerance",
        "mean_span",
        "period",
        "period_penalty",
        "rest",
        "alert_surprise",
        "rest_surprise",
        "day_slots",
    )

    def __init__(
        self,
        window: int = 10_000,
        tolerance: float = 0.02,
        mean_span: int = 12,
        period: float = DAY,
        period_penalty: float = 2.0,
        rest: int = 100,
        alert_surprise: float = 3.1,
        rest_surprise: float = 3.25,
        day_slots: int = 288,
        value: TailSketch | None = None,
        mean: TailSketch | None = None,
        change: TailSketch | None = None,
        recent: array[float] | None = None,
        day: DayRing | None = None,
        resting: int = 0,
    ) -> None:
        self.window, self.tolerance, self.mean_span, self.period = window, tolerance, mean_span, period
        self.period_penalty, self.rest = period_penalty, rest
        self.alert_surprise, self.rest_surprise = alert_surprise, rest_surprise
        self.value = value or self._sketch()
        self.mean = mean or self._sketch()
        self.change = change or self._sketch()
        self.recent = recent if recent is not None else _f32s()  # the span's other values
        self.day_slots = day_slots
        self.day = day or DayRing(period=period, slots=day_slots)
        self.resting = resting
        for sketch in (self.value, self.mean, self.change):
            sketch.window, sketch.tolerance = window, tolerance

    def _sketch(self) -> TailSketch:
        return TailSketch(window=self.window, tolerance=self.tolerance)

    @property
    def alert_score(self) -> float:
        return _score_of(self.alert_surprise)

    def _views(self, x: float, t: float) -> tuple[float | None, float | None]:
        short = None
        if len(self.recent) + 1 >= self.mean_span:
            short = (sum(self.recent) + x) / self.mean_span
        then = self.day.value_before(t - self.period, t)
        return short, (None if then is None else x - then)

    def surprise(self, x: float, t: float) -> float:
        """``-log10 p`` of the rarest view of ``x`` at time ``t``, before learning it."""
        return self._surprise(x, *self._views(x, t))

    def _surprise(self, x: float, short: float | None, change: float | None) -> float:
        log_p = self.value.log_p(x)
        if short is not None:
            log_p = min(log_p, self.mean.log_p(short))
        surprise = -log_p / LOG10
        if change is not None:
            surprise = max(surprise, -self.change.log_p(change) / LOG10 - self.period_penalty)
        return surprise

    def score_one(self, x: dict[Hashable, Any]) -> float:  # river's protocol
        return self.score(float(x["value"]), float(x["t"]))

    def learn_one(self, x: dict[Hashable, Any]) -> None:  # river's protocol
        self.update(float(x["value"]), float(x["t"]))

    def score(self, x: float, t: float) -> float:
        """The score of ``x`` at ``t`` against the past, without learning it."""
        return 0.0 if self.resting else _score_of(max(0.0, self.surprise(x, t)))

    def is_alert(self, score: float) -> bool:
        return score >= self.alert_score

    def update(self, x: float, t: float) -> float:
        """Score ``x`` at ``t`` against the past, then learn it: one step of the stream, views computed once."""
        short, change = self._views(x, t)
        score = 0.0 if self.resting else _score_of(max(0.0, self._surprise(x, short, change)))
        if self.resting:
            self.resting -= 1
        elif score >= _score_of(self.rest_surprise):
            self.resting = self.rest
        self.value.learn_one(x)
        if short is not None:
            self.mean.learn_one(short)
        if change is not None:
            self.change.learn_one(change)
        self.recent.append(x if -FLOAT32_MAX <= x <= FLOAT32_MAX else _clamp(x))
        if len(self.recent) >= self.mean_span:
            del self.recent[0]
        self.day.learn_one(x, t)
        return score

    def __eq__(self, other: object) -> bool:
        return type(other) is NoveltyDetector and vars(self) == vars(other)

    def __repr__(self) -> str:
        return f"NoveltyDetector(n={self.value.n}, resting={self.resting})"

    @classmethod
    def _unit_test_params(cls) -> Any:
        yield {}


def _score_of(surprise: float) -> float:
    return surprise / (surprise + 3.0)
