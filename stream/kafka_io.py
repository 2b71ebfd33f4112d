"""Small aiokafka helpers shared by the ingestor, the consumers and the tests."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from stream.settings import Settings

MAX_RECORD_BYTES = 1_000_000  # under the broker's default max.message.bytes (1 MiB + overhead)


class IncompleteRead(Exception):
    """A topic could not be read to its end before the deadline."""


def producer(settings: Settings, deadline_s: float = 40.0) -> AIOKafkaProducer:
    """Idempotent and acks=all: a retried send never writes a record twice or loses one.

    ``deadline_s`` is how long a record may wait for the broker (metadata, a full buffer, an
    unanswered request) before the send fails: through an outage shorter than that the producer
    retries on its own, in order, without duplicates.
    """
    return AIOKafkaProducer(
        **settings.client_options(),
        enable_idempotence=True,
        acks="all",
        linger_ms=20,
        max_batch_size=256 * 1024,
        max_request_size=MAX_RECORD_BYTES + 64 * 1024,
        compression_type="zstd",
        request_timeout_ms=int(deadline_s * 1000),
        retry_backoff_ms=500,
    )


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """Every partition of ``topic``; consumer.topics() would refresh only a copy of the metadata."""
    metadata = await consumer._client.fetch_all_metadata()
    return [TopicPartition(topic, p) for p in sorted(metadata.partitions_for_topic(topic) or ())]


async def read_to_end(
    settings: Settings, topic: str, timeout_s: float = 120.0
) -> list[tuple[bytes | None, bytes | None]]:
    """Every record of a topic from the beginning to its current end (no consumer group); raises
    :class:`IncompleteRead` rather than return part of it."""
    return await read_since(settings, topic, None, timeout_s)


async def read_since(
    settings: Settings, topic: str, since_ms: int | None, timeout_s: float = 300.0
) -> list[tuple[bytes | None, bytes | None]]:
    """The records of a topic from the first written at or after ``since_ms`` (its timestamp; None:
    the beginning) to its current end, without a consumer group; :class:`IncompleteRead` rather
    than part of it."""
    return [(key, value) for _, key, value in await read_timed(settings, topic, since_ms, timeout_s)]


async def read_timed(
    settings: Settings, topic: str, since_ms: int | None, timeout_s: float = 300.0
) -> list[tuple[int, bytes | None, bytes | None]]:
    """As :func:`read_since`, with each record's timestamp (ms): ``(timestamp, key, value)``."""
    return [(r.timestamp, r.key, r.value) for r in await read_records(settings, topic, since_ms, timeout_s)]


async def read_records(
    settings: Settings, topic: str, since_ms: int | None = None, timeout_s: float = 300.0
) -> list[Any]:
    """As :func:`read_since`, the whole records (offsets, timestamps, headers)."""
    consumer = AIOKafkaConsumer(**settings.client_options(), enable_auto_commit=False)
    try:
        await consumer.start()
        tps = await topic_partitions(consumer, topic)
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        if since_ms is not None:
            starts = await consumer.offsets_for_times(dict.fromkeys(tps, since_ms))
            for tp in tps:
                found = starts.get(tp)
                consumer.seek(tp, found.offset if found is not None else ends[tp])
        out: list[Any] = []
        remaining = {tp for tp in tps if ends[tp] > await consumer.position(tp)}
        deadline = asyncio.get_running_loop().time() + timeout_s
        while remaining and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batch.values():
                out.extend(records)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        if remaining:
            missing = 0
            for tp in remaining:
                missing += ends[tp] - await consumer.position(tp)
            raise IncompleteRead(f"{topic}: {missing:,} records not read within {timeout_s:.0f}s")
        return out
    finally:
        await consumer.stop()


async def read_partition(
    settings: Settings, topic: str, partition: int, end: int | None = None, with_offsets: bool = False
) -> list[Any]:
    """Records of one partition from its start to ``end`` (default: its end now), without a group."""
    consumer = AIOKafkaConsumer(**settings.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        stop = end if end is not None else (await consumer.end_offsets([tp]))[tp]
        out: list[Any] = []
        while await consumer.position(tp) < stop:
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=10_000)
            for record in batch.get(tp, []):
                if record.offset >= stop:
                    break
                out.append((record.key, record.value, record.offset) if with_offsets else (record.key, record.value))
        return out
    finally:
        await consumer.stop()
