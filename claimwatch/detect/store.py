"""The worker's state, as plain code: in-memory monitors, applied offsets, dirty keys, checkpoints.

The Kafka Streams record cache / Quix Streams checkpoint pattern: models live in memory; each
event marks its item dirty; a checkpoint hands over every dirty item once, encoded, for the
caller to write to the state changelog before it commits the input offsets. Each item remembers the
offset of the last event it applied, so events redelivered after a crash (everything after the last
committed offset) are skipped by the items that already applied them: replay is idempotent.

An item is stored as a root record (its models: a few KB) and one small part record per claim
(with the claim's roll-up rows), other roll-up row and dedup key (``item NUL kind NUL id``), each
packed (``packing``): a checkpoint writes only the parts that changed, so no record grows with the
item's history (an asset of 100,000 claims is 100,000 claim records of a few hundred bytes, not one
record of 100 MB that Kafka would refuse).

No Kafka here: the worker, replay and the benchmarks drive it, and the tests drive it directly.

>>> from schemas import CatalogItem
>>> store = StateStore()
>>> item = CatalogItem(content_id="CW-1")
>>> store.apply_event("CW-1", 0, 7, item), store.apply_event("CW-1", 0, 7, item)
([], None)
>>> [(p, k.replace(state.PART_SEPARATOR, "/")) for p, k, _ in store.checkpoint()], store.checkpoint()
([(0, 'CW-1/r/catalog|CW-1'), (0, 'CW-1')], [])
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from claimwatch.detect import state
from claimwatch.detect.alerting import Clock, wall_clock
from claimwatch.detect.keyed import KeyedMonitors
from claimwatch.detect.monitor import Monitor, MonitorConfig, Step
from schemas.alerts import Alert
from schemas.codec import MAX_RECORD_BYTES
from schemas.events import Event

DEFAULT_RECORD_LIMIT = MAX_RECORD_BYTES


@dataclass
class RestoreReport:
    """What a partition's state changelog gave: items loaded, and items whose stored state could not
    be read (they must be rebuilt from the event log), with the reasons."""

    loaded: int = 0
    unreadable: dict[str, str] = field(default_factory=dict)
    items: list[tuple[str, int, Monitor]] = field(default_factory=list)
    # Per item: the checkpoint number to continue from, whether every part must be written again
    # (state of version 3, with its collections inline), and part records to delete (left by a
    # checkpoint cut short, or of an item that is rebuilt).
    seq: dict[str, int] = field(default_factory=dict)
    rewrite: set[str] = field(default_factory=set)
    stale: dict[str, list[str]] = field(default_factory=dict)
    # Per item: the roll-up rows its last checkpoint stored, which may never have been published
    # (the process may have died between the two): published again, not stored again.
    republish: dict[str, list[str]] = field(default_factory=dict)
    parts: int = 0


@dataclass
class Assembled:
    """An item read from its root and parts (see :meth:`StateStore._assemble`)."""

    offset: int
    monitor: Monitor
    seq: int
    rewrite: bool  # an older layout: every part is written again in this one
    moved: list[str] = field(default_factory=list)  # part keys of that layout this one does not use
    republish: list[str] = field(default_factory=list)


@dataclass
class CheckpointRecords:
    """What a checkpoint writes for some items: changelog records (``None``: delete the key), each
    item's parts before its root; the roll-up rows they changed; and records that were not written
    because they exceed the record limit (``(partition, key, bytes)``: dead-lettered by the caller)."""

    states: list[tuple[int, str, bytes | None]] = field(default_factory=list)
    rollups: list[tuple[int, str, bytes]] = field(default_factory=list)
    oversized: list[tuple[int, str, int]] = field(default_factory=list)


class StoredItems(Protocol):
    """Where a lazily restored partition's items are read from when their next event arrives (the
    worker's local copy of its changelog, :class:`stream.localstate.LocalState`)."""

    def item(self, partition: int, item: str) -> list[tuple[bytes, bytes]]: ...


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
    seq: dict[str, int] = field(default_factory=dict)  # each item's last checkpoint number
    rewrite: set[str] = field(default_factory=set)  # items whose every part the next checkpoint writes
    stale: dict[str, list[str]] = field(default_factory=dict)  # part keys the item's next checkpoint deletes
    republish: dict[str, list[str]] = field(default_factory=dict)  # rows the item's next checkpoint publishes
    # Partitions restored lazily (see :meth:`restore_lazily`), with the event log's end offset then;
    # the items looked up in ``stored`` since, with their partition.
    stored: StoredItems | None = None
    lazy: dict[int, int | None] = field(default_factory=dict)
    looked_up: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keyed = KeyedMonitors(config=self.config, clock=self.clock)

    def apply_event(self, key: str, partition: int, offset: int, event: Event) -> list[Alert] | None:
        """The event's alerts, or None when this item already applied it (a redelivery)."""
        step = self.apply_step(key, partition, offset, event)
        return None if step is None else step.alerts

    def apply_step(self, key: str, partition: int, offset: int, event: Event) -> Step | None:
        """What applying the event did (alerts, records left out as suspect), or None for a redelivery."""
        if self.lazy:
            self.load(key, partition)
        if offset <= self.applied.get(key, -1):
            return None
        self.partition_of[key] = partition
        self.applied[key] = offset
        self.dirty.add(key)
        return self.keyed.step(key, event)

    def checkpoint(self, limit: int = DEFAULT_RECORD_LIMIT) -> list[tuple[int, str, bytes | None]]:
        """Every item changed since the last checkpoint, once: its ``(partition, key, record)``s."""
        return self.checkpoint_items(self.take_dirty(), limit).states

    def take_dirty(self) -> list[str]:
        """The items changed since the last call, which then start clean."""
        keys = sorted(self.dirty)
        self.dirty.clear()
        return keys

    def checkpoint_items(self, keys: Iterable[str], limit: int = DEFAULT_RECORD_LIMIT) -> CheckpointRecords:
        """The records that store these items as they are now, and their changed roll-up rows.

        Each item is a root record (its models, the offset it has applied: an item may have applied
        events after the checkpoint began, and a replay from the checkpoint's commit skips them for
        it) and one part record per claim, roll-up row and dedup key that changed, so no record grows
        with the item's history. The parts come first and the root, which counts them, last: a
        restore that finds fewer parts of the root's checkpoint than it counts rebuilds the item from
        the log rather than load half a checkpoint. A record longer than ``limit`` bytes (key and
        value) is not written but listed in ``oversized``; the item's later state is then rebuilt
        from the log on restore, and nothing else is held back.
        """
        out = CheckpointRecords()
        for key in keys:
            monitor = self.keyed.monitors.get(key)
            if monitor is None:
                continue
            partition = self.partition_of[key]
            records: list[tuple[int, str, bytes | None]] = [
                (partition, stale, None) for stale in self.stale.pop(key, [])
            ]
            seq = self.seq[key] = self.seq.get(key, 0) + 1
            rows, expired = monitor.rollups.take_changes()
            parts = self._parts(key, monitor, seq, rows, expired, rewrite=key in self.rewrite)
            published = dict(rows)
            for row_key in self.republish.pop(key, ()):
                if row_key not in published and row_key in monitor.rollups.rows:
                    published[row_key] = monitor.rollups.rows[row_key]
            self.rewrite.discard(key)
            written = 0
            for part, blob in parts:
                if blob is not None and len(part.encode()) + len(blob) > limit:
                    out.oversized.append((partition, part, len(part.encode()) + len(blob)))
                    continue
                records.append((partition, part, blob))
                written += blob is not None
            root = state.encode(monitor, self.applied[key], seq, written)
            if len(key.encode()) + len(root) > limit:
                out.oversized.append((partition, key, len(key.encode()) + len(root)))
            else:
                records.append((partition, key, root))
            out.states += records
            out.rollups += [
                (partition, *published_row(key, row_key, row)) for row_key, row in sorted(published.items())
            ]
        return out

    @staticmethod
    def _parts(
        key: str,
        monitor: Monitor,
        seq: int,
        rows: list[tuple[str, dict[str, object]]],
        expired: list[str],
        rewrite: bool,
    ) -> list[tuple[str, bytes | None]]:
        claims = monitor.claims
        book = monitor.rollups
        changed_claims = set(claims.take_changed())
        changed_keys, removed_keys = monitor.dedup.take_changes()
        if rewrite:  # loaded from an older layout: each becomes a record of this one
            changed_claims = set(claims.claims)
            changed_keys = sorted(monitor.dedup.seen, key=repr)
            monitor.dedup.saved.update(changed_keys)
            rows = sorted(book.rows.items())
            book.saved.update(book.rows)
        # The weeks of one claim's, post's or asset's rows are one part (a claim's in the claim's own
        # part): written again when one of its rows, the set of its rows or the claim changed.
        touched: set[str] = set()
        taken: dict[str, dict[str, dict[str, object]]] = {}
        for row_key in expired:
            touched.add(state.row_series(row_key)[0])
        for row_key, row in rows:
            series = state.row_series(row_key)[0]
            touched.add(series)
            taken.setdefault(series, {})[row_key] = row
        touched.update(f"claim|{claim_id}" for claim_id in changed_claims)
        out: list[tuple[str, bytes | None]] = [
            (state.part_key(key, state.DEDUP, state.dedup_ident(k)), None) for k in removed_keys
        ]
        weeks = sorted({week for row_key in book.rows if (week := state.row_series(row_key)[1])}) if touched else []
        for series in sorted(touched):
            # A row taken now but already forgotten is stored once more, as every row is.
            held = state.series_rows(series, weeks, book.rows) | taken.get(series, {})
            if series.startswith("claim|"):
                claim_id = series[len("claim|") :]
                claim = claims.claims.get(claim_id)
                part = state.part_key(key, state.CLAIM, claim_id)
                blob = None if claim is None and not held else state.encode_part(state.CLAIM, (claim, held), seq)
            else:
                part = state.part_key(key, state.ROW, series)
                blob = state.encode_part(state.ROW, held, seq) if held else None
            out.append((part, blob))
        seen = monitor.dedup.seen
        for dedup_key in changed_keys:
            out.append(
                (
                    state.part_key(key, state.DEDUP, state.dedup_ident(dedup_key)),
                    state.encode_part(state.DEDUP, list(seen[dedup_key]), seq),
                )
            )
        return out

    def encode(self, keys: Iterable[str]) -> list[tuple[int, str, bytes | None]]:
        """The changelog records of these items as they are now (see :meth:`checkpoint_items`)."""
        return self.checkpoint_items(keys).states

    def take_rollups(self, keys: Iterable[str]) -> list[tuple[int, str, bytes]]:
        """The roll-up rows these items changed since last taken, without storing the items:
        ``(partition, key, JSON)`` (what the embedded run and benchmarks take)."""
        keys = list(keys)
        for key in keys:
            again, monitor = self.republish.pop(key, ()), self.keyed.monitors.get(key)
            if monitor is not None:  # rows stored by the last checkpoint before a restore: taken again
                monitor.rollups.dirty.update(row_key for row_key in again if row_key in monitor.rollups.rows)
        return [
            (self.partition_of[key.rsplit("|@", 1)[1]], key, orjson.dumps(row, option=orjson.OPT_SORT_KEYS))
            for key, row in self.keyed.take_rollups(keys)
        ]

    def restore(
        self, partition: int, records: Iterable[tuple[bytes | None, bytes | None]], log_end: int | None = None
    ) -> RestoreReport:
        """Load a partition's items from its changelog records (the latest per key wins); ``log_end``,
        the end offset of the event log's partition, bounds the offsets an item may have applied."""
        report = self.decode(records, log_end)
        self.install(partition, report)
        return report

    def decode(self, records: Iterable[tuple[bytes | None, bytes | None]], log_end: int | None = None) -> RestoreReport:
        """Decode changelog records without touching the store (safe to run in another thread).

        An item whose applied offset is outside the event log's partition (negative, or at or past
        ``log_end``) would skip every later event as already applied: it is unreadable, and rebuilt."""
        roots: dict[str, bytes | None] = {}
        parts: dict[str, dict[str, bytes | None]] = {}
        for raw_key, value in records:
            if raw_key is None:
                continue
            key = raw_key.decode("utf-8", "replace")
            split = state.split_part_key(key)
            if split is None:
                roots[key] = value
            else:
                parts.setdefault(split[0], {})[key] = value
        report = RestoreReport()
        for key in sorted(roots.keys() | parts.keys()):
            root, item_parts = roots.get(key), {k: v for k, v in parts.get(key, {}).items() if v is not None}
            if root is None:
                if item_parts:  # parts of a first checkpoint whose root never arrived
                    report.stale[key] = sorted(item_parts)
                    report.seq[key] = max(map(_part_seq, item_parts.values()))
                continue  # else a tombstone: the item was deleted
            try:
                read = self._assemble(root, item_parts)
                offset = read.offset
                if offset < 0 or (log_end is not None and offset >= log_end):
                    raise state.StateFormatError(
                        f"applied offset {offset} outside the event log's partition (0..{log_end})"
                    )
            except state.StateFormatError as exc:
                report.unreadable[key] = str(exc)
                report.stale[key] = sorted(item_parts)
                report.seq[key] = max([_part_seq(root), *map(_part_seq, item_parts.values())])
                continue
            report.items.append((key, offset, read.monitor))
            report.seq[key] = read.seq
            report.parts += len(item_parts)
            if read.rewrite:
                report.rewrite.add(key)
            if read.moved:
                report.stale[key] = read.moved
            if read.republish:
                report.republish[key] = read.republish
        report.loaded = len(report.items)
        return report

    def _assemble(self, root_blob: bytes, parts: dict[str, bytes]) -> Assembled:
        """An item from its root and part records; StateFormatError when they are not one checkpoint's."""
        root = state.decode_root(root_blob, self.config)
        monitor = root.monitor
        if root.version < 4:
            return Assembled(root.offset, monitor, 0, rewrite=True)
        current = 0
        read = Assembled(root.offset, monitor, root.seq, rewrite=root.version < state.VERSION)
        for part, blob in parts.items():
            _, kind, ident = state.split_part_key(part) or ("", "", "")
            seq, decoded_id, value = state.decode_part(kind, ident, blob)
            if seq > root.seq:
                raise state.StateFormatError(f"a part of checkpoint {seq} beside a root of checkpoint {root.seq}")
            current += seq == root.seq
            if kind in (state.CLAIM, state.ROW):
                claim, rows = value if kind == state.CLAIM else (None, value)
                if claim is not None:
                    monitor.claims.claims[decoded_id] = claim
                monitor.rollups.rows.update(rows)
                monitor.rollups.saved.update(rows)
                if seq == root.seq:  # taken by the last checkpoint: maybe not published
                    read.republish += rows
                if kind == state.ROW and state.row_series(decoded_id)[1] is not None:
                    read.moved.append(part)  # version 4: each week's row was a part of its own
            else:
                monitor.dedup.seen[decoded_id] = value
                monitor.dedup.saved.add(decoded_id)
        if current != root.parts:
            raise state.StateFormatError(
                f"checkpoint {root.seq} cut short: {current} of its {root.parts} part record(s) arrived"
            )
        monitor.claims.reindex()
        read.moved.sort()
        read.republish.sort()
        return read

    def restore_lazily(self, partition: int, log_end: int | None = None) -> None:
        """Hold the partition as restored without decoding anything: each item is read from
        ``stored`` and decoded when its next event arrives (:meth:`load`), so a restart costs the
        items that move, not the catalogue. ``log_end`` bounds their applied offsets, as in
        :meth:`decode`."""
        if self.stored is None:
            raise ValueError("a lazy restore needs somewhere to read the items from")
        self.lazy[partition] = log_end
        self.restored_partitions.add(partition)

    def load(self, key: str, partition: int) -> str | None:
        """Decode an item of a lazily restored partition, once, before its first event is applied;
        the reason when its stored state is unreadable (it then starts afresh, its stored parts are
        deleted by its next checkpoint, and the caller rebuilds it from the event log)."""
        if self.stored is None or partition not in self.lazy or key in self.looked_up or key in self.keyed.monitors:
            return None
        self.looked_up[key] = partition
        records = self.stored.item(partition, key)
        if not records:
            return None
        report = self.decode(records, self.lazy[partition])
        self.install(partition, report)
        return report.unreadable.get(key)

    def install(self, partition: int, report: RestoreReport) -> None:
        for key, offset, monitor in report.items:
            monitor.clock = self.clock
            self.keyed.monitors[key] = monitor
            self.applied[key] = offset
            self.partition_of[key] = partition
            self.seq[key] = report.seq.get(key, 0)
            if key in report.republish:
                self.republish[key] = report.republish[key]
                self.dirty.add(key)  # roll-ups a checkpoint stored but may not have published
            if key in report.rewrite:
                self.rewrite.add(key)
                self.dirty.add(key)
        for key, stale in report.stale.items():
            # Deleted first when the item is stored again (rebuilt, or stored for the first time), and
            # its checkpoints numbered above them, so none can pass for a part of its next checkpoint.
            self.stale[key] = stale
            self.partition_of.setdefault(key, partition)
            self.seq[key] = max(self.seq.get(key, 0), report.seq.get(key, 0))
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
                self.apply_event(key, partition, offset, event)
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
            self.seq.pop(key, None)
            self.rewrite.discard(key)
            self.stale.pop(key, None)
            self.republish.pop(key, None)
        for key in [k for k, p in self.looked_up.items() if p in partitions]:
            del self.looked_up[key]
        for partition in partitions:
            self.lazy.pop(partition, None)
        self.restored_partitions -= partitions


def published_row(item: str, row_key: str, row: dict[str, object]) -> tuple[str, bytes]:
    """A roll-up row as the rows topic holds it: keyed ``<row key>|@<item key>`` (two items can hold a
    row for the same claim), its JSON with sorted keys (the same row, the same bytes)."""
    return f"{row_key}|@{item}", orjson.dumps(row, option=orjson.OPT_SORT_KEYS)


def _part_seq(blob: bytes | None) -> int:
    """The checkpoint number a record says it is of (0 when it does not say): for stale records only."""
    try:
        body = state.stored_json(blob or b"")
    except (orjson.JSONDecodeError, state.StateFormatError):
        return 0
    seq = body.get("seq") if isinstance(body, dict) else None
    return seq if type(seq) is int and seq >= 0 else 0
