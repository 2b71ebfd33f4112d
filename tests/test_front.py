"""The front's order (claimwatch/front/order.py), the ids derived from data (schemas/ids.py) and the
run folder's line format (claimwatch/runfolder.py)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from claimwatch.front.order import order_events
from claimwatch.runfolder import write_jsonl
from schemas.events import ClaimEvent, Event
from schemas.ids import stable_id
from tests.builders import at, catalog, claim, poll


def sample_events(seed: int) -> list[Event]:
    rng = random.Random(seed)
    events: list[Event] = [catalog(f"CW-{n}") for n in range(3)]
    events += [poll(f"yt{rng.randrange(3)}", at(rng.randrange(48)), rng.randrange(10**6)) for _ in range(30)]
    events += [claim(f"c{rng.randrange(5)}", at(rng.randrange(48))) for _ in range(10)]
    # Every record has its own place (file, line): what breaks ties between events of the same time.
    # (Of two different events with one id, the first read is kept: files are read in path order.)
    unique = {e.model_dump().get("event_id", str(n)): e for n, e in enumerate(events)}
    return [
        e.model_copy(update={"source_file": f"f{n % 4}.csv", "source_line": n}) for n, e in enumerate(unique.values())
    ]


@given(st.integers(0, 10**6), st.randoms(use_true_random=False))
def test_the_order_does_not_depend_on_the_order_files_were_read_in(seed: int, rng: random.Random) -> None:
    events = sample_events(seed)
    shuffled = events[:]
    rng.shuffle(shuffled)
    first, dup_first = order_events(events)
    second, dup_second = order_events(shuffled)
    assert [e.model_dump_json() for e in first] == [e.model_dump_json() for e in second]
    assert dup_first == dup_second == 0 and len(first) == len(events)
    assert [e.kind for e in first[:3]] == ["catalog"] * 3  # reference data without a time first
    times = [e.event_time for e in first[3:]]  # type: ignore[union-attr]
    assert times == sorted(times)


def test_a_repeated_event_is_dropped_and_counted() -> None:
    p = poll("yt1", at(1), 10)
    ordered, duplicates = order_events([p, poll("yt1", at(0), 5), p])
    assert [e.model_dump()["event_id"] for e in ordered] == ["yt1-" + at(0).isoformat(), p.event_id]
    assert duplicates == 1


def test_stable_ids_depend_on_the_data_alone() -> None:
    assert stable_id("claim", "abc", None) == stable_id("claim", "abc", "")
    assert stable_id("a", "bc") != stable_id("ab", "c")  # parts are separated, not glued
    assert len({stable_id("claim", n) for n in range(1000)}) == 1000


def test_run_folder_lines_are_one_sorted_object_each(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    assert write_jsonl(path, [{"b": 1, "a": "é\n"}, {}]) == 2
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines == ['{"a": "é\\n", "b": 1}', "{}"]
    assert [json.loads(line) for line in lines] == [{"a": "é\n", "b": 1}, {}]


def test_a_claim_event_without_its_ids_gets_them_from_the_run_s_other_records() -> None:
    """A claim history names the claim and its channel only; the same day's claims report, later in
    data time, names its asset and video. The dispute is handed out with them."""
    from claimwatch.detect.routing import Router
    from claimwatch.front.prepare import Front
    from claimwatch.ingest.readers import FileResult

    dispute = claim("c1", at(10), status="disputed", asset_id=None, video_id=None, source="partner_api_claim_history")
    report = claim("c1", at(23), status="disputed", asset_id="A7", video_id="v7")
    other = claim("c2", at(11), asset_id=None, video_id=None)  # nothing in the run says more of it
    files = [
        FileResult("history.json", "claim_history", [dispute, other], records=2, accepted=2),
        FileResult("report.csv", "claims_reporting_api", [report], records=1, accepted=1),
    ]
    with Front(files, Router()) as front:
        taken = {(e.claim_id, e.event_time): e for e, _, _ in front.events() if isinstance(e, ClaimEvent)}
    first = taken[("c1", at(10))]
    assert (first.asset_id, first.video_id, first.status) == ("A7", "v7", "disputed")
    assert (taken[("c2", at(11))].asset_id, taken[("c2", at(11))].video_id) == (None, None)


def test_a_file_named_without_a_day_has_a_row_per_day_of_its_data(tmp_path: Path) -> None:
    """A collector's batch across two days: each day's readings, broken lines and repeats are that
    day's (a broken line is of the day of the reading before it)."""
    from claimwatch.front.filerows import file_key
    from claimwatch.front.prepare import Front
    from claimwatch.ingest.readers import read_files

    def reading(day: int, hour: int, views: int) -> str:
        return json.dumps(
            {
                "platform": "youtube",
                "platform_content_id": "vid1",
                "observed_at": f"2026-11-0{day}T{hour:02d}:00:00Z",
                "views_total": views,
            }
        )

    lines = [reading(8, 22, 100), "{broken", reading(8, 23, 110), reading(9, 1, 130), reading(9, 1, 130), "[1]"]
    path = tmp_path / "polls" / "collector-batch.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join(lines) + "\n")
    with Front(read_files([path])) as front:
        list(front.events())
        rows = front.file_rows()
        entries = list(front.quarantined())
    counts = [(r["day"], r["records"], r["accepted"], r["quarantined"], r["duplicates"]) for r in rows]
    assert counts == [("2026-11-08", 3, 2, 1, 0), ("2026-11-09", 3, 1, 2, 1)]
    assert [file_key(r) for r in rows] == [f"file|{path}|2026-11-08", f"file|{path}|2026-11-09"]
    assert sorted((q.line, str(q.data_day)) for q in entries) == [
        (2, "2026-11-08"),
        (5, "2026-11-09"),
        (6, "2026-11-09"),
    ]
