"""The weekly report: contract keys, escaping in HTML, formula neutralisation in CSV, bounded sizes."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

from batch.report import ReportInputs, WeekIndex, build_report, render_files
from claimwatch.detect.keyed import KeyedMonitors
from claimwatch.detect.monitor import Monitor
from claimwatch.textsafe import safe_cell
from schemas import ClaimEvent, MetricObservation, WeeklyReport
from schemas.alerts import SEVERITIES, Alert, Subject
from tests.builders import T0, at, catalog, claim, day_end, steady_polls

HOSTILE = '<script>alert("pwned")</script>'
FORMULA = '=HYPERLINK("http://evil.example","x")'


def week_of_data() -> tuple[WeekIndex, str]:
    monitor = Monitor(clock=lambda: T0)
    item = catalog().model_copy(update={"title": HOSTILE})
    events: list[ClaimEvent | MetricObservation] = [
        claim("c1", day_end(0), "active", video_title=HOSTILE, channel_title=FORMULA, views_lifetime=10),
        claim("c1", at(30), "disputed", event_type="dispute_created", source="partner_api_claim_history"),
        claim("c1", at(50), "active", event_type="claim_updated", source="partner_api_claim_history"),
        claim(
            "c1",
            at(60),
            "appealed",
            event_type="appeal_created",
            source="partner_api_claim_history",
            origin="manual_studio",
        ),
        claim("c2", day_end(1), "potential", video_title="+cmd|' /C calc'!A0", views_lifetime=5_000_000),
        *steady_polls("yt1", 150, 120, spike=(110, 124, 4.0)),
    ]
    inputs = ReportInputs()
    monitors = KeyedMonitors(clock=lambda: T0, monitors={"item": monitor})
    inputs.alerts += monitors.step("item", item).alerts
    for e in sorted(events, key=lambda e: e.event_time):
        inputs.alerts += monitors.step("item", e).alerts
    inputs.alerts += monitors.flush()
    inputs.rows.update(monitors.take_rollups())
    return WeekIndex.build(inputs), "2026-W45"


def test_report_has_every_contract_key() -> None:
    index, week = week_of_data()
    report = build_report(index, week)
    data = json.loads(render_files(report)["report.json"])
    assert {
        "week",
        "period",
        "claims_summary",
        "high_priority",
        "trends",
        "dispute_risk",
        "data_quality",
    } <= data.keys()
    assert data["period"] == {"start": "2026-11-02T00:00:00Z", "end": "2026-11-08T23:59:59Z"}
    assert data["claims_summary"]["disputed"] == 1 and data["claims_summary"]["appealed"] == 1
    assert data["high_priority"], "an appeal is high severity"
    assert data["dispute_risk"][0]["claim_id"] == "c1"
    assert "detected_at" not in json.dumps(data["high_priority"])
    WeeklyReport.model_validate(data)


def test_html_escapes_titles_and_names_and_makes_no_external_request() -> None:
    index, week = week_of_data()
    page = render_files(build_report(index, week))["report.html"]
    assert HOSTILE not in page and "&lt;script&gt;" in page
    assert "<script" not in page.lower()
    # Links are navigation, not requests: take them out, then nothing on the page may reach outside.
    without_links = (
        re.sub(r"href='[^']*'", "", page).replace("http://www.w3.org/2000/svg", "").replace("http://evil.example", "")
    )
    for external in ("http://", "https://", "src=", "@import", "url("):
        assert external not in without_links, external
    for url in re.findall(r"href='([^']*)'", page):
        assert url.startswith(("https://www.youtube.com/watch?v=", "https://studio.youtube.com/")), url
    assert "<svg" in page


def test_csv_cells_that_start_a_formula_are_neutralised() -> None:
    index, week = week_of_data()
    files = render_files(build_report(index, week))
    for name in ("dispute_risk.csv", "high_priority.csv", "claims_summary.csv"):
        assert files[name].startswith("\ufeff"), "Excel needs the byte order mark to read UTF-8"
        for row in csv.reader(io.StringIO(files[name].lstrip("\ufeff"))):
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@")), (name, cell)
    assert safe_cell(FORMULA) == "'" + FORMULA
    assert safe_cell("-2+3") == "'-2+3"
    assert safe_cell(-5) == -5 and safe_cell("plain") == "plain"
    assert len(safe_cell("x" * 10_000)) == 500


def test_trends_compare_with_last_week() -> None:
    monitors = KeyedMonitors(clock=lambda: T0)
    for e in steady_polls("yt1", 24 * 14, 100):
        monitors.step("yt1", e)
    report = build_report(WeekIndex.build(ReportInputs(rows=dict(monitors.take_rollups()))), "2026-W46")
    youtube = report.trends["per_platform"]["youtube"]
    change = youtube["change_pct"]
    assert youtube["views_per_day_last_week"] and change is not None and abs(change) < 20
    assert report.period.start == T0 + timedelta(days=7)


def test_links_are_built_only_from_ids_that_cannot_break_out() -> None:
    from batch.html import studio_asset_url, video_url

    assert video_url("dQw4w9WgXcQ") == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    for hostile in ("x' onmouseover='alert(1)", "a/../../evil", "javascript:alert(1)", "", None, "x" * 65):
        assert video_url(hostile) is None and studio_asset_url(hostile) is None


def test_a_report_reads_only_the_rows_of_its_week_and_the_week_before() -> None:
    from batch.report import keep_row, row_week

    seen: set[str] = set()
    weeks = {"2026-W46", "2026-W45"}
    table = [
        ("claim|2026-W46|c1|@CW-1", True),
        ("post|2026-W45|youtube|v1|@CW-1", True),
        ("claim|2026-W12|c1|@CW-1", False),
        ("late|2026-11-10|@CW-1", True),
        ("late|2026-01-02|@CW-1", False),
        ("catalog|CW-1|@CW-1", True),
        ("file|/data/claims_20261110.csv", True),
        ("late|not-a-day|@CW-1", True),
    ]
    for key, wanted in table:
        assert keep_row(key, weeks, seen) is wanted, key
    assert seen == {"2026-W46", "2026-W45", "2026-W12", "2026-W01"}
    assert row_week("catalog|CW-1") is None


def test_a_claim_is_new_only_when_it_is_known_to_be_created_that_week() -> None:
    """A Studio export without creation dates lists the whole backlog on its first day: none of it is
    new; a claim whose creation (its own date, or a claim_created event) falls in the week is."""
    monitors = KeyedMonitors(clock=lambda: T0)
    week_start = T0
    events = [
        # The backlog, first seen on the week's first report: one created long before, two undated.
        claim("old", day_end(0), claim_created_at=week_start - timedelta(days=400)),
        claim("undated-1", day_end(0)),
        claim("undated-2", day_end(0)),
        # Created this week, as its own date says and as a history's claim_created says.
        claim("dated", day_end(2), claim_created_at=week_start + timedelta(days=2)),
        claim("created", at(60), event_type="claim_created", source="partner_api_claim_history"),
    ]
    for event in sorted(events, key=lambda e: e.event_time):
        monitors.step("item", event)
    report = build_report(WeekIndex.build(ReportInputs(rows=dict(monitors.take_rollups()))), "2026-W45")
    summary = report.claims_summary
    assert (summary["new"], summary["older_claims_first_seen"]) == (2, 3)
    page = render_files(report)["report.html"]
    assert "first seen, created earlier or unknown" in page


def test_assets_at_high_dispute_risk_are_counted_apart_from_claims() -> None:
    """An asset can be high on its own context while none of its claims is: the page, the manifest's
    headline and so the SNS message count both."""
    from batch.job import headline

    index, week = week_of_data()
    built = build_report(index, week)
    asset = {
        "asset_id": "A9",
        "content_id": "CW-9",
        "title": "Song",
        "score": 0.82,
        "level": "high",
        "open_disputes_and_appeals": 0,
        "claims": 4,
        "new_claims": 0,
        "asset_score": 0.82,
        "top_claim_score": 0.2,
        "asset_drivers": ["another owner claims it"],
        "drivers": [],
    }
    report = WeeklyReport.model_validate({**built.model_dump(mode="json"), "dispute_risk_by_asset": [asset]})
    claims_high = sum(1 for r in report.dispute_risk if r["level"] == "high")
    assert report.high_risk_counts() == (claims_high, 1)
    figures = headline(report)
    assert (figures["high_risk_claims"], figures["high_risk_assets"]) == (claims_high, 1)
    page = render_files(report)["report.html"]
    assert "<b>1</b>assets at high dispute risk" in page
    assert f"<b>{claims_high}</b>claims at high dispute risk" in page


def test_released_by_outcome_adds_up_to_released() -> None:
    """A claim first seen already inactive was released before anyone here saw it: it is in neither
    the week's releases nor their split by outcome."""
    monitors = KeyedMonitors(clock=lambda: T0)
    events = [
        claim("seen-inactive", day_end(0), "inactive"),
        claim("released", day_end(0), "active"),
        claim("released", day_end(1), "inactive"),
        claim("after-dispute", day_end(0), "disputed"),
        claim("after-dispute", day_end(2), "inactive"),
    ]
    for event in sorted(events, key=lambda e: e.event_time):
        monitors.step("item", event)
    summary = build_report(WeekIndex.build(ReportInputs(rows=dict(monitors.take_rollups()))), "2026-W45").claims_summary
    assert summary["released"] == 2 == sum(summary["released_by_outcome"].values())


