"""Metadata consistency: does what the claims reports say about an item agree with the catalog?

The operations document's daily "content metadata synchronisation across platforms". A claim
carries the ISRC, the asset and the asset's title that YouTube holds; the catalog holds ours. An
ISRC or asset id that differs means a claim may be paid to, or disputed against, the wrong asset:
a finding to act on (``misdirects``). A title that differs, or one video that two reports put on
two channels, is worth a look, not an emergency.

What is compared is what the reports say now: a claim row holds the latest value the week's reports
gave. Pure: roll-up rows in (the catalog rows' ids, the claim rows), findings out. ``claimwatch
metadata`` prints them, ``claimwatch audit`` lists the month's, ``claimwatch doctor`` counts them.
Not compared: durations (the catalog carries none) and owners (the rights records' conflicts are
already ``rights_conflict`` alerts).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

MAX_LISTED = 200  # items listed in a report; the counts cover all
_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Mismatch:
    """One way an item's metadata differs, with one claim that shows it and how many do."""

    content_id: str
    field: str  # isrc, asset_id, title, channel
    catalog: str  # what the catalog says (for channel: the first report's channel)
    seen: str  # what the claims report says
    example: str  # a claim (and its video) that says it
    claims: int
    misdirects: bool  # an ISRC or asset that differs: claims may go to the wrong asset


def normal_isrc(text: str) -> str:
    """ISRCs are written with and without hyphens, in either case.

    >>> normal_isrc("us-rc1-76-07839") == normal_isrc("USRC17607839")
    True
    """
    return _NOT_WORD.sub("", text).upper()


def titles_differ(catalog: str, seen: str) -> bool:
    """Titles differ when, letters and digits only and case aside, neither holds the other
    ("Song (Remastered)" is the catalog's "Song").

    >>> titles_differ("Midnight Drive", "MIDNIGHT DRIVE (Remastered 2019)"), titles_differ("Midnight Drive", "Dawn")
    (False, True)
    """
    a, b = _NOT_WORD.sub("", catalog).casefold(), _NOT_WORD.sub("", seen).casefold()
    return bool(a and b) and a not in b and b not in a


def find_mismatches(catalog: Mapping[str, Mapping[str, Any]], claims: Iterable[Mapping[str, Any]]) -> list[Mismatch]:
    """Every way the claims' metadata differs from the catalog's, per item and field and value.

    ``catalog``: content id → its catalog row; ``claims``: claim rows (any weeks; a claim in several
    weeks counts once).
    """
    found: dict[tuple[str, str, str], list[Any]] = {}  # (item, field, seen) -> [catalog, example, claim ids]
    channels: dict[str, dict[str, tuple[str, str]]] = {}  # video -> channel -> (item, claim)

    def note(item: str, name: str, ours: str, seen: str, claim: str) -> None:
        entry = found.setdefault((item, name, seen), [ours, claim, set()])
        entry[2].add(claim)

    for row in claims:
        item, claim = str(row.get("content_id") or ""), str(row.get("claim_id") or "")
        video = row.get("video_id")
        example = f"claim {claim}" + (f" (video {video})" if video else "")
        if video and row.get("channel_id"):
            channels.setdefault(str(video), {}).setdefault(str(row["channel_id"]), (item, example))
        ours = catalog.get(item)
        if not item or ours is None:
            continue
        if row.get("isrc") and ours.get("isrc") and normal_isrc(str(row["isrc"])) != normal_isrc(str(ours["isrc"])):
            note(item, "isrc", str(ours["isrc"]), str(row["isrc"]), example)
        if row.get("asset_id") and ours.get("asset_id") and str(row["asset_id"]) != str(ours["asset_id"]):
            note(item, "asset_id", str(ours["asset_id"]), str(row["asset_id"]), example)
        if row.get("asset_title") and ours.get("title") and titles_differ(str(ours["title"]), str(row["asset_title"])):
            note(item, "title", str(ours["title"]), str(row["asset_title"]), example)
    out = [
        Mismatch(item, name, ours, seen, sorted(ids)[0] if ids else example, len(ids), name in ("isrc", "asset_id"))
        for (item, name, seen), (ours, example, ids) in found.items()
    ]
    for video, by_channel in channels.items():
        if len(by_channel) > 1:
            (first, (item, example)), *others = sorted(by_channel.items())
            for channel, (_, other) in others:
                out.append(Mismatch(item, "channel", first, channel, f"{example}; {other} (video {video})", 1, False))
    return sorted(out, key=lambda m: (not m.misdirects, m.content_id, m.field, m.seen))


def summary(mismatches: list[Mismatch]) -> dict[str, Any]:
    """What the audit and ``claimwatch metadata --json`` show: counts, then the items (bounded)."""
    items: dict[str, list[dict[str, Any]]] = {}
    for m in mismatches:
        if m.content_id in items or len(items) < MAX_LISTED:
            items.setdefault(m.content_id, []).append(asdict(m))
    return {
        "items_with_mismatches": len({m.content_id for m in mismatches}),
        "misdirecting": sum(1 for m in mismatches if m.misdirects),
        "other": sum(1 for m in mismatches if not m.misdirects),
        "by_field": {f: sum(1 for m in mismatches if m.field == f) for f in sorted({m.field for m in mismatches})},
        "items": items,
        "listed_at_most": MAX_LISTED,
    }
