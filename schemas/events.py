"""Canonical events: what every reader produces and what the detection core consumes.

Enumerations that come from YouTube are *open*: a known token is normalised (``status``), the
original token is kept beside it (``status_raw``) and an unknown one becomes ``"unknown"`` /
``"other"`` without failing the record.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

ClaimStatus = Literal[
    "active",
    "inactive",
    "pending",
    "potential",
    "routed_for_review",
    "disputed",
    "appealed",
    "takedown",
    "delayed_takedown",
    "takedown_under_review",
    "unknown",
]
ClaimEventType = Literal[
    "snapshot",
    "claim_created",
    "claim_updated",
    "claim_released",
    "claim_reinstated",
    "dispute_created",
    "dispute_resolved",
    "appeal_created",
    "appeal_resolved",
    "takedown",
    "expired",
    "other",
]
ClaimSource = Literal[
    "reporting_api_claims",
    "studio_claims_csv",
    "partner_api_claim",
    "partner_api_claim_history",
    "video_metadata_report",
]
ContentType = Literal["audio", "visual", "audiovisual", "unknown"]
ClaimOrigin = Literal[
    "audio_match",
    "video_match",
    "melody_match",
    "audiovisual_match",
    "descriptive_search",
    "manual_studio",
    "batch",
    "api",
    "partner_uploaded",
    "other",
    "unknown",
]
DisputeReason = Literal["misidentified", "fair_use", "licensed", "original_content", "public_domain", "other"]
RightType = Literal["general", "performance", "synchronization", "mechanical", "other"]
PolicyAction = Literal["monetize", "track", "block"]

# Free text fields are hostile input: they are kept, but never beyond this many characters.
MAX_TEXT = 1000
# Bounds every event obeys, whoever wrote it (a reader, or a record on the log): the detection core
# relies on them, so no value reaching it can overflow a float or a date. No real counter comes near
# 10^15 (the most viewed video has ~1.6·10^10 views); nothing predates YouTube or lies past 2099.
MAX_COUNT = 10**15
MIN_YEAR, MAX_YEAR = 2000, 2099


def _moment(value: datetime) -> datetime:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"year {value.year} outside {MIN_YEAR}–{MAX_YEAR}")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Moment = Annotated[datetime, AfterValidator(_moment)]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    source_file: str = ""
    source_line: int = 0


def _bounded(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return value[:MAX_TEXT]
    return value


class ClaimEvent(_Event):
    """One observation of a claim: a row of a daily snapshot, or one lifecycle event."""

    kind: Literal["claim"] = "claim"
    event_id: str
    source: ClaimSource
    source_report_type: str | None = None
    observed_at: Moment
    event_time: Moment
    event_type: ClaimEventType = "snapshot"
    claim_id: str
    asset_id: str | None = None
    video_id: str | None = None
    channel_id: str | None = None
    reference_id: str | None = None
    custom_id: str | None = None
    uploader_channel_id: str | None = None
    status: ClaimStatus = "unknown"
    status_raw: str = ""
    status_detail: str | None = None
    content_type: ContentType = "unknown"
    origin: ClaimOrigin = "unknown"
    origin_raw: str = ""
    is_partner_uploaded: bool | None = None
    third_party_claim: bool | None = None
    other_owners_claiming: list[str] = Field(default_factory=list)
    claimed_by_this_owner: bool | None = None
    policy_action_by_territory: dict[str, PolicyAction] = Field(default_factory=dict)
    dispute_reason: DisputeReason | None = None
    dispute_reason_raw: str | None = None
    dispute_notes: str | None = None
    claim_created_at: Moment | None = None
    views_lifetime: Count | None = None
    engaged_views_lifetime: Count | None = None
    matching_duration_s: float | None = Field(default=None, ge=0)
    longest_match_s: float | None = Field(default=None, ge=0)
    video_duration_s: float | None = Field(default=None, ge=0)
    video_title: str | None = None
    channel_title: str | None = None
    asset_title: str | None = None
    isrc: str | None = None
    extra: dict[str, str] = Field(default_factory=dict)

    @field_validator("video_title", "channel_title", "asset_title", "dispute_notes")
    @classmethod
    def bound_text(cls, value: Any) -> Any:
        return _bounded(value)


class MetricObservation(_Event):
    """Counters of one post on one platform.

    ``granularity="cumulative"``: lifetime totals read by a poll at ``event_time``.
    ``granularity="day"``: counts for the UTC day starting at ``period_start`` (analytics reports);
    ``event_time`` is the end of that day, when the figure is complete.
    """

    kind: Literal["metric"] = "metric"
    event_id: str
    source: Literal["platform_poll", "channel_basic", "content_owner_basic"]
    granularity: Literal["cumulative", "day"]
    platform: str
    platform_raw: str = ""
    platform_content_id: str
    channel_id: str | None = None
    event_time: Moment
    period_start: Moment | None = None
    views: Count | None = None
    likes: Count | None = None
    comments: Count | None = None
    shares: Count | None = None
    engaged_views: Count | None = None
    watch_time_minutes: float | None = Field(default=None, ge=0)
    rows_summed: int = 1
    extra: dict[str, str] = Field(default_factory=dict)


class CatalogItem(_Event):
    """One content item of the distributor's catalog and its ids on every platform."""

    kind: Literal["catalog"] = "catalog"
    content_id: str = Field(min_length=1)
    title: str = ""
    artist: str = ""
    label: str = ""
    isrc: str | None = None
    upc: str | None = None
    custom_id: str | None = None
    asset_id: str | None = None
    release_date: date | None = None
    platform_ids: dict[str, list[str]] = Field(default_factory=dict)
    extra: dict[str, str] = Field(default_factory=dict)

    @field_validator("title", "artist", "label")
    @classmethod
    def bound_text(cls, value: Any) -> Any:
        return _bounded(value)


