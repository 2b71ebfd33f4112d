"""The roll-up rows each item keeps for the weekly report (claimwatch/detect/rollup.py): what a row
holds, when data is late, when rows leave memory, and that none of it depends on when rows are taken."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from claimwatch.detect.claimstate import ClaimState, Transition
from claimwatch.detect.rollup import HORIZON_DAYS, RollupBook, iso_week
from schemas.rollups import ROLLUP_ROW
from tests.builders import T0, at, claim, poll


def seen(book: RollupBook, event: Any, old: str | None, created: float | None = None) -> None:
    state = ClaimState(event.claim_id, asset_id=event.asset_id, status=event.status, created_at=created)
    t = event.event_time.timestamp()
    book.on_claim(event, [Transition(state, old, event.status, t)], state, "CW-1")


def test_a_claim_row_counts_the_week_s_changes_by_kind() -> None:
    book = RollupBook()
    week_start = T0.timestamp()
    seen(book, claim("c1", at(1)), None, created=week_start + 60)  # created this week: new
    seen(book, claim("c2", at(2)), None, created=week_start - 86_400 * 30)  # a backlog: first seen
    seen(book, claim("c3", at(3)), None)  # creation unknown: first seen, never new
    seen(book, claim("c1", at(30), status="disputed"), "active")
    seen(book, claim("c1", at(50), status="inactive"), "disputed")
    rows = dict(book.take(at(50).timestamp()))
    week = iso_week(T0)
    c1 = rows[f"claim|{week}|c1"]
    assert c1["transitions"] == {"new": 1, "disputed": 1, "inactive": 1, "released:after_dispute": 1}
    assert c1["status"] == "inactive" and c1["records"] == {"reporting_api_claims": 3}
    assert rows[f"claim|{week}|c2"]["transitions"] == {"seen_first_time": 1}
    assert rows[f"claim|{week}|c3"]["transitions"] == {"seen_first_time": 1}
    for row in rows.values():
        ROLLUP_ROW.validate_python(row)  # every row is a row of the contract


def test_a_post_row_keeps_the_week_s_first_and_last_poll() -> None:
    book = RollupBook()
    for hours, views in ((5, 100), (1, 40), (9, 300)):  # out of order, as polls arrive
        p = poll("yt1", at(hours), views, likes=hours)
        book.on_metric(p, p.event_time.timestamp(), "CW-1", {"duplicate_poll": 1} if hours == 9 else {})
    (key, row), *_ = book.take(at(9).timestamp())
    assert key == f"post|{iso_week(T0)}|youtube|yt1"
    assert row["first"] == [at(1).timestamp(), 40, 1] and row["last"] == [at(9).timestamp(), 300, 9]
    assert row["findings"] == {"duplicate_poll": 1} and row["records"] == {"platform_poll": 3}


def test_data_past_the_horizon_is_counted_not_rolled_up() -> None:
    book = RollupBook()
    now = at(24 * (HORIZON_DAYS + 3))
    late = poll("yt1", now - timedelta(days=HORIZON_DAYS + 1), 10)
    book.on_metric(poll("yt1", now, 500), now.timestamp(), "CW-1", {})
    book.on_metric(late, late.event_time.timestamp(), "CW-1", {})
    rows = dict(book.take(now.timestamp()))
    assert rows[f"late|{now.date().isoformat()}"]["late_beyond_rollup"] == 1
    assert not any(k.startswith(f"post|{iso_week(late.event_time)}|") for k in rows)


def test_rows_leave_memory_past_the_horizon_and_their_records_are_deleted_at_the_next_take() -> None:
    book = RollupBook()
    first = poll("yt1", at(0), 1)
    book.on_metric(first, first.event_time.timestamp(), "CW-1", {})
    key = f"post|{iso_week(T0)}|youtube|yt1"
    taken, deleted = book.take_changes(at(1).timestamp())
    assert [k for k, _ in taken] == [key] and deleted == []
    later = at(24 * (HORIZON_DAYS + 8)).timestamp()
    assert book.take_changes(later) == ([], [])  # forgotten now ...
    assert key not in book.rows
    assert book.take_changes(later) == ([], [key])  # ... and its stored record deleted at the next call


EVENTS = st.lists(
    st.tuples(st.integers(0, 24 * 20), st.integers(0, 1_000_000), st.sampled_from(["yt1", "yt2", "tt1"])),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(EVENTS, st.sets(st.integers(0, 39)))
def test_the_rows_do_not_depend_on_when_they_are_taken(events: list[tuple[int, int, str]], takes: set[int]) -> None:
    """The worker takes rows at each checkpoint, replay and the embedded run once at the end: the
    latest version of every row must be the same."""

    def run(take_at: set[int]) -> dict[str, Any]:
        book, latest = RollupBook(), dict[str, Any]()
        for i, (hours, views, post) in enumerate(events):
            p = poll(post, at(hours), views, platform="tiktok" if post.startswith("tt") else "youtube")
            book.on_metric(p, p.event_time.timestamp(), "CW-1", {})
            if i in take_at:
                latest.update(book.take(p.event_time.timestamp()))
        latest.update(book.take())
        return latest

    once = run(set())
    assert run(takes) == once


def test_the_views_between_two_weeks_polls_are_split_at_the_week_start_not_lost() -> None:
    """Polls every 7 hours do not fall on Monday 00:00: the interval across it belongs to both weeks."""
    book = RollupBook()
    hours = range(3, 24 * 21, 7)  # three weeks from Monday 2026-11-02, never on a boundary
    for h in hours:
        p = poll("yt1", at(h), 1_000 + 100 * h, likes=h)
        book.on_metric(p, p.event_time.timestamp(), "CW-1", {})
    rows = [row for key, row in sorted(book.take()) if key.startswith("post|")]
    assert len(rows) == 3
    gained = sum(row["last"][1] - row["first"][1] for row in rows)
    assert gained == 100 * (max(hours) - min(hours)), "every view gained is in exactly one week"
    for before, after in itertools.pairwise(rows):
        assert before["last"] == after["first"]  # one boundary point, shared
        assert after["first"][0] == at(24 * 7 * (rows.index(after))).timestamp()  # at Monday 00:00 UTC
    assert rows[1]["first"][1] == 1_000 + 100 * 24 * 7  # views interpolated at the boundary


def test_a_late_poll_far_behind_the_item_s_data_splits_nothing() -> None:
    """Over 7 days behind the item's latest data, last week's row may be gone (taken and past the
    horizon) depending on when rows were taken: no split, whatever happened."""
    book = RollupBook()
    for h, views in ((24 * 6, 100), (24 * 20, 900), (24 * 7 + 5, 300)):  # the last one is 13 days late
        p = poll("yt1", at(h), views)
        book.on_metric(p, p.event_time.timestamp(), "CW-1", {})
    rows = dict(book.take())
    second = rows[f"post|{iso_week(at(24 * 7))}|youtube|yt1"]
    assert second["first"] == [at(24 * 7 + 5).timestamp(), 300, 0]


def test_a_claim_first_seen_at_its_creation_learns_its_status_without_a_change() -> None:
    """A claim history's creation event gives no status: the report that then lists the claim as
    potential says what it was created as, not that it changed (a release from there is a change)."""
    from claimwatch.detect.claimstate import ClaimBook

    book, rollups = ClaimBook(), RollupBook()
    created = claim("c1", at(1), status="unknown", source="partner_api_claim_history", event_type="claim_created")
    for event in (created, claim("c1", at(23), status="potential"), claim("c1", at(47), status="inactive")):
        rollups.on_claim(event, book.observe(event), book.claims["c1"], "CW-1")
    row = dict(rollups.take(at(47).timestamp()))[f"claim|{iso_week(T0)}|c1"]
    assert row["transitions"] == {"new": 1, "inactive": 1, "released:potential_not_confirmed": 1}
