"""The run folder's files: one JSON object per line, keys sorted, UTF-8 (``alerts.jsonl``,
``quarantine.jsonl``, ``files.jsonl``, ``rollups.jsonl``), what the embedded run and the benchmarks
write and ``--from-dir`` reads back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path


def write_jsonl(path: Path, rows: Iterable[dict[str, object]]) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            n += 1
    return n
