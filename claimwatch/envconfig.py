"""Numbers from the environment, checked: a bad value names its variable and what it must be."""

from __future__ import annotations

import os


def positive_number(name: str, default: float, kind: type[int] | type[float] = int) -> float:
    """``kind(os.environ[name])`` if set, else ``default``; raises ValueError with the variable's name.

    >>> positive_number("CLAIMWATCH_UNSET_FOR_DOCTEST", 7)
    7
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be a {'whole ' if kind is int else ''}number, got {raw[:40]!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {raw[:40]!r}")
    return value


def choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    """``os.environ[name]`` (upper-cased) if set, else ``default``; one of ``allowed`` or ValueError.

    >>> choice("CLAIMWATCH_UNSET_FOR_DOCTEST", "SSL", ("PLAINTEXT", "SSL"))
    'SSL'
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if raw.upper() not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {raw[:40]!r}")
    return raw.upper()
