"""Roll-ups: what the weekly report needs, kept by each content item as small keyed rows.

The weekly batch job must never unpickle or replay a worker's private model state, so every item
keeps, beside its models, the figures of its recent weeks as plain JSON rows, and the worker
publishes the rows that changed at each checkpoint to a compacted topic (the latest row per key
wins). The embedded run keeps the same rows; one report builder reads them from either place.

Rows, keyed by ``kind|period|ids`` (the publisher adds the item key, since two items can hold a
row for the same claim when its events were routed to both):

- ``claim|<ISO week>|<claim id>``: the claim's latest status in the week and when it was seen,
  its asset, video, channel, type, origin, policy, the status changes of the week, the records
  and days seen per source, and its dispute risk with the drivers after its last event;
- ``post|<ISO week>|<platform>|<post id>``: a post's first and last poll of the week (time, views,
  reactions), its analytics views per day, the days and records seen per source, the poll
  findings (late, duplicate, counter resets and jumps) of the week, and per day the ``band``: views
  and reactions of the buckets judged that day beside their usual count and usual range (see
  ``WindowFigures``) — one row a week, not a day, so a catalogue of 100,000 items on 4 platforms is
  400,000 rows a week;
- ``asset|<ISO week>|<asset id>``: the asset's dispute risk from its context (ownership
  conflicts, claim surges, open disputes and appeals across its claims) as last computed in the
  week, with its drivers;
- ``catalog|<content id>``: the item's title and artist, so reports show names next to ids.

Rows are updated as events are applied, so they depend on the events alone, not on when a
checkpoint happens. A row stays in memory until its data time is ``HORIZON_DAYS`` behind the item's
latest event (and it has been taken); later data for it is counted as ``late_beyond_rollup`` in
the current day's row instead of overwriting a published row with a partial one.

>>> from datetime import UTC, datetime
>>> from schemas import MetricObservation
>>> book = RollupBook()
>>> poll = MetricObservation(event_id="e1", source="platform_poll", granularity="cumulative",
...     platform="tiktok", platform_content_id="t1", event_time=datetime(2026, 11, 16, 9, tzinfo=UTC), views=10)
>>> book.on_metric(poll, poll.event_time.timestamp(), "CW-1", {})
>>> [(key, row["last"]) for key, row in book.take(poll.event_time.timestamp())]
[('post|2026-W47|tiktok|t1', [1794819600.0, 10, 0])]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from claimwatch.detect.claimstate import CREATION_STATES, ClaimState, Transition
from claimwatch.detect.posts import WindowFigures
from claimwatch.detect.timeutil import DAY
from schemas.events import CatalogItem, ClaimEvent, MetricObservation

HORIZON_DAYS = 14
BAND_DAYS = 7  # the days of a post's band an alert on it carries as evidence
# A day's usual range: this many standard deviations either side of its usual count, about 95 % of
# quiet days inside it (what the console draws as the band).
BAND_Z = 2.0
# What a day of a post's band reads as (``band_day``): the evidence an alert carries, the console's table.
BAND_FIELDS = (
    "day",
    "views",
    "expected",
    "low",
    "high",
    "reactions",
    "reactions_expected",
    "reactions_low",
    "reactions_high",
)
# A release is counted once as "inactive" and once under its outcome, by the status it left.
RELEASE_OUTCOMES = {
    "disputed": "after_dispute",
    "appealed": "after_appeal",
    "pending": "potential_not_confirmed",
    "potential": "potential_not_confirmed",
    "routed_for_review": "potential_not_confirmed",
}


def iso_week(moment: datetime | date) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_CALENDAR: dict[int, tuple[str, str, float]] = {}


def _calendar(t: float) -> tuple[str, str, float]:
    """``(day, ISO week, start of the week as epoch seconds)`` of a time in UTC; cached per day, since
    every event asks (a dict lookup instead of a calendar computation on the hot path)."""
    number = int(t // DAY)
    found = _CALENDAR.get(number)
    if found is None:
        day = date.fromordinal(EPOCH_ORDINAL + number)
        found = _CALENDAR[number] = (day.isoformat(), iso_week(day), (number - day.weekday()) * DAY)
    return found


def _day(t: float) -> str:
    return _calendar(t)[0]


def _policy(event: ClaimEvent) -> str | None:
    if not event.policy_action_by_territory:
        return None
    actions = set(event.policy_action_by_territory.values())
    return "block" if "block" in actions else "track" if "track" in actions else "monetize"


@dataclass
class RollupBook:
    """One item's roll-up rows (plain JSON values), and which changed since they were last taken."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    watermark: float | None = None
    # Rows a worker has stored as records of their own, and those of them forgotten since the last
    # take_changes (their records are deleted then).
    saved: set[str] = field(default_factory=set)
    expired: set[str] = field(default_factory=set)

    def _late(self, t: float) -> bool:
        """Whether data of time ``t`` is past the horizon (then counted, not rolled up). Decided by
        the data alone, never by whether a row is still in memory, so the outcome does not depend on
        when rows were taken."""
        if self.watermark is None or t > self.watermark:
            self.watermark = t
            return False
        if t >= self.watermark - HORIZON_DAYS * DAY:
            return False
        day = _calendar(self.watermark)[0]
        late = self.rows.setdefault(f"late|{day}", {"kind": "late", "day": day, "late_beyond_rollup": 0})
        late["late_beyond_rollup"] += 1
        self.dirty.add(f"late|{day}")
        return True

    def _open(self, t: float, kind: str, ident: str, source: str) -> tuple[dict[str, Any], float] | None:
        """The week's row of ``kind|week|ident`` (created when new), with this record counted for its
        source and day; and the week's start. None when the data is past the horizon."""
        if self._late(t):
            return None
        day, week, week_start = _calendar(t)
        key = f"{kind}|{week}|{ident}"
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = {"kind": kind, "week": week, "records": {}, "days": {}}
        self.dirty.add(key)
        records = row["records"]
        records[source] = records.get(source, 0) + 1
        days = row["days"].get(source)
        if days is None:
            row["days"][source] = [day]
        elif days[-1] != day and day not in days:
            days.append(day)
            days.sort()
        return row, week_start

    # ------------------------------------------------------------------------------- updates

    def on_catalog(self, item: CatalogItem) -> None:
        key = f"catalog|{item.content_id}"
        row: dict[str, Any] = {
            "kind": "catalog",
            "content_id": item.content_id,
            "title": item.title,
            "artist": item.artist,
        }
        # The ids claims are matched by: what the metadata check compares each claim's against.
        for name in ("isrc", "asset_id", "custom_id"):
            if getattr(item, name):
                row[name] = getattr(item, name)
        self.rows[key] = row
        self.dirty.add(key)

    def on_claim(
        self, event: ClaimEvent, transitions: list[Transition], state: ClaimState | None, content_id: str | None
    ) -> None:
        if event.source == "video_metadata_report" or not event.claim_id:
            return
        t = event.event_time.timestamp()
        opened = self._open(t, "claim", event.claim_id, event.source)
        if opened is None:
            return
        row, week_start = opened
        if "status" not in row:
            row.update(claim_id=event.claim_id, status=event.status, status_time=t, transitions={})
        for tr in transitions:
            if tr.old == "unknown" and tr.new in CREATION_STATES:
                continue  # the status of a claim seen first at its creation becomes known: no change
            if tr.old is not None:
                label = tr.new
            elif tr.claim.created_at is not None and tr.claim.created_at >= week_start:
                label = "new"
            else:
                # First seen, created before this week or when is unknown: a Studio export without a
                # creation date lists the whole backlog on its first day, and none of it is new.
                label = "seen_first_time"
            row["transitions"][label] = row["transitions"].get(label, 0) + 1
            if tr.new == "inactive" and tr.old is not None:  # why a claim was released: the status it left
                # (a claim first seen already inactive was released before we saw it: not this week's)
                outcome = "released:" + RELEASE_OUTCOMES.get(tr.old or "", "by_owner_or_expired")
                row["transitions"][outcome] = row["transitions"].get(outcome, 0) + 1
        if t >= row["status_time"]:
            row["status"], row["status_time"] = (state.status if state else event.status), t
        for name, value in (
            ("asset_id", event.asset_id or (state.asset_id if state else None)),
            ("video_id", event.video_id or (state.video_id if state else None)),
            ("channel_id", event.channel_id),
            ("channel_title", event.channel_title),
            ("video_title", event.video_title or (state.video_title if state else None)),
            ("content_id", content_id),
            ("content_type", event.content_type if event.content_type != "unknown" else None),
            ("origin", event.origin if event.origin != "unknown" else None),
            ("policy", _policy(event)),
            ("created_at", state.created_at if state else None),
            ("isrc", event.isrc),
            ("asset_title", event.asset_title),
        ):
            if value is not None:
                row[name] = value
        if state is not None:
            row["third_party"] = state.third_party
            row["risk"] = state.risk
            row["risk_drivers"] = [dict(d) for d in state.risk_drivers]
            for stamp in ("dispute_at", "appeal_at"):
                if getattr(state, stamp) is not None:
                    row[stamp] = getattr(state, stamp)

    def on_asset_risk(
        self, t: float, asset_id: str, content_id: str | None, score: float, drivers: list[dict[str, object]]
    ) -> None:
        """An asset's dispute risk from its context (conflicts, surges, open disputes), as last computed."""
        opened = self._open(t, "asset", asset_id, "asset_risk")
        if opened is None:
            return
        row, _ = opened
        if t >= row.get("risk_time", -1.0):
            row.update(asset_id=asset_id, risk=score, risk_drivers=[dict(d) for d in drivers], risk_time=t)
            if content_id is not None:
                row["content_id"] = content_id

    def on_metric(
        self,
        event: MetricObservation,
        t: float,
        content_id: str | None,
        findings: dict[str, int],
        window: WindowFigures | None = None,
    ) -> None:
        """One poll or analytics day (the hot path: most events are polls); ``window``: the bucket
        this poll closed, beside the post's usual range, added to its day's ``band``."""
        ident = f"{event.platform}|{event.platform_content_id}"
        opened = self._open(t, "post", ident, event.source)
        if opened is None:
            return
        row, week_start = opened
        if "platform" not in row:
            row.update(platform=event.platform, platform_content_id=event.platform_content_id, findings={})
        day = _calendar(t)[0]
        if content_id is not None:
            row["content_id"] = content_id
        if findings:
            found = row["findings"]
            for name, n in findings.items():
                if n:
                    found[name] = found.get(name, 0) + n
        if event.granularity == "day":
            if event.views is not None:
                row.setdefault("analytics_views", {})[day] = event.views  # a restated day replaces, never adds
            return
        point = [t, event.views or 0, (event.likes or 0) + (event.comments or 0) + (event.shares or 0)]
        if "first" not in row:
            self._split_at_week_start(row, ident, point, week_start)
        first = row.get("first")
        if first is None or t < first[0]:
            row["first"] = point
        last = row.get("last")
        if last is None or t > last[0]:
            row["last"] = point
        if window is not None:
            # One decimal: small posts' reactions are a few a day, and the rows stay short. Added
            # in place, figure by figure: this runs for every bucket closed.
            bands = row.setdefault("band", {})
            sums = bands.get(day)
            if sums is None:
                sums = bands[day] = [0.0] * 6
            sums[0] = round(sums[0] + window.views, 1)
            sums[1] = round(sums[1] + window.expected, 1)
            sums[2] = round(sums[2] + window.variance, 1)
            sums[3] = round(sums[3] + window.reactions, 1)
            sums[4] = round(sums[4] + window.reactions_expected, 1)
            sums[5] = round(sums[5] + window.reactions_variance, 1)

    def recent_band(self, platform: str, post_id: str, t: float, days: int = BAND_DAYS) -> list[dict[str, Any]]:
        """The post's last ``days`` days of ``band`` (this week's row and last week's, as far as
        they are kept), oldest first: the evidence an alert on it carries."""
        ident = f"{platform}|{post_id}"
        first_day = _day(t - (days - 1) * DAY)
        found: dict[str, list[float]] = {}
        for week in (_calendar(t - 7 * DAY)[1], _calendar(t)[1]):
            row = self.rows.get(f"post|{week}|{ident}")
            for day, figures in (row or {}).get("band", {}).items():
                if day >= first_day:
                    found[day] = figures
        return [band_day(day, found[day]) for day in sorted(found)]

    def _split_at_week_start(self, row: dict[str, Any], ident: str, point: list[float], week_start: float) -> None:
        """The views gained between a post's last poll of one week and its first of the next belong
        to both weeks: split that interval at the week's start (linearly), so neither loses them.

        Only while last week's row is surely in memory (the poll is at most 7 days behind the item's
        latest data, so the row cannot have passed the horizon): the outcome depends on the data
        alone, never on when rows were taken."""
        if self.watermark is not None and point[0] < self.watermark - 7 * DAY:
            return
        previous_key = f"post|{_calendar(week_start - 1)[1]}|{ident}"
        previous = self.rows.get(previous_key)
        last = previous.get("last") if previous else None
        if previous is None or last is None or not last[0] < week_start <= point[0]:
            return
        share = (week_start - last[0]) / (point[0] - last[0]) if point[0] > last[0] else 1.0
        boundary = [week_start, *(round(a + (b - a) * share) for a, b in zip(last[1:], point[1:], strict=True))]
        previous["last"] = boundary
        self.dirty.add(previous_key)
        row["first"] = boundary

    # ------------------------------------------------------------------------------- taking

    def take(self, now: float | None = None) -> list[tuple[str, dict[str, Any]]]:
        """The rows changed since the last take (copies), then forgets rows past the horizon."""
        return self.take_changes(now)[0]

    def take_changes(self, now: float | None = None) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
        """:meth:`take`, and the stored rows to delete now: those forgotten by the previous call.

        A row taken and forgotten at once is still stored once (a restore must be able to publish
        it again if the process dies before it is) and deleted at the next call, like every
        stored row that was forgotten."""
        delete = sorted(self.expired)
        self.expired.clear()
        taken = [(key, _copy(self.rows[key])) for key in sorted(self.dirty) if key in self.rows]
        self.dirty.clear()
        self.saved.update(key for key, _ in taken)
        horizon = (now if now is not None else self.watermark or 0.0) - HORIZON_DAYS * DAY
        cutoff_day = _day(horizon) if horizon > 0 else ""
        for key in [k for k, row in self.rows.items() if _row_day(row) < cutoff_day]:
            del self.rows[key]
            if key in self.saved:
                self.saved.discard(key)
                self.expired.add(key)
        return taken, delete


