"""An exponentially weighted mean whose whole state is two plain numbers.

It computes exactly what ``river.stats.EWMean`` computes (the first value sets the mean, then
``mean = a·x + (1 − a)·mean``; the tests check the two agree bit for bit), with the same
``update`` / ``get`` API, but as a dataclass: its state can be stored in a versioned,
non-executable format, which river's compiled statistics do not expose.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EWMean:
    """Exponentially weighted mean.

    >>> m = EWMean(fading_factor=0.5)
    >>> for x in (4.0, 2.0, 2.0):
    ...     m.update(x)
    >>> m.get(), m.n
    (2.5, 3)
    """

    fading_factor: float = 0.5
    mean: float = 0.0
    n: int = 0

    def update(self, x: float) -> None:
        self.mean = x if self.n == 0 else self.fading_factor * x + (1 - self.fading_factor) * self.mean
        self.n += 1

    def get(self) -> float:
        return self.mean
