"""`claimwatch quarantine`: list, show and export what could not be read, filtered, and safely."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from claimwatch import quarantine as q
from claimwatch.cli import main
from claimwatch.sample.generator import generate

HOSTILE = [
    '{"platform":"youtube","platform_content_id":"yt1","observed_at":"soon","views_total":5}',
    '{"platform":"youtube","platform_content_id":"=HYPERLINK(\\"http://x\\")","observed_at":"2026-11-03T00:00:00Z","views_total":-4}',
    "\x1b[2J\x1b[31mnot json at all\u202e",
]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("quarantine")
    generate(base / "in", seed=4, items=40, days=8)
    (base / "in" / "polls" / "polls_extra_20261103.jsonl").write_text("\n".join(HOSTILE) + "\n", encoding="utf-8")
    (base / "in" / "catalog" / "broken.csv").write_bytes(b"\xff\xfe\x00garbage\n")
    assert main(["run", "--input", str(base / "in"), "--out", str(base / "out"), "--quiet"]) == 0
    return base / "out"


def test_list_prints_every_entry_once_with_counts_and_no_control_characters(
    run_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["quarantine", "list", "--from-dir", str(run_folder)]) == 0
    out = capsys.readouterr().out
    entries = list(q.from_run_folder(run_folder))
    assert len(entries) >= 4
    assert f"{len(entries):,} quarantined records" in out
    assert "\x1b" not in out and "\u202e" not in out
    assert all(e.entry_id in out for e in entries)


def test_filters_combine(run_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    everything = q.select(q.from_run_folder(run_folder), q.Filter())
    polls = q.select(q.from_run_folder(run_folder), q.Filter(sources=frozenset({"polls"})))
    assert polls and len(polls) < len(everything) and all(e.entry.source == "polls" for e in polls)
    reasons = {e.entry.reason_code for e in polls}
    one = sorted(reasons)[0]
    narrowed = q.select(q.from_run_folder(run_folder), q.Filter(sources=frozenset({"polls"}), reasons=frozenset({one})))
    assert narrowed and all(e.entry.reason_code == one for e in narrowed)
    assert not q.select(q.from_run_folder(run_folder), q.Filter(file_contains="no-such-file"))
    assert main(["quarantine", "list", "--from-dir", str(run_folder), "--since", "yesterday-ish"]) == 2
    assert "--since" in capsys.readouterr().err


def test_ids_are_stable_across_runs_and_show_finds_them(run_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = [e.entry_id for e in q.from_run_folder(run_folder)]
    assert first == [e.entry_id for e in q.from_run_folder(run_folder)] and len(set(first)) == len(first)
    capsys.readouterr()
    assert main(["quarantine", "show", first[0], "--from-dir", str(run_folder)]) == 0
    shown = capsys.readouterr().out
    assert first[0] in shown and "reason_code" in shown and "\x1b" not in shown
    assert main(["quarantine", "show", "q-nope", "--from-dir", str(run_folder)]) == 2  # a one-line error


def test_export_to_csv_and_jsonl_round_trips_without_formulas(run_folder: Path, tmp_path: Path) -> None:
    assert main(["quarantine", "export", "--from-dir", str(run_folder), "--out", str(tmp_path / "q.csv")]) == 0
    assert main(["quarantine", "export", "--from-dir", str(run_folder), "--out", str(tmp_path / "q.jsonl")]) == 0
    with (tmp_path / "q.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    lines = [json.loads(line) for line in (tmp_path / "q.jsonl").read_text().splitlines()]
    assert (
        [r["entry_id"] for r in rows]
        == [r["entry_id"] for r in lines]
        == [e.entry_id for e in q.from_run_folder(run_folder)]
    )
    assert not any(v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values())
    formula = next(r for r in lines if "HYPERLINK" in r["raw"])
    assert formula["raw"].startswith("{") and "views_total" in formula["raw"]  # JSON Lines keeps the record as read
    assert main(["quarantine", "export", "--from-dir", str(run_folder), "--out", str(tmp_path / "q.xlsx")]) == 2
