"""A post's usual range per day (``WindowFigures`` → the roll-up row's ``band`` → an alert's
``recent_days``): what the console draws as a reviewer's evidence. The range must hold a quiet
post's days on overdispersed data and leave out a day that surged, in views or in reactions alone."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from claimwatch.detect.posts import BucketPolicy, PostModel, WindowFigures
from claimwatch.detect.rollup import BAND_DAYS, RollupBook, band_day
from schemas import MetricObservation
from schemas.rollups import ROLLUP_ROW
from tests.builders import T0, catalog, of_type, poll, run_events

DAYS = 24
VIEW_SURGE_DAY, SHARE_SURGE_DAY = 19, 21


def noisy_polls(seed: int, views_surge: float = 4.0, shares_surge: float = 8.0) -> list[MetricObservation]:
    """Hourly polls of a busy post over ``DAYS`` days: a day-and-night shape, gamma-Poisson views
    (far wider than Poisson), reactions clustered on views; views ×``views_surge`` on one day and
    shares ×``shares_surge`` with flat views on another."""
    rng = np.random.default_rng(seed)
    totals = {"views": 0, "likes": 0, "comments": 0, "shares": 0}
    out = []
    for hour in range(DAYS * 24):
        day, clock = divmod(hour, 24)
        rate = 900.0 * (1.6 if 10 <= clock < 22 else 0.45)
        if day == VIEW_SURGE_DAY:
            rate *= views_surge
        views = int(rng.poisson(rng.gamma(8.0, rate / 8.0)))
        totals["views"] += views
        for name, per_view in (("likes", 0.05), ("comments", 0.006), ("shares", 0.004)):
            surge = shares_surge if name == "shares" and day == SHARE_SURGE_DAY else 1.0
            totals[name] += int(rng.poisson(rng.gamma(4.0, views * per_view * surge / 4.0)))
        when = T0 + timedelta(hours=hour, minutes=7)
        out.append(
            poll("yt1", when, totals["views"], totals["likes"], comments=totals["comments"], shares=totals["shares"])
        )
    return out


def banded_days(polls: list[MetricObservation]) -> dict[str, dict[str, float]]:
    """Every day's band, as the roll-up rows hold it, through the model and the book alone."""
    post, book, policy = PostModel(), RollupBook(), BucketPolicy()
    for event in polls:
        t = event.event_time.timestamp()
        windows: list[WindowFigures] = []
        post.observe_totals(
            t, {k: getattr(event, k) for k in ("views", "likes", "comments", "shares")}, policy, False, windows
        )
        book.on_metric(event, t, "CW-1", {}, windows[0] if windows else None)
    days: dict[str, dict[str, float]] = {}
    for _, row in book.take(polls[-1].event_time.timestamp()):
        assert ROLLUP_ROW.validate_python(row)  # the band is part of the contract the report reads
        for day, figures in row.get("band", {}).items():
            days[day] = band_day(day, figures)
    return days


def day_of(n: int) -> str:
    return (T0 + timedelta(days=n)).date().isoformat()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_quiet_day_lies_in_the_band_and_a_surging_one_does_not(seed: int) -> None:
    days = banded_days(noisy_polls(seed))
    quiet = [days[day_of(n)] for n in range(8, VIEW_SURGE_DAY)]  # past the models' first week
    inside = [d["low"] <= d["views"] <= d["high"] for d in quiet]
    assert sum(inside) >= len(quiet) - 2, quiet  # two standard deviations: one day in twenty out
    assert all(d["reactions_low"] <= d["reactions"] <= d["reactions_high"] for d in quiet[-6:])
    surge = days[day_of(VIEW_SURGE_DAY)]
    # Above even what the model came to expect as it followed the surge through the day.
    assert surge["views"] > surge["high"] > quiet[-1]["high"]
    # Reactions rose with views that day, at about their usual rate per view: never far out.
    assert surge["reactions_low"] * 0.9 <= surge["reactions"] <= surge["reactions_high"] * 1.1
    shares = days[day_of(SHARE_SURGE_DAY)]
    assert shares["low"] <= shares["views"] <= shares["high"], "views stayed flat"
    assert shares["reactions"] > shares["reactions_high"], "shares ×8 lift the day's reactions out of range"


def test_a_day_s_range_is_never_below_zero_and_adds_up_its_windows() -> None:
    day = band_day("2026-11-20", [3.0, 2.0, 9.0, 1.0, 0.5, 4.0])
    assert (day["low"], day["high"]) == (0.0, 8.0)  # 2 ± 2·3
    assert (day["reactions_low"], day["reactions_high"]) == (0.0, 4.5)  # 0.5 ± 2·2
    book = RollupBook()
    for event in noisy_polls(4)[:2]:
        figures = WindowFigures(10.0, 8.0, 4.0, 2.0, 1.0, 1.0)
        book.on_metric(event, event.event_time.timestamp(), None, {}, figures)
    ((_, row),) = book.take()
    assert row["band"] == {T0.date().isoformat(): [20.0, 16.0, 8.0, 4.0, 2.0, 2.0]}


def test_an_alert_on_a_post_carries_its_last_days_across_the_week_s_start() -> None:
    alerts = run_events([catalog(), *noisy_polls(5)])
    spikes = of_type(alerts, "view_spike", "medium")
    assert spikes
    days = spikes[0].evidence["recent_days"]
    assert len(days) == BAND_DAYS
    assert [d["day"] for d in days] == [day_of(n) for n in range(VIEW_SURGE_DAY - BAND_DAYS + 1, VIEW_SURGE_DAY + 1)]
    weeks = {T0.date().fromisoformat(d["day"]).strftime("%G-W%V") for d in days}
    assert len(weeks) == 2, "last week's row and this week's: the days run across a Monday"
    assert days[-1]["views"] > days[-1]["high"]  # the day it fired on is out of its range already