CONTROLS = "\x1b\x07\u202e\u2029\u2028\x85"


def test_no_control_character_of_a_title_reaches_any_report_file() -> None:
    """Terminal escapes, BEL, a right-to-left override and line or paragraph separators in titles and
    names: not in report.html, the CSVs or report.json (read by `cat`, spreadsheets and programs)."""
    monitor = Monitor(clock=lambda: T0)
    monitors = KeyedMonitors(clock=lambda: T0, monitors={"item": monitor})
    inputs = ReportInputs()
    item = catalog().model_copy(update={"title": f"Song{CONTROLS}evil"})
    inputs.alerts += monitors.step("item", item).alerts
    events = [
        claim("c1", day_end(0), "active", video_title=f"Clip{CONTROLS}", channel_title=f"Chan{CONTROLS}"),
        claim("c1", at(30), "disputed", event_type="dispute_created", source="partner_api_claim_history"),
    ]
    for e in events:
        inputs.alerts += monitors.step("item", e).alerts
    inputs.rows.update(monitors.take_rollups())
    files = render_files(build_report(WeekIndex.build(inputs), "2026-W45"))
    assert "Song" in files["report.html"] and "Clip" in files["dispute_risk.csv"]
    for name, text in files.items():
        assert not set(CONTROLS) & set(text), (name, sorted(set(CONTROLS) & set(text)))


