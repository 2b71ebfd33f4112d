"""Small aiokafka helpers shared by the ingestor, the consumers and the tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError
from aiokafka.partitioner import DefaultPartitioner

from schemas.codec import MAX_RECORD_BYTES
from stream.settings import Settings

__all__ = ["MAX_RECORD_BYTES", "BatchedSender", "end_offset", "producer", "read_partition", "read_to_end"]


async def start_client(client: Any, settings: Settings) -> None:
    """``client.start()``, trying again for up to ``settings.connect_seconds`` while the broker cannot
    be reached: a broker restarting (a rolling upgrade) or too busy to answer for a moment is not
    yet an outage for a one-shot command. Nothing is set up until a start succeeds, so a start may
    simply be repeated."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.connect_seconds
    while True:
        try:
            await client.start()
            return
        except KafkaConnectionError:
            if loop.time() + 1.0 > deadline:
                raise
            # A certificate nobody trusts, or TLS on a plaintext port, does not heal by waiting.
            if settings.security_protocol in ("SSL", "SASL_SSL"):
                problem: str | None = await asyncio.to_thread(tls_problem, settings, 3.0)
                if problem is not None:
                    raise
            await asyncio.sleep(1.0)


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


# How long the broker may hold a fetch that finds no new data. A reader that stops at the end offsets
# it asked for waits for nothing, and a request for offsets queued behind a held fetch waits with it
# (measured: 0.5 s at the client's default for every empty topic read).
BOUNDED_FETCH_WAIT_MS = 20


def bounded_reader(settings: Settings, **options: Any) -> AIOKafkaConsumer:
    """A consumer without a group for reading a bounded slice of a topic (to offsets known at start)."""
    return AIOKafkaConsumer(
        **settings.client_options(), enable_auto_commit=False, fetch_max_wait_ms=BOUNDED_FETCH_WAIT_MS, **options
    )


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str, settings: Settings) -> list[TopicPartition]:
    """Every partition of ``topic``, by public APIs only: the metadata the consumer fetched when it
    started, else (a topic it has not seen yet) the brokers' answer to the admin client."""
    found = consumer.partitions_for_topic(topic)
    if not found:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(**settings.client_options())
        await start_client(admin, settings)
        try:
            described = await admin.describe_topics([topic])
        finally:
            await admin.close()
        found = {
            p["partition"]
            for t in described
            if t.get("topic") == topic and not t.get("error_code")
            for p in t.get("partitions", [])
        }
    return [TopicPartition(topic, p) for p in sorted(found or ())]


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
    out: list[Any] = []
    await scan(settings, topic, out.append, since_ms, timeout_s)
    return out


async def scan(
    settings: Settings,
    topic: str,
    visit: Callable[[Any], None],
    since_ms: int | None = None,
    timeout_s: float = 300.0,
) -> int:
    """Each record of a topic from the first written at or after ``since_ms`` (None: the beginning)
    to its end now, handed to ``visit`` as it is fetched and not kept: a reader that keeps a few of
    them holds a few, however long the topic. Returns how many were visited; :class:`IncompleteRead`
    when the end is not reached within ``timeout_s``."""
    consumer = bounded_reader(settings)
    try:
        await start_client(consumer, settings)
        tps = await topic_partitions(consumer, topic, settings)
        if not tps:
            return 0
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        if since_ms is not None:
            starts = await consumer.offsets_for_times(dict.fromkeys(tps, since_ms))
            for tp in tps:
                found = starts.get(tp)
                consumer.seek(tp, found.offset if found is not None else ends[tp])
        visited = 0
        remaining = {tp for tp in tps if ends[tp] > await consumer.position(tp)}
        deadline = asyncio.get_running_loop().time() + timeout_s
        while remaining and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batch.values():
                for record in records:
                    visit(record)
                visited += len(records)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        if remaining:
            missing = 0
            for tp in remaining:
                missing += ends[tp] - await consumer.position(tp)
            raise IncompleteRead(f"{topic}: {missing:,} records not read within {timeout_s:.0f}s")
        return visited
    finally:
        await consumer.stop()


async def read_partition(
    settings: Settings,
    topic: str,
    partition: int,
    end: int | None = None,
    with_offsets: bool = False,
    start: int | None = None,
) -> list[Any]:
    """Records of one partition from ``start`` (default: its beginning) to ``end`` (default: its end
    now), without a group."""
    out: list[Any] = []
    async for chunk in partition_chunks(settings, topic, partition, end, start):
        out += chunk if with_offsets else [(key, value) for key, value, _ in chunk]
    return out


