"""``claimwatch status``: topics, lag of every consumer group, and when the last alert was raised."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.codec import decode_alert
from stream.kafka_io import bounded_reader, start_client, topic_partitions
from stream.settings import Settings
from stream.topics import describe_topics


async def group_offsets(settings: Settings) -> list[tuple[str, TopicPartition, int]]:
    """``(group, partition, committed offset)`` of every consumer group on claimwatch's topics
    (other teams' groups on the same cluster, an MSK cluster is often shared, are none of our
    business and are left out)."""
    ours = settings.topic_prefix + "."
    admin = AIOKafkaAdminClient(**settings.client_options())
    await start_client(admin, settings)
    try:
        rows = []
        for group, _protocol in sorted(await admin.list_consumer_groups()):
            offsets = await admin.list_consumer_group_offsets(group)
            rows += [(group, tp, meta.offset) for tp, meta in sorted(offsets.items()) if tp.topic.startswith(ours)]
        return rows
    finally:
        await admin.close()


async def group_lag(settings: Settings) -> list[dict[str, Any]]:
    """Lag of every claimwatch consumer group, per topic."""
    committed = await group_offsets(settings)
    if not committed:
        return []
    consumer = AIOKafkaConsumer(**settings.client_options())
    await start_client(consumer, settings)
    try:
        ends = await consumer.end_offsets([tp for _, tp, _ in committed])
    finally:
        await consumer.stop()
    lags: dict[tuple[str, str], int] = {}
    for group, tp, offset in committed:
        lags[(group, tp.topic)] = lags.get((group, tp.topic), 0) + max(0, ends[tp] - offset)
    return [{"group": g, "topic": t, "lag": lag} for (g, t), lag in sorted(lags.items())]


async def last_alert(settings: Settings) -> dict[str, Any] | None:
    consumer = bounded_reader(settings)
    await start_client(consumer, settings)
    try:
        tps = await topic_partitions(consumer, settings.topic("alerts"), settings)
        if not tps:
            return None
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        newest = None
        for tp in tps:
            if ends[tp] == 0:
                continue
            consumer.seek(tp, ends[tp] - 1)
            batch = await consumer.getmany(tp, timeout_ms=2000)
            for record in batch.get(tp, []):
                if record.value and (newest is None or record.timestamp > newest[0]):
                    newest = (record.timestamp, decode_alert(record.value))
        if newest is None:
            return None
        return {
            "written_ms": newest[0],
            "alert_id": newest[1].alert_id,
            "type": newest[1].type,
            "title": newest[1].title,
        }
    finally:
        await consumer.stop()


async def status(settings: Settings) -> dict[str, Any]:
    return {
        "topics": await describe_topics(settings),
        "consumer_groups": await group_lag(settings),
        "last_alert": await last_alert(settings),
    }
