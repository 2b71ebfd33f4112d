"""Every topic claimwatch uses, declared once: name, partitions, key, cleanup policy.

Claims, metrics, conflicts, catalog items and rights records about one content item share one
time-ordered fact log (``events``) keyed by the item: detectors combine an item's claims with its
metrics, and Kafka orders records only within a partition, so one log per item is what lets a
worker see them in data-time order and reproduce the embedded run exactly. The catalog and rights
are also kept in compacted topics, the latest record per key, as reference data to rebuild from.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from stream.kafka_io import start_client
from stream.settings import Settings

DAY_MS = 86_400_000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    cleanup: str  # "delete" or "compact"
    retention_ms: int | None
    partitioned: bool = True  # co-partitioned with the event log (same count), or a single partition
    doc: str = ""

    def config(self) -> dict[str, str]:
        config = {"cleanup.policy": self.cleanup}
        if self.retention_ms is not None:
            config["retention.ms"] = str(self.retention_ms)
        if self.cleanup == "compact":
            config["min.cleanable.dirty.ratio"] = "0.1"
            config["segment.ms"] = str(DAY_MS)
        return config


TOPICS = (
    TopicSpec(
        "events", "content item (routing key)", "delete", 30 * DAY_MS, doc="every fact, in data-time order per item"
    ),
    TopicSpec("catalog", "content_id", "compact", None, doc="latest catalog item per content id"),
    TopicSpec("rights", "asset/custom id/ISRC + owner + right type", "compact", None, doc="latest rights record"),
    TopicSpec("routing", "claim_id", "compact", None, doc="which content item each claim belongs to"),
    TopicSpec("quarantine", "source file", "delete", 90 * DAY_MS, partitioned=False, doc="unreadable records"),
    TopicSpec("alerts", "alert_id", "delete", 90 * DAY_MS, doc="alerts of the output contract"),
    TopicSpec("control", "setting name", "compact", None, partitioned=False, doc="the live generation"),
    TopicSpec(
        "retractions",
        "partition:offset of the event",
        "compact",
        None,
        partitioned=False,
        doc="events on the log that are wrong: replay skips them",
    ),
    TopicSpec(
        "collectors",
        "collector name (planner chunks: poller:planner:N)",
        "compact",
        None,
        partitioned=False,
        doc="each collector's watermark and the round in flight; the poller's planner state",
    ),
    TopicSpec(
        "rollups",
        "row key |@ content item",
        "compact",
        None,
        doc="what the weekly report reads: a row per claim-week, post-day, catalog item and file read",
    ),
    TopicSpec(
        "reviews",
        "review subject (content_id:…, asset_id:…)",
        "compact",
        None,
        partitioned=False,
        doc="the console's review queue: each subject's actions, who did what and when",
    ),
)


def partitions_of(topic: TopicSpec, settings: Settings) -> int:
    return settings.partitions if topic.partitioned else 1


async def create_topics(settings: Settings) -> list[str]:
    """Create every topic that does not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(**settings.client_options())
    await start_client(admin, settings)
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(
                name=settings.topic(t.name),
                num_partitions=partitions_of(t, settings),
                replication_factor=settings.replication_factor,
                topic_configs={**t.config(), **settings.topic_configs()},
            )
            for t in TOPICS
            if settings.topic(t.name) not in existing
        ]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process created it first
                await admin.create_topics(new)
        return [t.name for t in new]
    finally:
        await admin.close()


def state_topic(settings: Settings) -> str:
    """The worker's state changelog: one compacted record per content item (its latest checkpoint).

    Named by the worker's app id, like Faust's own changelogs, so a new app id (a replay's
    generation) starts with state of its own."""
    return f"{settings.worker_app_id()}-state"


async def ensure_state_topic(settings: Settings) -> None:
    admin = AIOKafkaAdminClient(**settings.client_options())
    await start_client(admin, settings)
    try:
        name = state_topic(settings)
        if name not in set(await admin.list_topics()):
            topic = NewTopic(
                name=name,
                num_partitions=settings.partitions,
                replication_factor=settings.replication_factor,
                topic_configs={
                    **settings.topic_configs(),
                    "cleanup.policy": "compact",
                    "min.cleanable.dirty.ratio": "0.1",
                    "segment.ms": str(DAY_MS),
                },
            )
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([topic])
    finally:
        await admin.close()


async def describe_topics(settings: Settings) -> list[dict[str, object]]:
    admin = AIOKafkaAdminClient(**settings.client_options())
    await start_client(admin, settings)
    try:
        names = [settings.topic(t.name) for t in TOPICS]
        existing = set(await admin.list_topics())
        described = await admin.describe_topics([n for n in names if n in existing])
        partitions = {d["topic"]: len(d["partitions"]) for d in described}
        return [
            {
                "topic": settings.topic(t.name),
                "exists": settings.topic(t.name) in existing,
                "partitions": partitions.get(settings.topic(t.name)),
                "key": t.key,
                "cleanup": t.cleanup,
                "retention_days": None if t.retention_ms is None else t.retention_ms // DAY_MS,
                "doc": t.doc,
            }
            for t in TOPICS
        ]
    finally:
        await admin.close()


async def topic_configs(settings: Settings, names: list[str]) -> dict[str, dict[str, str]]:
    """Each named topic's cleanup policy and retention as the brokers hold them."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    if not names:
        return {}
    admin = AIOKafkaAdminClient(**settings.client_options())
    await start_client(admin, settings)
    try:
        wanted = {"cleanup.policy", "retention.ms"}
        answers = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
        out: dict[str, dict[str, str]] = {}
        for answer in answers:
            for error_code, _message, _kind, name, entries in (r[:5] for r in answer.resources):
                if error_code == 0:
                    out[str(name)] = {str(e[0]): str(e[1]) for e in entries if e[0] in wanted}
        return out
    finally:
        await admin.close()


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]