async def partition_chunks(
    settings: Settings,
    topic: str,
    partition: int,
    end: int | None = None,
    start: int | None = None,
    chunk: int = 10_000,
    reader: AIOKafkaConsumer | None = None,
) -> AsyncIterator[list[tuple[bytes | None, bytes | None, int]]]:
    """The records of :func:`read_partition` as ``(key, value, offset)``, a few thousand at a time:
    a partition of gigabytes is never held whole (a restore writes each chunk as it comes). With a
    started ``reader`` (kept by its owner between calls: a consumer's start costs a metadata round
    trip) the records are read through it, and it is left running."""
    consumer = reader or bounded_reader(settings)
    if reader is None:
        await start_client(consumer, settings)
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        if start is None:
            await consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, start)
        stop = end if end is not None else (await consumer.end_offsets([tp]))[tp]
        while await consumer.position(tp) < stop:
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=chunk)
            records = [(r.key, r.value, r.offset) for r in batch.get(tp, []) if r.offset < stop]
            if records:
                yield records
    finally:
        if reader is None:
            await consumer.stop()


async def end_offset(settings: Settings, topic: str, partition: int, reader: AIOKafkaConsumer | None = None) -> int:
    """The offset the next record of a partition will get (its end now); through ``reader`` when
    given (left running)."""
    consumer = reader or bounded_reader(settings)
    if reader is None:
        await start_client(consumer, settings)
    try:
        tp = TopicPartition(topic, partition)
        return int((await consumer.end_offsets([tp]))[tp])
    finally:
        if reader is None:
            await consumer.stop()


class BatchedSender:
    """Records to one topic in batches per partition (aiokafka's ``create_batch`` / ``send_batch``).

    A bounded job (replay) writes tens of thousands of alerts, quarantine entries, states and roll-up
    rows; one ``send()`` each costs more than the work that produced them (profiled). Records are
    placed as ``send()`` would place them (the default partitioner over the key, unless a partition
    is given) and keep their order within a partition. ``flush()`` ships what is left and waits for
    every batch to be acknowledged.
    """

    def __init__(self, out: AIOKafkaProducer, topic: str) -> None:
        self.out, self.topic = out, topic
        self.partitions: list[int] = []
        self.batches: dict[int, Any] = {}
        self.shipped: list[asyncio.Future[Any]] = []
        self.sent = 0

    async def send(self, key: bytes, value: bytes | None, partition: int | None = None) -> None:
        if partition is None:
            if not self.partitions:
                self.partitions = sorted(await self.out.partitions_for(self.topic))
            partition = DefaultPartitioner()(key, self.partitions, self.partitions)
        batch = self.batches.get(partition)
        if batch is None:
            batch = self.batches[partition] = self.out.create_batch()
        if batch.append(key=key, value=value, timestamp=None) is None:  # full: ship it, start the next
            await self._ship(partition)
            batch = self.batches[partition] = self.out.create_batch()
            batch.append(key=key, value=value, timestamp=None)
        self.sent += 1

    async def _ship(self, partition: int) -> None:
        batch = self.batches.pop(partition)
        batch.close()
        self.shipped.append(await self.out.send_batch(batch, self.topic, partition=partition))

    async def flush(self) -> None:
        for partition in list(self.batches):
            await self._ship(partition)
        await asyncio.gather(*self.shipped)
        self.shipped.clear()


def tls_problem(settings: Settings, timeout_s: float = 5.0) -> str | None:
    """Why a TLS connection to the first broker fails, when that is why nothing connects: clients
    report an untrusted certificate as "Unable to bootstrap", which sends people to the network.
    None when TLS is not in use, or the handshake works (the problem is elsewhere)."""
    import socket
    import ssl

    from stream.settings import ssl_context

    if settings.security_protocol not in ("SSL", "SASL_SSL"):
        return None
    first = settings.bootstrap_servers.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    try:
        with (
            socket.create_connection((host or first, int(port or 9093)), timeout=timeout_s) as raw,
            ssl_context(settings.ssl_cafile).wrap_socket(raw, server_hostname=host or first),
        ):
            return None
    except ssl.SSLCertVerificationError as exc:
        where = f"KAFKA_SSL_CAFILE={settings.ssl_cafile}" if settings.ssl_cafile else "the system's CAs"
        return (
            f"the broker {first} has a TLS certificate {where} cannot verify ({exc.verify_message}): "
            "set KAFKA_SSL_CAFILE to the CA that signed it"
        )
    except ssl.SSLError as exc:
        return (
            f"TLS with the broker {first} failed ({exc.reason or exc}): is KAFKA_SECURITY_PROTOCOL right for its port?"
        )
    except (OSError, ValueError):
        return None
