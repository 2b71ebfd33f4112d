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
