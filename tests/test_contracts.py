"""The stream → batch and batch → reader contracts: typed roll-up rows and the typed weekly report.

Every row the detection core leaves and every report it leads to are checked against the exported
JSON Schemas (with ``jsonschema``, as a consumer in another language would), and a row that is not
a row of the contract is refused and counted, not guessed at.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from batch.job import EXIT_PARTIAL
from batch.job import run as run_job
from batch.report import WeekIndex, build_report, read_run_folder
from schemas import EXPORTED, json_schemas
from schemas.report import REPORT_SCHEMA_VERSION, WeeklyReport
from schemas.rollups import ROLLUP_ROW

# Its tests read the shared embedded run of the bundled sample: one test process makes it once.
pytestmark = pytest.mark.xdist_group("bundled-run")


def rows_of(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line)["row"] for line in (folder / "rollups.jsonl").read_text().splitlines()]


def test_every_exported_schema_names_itself_and_its_version() -> None:
    schemas = json_schemas()
    assert set(schemas) == {*EXPORTED, "rollup_row"}
    ids = [str(s["$id"]) for s in schemas.values()]
    assert len(set(ids)) == len(ids)
    assert schemas["weekly_report"]["$id"] == f"urn:claimwatch:schema:weekly_report:v{REPORT_SCHEMA_VERSION}"
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_every_row_the_core_leaves_is_a_row_of_the_contract(bundled_run: Path) -> None:
    rows = rows_of(bundled_run)
    validator = jsonschema.Draft202012Validator(json_schemas()["rollup_row"])
    kinds = set()
    for row in rows:
        errors = list(validator.iter_errors(row))
        assert not errors, (row, errors[0].message)
        kinds.add(ROLLUP_ROW.validate_python(row)["kind"])
    assert kinds == {"claim", "post", "asset", "catalog", "file"}  # the bundled sample has no late data


def test_every_weekly_report_matches_its_exported_schema(bundled_run: Path) -> None:
    validator = jsonschema.Draft202012Validator(json_schemas()["weekly_report"])
    reports = sorted(bundled_run.glob("*/report.json"))
    assert len(reports) == 2
    for path in reports:
        report = json.loads(path.read_text())
        assert report["schema_version"] == REPORT_SCHEMA_VERSION
        errors = list(validator.iter_errors(report))
        assert not errors, errors[0].message


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda r: r.pop("status"), "status"),  # a required field gone
        (lambda r: r.update(status_time="yesterday"), "status_time"),  # a wrong type
        (lambda r: r.update(kind="claimz"), "kind"),  # a kind nobody knows
        (lambda r: r.update(surprise=1), "surprise"),  # a field the contract does not have
    ],
)
def test_a_row_that_is_not_of_the_contract_is_refused_and_counted(bundled_run: Path, damage: Any, why: str) -> None:
    inputs = read_run_folder(bundled_run)
    key = next(k for k, r in sorted(inputs.rows.items()) if r["kind"] == "claim" and r["week"] == "2026-W46")
    damage(inputs.rows[key])
    index = WeekIndex.build(inputs)
    assert list(index.refused) == [key]
    assert why in index.refused[key]
    report = build_report(index, "2026-W46")
    assert report.data_quality["rows_refused"] == 1


def test_the_weekly_job_says_a_report_with_refused_rows_is_partial(bundled_run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(bundled_run, folder)
    lines = (folder / "rollups.jsonl").read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if '"kind": "post"' in line and "2026-W46" in line)
    record = json.loads(lines[at])
    record["row"]["first"] = "not a poll"
    lines[at] = json.dumps(record)
    (folder / "rollups.jsonl").write_text("\n".join(lines) + "\n")
    outcome = run_job("2026-W46", str(tmp_path / "reports"), from_dir=str(folder))
    assert outcome.code == EXIT_PARTIAL
    report = json.loads((tmp_path / "reports" / "2026-W46" / "report.json").read_text())
    assert report["data_quality"]["rows_refused"] == 1
    assert "roll-up row(s) refused" in (tmp_path / "reports" / "2026-W46" / "report.html").read_text()


def test_the_report_contract_refuses_a_figure_it_does_not_define(bundled_run: Path) -> None:
    """A figure added or renamed in the builder fails here, not in a consumer's parser."""
    report = json.loads((bundled_run / "2026-W46" / "report.json").read_text())
    report["claims_summary"]["new_claims"] = report["claims_summary"].pop("new")
    with pytest.raises(ValidationError, match="new"):
        WeeklyReport.model_validate(report)
