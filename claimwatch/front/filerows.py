"""File rows: one per file read, what it gave and the day it reports on (the weekly report's data
quality section counts them per week). :class:`claimwatch.front.prepare.Front` makes them; the
embedded run keeps them with its roll-ups, ``ingest`` publishes them to the roll-ups topic under
``file|<path>``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from claimwatch.ingest.readers import FileTally, date_from_name


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


def file_key(row: dict[str, Any]) -> str:
    return f"file|{row['path']}"
