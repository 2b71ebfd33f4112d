"""``report.html``: one self-contained page (inline CSS and SVG charts, no external requests).

Every piece of data text goes through :func:`esc`: titles and channel names are hostile input.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from claimwatch.textsafe import safe_text

if TYPE_CHECKING:
    from schemas.report import WeeklyReport, WeekOverWeek

MAX_TEXT = 160
MAX_ROWS = 50
SEVERITY_COLOURS = {"critical": "#8b0000", "high": "#d9480f", "medium": "#e6a700", "low": "#5c7cfa", "info": "#868e96"}


def esc(value: Any, limit: int = MAX_TEXT) -> str:
    """Text for the page: control characters (terminal escapes, BEL), bidi overrides and line or
    paragraph separators become spaces, then HTML is escaped."""
    text = "" if value is None else str(value)
    text = safe_text(text, len(text))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=True)


def bar_chart(data: dict[str, float], title: str, width: int = 520, colour: str = "#1c7ed6") -> str:
    """Horizontal bars as inline SVG."""
    if not data:
        return f"<p class='muted'>{esc(title)}: no data this week.</p>"
    row_h, label_w = 22, 170
    peak = max(data.values()) or 1.0
    height = row_h * len(data) + 30
    parts = [
        f"<svg role='img' aria-label='{esc(title)}' width='{width}' height='{height}' xmlns='http://www.w3.org/2000/svg'>",
        f"<text x='0' y='14' class='ct'>{esc(title)}</text>",
    ]
    for i, (label, value) in enumerate(data.items()):
        y = 24 + i * row_h
        w = max(1.0, (width - label_w - 70) * value / peak)
        # Enum names (routed_for_review) read as words on a page.
        parts.append(f"<text x='0' y='{y + 14}' class='cl'>{esc(label.replace('_', ' '), 28)}</text>")
        parts.append(f"<rect x='{label_w}' y='{y + 2}' width='{w:.1f}' height='{row_h - 6}' fill='{colour}'/>")
        parts.append(f"<text x='{label_w + w + 6:.1f}' y='{y + 14}' class='cl'>{value:,.0f}</text>")
    parts.append("</svg>")
    return "".join(parts)


def line_chart(series: Mapping[str, Mapping[str, float]], title: str, width: int = 620, height: int = 200) -> str:
    """Lines over days as inline SVG; one colour per series."""
    days = sorted({d for s in series.values() for d in s})
    if len(days) < 2:
        return f"<p class='muted'>{esc(title)}: fewer than two days of data.</p>"
    peak = max((v for s in series.values() for v in s.values()), default=1.0) or 1.0
    # The title on the first line, the legend on the second, then the plot: nothing overlaps.
    left, bottom, top = 60, 30, 44
    plot_w, plot_h = width - left - 10, height - bottom - top
    colours = ["#1c7ed6", "#e8590c", "#2f9e44", "#ae3ec9", "#f08c00"]
    parts = [
        f"<svg role='img' aria-label='{esc(title)}' width='{width}' height='{height}' xmlns='http://www.w3.org/2000/svg'>",
        f"<text x='0' y='14' class='ct'>{esc(title)}</text>",
        f"<text x='0' y='{top + 10}' class='cl'>{peak:,.0f}</text><text x='0' y='{top + plot_h}' class='cl'>0</text>",
        f"<line x1='{left}' y1='{top + plot_h}' x2='{left + plot_w}' y2='{top + plot_h}' stroke='#adb5bd'/>",
    ]
    for i, day in enumerate(days):
        x = left + plot_w * i / (len(days) - 1)
        # The first label starts at its day and the last ends at it, so neither leaves the chart.
        anchor = "start" if i == 0 else "end" if i == len(days) - 1 else "middle"
        parts.append(f"<text x='{x:.1f}' y='{height - 8}' class='cl' text-anchor='{anchor}'>{esc(day[5:])}</text>")
    for n, (name, points) in enumerate(sorted(series.items())):
        coords = " ".join(
            f"{left + plot_w * i / (len(days) - 1):.1f},{top + plot_h * (1 - points.get(d, 0) / peak):.1f}"
            for i, d in enumerate(days)
        )
        colour = colours[n % len(colours)]
        parts.append(f"<polyline fill='none' stroke='{colour}' stroke-width='2' points='{coords}'/>")
        # A swatch and the name in the line's colour (inline: the class's fill would win over an attribute).
        x = left + 180 * n
        parts.append(f"<rect x='{x}' y='25' width='12' height='3' style='fill:{colour}'/>")
        parts.append(f"<text x='{x + 16}' y='32' class='cl' style='fill:{colour}'>{esc(name, 30)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def table(header: list[str], rows: list[list[Any]], raw_columns: frozenset[int] = frozenset()) -> str:
    if not rows:
        return "<p class='muted'>Nothing this week.</p>"
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell if i in raw_columns else esc(cell)}</td>" for i, cell in enumerate(row)) + "</tr>"
        for row in rows[:MAX_ROWS]
    )
    more = f"<p class='muted'>{len(rows) - MAX_ROWS} more rows in the CSV files.</p>" if len(rows) > MAX_ROWS else ""
    return f"<div class='wrap'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{more}"


def badge(severity: str) -> str:
    colour = SEVERITY_COLOURS.get(severity, "#868e96")
    return f"<span class='badge' style='background:{colour}'>{esc(severity)}</span>"


def score_bar(score: float) -> str:
    pct = max(0.0, min(1.0, float(score))) * 100
    return f"<span class='bar'><span style='width:{pct:.0f}%'></span></span> {score:.2f}"


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#212529;max-width:1100px}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #dee2e6;padding-bottom:.3rem;margin-top:2.2rem}
table{border-collapse:collapse;width:100%;font-size:.88rem;margin:.6rem 0}
th,td{border-bottom:1px solid #e9ecef;padding:.35rem .5rem;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#f1f3f5}.muted{color:#868e96}.kpis{display:flex;gap:1rem;flex-wrap:wrap}
.kpi{background:#f8f9fa;border-radius:8px;padding:.8rem 1.2rem;min-width:130px}
.kpi b{display:block;font-size:1.6rem}.badge{color:#fff;border-radius:4px;padding:1px 6px;font-size:.8rem}
.bar{display:inline-block;width:80px;height:9px;background:#e9ecef;border-radius:4px;vertical-align:middle}
.bar span{display:block;height:9px;background:#d9480f;border-radius:4px}
svg .ct{font-weight:600;font-size:13px}svg .cl{font-size:11px;fill:#495057}
.wrap{overflow-x:auto}.kpi .d{display:block;color:#495057;font-size:.75rem}.badge{white-space:nowrap}
.partial{background:#fff3bf;border-left:4px solid #f08c00;padding:.5rem .8rem}.charts{display:flex;flex-wrap:wrap;gap:1rem}
a{color:#1864ab}dt{font-weight:600;margin-top:.5rem}dd{margin-left:1rem;color:#495057}
td .muted{white-space:nowrap}
@media (max-width:700px){body{margin:.8rem}.kpis{gap:.5rem}.kpi{min-width:0;flex:1 1 40%;padding:.5rem .7rem}
svg{max-width:100%;height:auto}}
@media print{body{margin:0;max-width:none;font-size:10pt}a{color:inherit;text-decoration:none}
h2{break-after:avoid}tr,svg,.kpi{break-inside:avoid}.wrap{overflow:visible}}
"""


SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def link(text: Any, url: str | None) -> str:
    """Escaped text, linked when there is a URL (built only from ids checked by :data:`SAFE_ID`)."""
    return f"<a href='{esc(url, 300)}' rel='noopener noreferrer'>{esc(text)}</a>" if url else esc(text)


def video_url(video_id: Any) -> str | None:
    return f"https://www.youtube.com/watch?v={video_id}" if video_id and SAFE_ID.match(str(video_id)) else None


def studio_claim_url(video_id: Any) -> str | None:
    """The video's copyright page in YouTube Studio, where its claims are reviewed."""
    ok = video_id and SAFE_ID.match(str(video_id))
    return f"https://studio.youtube.com/video/{video_id}/copyright" if ok else None


def studio_asset_url(asset_id: Any) -> str | None:
    return (
        f"https://studio.youtube.com/asset/{asset_id}/overview" if asset_id and SAFE_ID.match(str(asset_id)) else None
    )


def named(content_id: Any, title: Any) -> str:
    return f"{esc(title)} <span class='muted'>({esc(content_id)})</span>" if title else esc(content_id or "")


def delta(row: WeekOverWeek | None) -> str:
    """An arrow and the change against last week (per day of data for activity figures)."""
    if not row:
        return ""
    change = row["change"]
    if change is None:  # nothing to compare with (no claims report in one of the weeks)
        return f"<small class='d'>{esc(row.get('note') or 'no comparison')}</small>"
    pct = row.get("change_pct_per_day")
    if pct is not None:
        arrow = "▲" if pct > 0 else "▼" if pct < 0 else "="
        return f"<small class='d'>{arrow} {pct:+.0f}%/day vs last week</small>"
    arrow = "▲" if change > 0 else "▼" if change < 0 else "="
    return f"<small class='d'>{arrow} {change:+,} vs last week</small>"


