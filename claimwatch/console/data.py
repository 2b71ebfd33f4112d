"""What the console shows, from where it is: an embedded run's folder, or Kafka and the reports.

A :class:`Source` gives the alerts (and waits for new ones: the live view), the quarantine, the
weekly reports, and keeps the review actions. :class:`FolderSource` reads an embedded run's output
folder (``claimwatch run --out``) and keeps reviews in ``reviews.jsonl`` beside it;
:class:`KafkaSource` follows the live generation's alerts topic, reads its quarantine topic, keeps
reviews on the compacted ``reviews`` topic (keyed by subject, the value the subject's whole
history, so every console instance and a restart see the same queue) and reads the weekly reports
from their folder or S3 prefix.

Everything read is validated (an alert is a :class:`schemas.alerts.Alert`); a line or record that
is not is counted and left out, never shown half-read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from claimwatch.console.queue import Action
from schemas.alerts import Alert
from schemas.events import QuarantineEntry

log = logging.getLogger("claimwatch.console")
WEEK = re.compile(r"\d{4}-W\d{2}")
MAX_ALERTS = 100_000  # kept in memory, newest; older ones are in the topic and the reports


@dataclass
class Report:
    week: str
    figures: dict[str, Any]
    html: bytes | None


class Source(Protocol):
    where: str

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    def alerts(self) -> list[Alert]: ...
    async def wait_for_alerts(self, seen: int, timeout_s: float) -> list[Alert]: ...
    async def quarantine(self) -> list[QuarantineEntry]: ...
    async def reports(self) -> list[Report]: ...
    async def actions(self) -> list[Action]: ...
    async def record(self, action: Action) -> None: ...
    async def claim_rows(self) -> list[dict[str, Any]]: ...
    async def generations(self) -> list[dict[str, Any]]: ...


def parse_alert(raw: bytes | str, bad: Counter[str]) -> Alert | None:
    try:
        return Alert.model_validate_json(raw)
    except ValidationError:
        bad["alerts"] += 1
        return None


@dataclass
class AlertLog:
    """The alerts seen so far, in arrival order, and a wake-up for those waiting for more."""

    items: list[Alert] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def add(self, alerts: Iterable[Alert]) -> None:
        fresh = [a for a in alerts if a.alert_id not in self.ids]  # a re-raised alert keeps its id
        if not fresh:
            return
        async with self.arrived:
            for alert in fresh:
                self.ids.add(alert.alert_id)
                self.items.append(alert)
            if len(self.items) > MAX_ALERTS:
                for gone in self.items[: len(self.items) - MAX_ALERTS]:
                    self.ids.discard(gone.alert_id)
                del self.items[: len(self.items) - MAX_ALERTS]
            self.arrived.notify_all()

    async def wait(self, seen: int, timeout_s: float) -> list[Alert]:
        """The alerts after the first ``seen``, waiting up to ``timeout_s`` for one."""
        async with self.arrived:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait_for(lambda: len(self.items) > seen), timeout_s)
            return self.items[seen:]


def reports_in(folder: Path) -> list[Report]:
    out = []
    if folder.is_dir():
        for week_dir in sorted(p for p in folder.iterdir() if p.is_dir() and WEEK.fullmatch(p.name)):
            try:
                figures = json.loads((week_dir / "report.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            html = week_dir / "report.html"
            out.append(Report(week_dir.name, figures, html.read_bytes() if html.is_file() else None))
    return out


class FollowedAlerts:
    """The alerts a source has followed so far (its ``log``), and a wait for more."""

    log: AlertLog

    def alerts(self) -> list[Alert]:
        return list(self.log.items)

    async def wait_for_alerts(self, seen: int, timeout_s: float) -> list[Alert]:
        return await self.log.wait(seen, timeout_s)


class FolderSource(FollowedAlerts):
    """An embedded run's output folder; new alert lines appended to it show as they come."""

    def __init__(self, folder: Path, reports: Path | None = None) -> None:
        self.folder = folder
        self.reports_folder = reports or folder
        self.where = f"the run folder {folder}"
        self.log = AlertLog()
        self.bad: Counter[str] = Counter()
        self._read_to = 0
        self._follow: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        if not (self.folder / "alerts.jsonl").is_file():
            raise FileNotFoundError(f"{self.folder}: no alerts.jsonl (give the folder of `claimwatch run --out`)")
        await self._read_new()
        self._follow = asyncio.ensure_future(self._follow_file())

    async def close(self) -> None:
        if self._follow is not None:
            self._follow.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follow

    async def _read_new(self) -> None:
        path = self.folder / "alerts.jsonl"
        with path.open("rb") as fh:
            fh.seek(self._read_to)
            data = fh.read()
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits
        self._read_to += len(complete)
        await self.log.add(a for line in complete.splitlines() if line.strip() and (a := parse_alert(line, self.bad)))

    async def _follow_file(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            with contextlib.suppress(OSError):
                await self._read_new()

    async def quarantine(self) -> list[QuarantineEntry]:
        out = []
        path = self.folder / "quarantine.jsonl"
        if path.is_file():
            for line in path.read_bytes().splitlines():
                with contextlib.suppress(ValidationError):
                    out.append(QuarantineEntry.model_validate_json(line))
        return out

    async def reports(self) -> list[Report]:
        return reports_in(self.reports_folder)

    async def generations(self) -> list[dict[str, Any]]:
        return []  # an embedded run is one derivation

    async def claim_rows(self) -> list[dict[str, Any]]:
        """The claims' weekly roll-up rows (their status and since when)."""
        out = []
        path = self.folder / "rollups.jsonl"
        if path.is_file():
            for line in path.read_bytes().splitlines():
                with contextlib.suppress(ValueError, AttributeError):
                    row = json.loads(line).get("row")
                    if isinstance(row, dict) and row.get("kind") == "claim":
                        out.append(row)
        return out

    async def actions(self) -> list[Action]:
        path = self.folder / "reviews.jsonl"
        out = []
        if path.is_file():
            for line in path.read_bytes().splitlines():
                with contextlib.suppress(ValidationError):
                    out.append(Action.model_validate_json(line))
        return out

    async def record(self, action: Action) -> None:
        async with self._lock:
            with (self.folder / "reviews.jsonl").open("a", encoding="utf-8") as fh:
                fh.write(action.model_dump_json() + "\n")
                fh.flush()


class KafkaSource(FollowedAlerts):
    """The live generation on Kafka; reports from a folder or ``s3://bucket/prefix``."""

    def __init__(self, settings: Any, reports: str) -> None:
        self.settings = settings
        self.reports_location = reports
        self.where = f"Kafka {settings.bootstrap_servers}, generation {settings.generation}"
        self.log = AlertLog()
        self.bad: Counter[str] = Counter()
        self._follow: asyncio.Task[None] | None = None
        self._consumer: Any = None

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer

        from stream.kafka_io import start_client

        consumer = AIOKafkaConsumer(
            self.settings.topic("alerts"),
            **self.settings.client_options(),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=100,
        )
        await start_client(consumer, self.settings)
        self._consumer = consumer
        self._follow = asyncio.ensure_future(self._follow_topic())

    async def _follow_topic(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=500, max_records=5_000)
            alerts = [
                alert
                for records in batches.values()
                for record in records
                if record.value and (alert := parse_alert(record.value, self.bad))
            ]
            await self.log.add(alerts)

    async def close(self) -> None:
        if self._follow is not None:
            self._follow.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._follow
        if self._consumer is not None:
            await self._consumer.stop()

    async def quarantine(self) -> list[QuarantineEntry]:
        from stream.kafka_io import read_to_end

        out = []
        for _, value in await read_to_end(self.settings, self.settings.topic("quarantine")):
            with contextlib.suppress(ValidationError):
                out.append(QuarantineEntry.model_validate_json(value or b""))
        return out

    async def reports(self) -> list[Report]:
        location = self.reports_location
        if not location.startswith("s3://"):
            return reports_in(Path(location))
        return await asyncio.to_thread(_s3_reports, location)

    async def actions(self) -> list[Action]:
        return [a for history in (await self._histories()).values() for a in history]

    async def generations(self) -> list[dict[str, Any]]:
        """The live generation (who promoted it, when) and each replayed one with its shards' markers."""
        from stream.kafka_io import read_to_end

        live: dict[str, Any] = {"generation": 1}
        replayed: dict[int, dict[str, Any]] = {}
        for key, value in await read_to_end(self.settings, self.settings.topic("control")):
            with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):
                body = json.loads(value or b"")
                if key == b"live_generation":
                    live = body
                elif key is not None and key.startswith(b"replay_done|"):
                    entry = replayed.setdefault(
                        int(body["generation"]), {"generation": int(body["generation"]), "shards": []}
                    )
                    entry["shards"].append(body)
        out = []
        for generation in sorted({1, int(live.get("generation", 1)), *replayed}):
            shards = replayed.get(generation, {}).get("shards", [])
            out.append(
                {
                    "generation": generation,
                    "live": generation == int(live.get("generation", 1)),
                    "promoted": live if generation == int(live.get("generation", 1)) and "by" in live else None,
                    "shards": sorted(str(s.get("shard")) for s in shards),
                    "records": sum(int(s.get("records", 0)) for s in shards),
                    "alerts": sum(int(s.get("alerts", 0)) for s in shards),
                    "finished_at": max((str(s.get("finished_at", "")) for s in shards), default=""),
                }
            )
        return out

    async def claim_rows(self) -> list[dict[str, Any]]:
        """The claims' roll-up rows written in the last five weeks (the longest review period is 30
        days): read by time, not the whole topic."""
        import time

        from stream.kafka_io import read_since

        since_ms = int((time.time() - 35 * 86_400) * 1000)
        out = []
        for key, value in await read_since(self.settings, self.settings.topic("rollups"), since_ms):
            if key is None or not key.startswith(b"claim|") or not value:
                continue
            with contextlib.suppress(ValueError):
                row = json.loads(value)
                if isinstance(row, dict):
                    out.append(row)
        return out

    async def _histories(self) -> dict[str, list[Action]]:
        from stream.kafka_io import read_to_end

        out: dict[str, list[Action]] = {}
        for key, value in await read_to_end(self.settings, self.settings.topic("reviews")):
            if key is None or not value:
                continue
            try:
                out[key.decode("utf-8", "replace")] = [Action.model_validate(a) for a in json.loads(value)]
            except (ValueError, TypeError, ValidationError):
                self.bad["reviews"] += 1
        return out

    async def record(self, action: Action) -> None:
        """The subject's history with this action added, as its one record on the reviews topic
        (read again just before, so an action another console wrote meanwhile is kept)."""
        from stream.kafka_io import producer, start_client

        history = (await self._histories()).get(action.subject, [])
        body = json.dumps([a.model_dump(mode="json") for a in [*history, action]]).encode()
        out = producer(self.settings)
        await start_client(out, self.settings)
        try:
            await out.send_and_wait(self.settings.topic("reviews"), key=action.subject.encode(), value=body)
        finally:
            await out.stop()


def _s3_reports(location: str) -> list[Report]:
    from claimwatch.aws import client

    bucket, _, prefix = location[len("s3://") :].partition("/")
    prefix = prefix.strip("/")
    s3 = client("s3")
    out = []
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/" if prefix else "", Delimiter="/")
    for entry in listed.get("CommonPrefixes", []):
        week = entry["Prefix"].rstrip("/").rsplit("/", 1)[-1]
        if not WEEK.fullmatch(week):
            continue
        base = f"{prefix}/{week}" if prefix else week
        try:
            figures = json.loads(s3.get_object(Bucket=bucket, Key=f"{base}/report.json")["Body"].read())
        except Exception:
            continue
        html = None
        with contextlib.suppress(Exception):
            html = s3.get_object(Bucket=bucket, Key=f"{base}/report.html")["Body"].read()
        out.append(Report(week, figures, html))
    return sorted(out, key=lambda r: r.week)
