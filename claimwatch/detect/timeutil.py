"""Event time as floats: the models keep epoch seconds, alerts carry aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime

DAY = 86_400.0  # seconds: the one definition every model and rule uses


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(round(seconds, 3), tz=UTC)


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
