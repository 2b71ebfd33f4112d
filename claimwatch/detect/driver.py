"""Records into the detection core: the one loop the worker, replay, the embedded run and the
benchmarks share.

A record off the event log (its partition, offset, key and value bytes) is decoded, applied to its
item in the :class:`~claimwatch.detect.store.StateStore`, and what that did is collected in an
:class:`Outcome`: alerts, records the core left out as suspect, dead letters (records it could not
decode or process), redeliveries skipped. The embedded run hands it events already read from files
(:meth:`RecordDriver.apply_event`). Pure: no Kafka, no Faust; the callers do the I/O.

>>> from schemas import CatalogItem
>>> from schemas.codec import encode_event
>>> driver, out = RecordDriver(), Outcome()
>>> value = encode_event(CatalogItem(content_id="CW-1"))
>>> driver.apply_record("events", 0, 7, b"CW-1", value, out)
>>> driver.apply_record("events", 0, 7, b"CW-1", value, out)  # redelivered after a crash: skipped
>>> driver.apply_record("events", 0, 8, b"CW-1", b"not json", out)
>>> driver.apply_record("events", 0, 9, None, value, out)  # a record without a key names no item
>>> dict(out.events), out.redelivered, [d.reason_code for d in out.dead_letters]
({'catalog': 1}, 1, ['undecodable_event', 'invalid_key'])
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from claimwatch.detect.store import StateStore
from schemas.alerts import Alert
from schemas.codec import decode_event
from schemas.events import Event, QuarantineEntry

log = logging.getLogger("claimwatch.core")
DEAD_LETTER_TEXT = 500  # characters of a dead letter's reason and raw value that are kept


@dataclass
class Outcome:
    """What applying some records did."""

    events: Counter[str] = field(default_factory=Counter)  # applied, by kind
    redelivered: int = 0  # already applied by their item (after a crash): skipped
    alerts: list[Alert] = field(default_factory=list)
    muted: int = 0  # alerts of records applied silently (state only)
    suspect: list[QuarantineEntry] = field(default_factory=list)  # left out by the core, with the reason
    dead_letters: list[QuarantineEntry] = field(default_factory=list)  # could not be decoded or processed

    @property
    def applied(self) -> int:
        return sum(self.events.values())


@dataclass
class RecordDriver:
    store: StateStore = field(default_factory=StateStore)

    def apply_record(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        out: Outcome,
        muted: bool = False,
    ) -> None:
        """Apply one record; ``muted`` applies it for its state only (its alerts are counted, not kept)."""
        try:
            event = decode_event(value or b"")
        except ValueError as exc:
            out.dead_letters.append(
                dead_letter(topic, partition, offset, value, "undecodable_event", f"not an event: {exc}")
            )
            return
        item = item_key(key)
        if item is None:
            shown = "none" if key is None else repr(key[:60])
            out.dead_letters.append(
                dead_letter(
                    topic,
                    partition,
                    offset,
                    value,
                    "invalid_key",
                    f"the record's key ({shown}) is not a content item's key: not empty UTF-8 without NUL",
                )
            )
            return
        self.apply_event(topic, partition, offset, item, event, out, muted, value)

    def apply_event(
        self,
        topic: str,
        partition: int,
        offset: int,
        item: str,
        event: Event,
        out: Outcome,
        muted: bool = False,
        value: bytes | None = None,
    ) -> None:
        """Apply an event already decoded (the embedded run's, read from files) to its item."""
        try:
            step = self.store.apply_step(item, partition, offset, event)
        except Exception as exc:
            log.exception("the core failed on partition=%s offset=%s key=%r", partition, offset, item)
            raw = value if value is not None else event.model_dump_json().encode()
            out.dead_letters.append(
                dead_letter(topic, partition, offset, raw, "core_error", f"{type(exc).__name__}: {exc}")
            )
            return
        if step is None:
            out.redelivered += 1
            return
        out.events[event.kind] += 1
        out.suspect += step.suspect
        if muted:
            out.muted += len(step.alerts)
        else:
            out.alerts += step.alerts


def item_key(key: bytes | None) -> str | None:
    """The content item a record's key names; None when it names none (no key, an empty one, bytes
    that are not UTF-8, or a NUL, which separates an item's state records). Such a record would
    otherwise be pooled with every other like it under one made-up item."""
    if not key or b"\x00" in key:
        return None
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        return None


def dead_letter(
    topic: str, partition: int, offset: int, value: bytes | None, code: str, reason: str
) -> QuarantineEntry:
    """The quarantine entry of a log record the core could not use: where it is, why, and its start."""
    return QuarantineEntry(
        source="events",
        source_file=f"{topic}[{partition}]",
        line=offset,
        reason=reason[:DEAD_LETTER_TEXT],
        reason_code=code,
        raw=(value or b"")[:DEAD_LETTER_TEXT].decode("utf-8", "replace"),
    )