def test_requires_review_lists_critical_first_then_the_newest() -> None:
    def alert(n: int, severity: str, content_id: str, day: int) -> Alert:
        when = day_end(day) - timedelta(hours=1)
        return Alert(
            alert_id=f"a{n}",
            type="dispute_risk",
            severity=severity,
            score=0.9,
            subject=Subject(content_id=content_id),
            event_time=when,
            detected_at=when,
            title=f"alert {n}",
        )

    alerts = [alert(1, "critical", "CW-1", 0), alert(2, "high", "CW-1", 2), alert(3, "high", "CW-2", 4)]
    groups = build_report(WeekIndex.build(ReportInputs(alerts=alerts)), "2026-W45").high_priority
    assert [g["subject"]["content_id"] for g in groups] == ["CW-1", "CW-2"]
    assert [a["alert_id"] for a in groups[0]["alerts"]] == ["a1", "a2"]
    ranks = [(SEVERITIES.index(g["max_severity"]), g["latest"]) for g in groups]
    assert ranks == sorted(ranks, reverse=True)
    for g in groups:
        inner = [(SEVERITIES.index(a["severity"]), a["event_time"]) for a in g["alerts"]]
        assert inner == sorted(inner, reverse=True)


def test_the_csvs_speak_to_people_and_link_each_video() -> None:
    index, week = week_of_data()
    files = render_files(build_report(index, week))
    review = list(csv.DictReader(io.StringIO(files["high_priority.csv"].lstrip("\ufeff"))))
    assert review and {"Content ID", "Content title", "Video link", "Alert", "Severity"} <= set(review[0])
    assert all(r["Video link"].startswith("https://www.youtube.com/watch?v=") for r in review if r["Video ID"])
    assert any(r["Content title"] for r in review)
    risk = list(csv.DictReader(io.StringIO(files["dispute_risk.csv"].lstrip("\ufeff"))))
    assert risk and {"Claim ID", "Risk score", "Risk level", "Video link"} <= set(risk[0])


def test_a_week_without_claims_reports_is_not_compared_as_a_collapse() -> None:
    """Last week had claims reports; this week only a day of polls: the claim figures say there is
    nothing to compare, rather than "0 claims listed, -100 %/day"."""
    monitors = KeyedMonitors(clock=lambda: T0)
    for day in range(7):
        monitors.step("item", claim(f"c{day}", day_end(day), claim_created_at=day_end(day) - timedelta(hours=2)))
    for e in steady_polls("yt1", 24 * 8 + 12, 100):
        monitors.step("yt1", e)
    index = WeekIndex.build(ReportInputs(rows=dict(monitors.take_rollups())))
    report = build_report(index, "2026-W46")
    wow = report.week_over_week
    assert wow["total"]["change"] is None and wow["new"]["change"] is None
    assert wow["new"]["note"] == "no claims report this week" and "change_pct_per_day" not in wow["new"]
    page = render_files(report)["report.html"]
    assert "no claims report this week" in page and "-100%" not in page
