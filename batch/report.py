"""The weekly summary and dispute-risk report: one builder for the embedded run and the batch job.

:class:`WeekCollector` folds events, claim transitions and alerts into per-ISO-week figures (pure,
no I/O); :func:`build_report` turns one week into the ``report.json`` contract; :func:`write_report`
writes ``report.json``, ``report.html`` and the CSV tables.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from batch.html import render_html
from claimwatch.detect.claims import Transition
from claimwatch.detect.timeutil import rfc3339
from schemas.alerts import REVIEW_SEVERITIES, Alert
from schemas.events import ClaimEvent, Event, MetricObservation, QuarantineEntry
from schemas.report import WeeklyReport

DAILY_SOURCES = ("reporting_api_claims", "studio_claims_csv", "channel_basic", "content_owner_basic", "platform_poll")
TOP_N = 10
MAX_RISK_ROWS = 200


def iso_week(moment: datetime | date) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(week: str) -> tuple[datetime, datetime]:
    year, number = week.split("-W")
    monday = date.fromisocalendar(int(year), int(number), 1)
    start = datetime.combine(monday, time(), tzinfo=UTC)
    return start, start + timedelta(days=7) - timedelta(seconds=1)


@dataclass
class WeekData:
    week: str
    claim_status: dict[str, str] = field(default_factory=dict)  # latest status of each claim seen this week
    claim_asset: dict[str, str] = field(default_factory=dict)
    claim_channel: dict[str, str] = field(default_factory=dict)
    claim_type: dict[str, str] = field(default_factory=dict)
    claim_origin: dict[str, str] = field(default_factory=dict)
    claim_policy: dict[str, str] = field(default_factory=dict)
    channel_titles: dict[str, str] = field(default_factory=dict)
    transitions: Counter[str] = field(default_factory=Counter)
    first_poll: dict[tuple[str, str], tuple[float, int, int]] = field(default_factory=dict)
    last_poll: dict[tuple[str, str], tuple[float, int, int]] = field(default_factory=dict)
    daily_views: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    source_days: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    records: Counter[str] = field(default_factory=Counter)
    alerts: list[Alert] = field(default_factory=list)
    risk: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class WeekCollector:
    """Per-week figures, fed in data-time order by whoever runs the detection core."""

    weeks: dict[str, WeekData] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)  # content_id → title, for readable tables

    def week(self, moment: datetime) -> WeekData:
        key = iso_week(moment)
        if key not in self.weeks:
            self.weeks[key] = WeekData(key)
        return self.weeks[key]

    def add_event(self, event: Event, transitions: list[Transition]) -> None:
        if isinstance(event, ClaimEvent):
            self._claim(event, transitions)
        elif isinstance(event, MetricObservation):
            self._metric(event)

    def _claim(self, event: ClaimEvent, transitions: list[Transition]) -> None:
        if event.source == "video_metadata_report" or not event.claim_id:
            return
        w = self.week(event.event_time)
        w.records[event.source] += 1
        w.source_days[event.source].add(event.event_time.date().isoformat())
        cid = event.claim_id
        week_start = week_bounds(w.week)[0].timestamp()
        for tr in transitions:
            w.claim_status[cid] = tr.new
            if tr.old is not None:
                w.transitions[tr.new] += 1
            elif tr.claim.created_at is None or tr.claim.created_at >= week_start:
                w.transitions["new"] += 1
            else:
                w.transitions["seen_first_time"] += 1  # older claims in the first report we read
        state = transitions[0].claim if transitions else None
        w.claim_status.setdefault(cid, event.status)
        if event.asset_id or (state and state.asset_id):
            w.claim_asset[cid] = event.asset_id or (state.asset_id if state else "") or ""
        if event.channel_id:
            w.claim_channel[cid] = event.channel_id
            if event.channel_title:
                w.channel_titles[event.channel_id] = event.channel_title
        if event.content_type != "unknown":
            w.claim_type[cid] = event.content_type
        if event.origin != "unknown":
            w.claim_origin[cid] = event.origin
        if event.policy_action_by_territory:
            actions = set(event.policy_action_by_territory.values())
            w.claim_policy[cid] = "block" if "block" in actions else "track" if "track" in actions else "monetize"

    def _metric(self, event: MetricObservation) -> None:
        w = self.week(event.event_time)
        w.records[event.source] += 1
        w.source_days[event.source].add(event.event_time.date().isoformat())
        key = (event.platform, event.platform_content_id)
        if event.granularity == "day":
            if event.views is not None:
                w.daily_views["youtube (analytics)"][event.event_time.date().isoformat()] += event.views
            return
        engaged = sum(v or 0 for v in (event.likes, event.comments, event.shares))
        point = (event.event_time.timestamp(), event.views or 0, engaged)
        if key not in w.first_poll or point[0] < w.first_poll[key][0]:
            w.first_poll[key] = point
        if key not in w.last_poll or point[0] > w.last_poll[key][0]:
            w.last_poll[key] = point

    def add_alert(self, alert: Alert) -> None:
        self.week(alert.event_time).alerts.append(alert)

    def set_risk(self, week: str, rows: list[dict[str, Any]]) -> None:
        if week in self.weeks:
            self.weeks[week].risk = rows[:MAX_RISK_ROWS]


def active_weeks(collector: WeekCollector) -> list[str]:
    """Weeks with daily data in them: a claim created years ago does not make a report of its week."""
    return sorted(k for k, w in collector.weeks.items() if any(w.records[s] for s in DAILY_SOURCES))


@dataclass(frozen=True)
class Gain:
    views: int
    engaged: int
    days: float  # span between the week's first and last poll of the post

    @property
    def views_per_day(self) -> float:
        return self.views / self.days if self.days else 0.0


def _gains(w: WeekData) -> dict[tuple[str, str], Gain]:
    """Views and reactions gained per post within the week, from its first and last poll."""
    out = {}
    for key, (t0, v0, e0) in w.first_poll.items():
        t1, v1, e1 = w.last_poll[key]
        if t1 > t0:
            out[key] = Gain(max(0, v1 - v0), max(0, e1 - e0), (t1 - t0) / 86_400)
    return out


def _trends(w: WeekData, previous: WeekData | None, collector: WeekCollector) -> dict[str, Any]:
    """This week against last, per day of data: a week with two days of data is not an 80 % fall."""
    now, before = _gains(w), _gains(previous) if previous else {}
    per_platform: dict[str, dict[str, Any]] = {}
    for (platform, _), gain in sorted(now.items()):
        row = per_platform.setdefault(platform, {"views": 0, "engagements": 0, "posts": 0, "views_per_day": 0.0})
        row["views"] += gain.views
        row["engagements"] += gain.engaged
        row["posts"] += 1
        row["views_per_day"] += gain.views_per_day
    for platform, row in per_platform.items():
        last = sum(g.views_per_day for (p, _), g in before.items() if p == platform)
        row["views_per_day"] = round(row["views_per_day"])
        row["views_per_day_last_week"] = round(last) if before else None
        row["change_pct"] = round(100.0 * (row["views_per_day"] - last) / last, 1) if before and last else None
        row["engagement_rate"] = round(row["engagements"] / row["views"], 4) if row["views"] else None
    movers = []
    for key, gain in now.items():
        old = before.get(key)
        if old is not None and old.views >= 1000 and gain.views >= 1000 and old.views_per_day and gain.days >= 1:
            movers.append((gain.views_per_day / old.views_per_day, key, gain, old))
    movers.sort(key=lambda m: (-abs(math.log(m[0])), m[1]))
    viral: dict[str, dict[str, Any]] = {}
    for a in w.alerts:
        if a.type in ("view_spike", "viral_propagation") and a.severity not in ("info", "low"):
            item = a.subject.content_id or a.subject.platform_content_id or ""
            entry = viral.setdefault(
                item,
                {
                    "content_id": a.subject.content_id,
                    "title": collector.titles.get(item, ""),
                    "platforms": set(),
                    "max_ratio": 0.0,
                    "first_alert": rfc3339(a.event_time),
                },
            )
            entry["platforms"].add(a.subject.platform or "")
            entry["max_ratio"] = max(entry["max_ratio"], float(a.evidence.get("ratio", 0) or 0))
    return {
        "per_platform": per_platform,
        "daily_views": {k: dict(sorted(v.items())) for k, v in sorted(w.daily_views.items())},
        "days_with_polls": len(w.source_days.get("platform_poll", ())),
        "top_movers": [
            {
                "platform": p,
                "platform_content_id": pid,
                "views_per_day": round(g.views_per_day),
                "views_per_day_last_week": round(old.views_per_day),
                "ratio": round(r, 3),
            }
            for r, (p, pid), g, old in movers[:TOP_N]
        ],
        "viral_items": sorted(
            ({**e, "platforms": sorted(e["platforms"])} for e in viral.values()),
            key=lambda e: (-e["max_ratio"], str(e["content_id"])),
        ),
    }


def _claims_summary(w: WeekData) -> dict[str, Any]:
    def count(values: dict[str, str]) -> dict[str, int]:
        return dict(sorted(Counter(values.values()).items()))

    by_asset = Counter(w.claim_asset.values())
    by_channel = Counter(w.claim_channel.values())
    return {
        "total": len(w.claim_status),
        "by_status": count(w.claim_status),
        "by_type": count(w.claim_type),
        "by_origin": count(w.claim_origin),
        "by_policy": count(w.claim_policy),
        "new": w.transitions["new"],
        "older_claims_first_seen": w.transitions["seen_first_time"],
        "released": w.transitions["inactive"],
        "disputed": w.transitions["disputed"],
        "appealed": w.transitions["appealed"],
        "taken_down": sum(w.transitions[s] for s in ("takedown", "delayed_takedown", "takedown_under_review")),
        "top_assets": [
            {"asset_id": a, "claims": n} for a, n in sorted(by_asset.items(), key=lambda x: (-x[1], x[0]))[:TOP_N]
        ],
        "top_channels": [
            {"channel_id": c, "channel_title": w.channel_titles.get(c, ""), "claims": n}
            for c, n in sorted(by_channel.items(), key=lambda x: (-x[1], x[0]))[:TOP_N]
        ],
    }


def _alert_row(a: Alert) -> dict[str, Any]:
    """An alert without its wall-clock field, so the report is the same on every run."""
    row = a.model_dump(mode="json", exclude={"detected_at"})
    return row


def _high_priority(w: WeekData) -> list[dict[str, Any]]:
    groups: dict[str, list[Alert]] = defaultdict(list)
    for a in w.alerts:
        if a.severity in REVIEW_SEVERITIES:
            ids = a.subject.ids()
            key = next(
                (f"{k}:{ids[k]}" for k in ("content_id", "asset_id", "video_id", "claim_id") if k in ids), a.alert_id
            )
            groups[key].append(a)
    out = []
    for key, alerts in groups.items():
        alerts.sort(key=lambda a: (a.event_time, a.alert_id), reverse=True)
        out.append({
            "subject_key": key,
            "subject": alerts[0].subject.ids(),
            "latest": rfc3339(alerts[0].event_time),
            "max_severity": "critical" if any(a.severity == "critical" for a in alerts) else "high",
            "alerts": [_alert_row(a) for a in alerts],
        })  # fmt: skip
    out.sort(key=lambda g: (g["latest"], g["subject_key"]), reverse=True)
    return out


def _data_quality(
    w: WeekData, ingest_counts: dict[str, dict[str, int]], quarantined: list[QuarantineEntry], quality: dict[str, int]
) -> dict[str, Any]:
    start, _end = week_bounds(w.week)
    days = [(start + timedelta(days=i)).date().isoformat() for i in range(7)]
    seen_days = set().union(*w.source_days.values()) if w.source_days else set()
    active_days = [d for d in days if d in seen_days]
    missing = {
        s: [d for d in active_days if d not in w.source_days.get(s, set())] for s in DAILY_SOURCES if s in w.source_days
    }
    return {
        "records_this_week_by_source": dict(sorted(w.records.items())),
        "records_read_by_source": ingest_counts,
        "quarantined_by_reason": dict(sorted(Counter(_reason_key(q) for q in quarantined).items())),
        "quarantined_total": len(quarantined),
        "late_or_duplicate": dict(sorted(quality.items())),
        "sources_missing_for_a_day": {s: d for s, d in missing.items() if d},
    }


def _reason_key(q: QuarantineEntry) -> str:
    reason = q.reason.split(":")[0][:80]
    return f"{q.source}: {q.field or '-'}: {reason}"


def build_report(
    collector: WeekCollector,
    week: str,
    ingest_counts: dict[str, dict[str, int]] | None = None,
    quarantined: list[QuarantineEntry] | None = None,
    quality: dict[str, int] | None = None,
) -> WeeklyReport:
    w = collector.weeks[week]
    start, end = week_bounds(week)
    previous = collector.weeks.get(iso_week(start - timedelta(days=1)))
    by_type = Counter(a.type for a in w.alerts)
    by_severity = Counter(a.severity for a in w.alerts)
    return WeeklyReport(
        week=week,
        period={"start": start, "end": end},
        claims_summary=_claims_summary(w),
        high_priority=_high_priority(w),
        trends=_trends(w, previous, collector),
        dispute_risk=w.risk,
        data_quality=_data_quality(w, ingest_counts or {}, quarantined or [], quality or {}),
        alerts_summary={
            "total": len(w.alerts),
            "by_type": dict(sorted(by_type.items())),
            "by_severity": dict(sorted(by_severity.items())),
        },
    )


# ---------------------------------------------------------------------------------------- files

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
MAX_CELL = 500


def safe_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ is prefixed with '."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    text = str(value)[:MAX_CELL]
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _csv_text(header: list[str], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(row.get(h)) for h in header])
    return buffer.getvalue()


def report_tables(report: WeeklyReport) -> dict[str, str]:
    risk_rows = [
        {**r, "drivers": "; ".join(str(d["driver"]) for d in r.get("drivers", []))} for r in report.dispute_risk
    ]
    hp_rows = [
        {
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
    summary_rows += [{"metric": f"top_asset:{r['asset_id']}", "value": r["claims"]} for r in cs["top_assets"]]
    return {
        "dispute_risk.csv": _csv_text(
            ["claim_id", "asset_id", "video_id", "content_id", "video_title", "status", "score", "level", "drivers"],
            risk_rows,
        ),
        "high_priority.csv": _csv_text(
            ["subject_key", "alert_id", "type", "severity", "score", "event_time", "title"], hp_rows
        ),
        "claims_summary.csv": _csv_text(["metric", "value"], summary_rows),
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
