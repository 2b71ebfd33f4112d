"""The monthly data-quality audit: completeness, quarantine and duplicate rates, and the trend.

The operations procedure asks for a monthly review of the data itself, apart from what it says
about claims: did every daily export arrive every day, how much of it could not be read and why,
how much arrived twice or too late, and is that better or worse than the month before. The figures
come from the same roll-up rows, file rows and quarantine entries as the weekly report, through
the same per-day helper (:func:`batch.report.files_quality`), so the weekly report's data-quality
section and the audit agree on every day they share.

``claimwatch audit --month 2026-11 [--from-dir DIR] --out DIR`` writes ``audit.json`` and a
self-contained ``audit.html``.
"""

from __future__ import annotations

import calendar
import html
import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from batch.metadata import find_mismatches, summary
from batch.report import ReportInputs, WeekIndex, files_quality, schema_drift, uncatalogued
from claimwatch.detect.rollup import iso_week

RATE_DIGITS = 5
# Exports people make by hand when needed, not every day: their absence on a day is not a gap.
NOT_DAILY = frozenset({"claims_studio", "catalog", "rights"})


def parse_month(text: str | None, now: datetime) -> str:
    """``YYYY-MM``; by default the last complete month (UTC)."""
    if not text:
        first = now.astimezone(UTC).date().replace(day=1)
        return (first - timedelta(days=1)).strftime("%Y-%m")
    try:
        parsed = datetime.strptime(text.strip(), "%Y-%m")
    except ValueError:
        raise ValueError(f"--month must look like 2026-11, got {text[:20]!r}") from None
    return parsed.strftime("%Y-%m")


def month_days(month: str) -> list[str]:
    year, number = (int(x) for x in month.split("-"))
    return [date(year, number, d).isoformat() for d in range(1, calendar.monthrange(year, number)[1] + 1)]


def previous_month(month: str) -> str:
    first = date.fromisoformat(month + "-01")
    return (first - timedelta(days=1)).strftime("%Y-%m")


def month_quality(index: WeekIndex, inputs: ReportInputs, month: str) -> dict[str, Any]:
    """One month's figures: per source and day what arrived; what could not be read, by reason."""
    days = month_days(month)
    read_by_day, quarantined = files_quality(index, set(days), by_day=True)
    with_data = sorted({d for per_day in read_by_day.values() for d in per_day})
    totals, completeness = _completeness(read_by_day, days, with_data)
    records = sum(t["records"] for t in totals.values())
    by_reason = Counter(q.reason_code for q in quarantined)
    late = sum(
        int(r.get("late_beyond_rollup", 0))
        for r in inputs.rows.values()
        if r.get("kind") == "late" and str(r.get("day", ""))[:7] == month
    )
    weeks = sorted({iso_week(date.fromisoformat(d)) for d in days})
    duplicates = sum(t["duplicates"] for t in totals.values())
    return {
        "month": month,
        "days_with_data": len(with_data),
        "records_read": records,
        "by_source": totals,
        "completeness": completeness,
        "quarantined_total": len(quarantined),
        "quarantined_by_reason": dict(sorted(by_reason.items(), key=lambda x: (-x[1], x[0]))),
        "quarantine_rate": _rate(len(quarantined), records),
        "quarantine_rate_by_reason": {r: _rate(n, records) for r, n in sorted(by_reason.items())},
        "duplicate_records": duplicates,
        "duplicate_rate": _rate(duplicates, records),
        "late_beyond_rollup": late,
        "late_rate": _rate(late, records),
        "poll_findings_in_weeks": {"weeks": weeks, **_poll_findings(index, weeks)},
        "missing_source_days": sum(t["missing_days"] for t in totals.values()),
        "schema_drift": schema_drift(index.files, set(days)),
        "uncatalogued_by_source": uncatalogued(index.files, set(days)),
    }


