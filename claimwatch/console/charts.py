"""Evidence as pictures: small SVGs drawn on the server (no script, no library), every text escaped.

- :func:`observed_against_expected`: what a window showed against what was expected of it;
- :func:`timeline`: a subject's alerts along time, by severity (the claim's and the item's story);
- :func:`drivers`: what makes a claim or an asset a dispute risk, by weight;
- :func:`band`: a post's views and reactions of the last days against their usual range (the
  ``recent_days`` an alert on a post carries, from the post's roll-up rows).

Only presentation attributes are used (no ``style``), so the console's content security policy
holds for them too.

>>> "<script>" in drivers([{"driver": "<script>", "weight": 1.0}])
False
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from markupsafe import escape

from schemas.alerts import Alert

COLOURS = {"critical": "#8b0000", "high": "#b3261e", "medium": "#c99a06", "low": "#6b7280", "info": "#9ca3af"}
WIDTH = 640


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def observed_against_expected(evidence: dict[str, Any]) -> str:
    """Two bars, observed and expected, with their figures; empty when the evidence has not both."""
    observed, expected = _number(evidence.get("observed")), _number(evidence.get("expected"))
    if observed is None or expected is None or max(observed, expected) <= 0:
        return ""
    top = max(observed, expected)
    label = escape(str(evidence.get("metric") or "count"))
    bars = []
    for row, (name, value, colour) in enumerate((("observed", observed, "#b3261e"), ("expected", expected, "#6b7280"))):
        width = max(1.0, 440 * value / top)
        y = 10 + row * 34
        bars.append(
            f'<text x="0" y="{y + 17}" font-size="13" fill="#1b1f24">{name}</text>'
            f'<rect x="80" y="{y}" width="{width:.1f}" height="24" fill="{colour}"/>'
            f'<text x="{80 + width + 6:.1f}" y="{y + 17}" font-size="13" fill="#1b1f24">{value:,.1f}</text>'
        )
    return (
        f'<svg role="img" aria-label="{label}: observed {observed:,.1f} against {expected:,.1f} expected" '
        f'width="{WIDTH}" height="80" viewBox="0 0 {WIDTH} 80" xmlns="http://www.w3.org/2000/svg">{"".join(bars)}</svg>'
    )


def timeline(alerts: Sequence[Alert]) -> str:
    """A dot per alert along data time, coloured by severity, the first and last times under it."""
    if not alerts:
        return ""
    times = [a.event_time for a in alerts]
    first, last = min(times), max(times)
    span = (last - first).total_seconds() or 1.0
    dots = []
    for a in sorted(alerts, key=lambda a: a.event_time):
        x = 20 + 600 * (a.event_time - first).total_seconds() / span
        row = 20 if a.severity in ("high", "critical") else 38
        title = escape(f"{a.event_time:%Y-%m-%d %H:%M} {a.severity} {a.type}: {a.title}"[:300])
        dots.append(
            f'<circle cx="{x:.1f}" cy="{row}" r="6" fill="{COLOURS.get(a.severity, "#6b7280")}"><title>{title}</title></circle>'
        )
    return (
        f'<svg role="img" aria-label="{len(alerts)} alerts from {_day(first)} to {_day(last)}" width="{WIDTH}" '
        f'height="70" viewBox="0 0 {WIDTH} 70" xmlns="http://www.w3.org/2000/svg">'
        '<line x1="20" y1="50" x2="620" y2="50" stroke="#d0d7de"/>'
        f'{"".join(dots)}<text x="20" y="66" font-size="12" fill="#4a5563">{_day(first)}</text>'
        f'<text x="620" y="66" font-size="12" fill="#4a5563" text-anchor="end">{_day(last)}</text></svg>'
    )


def drivers(items: Any) -> str:
    """A bar per risk driver, longest first; empty when there are none."""
    rows = [
        (str(d.get("driver", ""))[:120], w)
        for d in (items if isinstance(items, list) else [])
        if isinstance(d, dict) and (w := _number(d.get("weight"))) is not None and w > 0
    ]
    if not rows:
        return ""
    rows.sort(key=lambda r: -r[1])
    top = max(w for _, w in rows)
    out = []
    for i, (name, weight) in enumerate(rows[:12]):
        y = 6 + i * 26
        out.append(
            f'<rect x="0" y="{y}" width="{160 * weight / top:.1f}" height="18" fill="#b3261e"/>'
            f'<text x="168" y="{y + 14}" font-size="13" fill="#1b1f24">{escape(name)} ({weight:g})</text>'
        )
    height = 12 + 26 * len(out)
    return (
        f'<svg role="img" aria-label="dispute risk drivers" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">{"".join(out)}</svg>'
    )


def band(days: Any, label: str) -> str:
    """A post's last days: views and reactions each in a panel, the usual range as a grey band, the
    usual count dashed, what happened as a line whose days outside the range are marked red.
    Empty when there are fewer than two days with figures."""
    rows = [
        d for d in (days if isinstance(days, list) else []) if isinstance(d, dict) and isinstance(d.get("day"), str)
    ]
    rows = rows[-14:]
    if len(rows) < 2:
        return ""
    panels: list[str] = []
    for name, prefix in (("views", ""), ("reactions", "reactions_")):
        series = [_band_figures(d, name, prefix) for d in rows]
        complete = [s for s in series if s is not None]
        if len(complete) == len(series):
            panels.append(_band_panel(name, [str(d["day"])[5:10] for d in rows], complete, 14 + len(panels) * 170))
    if not panels:
        return ""
    height = 14 + 170 * len(panels)
    return (
        f'<svg role="img" aria-label="{escape(label)}: views and reactions per day against their usual range" '
        f'width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">'
        f"{''.join(panels)}</svg>"
    )


def _band_figures(day: dict[str, Any], name: str, prefix: str) -> tuple[float, float, float, float] | None:
    """``(observed, usual, low, high)`` of one day, or None when one is missing or not a number."""
    figures = [_number(day.get(k)) for k in (name, f"{prefix}expected", f"{prefix}low", f"{prefix}high")]
    observed, usual, low, high = figures
    if observed is None or usual is None or low is None or high is None:
        return None
    return observed, usual, low, high


def _band_panel(name: str, labels: list[str], series: list[tuple[float, float, float, float]], top: int) -> str:
    left, width, height = 70, 540, 120
    peak = max(max(observed, high) for observed, _, _, high in series) or 1.0
    step = width / (len(series) - 1)

    def x(i: int) -> float:
        return left + i * step

    def y(value: float) -> float:
        return top + height - height * value / peak

    upper = " ".join(f"{x(i):.1f},{y(s[3]):.1f}" for i, s in enumerate(series))
    lower = " ".join(f"{x(i):.1f},{y(s[2]):.1f}" for i, s in reversed(list(enumerate(series))))
    usual = " ".join(f"{x(i):.1f},{y(s[1]):.1f}" for i, s in enumerate(series))
    seen = " ".join(f"{x(i):.1f},{y(s[0]):.1f}" for i, s in enumerate(series))
    dots = []
    for i, (observed, expected, low, high) in enumerate(series):
        outside = observed > high or observed < low
        tip = escape(f"{labels[i]}: {name} {observed:,.0f}, usual {expected:,.0f} ({low:,.0f}–{high:,.0f})")
        dots.append(
            f'<circle cx="{x(i):.1f}" cy="{y(observed):.1f}" r="{5 if outside else 3}" '
            f'fill="{"#b3261e" if outside else "#1b1f24"}"><title>{tip}</title></circle>'
        )
    ticks = "".join(
        f'<text x="{x(i):.1f}" y="{top + height + 16}" font-size="11" fill="#4a5563" text-anchor="middle">'
        f"{escape(label)}</text>"
        for i, label in enumerate(labels)
    )
    return (
        f'<text x="0" y="{top + 12}" font-size="13" fill="#1b1f24">{name}</text>'
        f'<text x="0" y="{top + 30}" font-size="11" fill="#4a5563">{peak:,.0f}</text>'
        f'<line x1="{left}" y1="{top + height}" x2="{left + width}" y2="{top + height}" stroke="#d0d7de"/>'
        f'<polygon points="{upper} {lower}" fill="#d0d7de"/>'
        f'<polyline points="{usual}" fill="none" stroke="#6b7280" stroke-dasharray="4 3"/>'
        f'<polyline points="{seen}" fill="none" stroke="#1b1f24" stroke-width="2"/>'
        f"{''.join(dots)}{ticks}"
    )


def _day(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"
