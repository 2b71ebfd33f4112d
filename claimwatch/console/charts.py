"""Evidence as pictures: small SVGs drawn on the server (no script, no library), every text escaped.

- :func:`observed_against_expected`: what a window showed against what was expected of it;
- :func:`timeline`: a subject's alerts along time, by severity (the claim's and the item's story);
- :func:`drivers`: what makes a claim or an asset a dispute risk, by weight.

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


def _day(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"
