"""One :class:`Monitor` per content item, fed in order: the unit the embedded run and the worker share.

A worker keeps these in a changelog-backed table keyed like its input topic; the embedded run
keeps them in a dict. Both call :meth:`KeyedMonitors.process` with the event's routing key, so the
same input gives the same alerts whichever runs it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from claimwatch.detect.alerting import Clock, wall_clock
from claimwatch.detect.monitor import POLL_FINDINGS, Monitor, MonitorConfig, Step
from schemas.alerts import Alert
from schemas.events import Event


@dataclass
class KeyedMonitors:
    config: MonitorConfig = field(default_factory=MonitorConfig)
    clock: Clock = wall_clock
    monitors: MutableMapping[str, Monitor] = field(default_factory=dict)

    def monitor(self, key: str) -> Monitor:
        found = self.monitors.get(key)
        if found is None:
            found = Monitor(config=self.config, clock=self.clock)
        else:
            found.clock = self.clock  # a monitor restored from a table comes without its clock
        return found

    def process(self, key: str, event: Event) -> list[Alert]:
        return self.step(key, event).alerts

    def step(self, key: str, event: Event) -> Step:
        monitor = self.monitor(key)
        result = monitor.step(event)
        self.monitors[key] = monitor
        return result

    def flush(self) -> list[Alert]:
        alerts: list[Alert] = []
        for key in sorted(self.monitors):
            monitor = self.monitor(key)
            alerts += monitor.flush()
            self.monitors[key] = monitor
        return alerts

    def __iter__(self) -> Iterator[Monitor]:
        return (self.monitors[k] for k in sorted(self.monitors))

    def risk_table(self, min_score: float = 0.3) -> list[dict[str, Any]]:
        rows = [row for m in self for row in m.risk_table(min_score)]
        rows.sort(key=lambda r: (-float(r["score"]), str(r["claim_id"])))
        return rows

    def take_rollups(self, keys: Iterable[str] | None = None) -> list[tuple[str, dict[str, Any]]]:
        """Roll-up rows changed since last taken, keyed ``<row key>|@<item key>`` (two items can hold a
        row for the same claim), for these items (default: all)."""
        out = []
        for key in sorted(self.monitors) if keys is None else keys:
            monitor = self.monitors.get(key)
            if monitor is not None:
                out += [(f"{row_key}|@{key}", row) for row_key, row in monitor.rollups.take()]
        return out

    def quality(self) -> dict[str, int]:
        # The poll findings are always reported, zero included: "none" is a figure too.
        total: Counter[str] = Counter(dict.fromkeys(POLL_FINDINGS, 0))
        for m in self:
            total.update(m.quality)
        return dict(sorted(total.items()))
