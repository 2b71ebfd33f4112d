"""The weekly report of the output contract (``report.json``): what a consumer may rely on.

Every section is typed here and checked when the report is built: a figure that is added, renamed
or dropped changes this file (and ``schema_version`` when a consumer would notice), never silently.
The sections are typed dicts, not models, so the builder, the HTML and the CSVs index them as they
always did while mypy and the exported JSON Schema know every key.

``schema_version`` changes when a field is removed, renamed or changes meaning; adding a field
does not change it (consumers ignore fields they do not know).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, with_config
from typing_extensions import TypedDict

from schemas.rollups import RiskDriver

REPORT_SCHEMA_VERSION = 1
_STRICT = ConfigDict(extra="forbid")


class Period(BaseModel):
    model_config = _STRICT

    start: datetime
    end: datetime


# ---------------------------------------------------------------------------------- claims


@with_config(_STRICT)
class TopAsset(TypedDict):
    asset_id: str
    content_id: str | None
    claims_changed: int
    claims: int


@with_config(_STRICT)
class TopChannel(TypedDict):
    channel_id: str
    channel_title: str
    claims: int


@with_config(_STRICT)
class ClaimsSummary(TypedDict):
    """Our claims on the week's claims reports, and what changed (see ``definitions``)."""

    total: int
    by_status: dict[str, int]
    by_type: dict[str, int]
    by_origin: dict[str, int]
    by_policy: dict[str, int]
    new: int
    older_claims_first_seen: int
    released: int
    disputed: int
    appealed: int
    taken_down: int
    released_by_outcome: dict[str, int]
    status_changes: dict[str, int]
    third_party_claims: int
    top_assets: list[TopAsset]
    top_channels: list[TopChannel]


@with_config(_STRICT)
class WeekOverWeek(TypedDict):
    """One headline figure beside last week's. ``change`` is None (with a ``note``) when either week
    has no data to compare; activity is also compared per day of data."""

    this_week: int
    last_week: int
    change: int | None
    note: NotRequired[str]
    per_day: NotRequired[float]
    per_day_last_week: NotRequired[float]
    change_pct_per_day: NotRequired[float | None]


# --------------------------------------------------------------------------- review list


@with_config(_STRICT)
class ReviewAlert(TypedDict):
    """An alert of the alert contract, without its wall-clock ``detected_at``."""

    alert_id: str
    type: str
    severity: str
    score: float
    subject: dict[str, str | None]
    event_time: str
    title: str
    evidence: dict[str, Any]


@with_config(_STRICT)
class ReviewGroup(TypedDict):
    """The high and critical alerts about one subject, most urgent first."""

    subject_key: str
    subject: dict[str, str]
    title: str
    latest: str
    max_severity: str
    alerts: list[ReviewAlert]


# ---------------------------------------------------------------------------------- trends


@with_config(_STRICT)
class PlatformTrend(TypedDict):
    views: int
    engagements: int
    posts: int
    views_per_day: int
    views_per_day_last_week: int | None
    change_pct: float | None
    engagement_rate: float | None


@with_config(_STRICT)
class Mover(TypedDict):
    platform: str
    platform_content_id: str
    views_per_day: int
    views_per_day_last_week: int
    ratio: float


@with_config(_STRICT)
class ViralItem(TypedDict):
    content_id: str | None
    title: str
    platforms: list[str]
    max_ratio: float
    first_alert: str


@with_config(_STRICT)
class Trends(TypedDict):
    per_platform: dict[str, PlatformTrend]
    daily_views: dict[str, dict[str, int]]
    days_with_polls: int
    top_movers: list[Mover]
    viral_items: list[ViralItem]


# ---------------------------------------------------------------------------- dispute risk


@with_config(_STRICT)
class ClaimRisk(TypedDict):
    claim_id: str
    asset_id: str | None
    video_id: str | None
    channel_id: str | None
    content_id: str | None
    title: str
    video_title: str | None
    status: str | None
    score: float
    level: str
    drivers: list[RiskDriver]


@with_config(_STRICT)
class RecurringDriver(TypedDict):
    driver: str
    claims: int


@with_config(_STRICT)
class AssetRisk(TypedDict):
    asset_id: str
    content_id: str | None
    title: str
    claims: int
    open_disputes_and_appeals: int
    new_claims: int
    score: float
    level: str
    asset_score: float
    top_claim_score: float
    asset_drivers: list[str]
    drivers: list[RecurringDriver]


# ---------------------------------------------------------------------------- data quality


@with_config(_STRICT)
class SourceRead(TypedDict):
    files: int
    records: int
    accepted: int
    quarantined: int


@with_config(_STRICT)
class SchemaDrift(TypedDict):
    family: str
    file: str
    day: str | None
    since: str
    new_columns: list[str]
    missing_columns: list[str]


@with_config(_STRICT)
class DataQuality(TypedDict):
    days_with_data: int
    records_this_week_by_source: dict[str, int]
    records_read_by_source: dict[str, SourceRead]
    quarantined_by_reason: dict[str, int]
    quarantined_total: int
    days_by_source: dict[str, int]
    late_or_duplicate: dict[str, int]
    sources_missing_for_a_day: dict[str, list[str]]
    schema_drift: list[SchemaDrift]
    uncatalogued_by_source: dict[str, int]
    rows_refused: int  # roll-up rows of any week that are not rows of the contract (schemas/rollups.py)


@with_config(_STRICT)
class AlertsSummary(TypedDict):
    total: int
    by_type: dict[str, int]
    by_severity: dict[str, int]


# ---------------------------------------------------------------------------------- report


class WeeklyReport(BaseModel):
    """One ISO week's summary and dispute-risk report."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = Field(default=1, description="see the module's docstring")
    week: str = Field(pattern=r"^\d{4}-W\d{2}$")
    period: Period
    partial_week: bool
    claims_summary: ClaimsSummary
    week_over_week: dict[str, WeekOverWeek]
    high_priority: list[ReviewGroup]
    trends: Trends
    dispute_risk: list[ClaimRisk]
    dispute_risk_by_asset: list[AssetRisk]
    data_quality: DataQuality
    alerts_summary: AlertsSummary
    definitions: dict[str, str]

    def high_risk_counts(self) -> tuple[int, int]:
        """Claims and assets at a high dispute risk, counted apart: an asset can be high on its own
        context (another owner, a surge, disputes across its claims) while none of its claims is."""
        return (
            sum(1 for r in self.dispute_risk if r["level"] == "high"),
            sum(1 for r in self.dispute_risk_by_asset if r["level"] == "high"),
        )
