"""The monthly data-quality audit: what arrived per source and day, what could not be read, the trend."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from batch.audit import build_audit, month_days
from batch.report import ReportInputs
from claimwatch.cli import main
from claimwatch.sample.generator import generate
from schemas.events import QuarantineEntry


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("audit")
    generate(base / "in", seed=4, items=40, days=8)
    (base / "in" / "polls" / "polls_20261105.jsonl.gz").unlink()  # a day the collector did not deliver
    with gzip.open(base / "in" / "polls" / "polls_20261106.jsonl.gz", "at", encoding="utf-8") as fh:
        fh.write("not json\n" + '{"platform":"youtube","platform_content_id":"x","observed_at":"soon"}\n')
    assert main(["run", "--input", str(base / "in"), "--out", str(base / "out"), "--quiet"]) == 0
    assert main(["audit", "--month", "2026-11", "--from-dir", str(base / "out"), "--out", str(base / "audit")]) == 0
    return base


def test_the_audit_counts_what_the_files_gave_and_finds_the_missing_day(run: Path) -> None:
    audit = json.loads((run / "audit" / "audit.json").read_text())
    current = audit["current"]
    files = [json.loads(line)["row"] for line in (run / "out" / "rollups.jsonl").read_text().splitlines()]
    files = [f for f in files if f.get("kind") == "file" and str(f.get("day", "")).startswith("2026-11")]
    assert current["records_read"] == sum(f["records"] for f in files) > 0
    assert current["completeness"]["polls"]["missing_days"] == ["2026-11-05"]
    assert current["by_source"]["polls"]["files"] == len([f for f in files if f["source"] == "polls"])
    quarantined = [
        QuarantineEntry.model_validate_json(line)
        for line in (run / "out" / "quarantine.jsonl").read_text().splitlines()
    ]
    paths = {f["path"] for f in files}
    expected = Counter(q.reason_code for q in quarantined if q.source_file in paths)
    repeats = expected["duplicate_record"]  # polls sent twice by the generator's collectors
    assert current["quarantined_by_reason"] == dict(expected) and sum(expected.values()) == 2 + repeats
    assert repeats == current["duplicate_records"] > 0
    assert current["quarantine_rate"] == round((2 + repeats) / current["records_read"], 5)
    assert audit["trend"]["records_read"]["direction"] == "no previous month"


def test_the_weekly_reports_count_the_same_records(run: Path) -> None:
    """The weekly data-quality section and the audit count files with one function."""
    audit = json.loads((run / "audit" / "audit.json").read_text())
    weekly: Counter[str] = Counter()
    for report in sorted((run / "out").glob("2026-W*/report.json")):
        for source, row in json.loads(report.read_text())["data_quality"]["records_read_by_source"].items():
            weekly[source] += row["records"]
    assert dict(weekly) == {s: row["records"] for s, row in audit["current"]["by_source"].items()}


def test_the_page_shows_the_grid_and_the_trend(run: Path) -> None:
    page = (run / "audit" / "audit.html").read_text()
    assert "Data-quality audit, 2026-11" in page and "Trend against 2026-10" in page
    assert (
        page.count("class='miss'")
        == json.loads((run / "audit" / "audit.json").read_text())["current"]["missing_source_days"]
    )


def _file(path: str, source: str, day: str, records: int, quarantined: int) -> dict[str, object]:
    return {
        "kind": "file",
        "path": path,
        "source": source,
        "day": day,
        "records": records,
        "accepted": records - quarantined,
        "quarantined": quarantined,
        "events": records - quarantined,
        "duplicates": 0,
    }


def test_the_trend_says_worse_when_more_is_quarantined_than_last_month() -> None:
    inputs = ReportInputs()
    entries = []
    for month, bad in (("2026-10", 1), ("2026-11", 5)):
        for day in month_days(month):
            path = f"polls_{day}.jsonl"
            inputs.rows[f"file|{path}"] = _file(path, "polls", day, 100, bad)
            entries += [
                QuarantineEntry(source="polls", source_file=path, line=n, reason="bad", reason_code="x")
                for n in range(bad)
            ]
    inputs.quarantine = entries
    audit = build_audit(inputs, "2026-11")
    assert audit["trend"]["quarantine_rate"] == {
        "this_month": 0.05,
        "previous_month": 0.01,
        "change": 0.04,
        "direction": "worse",
    }
    assert audit["current"]["missing_source_days"] == 0 and audit["previous"]["month"] == "2026-10"
