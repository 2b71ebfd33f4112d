"""What the commands share: the per-source table, output folders, paths and times on the command line."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from claimwatch.config import environment
from claimwatch.textsafe import safe_text

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subparsers = argparse._SubParsersAction

EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_PARTIAL = 2, 3, 4


def print_counts(counts: dict[str, dict[str, int]]) -> None:
    """The per-source table: every record read was accepted or quarantined, and says so."""
    print("Records per source              files   records  accepted  quarantined    events  reconciles")
    for source, row in counts.items():
        ok = row["records"] == row["accepted"] + row["quarantined"]
        print(
            f"  {safe_text(source)[:28]:28} {row['files']:6} {row['records']:9} {row['accepted']:9} "
            f"{row['quarantined']:12} {row['events']:9}  {'yes' if ok else 'NO'}"
        )


def is_week_folder(path: Path) -> bool:
    name = path.name
    return path.is_dir() and len(name) == 8 and name[:4].isdigit() and name[4:6] == "-W" and name[6:].isdigit()


def clear_previous_output(out: Path, ours: Callable[[Path], bool], what: str) -> None:
    """Make ``out`` ready: new, empty, or holding only a previous output of ours (removed, so no stale
    week or file of it survives). Anything else in it is someone else's, and refused."""
    if not out.exists():
        return
    if not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file; it must be a folder")
    entries = sorted(out.iterdir())
    foreign = [e.name for e in entries if not ours(e)]
    if foreign:
        raise ValueError(
            f"--out {out} holds files that are not {what} ({', '.join(foreign[:3])}"
            f"{', …' if len(foreign) > 3 else ''}); choose a new or empty folder"
        )
    for entry in entries:
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def local_paths(given: Sequence[str]) -> list[Path]:
    """The files and folders to read: local ones. ``s3://bucket/key`` would become ``s3:/bucket/key``
    as a path and be reported missing; say what to do instead."""
    for text in given:
        if "://" in text:
            raise ValueError(
                f"{text}: claimwatch reads local files and folders; copy the exports here first "
                "(for S3: aws s3 sync s3://bucket/prefix ./exports)"
            )
    return [Path(text) for text in given]


def stdout_to_devnull() -> None:
    """Send what is still printed nowhere once the reader of stdout is gone (Python's own advice:
    otherwise the flush at exit fails again)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def since_arg(value: str | None) -> datetime | None:
    return time_arg(value, "--since")


def time_arg(value: str | None, name: str) -> datetime | None:
    """An RFC 3339 time given on the command line; a bad one is a one-line error naming ``name``."""
    if not value:
        return None
    from claimwatch.ingest.normalize import FieldError, parse_datetime

    try:
        return parse_datetime(value, name)
    except FieldError as exc:
        raise ValueError(f"{name}: {exc.reason}") from None


def operator(given: str | None) -> str:
    """Who acts on the quarantine: --by, else CLAIMWATCH_OPERATOR, else the login name."""
    import getpass

    return given or environment().claimwatch_operator or getpass.getuser()
