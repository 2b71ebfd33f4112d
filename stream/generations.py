"""Generations of derived data, and which one is live.

Generation 1 is the first derivation of the event log (its topics carry no suffix); a replay
derives generation N into ``<prefix>.alerts.gN``, ``<prefix>.rollups.gN`` and ``<app id>-gN-state``.
The live generation — what ``alerts tail``, the sinks and the weekly report read — is the latest
``live_generation`` record of the compacted ``<prefix>.control`` topic (1 when there is none);
``claimwatch promote`` writes it. ``CLAIMWATCH_GENERATION`` set in a process's environment pins
that process to a generation instead (the worker of a replayed generation, or a look at an old one).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from claimwatch.config import environment
from stream.kafka_io import producer, read_to_end, start_client
from stream.settings import Settings
from stream.topics import create_topics, state_topic

LIVE = b"live_generation"


class UnknownGeneration(ValueError):
    """A generation that no replay (or worker) has written."""


async def live_generation(settings: Settings) -> int:
    records = await read_to_end(settings, settings.topic("control"))
    live = 1
    for key, value in records:
        if key == LIVE and value:
            try:
                live = int(json.loads(value)["generation"])
            except (ValueError, KeyError, TypeError):
                continue  # a record that is not ours: the previous one stands
    return live


def for_readers(settings: Settings) -> Settings:
    """The settings of a process that reads derived data: pinned by CLAIMWATCH_GENERATION, else the
    live generation."""
    if "claimwatch_generation" in environment().model_fields_set:  # pinned in the environment
        return settings
    return dataclasses.replace(settings, generation=asyncio.run(live_generation(settings)))


async def existing(settings: Settings, generation: int) -> bool:
    target = dataclasses.replace(settings, generation=generation)
    admin = AIOKafkaAdminClient(**settings.client_options())
    await start_client(admin, settings)
    try:
        topics = set(await admin.list_topics())
    finally:
        await admin.close()
    return target.topic("alerts") in topics and state_topic(target) in topics


class IncompleteGeneration(ValueError):
    """A replayed generation some shard of which has not finished."""


async def missing_partitions(settings: Settings, generation: int) -> list[int]:
    """The partitions of the event log no finished replay shard of ``generation`` covers."""
    from stream.kafka_io import bounded_reader, topic_partitions

    prefix = f"replay_done|g{generation}|".encode()
    covered: set[int] = set()
    for key, value in await read_to_end(settings, settings.topic("control")):
        if key is None or not key.startswith(prefix) or not value:
            continue
        try:
            covered.update(int(p) for p in json.loads(value)["partitions"])
        except (ValueError, KeyError, TypeError):
            continue
    consumer = bounded_reader(settings)
    await start_client(consumer, settings)
    try:
        partitions = [tp.partition for tp in await topic_partitions(consumer, settings.topic("events"), settings)]
    finally:
        await consumer.stop()
    return sorted(set(partitions) - covered)


async def promote(settings: Settings, generation: int, who: str) -> int:
    """Make ``generation`` the live one; returns the generation it replaces. A replayed generation
    must be complete: every partition of the event log replayed by a shard that finished."""
    if generation < 1 or not await existing(settings, generation):
        raise UnknownGeneration(f"generation {generation} does not exist (replay it first: claimwatch replay)")
    if generation > 1 and (missing := await missing_partitions(settings, generation)):
        raise IncompleteGeneration(
            f"generation {generation} is incomplete: partition(s) {', '.join(map(str, missing))} of the event log "
            "were not replayed by a shard that finished (run the missing `claimwatch replay --shard I/N`, or wait for it)"
        )
    await create_topics(settings)
    previous = await live_generation(settings)
    out = producer(settings)
    await start_client(out, settings)
    try:
        record = {"generation": generation, "previous": previous, "by": who, "at": datetime.now(UTC).isoformat()}
        await out.send_and_wait(settings.topic("control"), key=LIVE, value=json.dumps(record).encode())
    finally:
        await out.stop()
    return previous


def export_alerts(settings: Settings, generation: int, out: Path) -> int:
    """Write one generation's alerts to ``out`` as JSON Lines, each alert once (a redelivered alert
    is the same alert); how many."""
    from schemas.alerts import Alert

    settings = dataclasses.replace(settings, generation=generation)
    if not asyncio.run(existing(settings, generation)):
        raise UnknownGeneration(f"generation {generation} does not exist")
    seen: set[str] = set()
    with out.open("w", encoding="utf-8") as fh:
        for _, value in asyncio.run(read_to_end(settings, settings.topic("alerts"))):
            alert = Alert.model_validate_json(value or b"")
            if alert.alert_id not in seen:
                seen.add(alert.alert_id)
                fh.write(alert.model_dump_json() + "\n")
    return len(seen)
