"""A bounded slice of a topic, read for a batch job at the speed of the core that consumes it.

Replay reads the event log from its start to the end offsets it saw at start. Read with aiokafka,
every record is parsed and wrapped by Python code in the replay's own thread: about 2.3 µs a
record, a tenth of what the core spends on it (measured: replay at 0.88-0.90 × the core in
process). librdkafka (``confluent-kafka``) fetches, decompresses and parses on threads of its own,
outside the interpreter lock, while the core applies the previous batch; what is left in the
replay's thread is a few attribute reads per record.

Only this bounded read uses librdkafka. Everything that writes, and the live worker (Faust), stay
on aiokafka: nothing here commits offsets or joins a group.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stream.settings import Settings, msk_iam_signer

# librdkafka's own log lines go here: the one-shot commands keep them quiet (see claimwatch.cli).
LOGGER = "claimwatch.librdkafka"
TIMEOUT_S = 30.0  # for metadata and offsets; a broker that does not answer in that time is down


# What replay needs of a record: partition, offset, timestamp (ms), key, value. A tuple: a class
# instance per record would cost a fifth of what reading with librdkafka saves.
SliceRecord = tuple[int, int, int, bytes | None, bytes | None]


def rdkafka_config(settings: Settings) -> dict[str, Any]:
    """The settings every claimwatch client uses (:meth:`Settings.client_options`), as librdkafka's."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "security.protocol": settings.security_protocol.lower(),
    }
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        config["ssl.endpoint.identification.algorithm"] = "https"
        config["ssl.ca.location"] = settings.ssl_cafile or "probe"  # probe: the system's CAs
    if settings.security_protocol.startswith("SASL"):
        config["sasl.mechanism"] = settings.sasl_mechanism
        if settings.sasl_mechanism == "OAUTHBEARER":
            config["oauth_cb"] = _msk_iam_token(settings)
        else:
            config["sasl.username"], config["sasl.password"] = settings.sasl_login()
    return config


def _msk_iam_token(settings: Settings) -> Any:
    """librdkafka's ``oauth_cb``: the token and when it expires, in seconds since the epoch."""
    sign = msk_iam_signer(settings.aws_region())

    def token(_: str) -> tuple[str, float]:
        found, expiry_ms = sign()
        return found, expiry_ms / 1000.0

    return token


@dataclass
class LogSlice:
    """Partitions of ``topic`` from their first retained record to ``stops`` (exclusive)."""

    settings: Settings
    topic: str
    partitions: list[int] | None = None  # None: all
    to: datetime | None = None  # stop at the first record written at or after this time
    # A consume call waits until it has this many records or its timeout passed: small batches keep
    # the wait at the end of a slice short (measured: 0.2 s at 10,000), and cost nothing in between.
    batch: int = 1_000
    # Where each partition's slice begins instead of its first retained record (a snapshot's
    # offsets); ValueError when the log no longer holds them.
    begin: dict[int, int] | None = None
    stops: dict[int, int] = field(default_factory=dict, init=False)
    starts: dict[int, int] = field(default_factory=dict, init=False)
    consumer: Any = field(default=None, init=False)

    def open(self) -> list[int]:
        """Connect, find the partitions and where each slice ends; the partitions read."""
        from confluent_kafka import Consumer, KafkaException, TopicPartition

        config = {
            **rdkafka_config(self.settings),
            "group.id": f"{self.settings.worker_app_id()}-slice",  # required by the client; never joined
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
            "max.partition.fetch.bytes": 8 << 20,
            "queued.max.messages.kbytes": 256 << 10,
        }
        self.consumer = Consumer(config, logger=logging.getLogger(LOGGER))
        try:
            topics = self.consumer.list_topics(self.topic, timeout=TIMEOUT_S).topics
            found = topics.get(self.topic)
            if found is None or found.error is not None:
                return []
            parts = sorted(p for p in found.partitions if self.partitions is None or p in self.partitions)
            for p in parts:
                self.starts[p], self.stops[p] = self.consumer.get_watermark_offsets(
                    TopicPartition(self.topic, p), timeout=TIMEOUT_S
                )
            if self.begin is not None:
                for p in parts:
                    wanted = self.begin.get(p, 0)
                    if wanted < self.starts[p]:
                        raise ValueError(
                            f"{self.topic}[{p}] no longer holds offset {wanted} (its first is {self.starts[p]}):"
                            " the snapshot is older than the log's retention"
                        )
                    self.starts[p] = min(wanted, self.stops[p])
            if self.to is not None and parts:
                ms = int(self.to.timestamp() * 1000)
                at = self.consumer.offsets_for_times([TopicPartition(self.topic, p, ms) for p in parts], TIMEOUT_S)
                for tp in at:
                    if tp.offset >= 0:  # -1: nothing written that late, the slice ends at the end
                        self.stops[tp.partition] = min(self.stops[tp.partition], tp.offset)
            self.consumer.assign([TopicPartition(self.topic, p, self.starts[p]) for p in parts])
        except KafkaException as exc:
            raise ConnectionError(f"{self.topic}: {exc.args[0] if exc.args else exc}") from None
        return parts

    def batches(self, idle_s: float = TIMEOUT_S) -> Iterator[list[SliceRecord]]:
        """The slice's records, a batch at a time, until every partition reached its stop."""
        from confluent_kafka import KafkaError

        remaining = {p for p, stop in self.stops.items() if stop > self.starts.get(p, 0)}
        waited, wait = 0.0, 0.05
        while remaining:
            messages = self.consumer.consume(num_messages=self.batch, timeout=wait)
            if not messages:
                waited += wait
                if waited >= idle_s:
                    raise ConnectionError(
                        f"{self.topic}: no record for {idle_s:.0f}s with {len(remaining)} partition(s) unread"
                    )
                continue
            waited = 0.0
            out: list[SliceRecord] = []
            for m in messages:
                error = m.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        # Read to the partition's end, which is at or past the stop: done with it,
                        # even when the offsets just before the stop hold no record.
                        remaining.discard(m.partition())
                        continue
                    raise ConnectionError(f"{self.topic}: {error}")
                partition, offset = m.partition(), m.offset()
                if partition not in remaining:
                    continue
                if offset >= self.stops[partition]:
                    remaining.discard(partition)
                    continue
                out.append((partition, offset, m.timestamp()[1], m.key(), m.value()))
                if offset + 1 >= self.stops[partition]:
                    remaining.discard(partition)
            yield out

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None
