"""Value parsing shared by every reader: dates, numbers, booleans, lists and open enums.

Every parser raises :class:`FieldError` naming the field, so a bad value becomes a quarantine
entry that says which field of which record was wrong.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

# The bounds every event obeys (schemas/events.py): a value beyond them is quarantined here, with the
# field named, rather than rejected later by the event's validation.
from schemas.events import MAX_COUNT, MAX_YEAR, MIN_YEAR

MISSING = frozenset({"", "null", "none", "n/a", "na", "-"})


class FieldError(ValueError):
    """A bad value of one field; ``code`` is the stable reason code its quarantine entry carries."""

    def __init__(self, field: str, reason: str, code: str = "invalid_value") -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.code = code


def norm_header(name: str) -> str:
    """ "Claim ID", "claim_id" and " Claim-ID " are the same column."""
    return re.sub(r"[\s\-]+", "_", name.lstrip("\ufeff").strip().lower())


def text(row: dict[str, Any], field: str) -> str | None:
    value = row.get(field)
    if value is None:
        return None
    value = (value if isinstance(value, str) else str(value)).strip()
    if len(value) > 4:
        return value
    return None if value.lower() in MISSING else value


def required(row: dict[str, Any], field: str) -> str:
    value = text(row, field)
    if value is None:
        raise FieldError(field, "required value is missing", "missing_field")
    return value


def integer(row: dict[str, Any], field: str) -> int | None:
    raw = row.get(field)
    if type(raw) is int:  # JSON numbers need no parsing
        if not 0 <= raw <= MAX_COUNT:
            raise FieldError(field, f"count out of range [0, {MAX_COUNT:.0e}]: {str(raw)[:40]}", "out_of_range")
        return raw
    value = text(row, field)
    if value is None:
        return None
    if len(value) > 40:
        raise FieldError(field, f"not a count ({len(value)} characters): {value[:40]!r}…", "out_of_range")
    try:
        number = float(value.replace(",", "")) if not value.isdigit() else int(value)
    except ValueError:
        raise FieldError(field, f"not a number: {value[:40]!r}") from None
    if not math.isfinite(number):
        raise FieldError(field, f"not a finite number: {value[:40]!r}", "non_finite")
    if number < 0 or number != int(number):
        raise FieldError(field, f"not a non-negative integer: {value[:40]!r}")
    if number > MAX_COUNT:
        raise FieldError(field, f"count out of range [0, {MAX_COUNT:.0e}]: {value[:40]!r}", "out_of_range")
    return int(number)


def number(row: dict[str, Any], field: str, low: float | None = None, high: float | None = None) -> float | None:
    value = text(row, field)
    if value is None:
        return None
    try:
        result = float(value[:64])
    except ValueError:
        raise FieldError(field, f"not a number: {value[:40]!r}") from None
    if not math.isfinite(result):
        raise FieldError(field, f"not a finite number: {value[:40]!r}", "non_finite")
    if (low is not None and result < low) or (high is not None and result > high):
        raise FieldError(field, f"out of range [{low}, {high}]: {value[:40]!r}", "out_of_range")
    return result


TRUE = frozenset({"true", "yes", "y", "1", "t"})
FALSE = frozenset({"false", "no", "n", "0", "f"})


def boolean(row: dict[str, Any], field: str) -> bool | None:
    value = row.get(field)
    if isinstance(value, bool):
        return value
    raw = text(row, field)
    if raw is None:
        return None
    if raw.lower() in TRUE:
        return True
    if raw.lower() in FALSE:
        return False
    raise FieldError(field, f"not a boolean: {raw[:40]!r}")


def pipe_list(row: dict[str, Any], field: str) -> list[str]:
    value = row.get(field)
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    raw = text(row, field)
    if raw is None:
        return []
    return [part.strip() for part in raw.split("|") if part.strip()]


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _in_range(day: date, field: str, raw: str) -> None:
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise FieldError(field, f"date outside {MIN_YEAR}–{MAX_YEAR}: {raw[:40]!r}", "date_out_of_range")


def parse_date(value: str, field: str) -> date:
    raw = value.strip()
    try:
        if len(raw) == 8 and raw.isdigit():
            day = date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        elif _RFC3339.match(raw):
            return parse_datetime(raw, field).date()
        else:
            day = date.fromisoformat(raw[:10])
    except ValueError:
        raise FieldError(field, f"not a date (YYYYMMDD or YYYY-MM-DD): {raw[:40]!r}") from None
    _in_range(day, field, raw)
    return day


def parse_datetime(value: str, field: str) -> datetime:
    """RFC 3339 (``Z`` or offset; naive means UTC), or a bare date (midnight UTC)."""
    raw = value.strip()
    if not _RFC3339.match(raw):
        return datetime.combine(parse_date(raw, field), time(), tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(raw[:64].replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise FieldError(field, f"not an RFC 3339 timestamp: {raw[:40]!r}") from None
    _in_range(parsed.date(), field, raw)  # before the shift to UTC, which overflows at year 1 and 9999
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def opt_date(row: dict[str, Any], field: str) -> date | None:
    value = text(row, field)
    return None if value is None else parse_date(value, field)


def opt_datetime(row: dict[str, Any], field: str) -> datetime | None:
    value = text(row, field)
    return None if value is None else parse_datetime(value, field)


def end_of_day(day: date) -> datetime:
    """A daily figure is complete, and so observed, at the last second of its UTC day."""
    return datetime.combine(day, time(), tzinfo=UTC) + timedelta(days=1, seconds=-1)


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


@lru_cache(maxsize=4096)
def snake(value: str) -> str:
    value = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", value.strip())
    return re.sub(r"[\s\-/()]+", "_", value).strip("_").lower()


# Open enums: a known token (any case / spelling) maps to the canonical value; anything else is kept
# raw beside the fallback.
CLAIM_STATUS = {
    "active": "active",
    "inactive": "inactive",
    "pending": "pending",
    "potential": "potential",
    "routed_for_review": "routed_for_review",
    "routedforreview": "routed_for_review",
    "disputed": "disputed",
    "appealed": "appealed",
    "takedown": "takedown",
    "delayed_takedown": "delayed_takedown",
    "takedown_under_review": "takedown_under_review",
}
# claim_status_detail values that refine a PENDING / ACTIVE report status into a sub-state.
STATUS_DETAIL_REFINES = {
    "disputed": "disputed",
    "dispute": "disputed",
    "counter_received": "disputed",
    "appealed": "appealed",
    "appeal": "appealed",
    "potential": "potential",
    "pending_for_review": "routed_for_review",
    "routed_for_review": "routed_for_review",
    "takedown": "takedown",
    "video_taken_down": "takedown",
    "delayed_takedown": "delayed_takedown",
    "takedown_under_review": "takedown_under_review",
}
CONTENT_TYPE = {"audio": "audio", "video": "visual", "visual": "visual", "audiovisual": "audiovisual"}
ORIGIN = {
    "audio_match": "audio_match",
    "audiomatch": "audio_match",
    "video_match": "video_match",
    "videomatch": "video_match",
    "melody_match": "melody_match",
    "melodymatch": "melody_match",
    "audio_and_video_match": "audiovisual_match",
    "audiovisual_match": "audiovisual_match",
    "descriptive_search": "descriptive_search",
    "descriptivesearch": "descriptive_search",
    "in_product_studio": "manual_studio",
    "in_product": "manual_studio",
    "manual": "manual_studio",
    "batch": "batch",
    "batch_tool": "batch",
    "batchtool": "batch",
    "api": "api",
    "web": "other",
    "web_upload": "partner_uploaded",
    "webupload": "partner_uploaded",
    "partner_uploaded": "partner_uploaded",
}
DISPUTE_REASON = {
    "misidentified": "misidentified",
    "copyrighted_material_is_misidentified": "misidentified",
    "fair_use": "fair_use",
    "fairuse": "fair_use",
    "license": "licensed",
    "licensed": "licensed",
    "authorized": "licensed",
    "original_content": "original_content",
    "originalcontent": "original_content",
    "public_domain": "public_domain",
    "publicdomain": "public_domain",
}
RIGHT_TYPE = {
    "general": "general",
    "performance": "performance",
    "synchronization": "synchronization",
    "sync": "synchronization",
    "mechanical": "mechanical",
}
PLATFORM = {
    "youtube": "youtube",
    "yt": "youtube",
    "tiktok": "tiktok",
    "tik_tok": "tiktok",
    "instagram": "instagram",
    "ig": "instagram",
    "facebook": "facebook",
    "fb": "facebook",
    "x": "x",
    "twitter": "x",
}


def open_enum(raw: str | None, mapping: dict[str, str], fallback: str) -> str:
    if raw is None:
        return fallback
    key = snake(raw)
    return mapping.get(key, mapping.get(key.replace("_", ""), fallback))
