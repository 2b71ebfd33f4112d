"""Online novelty of a value against a series' own history: has it ever been this far out?

Viral spikes, takedowns and outages show up first as values (or short-run averages, or changes
against the same time yesterday) beyond anything the series has done recently.
:class:`TailNovelty` turns "how far beyond its recent extremes" into a tail probability;
:class:`NoveltyDetector` watches three views of a series, scores the rarest, and rests after it
signals, so one episode gives one alert. Both learn one value at a time, in order, with memory
bounded by their window.

This is the detector measured on the Numenta Anomaly Benchmark (``claimwatch backtest --score``)
and run by the worker on every post's view rate (``claimwatch.detect.metrics``).
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections import deque
from dataclasses import dataclass, field
from typing import Any

LOG10 = math.log(10.0)
DAY = 86_400.0


@dataclass
class TailNovelty:
    """Log tail probability of a value among the last ``window`` values seen.

    The probability is the share of past values at least as extreme, counting as "as extreme"
    any within ``tolerance`` × (observed range) of it: in a series that keeps touching the same
    ceiling, grazing it again is not news. Past the extremes, the probability of a new record is
    further discounted by how far past it lies, in units of the spread of the outermost
    ``tail_fraction`` of the history (a peaks-over-threshold tail), so a record by a hair is
    unremarkable while one by several tail-spreads is not.

    >>> t = TailNovelty(window=100)
    >>> for i in range(100):
    ...     t.learn_one(float(i % 10))
    >>> round(t.log_p(4.5), 2), t.log_p(10.0) < t.log_p(9.5) < t.log_p(9.0)
    (-0.68, True)
    >>> t.log_p(30.0) < math.log(1e-6)
    True
    """

    window: int = 10_000
    tail_fraction: float = 0.01
    tolerance: float = 0.02
    min_history: int = 20
    history: deque[float] = field(default_factory=deque)
    ordered: list[float] = field(default_factory=list)

    def log_p(self, x: float) -> float:
        ordered, n = self.ordered, len(self.ordered)
        if n < self.min_history:
            return 0.0
        lowest, highest = ordered[0], ordered[-1]
        slack = self.tolerance * (highest - lowest)
        as_high = n - bisect.bisect_left(ordered, x - slack)
        as_low = bisect.bisect_right(ordered, x + slack)
        log_p = math.log(min(as_high + 1, as_low + 1) / (n + 1))
        if lowest <= x <= highest:
            return log_p
        k = max(3, int(n * self.tail_fraction))
        spread = (ordered[int(n * 0.9)] - ordered[int(n * 0.1)]) or (highest - lowest) or 1e-9
        if x > highest:
            tail = max(highest - ordered[n - k], 1e-3 * spread)
            return log_p - (x - highest) / tail
        tail = max(ordered[k - 1] - lowest, 1e-3 * spread)
        return log_p - (lowest - x) / tail

    def learn_one(self, x: float) -> None:
        bisect.insort(self.ordered, x)
        self.history.append(x)
        if len(self.history) > self.window:
            old = self.history.popleft()
            del self.ordered[bisect.bisect_left(self.ordered, old)]

    def __getstate__(self) -> dict[str, Any]:
        # The sorted copy is derived data: storing the history alone halves the stored state.
        state = dict(self.__dict__)
        state["history"] = array("d", self.history).tobytes()
        del state["ordered"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        values = array("d")
        values.frombytes(state.pop("history"))
        self.__dict__.update(state)
        self.history = deque(values)
        self.ordered = sorted(values)


@dataclass
class NoveltyDetector:
    """Novelty of a value, of its short-run mean and of its change since one period ago.

    The score is ``L / (L + 3)`` with ``L = -log10 p`` for the rarest view: 0.5 at ``p = 10**-3``,
    graded, never saturating at 1. The change since one ``period`` ago (when the series has a
    sample then) is twice as noisy as a value, so it must be 100 times rarer to count the same
    (``period_penalty`` in log10 units). ``is_alert`` is the decision: ``L`` at or above
    ``alert_surprise`` (``score >= alert_score``). A clear alert (``L >= rest_surprise``) starts a
    rest of ``rest`` values (scores 0): the rest of that episode is the same news. A borderline
    one does not, so an episode that grows is still reported when it becomes clear.

    >>> d = NoveltyDetector()
    >>> scores = [d.update(10.0 + (i % 7) * 0.5, i * 300.0) for i in range(500)]
    >>> max(scores[100:]) < d.alert_score
    True
    >>> d.is_alert(d.update(40.0, 500 * 300.0)), d.update(41.0, 501 * 300.0)
    (True, 0.0)
    """

    window: int = 10_000
    mean_span: int = 12
    period: float = DAY
    period_penalty: float = 2.0
    rest: int = 100
    alert_surprise: float = 3.1
    rest_surprise: float = 3.25
    value: TailNovelty = field(default=None)  # type: ignore[assignment]
    mean: TailNovelty = field(default=None)  # type: ignore[assignment]
    change: TailNovelty = field(default=None)  # type: ignore[assignment]
    recent: deque[float] = field(default_factory=deque)
    day: deque[tuple[float, float]] = field(default_factory=deque)
    resting: int = 0

    def __post_init__(self) -> None:
        if self.value is None:
            self.value = TailNovelty(window=self.window)
        if self.mean is None:
            self.mean = TailNovelty(window=self.window)
        if self.change is None:
            self.change = TailNovelty(window=self.window)

    @property
    def alert_score(self) -> float:
        return _score_of(self.alert_surprise)

    def _views(self, x: float, t: float) -> tuple[float | None, float | None]:
        short = None
        if len(self.recent) + 1 >= self.mean_span:  # ``recent`` holds the span's other values
            short = (sum(self.recent) + x) / self.mean_span
        change = None
        target = t - self.period
        day = self.day
        while len(day) > 1 and day[1][0] <= target:
            day.popleft()
        if day and abs(day[0][0] - target) <= self.period / 48.0:
            change = x - day[0][1]
        return short, change

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

    def score_one(self, x: float, t: float) -> float:
        return 0.0 if self.resting else _score_of(max(0.0, self.surprise(x, t)))

    def is_alert(self, score: float) -> bool:
        return score >= self.alert_score

    def learn_one(self, x: float, t: float) -> None:
        self._learn(x, t, *self._views(x, t), score=self.score_one(x, t))

    def update(self, x: float, t: float) -> float:
        """Score ``x`` at ``t`` against the past, then learn it: one step of the stream, views computed once."""
        short, change = self._views(x, t)
        score = 0.0 if self.resting else _score_of(max(0.0, self._surprise(x, short, change)))
        self._learn(x, t, short, change, score)
        return score

    def _learn(self, x: float, t: float, short: float | None, change: float | None, score: float) -> None:
        if self.resting:
            self.resting -= 1
        elif score >= _score_of(self.rest_surprise):
            self.resting = self.rest
        self.value.learn_one(x)
        if short is not None:
            self.mean.learn_one(short)
        if change is not None:
            self.change.learn_one(change)
        self.recent.append(x)
        if len(self.recent) >= self.mean_span:
            self.recent.popleft()
        self.day.append((t, x))
        if len(self.day) > self.window:
            self.day.popleft()  # sub-second series: a period of samples would be unbounded


def _score_of(surprise: float) -> float:
    return surprise / (surprise + 3.0)
