"""File rows: one per file read, what it gave and the day it reports on (the weekly report's data
quality section counts them per week). :class:`claimwatch.front.prepare.Front` makes them; the
embedded run keeps them with its roll-ups, ``ingest`` publishes them to the roll-ups topic under
``file|<path>``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from claimwatch.ingest.readers import FileTally, date_from_name


def file_row(f: FileTally, duplicates: int, uncatalogued: int) -> dict[str, Any]:
    """A file's row: its counts, less the ``duplicates`` records that only repeat earlier ones."""
    # The day in its name (exports are named by the day they report on), else the day of its data.
    day = date_from_name(Path(f.path)) or f.data_day
    return _row(
        f.path, f.source, day, f.records, f.accepted, f.quarantined, f.events, duplicates, uncatalogued, f.columns
    )


def day_rows(
    f: FileTally, duplicates: Mapping[str | None, int], uncatalogued: Mapping[str | None, int]
) -> list[dict[str, Any]]:
    """The rows of a file whose name gives no day (a collector's poll log): one per day of its data,
    so that each week counts what it holds; ``duplicates`` and ``uncatalogued`` per day (ISO)."""
    return [
        _row(
            f.path,
            f.source,
            d.day,
            d.records,
            d.accepted,
            d.quarantined,
            d.events,
            duplicates.get(d.day.isoformat(), 0),
            uncatalogued.get(d.day.isoformat(), 0),
            f.columns,
        )
        for d in f.by_day
    ]


def _row(
    path: str,
    source: str,
    day: date | None,
    records: int,
    accepted: int,
    quarantined: int,
    events: int,
    duplicates: int,
    uncatalogued: int,
    columns: tuple[str, ...],
) -> dict[str, Any]:
    return {
        "kind": "file",
        "path": path,
        "source": source,
        "day": day.isoformat() if day else None,
        "records": records,
        "accepted": accepted - duplicates,
        "quarantined": quarantined + duplicates,
        "events": events,
        "duplicates": duplicates,
        **({"columns": list(columns)} if columns else {}),
        **({"uncatalogued": uncatalogued} if uncatalogued else {}),
    }


def file_key(row: dict[str, Any]) -> str:
    """``file|<path>``; a file whose name gives no day has a row per day, ``file|<path>|<day>``."""
    return f"file|{row['path']}" + (
        f"|{row['day']}" if row.get("day") and not date_from_name(Path(row["path"])) else ""
    )
