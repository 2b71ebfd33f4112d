"""One front for every run that reads files: the embedded run and ``ingest`` are I/O loops over it.

:class:`Front` takes the files read (one at a time, into an :class:`~claimwatch.front.spool.EventSpool`
on disk, so memory holds one file, never the run), primes the router with the catalog and every
claim's place, then hands out the unique events in the one order (:mod:`.order`) with their routing
keys. While it does, it counts what the outputs need: records that only repeat earlier ones
(quarantined, with where the first was), events a publisher found too large, and records about no
catalog item, per file.

>>> from claimwatch.ingest.readers import read_files
>>> from claimwatch.sample import BUNDLED_SAMPLE
>>> with Front(read_files([BUNDLED_SAMPLE / "catalog"]), Router()) as front:
...     taken = [event.kind for event, key, _ in front.events()]
>>> len(taken), set(taken), front.file_rows()[0]["source"]
(150, {'catalog'}, 'catalog')
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date
from itertools import chain
from typing import Any

from claimwatch.detect.routing import Router
from claimwatch.front.filerows import day_rows, file_row
from claimwatch.front.spool import EventSpool
from claimwatch.ingest.readers import FileResult, FileTally
from schemas.codec import encode_event
from schemas.events import CatalogItem, ClaimEvent, Event, QuarantineEntry

# What a claim's records may leave out that another record of the claim gives (they never change).
CLAIM_IDS = ("asset_id", "video_id")


@dataclass
class FrontTally:
    """What the front changes in the counts the readers gave: records that only repeat earlier ones
    and events too large for a record are quarantined after all; records about no catalog item are
    counted per file."""

    source_of: dict[str, str]
    by_source: dict[str, dict[str, int]]
    oversized: list[QuarantineEntry] = field(default_factory=list)
    # Per file, records per (day, routing key): the day only for a file whose name gives none.
    keys: defaultdict[str, Counter[tuple[str | None, str]]] = field(default_factory=lambda: defaultdict(Counter))
    undated: set[str] = field(default_factory=set)  # files whose name gives no day, counted per day
    _repeats: list[tuple[int, QuarantineEntry]] = field(default_factory=list)

    def _requarantine(self, entry: QuarantineEntry, events: int) -> None:
        row = self.by_source.setdefault(
            self.source_of.get(entry.source_file, entry.source),
            {"files": 0, "records": 0, "accepted": 0, "events": 0, "quarantined": 0},
        )
        row["events"] -= events
        row["accepted"] -= 1
        row["quarantined"] += 1

    def repeat(self, seq: int, entry: QuarantineEntry) -> None:
        self._repeats.append((seq, entry))
        self._requarantine(entry, 0)  # its events are the duplicates left out already

    def too_large(self, entry: QuarantineEntry) -> None:
        self.oversized.append(entry)
        self._requarantine(entry, 1)

    def repeats(self) -> list[QuarantineEntry]:
        """In the order read, as :func:`~claimwatch.detect.validation.duplicate_records` gives them."""
        return [entry for _, entry in sorted(self._repeats, key=lambda pair: pair[0])]

    def rows(self, files: list[FileTally], items: set[str]) -> list[dict[str, Any]]:
        repeats: defaultdict[str, Counter[str | None]] = defaultdict(Counter)
        for _, entry in self._repeats:
            repeats[entry.source_file][entry.data_day.isoformat() if entry.data_day else None] += 1
        too_large = Counter(entry.source_file for entry in self.oversized)
        rows = []
        for f in files:
            uncatalogued: Counter[str | None] = Counter()
            for (day, key), n in self.keys.get(f.path, Counter()).items():
                if key not in items:
                    uncatalogued[day] += n
            if f.by_day:
                day_rows_ = day_rows(f, repeats[f.path], uncatalogued)
            else:
                day_rows_ = [file_row(f, repeats[f.path].total(), uncatalogued.total())]
            # Read and accepted, then too large for a record: counted on the file's last day.
            moved = too_large.get(f.path, 0)
            row = day_rows_[-1]
            row.update(accepted=row["accepted"] - moved, events=row["events"] - moved)
            row["quarantined"] += moved
            rows.extend(day_rows_)
        return rows


class Front:
    """The files of one run, spooled, ordered, de-duplicated and routed (see the module)."""

    def __init__(self, files: Iterable[FileResult], router: Router | None = None) -> None:
        self.spool = EventSpool()
        try:
            for result in files:
                self.spool.add(result)
            self.spool.seal()
        except BaseException:
            self.spool.close()
            raise
        self.tally = FrontTally(
            source_of={f.path: f.source for f in self.spool.files},
            by_source=self.spool.counts(),
            undated={f.path for f in self.spool.files if f.by_day},
        )
        self.router = Router()
        self.known_claims: dict[str, str] = {}
        self.catalog_items: set[str] = set()
        self.claim_ids: dict[str, dict[str, str]] = {}
        if router is not None:
            self.route_with(router)

    def route_with(self, router: Router) -> None:
        """Route with ``router`` (what earlier runs learnt, for ``ingest``), primed with this run."""
        self.router = router
        # What the router knew before this run (from the routing topic): claims placed by the run
        # are the ones a publisher writes there.
        self.known_claims = dict(router.by_claim)
        self.catalog_items = self._prime()

    def __enter__(self) -> Front:
        return self

    def __exit__(self, *exc: object) -> None:
        self.spool.close()

    def _prime(self) -> set[str]:
        """:meth:`Router.prime` over the spool: the catalog, then every claim's place, in order; the
        run's catalog items."""
        items = set()
        for spooled in self.spool.ordered(["catalog"]):
            if isinstance(spooled.event, CatalogItem):
                self.router.learn(spooled.event)
                items.add(spooled.event.content_id)
        for spooled in self.spool.ordered(["claim"]):
            if not spooled.duplicate and isinstance(spooled.event, ClaimEvent):
                self.router.place(spooled.event)
                self._learn_ids(spooled.event)
        return items

    def _learn_ids(self, event: ClaimEvent) -> None:
        """A claim's asset and video never change: what any record of the run says of them."""
        if not event.claim_id:
            return
        known = self.claim_ids.get(event.claim_id)
        for name in CLAIM_IDS:
            value = getattr(event, name)
            if value and (known is None or name not in known):
                known = self.claim_ids.setdefault(event.claim_id, {})
                known[name] = value

    def _with_ids(self, event: Event, value: bytes) -> tuple[Event, bytes]:
        """A claim event that lacks its claim's asset or video (a claim history names neither) with
        them, from the run's other records of the claim: an alert it raises names what it is about
        even when it comes before the day's claims report."""
        if not isinstance(event, ClaimEvent) or not event.claim_id:
            return event, value
        known = self.claim_ids.get(event.claim_id)
        missing = {name: known[name] for name in CLAIM_IDS if known and name in known and not getattr(event, name)}
        if not missing:
            return event, value
        enriched = event.model_copy(update=missing)
        return enriched, encode_event(enriched)

    @property
    def files(self) -> list[FileTally]:
        return self.spool.files

    @property
    def unique(self) -> int:
        """How many events :meth:`events` hands out."""
        return self.spool.unique

    @property
    def duplicates(self) -> int:
        return self.spool.duplicates

    def events(self) -> Iterator[tuple[Event, str, bytes]]:
        """Each unique event in order, with its routing key and its encoded value; duplicates are
        left out and records that only repeat earlier ones counted as they go by."""
        for spooled in self.spool.ordered():
            event = spooled.event
            day = self._day_of(event)
            if (repeat := self.spool.repeat_of(spooled)) is not None:
                repeat.data_day = date.fromisoformat(day) if day else None
                self.tally.repeat(spooled.seq, repeat)
            key = self.router.key(event)
            if event.kind != "catalog":
                self.tally.keys[event.source_file][(day, key)] += 1
            if not spooled.duplicate:
                event, value = self._with_ids(event, spooled.value)
                yield event, key, value

    def _day_of(self, event: Event) -> str | None:
        """The event's day (ISO) if its file's name gives none: such a file is counted day by day."""
        if event.source_file not in self.tally.undated:
            return None
        when = getattr(event, "event_time", None)
        return when.astimezone(UTC).date().isoformat() if when is not None else None

    def quarantined(self) -> Iterator[QuarantineEntry]:
        """The readers' entries, then the front's: events too large, records that only repeat.
        Complete once :meth:`events` has been read through."""
        return chain(self.spool.quarantined(), self.tally.oversized, self.tally.repeats())

    def file_rows(self) -> list[dict[str, Any]]:
        """A row per file (complete once :meth:`events` has been read through)."""
        items = self.catalog_items | set(self.router.by_post.values()) | set(self.router.by_asset.values())
        return self.tally.rows(self.spool.files, items)

    def counts(self) -> dict[str, dict[str, int]]:
        """Files, records, accepted, quarantined and events per source, with the front's changes."""
        return self.tally.by_source
