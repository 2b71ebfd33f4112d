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
