"""The alert object of the output contract."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

AlertType = Literal[
    "view_spike",
    "engagement_spike",
    "viral_propagation",
    "claim_surge",
    "rights_conflict",
    "content_id_flag",
    "performance_discrepancy",
    "dispute_opened",
    "dispute_risk",
]
ALERT_TYPES: tuple[str, ...] = AlertType.__args__  # type: ignore[attr-defined]

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")
REVIEW_SEVERITIES = frozenset({"high", "critical"})


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


SUBJECT_KEY_ORDER = ("content_id", "asset_id", "video_id", "claim_id", "platform_content_id")


class Subject(BaseModel):
    """Every id that applies to what an alert is about."""

    model_config = ConfigDict(extra="forbid")

    content_id: str | None = None
    platform: str | None = None
    platform_content_id: str | None = None
    video_id: str | None = None
    asset_id: str | None = None
    claim_id: str | None = None
    channel_id: str | None = None

    def ids(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v}

    def key(self) -> str | None:
        """What the alert is about, most stable id first: what groups and rate-limits alerts."""
        ids = self.ids()
        return next((f"{k}:{ids[k]}" for k in SUBJECT_KEY_ORDER if k in ids), None)


class Alert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alert_id: str
    type: AlertType
    severity: Severity
    score: float = Field(ge=0.0, le=1.0)
    subject: Subject
    event_time: datetime
    detected_at: datetime
    title: str
    evidence: dict[str, Any] = Field(default_factory=dict)
