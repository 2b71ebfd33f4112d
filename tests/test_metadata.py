"""The daily metadata check: the claims reports' ISRCs, assets, titles and channels against the catalog."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from batch.metadata import find_mismatches, summary
from claimwatch.cli import main
from claimwatch.sample.generator import generate

CATALOG = {"CW-1": {"content_id": "CW-1", "title": "Midnight Drive", "isrc": "USRC17607839", "asset_id": "A1"}}


def claim(claim_id: str, **fields: str) -> dict[str, str]:
    return {"claim_id": claim_id, "content_id": "CW-1", "video_id": "v1", "channel_id": "UC1", **fields}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"isrc": "US-RC1-76-07839", "asset_id": "A1", "asset_title": "MIDNIGHT DRIVE (Remastered)"}, []),
        ({"isrc": "GBAYE0601498"}, [("isrc", "GBAYE0601498", True)]),
        ({"asset_id": "A2"}, [("asset_id", "A2", True)]),
        ({"asset_title": "Dawn Chorus"}, [("title", "Dawn Chorus", False)]),
        ({"isrc": ""}, []),  # a report that leaves the ISRC out says nothing about it
    ],
)
def test_each_field_is_compared_with_the_catalog(fields: dict[str, str], expected: list[tuple[str, str, bool]]) -> None:
    found = find_mismatches(CATALOG, [claim("c1", **fields)])
    assert [(m.field, m.seen, m.misdirects) for m in found] == expected


def test_a_claim_in_several_weeks_counts_once_and_misdirecting_ones_come_first() -> None:
    rows = [
        claim("c1", asset_title="Dawn Chorus"),
        claim("c2", isrc="GBAYE0601498"),
        claim("c2", isrc="GBAYE0601498"),  # the same claim, next week
        claim("c3", isrc="GBAYE0601498"),
        claim("c4", video_id="v1", channel_id="UC2"),  # one video, two channels
        {"claim_id": "c5", "content_id": "CW-404", "isrc": "X"},  # not in the catalog: nothing to compare
    ]
    found = find_mismatches(CATALOG, rows)
    assert [(m.field, m.claims) for m in found] == [("isrc", 2), ("channel", 1), ("title", 1)]
    assert found[0].example == "claim c2 (video v1)"
    assert summary(found)["misdirecting"] == 1 and summary(found)["by_field"] == {"channel": 1, "isrc": 1, "title": 1}


@pytest.fixture(scope="module")
def mislabelled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generator's data where YouTube holds a wrong ISRC for one asset: every content-owner claims
    report says so (the check compares what the reports say now, the latest value of each claim)."""
    base = tmp_path_factory.mktemp("metadata")
    generate(base / "in", seed=8, items=40, days=8)
    reports = sorted((base / "in" / "claims").glob("content_owner_active_claims_*.csv"))
    victim = None
    for report in reports:
        with report.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        victim = victim or next(r["asset_id"] for r in rows if r["isrc"])
        for r in rows:
            if r["asset_id"] == victim:
                r["isrc"] = "ZZX999900001"
        with report.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    assert main(["run", "--input", str(base / "in"), "--out", str(base / "out"), "--quiet"]) == 0
    return base


def test_a_wrong_isrc_in_a_claims_report_is_found_and_only_it(
    mislabelled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["metadata", "--from-dir", str(mislabelled / "out"), "--json"]) == 1
    found = json.loads(capsys.readouterr().out)
    assert found["misdirecting"] == 1 and found["other"] == 0, found
    ((item, (mismatch,)),) = found["items"].items()
    assert mismatch["field"] == "isrc" and mismatch["seen"] == "ZZX999900001" and mismatch["claims"] >= 1
    catalog = mislabelled / "in" / "catalog"
    assert item in "".join(p.read_text(encoding="utf-8") for p in catalog.iterdir())
    assert main(["metadata", "--from-dir", str(mislabelled / "out")]) == 1
    assert capsys.readouterr().out.splitlines()[0].startswith(f"MISDIRECTS {item} isrc: catalog ")
    audit = mislabelled / "audit"
    assert main(["audit", "--month", "2026-11", "--from-dir", str(mislabelled / "out"), "--out", str(audit)]) == 0
    assert json.loads((audit / "audit.json").read_text())["metadata"]["misdirecting"] == 1
    assert "ZZX999900001" in (audit / "audit.html").read_text()