def _completeness(
    read_by_day: dict[str, Any], days: list[str], with_data: list[str]
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, Any]]]:
    """Per source: what its files gave in the month, and the days a daily source did not arrive.

    A source is expected every day from the month's first day with any data to its last (a month
    still running, or a catalogue that began mid-month, is not "missing" its future or its past)."""
    span = [d for d in days if with_data and with_data[0] <= d <= with_data[-1]]
    totals: dict[str, dict[str, int]] = {}
    completeness: dict[str, dict[str, Any]] = {}
    for source in sorted(read_by_day):
        per_day = read_by_day[source]
        total = totals[source] = {
            k: sum(v[k] for v in per_day.values())
            for k in ("files", "records", "accepted", "quarantined", "duplicates")
        }
        daily = source not in NOT_DAILY
        missing = [d for d in span if d not in per_day] if daily else []
        completeness[source] = {
            "daily": daily,
            "days_expected": len(span) if daily else None,
            "days_with_files": len(span) - len(missing),
            "missing_days": missing,
            "records_by_day": {d: per_day[d]["records"] for d in sorted(per_day)},
        }
        total["missing_days"] = len(missing)
    return totals, completeness


def _poll_findings(index: WeekIndex, weeks: list[str]) -> dict[str, int]:
    """Poll findings (late, repeated, counter resets and jumps) of the weeks the month touches:
    they are kept per post and week, not per day."""
    findings: Counter[str] = Counter()
    for week in weeks:
        for rows in index.posts.get(week, {}).values():
            for row in rows:
                findings.update(row.get("findings", {}))
    return dict(sorted(findings.items()))


def _rate(count: int, of: int) -> float | None:
    return round(count / of, RATE_DIGITS) if of else None


TREND_FIGURES = ("records_read", "quarantine_rate", "duplicate_rate", "late_rate", "missing_source_days")


def build_audit(inputs: ReportInputs, month: str) -> dict[str, Any]:
    index = WeekIndex.build(inputs)
    current = month_quality(index, inputs, month)
    before = month_quality(index, inputs, previous_month(month))
    trend = {}
    for name in TREND_FIGURES:
        now, then = current[name], before[name]
        change = None if now is None or then is None or not before["records_read"] else round(now - then, RATE_DIGITS)
        trend[name] = {
            "this_month": now,
            "previous_month": then,
            "change": change,
            "direction": _direction(name, change),
        }
    weeks = {iso_week(date.fromisoformat(d)) for d in month_days(month)}
    claims = [row for week in sorted(weeks) for row in index.claims.get(week, {}).values()]
    metadata = summary(find_mismatches(index.catalog, claims))
    return {"month": month, "current": current, "previous": before, "trend": trend, "metadata": metadata}


def _direction(name: str, change: float | None) -> str:
    if change is None:
        return "no previous month"
    if change == 0:
        return "same"
    better = change > 0 if name == "records_read" else change < 0
    return "better" if better else "worse"


