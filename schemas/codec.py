"""Wire format of events and alerts on Kafka: the pydantic models as JSON, told apart by ``kind``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from schemas.alerts import Alert
from schemas.events import CatalogItem, ClaimEvent, Event, MetricObservation, OwnershipConflict, RightsRecord

_EVENT: TypeAdapter[Event] = TypeAdapter(
    Annotated[
        CatalogItem | ClaimEvent | MetricObservation | OwnershipConflict | RightsRecord, Field(discriminator="kind")
    ]
)


def encode_event(event: Event) -> bytes:
    return event.model_dump_json(exclude_defaults=False).encode("utf-8")


def decode_event(data: bytes) -> Event:
    return _EVENT.validate_json(data)


def encode_alert(alert: Alert) -> bytes:
    return alert.model_dump_json().encode("utf-8")


def decode_alert(data: bytes) -> Alert:
    return Alert.model_validate_json(data)
