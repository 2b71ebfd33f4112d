"""File rows: one per file read, what it gave and the day it reports on (the weekly report's data
quality section counts them per week). The embedded run keeps them with its roll-ups; ``ingest``
publishes them to the roll-ups topic under ``file|<path>``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from claimwatch.ingest.readers import IngestResult, date_from_name
from schemas.events import Event


def file_rows(ingest: IngestResult, events: Iterable[Event] = ()) -> list[dict[str, Any]]:
    """One row per file read: what it gave, the day it reports on, and its duplicate records."""
    duplicates = duplicates_by_file(events)
    rows = []
    for f in ingest.files:
        day = date_from_name(Path(f.path))
        rows.append({
            "kind": "file", "path": f.path, "source": f.source, "day": day.isoformat() if day else None,
            "records": f.records, "accepted": f.accepted, "quarantined": len(f.quarantined), "events": len(f.events),
            "duplicates": duplicates.get(f.path, 0), **({"columns": f.columns} if f.columns else {}),
        })  # fmt: skip
    return rows


def duplicates_by_file(events: Iterable[Event]) -> Counter[str]:
    """Records repeating an event already read (same event id), by the file of the repeat."""
    seen: set[str] = set()
    out: Counter[str] = Counter()
    for e in events:
        event_id = getattr(e, "event_id", None)
        if event_id is None:
            continue
        if event_id in seen:
            out[e.source_file] += 1
        seen.add(event_id)
    return out


def file_key(row: dict[str, Any]) -> str:
    return f"file|{row['path']}"
