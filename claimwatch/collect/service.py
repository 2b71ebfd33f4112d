"""``claimwatch collect``: the collectors in rounds, each round on the event log exactly once.

A round is what every due collector fetched since its watermark. It is published the way ``ingest``
publishes files (the same readers, validation, quarantine, data-time order, routing), and the
collectors' watermarks move only after Kafka has acknowledged every record of it. The state lives
in the compacted ``collectors`` topic:

1. the units are fetched and written to the archive (whole files: written, synced, renamed);
2. a ``round`` marker is written: the units (their files, how to fetch them again, the watermarks
   they lead to) and the end offsets of the event and quarantine topics before the round;
3. the round is published and flushed;
4. each collector's new watermark is written, then the marker is cleared.

A collector killed anywhere finds, when it starts again, either no marker (nothing of the round
went out: it is fetched again from the old watermarks) or a marker. Then it reads what reached the
log after the marker's offsets, publishes the round's records that are not there, and commits the
watermarks. Neither a gap nor a repeated event id, whatever the moment of the kill.

The poller's planner state (last readings, usual rates) is saved every ``report_seconds`` in
chunks (``poller:planner:N``); a crash loses at most that much of it, which costs a few early
readings, never a record.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from claimwatch.collect.collectors import (
    Collector,
    ContentIdCollector,
    FolderCollector,
    PollCollector,
    ReportingCollector,
    Unit,
    write_atomically,
)
from claimwatch.collect.google import ApiFailure, Apis, access_from_environment
from claimwatch.collect.planner import Planner, PlannerConfig
from claimwatch.ingest.readers import FileResult, read_file
from schemas.codec import decode_event
from schemas.events import Event, QuarantineEntry
from stream.kafka_io import bounded_reader, producer, read_to_end, start_client, topic_partitions
from stream.publish import IngestReport, publish_files
from stream.settings import Settings

log = logging.getLogger("claimwatch.collect")

ROUND_KEY = "round"
PLANNER_KEY = "poller:planner:"
INLINE_KNOWN_IDS = 5_000  # more known ids than this travel in an archive file, not the marker
ALERT_SIGNAL_HOURS = 24.0
CLAIM_SIGNAL_HOURS = 48.0


def identity(record: Event | QuarantineEntry, value: bytes) -> str:
    """What makes a record the same record on the log: its event id, else a digest of its bytes."""
    event_id = getattr(record, "event_id", None)
    return str(event_id) if event_id else "sha256:" + hashlib.sha256(value).hexdigest()


@dataclass
class RoundReport:
    published: int = 0
    already_on_log: int = 0
    quarantined: int = 0
    files: int = 0
    recovered: bool = False
    failures: dict[str, str] = field(default_factory=dict)
    by_collector: dict[str, int] = field(default_factory=dict)
    reconciles: bool = True


def _restate(event: Event, restated: dict[str, str]) -> Event:
    """A re-issued report's corrected row under its new id (see ``collectors.restatement``)."""
    new_id = restated.get(str(getattr(event, "event_id", "")))
    return event.model_copy(update={"event_id": new_id}) if new_id else event


