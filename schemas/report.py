"""The weekly report of the output contract (``report.json``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class Period(BaseModel):
    start: datetime
    end: datetime


class WeeklyReport(BaseModel):
    model_config = ConfigDict(extra="allow")

    week: str
    period: Period
    claims_summary: dict[str, Any]
    high_priority: list[dict[str, Any]]
    trends: dict[str, Any]
    dispute_risk: list[dict[str, Any]]
    data_quality: dict[str, Any]
    alerts_summary: dict[str, Any]

    def high_risk_counts(self) -> tuple[int, int]:
        """Claims and assets at a high dispute risk, counted apart: an asset can be high on its own
        context (another owner, a surge, disputes across its claims) while none of its claims is."""
        assets = (self.model_extra or {}).get("dispute_risk_by_asset") or []
        return (
            sum(1 for r in self.dispute_risk if r.get("level") == "high"),
            sum(1 for r in assets if r.get("level") == "high"),
        )
