"""The order every run applies events in: unique events in data time, reference data first.

The embedded run, ``ingest`` (through :mod:`claimwatch.front.spool`, on disk) and the tests agree on
this one order, so one input gives the same alerts whichever path reads it.
"""

from __future__ import annotations

from collections.abc import Iterable

from claimwatch.detect.monitor import event_time_of
from schemas.events import Event

KIND_ORDER = {"catalog": 0, "rights": 1, "conflict": 2, "claim": 3, "metric": 4}


def order_events(events: Iterable[Event]) -> tuple[list[Event], int]:
    """Unique events in data-time order; reference data without a time first. Returns (events, duplicates)."""
    seen: set[str] = set()
    unique: list[Event] = []
    duplicates = 0
    for e in events:
        event_id = getattr(e, "event_id", None)
        if event_id is not None:
            if event_id in seen:
                duplicates += 1
                continue
            seen.add(event_id)
        unique.append(e)

    def key(e: Event) -> tuple[int, str, int, str, int]:
        t = event_time_of(e)
        # The record's file and line break ties, so the order never depends on how files were listed.
        return (0 if t is None else 1, t.isoformat() if t else "", KIND_ORDER[e.kind], e.source_file, e.source_line)

    unique.sort(key=key)
    return unique, duplicates
