"""What changed between two generations (batch/impact.py), as plain functions over two generations:
alerts added, removed and changed with the records that caused them, dispute-risk moves, report figures."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from batch.impact import RISK_MOVE, Generation, InputRecord, alert_changes, impact, input_summary, render_html
from schemas.alerts import Alert, Subject

WHEN = datetime(2026, 11, 10, 9, tzinfo=UTC)


def alert(alert_id: str, severity: str = "high", score: float = 0.8, **evidence: Any) -> Alert:
    return Alert(
        alert_id=alert_id,
        type="dispute_opened",
        severity=severity,
        score=score,
        subject=Subject(claim_id=f"c-{alert_id}", video_id=f"v-{alert_id}"),
        event_time=WHEN,
        detected_at=WHEN,
        title=f"Claim c-{alert_id} <b>disputed</b>",
        evidence=evidence,
    )


def claim_row(claim_id: str, risk: float, week: str = "2026-W46") -> dict[str, Any]:
    return {
        "kind": "claim",
        "week": week,
        "records": {"reporting_api_claims": 1},
        "days": {"reporting_api_claims": ["2026-11-10"]},
        "claim_id": claim_id,
        "status": "active",
        "status_time": WHEN.timestamp(),
        "transitions": {},
        "asset_id": "A1",
        "risk": risk,
    }


def test_alerts_added_removed_and_changed_name_the_records_that_caused_them() -> None:
    before = Generation(1, alerts={a.alert_id: a for a in (alert("a"), alert("b"), alert("c"))})
    after = Generation(
        2,
        alerts={
            a.alert_id: a
            for a in (
                alert("b"),
                alert("c", severity="critical", score=0.95),
                alert("d", source_file="f.csv", source_line=7),
            )
        },
    )
    records = [
        InputRecord("retracted", "claims.csv", 3, "q-1", "ops", (("claim_id", "c-a"),)),
        InputRecord("released", "f.csv", 7, "q-2", "ops", (("claim_id", "c-zzz"),)),
    ]
    changes = alert_changes(before, after, records)
    assert [a["alert_id"] for a in changes["added"]] == ["d"]
    assert [a["alert_id"] for a in changes["removed"]] == ["a"]
    assert changes["changed"][0]["changes"] == {
        "severity": {"from": "high", "to": "critical"},
        "score": {"from": 0.8, "to": 0.95},
    }
    # By the line it was raised on first, else by the claim or video it is about.
    assert changes["added"][0]["caused_by"][0]["entry_id"] == "q-2"
    assert changes["removed"][0]["caused_by"][0]["entry_id"] == "q-1"
    assert changes["changed"][0]["caused_by"] == []


def test_only_risk_moves_of_at_least_the_threshold_count_and_the_biggest_come_first() -> None:
    before = Generation(1, rows={"1": claim_row("c1", 0.2), "2": claim_row("c2", 0.5), "3": claim_row("c3", 0.9)})
    after = Generation(
        2,
        rows={
            "1": claim_row("c1", 0.2 + RISK_MOVE / 2),  # too small to be a move
            "2": claim_row("c2", 0.9),
            "4": claim_row("c4", 0.3),  # new in the replayed generation
        },
    )
    result = impact(before, after, ["2026-W46"])
    moves = [(m["claim_id"], m["from"], m["to"]) for m in result["dispute_risk_moves"]]
    assert moves == [("c3", 0.9, 0.0), ("c2", 0.5, 0.9), ("c4", 0.0, 0.3)]
    assert impact(before, after, [])["dispute_risk_moves"] == result["dispute_risk_moves"]
    assert impact(before, after, ["2026-W40"])["dispute_risk_moves"] == []


def test_report_figures_that_differ_are_listed_per_week() -> None:
    before = Generation(1, rows={"1": claim_row("c1", 0.2)})
    after = Generation(2, rows={"1": claim_row("c1", 0.2), "2": claim_row("c2", 0.95)})
    changes = {
        c["figure"]: (c["from"], c["to"]) for c in impact(before, after, ["2026-W46"])["report_changes"]["2026-W46"]
    }
    assert changes["claims_summary.total"] == (1, 2)
    assert changes["dispute_risk.listed"] == (0, 1)


def test_input_summary_and_the_page_escape_what_they_show() -> None:
    records = [InputRecord("retracted", "<script>.csv", n, f"q-{n}", by, ()) for n, by in ((1, "ops"), (2, "ann"))]
    assert input_summary(records) == [
        {"source_file": "<script>.csv", "kind": "retracted", "records": 2, "by": ["ann", "ops"]}
    ]
    page = render_html(impact(Generation(1), Generation(2, alerts={"x": alert("x")}), [], records))
    assert "<script>" not in page and "&lt;b&gt;disputed" in page