def _headline(report: WeeklyReport) -> list[str]:
    """The title, the period, a partial-week note and the key figures beside last week's."""
    cs, dq, wow = report.claims_summary, report.data_quality, report.week_over_week
    review = sum(len(g["alerts"]) for g in report.high_priority)
    high_risk_claims, high_risk_assets = report.high_risk_counts()
    kpis = [
        ("claims listed", cs["total"], wow.get("total")),
        ("new claims", cs["new"], wow.get("new")),
        ("first seen, created earlier or unknown", cs["older_claims_first_seen"], None),
        ("disputed", cs["disputed"], wow.get("disputed")),
        ("appealed", cs["appealed"], wow.get("appealed")),
        ("released", cs["released"], wow.get("released")),
        ("alerts to review", review, None),
        ("claims at high dispute risk", high_risk_claims, None),
        ("assets at high dispute risk", high_risk_assets, None),
        ("quarantined records", dq.get("quarantined_total", 0), None),
    ]
    days = dq.get("days_with_data", 7)
    partial = (
        f"<p class='partial'>Partial week: {days} of 7 days of data so far. Counts cover those days only; "
        "changes against last week are per day of data.</p>"
        if report.partial_week
        else ""
    )
    return [
        f"<h1>claimwatch weekly report — {esc(report.week)}</h1>",
        f"<p class='muted'>{esc(report.period.start.date().isoformat())} to "
        f"{esc(report.period.end.date().isoformat())} (UTC)</p>",
        partial,
        "<div class='kpis'>"
        + "".join(f"<div class='kpi'><b>{v:,}</b>{esc(k)}{delta(d)}</div>" for k, v, d in kpis)
        + "</div>",
    ]


def _review(report: WeeklyReport) -> list[str]:
    """Every high and critical alert, grouped by subject, most urgent first."""
    hp_rows = [
        [
            badge(a["severity"]),
            esc(a["type"].replace("_", " ")),
            esc(a["title"]),
            named(g["subject"].get("content_id") or g["subject_key"], g.get("title")),
            link(g["subject"].get("video_id") or "", video_url(g["subject"].get("video_id"))),
            esc(a["event_time"][:16].replace("T", " ")),
        ]
        for g in report.high_priority
        for a in g["alerts"]
    ]
    return [
        "<h2>Requires review (high and critical)</h2>",
        table(["severity", "type", "what", "item", "video", "when"], hp_rows, raw_columns=frozenset(range(6))),
    ]


def _dispute_risk(report: WeeklyReport) -> list[str]:
    """Dispute risk by asset, then by claim."""
    asset_rows = [
        [
            link(r["asset_id"], studio_asset_url(r["asset_id"])),
            named(r.get("content_id"), r.get("title")),
            score_bar(float(r["score"])),
            esc(r["level"]),
            esc(r["open_disputes_and_appeals"]),
            esc(r["claims"]),
            esc(
                "; ".join(
                    [
                        *r.get("asset_drivers", [])[:3],
                        *(f"{d['driver']} ({d['claims']} claims)" for d in r.get("drivers", [])[:3]),
                    ]
                )
            ),
        ]
        for r in report.dispute_risk_by_asset
    ]
    risk_rows = [
        [
            link(r.get("claim_id"), studio_claim_url(r.get("video_id"))),
            link(r.get("video_title") or r.get("video_id") or "", video_url(r.get("video_id"))),
            named(r.get("content_id"), r.get("title")),
            esc(r.get("status")),
            score_bar(float(r.get("score", 0))),
            esc(r.get("level")),
            esc("; ".join(str(d["driver"]) for d in r.get("drivers", [])[:4])),
        ]
        for r in report.dispute_risk
    ]
    return [
        "<h2>Dispute risk by asset</h2>",
        table(
            ["asset", "content", "risk", "level", "open disputes", "claims", "drivers (claims)"],
            asset_rows,
            raw_columns=frozenset(range(7)),
        ),
        "<h2>Dispute risk by claim</h2>",
        table(
            ["claim", "video", "content", "status", "risk", "level", "drivers"],
            risk_rows,
            raw_columns=frozenset(range(7)),
        ),
    ]


def _trends(report: WeeklyReport) -> list[str]:
    """Views and engagement per platform, daily views, viral items and top movers."""
    trends = report.trends
    platform_rows = [
        [
            p,
            f"{row['views']:,}",
            f"{row['views_per_day']:,}",
            "" if row.get("views_per_day_last_week") is None else f"{row['views_per_day_last_week']:,}",
            "" if (change := row["change_pct"]) is None else f"{'▲' if change > 0 else '▼'} {change:+.1f}%",
            "" if row.get("engagement_rate") is None else f"{row['engagement_rate']:.2%}",
            row["posts"],
        ]
        for p, row in sorted(trends["per_platform"].items())
    ]
    viral_rows = [
        [
            v.get("content_id"),
            v.get("title"),
            ", ".join(v.get("platforms", [])),
            f"{v.get('max_ratio', 0):.1f}x",
            v.get("first_alert"),
        ]
        for v in trends["viral_items"]
    ]
    mover_rows = [
        [
            m["platform"],
            m["platform_content_id"],
            f"{m['views_per_day']:,}",
            f"{m['views_per_day_last_week']:,}",
            f"{m['ratio']:.2f}x",
        ]
        for m in trends["top_movers"]
    ]
    return [
        "<h2>Performance trends</h2>",
        f"<p class='muted'>{trends.get('days_with_polls', 0)} day(s) of polls this week; "
        "rates are per day so a partial week compares fairly.</p>",
        table(
            ["platform", "views", "views/day", "views/day last week", "change", "engagement rate", "posts"],
            platform_rows,
        ),
        line_chart(trends.get("daily_views", {}), "Daily YouTube views (analytics)"),
        "<h3>Viral items</h3>",
        table(["content", "title", "platforms", "peak", "first alert"], viral_rows),
        "<h3>Top movers vs last week</h3>",
        table(["platform", "post", "views/day", "last week", "ratio"], mover_rows),
    ]


