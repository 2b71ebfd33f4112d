"""Wire format of events and alerts on Kafka: the pydantic models as JSON, told apart by ``kind``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from schemas.alerts import Alert
from schemas.events import CatalogItem, ClaimEvent, Event, MetricObservation, OwnershipConflict, RightsRecord

# What one record on the log may be, key and value together: under Kafka's default limit of 1 MiB
# (the broker's message.max.bytes, the producer's max_request_size) with room for the batch's framing.
# Every producer of claimwatch checks its records against it: one too large is quarantined (or
# dead-lettered) with its reason, never sent to fail a whole batch, a checkpoint or an ingest.
MAX_RECORD_BYTES = 1_000_000

_EVENT: TypeAdapter[Event] = TypeAdapter(
    Annotated[
        CatalogItem | ClaimEvent | MetricObservation | OwnershipConflict | RightsRecord, Field(discriminator="kind")
    ]
)


def encode_event(event: Event) -> bytes:
    """The event as JSON, its unset optional fields left out: a missing field decodes to its default,
    which is None for every field that may be None (tests/test_codec.py holds the models to that).
    Smaller records, and a third less for the decoder to validate (measured: 4.4 µs a poll, 6.3 with
    every null spelt out), where decoding is a fifth of what the core spends on an event."""
    return event.model_dump_json(exclude_none=True).encode("utf-8")


def decode_event(data: bytes) -> Event:
    return _EVENT.validate_json(data)


def encode_alert(alert: Alert) -> bytes:
    return alert.model_dump_json().encode("utf-8")


def decode_alert(data: bytes) -> Alert:
    return Alert.model_validate_json(data)
