"""Hostile text made safe for where it is shown: terminals and Slack.

Titles, channel names and file contents come from outside and may carry terminal escape
sequences, bidirectional overrides (text that reads differently than it is stored) or Slack
control syntax (``<!channel>``, ``<http://evil|bank.com>``). Every text printed to a terminal goes
through :func:`safe_text`; every text sent to Slack through :func:`slack_escape`; every CSV cell
through :func:`safe_cell`.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from schemas.alerts import Alert

# Bidirectional controls: embeddings, overrides, isolates and marks. A right-to-left override can make
# a title read as something else; unicodedata puts them in "Cf" (format), with harmless ones such as
# the zero-width joiner used in emoji, which stay.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def safe_text(text: str, limit: int = 500) -> str:
    """``text`` with control characters (C0, DEL, C1, so every escape sequence) and bidi controls
    replaced by a space, cut to ``limit`` characters.

    >>> safe_text("Hit\\x1b[2J song\\u202eevil")
    'Hit [2J song evil'
    >>> safe_text("Ünïcode ✓ stays")
    'Ünïcode ✓ stays'
    """
    if text.isascii() and text.isprintable():
        return text[:limit]
    out = []
    for ch in text[:limit]:
        if ch in BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs", "Co", "Zl", "Zp"):
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def slack_escape(text: str) -> str:
    """Slack's three control characters escaped, so ``<!channel>`` or ``<url|label>`` in a title is
    shown as text, never as a mention or a disguised link.

    >>> slack_escape("<!channel> A & B <http://x|bank>")
    '&lt;!channel&gt; A &amp; B &lt;http://x|bank&gt;'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ------------------------------------------------------------------------------------ alerts
# One line per alert on a terminal: the CLI, `alerts tail` and the stream benchmark print the same.

COLOURS = {
    "critical": "\033[1;97;41m",
    "high": "\033[1;31m",
    "medium": "\033[33m",
    "low": "\033[36m",
    "info": "\033[2m",
}
RESET = "\033[0m"


def colour(enabled: bool, severity: str, text: str) -> str:
    return f"{COLOURS.get(severity, '')}{text}{RESET}" if enabled else text


def format_alert(alert: Alert, coloured: bool = False) -> str:
    """``!! HIGH     2026-11-06 12:43  view_spike  Views of …``: the title made safe to print."""
    when = alert.event_time.strftime("%Y-%m-%d %H:%M")
    flag = "!!" if alert.severity in ("high", "critical") else "  "
    head = colour(coloured, alert.severity, f"{flag} {alert.severity.upper():8}")
    return f"{head} {when}  {alert.type:24} {safe_text(alert.title)}"


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
MAX_CELL = 500


def safe_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ is prefixed with '.

    >>> print(safe_cell("=1+2"), safe_cell("-3 dB"), safe_cell("fine"))
    '=1+2 '-3 dB fine
    >>> safe_cell(None), safe_cell(3)
    ('', 3)
    """
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    text = str(value)[:MAX_CELL]
    if text.startswith(FORMULA_PREFIXES):
        text = "'" + text
    return safe_text(text, MAX_CELL + 1)  # after the check: a leading tab or CR is a formula prefix too
