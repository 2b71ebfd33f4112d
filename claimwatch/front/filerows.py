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
    counts = {"records": f.records, "accepted": f.accepted, "quarantined": f.quarantined, "events": f.events}
    return _row(f, day, counts, duplicates=duplicates, uncatalogued=uncatalogued)


def day_rows(
    f: FileTally, duplicates: Mapping[str | None, int], uncatalogued: Mapping[str | None, int]
) -> list[dict[str, Any]]:
    """The rows of a file whose name gives no day (a collector's poll log): one per day of its data,
    so that each week counts what it holds; ``duplicates`` and ``uncatalogued`` per day (ISO)."""
    return [
        _row(
            f,
            d.day,
            {"records": d.records, "accepted": d.accepted, "quarantined": d.quarantined, "events": d.events},
            duplicates=duplicates.get(d.day.isoformat(), 0),
            uncatalogued=uncatalogued.get(d.day.isoformat(), 0),
        )
        for d in f.by_day
    ]


def _row(
    f: FileTally, day: date | None, counts: dict[str, int], *, duplicates: int, uncatalogued: int
) -> dict[str, Any]:
    """A row of ``f`` for ``day`` from what it gave then (``counts``), less the records that only repeat."""
    return {
        "kind": "file",
        "path": f.path,
        "source": f.source,
        "day": day.isoformat() if day else None,
        "records": counts["records"],
        "accepted": counts["accepted"] - duplicates,
        "quarantined": counts["quarantined"] + duplicates,
        "events": counts["events"],
        "duplicates": duplicates,
        **({"columns": list(f.columns)} if f.columns else {}),
        **({"uncatalogued": uncatalogued} if uncatalogued else {}),
    }


def file_key(row: dict[str, Any]) -> str:
    """``file|<path>``; a file whose name gives no day has a row per day, ``file|<path>|<day>``."""
    return f"file|{row['path']}" + (
        f"|{row['day']}" if row.get("day") and not date_from_name(Path(row["path"])) else ""
    )
