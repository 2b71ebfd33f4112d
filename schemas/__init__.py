"""Pydantic v2 models of everything claimwatch reads and writes."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from schemas.alerts import ALERT_TYPES, SEVERITIES, Alert, Subject, severity_rank
from schemas.events import (
    CatalogItem,
    ClaimEvent,
    Event,
    MetricObservation,
    OwnershipConflict,
    QuarantineEntry,
    RightsRecord,
)
from schemas.report import WeeklyReport

EXPORTED: dict[str, type[BaseModel]] = {
    "claim_event": ClaimEvent,
    "metric_observation": MetricObservation,
    "catalog_item": CatalogItem,
    "rights_record": RightsRecord,
    "ownership_conflict": OwnershipConflict,
    "quarantine_entry": QuarantineEntry,
    "alert": Alert,
    "weekly_report": WeeklyReport,
}


def export_json_schemas(out_dir: Path) -> list[Path]:
    """Write one JSON Schema file per model; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in EXPORTED.items():
        path = out_dir / f"{name}.schema.json"
        path.write_text(json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


__all__ = [
    "ALERT_TYPES",
    "SEVERITIES",
    "Alert",
    "CatalogItem",
    "ClaimEvent",
    "Event",
    "MetricObservation",
    "OwnershipConflict",
    "QuarantineEntry",
    "RightsRecord",
    "Subject",
    "WeeklyReport",
    "export_json_schemas",
    "severity_rank",
]