def audit_json(audit: dict[str, Any]) -> bytes:
    return (json.dumps(audit, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def audit_html(audit: dict[str, Any]) -> str:
    """One self-contained page: the trend, completeness per source and day, reasons."""
    cur = audit["current"]
    esc = html.escape

    def pct(value: float | None) -> str:
        return "–" if value is None else f"{value * 100:.3f} %"

    trend_rows = "".join(
        f"<tr><td>{esc(name.replace('_', ' '))}</td><td>{esc(_shown(t['this_month'], name))}</td>"
        f"<td>{esc(_shown(t['previous_month'], name))}</td><td>{esc(t['direction'])}</td></tr>"
        for name, t in audit["trend"].items()
    )
    days = month_days(audit["month"])
    head = "".join(f"<th>{int(d[-2:])}</th>" for d in days)
    grid = ""
    for source, c in cur["completeness"].items():
        cells = "".join(
            f"<td class='{'miss' if d in c['missing_days'] else 'ok' if d in c['records_by_day'] else ''}' "
            f"title='{esc(d)}: {c['records_by_day'].get(d, 0):,} records'></td>"
            for d in days
        )
        expected = c["days_expected"] if c["daily"] else "not daily"
        grid += f"<tr><th>{esc(source)}</th>{cells}<td>{c['days_with_files']}/{expected}</td></tr>"
    reasons = (
        "".join(
            f"<tr><td>{esc(r)}</td><td>{n:,}</td><td>{pct(cur['quarantine_rate_by_reason'].get(r))}</td></tr>"
            for r, n in cur["quarantined_by_reason"].items()
        )
        or "<tr><td colspan='3'>nothing quarantined</td></tr>"
    )
    drift = (
        "".join(
            f"<tr><td>{esc(d['day'])}</td><td>{esc(d['family'])}</td><td>{esc(', '.join(d['new_columns']))}</td>"
            f"<td>{esc(', '.join(d['missing_columns']))}</td></tr>"
            for d in cur.get("schema_drift", [])
        )
        or "<tr><td colspan='4'>no report family changed its columns</td></tr>"
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Data-quality audit {esc(audit["month"])}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:right}}th{{text-align:left}}
.grid td{{width:1.1em;height:1.1em;padding:0}}.ok{{background:#2e7d32}}.miss{{background:#c62828}}
@media print{{body{{margin:0}}}}</style></head><body>
<h1>Data-quality audit, {esc(audit["month"])}</h1>
<p>{cur["records_read"]:,} records read on {cur["days_with_data"]} days; {cur["quarantined_total"]:,} quarantined
({pct(cur["quarantine_rate"])}); {cur["duplicate_records"]:,} duplicates ({pct(cur["duplicate_rate"])});
{cur["late_beyond_rollup"]:,} too late to roll up; {cur["missing_source_days"]} source-days missing.</p>
<h2>Trend against {esc(audit["previous"]["month"])}</h2>
<table><tr><th>figure</th><th>this month</th><th>previous month</th><th></th></tr>{trend_rows}</table>
<h2>Completeness: files per source and day</h2>
<table class="grid"><tr><th>source</th>{head}<th>days</th></tr>{grid}</table>
<p>Green: files that day; red: a day the source is missing between the month's first and last day of data.</p>
<h2>Quarantined records by reason</h2>
<table><tr><th>reason</th><th>records</th><th>rate</th></tr>{reasons}</table>
<h2>Report layouts that changed (schema drift)</h2>
<table><tr><th>day</th><th>report family</th><th>new columns</th><th>columns gone</th></tr>{drift}</table>
{metadata_html(audit.get("metadata"))}
{review_html(audit.get("review"))}
</body></html>
"""


def metadata_html(metadata: dict[str, Any] | None) -> str:
    """The month's metadata mismatches: those that can misdirect claims first."""
    if metadata is None:
        return ""
    esc = html.escape
    rows = (
        "".join(
            f"<tr><td>{esc(m['content_id'])}</td><td>{esc(m['field'])}</td><td>{esc(m['catalog'])}</td>"
            f"<td>{esc(m['seen'])}</td><td>{esc(m['example'])}</td><td>{m['claims']:,}</td>"
            f"<td>{'misdirects claims' if m['misdirects'] else ''}</td></tr>"
            for found in metadata["items"].values()
            for m in found
        )
        or "<tr><td colspan='7'>the claims agree with the catalog</td></tr>"
    )
    return f"""<h2>Metadata: claims against the catalog</h2>
<p>{metadata["items_with_mismatches"]:,} item(s); {metadata["misdirecting"]:,} ISRC or asset mismatch(es) that can
misdirect claims, {metadata["other"]:,} other (titles, channels).</p>
<table><tr><th>item</th><th>field</th><th>catalog</th><th>claims report</th><th>for example</th><th>claims</th>
<th></th></tr>{rows}</table>"""


def _figure(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else html.escape(str(value))


def review_html(review: dict[str, Any] | None) -> str:
    """The monthly performance and cost review (:mod:`batch.review`); every unknown figure says so."""
    if not review:
        return ""
    esc = html.escape
    cur, before, change = review["current"], review["previous"], review["change"]
    perf = "".join(
        f"<tr><td>{esc(name.replace('_', ' '))}</td><td>{_figure(value)}</td>"
        f"<td>{_figure(before['performance'].get(name))}</td><td>{_figure(change.get(name))}</td></tr>"
        for name, value in cur["performance"].items()
    )
    job = cur["weekly_job"]
    runs = (
        "".join(
            f"<tr><td>{i + 1}</td><td>{_figure(sec)}</td><td>{_figure(mb)}</td></tr>"
            for i, (sec, mb) in enumerate(zip(job["seconds_per_run"], job["peak_rss_mb_per_run"], strict=True))
        )
        or "<tr><td colspan='3'>no run recorded this month (unknown)</td></tr>"
    )
    lines = "".join(
        f"<tr><td>{esc(line['item'])}</td><td>{_figure(line['quantity'])} {esc(line['unit'])}</td>"
        f"<td>{_figure(line['unit_price'])}</td><td>{_figure(line['cost'])}</td></tr>"
        for line in cur["cost_lines"]
    )
    prices = review["prices"]
    known = cur["cost_known_total"]
    return f"""<h2>Performance against {esc(review["previous_month"])}</h2>
<table><tr><th>figure</th><th>this month</th><th>previous month</th><th>change</th></tr>{perf}</table>
<h2>Weekly job runs</h2>
<table><tr><th>run</th><th>seconds</th><th>peak memory (MB)</th></tr>{runs}</table>
<h2>Cost ({esc(str(prices.get("currency")))}, prices of {esc(str(prices.get("as_of")))}, {esc(str(prices.get("region")))})</h2>
<table><tr><th>item</th><th>quantity</th><th>unit price</th><th>cost</th></tr>{lines}</table>
<p>Known total {_figure(known)}; {_figure(cur["cost_lines_unknown"])} line(s) unknown; change against the previous
month {_figure(change.get("cost_known_total"))}. Largest: {esc(", ".join(review["largest_cost_items"]) or "unknown")}.</p>"""


def _shown(value: Any, name: str) -> str:
    if value is None:
        return "–"
    if name.endswith("_rate"):
        return f"{float(value) * 100:.3f} %"
    return f"{value:,}"


def load_inputs(month: str, from_dir: Path | None) -> tuple[ReportInputs, str]:
    """Every roll-up row and the quarantine entries since the previous month began, from a run
    folder or from Kafka's live generation; with where they came from."""
    from batch.job import EXIT_INPUT, JobError, kafka_records
    from batch.report import ROLLUPS_FILE, read_run_folder
    from schemas.events import QuarantineEntry

    if from_dir is not None:
        if not (from_dir / ROLLUPS_FILE).is_file():
            raise JobError(EXIT_INPUT, f"--from-dir {from_dir}: not the output of `claimwatch run` (no {ROLLUPS_FILE})")
        return read_run_folder(from_dir), f"folder {from_dir}"
    since = datetime.fromisoformat(previous_month(month) + "-01T00:00:00+00:00") - timedelta(days=1)
    where, rows, _, quarantine = kafka_records(int(since.timestamp() * 1000), lambda key: True)
    inputs = ReportInputs()
    for key, body in rows.items():
        try:
            row = json.loads(body)
        except ValueError:
            continue
        if isinstance(row, dict):
            inputs.rows[key] = row
    for _, value in quarantine:
        try:
            inputs.quarantine.append(QuarantineEntry.model_validate_json(value or b""))
        except ValueError:
            continue
    return inputs, where


def write_audit(audit: dict[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "audit.json").write_bytes(audit_json(audit))
    (out / "audit.html").write_text(audit_html(audit), encoding="utf-8")
    return [out / "audit.json", out / "audit.html"]
