"""Records the core refuses to use are quarantined with a reason code, never silently dropped or used."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from claimwatch.detect.monitor import Monitor
from claimwatch.detect.validation import SUSPECT_REASONS
from claimwatch.embedded import run
from tests.builders import T0, at, poll

CASES = [
    # what follows a steady hour of polls → the reason code of the record left out
    ("a counter goes down", lambda: poll("p1", at(1.5), 900), "counter_decrease"),
    ("a jump no post can make", lambda: poll("p1", at(1.5), 10**12), "counter_jump"),
    ("a poll older than the latest", lambda: poll("p1", at(0.5) - timedelta(minutes=1), 1_500), "late_poll"),
    ("a second poll at the same instant", lambda: poll("p1", at(1), 1_500), "duplicate_poll"),
]


@pytest.mark.parametrize(("what", "make", "code"), CASES, ids=[c[0] for c in CASES])
def test_a_suspect_poll_is_left_out_and_quarantined_with_its_reason(what: str, make: object, code: str) -> None:
    monitor = Monitor(clock=lambda: T0)
    for quarter in range(5):  # 0:00 .. 1:00, 1,000 views then +100 a quarter
        assert monitor.step(poll("p1", at(quarter / 4), 1_000 + 100 * quarter)).suspect == []
    suspect = make()  # type: ignore[operator]
    step = monitor.step(suspect)
    assert [e.reason_code for e in step.suspect] == [code], what
    entry = step.suspect[0]
    assert (entry.source, entry.field) == ("platform_poll", "validation") and step.alerts == []
    assert json.loads(entry.raw)["views"] == suspect.views, "the record as the core saw it"
    good = monitor.step(poll("p1", at(2), 1_800))
    assert good.suspect == [], "the next good poll is measured from the last good one"


def test_every_poll_finding_has_a_reason_code() -> None:
    from claimwatch.detect.monitor import POLL_FINDINGS

    assert set(SUSPECT_REASONS) == set(POLL_FINDINGS)
    assert len({code for code, _ in SUSPECT_REASONS.values()}) == len(SUSPECT_REASONS)


def test_the_embedded_run_quarantines_them_and_the_report_counts_them(tmp_path: Path) -> None:
    polls = tmp_path / "in" / "polls"
    polls.mkdir(parents=True)
    lines = []
    for quarter in range(12):
        views = 1_000 + 100 * quarter if quarter != 6 else 50  # one collector glitch
        stamp = (T0 + timedelta(minutes=15 * quarter)).isoformat().replace("+00:00", "Z")
        lines.append(
            json.dumps(
                {
                    "platform": "youtube",
                    "platform_content_id": "v1",
                    "observed_at": stamp,
                    "views_total": views,
                    "collector": "poller-1",
                }
            )
        )
    (polls / "polls_20261102.jsonl").write_text("\n".join(lines) + "\n")
    result = run([tmp_path / "in"], tmp_path / "out", clock=lambda: T0)
    entries = [json.loads(line) for line in (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()]
    assert [(e["reason_code"], e["line"]) for e in entries] == [("counter_decrease", 7)]
    f = result.files_read[0]
    assert f.records == f.accepted + f.quarantined and not f.quarantined, (
        "the reader accepted it: suspect is the core's finding"
    )
    week = json.loads(next((tmp_path / "out").glob("2026-W*/report.json")).read_text())
    assert week["data_quality"]["quarantined_by_reason"] == {"platform_poll: counter_decrease": 1}


@pytest.mark.slow
def test_a_report_family_whose_layout_changes_is_named_in_the_report(tmp_path: Path) -> None:
    """Schema drift: the day the claims report gains a column and loses one, the report says so."""
    import gzip
    import shutil

    from claimwatch.cli import BUNDLED_SAMPLE

    data = tmp_path / "in"
    for part in ("catalog", "claims"):  # what the drift is about; the polls would only take time
        shutil.copytree(BUNDLED_SAMPLE / part, data / part)
    changed = data / "claims" / "content_owner_active_claims_a3_20261106.csv.gz"
    with gzip.open(changed, "rt", encoding="utf-8", newline="") as fh:
        text = fh.read()
    header, rest = text.split("\n", 1)
    header = header.replace("is_shorts_eligible", "is_short").replace("engaged_views", "engaged_view_count")
    with gzip.open(changed, "wt", encoding="utf-8", newline="") as fh:
        fh.write(header + "\n" + rest)
    run([data], tmp_path / "out", clock=lambda: T0)
    week = json.loads((tmp_path / "out" / "2026-W45" / "report.json").read_text())
    drift = week["data_quality"]["schema_drift"]
    assert [(d["file"], d["new_columns"], d["missing_columns"]) for d in drift] == [
        (changed.name, ["engaged_view_count", "is_short"], ["engaged_views", "is_shorts_eligible"]),
        # and back the next day: the layout moved again
        (
            "content_owner_active_claims_a3_20261107.csv.gz",
            ["engaged_views", "is_shorts_eligible"],
            ["engaged_view_count", "is_short"],
        ),
    ]
    assert drift[0]["family"] == "content_owner_active_claims" and drift[0]["since"].endswith("20261105.csv.gz")
    page = (tmp_path / "out" / "2026-W45" / "report.html").read_text()
    assert "layout changed" in page and "is_short" in page


@pytest.mark.slow
@pytest.mark.xdist_group("bundled-run")  # beside the other readers of the shared run: it is made once
def test_records_about_no_catalog_item_are_counted_per_source(tmp_path: Path, bundled_run: Path) -> None:
    """A catalog gap: an item's row is missing, so its posts and claims belong to nobody."""
    import gzip
    import shutil

    from claimwatch.cli import BUNDLED_SAMPLE

    data = tmp_path / "in"
    for part in ("catalog", "polls"):  # the polls of a post no catalog item names
        shutil.copytree(BUNDLED_SAMPLE / part, data / part)
    catalog = data / "catalog" / "catalog.csv.gz"
    with gzip.open(catalog, "rt", encoding="utf-8", newline="") as fh:
        lines = fh.read().split("\n")
    gone = lines.pop(1)  # the first item
    with gzip.open(catalog, "wt", encoding="utf-8", newline="") as fh:
        fh.write("\n".join(lines))
    run([data], tmp_path / "out", clock=lambda: T0)
    week = json.loads((tmp_path / "out" / "2026-W45" / "report.json").read_text())
    found = week["data_quality"]["uncatalogued_by_source"]
    assert found.get("polls", 0) > 0, (gone[:60], found)
    clean = json.loads((bundled_run / "2026-W45" / "report.json").read_text())
    assert clean["data_quality"]["uncatalogued_by_source"] == {}


