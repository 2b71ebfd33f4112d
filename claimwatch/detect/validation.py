"""Records the core refuses to use, with a stable reason code: a poll that cannot be real growth.

A poll passes the schema and still be impossible against what came before it: older than the
post's latest poll, a second poll at the same instant, counters that went down, or counters that
rose faster than any post can. The core leaves such a poll out (a negative delta must never raise
a spike; the next good poll is measured from the last good one) and says so here, so the record is
quarantined with its reason instead of vanishing into a count.

>>> from datetime import UTC, datetime
>>> from schemas.events import MetricObservation
>>> poll = MetricObservation(event_id="p", source="platform_poll", granularity="cumulative", platform="youtube",
...     platform_content_id="v1", event_time=datetime(2026, 11, 2, tzinfo=UTC), views=10, source_file="polls.jsonl",
...     source_line=7)
>>> entry = suspect_entry(poll, "counter_decrease")
>>> entry.reason_code, entry.source_file, entry.line, entry.field
('counter_decrease', 'polls.jsonl', 7, 'validation')
"""

from __future__ import annotations

from collections.abc import Iterable

from schemas.events import Event, QuarantineEntry

# The poll findings PostModel counts, by the reason code a suspect record is quarantined with.
SUSPECT_REASONS: dict[str, tuple[str, str]] = {
    "late_polls": ("late_poll", "older than the post's latest poll: out of order, it says nothing about now"),
    "duplicate_polls": ("duplicate_poll", "a second poll of the post at the same instant"),
    "counter_decreases": ("counter_decrease", "a counter went down: a collector glitch or a reset, not views"),
    "counter_jumps": ("counter_jump", "counters rose faster than any post can for the time since the last poll"),
}
STAGE = "validation"  # the entry's field: found by the core against the post's history, not by a reader
MAX_RAW = 4_000


def suspect_entry(event: Event, reason_code: str) -> QuarantineEntry:
    """The quarantine entry of a record the core left out, naming its file, line and reason."""
    reason = next((text for code, text in SUSPECT_REASONS.values() if code == reason_code), reason_code)
    return QuarantineEntry(
        source=str(getattr(event, "source", event.kind)),
        source_file=event.source_file,
        line=event.source_line,
        field=STAGE,
        reason=f"left out by the detection core: {reason}",
        reason_code=reason_code,
        raw=event.model_dump_json(exclude_none=True)[:MAX_RAW],
    )


DUPLICATE = "duplicate_record"


def duplicate_records(events: Iterable[Event]) -> list[QuarantineEntry]:
    """One quarantine entry per record every event of which repeats one read before (the same event
    id: the same natural key and observation), in the order read. Only the first is used; the repeat
    is kept here with where the first was, for the audit's duplicate rates and for anyone checking a
    collector that sends twice. A record that also brings new events (a claim history export that
    overlaps the previous one and goes further) is used, and only its repeated events are dropped.

    >>> from datetime import UTC, datetime
    >>> from schemas.events import MetricObservation
    >>> def poll(line, views):
    ...     return MetricObservation(event_id=f"p{views}", source="platform_poll", granularity="cumulative",
    ...         platform="youtube", platform_content_id="v1", event_time=datetime(2026, 11, 2, tzinfo=UTC),
    ...         views=views, source_file="polls.jsonl", source_line=line)
    >>> [(e.line, e.reason_code, e.reason) for e in duplicate_records([poll(1, 10), poll(2, 10), poll(3, 11)])]
    [(2, 'duplicate_record', 'repeats 1 event(s) already read, the first at polls.jsonl:1')]
    """
    first: dict[str, Event] = {}
    records: dict[tuple[str, int], list[tuple[Event, Event | None]]] = {}
    for event in events:
        event_id = getattr(event, "event_id", None)
        if event_id is None or not event.source_file:
            continue  # not a record of a file (reference data, or made in code)
        seen = first.setdefault(event_id, event)
        records.setdefault((event.source_file, event.source_line), []).append((event, None if seen is event else seen))
    out = []
    for pairs in records.values():
        record, earlier = pairs[0]
        if earlier is not None and all(seen is not None for _, seen in pairs):
            out.append(repeat_entry(record, len(pairs), f"{earlier.source_file}:{earlier.source_line}"))
    return out


def repeat_entry(record: Event, events: int, where: str) -> QuarantineEntry:
    """The quarantine entry of a record all ``events`` of which were read before, the first at ``where``."""
    return QuarantineEntry(
        source=str(getattr(record, "source", record.kind)),
        source_file=record.source_file,
        line=record.source_line,
        field="event_id",
        reason=f"repeats {events} event(s) already read, the first at {where}"[:500],
        reason_code=DUPLICATE,
        raw=record.model_dump_json(exclude_none=True)[:MAX_RAW],
    )
