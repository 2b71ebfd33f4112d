"""Reference data: the catalog (which ids are one content item) and the rights ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from schemas.events import CatalogItem, RightsRecord


@dataclass
class CatalogIndex:
    """Resolves any platform id, asset id, custom id or ISRC to our content item."""

    items: dict[str, CatalogItem] = field(default_factory=dict)
    by_platform_id: dict[tuple[str, str], str] = field(default_factory=dict)
    by_asset: dict[str, str] = field(default_factory=dict)
    by_custom_id: dict[str, str] = field(default_factory=dict)
    by_isrc: dict[str, str] = field(default_factory=dict)

    def add(self, item: CatalogItem) -> None:
        self.items[item.content_id] = item
        for platform, ids in item.platform_ids.items():
            for pid in ids:
                self.by_platform_id[(platform, pid)] = item.content_id
        if item.asset_id:
            self.by_asset[item.asset_id] = item.content_id
        if item.custom_id:
            self.by_custom_id[item.custom_id] = item.content_id
        if item.isrc:
            self.by_isrc[item.isrc] = item.content_id

    def content_for_post(self, platform: str, platform_content_id: str) -> str | None:
        return self.by_platform_id.get((platform, platform_content_id))

    def content_for_claim(
        self, asset_id: str | None, custom_id: str | None = None, isrc: str | None = None
    ) -> str | None:
        return (
            (self.by_asset.get(asset_id) if asset_id else None)
            or (self.by_custom_id.get(custom_id) if custom_id else None)
            or (self.by_isrc.get(isrc) if isrc else None)
        )

    def is_our_video(self, video_id: str | None) -> bool:
        return bool(video_id) and ("youtube", video_id) in self.by_platform_id

    def asset_of(self, content_id: str | None) -> str | None:
        item = self.items.get(content_id or "")
        return item.asset_id if item else None


@dataclass(frozen=True)
class OverOwnership:
    key: str
    right_type: str
    territory: str
    total_pct: float
    owners: tuple[tuple[str, float], ...]


@dataclass
class RightsLedger:
    """Latest share per (asset key, right type, owner, territory); totals over 100 % conflict."""

    shares: dict[tuple[str, str], dict[tuple[str, str], RightsRecord]] = field(default_factory=dict)

    def add(self, record: RightsRecord) -> list[OverOwnership]:
        key = record.key()
        book = self.shares.setdefault((key, record.right_type), {})
        for territory in record.territories:
            book[(record.owner, territory)] = record
        return self.check(key, record.right_type, record.valid_from)

    def check(self, key: str, right_type: str, on: date | None = None) -> list[OverOwnership]:
        book = self.shares.get((key, right_type), {})
        territories = sorted({t for (_, t) in book})
        found = []
        for territory in territories:
            covering: dict[str, float] = {}
            for (owner, t), rec in book.items():
                if t not in (territory, "WW") or not _valid_on(rec, on):
                    continue
                # An owner's explicit territory share overrides its worldwide one.
                if t == territory or owner not in covering:
                    covering[owner] = rec.share_pct
            total = sum(covering.values())
            if total > 100.0 + 1e-6:
                found.append(
                    OverOwnership(key, right_type, territory, round(total, 3), tuple(sorted(covering.items())))
                )
        return found

    def our_share(self, key: str, owner: str) -> float:
        best = 0.0
        for (k, _), book in self.shares.items():
            if k == key:
                for (o, _), rec in book.items():
                    if o == owner:
                        best = max(best, rec.share_pct)
        return best


def _valid_on(record: RightsRecord, on: date | None) -> bool:
    if on is None:
        return True
    if record.valid_from and record.valid_from > on:
        return False
    return not (record.valid_to and record.valid_to < on)