@pytest.mark.parametrize(
    ("observed", "code"),
    [
        ("2026-11-02T23:59:00Z", None),
        ("2026-11-04T23:59:59Z", None),  # two days of allowance past the file's day
        ("2026-11-05T00:00:00Z", "future_timestamp"),
        ("2031-01-01T00:00:00Z", "future_timestamp"),  # a collector's clock years ahead
    ],
)
def test_a_record_dated_after_its_file_s_day_is_quarantined(tmp_path: Path, observed: str, code: str | None) -> None:
    from claimwatch.ingest.readers import read_file

    path = tmp_path / "polls_20261102.jsonl"
    path.write_text(
        json.dumps({"platform": "youtube", "platform_content_id": "v1", "observed_at": observed, "views_total": 5})
        + "\n"
    )
    result = read_file(path)
    assert result.reconciles() and result.records == 1
    assert [q.reason_code for q in result.quarantined] == ([code] if code else [])
    assert len(result.events) == (0 if code else 1)


@pytest.mark.parametrize(("minutes_late", "quarantined"), [(5, False), (15, False), (16, True)])
def test_a_little_late_is_jitter_and_later_is_quarantined(minutes_late: int, quarantined: bool) -> None:
    """Within the allowance (15 minutes by default) a late poll is counted, not quarantined."""
    monitor = Monitor(clock=lambda: T0)
    for quarter in range(5):
        monitor.step(poll("p1", at(quarter / 4), 1_000 + 100 * quarter))
    late = monitor.step(poll("p1", at(1) - timedelta(minutes=minutes_late), 1_350))
    assert [e.reason_code for e in late.suspect] == (["late_poll"] if quarantined else [])
    assert monitor.quality["late_polls"] == 1, "counted either way"


def test_a_reaction_counter_misread_is_a_jump_not_a_surge() -> None:
    """Shares read as 1,234 on a post that shows 81 (and 81 again at the next poll): reactions come
    from viewers, so a rise far beyond the views gained is a misread counter, quarantined; the
    next good poll is measured from the last good one. A real surge within the views is not."""
    from claimwatch.detect.posts import BucketPolicy, PostModel

    policy = BucketPolicy()
    post = PostModel()
    for quarter in range(8):  # 200 views and 2 shares a quarter
        post.observe_totals(quarter * 900.0, {"views": 10_000 + 200 * quarter, "shares": 60 + 2 * quarter}, policy)
    post.observe_totals(8 * 900.0, {"views": 11_600, "shares": 1_234}, policy)
    assert post.counter_jumps == 1 and post.last_totals["shares"] == 74
    post.observe_totals(9 * 900.0, {"views": 11_800, "shares": 81}, policy)
    assert post.counter_jumps == 1 and post.counter_resets == 0 and post.last_totals["shares"] == 81
    post.observe_totals(10 * 900.0, {"views": 12_000, "shares": 381}, policy)  # 300 shares on 200 views
    assert post.counter_jumps == 1 and post.last_totals["shares"] == 381, "a surge within the views counts"