class Ledger:
    """The ``collectors`` topic: each collector's state, the round in flight, the planner's chunks."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = settings.topic("collectors")
        self.values: dict[str, Any] = {}

    async def load(self) -> dict[str, Any]:
        for key, value in await read_to_end(self.settings, self.topic):
            if key is None:
                continue
            try:
                self.values[key.decode()] = None if value is None else json.loads(value)
            except ValueError:
                log.warning("collectors topic: unreadable value under %s ignored", key[:80])
        return self.values

    async def write(self, out: AIOKafkaProducer, key: str, value: Any) -> None:
        self.values[key] = value
        await out.send_and_wait(self.topic, key=key.encode(), value=json.dumps(value, sort_keys=True).encode())


async def log_ends(settings: Settings) -> dict[str, dict[int, int]]:
    """The end offset of every partition of the event and quarantine topics."""
    consumer = bounded_reader(settings)
    await start_client(consumer, settings)
    try:
        ends: dict[str, dict[int, int]] = {}
        for name in ("events", "quarantine"):
            tps = await topic_partitions(consumer, settings.topic(name), settings)
            found = await consumer.end_offsets(tps) if tps else {}
            ends[name] = {tp.partition: int(offset) for tp, offset in found.items()}
        return ends
    finally:
        await consumer.stop()


async def identities_since(settings: Settings, starts: dict[str, dict[int, int]]) -> set[str]:
    """The identity of every record written to the event and quarantine topics after ``starts``."""
    found: set[str] = set()
    consumer = bounded_reader(settings)
    await start_client(consumer, settings)
    try:
        for name, offsets in starts.items():
            topic = settings.topic(name)
            tps = await topic_partitions(consumer, topic, settings)
            if not tps:
                continue
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            for tp in tps:
                consumer.seek(tp, int(offsets.get(str(tp.partition), offsets.get(tp.partition, 0))))  # type: ignore[call-overload]
            remaining = {tp for tp in tps if ends[tp] > await consumer.position(tp)}
            while remaining:
                batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
                for records in batch.values():
                    for record in records:
                        if record.value is None:
                            continue
                        if name == "events":
                            try:
                                found.add(identity(decode_event(record.value), record.value))
                            except ValueError:
                                found.add("sha256:" + hashlib.sha256(record.value).hexdigest())
                        else:
                            found.add("sha256:" + hashlib.sha256(record.value).hexdigest())
                for tp in list(remaining):
                    if await consumer.position(tp) >= ends[tp]:
                        remaining.discard(tp)
        return found
    finally:
        await consumer.stop()


class CollectMetrics:
    """What ``/metrics`` says of the collectors (a registry of its own, served by ``serve``)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.registry = CollectorRegistry()
        self.records = Counter(
            "claimwatch_collect_events", "Events published by each collector", ["collector"], registry=self.registry
        )
        self.failures = Counter(
            "claimwatch_collect_failures",
            "Rounds a collector ended with a failure",
            ["collector"],
            registry=self.registry,
        )
        self.last_round = Gauge(
            "claimwatch_collect_last_round_timestamp_seconds",
            "When each collector last finished a round without failure",
            ["collector"],
            registry=self.registry,
        )
        self.quota_stopped_until = Gauge(
            "claimwatch_collect_quota_stopped_until_timestamp_seconds",
            "The Data API quota is spent: the poller reads nothing until then (0: polling)",
            registry=self.registry,
        )
        self.units_today = Gauge(
            "claimwatch_collect_units_spent_today",
            "Data API units the poller spent this Pacific day",
            registry=self.registry,
        )
        self.videos = Gauge("claimwatch_collect_videos", "YouTube videos the poller plans for", registry=self.registry)

    def observe(self, report: RoundReport, names: Sequence[str], planner: Planner | None) -> None:
        now = time.time()
        for name in names:
            if name in report.failures:
                self.failures.labels(name).inc()
            else:
                self.last_round.labels(name).set(now)
        for name, count in report.by_collector.items():
            self.records.labels(name).inc(count)
        if planner is not None:
            stopped = planner.budget.stopped_until
            self.quota_stopped_until.set(stopped if stopped > now else 0)
            self.units_today.set(planner.budget.spent_today)
            self.videos.set(len(planner.ids))


