"""A data-quality incident end to end, on the real broker, as an operator would handle it.

A week of a generated sample is ingested, then a claims report whose ``views`` and ``video_duration_sec``
columns are swapped: every row is valid, so nothing is quarantined, and the live worker raises
false "claimed vs measured views" alerts. The operator retracts the file, exports its records,
corrects them, releases them, replays the log into generation 2, reads the impact report and
promotes generation 2. Generation 2 must equal a clean derivation of the corrected data: the
impact report removes exactly the false alerts, and the weekly report is byte for byte the clean one.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

from claimwatch.ingest.readers import read_paths
from stream.publish import publish
from stream.replay import replay
from stream.settings import Settings
from tests.streamkit import alert_ids, env_for, isolated_settings, needs_kafka, setup_topics, start_worker, wait_drained

pytestmark = needs_kafka

BROKEN = "content_owner_active_claims_a3_20261109.csv"
SWAPPED = ("views", "video_duration_sec")
WEEK = "2026-W46"


def _swap_row(row: list[str], header: list[str]) -> list[str]:
    a, b = (header.index(name) for name in SWAPPED)
    row = list(row)
    row[a], row[b] = row[b], row[a]
    return row


def _swap(text: str, header: list[str]) -> str:
    """One record's CSV text with the two columns' values swapped back: the correction."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(_swap_row(next(csv.reader(io.StringIO(text))), header))
    return out.getvalue().removesuffix("\r\n")


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def _write_swapped(source: Path, target: Path) -> None:
    """The incident: the same export with two columns' values swapped under an intact header."""
    header, *rows = _rows(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([header, *(_swap_row(r, header) for r in rows)])


def _cli(settings: Settings, *args: str, ok: tuple[int, ...] = (0,), **env: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "claimwatch.cli", *args], env=env_for(settings) | env, capture_output=True, text=True
    )
    assert done.returncode in ok and "Traceback" not in done.stderr, (args, done.stdout, done.stderr)
    return done


def _report(settings: Settings, out: Path, generation: int) -> bytes:
    # Exit 4: written, and the week is partial (the sample ends two days into it).
    _cli(settings, "report", "--week", WEEK, "--out", str(out), ok=(4,), CLAIMWATCH_GENERATION=str(generation))
    return (out / WEEK / "report.json").read_bytes()


def test_an_incident_is_retracted_corrected_replayed_and_promoted(small_data: Path, tmp_path: Path) -> None:
    week, incident = tmp_path / "week", tmp_path / "incident"
    shutil.copytree(small_data, week)
    clean_file = tmp_path / "clean" / BROKEN
    clean_file.parent.mkdir()
    shutil.move(week / "claims" / BROKEN, clean_file)
    broken_file = incident / "claims" / BROKEN
    _write_swapped(clean_file, broken_file)

    # The live generation: the week, then the broken export, through the real worker.
    settings = isolated_settings()
    setup_topics(settings)
    for folder in (week, incident):
        assert asyncio.run(publish(read_paths([folder]), settings)).reconciles()
    worker = start_worker(settings, tmp_path, "live")
    try:
        wait_drained([worker])
    finally:
        worker.stop()
    live = set(alert_ids(settings))

    # Retract the file, correct its records, release them.
    retracted = _cli(settings, "quarantine", "retract", BROKEN, "--reason", "views and video_duration_sec swapped")
    header, *rows = _rows(broken_file)
    assert f"retracted {len(rows):,} events" in retracted.stdout, retracted.stdout
    _cli(settings, "quarantine", "export", "--reason", "retracted", "--out", str(tmp_path / "fix.jsonl"))
    exported = [json.loads(line) for line in (tmp_path / "fix.jsonl").read_text().splitlines()]
    assert len(exported) == len(rows) and {e["source_file"] for e in exported} == {str(broken_file)}
    corrected = [{**e, "raw": _swap(e["raw"], header)} for e in exported]
    (tmp_path / "fixed.jsonl").write_text("".join(json.dumps(e) + "\n" for e in corrected))
    released = _cli(settings, "quarantine", "release", str(tmp_path / "fixed.jsonl"), "--by", "rights-ops")
    assert f"released {len(exported):,} corrected records" in released.stdout, released.stdout
    still_open = _cli(settings, "quarantine", "list", "--reason", "retracted")
    assert still_open.stdout.startswith("0 quarantined records"), still_open.stdout[:300]
    with_done = _cli(settings, "quarantine", "list", "--reason", "retracted", "--all", "--limit", "1")
    assert "(released)" in with_done.stdout and f"{len(exported):,} quarantined records" in with_done.stdout

    # Replay into generation 2: without the retracted events, with the corrections.
    report = replay(settings, 2)
    assert report.retracted == len(exported) and report.records == report.events + report.retracted

    # What a clean derivation of the corrected data gives: the same two ingests with the right file,
    # at the same path, replayed the same way.
    shutil.copyfile(clean_file, broken_file)
    reference = isolated_settings()
    setup_topics(reference)
    for folder in (week, incident):
        assert asyncio.run(publish(read_paths([folder]), reference)).reconciles()
    replay(reference, 2)
    second, clean = dataclasses.replace(settings, generation=2), dataclasses.replace(reference, generation=2)
    assert sorted(alert_ids(second)) == sorted(alert_ids(clean))
    false_alerts = live - set(alert_ids(clean))
    assert len(false_alerts) > 20, "the swapped columns raised false alerts in the live generation"

    # The impact report names exactly the false alerts, and the records that caused them.
    _cli(settings, "impact", "--from-gen", "1", "--to-gen", "2", "--week", WEEK, "--out", str(tmp_path / "impact"))
    impact = json.loads((tmp_path / "impact" / "impact.json").read_text())
    assert {a["alert_id"] for a in impact["removed"]} == false_alerts
    assert impact["added"] == [], impact["added"][:3]
    # An alert the broken records altered but did not raise (the same claim flagged, with its views
    # wrong in the title) is "changed": it keeps its id, and names the records that altered it.
    both = {("retracted", str(broken_file)), ("released", str(broken_file))}
    for alert in impact["changed"]:
        assert set() < {(c["kind"], c["source_file"]) for c in alert["caused_by"]} <= both, alert
    for alert in impact["removed"]:  # each names its line of the file: retracted, and released corrected
        causes = {(c["kind"], c["source_file"]) for c in alert["caused_by"]}
        assert causes == both, alert
    assert {(r["kind"], r["records"]) for r in impact["input_records"]} == {
        ("retracted", len(exported)),
        ("released", len(exported)),
    }
    assert impact["report_changes"][WEEK], "the false alerts were in the live week's report"

    # Promote; the weekly report of generation 2 is the clean one, byte for byte in its figures.
    promoted = _cli(settings, "promote", "--generation", "2")
    assert "live generation: 1 -> 2" in promoted.stdout
    assert _report(settings, tmp_path / "rep", 2) == _report(reference, tmp_path / "rep-clean", 2)
