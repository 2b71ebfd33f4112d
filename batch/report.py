"""The weekly summary and dispute-risk report: one builder for the embedded run and the batch job.

:class:`ReportInputs` are the roll-up rows the detection core keeps per item
(:mod:`claimwatch.detect.rollup`), the file rows of what was read, the alerts and the quarantine,
whether they come from an embedded run's folder or from Kafka. :class:`WeekIndex` merges them per
ISO week (pure, no I/O); :func:`build_report` turns one week into the ``report.json`` contract;
:func:`render_files` gives ``report.json``, ``report.html`` and the CSV tables as text.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from batch.html import render_html, video_url
from claimwatch.detect.claimstate import TAKEDOWN_STATES
from claimwatch.detect.dispute_risk import risk_level
from claimwatch.detect.rollup import iso_week
from claimwatch.detect.timeutil import rfc3339
from claimwatch.textsafe import safe_cell, safe_text
from schemas.alerts import REVIEW_SEVERITIES, Alert, severity_rank
from schemas.events import QuarantineEntry
from schemas.report import (
    AssetRisk,
    ClaimRisk,
    ClaimsSummary,
    DataQuality,
    Mover,
    PlatformTrend,
    ReviewAlert,
    ReviewGroup,
    SchemaDrift,
    TopAsset,
    TopChannel,
    Trends,
    ViralItem,
    WeeklyReport,
    WeekOverWeek,
)
from schemas.rollups import ROLLUP_ROW, AssetRow, ClaimRow, FileRow, PostRow

DAILY_SOURCES = ("reporting_api_claims", "studio_claims_csv", "channel_basic", "content_owner_basic", "platform_poll")
# Two deliveries of the same daily claims report: a day is covered when either arrived.
SOURCE_FAMILIES = {"reporting_api_claims": "claims report", "studio_claims_csv": "claims report"}
CLAIMS_FAMILY = "claims report"
TOP_N = 10
MAX_RISK_ROWS = 200
RISK_LISTED = 0.3  # claims under this are listed only when disputed or appealed
OPEN_DISPUTE = ("disputed", "appealed")
ITEM_SEPARATOR = "|@"  # a published roll-up key is "<row key>|@<item key>"


def week_bounds(week: str) -> tuple[datetime, datetime]:
    year, number = week.split("-W")
    monday = date.fromisocalendar(int(year), int(number), 1)
    start = datetime.combine(monday, time(), tzinfo=UTC)
    return start, start + timedelta(days=7) - timedelta(seconds=1)


def week_days(week: str) -> list[str]:
    start, _ = week_bounds(week)
    return [(start + timedelta(days=i)).date().isoformat() for i in range(7)]


def last_complete_week(now: datetime) -> str:
    """The last ISO week (UTC) that has ended before ``now``: Monday's report is last week's."""
    return iso_week(now.astimezone(UTC) - timedelta(days=7))


@dataclass
class ReportInputs:
    """Everything a weekly report is built from, whichever place it was read from."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # roll-up and file rows, by key
    alerts: list[Alert] = field(default_factory=list)
    quarantine: list[QuarantineEntry] = field(default_factory=list)
    weeks_seen: set[str] = field(default_factory=set)  # weeks of the rows read, kept or skipped