class CollectService:
    """Rounds of the collectors over one producer; state in the :class:`Ledger`."""

    def __init__(
        self,
        settings: Settings,
        collectors: Sequence[Collector],
        archive: Path,
        planner: Planner | None = None,
        clock: Any = None,
    ) -> None:
        self.settings = settings
        self.collectors = {c.name: c for c in collectors}
        self.archive = archive
        self.ledger = Ledger(settings)
        self.planner = planner
        self.clock = clock or (lambda: datetime.now(tz=UTC))
        self.out: AIOKafkaProducer | None = None
        self.planner_saved = 0.0

    async def start(self) -> None:
        await self.ledger.load()
        if self.planner is not None:
            for key in sorted(k for k in self.ledger.values if k.startswith(PLANNER_KEY)):
                if isinstance(chunk := self.ledger.values[key], dict):
                    self.planner.load_chunk(chunk)
        self.out = producer(self.settings, self.settings.ingest_deadline_seconds)
        await start_client(self.out, self.settings)

    async def stop(self) -> None:
        if self.out is not None:
            if self.planner is not None:
                await self.save_planner()
            await self.out.stop()

    async def save_planner(self) -> None:
        assert self.out is not None and self.planner is not None
        for number, chunk in enumerate(self.planner.to_chunks()):
            await self.ledger.write(self.out, f"{PLANNER_KEY}{number:05d}", chunk)
        self.planner_saved = time.monotonic()

    # ------------------------------------------------------------------ the poller's signals

    async def refresh_signals(self) -> None:
        """The catalogue's YouTube videos and the items with open alerts, for the planner."""
        if self.planner is None:
            return
        from schemas.codec import decode_alert
        from schemas.events import CatalogItem

        now = self.clock()
        videos_of: dict[str, list[str]] = {}
        for _, value in await read_to_end(self.settings, self.settings.topic("catalog")):
            if value is None:
                continue
            try:
                item = decode_event(value)
            except ValueError:
                continue
            if isinstance(item, CatalogItem):
                videos = item.platform_ids.get("youtube", [])
                videos_of[item.content_id] = videos
                published = None
                if item.release_date is not None:
                    published = datetime(
                        item.release_date.year, item.release_date.month, item.release_date.day, tzinfo=UTC
                    ).timestamp()
                for video in videos:
                    self.planner.add(video, published=published, guess=True)
        until = (now + timedelta(hours=ALERT_SIGNAL_HOURS)).timestamp()
        cutoff = (now - timedelta(hours=ALERT_SIGNAL_HOURS)).timestamp()
        for _, value in await read_to_end(self.settings, self.settings.topic("alerts")):
            if value is None:
                continue
            try:
                alert = decode_alert(value)
            except ValueError:
                continue
            if alert.detected_at.timestamp() < cutoff or alert.severity == "low":
                continue
            subject = alert.subject
            for video in videos_of.get(subject.content_id or "", []) + [v for v in (subject.video_id,) if v]:
                self.planner.flag_alert(video, until)

    def claim_activity(self, video_id: str, when: datetime) -> None:
        if self.planner is not None:
            self.planner.flag_claims(video_id, (when + timedelta(hours=CLAIM_SIGNAL_HOURS)).timestamp())

    # ------------------------------------------------------------------ rounds

    async def round(self, names: Sequence[str] | None = None) -> RoundReport:
        """Finish a round a crash cut short, then fetch and publish one of ``names`` (all: None)."""
        assert self.out is not None, "start() first"
        report = RoundReport()
        pending = self.ledger.values.get(ROUND_KEY)
        if pending:
            recovered = await self._publish(pending, recovering=True)
            await self._commit(pending)
            report = recovered
            report.recovered = True
        now = self.clock()
        units: list[Unit] = []
        for name in names or list(self.collectors):
            collector = self.collectors[name]
            state = self.ledger.values.get(name) or {}
            try:
                unit = await asyncio.to_thread(collector.collect, state, now)
                unit.redo.setdefault("state_before", state)
            except ApiFailure as exc:
                report.failures[name] = str(exc)
                log.error("collector %s: %s", name, exc)
                continue
            if unit.failure:
                report.failures[name] = unit.failure
            units.append(unit)
        changed = [u for u in units if not u.empty]
        if not changed:
            for unit in units:  # jobs created, nothing new yet: the state still moves
                if unit.state and unit.state != self.ledger.values.get(unit.collector):
                    await self.ledger.write(self.out, unit.collector, unit.state)
            return report
        marker = {
            "started": now.isoformat(),
            "offsets": {
                name: {str(p): o for p, o in ends.items()} for name, ends in (await log_ends(self.settings)).items()
            },
            "units": [self._unit_record(u, now) for u in units],
        }
        await self.ledger.write(self.out, ROUND_KEY, marker)
        published = await self._publish(marker, recovering=False)
        await self._commit(marker)
        report.published += published.published
        report.already_on_log += published.already_on_log
        report.quarantined += published.quarantined
        report.files += published.files
        report.reconciles = report.reconciles and published.reconciles
        for name, count in published.by_collector.items():
            report.by_collector[name] = report.by_collector.get(name, 0) + count
        return report

    def _unit_record(self, unit: Unit, now: datetime) -> dict[str, Any]:
        record: dict[str, Any] = {
            "collector": unit.collector,
            "files": [str(p) for p in unit.files],
            "quarantined": [q.model_dump(mode="json") for q in unit.quarantined],
            "state": unit.state,
            "redo": unit.redo,
            "restated": unit.restated,
        }
        if len(unit.known_ids) <= INLINE_KNOWN_IDS:
            record["known_ids"] = sorted(unit.known_ids)
        else:
            path = self.archive / "rounds" / f"{now:%Y%m%dT%H%M%S%f}-{unit.collector}.known.json"
            write_atomically(path, json.dumps(sorted(unit.known_ids)).encode())
            record["known_ids_file"] = str(path)
        return record

    async def _publish(self, marker: dict[str, Any], recovering: bool) -> RoundReport:
        known: set[str] = set()
        results: list[FileResult] = []
        by_collector: dict[str, int] = {}
        now = self.clock()
        for unit in marker["units"]:
            known.update(unit.get("known_ids", []))
            if unit.get("known_ids_file"):
                known.update(json.loads(Path(unit["known_ids_file"]).read_text()))
            paths = [Path(p) for p in unit["files"]]
            restated: dict[str, str] = unit.get("restated", {})
            if any(not p.exists() for p in paths):
                collector = self.collectors[unit["collector"]]
                if "records" in unit["redo"]:  # readings travel in the marker: written again as they were
                    paths = [PollCollector.rewrite(unit["redo"])]
                else:
                    # The archive went with its machine: fetch again from where the round began. What
                    # comes is the round and maybe more; what of it reached the log is known (below),
                    # and the watermark committed is the one this fetch leads to.
                    again = await asyncio.to_thread(collector.collect, unit["redo"].get("state_before", {}), now)
                    paths, restated = again.files, again.restated
                    known.update(again.known_ids)
                    unit["state"] = again.state
                    unit["quarantined"] = [q.model_dump(mode="json") for q in again.quarantined]
            for path in paths:
                result = read_file(path)
                if restated:
                    result.events = [_restate(e, restated) for e in result.events]
                by_collector[unit["collector"]] = by_collector.get(unit["collector"], 0) + len(result.events)
                results.append(result)
            if unit["quarantined"]:
                entries = [QuarantineEntry.model_validate(q) for q in unit["quarantined"]]
                results.append(
                    FileResult(
                        path=f"collect:{unit['collector']}",
                        source=entries[0].source,
                        quarantined=entries,
                        records=len(entries),
                    )
                )
        if recovering:
            known |= await identities_since(self.settings, marker["offsets"])

        def already(record: Event | QuarantineEntry, value: bytes) -> bool:
            return identity(record, value) in known

        published: IngestReport = await publish_files(results, self.settings, already=already)
        return RoundReport(
            published=published.published["events"],
            already_on_log=published.published["already_on_log"],
            quarantined=published.quarantined,
            files=published.files,
            by_collector=by_collector,
            reconciles=published.reconciles(),
        )

    async def _commit(self, marker: dict[str, Any]) -> None:
        assert self.out is not None
        for unit in marker["units"]:
            if unit["state"]:
                await self.ledger.write(self.out, unit["collector"], unit["state"])
        await self.ledger.write(self.out, ROUND_KEY, None)


