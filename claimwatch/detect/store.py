"""The worker's state, as plain code: in-memory monitors, applied offsets, dirty keys, checkpoints.

The Kafka Streams record cache / Quix Streams checkpoint pattern: models live in memory; each
event marks its item dirty; a checkpoint hands over every dirty item once, encoded, for the
caller to write to the state changelog before it commits the input offsets. Each item remembers the
offset of the last event it applied, so events redelivered after a crash (everything after the last
committed offset) are skipped by the items that already applied them: replay is idempotent.

No Kafka here: the worker, replay and the benchmarks drive it, and the tests drive it directly.

>>> from schemas import CatalogItem
>>> store = StateStore()
>>> item = CatalogItem(content_id="CW-1")
>>> store.apply("CW-1", 0, 7, item), store.apply("CW-1", 0, 7, item)
([], None)
>>> [(p, k) for p, k, _ in store.checkpoint()], store.checkpoint()
([(0, 'CW-1')], [])
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from claimwatch.detect import state
from claimwatch.detect.alerting import Clock, wall_clock
from claimwatch.detect.keyed import KeyedMonitors
from claimwatch.detect.monitor import Monitor, MonitorConfig, Step
from schemas.alerts import Alert
from schemas.events import Event


@dataclass
class RestoreReport:
    """What a partition's state changelog gave: items loaded, and items whose stored state could not
    be read (they must be rebuilt from the event log), with the reasons."""

    loaded: int = 0
    unreadable: dict[str, str] = field(default_factory=dict)
    items: list[tuple[str, int, Monitor]] = field(default_factory=list)


@dataclass
class StateStore:
    config: MonitorConfig = field(default_factory=MonitorConfig)
    clock: Clock = wall_clock
    keyed: KeyedMonitors = field(init=False)
    applied: dict[str, int] = field(default_factory=dict)
    partition_of: dict[str, int] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    restored_partitions: set[int] = field(default_factory=set)
    unreadable_total: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.keyed = KeyedMonitors(config=self.config, clock=self.clock)

    def apply(self, key: str, partition: int, offset: int, event: Event) -> list[Alert] | None:
        """The event's alerts, or None when this item already applied it (a redelivery)."""
        step = self.apply_step(key, partition, offset, event)
        return None if step is None else step.alerts

    def apply_step(self, key: str, partition: int, offset: int, event: Event) -> Step | None:
        """What applying the event did (alerts, records left out as suspect), or None for a redelivery."""
        if offset <= self.applied.get(key, -1):
            return None
        self.partition_of[key] = partition
        self.applied[key] = offset
        self.dirty.add(key)
        return self.keyed.step(key, event)

    def checkpoint(self) -> list[tuple[int, str, bytes]]:
        """Every item changed since the last checkpoint, once: ``(partition, key, encoded state)``."""
        return self.encode(self.take_dirty())

    def take_dirty(self) -> list[str]:
        """The items changed since the last call, which then start clean."""
        keys = sorted(self.dirty)
        self.dirty.clear()
        return keys

    def encode(self, keys: Iterable[str]) -> list[tuple[int, str, bytes]]:
        """The stored form of these items as they are now, with the offset each has applied (an item
        may have applied events after the checkpoint began: its offset says so, and a replay from the
        checkpoint's commit skips them for it)."""
        out = []
        for key in keys:
            monitor = self.keyed.monitors.get(key)
            if monitor is not None:
                out.append((self.partition_of[key], key, state.encode(monitor, self.applied[key])))
        return out

    def take_rollups(self, keys: Iterable[str]) -> list[tuple[int, str, bytes]]:
        """The roll-up rows these items changed since last taken: ``(partition, key, JSON)``.

        Call it after :meth:`encode` for the same items: their stored state still lists these rows
        as changed, so if the process dies before the rows are written, the restored items publish
        them again (rows are idempotent: the latest per key wins)."""
        keys = list(keys)
        return [
            (self.partition_of[key.rsplit("|@", 1)[1]], key, orjson.dumps(row, option=orjson.OPT_SORT_KEYS))
            for key, row in self.keyed.take_rollups(keys)
        ]

    def restore(self, partition: int, records: Iterable[tuple[bytes | None, bytes | None]]) -> RestoreReport:
        """Load a partition's items from its changelog records (the latest per key wins)."""
        report = self.decode(records)
        self.install(partition, report)
        return report

    def decode(self, records: Iterable[tuple[bytes | None, bytes | None]]) -> RestoreReport:
        """Decode changelog records without touching the store (safe to run in another thread)."""
        latest: dict[str, bytes | None] = {}
        for raw_key, value in records:
            if raw_key is not None:
                latest[raw_key.decode("utf-8", "replace")] = value
        report = RestoreReport()
        for key, value in latest.items():
            if value is None:
                continue  # a tombstone: the item was deleted
            try:
                report.items.append((key, *state.decode(value, self.config)))
            except state.StateFormatError as exc:
                report.unreadable[key] = str(exc)
        report.loaded = len(report.items)
        return report

    def install(self, partition: int, report: RestoreReport) -> None:
        for key, offset, monitor in report.items:
            monitor.clock = self.clock
            self.keyed.monitors[key] = monitor
            self.applied[key] = offset
            self.partition_of[key] = partition
            if monitor.rollups.dirty:
                self.dirty.add(key)  # roll-ups a checkpoint took but may not have written
        for reason in report.unreadable.values():
            self.unreadable_total[reason.split(":")[0][:60]] += 1
        self.restored_partitions.add(partition)

    def rebuild(self, partition: int, events: Iterable[tuple[str, int, Event]], keys: set[str] | None) -> int:
        """Re-apply earlier events of the log to the given items (all when None) with their alerts
        muted (they were raised when the events were first processed); returns the items rebuilt."""
        rebuilt: set[str] = set()
        for key, offset, event in events:
            if keys is not None and key not in keys:
                continue
            try:
                self.apply(key, partition, offset, event)
            except Exception:
                continue
            rebuilt.add(key)
        return len(rebuilt)

    def drop_partitions(self, partitions: set[int]) -> None:
        """Forget the items of partitions this worker no longer owns (another worker restores them)."""
        for key in [k for k, p in self.partition_of.items() if p in partitions]:
            self.keyed.monitors.pop(key, None)
            self.applied.pop(key, None)
            self.partition_of.pop(key, None)
            self.dirty.discard(key)
        self.restored_partitions -= partitions