@dataclass
class WeekIndex:
    """The rows of every week, merged across the items that hold a row for the same claim or post."""

    claims: dict[str, dict[str, ClaimRow]] = field(default_factory=lambda: defaultdict(dict))
    posts: dict[str, dict[tuple[str, str], list[PostRow]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )  # week → post → its rows (one per item that holds the post)
    assets: dict[str, dict[str, AssetRow]] = field(default_factory=lambda: defaultdict(dict))
    late: Counter[str] = field(default_factory=Counter)  # week → records too late to roll up
    titles: dict[str, dict[str, str]] = field(default_factory=dict)
    catalog: dict[str, dict[str, Any]] = field(default_factory=dict)  # content id -> its catalog row
    files: list[FileRow] = field(default_factory=list)
    alerts: dict[str, list[Alert]] = field(default_factory=lambda: defaultdict(list))
    quarantine: list[QuarantineEntry] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # row key → why it is not a row of the contract

    @classmethod
    def build(cls, inputs: ReportInputs) -> WeekIndex:
        index = cls()
        for key in sorted(inputs.rows):
            try:
                row = ROLLUP_ROW.validate_python(inputs.rows[key])
            except ValidationError as exc:
                index.refused[key] = _first_error(exc)
                continue
            inputs.rows[key] = dict(row)  # the checked copy replaces the raw one: memory holds one of them
            if row["kind"] == "claim":
                claims = index.claims[row["week"]]
                claims[row["claim_id"]] = _merge_claim(claims.get(row["claim_id"]), row)
            elif row["kind"] == "post":
                index.posts[row["week"]][(row["platform"], row["platform_content_id"])].append(row)
            elif row["kind"] == "asset":
                assets = index.assets[row["week"]]
                known = assets.get(row["asset_id"])
                # two items holding the asset: its latest assessment counts
                if known is None or (row["risk_time"], row["risk"]) > (known["risk_time"], known["risk"]):
                    assets[row["asset_id"]] = row
            elif row["kind"] == "late":
                index.late[iso_week(date.fromisoformat(row["day"]))] += row["late_beyond_rollup"]
            elif row["kind"] == "catalog":
                index.titles[row["content_id"]] = {"title": row["title"] or "", "artist": row["artist"] or ""}
                index.catalog[row["content_id"]] = dict(row)
            else:
                index.files.append(row)
        for alert in inputs.alerts:
            index.alerts[iso_week(alert.event_time)].append(alert)
        for alerts in index.alerts.values():
            alerts.sort(key=lambda a: (a.event_time, a.alert_id))
        index.quarantine = list(inputs.quarantine)
        return index

    def weeks(self) -> list[str]:
        """Weeks with daily data in them: a claim created years ago does not make a report of its week."""
        daily = {w for w, claims in self.claims.items() if any(_daily(c) for c in claims.values())}
        daily |= {w for w, posts in self.posts.items() if posts}
        return sorted(daily)

    def title(self, content_id: str | None) -> str:
        return self.titles.get(content_id or "", {}).get("title", "")


def _first_error(exc: ValidationError) -> str:
    """A refused row's reason in one line: where and what, of the first problem."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}"[:200] + (f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else "")


def _daily(claim: ClaimRow) -> bool:
    return any(source in DAILY_SOURCES for source in claim["records"])


def _merge_claim(old: ClaimRow | None, row: ClaimRow) -> ClaimRow:
    """One claim's rows from two items: counts add up, the later status wins."""
    if old is None:
        return row
    newer, older = (row, old) if row["status_time"] >= old["status_time"] else (old, row)
    merged: ClaimRow = {**older, **newer}
    merged["records"] = dict(Counter(old["records"]) + Counter(row["records"]))
    merged["transitions"] = dict(Counter(old["transitions"]) + Counter(row["transitions"]))
    merged["days"] = {
        s: sorted(set(old["days"].get(s, [])) | set(row["days"].get(s, [])))
        for s in set(old["days"]) | set(row["days"])
    }
    return merged


@dataclass(frozen=True)
class Gain:
    views: int
    engaged: int
    days: float  # span between the week's first and last poll of the post

    @property
    def views_per_day(self) -> float:
        return self.views / self.days if self.days else 0.0


def _gains(posts: dict[tuple[str, str], list[PostRow]]) -> dict[tuple[str, str], Gain]:
    """Views and reactions gained per post within the week, from its first and last poll."""
    out = {}
    for key, days in posts.items():
        polled = [d for d in days if "first" in d]
        if not polled:
            continue
        t0, v0, e0 = min(d["first"] for d in polled if "first" in d)
        t1, v1, e1 = max(d["last"] for d in polled if "last" in d)
        if t1 > t0:
            out[key] = Gain(max(0, v1 - v0), max(0, e1 - e0), (t1 - t0) / 86_400)
    return out


def _trends(index: WeekIndex, week: str) -> Trends:
    """This week against last, per day of data: a week with two days of data is not an 80 % fall."""
    start, _ = week_bounds(week)
    now = _gains(index.posts.get(week, {}))
    before = _gains(index.posts.get(iso_week(start - timedelta(days=1)), {}))
    daily_views: Counter[str] = Counter()
    poll_days: set[str] = set()
    for rows in index.posts.get(week, {}).values():
        for d in rows:
            daily_views.update(d.get("analytics_views", {}))
            poll_days.update(d.get("days", {}).get("platform_poll", []))
    return {
        "per_platform": _platform_trends(now, before),
        "daily_views": {"youtube (analytics)": dict(sorted(daily_views.items()))} if daily_views else {},
        "days_with_polls": len(poll_days),
        "top_movers": _top_movers(now, before),
        "viral_items": _viral_items(index, week),
    }


def _platform_trends(now: dict[tuple[str, str], Gain], before: dict[tuple[str, str], Gain]) -> dict[str, PlatformTrend]:
    """Views and engagements gained per platform, per day beside last week's."""
    per_platform: dict[str, PlatformTrend] = {}
    for platform in sorted({p for p, _ in now}):
        gains = [g for (p, _), g in sorted(now.items()) if p == platform]
        views, engaged = sum(g.views for g in gains), sum(g.engaged for g in gains)
        per_day = round(sum(g.views_per_day for g in gains))
        last = sum(g.views_per_day for (p, _), g in before.items() if p == platform)
        per_platform[platform] = {
            "views": views,
            "engagements": engaged,
            "posts": len(gains),
            "views_per_day": per_day,
            "views_per_day_last_week": round(last) if before else None,
            "change_pct": round(100.0 * (per_day - last) / last, 1) if before and last else None,
            "engagement_rate": round(engaged / views, 4) if views else None,
        }
    return per_platform


def _top_movers(now: dict[tuple[str, str], Gain], before: dict[tuple[str, str], Gain]) -> list[Mover]:
    """Posts whose views per day moved most against last week (both weeks at least 1,000 views)."""
    movers = []
    for key, gain in now.items():
        old = before.get(key)
        if old is not None and old.views >= 1000 and gain.views >= 1000 and old.views_per_day and gain.days >= 1:
            movers.append((gain.views_per_day / old.views_per_day, key, gain, old))
    movers.sort(key=lambda m: (-abs(math.log(m[0])), m[1]))
    return [
        {
            "platform": platform,
            "platform_content_id": post,
            "views_per_day": round(gain.views_per_day),
            "views_per_day_last_week": round(old.views_per_day),
            "ratio": round(ratio, 3),
        }
        for ratio, (platform, post), gain, old in movers[:TOP_N]
    ]


def _viral_items(index: WeekIndex, week: str) -> list[ViralItem]:
    """Items with a view spike or a spread across platforms of medium severity or more."""
    platforms: dict[str, set[str]] = defaultdict(set)
    items: dict[str, ViralItem] = {}
    for a in index.alerts.get(week, []):
        if a.type in ("view_spike", "viral_propagation") and a.severity not in ("info", "low"):
            item = a.subject.content_id or a.subject.platform_content_id or ""
            entry = items.setdefault(
                item,
                {
                    "content_id": a.subject.content_id,
                    "title": index.title(a.subject.content_id),
                    "platforms": [],
                    "max_ratio": 0.0,
                    "first_alert": rfc3339(a.event_time),
                },
            )
            platforms[item].add(a.subject.platform or "")
            entry["max_ratio"] = max(entry["max_ratio"], float(a.evidence.get("ratio", 0) or 0))
    for item, entry in items.items():
        entry["platforms"] = sorted(platforms[item])
    return sorted(items.values(), key=lambda e: (-e["max_ratio"], str(e["content_id"])))


def _ours(claims: dict[str, ClaimRow]) -> list[ClaimRow]:
    """The week's claims made by us: a third party's claim on our video is theirs, not ours."""
    return [c for _, c in sorted(claims.items()) if not c.get("third_party")]


def _claims_summary(index: WeekIndex, week: str) -> ClaimsSummary:
    """Our claims listed on the week's claims reports, and the status changes of the week."""
    claims = index.claims.get(week, {})
    ours = _ours(claims)
    listed = [c for c in ours if _daily(c)]  # on the week's claims reports: the inventory

    def count(name: Literal["status", "content_type", "origin", "policy"]) -> dict[str, int]:
        return dict(sorted(Counter(str(c.get(name)) for c in listed if c.get(name)).items()))

    moves: Counter[str] = Counter()
    for c in ours:
        moves.update(c.get("transitions", {}))
    top_assets, top_channels = _busiest(ours)
    return {
        "total": len(listed),
        "by_status": count("status"),
        "by_type": count("content_type"),
        "by_origin": count("origin"),
        "by_policy": count("policy"),
        "new": moves["new"],
        "older_claims_first_seen": moves["seen_first_time"],
        "released": moves["inactive"],
        "disputed": moves["disputed"],
        "appealed": moves["appealed"],
        "taken_down": sum(moves[s] for s in TAKEDOWN_STATES),
        "released_by_outcome": {k.split(":", 1)[1]: v for k, v in sorted(moves.items()) if k.startswith("released:")},
        "status_changes": dict(
            sorted((k, v) for k, v in moves.items() if k not in ("new", "seen_first_time") and ":" not in k)
        ),
        "third_party_claims": len(claims) - len(ours),
        "top_assets": top_assets,
        "top_channels": top_channels,
    }


def _busiest(ours: list[ClaimRow]) -> tuple[list[TopAsset], list[TopChannel]]:
    """The assets and channels with the most status changes of the week (first sightings are not
    changes), with each asset's claims in the week beside its changes."""
    activity: Counter[str] = Counter()
    activity_channel: Counter[str] = Counter()
    inventory: Counter[str] = Counter()
    channel_titles: dict[str, str] = {}
    content_of: dict[str, str | None] = {}
    for c in ours:
        changes = sum(n for k, n in c.get("transitions", {}).items() if k != "seen_first_time" and ":" not in k)
        if c.get("asset_id"):
            inventory[c["asset_id"]] += 1
            activity[c["asset_id"]] += changes
            content_of.setdefault(c["asset_id"], c.get("content_id"))
        if c.get("channel_id"):
            activity_channel[c["channel_id"]] += changes
            if c.get("channel_title"):
                channel_titles[c["channel_id"]] = c["channel_title"]
    assets = sorted((a for a in activity if activity[a]), key=lambda a: (-activity[a], -inventory[a], a))
    channels = sorted((c for c in activity_channel if activity_channel[c]), key=lambda c: (-activity_channel[c], c))
    return (
        [
            {"asset_id": a, "content_id": content_of[a], "claims_changed": activity[a], "claims": inventory[a]}
            for a in assets[:TOP_N]
        ],
        [
            {"channel_id": c, "channel_title": channel_titles.get(c, ""), "claims": activity_channel[c]}
            for c in channels[:TOP_N]
        ],
    )


def _alert_row(a: Alert) -> ReviewAlert:
    """An alert without its wall-clock field, so the report is the same on every run."""
    row = a.model_dump(mode="json", exclude={"detected_at"})
    return {
        "alert_id": a.alert_id,
        "type": a.type,
        "severity": a.severity,
        "score": a.score,
        "subject": row["subject"],
        "event_time": row["event_time"],
        "title": a.title,
        "evidence": row["evidence"],
    }


def _high_priority(index: WeekIndex, alerts: list[Alert]) -> list[ReviewGroup]:
    groups: dict[str, list[Alert]] = defaultdict(list)
    for a in alerts:
        if a.severity in REVIEW_SEVERITIES:
            groups[a.subject.key() or a.alert_id].append(a)
    out: list[ReviewGroup] = []
    for key, group in groups.items():
        latest = max(group, key=lambda a: (a.event_time, a.alert_id))
        # What to review first: critical before high, then the newest (a list read top down).
        group.sort(key=lambda a: (severity_rank(a.severity), a.event_time, a.alert_id), reverse=True)
        out.append(
            {
                "subject_key": key,
                "subject": latest.subject.ids(),
                "title": index.title(latest.subject.content_id),
                "latest": rfc3339(latest.event_time),
                "max_severity": group[0].severity,
                "alerts": [_alert_row(a) for a in group],
            }
        )
    out.sort(key=lambda g: (severity_rank(g["max_severity"]), g["latest"], g["subject_key"]), reverse=True)
    return out


def _dispute_risk(index: WeekIndex, week: str) -> list[ClaimRisk]:
    """Every open dispute and appeal, then the other claims at or above the listing score, ranked."""
    rows: list[ClaimRisk] = []
    for c in _ours(index.claims.get(week, {})):
        status = c.get("status")
        risk = float(c.get("risk", 0.0))
        if status == "inactive" or (risk < RISK_LISTED and status not in OPEN_DISPUTE):
            continue
        rows.append(
            {
                "claim_id": c["claim_id"],
                "asset_id": c.get("asset_id"),
                "video_id": c.get("video_id"),
                "channel_id": c.get("channel_id"),
                "content_id": c.get("content_id"),
                "title": index.title(c.get("content_id")),
                "video_title": c.get("video_title"),
                "status": status,
                "score": risk,
                "level": risk_level(risk),
                "drivers": c.get("risk_drivers", []),
            }
        )
    rows.sort(key=lambda r: (r["status"] not in OPEN_DISPUTE, -r["score"], r["claim_id"]))
    disputes = [r for r in rows if r["status"] in OPEN_DISPUTE]
    others = [r for r in rows if r["status"] not in OPEN_DISPUTE][: max(0, MAX_RISK_ROWS - len(disputes))]
    return sorted(disputes + others, key=lambda r: (-r["score"], r["claim_id"]))


def files_quality(
    index: WeekIndex, days: set[str], by_day: bool = False
) -> tuple[dict[str, Any], list[QuarantineEntry]]:
    """What the files of these days gave, per source (and per day when ``by_day``), and the quarantine
    entries of those files: the weekly report and the monthly audit count with this one function."""
    files = [f for f in index.files if f.get("day") in days]
    read: dict[str, Any] = {}
    counted: set[tuple[str, str | None]] = set()  # a file with a row per day is one file of the week
    for f in sorted(files, key=lambda f: (f["source"], f["path"])):
        if by_day:
            row = read.setdefault(f["source"], {}).setdefault(
                f["day"], {"files": 0, "records": 0, "accepted": 0, "quarantined": 0, "duplicates": 0}
            )
            row["duplicates"] += int(f.get("duplicates", 0))
        else:
            row = read.setdefault(f["source"], {"files": 0, "records": 0, "accepted": 0, "quarantined": 0})
        where = (f["path"], f["day"] if by_day else None)
        row["files"] += where not in counted
        counted.add(where)
        for name in ("records", "accepted", "quarantined"):
            row[name] += int(f[name])
    # An entry is of its file's day; one of a file whose name gives no day, of its own day.
    wanted = {(f["path"], f["day"]) for f in files}
    day_of_file = {f["path"]: f.get("day") for f in index.files}
    return read, [
        q
        for q in index.quarantine
        if (q.source_file, q.data_day.isoformat() if q.data_day else day_of_file.get(q.source_file)) in wanted
    ]


def _data_quality(index: WeekIndex, week: str) -> DataQuality:
    days = week_days(week)
    in_week = set(days)
    records: Counter[str] = Counter()
    findings: Counter[str] = Counter()
    seen: dict[str, set[str]] = defaultdict(set)
    for c in index.claims.get(week, {}).values():
        records.update(c.get("records", {}))
        for source, source_days in c.get("days", {}).items():
            seen[SOURCE_FAMILIES.get(source, source)].update(source_days)
    for post_rows in index.posts.get(week, {}).values():
        for d in post_rows:
            records.update(d.get("records", {}))
            findings.update(d.get("findings", {}))
            for source, source_days in d.get("days", {}).items():
                seen[SOURCE_FAMILIES.get(source, source)].update(source_days)
    read, quarantined = files_quality(index, in_week)
    findings["duplicate_records"] += sum(int(f.get("duplicates", 0)) for f in index.files if f.get("day") in in_week)
    findings["late_beyond_rollup"] += index.late.get(week, 0)
    active = [d for d in days if any(d in s for s in seen.values())]
    families = sorted({SOURCE_FAMILIES.get(s, s) for s in DAILY_SOURCES} & set(seen))
    missing = {f: [d for d in active if d not in seen[f]] for f in families}
    return {
        "days_with_data": len(active),
        "records_this_week_by_source": dict(sorted(records.items())),
        "records_read_by_source": read,
        "quarantined_by_reason": dict(sorted(Counter(_reason_key(q) for q in quarantined).items())),
        "quarantined_total": len(quarantined),
        "days_by_source": {f: len(set(seen[f]) & in_week) for f in sorted(seen)},
        "late_or_duplicate": dict(sorted(findings.items())),
        "sources_missing_for_a_day": {f: d for f, d in missing.items() if d},
        "schema_drift": schema_drift(index.files, in_week),
        "uncatalogued_by_source": uncatalogued(index.files, in_week),
        "rows_refused": len(index.refused),
    }


def uncatalogued(files: list[FileRow], days: set[str]) -> dict[str, int]:
    """Records of these days' files about a post, asset or claim no catalog item names, per source."""
    found: Counter[str] = Counter()
    for f in files:
        if f.get("day") in days and f.get("uncatalogued"):
            found[str(f["source"])] += int(f["uncatalogued"])
    return dict(sorted(found.items()))


def report_family(path: str) -> str:
    """A report's family from its file name, without its date and version: ``content_owner_active_claims``
    for ``content_owner_active_claims_a3_20261109.csv.gz``. A new version is drift within the family."""
    name = Path(path).name.lower()
    for suffix in (".gz", ".csv", ".jsonl", ".ndjson", ".json"):
        name = name.removesuffix(suffix)
    return re.sub(r"(_a\d+)?(_\d{8})?$", "", name)


def schema_drift(files: list[FileRow], days: set[str]) -> list[SchemaDrift]:
    """Deliveries of these days whose columns differ from the family's previous delivery: a column
    added, renamed or gone upstream. Readers keep unknown columns and quarantine rows that lack a
    required one; this says when the layout itself moved, which people should hear about."""
    by_family: dict[str, list[FileRow]] = defaultdict(list)
    for f in files:
        if f.get("columns"):
            by_family[report_family(str(f["path"]))].append(f)
    out: list[SchemaDrift] = []
    for family, rows in sorted(by_family.items()):
        rows.sort(key=lambda r: (str(r.get("day") or ""), str(r["path"])))
        for before, after in itertools.pairwise(rows):
            old, new = set(before.get("columns", [])), set(after.get("columns", []))
            if old != new and after.get("day") in days:
                out.append(
                    {
                        "family": family,
                        "file": Path(str(after["path"])).name,
                        "day": after["day"],
                        "since": Path(str(before["path"])).name,
                        "new_columns": sorted(new - old)[:50],
                        "missing_columns": sorted(old - new)[:50],
                    }
                )
    return out


def _risk_by_asset(index: WeekIndex, week: str) -> list[AssetRisk]:
    """The dispute risk of each asset: its own score from its context (conflicts, claim surges, open
    disputes and appeals together), its riskiest claim, and the drivers that recur across its claims."""
    assets: dict[str, list[ClaimRow]] = defaultdict(list)
    for c in _ours(index.claims.get(week, {})):
        if c.get("asset_id") and c.get("status") != "inactive":
            assets[c["asset_id"]].append(c)
    assessed = index.assets.get(week, {})
    rows: list[AssetRisk] = []
    for asset in sorted(set(assets) | set(assessed)):
        claims = assets.get(asset, [])
        own = assessed.get(asset)
        open_disputes = sum(1 for c in claims if c.get("status") in OPEN_DISPUTE)
        top_claim = max((float(c.get("risk", 0.0)) for c in claims), default=0.0)
        asset_score = own["risk"] if own else 0.0
        top = max(top_claim, asset_score)
        if top < RISK_LISTED and not open_disputes:
            continue
        drivers: Counter[str] = Counter()
        for c in claims:
            if float(c.get("risk", 0.0)) >= RISK_LISTED or c.get("status") in OPEN_DISPUTE:
                drivers.update(str(d.get("driver", "")).split(" (")[0] for d in c.get("risk_drivers", []))
        content_id = (own.get("content_id") if own else None) or next(
            (c.get("content_id") for c in claims if c.get("content_id")), None
        )
        rows.append(
            {
                "asset_id": asset,
                "content_id": content_id,
                "title": index.title(content_id),
                "claims": len(claims),
                "open_disputes_and_appeals": open_disputes,
                "new_claims": sum(c.get("transitions", {}).get("new", 0) for c in claims),
                "score": round(top, 4),
                "level": risk_level(top),
                "asset_score": round(asset_score, 4),
                "top_claim_score": round(top_claim, 4),
                "asset_drivers": [str(d.get("driver", "")) for d in (own["risk_drivers"] if own else [])][:5],
                "drivers": [
                    {"driver": d, "claims": n} for d, n in sorted(drivers.items(), key=lambda x: (-x[1], x[0]))[:5]
                ],
            }
        )
    rows.sort(key=lambda r: (-r["score"], -r["open_disputes_and_appeals"], r["asset_id"]))
    return rows[:MAX_RISK_ROWS]


def _week_over_week(index: WeekIndex, week: str, summary: ClaimsSummary) -> dict[str, WeekOverWeek]:
    """The headline figures of this week beside last week's (when last week has data)."""
    previous = iso_week(week_bounds(week)[0] - timedelta(days=1))
    if previous not in index.weeks():
        return {}
    before = _claims_summary(index, previous)
    quality_now, quality_before = _data_quality(index, week), _data_quality(index, previous)
    # Like with like: claim figures per day of claims reports, alerts per day of any data.
    claim_days = (
        quality_now["days_by_source"].get(CLAIMS_FAMILY, 0),
        quality_before["days_by_source"].get(CLAIMS_FAMILY, 0),
    )
    data_days = (quality_now["days_with_data"], quality_before["days_with_data"])
    alerts_now, alerts_before = len(index.alerts.get(week, [])), len(index.alerts.get(previous, []))
    out: dict[str, WeekOverWeek] = {}
    for name, now, last, (days_now, days_before) in [
        *(
            (k, summary[k], before[k], claim_days)
            for k in ("total", "new", "released", "disputed", "appealed", "taken_down")
        ),
        ("alerts", alerts_now, alerts_before, data_days),
    ]:
        row: WeekOverWeek = {"this_week": now, "last_week": last, "change": now - last}
        if not days_now or not days_before:  # nothing to compare with: say so, not "-100 %"
            row["change"] = None
            row["note"] = (
                f"no {'claims report' if name != 'alerts' else 'data'} {'this' if not days_now else 'last'} week"
            )
        elif name != "total":  # activity: compared per day of data, so a partial week is not a collapse
            per_day_now, per_day_last = now / days_now, last / days_before
            row["per_day"] = round(per_day_now, 2)
            row["per_day_last_week"] = round(per_day_last, 2)
            row["change_pct_per_day"] = round(100 * (per_day_now - per_day_last) / per_day_last, 1) if last else None
        out[name] = row
    return out


DEFINITIONS = {
    "claims listed": "Our claims on this week's daily claims reports (the inventory: every live claim is listed "
    "every day). A third party's claim on our video is counted apart.",
    "new claims": "Claims first seen this week whose creation time is known to be in this week. Claims seen "
    "for the first time that were created earlier, or whose creation time no export gives, are counted apart "
    "(first seen, created earlier or unknown).",
    "released, disputed, appealed, taken down": "Status changes this week (activity), counted once per change. "
    "Released is split by the status the claim left: after a dispute or an appeal (the dispute was lost or "
    "conceded), a potential claim not confirmed in review, or released by the owner or expired.",
    "dispute risk": "A score from 0 to 1 per claim from its drivers (open dispute or appeal, views, origin, "
    "reinstatements, timing); every open dispute and appeal is listed, other claims from 0.3. Per asset: "
    "the higher of its riskiest claim and its own score from its context (another owner, a claim surge in "
    "the last 7 days, open disputes and appeals across its claims, timers, views), with both sets of drivers.",
    "views and engagement": "Gained between each post's first and last poll of the week (the interval across "
    "the week's start is split there, in proportion to time), per platform; per day "
    "so that a partial week compares fairly with the last.",
    "data quality": "This week's files only: records read, accepted and quarantined (by reason), duplicate "
    "records, late or repeated polls and counter artefacts (quarantined too, with the reason), days a daily "
    "source did not arrive, deliveries whose columns differ from their report family's previous one, and "
    "records about posts or assets no catalog item names (watched, but owned by nobody in this report).",
}


def _reason_key(q: QuarantineEntry) -> str:
    return f"{q.source}: {q.reason_code}"


def build_report(index: WeekIndex, week: str) -> WeeklyReport:
    """One week's report from the roll-ups, alerts and quarantine: the same builder for every source."""
    start, end = week_bounds(week)
    alerts = index.alerts.get(week, [])
    by_type = Counter(a.type for a in alerts)
    by_severity = Counter(a.severity for a in alerts)
    summary = _claims_summary(index, week)
    quality = _data_quality(index, week)
    sections = readable(
        {
            "partial_week": quality["days_with_data"] < 7,
            "week_over_week": _week_over_week(index, week, summary),
            "dispute_risk_by_asset": _risk_by_asset(index, week),
            "definitions": DEFINITIONS,
            "claims_summary": summary,
            "high_priority": _high_priority(index, alerts),
            "trends": _trends(index, week),
            "dispute_risk": _dispute_risk(index, week),
            "data_quality": quality,
            "alerts_summary": {
                "total": len(alerts),
                "by_type": dict(sorted(by_type.items())),
                "by_severity": dict(sorted(by_severity.items())),
            },
        }
    )
    return WeeklyReport(week=week, period={"start": start, "end": end}, **sections)


def readable(value: Any) -> Any:
    """Every text in a report section with control characters (terminal escapes, BEL), bidi
    overrides and line or paragraph separators made spaces: titles and names come from outside, and
    report.json is read by programs and people that trust it."""
    if isinstance(value, str):
        return safe_text(value, len(value))
    if isinstance(value, dict):
        return {readable(k): readable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [readable(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------- files


def _csv_text(columns: Sequence[tuple[str, str]], rows: list[dict[str, Any]]) -> str:
    """CSV that Excel opens cleanly: a UTF-8 byte order mark (or it garbles non-ASCII titles), CRLF;
    ``columns`` are (row key, header)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([header for _, header in columns])
    for row in rows:
        writer.writerow([safe_cell(row.get(key)) for key, _ in columns])
    return buffer.getvalue()


# The CSVs are read in spreadsheets by people: headers in words, a link to each video.
RISK_COLUMNS = (
    ("claim_id", "Claim ID"),
    ("asset_id", "Asset ID"),
    ("video_id", "Video ID"),
    ("video_link", "Video link"),
    ("content_id", "Content ID"),
    ("title", "Content title"),
    ("video_title", "Video title"),
    ("status", "Claim status"),
    ("score", "Risk score"),
    ("level", "Risk level"),
    ("drivers", "Drivers"),
)
REVIEW_COLUMNS = (
    ("content_id", "Content ID"),
    ("content_title", "Content title"),
    ("video_id", "Video ID"),
    ("video_link", "Video link"),
    ("severity", "Severity"),
    ("type", "Alert type"),
    ("title", "Alert"),
    ("event_time", "Event time"),
    ("score", "Score"),
    ("subject_key", "Subject"),
    ("alert_id", "Alert ID"),
)
SUMMARY_COLUMNS = (("metric", "Metric"), ("value", "Value"))


def report_tables(report: WeeklyReport) -> dict[str, str]:
    risk_rows = [
        {
            **r,
            "video_link": video_url(r.get("video_id")) or "",
            "drivers": "; ".join(str(d["driver"]) for d in r.get("drivers", [])),
        }
        for r in report.dispute_risk
    ]
    hp_rows = [
        {
            "content_id": g["subject"].get("content_id") or "",
            "content_title": g.get("title") or "",
            "video_id": g["subject"].get("video_id") or "",
            "video_link": video_url(g["subject"].get("video_id")) or "",
            "subject_key": g["subject_key"],
            "alert_id": a["alert_id"],
            "type": a["type"],
            "severity": a["severity"],
            "score": a["score"],
            "event_time": a["event_time"],
            "title": a["title"],
        }
        for g in report.high_priority
        for a in g["alerts"]
    ]
    cs = report.claims_summary
    summary_rows = [{"metric": k, "value": v} for k, v in cs.items() if isinstance(v, int)]
    summary_rows += [{"metric": f"status:{k}", "value": v} for k, v in cs["by_status"].items()]
    summary_rows += [{"metric": f"top_asset:{r['asset_id']}", "value": r["claims_changed"]} for r in cs["top_assets"]]
    return {
        "dispute_risk.csv": _csv_text(RISK_COLUMNS, risk_rows),
        "high_priority.csv": _csv_text(REVIEW_COLUMNS, hp_rows),
        "claims_summary.csv": _csv_text(SUMMARY_COLUMNS, summary_rows),
    }


def report_json(report: WeeklyReport) -> str:
    return json.dumps(report.model_dump(mode="json"), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def render_files(report: WeeklyReport) -> dict[str, str]:
    """Every file of one week's report, by name: what a local folder or S3 receives."""
    return {"report.json": report_json(report), "report.html": render_html(report), **report_tables(report)}


def write_report(report: WeeklyReport, out_dir: Path) -> Path:
    folder = out_dir / report.week
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in render_files(report).items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


# ---------------------------------------------------------------------------------------- sources

ROLLUPS_FILE = "rollups.jsonl"


LINE_PREFIX = '{"key": "'  # how rollup_lines starts every line (keys sorted: "key" before "row")


def row_week(key: str) -> str | None:
    """The ISO week a roll-up row is about (claim, post and late rows); None for rows every week needs."""
    kind, _, rest = key.partition("|")
    if kind in ("claim", "post", "asset"):
        return rest.partition("|")[0]
    if kind == "late":
        try:
            return iso_week(date.fromisoformat(rest[:10]))
        except ValueError:
            return None
    return None


def previous_week(week: str) -> str:
    return iso_week(week_bounds(week)[0] - timedelta(days=1))


def keep_row(key: str, weeks: set[str] | None, seen: set[str]) -> bool:
    """Whether a report of ``weeks`` needs this row (None: every week); notes the weeks seen. Rows of
    other weeks are skipped before they are parsed: the compacted topic holds every week ever."""
    week = row_week(key)
    if week is None:
        return True
    seen.add(week)
    return weeks is None or week in weeks


def read_run_folder(folder: Path, weeks: set[str] | None = None) -> ReportInputs:
    """The inputs of the reports from an embedded run's output folder (``claimwatch run --out``),
    for these weeks only when given."""
    inputs = ReportInputs()
    for line in _lines(folder / ROLLUPS_FILE):
        if line.startswith(LINE_PREFIX):
            end = line.find('"', len(LINE_PREFIX))
            key = line[len(LINE_PREFIX) : end]
            if end > 0 and "\\" not in key and not keep_row(key, weeks, inputs.weeks_seen):
                continue
        record = json.loads(line)
        inputs.rows[str(record["key"])] = record["row"]
    inputs.alerts = [Alert.model_validate_json(line) for line in _lines(folder / "alerts.jsonl")]
    inputs.quarantine = [QuarantineEntry.model_validate_json(line) for line in _lines(folder / "quarantine.jsonl")]
    return inputs


def _lines(path: Path) -> Iterable[str]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield line


def rollup_lines(rows: dict[str, dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """The rows as ``rollups.jsonl`` stores them, in key order."""
    for key in sorted(rows):
        yield {"key": key, "row": rows[key]}