def band_day(day: str, figures: list[float]) -> dict[str, Any]:
    """One day of a post's ``band``: its counts, their usual and the usual range, ``BAND_Z`` standard
    deviations either side (never below zero)."""
    views, expected, variance, reactions, reactions_expected, reactions_variance = figures

    def usual_range(mean: float, var: float) -> tuple[float, float]:
        half = BAND_Z * math.sqrt(max(0.0, var))
        return round(max(0.0, mean - half), 1), round(mean + half, 1)

    low, high = usual_range(expected, variance)
    reactions_low, reactions_high = usual_range(reactions_expected, reactions_variance)
    shown = (day, views, expected, low, high, reactions, reactions_expected, reactions_low, reactions_high)
    return dict(zip(BAND_FIELDS, shown, strict=True))


def _row_day(row: dict[str, Any]) -> str:
    """The last day a row covers ('~' sorts after every date: catalog rows never expire)."""
    if "week" in row:
        return (_week_monday(row["week"]) + timedelta(days=6)).isoformat()
    return str(row.get("day", "~"))


def _week_monday(week: str) -> date:
    year, number = week.split("-W")
    return date.fromisocalendar(int(year), int(number), 1)


def _copy(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            out[key] = {k: list(v) if isinstance(v, list) else v for k, v in value.items()}  # days, records
        elif isinstance(value, list):
            out[key] = list(value)
        else:
            out[key] = value
    return out
