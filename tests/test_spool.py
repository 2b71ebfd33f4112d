"""The spool gives what holding every event in memory gave: the same order, duplicates and repeats."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claimwatch.detect.validation import duplicate_records
from claimwatch.front import order_events
from claimwatch.front.spool import EventSpool
from claimwatch.ingest.readers import FileResult, read_paths
from claimwatch.sample import BUNDLED_SAMPLE
from schemas.codec import encode_event
from schemas.events import Event


@cache
def sample_events() -> tuple[Event, ...]:
    return tuple(read_paths([BUNDLED_SAMPLE]).events)


def spooled(files: list[FileResult], run_events: int) -> tuple[list[Event], int, list[object]]:
    with EventSpool(run_events=run_events, max_open_runs=3) as spool:  # runs merged down on the way too
        for f in files:
            spool.add(f)
        spool.seal()
        unique, repeats = [], []
        for s in spool.ordered():
            if not s.duplicate:
                unique.append(s.event)
                assert s.value == encode_event(s.event)
            if (entry := spool.repeat_of(s)) is not None:
                repeats.append((s.seq, entry))
        return unique, spool.duplicates, [entry for _, entry in sorted(repeats, key=lambda r: r[0])]


# A file is a slice of the sample read again under a name of its own or of the sample's: repeats
# inside one file and across files, records of several events, and ties in time all occur.
files_strategy = st.lists(
    st.tuples(st.integers(0, 400), st.integers(1, 120), st.booleans(), st.integers(0, 3)),
    min_size=1,
    max_size=6,
)


def make_files(picks: list[tuple[int, int, bool, int]]) -> list[FileResult]:
    events = sample_events()
    files = []
    for n, (start, length, renamed, step) in enumerate(picks):
        chosen = list(events[start * 3 : start * 3 + length * (step + 1) : step + 1])
        if renamed:
            chosen = [e.model_copy(update={"source_file": f"copy-{n}.csv"}) for e in chosen]
        files.append(FileResult(f"file-{n}", "mixed", chosen, records=len(chosen), accepted=len(chosen)))
    return files


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(picks=files_strategy, run_events=st.sampled_from([1, 7, 50, 100_000]))
def test_the_spool_orders_dedups_and_finds_repeats_as_memory_did(
    picks: list[tuple[int, int, bool, int]], run_events: int
) -> None:
    files = make_files(picks)
    every = [e for f in files for e in f.events]
    expected, duplicates = order_events(every)
    unique, spool_duplicates, repeats = spooled(files, run_events)
    assert [encode_event(e) for e in unique] == [encode_event(e) for e in expected]
    assert spool_duplicates == duplicates
    assert repeats == duplicate_records(every)


@pytest.mark.slow
def test_a_sample_read_twice_gives_what_memory_gave(small_data: Path) -> None:
    files = read_paths([small_data]).files
    unique, duplicates, repeats = spooled(files + files, run_events=10_000)
    twice = [e for f in files + files for e in f.events]
    expected, expected_duplicates = order_events(twice)
    assert [encode_event(e) for e in unique] == [encode_event(e) for e in expected]
    assert duplicates == expected_duplicates > len(twice) // 3
    assert repeats == duplicate_records(twice)
    assert len(repeats) > 100


@pytest.mark.slow
def test_reader_quarantine_entries_come_back_in_the_order_read() -> None:
    read = read_paths([BUNDLED_SAMPLE])
    files = read.files
    with EventSpool() as spool:
        for f in files:
            spool.add(f)
        spool.seal()
        assert list(spool.quarantined()) == [q for f in files for q in f.quarantined]
        assert spool.counts() == read.counts()
        with pytest.raises(RuntimeError, match="sealed"):
            spool.add(files[0])
