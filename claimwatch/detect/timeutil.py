"""Event time as floats: the models keep epoch seconds, alerts carry aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime


def to_epoch(value: datetime) -> float:
    return value.timestamp()


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(round(seconds, 3), tz=UTC)


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
