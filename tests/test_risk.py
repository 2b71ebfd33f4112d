"""Dispute risk: the asset-level ladder pinned at its boundaries, and the asset alert end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claimwatch.cli import main
from claimwatch.detect import dispute_risk as risk
from claimwatch.detect.dispute_risk import AssetRiskFeatures, asset_dispute_risk, risk_level
from claimwatch.sample.generator import generate

F = AssetRiskFeatures


@pytest.mark.parametrize(
    ("features", "level"),
    [
        (F(), "low"),
        (F(conflicts=1), "low"),
        (F(surged=True), "low"),
        (F(open_disputes=1), "low"),
        (F(open_appeals=2, views_per_day=10_000_000.0), "low"),  # a busy appealed claim is the claim's risk
        (F(conflicts=1, surged=True), "medium"),  # exactly 0.5: logit 0
        (F(conflicts=1, open_disputes=1), "medium"),  # exactly 0.5: logit 0
        (F(surged=True, open_disputes=1), "low"),
        (F(conflicts=1, surged=True, open_disputes=1), "high"),  # the three together
        # Conflict and three disputes need log10(1 + v / 10,000) >= 0.786: v >= 51,100 views a day.
        (F(conflicts=1, open_disputes=3, views_per_day=52_000.0), "high"),
        (F(conflicts=1, open_disputes=3, views_per_day=50_000.0), "medium"),
        (F(conflicts=1, takedowns=1, open_disputes=1), "high"),
        # The response timer tips it: 3 days left counts, 3.1 does not.
        (F(conflicts=1, open_disputes=1, least_days_left=3.0, views_per_day=70_000.0), "high"),
        (F(conflicts=1, open_disputes=1, least_days_left=3.1, views_per_day=70_000.0), "medium"),
        (F(conflicts=1, open_disputes=1, open_appeals=1, least_days_left=3.0), "high"),
    ],
)
def test_the_asset_ladder(features: AssetRiskFeatures, level: str) -> None:
    score, drivers = asset_dispute_risk(features)
    assert risk_level(score) == level, (score, drivers)


def test_the_asset_weights_are_the_named_ones() -> None:
    """A change of a weight changes a named constant, which the ladder above pins."""
    _, drivers = asset_dispute_risk(F(conflicts=1, surged=True, open_disputes=2, open_appeals=3, takedowns=1))
    weights = {str(d["driver"]).split(" (")[0].split(" in ")[0]: d["weight"] for d in drivers}
    assert weights == {
        "ownership conflict": risk.ASSET_CONFLICT,
        "claim surge": risk.ASSET_SURGE,
        "2 open disputes": risk.ASSET_FIRST_DISPUTE + risk.ASSET_MORE_DISPUTES,
        "3 open appeals": risk.ASSET_APPEAL * risk.ASSET_APPEALS_CAP,
        "1 takedown requested": risk.ASSET_TAKEDOWN,
    }


def test_an_asset_whose_conflict_surge_and_dispute_add_up_is_flagged_and_ranked(tmp_path: Path) -> None:
    generate(tmp_path / "in", seed=3, items=60, days=8)
    labels = [lab for lab in json.loads((tmp_path / "in" / "labels.json").read_text()) if lab["type"] == "dispute_risk"]
    asset_labels = [lab for lab in labels if "asset_id" in lab["subject"]]
    assert asset_labels, "the sample holds the scenario"
    assert main(["run", "--input", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    alerts = [json.loads(line) for line in (tmp_path / "out" / "alerts.jsonl").read_text().splitlines()]
    flagged = [a for a in alerts if a["evidence"].get("rule") == "dispute_risk.asset_crossed_high"]
    for label in asset_labels:
        mine = [a for a in flagged if a["subject"]["asset_id"] == label["subject"]["asset_id"]]
        assert mine, label
        drivers = " ".join(d["driver"] for d in mine[0]["evidence"]["drivers"])
        assert "ownership conflict" in drivers and "claim surge" in drivers and "open dispute" in drivers
        assert mine[0]["subject"]["content_id"] == label["subject"]["content_id"]
        rows = [
            (r, ranked)
            for week in sorted(p for p in (tmp_path / "out").iterdir() if (p / "report.json").exists())
            for ranked in [json.loads((week / "report.json").read_text())["dispute_risk_by_asset"]]
            for r in ranked
            if r["asset_id"] == label["subject"]["asset_id"] and r["asset_score"] >= 0.8
        ]
        assert rows, "the week's report lists the asset with its own score"
        row, ranked = rows[0]
        assert row["level"] == "high" and row["asset_drivers"]
        assert ranked.index(row) < 3, "ranked with the riskiest"