def build_service(
    settings: Settings,
    archive: Path,
    folder: Path | None,
    report_types: Sequence[str],
    poll: bool,
    planner_config: PlannerConfig,
    settle: bool = True,
) -> CollectService:
    """The service as the environment configures it (``claimwatch collect``)."""
    access = access_from_environment()
    collectors: list[Collector] = []
    planner = None
    if access.complete:
        apis = Apis(access)
        collectors.append(ReportingCollector(apis, archive, report_types))
        contentid = ContentIdCollector(apis, archive)
        collectors.append(contentid)
        if poll:
            planner = Planner(planner_config)
            collectors.append(PollCollector(apis, archive, planner))
    elif not folder:
        raise ValueError(
            "collect: no Google credentials (CLAIMWATCH_GOOGLE_CLIENT_ID, _CLIENT_SECRET and _REFRESH_TOKEN, or "
            "CLAIMWATCH_GOOGLE_SECRET_ID) and no --folder: nothing to collect"
        )
    if folder:
        collectors.append(FolderCollector(folder, settle=settle))
    service = CollectService(settings, collectors, archive, planner)
    for collector in collectors:
        if isinstance(collector, ContentIdCollector):
            collector.on_claim_activity.append(service.claim_activity)
    return service


async def serve(
    service: CollectService,
    tick_seconds: float,
    report_seconds: float,
    once: bool,
    metrics_port: int = 0,
    bind: str = "127.0.0.1",
) -> RoundReport:
    """``--once``: one round of every collector. Otherwise forever: the poller each tick, the others
    (and the planner's signals and saved state) every ``report_seconds``; ``/metrics`` on
    ``metrics_port`` (0: not served)."""
    metrics = CollectMetrics()
    if metrics_port and not once:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=bind, registry=metrics.registry)
    await service.start()
    try:
        if once:
            await service.refresh_signals()
            return await service.round()
        slow = [n for n in service.collectors if n != "poller"]
        last_slow = -math.inf
        while True:
            began = time.monotonic()
            names = ["poller"] if "poller" in service.collectors else []
            if began - last_slow >= report_seconds:
                await service.refresh_signals()
                names += slow
                last_slow = began
            report = await service.round(names)
            metrics.observe(report, names, service.planner)
            log.info("collect round: %s", json.dumps(report.__dict__, default=str))
            if service.planner is not None and began - service.planner_saved >= report_seconds:
                await service.save_planner()
            await asyncio.sleep(max(0.0, tick_seconds - (time.monotonic() - began)))
    finally:
        await service.stop()
