"""File rows: one per file read, what it gave and the day it reports on (the weekly report's data
quality section counts them per week). The embedded run keeps them with its roll-ups; ``ingest``
publishes them to the roll-ups topic under ``file|<path>``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from claimwatch.detect.routing import Router
from claimwatch.detect.validation import duplicate_records
from claimwatch.ingest.readers import FileTally, IngestResult, date_from_name
from schemas.events import Event


def file_rows(ingest: IngestResult, events: Iterable[Event] = (), router: Router | None = None) -> list[dict[str, Any]]:
    """One row per file read: what it gave, the day it reports on, its duplicate records, and (given
    the router that places them) its records about no item of the catalog. A record that only
    repeats what was read before is quarantined (:func:`duplicate_records`), so it counts as
    quarantined and as a duplicate, not as accepted; ``events`` are what the reader gave."""
    events = list(events)
    duplicates = Counter(entry.source_file for entry in duplicate_records(events))
    uncatalogued = uncatalogued_by_file(events, router) if router is not None else Counter()
    return [file_row(f.tally(), duplicates[f.path], uncatalogued[f.path]) for f in ingest.files]


def file_row(f: FileTally, duplicates: int, uncatalogued: int) -> dict[str, Any]:
    """A file's row: its counts, less the ``duplicates`` records that only repeat earlier ones."""
    # The day in its name (exports are named by the day they report on), else the day of its data:
    # a poll log named without a date still counts in the week its records are about.
    day = date_from_name(Path(f.path)) or f.data_day
    return {
        "kind": "file",
        "path": f.path,
        "source": f.source,
        "day": day.isoformat() if day else None,
        "records": f.records,
        "accepted": f.accepted - duplicates,
        "quarantined": f.quarantined + duplicates,
        "events": f.events,
        "duplicates": duplicates,
        **({"columns": list(f.columns)} if f.columns else {}),
        **({"uncatalogued": uncatalogued} if uncatalogued else {}),
    }


def uncatalogued_by_file(events: Iterable[Event], router: Router) -> Counter[str]:
    """Records about a post, asset or claim that no catalog item names, by file: they are still
    watched (under a key of their own), but their alerts name no content item and nobody owns them
    in the report, so people should hear that the catalog has a gap."""
    events = list(events)
    router.prime(events)
    items = {e.content_id for e in events if e.kind == "catalog"}
    items |= set(router.by_post.values()) | set(router.by_asset.values())  # the catalog known before too
    out: Counter[str] = Counter()
    for e in events:
        if e.kind != "catalog" and router.key(e) not in items:
            out[e.source_file] += 1
    return out


def file_key(row: dict[str, Any]) -> str:
    return f"file|{row['path']}"
