"""Which content item an event is about: the key that keeps everything about one item together.

Every detector combines facts about one content item only (its posts on every platform, the claims
on its asset, its rights), so the item is the unit of state and of ordering: the embedded run keeps
one :class:`~claimwatch.detect.monitor.Monitor` per key, and on Kafka the key picks the partition,
so one worker sees all of an item's events in order. Claims reach their item through their asset;
a claim-history event, which names only its claim, through the claims seen before it.

>>> from schemas import CatalogItem
>>> router = Router()
>>> router.key(CatalogItem(content_id="CW-1", asset_id="A1", platform_ids={"tiktok": ["t1"]}))
'CW-1'
>>> router.key_for_post("tiktok", "t1"), router.key_for_post("tiktok", "other")
('CW-1', 'post:tiktok:other')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from schemas.events import CatalogItem, ClaimEvent, Event, MetricObservation, OwnershipConflict, RightsRecord


@dataclass
class Router:
    by_post: dict[tuple[str, str], str] = field(default_factory=dict)
    by_asset: dict[str, str] = field(default_factory=dict)
    by_claim: dict[str, str] = field(default_factory=dict)

    def learn(self, event: Event) -> None:
        if isinstance(event, CatalogItem):
            for platform, ids in event.platform_ids.items():
                for pid in ids:
                    self.by_post[(platform, pid)] = event.content_id
            for ref in (event.asset_id, event.custom_id, event.isrc):
                if ref:
                    self.by_asset[ref] = event.content_id

    def prime(self, events: Iterable[Event]) -> None:
        """Learn the catalog and where every claim belongs from a whole batch before routing any of it.

        A claim history often arrives before the report that names the claim's asset; a batch read
        together (one embedded run, one ingest call) is routed as if every claim's place were known.
        """
        batch = list(events)
        for event in batch:
            if isinstance(event, CatalogItem):
                self.learn(event)
        for event in batch:
            if isinstance(event, ClaimEvent):
                self.place(event)

    def place(self, event: ClaimEvent) -> None:
        """Learn where a claim belongs, if the event tells and it is not known yet (see :meth:`prime`)."""
        if event.claim_id and event.claim_id not in self.by_claim:
            self._claim_key(event)

    def key_for_post(self, platform: str, platform_content_id: str) -> str:
        return self.by_post.get((platform, platform_content_id)) or f"post:{platform}:{platform_content_id}"

    def item_for_asset(self, *refs: str | None) -> str | None:
        """The catalog item an asset id, custom id or ISRC names, if any."""
        return self._key_for_asset(*refs)

    def _key_for_asset(self, *refs: str | None) -> str | None:
        for ref in refs:
            if ref and ref in self.by_asset:
                return self.by_asset[ref]
        return None

    def key(self, event: Event) -> str:
        """The routing key of an event; learns the catalog and claim ids on the way."""
        self.learn(event)
        if isinstance(event, CatalogItem):
            return event.content_id
        if isinstance(event, MetricObservation):
            return self.key_for_post(event.platform, event.platform_content_id)
        if isinstance(event, RightsRecord):
            return self._key_for_asset(event.asset_id, event.custom_id, event.isrc) or f"asset:{event.key()}"
        if isinstance(event, OwnershipConflict):
            return self._key_for_asset(event.asset_id, event.custom_id) or f"asset:{event.asset_id}"
        return self._claim_key(event)

    def _claim_key(self, event: ClaimEvent) -> str:
        known = self.by_claim.get(event.claim_id) if event.claim_id else None
        if known is not None:
            return known  # a claim's state lives in one place, whatever its later events carry
        located = self._key_for_asset(event.asset_id, event.custom_id, event.isrc) or (
            self.by_post.get(("youtube", event.video_id)) if event.video_id else None
        )
        if located is None and event.asset_id:
            located = f"asset:{event.asset_id}"
        if located is None and event.video_id:
            located = f"video:{event.video_id}"
        if located is None:
            # Only a claim history names nothing but its claim: it waits under the claim's own key until
            # a report or API record says where the claim belongs.
            return f"claim:{event.claim_id}"
        if event.claim_id:
            self.by_claim[event.claim_id] = located
        return located


def keyed(events: Iterable[Event]) -> list[tuple[str, Event]]:
    """Each event of a batch (in order) with its routing key: what every driver of the core feeds it."""
    batch = list(events)
    router = Router()
    router.prime(batch)
    return [(router.key(event), event) for event in batch]
