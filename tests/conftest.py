from __future__ import annotations

import gzip
from pathlib import Path

import pytest


def write(path: Path, text: str, *, gz: bool = False, bom: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (("\ufeff" if bom else "") + text).encode("utf-8")
    if gz:
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)
    return path


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path
