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
from schemas.report import REPORT_SCHEMA_VERSION, WeeklyReport
from schemas.rollups import ROLLUP_ROW

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
# The version each exported contract is at; the report carries its own as ``schema_version``.
VERSIONS = {name: 1 for name in EXPORTED} | {"weekly_report": REPORT_SCHEMA_VERSION, "rollup_row": 1}


def schema_id(name: str) -> str:
    """A contract's stable name: ``urn:claimwatch:schema:<name>:v<version>``."""
    return f"urn:claimwatch:schema:{name}:v{VERSIONS[name]}"


def json_schemas() -> dict[str, dict[str, object]]:
    """Every contract's JSON Schema, each with its ``$id``, by name."""
    schemas: dict[str, dict[str, object]] = {name: model.model_json_schema() for name, model in EXPORTED.items()}
    schemas["rollup_row"] = ROLLUP_ROW.json_schema()
    return {name: {"$id": schema_id(name), **schema} for name, schema in schemas.items()}


def export_json_schemas(out_dir: Path) -> list[Path]:
    """Write one JSON Schema file per model; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = out_dir / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
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