def _claims(report: WeeklyReport) -> list[str]:
    """Claims listed by status, policy and origin; releases; alerts; the busiest assets and channels."""
    cs = report.claims_summary
    by_type = report.alerts_summary.get("by_type", {})
    return [
        "<h2>Claims</h2>",
        "<div class='charts'>",
        bar_chart({k: float(v) for k, v in cs["by_status"].items()}, "Claims listed, by status"),
        bar_chart({k: float(v) for k, v in cs.get("by_policy", {}).items()}, "Claims listed, by policy"),
        bar_chart({k: float(v) for k, v in cs.get("by_origin", {}).items()}, "Claims listed, by origin"),
        bar_chart(
            {k.replace("_", " "): float(v) for k, v in cs.get("released_by_outcome", {}).items()},
            "Released this week, by outcome",
            colour="#2f9e44",
        ),
        bar_chart({k: float(v) for k, v in by_type.items()}, "Alerts this week, by type", colour="#d9480f"),
        "</div>",
        "<h3>Assets with the most claim activity</h3>",
        table(
            ["asset", "content", "claims changed", "claims listed"],
            [
                [
                    link(r["asset_id"], studio_asset_url(r["asset_id"])),
                    named(r.get("content_id"), ""),
                    esc(r["claims_changed"]),
                    esc(r["claims"]),
                ]
                for r in cs["top_assets"]
            ],
            raw_columns=frozenset(range(4)),
        ),
        table(
            ["channel", "name", "claims changed"],
            [[r["channel_id"], r["channel_title"], r["claims"]] for r in cs["top_channels"]],
        ),
    ]


def _data_quality(report: WeeklyReport) -> list[str]:
    """What this week's files gave, what was quarantined, missing or changed layout."""
    dq = report.data_quality
    quarantine_rows = [[k, v] for k, v in dq.get("quarantined_by_reason", {}).items()]
    missing_rows = [[s, ", ".join(d)] for s, d in dq.get("sources_missing_for_a_day", {}).items()]
    drift_rows = [
        [d["family"], d["file"], ", ".join(d["new_columns"]), ", ".join(d["missing_columns"]), d["since"]]
        for d in dq.get("schema_drift", [])
    ]
    read_rows = [
        [source, r["files"], f"{r['records']:,}", f"{r['accepted']:,}", f"{r['quarantined']:,}"]
        for source, r in dq.get("records_read_by_source", {}).items()
    ]
    return [
        "<h2>Data quality (this week's files)</h2>",
        table(["source", "files", "records", "accepted", "quarantined"], read_rows),
        table(["quarantined: source, reason", "records"], quarantine_rows),
        table(["late, duplicate or suspect", "count"], [[k, v] for k, v in dq.get("late_or_duplicate", {}).items()]),
        table(["source missing", "days"], missing_rows),
        table(["layout changed: family", "file", "new columns", "columns gone", "since"], drift_rows),
        table(
            ["records about no catalog item: source", "records"],
            [[k, f"{v:,}"] for k, v in dq.get("uncatalogued_by_source", {}).items()],
        ),
        *(
            [
                f"<p class='partial'>{dq['rows_refused']:,} roll-up row(s) refused as malformed: figures may be short.</p>"
            ]
            if dq["rows_refused"]
            else []
        ),
    ]


def render_html(report: WeeklyReport) -> str:
    """The report as one self-contained page: no script, no remote resource (CSP), every text escaped."""
    definitions = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v, 600)}</dd>" for k, v in report.definitions.items())
    sections = [
        *_headline(report),
        *_review(report),
        *_dispute_risk(report),
        *_trends(report),
        *_claims(report),
        *_data_quality(report),
        f"<h2>How to read this report</h2><dl>{definitions}</dl>",
    ]
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>claimwatch {esc(report.week)}</title><style>{CSS}</style></head><body>"
        + "\n".join(sections)
        + "</body></html>\n"
    )
