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
    assert main(["quarantine", "list", "--from-dir", str(run_folder), "--limit", "100000"]) == 0
    out = capsys.readouterr().out
    entries = list(q.from_run_folder(run_folder))
    assert len(entries) >= 4
    assert f"{len(entries):,} quarantined records" in out
    assert "\x1b" not in out and "\u202e" not in out
    assert all(e.entry_id in out for e in entries)


def test_list_as_json_holds_every_field_and_the_counts(run_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["quarantine", "list", "--from-dir", str(run_folder), "--limit", "2", "--json"]) == 0
    out = capsys.readouterr().out
    listing = json.loads(out)
    entries = list(q.from_run_folder(run_folder))
    assert listing["total"] == len(entries) and listing["more"] == len(entries) - 2
    assert [e["entry_id"] for e in listing["entries"]] == [e.entry_id for e in entries[:2]]
    assert sum(listing["by_reason"].values()) == sum(listing["by_source"].values()) == len(entries)
    assert "\x1b" not in json.dumps(listing, ensure_ascii=False)  # the hostile lines' escapes stay escaped


def test_filters_combine(run_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    everything = q.select(q.from_run_folder(run_folder), q.Filter())
    polls = q.select(q.from_run_folder(run_folder), q.Filter(sources=frozenset({"polls"})))
    assert polls and len(polls) < len(everything)
    # What the poll reader quarantined, and the poll records that only repeated earlier ones (their
    # entries name the events' own source): `--source polls` finds both.
    assert {e.entry.source for e in polls} == {"polls", "platform_poll"}
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


def _fixed(run_folder: Path, tmp_path: Path, fix: bool) -> Path:
    """The export of the polls entries, with the unparseable time corrected when ``fix``."""
    main(
        [
            "quarantine",
            "export",
            "--from-dir",
            str(run_folder),
            "--source",
            "polls",
            "--reason",
            "invalid_value",
            "--out",
            str(tmp_path / "polls.jsonl"),
        ]
    )
    rows = [json.loads(line) for line in (tmp_path / "polls.jsonl").read_text().splitlines()]
    soon = [r for r in rows if '"soon"' in r["raw"]]
    assert len(soon) == 1
    if fix:
        soon[0]["raw"] = soon[0]["raw"].replace('"soon"', '"2026-11-03T06:00:00Z"')
    path = tmp_path / "corrected.jsonl"
    path.write_text(json.dumps(soon[0]) + "\n")
    return path


def test_a_corrected_record_is_read_again_with_its_original_place(run_folder: Path, tmp_path: Path) -> None:
    path = _fixed(run_folder, tmp_path, fix=True)
    corrections = q.load_corrections(path)
    again = q.reread(corrections, tmp_path / "work")
    assert not again.still_bad and len(again.events) == 1
    event = again.events[0]
    assert event.source_file == corrections[0].source_file and event.source_line == corrections[0].line
    assert again.replaces == {(event.source_file, event.source_line): corrections[0].entry_id}
    assert main(["quarantine", "release", str(path), "--dry-run"]) == 0


def test_a_record_that_still_fails_releases_nothing(
    run_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _fixed(run_folder, tmp_path, fix=False)
    capsys.readouterr()
    assert main(["quarantine", "release", str(path), "--dry-run"]) == 4
    err = capsys.readouterr().err
    assert "still invalid_value" in err and "nothing released" in err


def test_a_csv_record_is_read_with_its_original_header(tmp_path: Path) -> None:
    data = tmp_path / "in"
    data.mkdir()
    (data / "catalog.csv").write_text("content_id,title,youtube\nCW-1,Song,yt1\n,nameless,yt2\n")
    assert main(["run", "--input", str(data), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    main(["quarantine", "export", "--from-dir", str(tmp_path / "out"), "--out", str(tmp_path / "q.csv")])
    with (tmp_path / "q.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["raw"] for r in rows] == [",nameless,yt2"]
    rows[0]["raw"] = "CW-2,nameless,yt2"
    with (tmp_path / "fixed.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    again = q.reread(q.load_corrections(tmp_path / "fixed.csv"), tmp_path / "work")
    assert not again.still_bad
    assert [(e.content_id, e.source_line) for e in again.events] == [("CW-2", 3)]


def test_a_broken_line_is_exported_as_read_and_a_blank_correction_is_refused(run_folder: Path, tmp_path: Path) -> None:
    broken = [e for e in q.from_run_folder(run_folder) if e.entry.reason_code == "invalid_json"]
    assert broken and "not json at all" in broken[0].entry.raw, "the text as read, to fix"
    blank = q.Correction(broken[0].entry_id, broken[0].entry.source_file, broken[0].entry.line, "   ")
    again = q.reread([blank], tmp_path / "work")
    # Alone in its file, a blank line makes an empty file; beside others it would be "no_record".
    assert not again.events and [(c.entry_id, e.reason_code) for c, e in again.still_bad] == [
        (broken[0].entry_id, "empty_file")
    ]


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err[:2000]
    return err


def test_an_export_that_cannot_be_read_is_one_line_and_nothing_is_released(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 2 MB cell (past the csv module's field limit, and past a record's size) and a deeply nested
    JSON line used to end in tracebacks."""
    wide = tmp_path / "wide.csv"
    with wide.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["entry_id", "source_file", "line", "raw"])
        writer.writerow(["q-1", str(tmp_path / "polls.jsonl"), "2", "x" * (2 << 20)])
    nested = tmp_path / "nested.jsonl"
    nested.write_text("[" * 200_000 + "]" * 200_000 + "\n")
    big = tmp_path / "big.jsonl"
    big.write_text(json.dumps({"entry_id": "q-1", "source_file": "p.jsonl", "line": 2, "raw": "y" * (2 << 20)}) + "\n")
    twice = tmp_path / "twice.jsonl"
    row = {"entry_id": "q-1", "source_file": "p.jsonl", "line": 2, "raw": "{}"}
    twice.write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n")
    for path, words in (
        (wide, "not a quarantine export"),
        (nested, "not a quarantine export"),
        (big, "larger than a record"),
        (twice, "corrected twice"),
    ):
        capsys.readouterr()
        assert main(["quarantine", "release", str(path), "--dry-run"]) == 2, path
        assert words in _one_line_error(capsys), path


def test_a_second_row_hidden_in_a_corrected_cell_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "in"
    data.mkdir()
    (data / "catalog.csv").write_text("content_id,title,youtube\nCW-1,Song,yt1\n,nameless,yt2\n")
    assert main(["run", "--input", str(data), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    main(["quarantine", "export", "--from-dir", str(tmp_path / "out"), "--out", str(tmp_path / "q.csv")])
    with (tmp_path / "q.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows[0]["raw"] = "CW-2,nameless,yt2\nCW-3,smuggled,yt3"
    with (tmp_path / "fixed.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    again = q.reread(q.load_corrections(tmp_path / "fixed.csv"), tmp_path / "work")
    assert [e.reason_code for _, e in again.still_bad] == ["extra_record"]
    capsys.readouterr()
    assert main(["quarantine", "release", str(tmp_path / "fixed.csv"), "--dry-run"]) == 4
    assert "extra_record" in capsys.readouterr().err


def test_entries_released_once_are_not_released_again() -> None:
    """Six releases of the same 500 entries put 3,000 events on the log: the second is refused."""
    from datetime import UTC, datetime

    from stream.publish import ReleaseRefused, refuse_released

    done = q.resolutions_for(["q-1", "q-2"], "rights-ops", datetime(2026, 11, 20, tzinfo=UTC))
    topic = [(b"k", e.model_dump_json().encode()) for e in done] + [(b"k", b"not json"), (b"k", None)]
    refuse_released({("f.jsonl", 3): "q-3"}, topic)  # not released yet: fine
    with pytest.raises(ReleaseRefused, match=r"1 entry was released already \(q-2 by rights-ops"):
        refuse_released({("f.jsonl", 3): "q-3", ("f.jsonl", 4): "q-2"}, topic)


def test_a_correction_cannot_move_a_claim_to_another_items_asset() -> None:
    from claimwatch.detect.routing import Router
    from stream.publish import ReleaseRefused, refuse_moves
    from tests.builders import catalog, claim, day_end

    router = Router()
    router.learn(catalog("CW-1", "A1"))
    router.learn(catalog("CW-2", "A2"))
    router.by_claim["C1"] = "CW-1"
    refuse_moves([claim("C1", day_end(1), asset_id="A1"), claim("C9", day_end(1), asset_id="A2")], router)
    with pytest.raises(
        ReleaseRefused, match="claim C1 belongs to item CW-1; the correction names an asset of item CW-2"
    ):
        refuse_moves([claim("C1", day_end(1), asset_id="A2")], router)
