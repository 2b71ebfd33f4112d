"""Ids derived from data only, so the same record always gets the same id (alerts, quarantine
entries, events): a re-read, a replay or a second worker names a thing as the first did.

>>> stable_id("claim", "abc", None) == stable_id("claim", "abc", None)
True
>>> len(stable_id("x"))
20
"""

from __future__ import annotations

import hashlib


def stable_id(*parts: object) -> str:
    """An id derived from data only, so the same record always gets the same id."""
    joined = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha1(joined.encode("utf-8"), usedforsecurity=False).hexdigest()[:20]