class RightsRecord(_Event):
    """A share of one right in one asset for some territories, held by one owner."""

    kind: Literal["rights"] = "rights"
    asset_id: str | None = None
    custom_id: str | None = None
    isrc: str | None = None
    owner: str = Field(min_length=1)
    right_type: RightType = "general"
    right_type_raw: str = ""
    territories: list[str] = Field(default_factory=lambda: ["WW"])
    share_pct: float = Field(ge=0, le=100)
    valid_from: date | None = None
    valid_to: date | None = None
    extra: dict[str, str] = Field(default_factory=dict)

    @field_validator("owner")
    @classmethod
    def bound_text(cls, value: Any) -> Any:
        return _bounded(value)

    def key(self) -> str:
        return self.asset_id or self.custom_id or self.isrc or ""


class OwnershipConflict(_Event):
    """Another owner claims ownership of one of our assets (asset conflicts report)."""

    kind: Literal["conflict"] = "conflict"
    event_id: str
    asset_id: str
    custom_id: str | None = None
    conflicting_owner: str
    territories: list[str] = Field(default_factory=list)
    right_type: RightType = "general"
    ratio: float | None = None
    views_in_conflict: Count | None = None
    lifetime_views_in_conflict: Count | None = None
    observed_at: Moment
    event_time: Moment
    extra: dict[str, str] = Field(default_factory=dict)

    @field_validator("conflicting_owner")
    @classmethod
    def bound_text(cls, value: Any) -> Any:
        return _bounded(value)


Event = ClaimEvent | MetricObservation | CatalogItem | RightsRecord | OwnershipConflict


class QuarantineEntry(BaseModel):
    """A record that could not be read: where it was, which field, why. Nothing is dropped."""

    model_config = ConfigDict(extra="forbid")

    source: str
    source_file: str
    line: int
    field: str | None = None
    reason: str
    # Stable and machine-readable (``encoding``, ``cell_count``, ``out_of_range``…), for filtering and
    # counting; ``reason`` says the same for people.
    reason_code: str = "invalid_value"
    raw: str = ""
    # The day the record is about, for a file whose name gives none (a collector's poll log spans
    # days and weeks): its event's day, or that of the record before it. None where the name says.
    data_day: date | None = None


class QuarantineResolution(BaseModel):
    """A quarantine entry dealt with: its corrected record released to the event log (by whom, when).

    Written to the quarantine topic beside the entries; readers of the quarantine (``quarantine
    list``, the weekly report, the audit) count an entry as open until one of these names it.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["resolution"] = "resolution"
    resolves: str  # the entry id (q-…)
    how: Literal["released"] = "released"
    by: str = Field(max_length=200)
    at: datetime


class Retraction(BaseModel):
    """An event on the log that was read and published but is wrong: every re-derivation skips it.

    Keyed ``<partition>:<offset>`` on the compacted retractions topic; the record it names is also a
    quarantine entry (reason ``retracted``), so people can correct it and release it again.
    """

    model_config = ConfigDict(extra="forbid")

    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    event_id: str
    entry_id: str
    source_file: str
    line: int
    by: str = Field(max_length=200)
    at: datetime
    reason: str = Field(max_length=1_000)
    ids: dict[str, str] = Field(default_factory=dict)  # the event's claim, video, asset ids: what it was about
