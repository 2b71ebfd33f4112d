"""Online novelty of a value against a series' own history: has it ever been this far out?

Viral spikes, takedowns and outages show up first as values (or short-run averages) beyond
anything the series has done recently. :class:`TailNovelty` turns "how far beyond its recent
extremes" into a tail probability; :class:`NoveltyDetector` watches the value and its short-run
mean, scores the rarer of the two, and stays quiet for a rest period after it signals, so one
episode gives one alert. Both learn one value at a time, in order, with bounded memory.

This is the detector measured on the Numenta Anomaly Benchmark (``claimwatch backtest --score``).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field

LOG10 = math.log(10.0)


@dataclass
class TailNovelty:
    """Log tail probability of a value among the last ``window`` values seen.

    Inside the observed range the probability is the value's empirical rank from the nearer end.
    Beyond it, the rank of a new extreme (1 / (n+1)) is discounted exponentially by how far past
    the extreme the value lies, in units of the spread of the outermost ``tail_fraction`` of the
    history (a peaks-over-threshold tail), so a new record by a hair is unremarkable while one
    by several tail-spreads is not.

    >>> t = TailNovelty(window=100)
    >>> for i in range(100):
    ...     t.learn_one(float(i % 10))
    >>> round(t.log_p(4.5), 2), t.log_p(10.0) < t.log_p(9.5) < t.log_p(9.0)
    (-0.68, True)
    >>> t.log_p(30.0) < math.log(1e-6)
    True
    """

    window: int = 4000
    tail_fraction: float = 0.01
    min_history: int = 20
    history: deque[float] = field(default_factory=deque)
    ordered: list[float] = field(default_factory=list)

    def log_p(self, x: float) -> float:
        ordered, n = self.ordered, len(self.ordered)
        if n < self.min_history:
            return 0.0
        below = bisect.bisect_right(ordered, x)
        above = n - bisect.bisect_left(ordered, x)
        log_p = math.log(min(above + 1, below + 1) / (n + 1))
        if ordered[0] <= x <= ordered[-1]:
            return log_p
        k = max(3, int(n * self.tail_fraction))
        spread = (ordered[int(n * 0.9)] - ordered[int(n * 0.1)]) or (ordered[-1] - ordered[0]) or 1e-9
        if x > ordered[-1]:
            tail = max(ordered[-1] - ordered[n - k], 1e-3 * spread)
            return log_p - (x - ordered[-1]) / tail
        tail = max(ordered[k - 1] - ordered[0], 1e-3 * spread)
        return log_p - (ordered[0] - x) / tail

    def learn_one(self, x: float) -> None:
        bisect.insort(self.ordered, x)
        self.history.append(x)
        if len(self.history) > self.window:
            old = self.history.popleft()
            del self.ordered[bisect.bisect_left(self.ordered, old)]


@dataclass
class NoveltyDetector:
    """Novelty of a value and of its short-run mean, with a rest period after each signal.

    ``score_one`` is ``L / (L + 3)`` with ``L = -log10 p`` for the rarer feature: 0.5 exactly at
    ``p = 10**-3``, graded above and below, never saturating at 1. ``is_alert`` is the explicit
    decision: a score at or above ``alert_score``. After a signal the detector rests for
    ``rest`` values (scores 0): the rest of an episode is the same news.

    >>> d = NoveltyDetector()
    >>> scores = [d.update(10.0 + (i % 7) * 0.5) for i in range(500)]
    >>> max(scores[100:]) < d.alert_score
    True
    >>> d.is_alert(d.update(40.0)), d.update(41.0)
    (True, 0.0)
    """

    mean_span: int = 12
    window: int = 4000
    rest: int = 100
    alert_score: float = 0.5
    value: TailNovelty = field(default=None)  # type: ignore[assignment]
    mean: TailNovelty = field(default=None)  # type: ignore[assignment]
    recent: deque[float] = field(default_factory=deque)
    resting: int = 0

    def __post_init__(self) -> None:
        if self.value is None:
            self.value = TailNovelty(window=self.window)
        if self.mean is None:
            self.mean = TailNovelty(window=self.window)

    def _short_mean(self, x: float) -> float | None:
        if len(self.recent) + 1 < self.mean_span:
            return None
        return (sum(list(self.recent)[1 - self.mean_span :]) + x) / self.mean_span

    def raw_score(self, x: float) -> float:
        log_p = self.value.log_p(x)
        short = self._short_mean(x)
        if short is not None:
            log_p = min(log_p, self.mean.log_p(short))
        surprise = -log_p / LOG10
        return surprise / (surprise + 3.0)

    def score_one(self, x: float) -> float:
        return 0.0 if self.resting else self.raw_score(x)

    def is_alert(self, score: float) -> bool:
        return score >= self.alert_score

    def learn_one(self, x: float, score: float | None = None) -> None:
        """Learn ``x``; pass the score just computed for it to save scoring it twice."""
        if self.resting:
            self.resting -= 1
        elif self.is_alert(self.raw_score(x) if score is None else score):
            self.resting = self.rest
        short = self._short_mean(x)
        self.value.learn_one(x)
        if short is not None:
            self.mean.learn_one(short)
        self.recent.append(x)
        if len(self.recent) >= self.mean_span:
            self.recent.popleft()

    def update(self, x: float) -> float:
        """Score ``x`` against the past, then learn it: one step of the stream."""
        score = self.score_one(x)
        self.learn_one(x, score)
        return score
