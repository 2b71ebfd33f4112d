"""The weekly report against an independent recount (``tests/recount.py``, standard library only) of
a data set as some real deliveries are: claims reports without creation dates (a Studio export has
none) and poll files whose names carry no date (a collector's batches, each across several days)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests import recount

# One test process makes the data set and its run once (a module's fixture is made by every process
# that runs one of its tests).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("recount")]
WEEK = "2026-W46"  # the second week: the first lists every older claim on its Monday


@pytest.fixture(scope="module")
def undated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    base = tmp_path_factory.mktemp("undated")
    data, out = base / "data", base / "out"
    for argv in (
        ["sample", "--out", str(data), "--seed", "5", "--items", "60", "--days", "15", "--undated"],
        ["run", "--quiet", "--input", str(data), "--out", str(out)],
    ):
        done = subprocess.run([sys.executable, "-m", "claimwatch.cli", *argv], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    report = json.loads((out / WEEK / "report.json").read_text())
    return data, report | {"_out": str(out)}


def test_the_data_set_is_undated(undated: tuple[Path, dict[str, Any]]) -> None:
    data, _ = undated
    assert all(recount.day_of_name(p) is None for p in (data / "polls").iterdir())
    for path in (data / "claims").glob("*.csv"):
        assert "claim_created_date" not in recount.read_csv(path)[0]


def test_claims_summary_matches_the_recount(undated: tuple[Path, dict[str, Any]]) -> None:
    data, report = undated
    expected = recount.claims_summary(data, WEEK)
    expected.pop("_ours")
    shown = {k: report["claims_summary"][k] for k in expected}
    assert shown == expected
    assert expected["older_claims_first_seen"] < expected["total"], "the backlog is not first seen again"
    assert sum(expected["released_by_outcome"].values()) == expected["released"]
    assets, channels = recount.busiest(recount.claims_summary(data, WEEK))
    shown_assets = report["claims_summary"]["top_assets"]
    assert [(a["asset_id"], a["claims_changed"], a["claims"]) for a in shown_assets] == assets
    assert [(c["channel_id"], c["claims"]) for c in report["claims_summary"]["top_channels"]] == channels


def test_week_over_week_matches_the_recount_of_both_weeks(undated: tuple[Path, dict[str, Any]]) -> None:
    data, report = undated
    now = recount.claims_summary(data, WEEK)
    before = recount.claims_summary(data, "2026-W45")
    for name in ("total", "new", "released", "disputed", "appealed", "taken_down"):
        row = report["week_over_week"][name]
        assert (row["this_week"], row["last_week"]) == (now[name], before[name]), name
        if name != "total":  # seven days of claims reports in both weeks
            assert (row["per_day"], row["per_day_last_week"]) == (round(now[name] / 7, 2), round(before[name] / 7, 2))


def test_dispute_risk_lists_every_open_dispute_and_counts_claims_per_asset(
    undated: tuple[Path, dict[str, Any]],
) -> None:
    data, report = undated
    summary = recount.claims_summary(data, WEEK)
    open_now = recount.open_disputes(summary)
    assert open_now, "the week has open disputes to list"
    assert {r["claim_id"] for r in report["dispute_risk"] if r["status"] in recount.OPEN} == open_now
    ours = summary["_ours"]
    for row in report["dispute_risk"]:  # the drivers the raw records decide, and the score they make
        claim = ours[row["claim_id"]]
        drivers = {d["driver"]: d["weight"] for d in row["drivers"]}
        assert row["status"] == claim.status
        assert ("appeal open" in drivers) == (claim.status == "appealed")
        assert ("dispute open" in drivers) == (claim.status == "disputed")
        manual = claim.fields.get("origin") in ("manual_studio", "descriptive_search")
        assert ("manual or descriptive-search claim" in drivers) == manual, row["claim_id"]
        score = 1 / (1 + math.exp(3.0 - sum(drivers.values())))
        assert row["score"] == pytest.approx(score, abs=2e-4)
        assert row["level"] == ("high" if row["score"] >= 0.8 else "medium" if row["score"] >= 0.5 else "low")
    per_asset = recount.assets(summary)
    for row in report["dispute_risk_by_asset"]:
        counted = per_asset.get(row["asset_id"], {"claims": 0, "open_disputes_and_appeals": 0, "new_claims": 0})
        assert {k: row[k] for k in counted} == counted, row["asset_id"]


def test_trends_match_the_recount(undated: tuple[Path, dict[str, Any]]) -> None:
    data, report = undated
    expected = recount.trends(data, WEEK)
    trends = report["trends"]
    assert trends["per_platform"] == expected["per_platform"]
    assert trends["days_with_polls"] == expected["days_with_polls"] == 7
    assert trends["daily_views"] == {"youtube (analytics)": expected["daily_views"]}
    assert trends["top_movers"] == expected["top_movers"]


def test_poll_quality_is_counted_by_the_readings_own_time(undated: tuple[Path, dict[str, Any]]) -> None:
    data, report = undated
    expected = recount.poll_quality(data, WEEK)
    quality = report["data_quality"]
    read = quality["records_read_by_source"]["polls"]
    assert {k: read[k] for k in expected} == expected
    assert read["files"] == 2, "the week's readings are in two batches, each across the week's edge"
    repeats = quality["quarantined_by_reason"].get("platform_poll: duplicate_record", 0)
    assert repeats == quality["late_or_duplicate"]["duplicate_records"] == expected["quarantined"] > 0
    assert quality["days_by_source"]["platform_poll"] == 7
    assert quality["records_this_week_by_source"]["platform_poll"] == expected["accepted"]


def test_alert_counts_match_the_run_s_alerts(undated: tuple[Path, dict[str, Any]]) -> None:
    _, report = undated
    start = recount.week_start(WEEK)
    alerts = [
        a
        for line in (Path(report["_out"]) / "alerts.jsonl").read_text().splitlines()
        if start <= recount.parse_time((a := json.loads(line))["event_time"]) < start + timedelta(days=7)
    ]
    assert report["alerts_summary"] == {
        "total": len(alerts),
        "by_type": dict(sorted(Counter(a["type"] for a in alerts).items())),
        "by_severity": dict(sorted(Counter(a["severity"] for a in alerts).items())),
    }
