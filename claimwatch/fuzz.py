"""``claimwatch fuzz`` (``scripts/fuzz``): the embedded run over corrupted copies of a generated sample.

Each run takes a fresh sample, applies one kind of corruption (byte flips, truncation, encodings,
CSV structure, numbers, dates, sizes, counter artefacts, hostile text…) and runs
``claimwatch run`` on it in a child process, as a user would. A run passes when it exits 0 without
a traceback, every file it was given is accounted for, every file's records reconcile
(read = accepted + quarantined) and, for line-based files, every physical line was read as a
record. Peak memory is the child's own (``wait4`` in a small intermediate process). Printed per kind and in total; ``--json`` too.

"new high+" counts the high and critical alerts of a corrupted run that the clean run has no
finding for: same type and subject within a day (the spikes' cooldown). An alert of a finding the
clean run has, a poll earlier or later because a record of it was lost, has another id; it is
counted apart ("moved"), not as an alert from garbage.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

Mutator = Callable[[Path, random.Random], int]
LINE_END = re.compile(rb"\r\n|\r|\n")


# ------------------------------------------------------------------------------------ helpers


def _files(folder: Path, pattern: str) -> list[Path]:
    return sorted(p for p in folder.rglob(pattern) if p.is_file() and p.name != "labels.json")


def _pick(folder: Path, pattern: str, rng: random.Random, n: int = 1) -> list[Path]:
    found = _files(folder, pattern)
    return rng.sample(found, min(n, len(found))) if found else []


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")


def _rewrite_lines(
    folder: Path,
    pattern: str,
    rng: random.Random,
    share: float,
    change: Callable[[bytes, random.Random], bytes],
    files: int = 2,
    keep_header: bool = True,
) -> int:
    """Apply ``change`` to a ``share`` of the data lines of ``files`` files; returns lines changed."""
    changed = 0
    for path in _pick(folder, pattern, rng, files):
        lines = _lines(path)
        first = 1 if keep_header and path.suffix == ".csv" else 0
        for i in range(first, len(lines)):
            if lines[i].strip() and rng.random() < share:
                lines[i] = change(lines[i], rng)
                changed += 1
        path.write_bytes(b"\n".join(lines))
    return changed


def _cells(line: bytes) -> list[bytes]:
    return line.split(b",")


def _replace_json_value(
    name: bytes, value: Callable[[random.Random], bytes]
) -> Callable[[bytes, random.Random], bytes]:
    pattern = re.compile(rb'("' + name + rb'":\s*)("[^"]*"|[-0-9.eE+]+)')
    return lambda line, rng: pattern.sub(lambda m: m.group(1) + value(rng), line, count=1)


NON_FINITE = [b"Infinity", b"1e400", b'"Infinity"', b"NaN", b"-1e400", b'"inf"']
EDGE_DATES = [
    b'"9999-12-31T23:59:59Z"',
    b'"0001-01-01T00:30:00+01:00"',
    b'"99991231"',
    b'"2100-01-01T00:00:00Z"',
    b'"1969-12-31T23:59:59Z"',
]
GARBAGE_DATES = [b'"yesterday"', b'"2026-13-45T99:00:00Z"', b'""', b"null", b"12345", b'"2026-11-02T25:61"']
HOSTILE = [
    "\x1b[2J\x1b[31mRED\x1b[0m",
    '=HYPERLINK("http://evil","x")',
    "<script>alert(1)</script>",
    "\u202eevil\u202c",
    "<!channel> <http://evil|bank.com>",
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
]


def _poll_field(name: bytes, value: Callable[[random.Random], bytes], share: float) -> Mutator:
    return lambda folder, rng: _rewrite_lines(folder, "polls/*.jsonl", rng, share, _replace_json_value(name, value), 3)


def _csv_column(pattern: str, column: str, value: Callable[[random.Random], str], share: float) -> Mutator:
    def mutate(folder: Path, rng: random.Random) -> int:
        changed = 0
        for path in _pick(folder, pattern, rng, 2):
            lines = path.read_text(encoding="utf-8").split("\n")
            header = lines[0].split(",")
            names = [h.strip().lower().replace(" ", "_") for h in header]
            if column not in names:
                continue
            at = names.index(column)
            for i in range(1, len(lines)):
                cells = lines[i].split(",")
                if len(cells) == len(header) and rng.random() < share:
                    cells[at] = value(rng)
                    lines[i] = ",".join(cells)
                    changed += 1
            path.write_text("\n".join(lines), encoding="utf-8")
        return changed

    return mutate


# ----------------------------------------------------------------------------------- mutators


def byte_flips(folder: Path, rng: random.Random) -> int:
    touched = 0
    for path in _pick(folder, "*.*", rng, 3):
        data = bytearray(path.read_bytes())
        if not data:
            continue
        lines: set[int] = set()
        for _ in range(max(1, len(data) // 300)):
            at = rng.randrange(len(data))
            data[at] = rng.randrange(256)
            lines.add(data.count(b"\n", 0, at))
        path.write_bytes(bytes(data))
        touched += len(lines)
    return touched


def truncate(folder: Path, rng: random.Random) -> int:
    lost = 0
    for path in _pick(folder, "*.*", rng, 3):
        data = path.read_bytes()
        cut = rng.randrange(max(1, len(data)))
        lost += data.count(b"\n", cut) + 1
        path.write_bytes(data[:cut])
    return lost


def gzip_truncated(folder: Path, rng: random.Random) -> int:
    lost = 0
    for path in _pick(folder, "*.csv", rng, 2) + _pick(folder, "*.jsonl", rng, 1):
        data = path.read_bytes()
        packed = gzip.compress(data)
        keep = rng.uniform(0.2, 0.9)
        path.with_name(path.name + ".gz").write_bytes(packed[: int(len(packed) * keep)])
        path.unlink()
        lost += int(data.count(b"\n") * (1 - keep)) + 1
    return lost


def gzip_bomb(folder: Path, rng: random.Random) -> int:
    """An 800 KB gzip that expands to 800 MB on one line (the shape of a decompression bomb)."""
    target = folder / "polls" / "polls_bomb.jsonl.gz"
    with gzip.open(target, "wb", compresslevel=9) as fh:
        fh.write(b'{"platform": "youtube", "platform_content_id": "')
        block = b"A" * (1 << 20)
        for _ in range(800):
            fh.write(block)
        fh.write(b'"}\n')
    return 1


def latin1_bytes(folder: Path, rng: random.Random) -> int:
    return _rewrite_lines(folder, "*.csv", rng, 0.05, lambda line, r: line.replace(b",", b",Caf\xe9 ", 1), 3)


def utf16(folder: Path, rng: random.Random) -> int:
    count = 0
    for path in _pick(folder, "*.csv", rng, 2):
        text = path.read_text(encoding="utf-8")
        path.write_bytes(text.encode("utf-16"))
        count += text.count("\n")
    return count


def cr_only(folder: Path, rng: random.Random) -> int:
    count = 0
    for path in _pick(folder, "*.jsonl", rng, 2) + _pick(folder, "*.csv", rng, 1):
        data = path.read_bytes()
        count += data.count(b"\n")
        path.write_bytes(data.replace(b"\n", b"\r"))
    return count


def missing_cells(folder: Path, rng: random.Random) -> int:
    return _rewrite_lines(folder, "*.csv", rng, 0.05, lambda line, r: b",".join(_cells(line)[:-2]), 3)


def extra_cells(folder: Path, rng: random.Random) -> int:
    return _rewrite_lines(folder, "*.csv", rng, 0.05, lambda line, r: line + b",surplus", 3)


def duplicate_column(folder: Path, rng: random.Random) -> int:
    count = 0
    for path in _pick(folder, "*.csv", rng, 2):
        lines = _lines(path)
        header = _cells(lines[0])
        if len(header) < 3:
            continue
        a, b = rng.sample(range(len(header)), 2)
        header[a] = header[b]
        lines[0] = b",".join(header)
        path.write_bytes(b"\n".join(lines))
        count += sum(1 for line in lines[1:] if line.strip())
    return count


def swapped_columns(folder: Path, rng: random.Random) -> int:
    def swap(line: bytes, r: random.Random) -> bytes:
        cells = _cells(line)
        if len(cells) > 6:
            cells[3], cells[5] = cells[5], cells[3]
            cells[5], cells[6] = cells[6], cells[5]
        return b",".join(cells)

    return _rewrite_lines(folder, "rights*.csv", rng, 0.3, swap, 1) + _rewrite_lines(
        folder, "claims/*.csv", rng, 0.05, swap, 2
    )


def nul_bytes(folder: Path, rng: random.Random) -> int:
    return _rewrite_lines(folder, "*.*", rng, 0.03, lambda line, r: line[:5] + b"\x00" + line[5:], 3)


def non_finite(folder: Path, rng: random.Random) -> int:
    jsonl = _poll_field(b"views_total", lambda r: r.choice(NON_FINITE), 0.02)(folder, rng)
    return jsonl + _csv_column("claims/*.csv", "views", lambda r: r.choice(["inf", "1e400", "NaN", "Infinity"]), 0.05)(
        folder, rng
    )


def huge_integers(folder: Path, rng: random.Random) -> int:
    return _poll_field(b"views_total", lambda r: b"9" * r.choice([20, 401, 5000]), 0.02)(folder, rng) + _csv_column(
        "analytics/*.csv", "views", lambda r: "9" * 401, 0.05
    )(folder, rng)


def negative_counts(folder: Path, rng: random.Random) -> int:
    return _poll_field(b"likes_total", lambda r: b"-5", 0.02)(folder, rng) + _csv_column(
        "analytics/*.csv", "likes", lambda r: "-12", 0.05
    )(folder, rng)


def edge_dates(folder: Path, rng: random.Random) -> int:
    return _poll_field(b"observed_at", lambda r: r.choice(EDGE_DATES), 0.02)(folder, rng) + _csv_column(
        "analytics/*.csv", "date", lambda r: r.choice(["99991231", "00010101", "9999-12-31"]), 0.05
    )(folder, rng)


def garbage_dates(folder: Path, rng: random.Random) -> int:
    return _poll_field(b"observed_at", lambda r: r.choice(GARBAGE_DATES), 0.02)(folder, rng) + _csv_column(
        "rights*.csv", "valid_from", lambda r: "2026-02-30", 0.2
    )(folder, rng)


def deep_json(folder: Path, rng: random.Random) -> int:
    deep = b"[" * 10_000 + b"]" * 10_000
    return _rewrite_lines(folder, "*.jsonl", rng, 0.01, lambda line, r: deep, 2)


def broken_json(folder: Path, rng: random.Random) -> int:
    return _rewrite_lines(folder, "*.jsonl", rng, 0.03, lambda line, r: line[: len(line) // 2], 3)


def long_line(folder: Path, rng: random.Random) -> int:
    for path in _pick(folder, "*.*", rng, 2):
        with path.open("ab") as fh:
            fh.write(b"\n" + b"x" * (5 << 20) + b"\n")
    return 2


def empty_files(folder: Path, rng: random.Random) -> int:
    lost = 0
    for path in _pick(folder, "*.*", rng, 3):
        lost += path.read_bytes().count(b"\n")
        path.write_bytes(b"")
    return lost


def binary_garbage(folder: Path, rng: random.Random) -> int:
    for i in range(3):
        (folder / f"garbage_{i}.bin").write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 20_000))))
    return 3


def hostile_text(folder: Path, rng: random.Random) -> int:
    return _csv_column("catalog/*.csv", "title", lambda r: r.choice(HOSTILE), 0.3)(folder, rng) + _csv_column(
        "claims/*.csv", "video_title", lambda r: r.choice(HOSTILE), 0.1
    )(folder, rng)


def duplicate_rows(folder: Path, rng: random.Random) -> int:
    return _rewrite_lines(folder, "*.*", rng, 0.1, lambda line, r: line + b"\n" + line, 3)


def shuffled_order(folder: Path, rng: random.Random) -> int:
    count = 0
    for path in _pick(folder, "polls/*.jsonl", rng, 2):
        lines = [line for line in _lines(path) if line.strip()]
        rng.shuffle(lines)
        path.write_bytes(b"\n".join(lines) + b"\n")
        count += len(lines)
    return count


def counter_zero(folder: Path, rng: random.Random) -> int:
    return _poll_field(b"views_total", lambda r: b"0", 0.01)(folder, rng)


def counter_jump(folder: Path, rng: random.Random) -> int:
    bump = re.compile(rb'("views_total":\s*)(\d+)')
    return _rewrite_lines(
        folder,
        "polls/*.jsonl",
        rng,
        0.01,
        lambda line, r: bump.sub(lambda m: m.group(1) + str(int(m.group(2)) + 10**9).encode(), line, count=1),
        3,
    )


def frozen_counter(folder: Path, rng: random.Random) -> int:
    """The busiest post's counters stop moving for 12 hours (a stuck collector)."""
    polls = _files(folder, "polls/*.jsonl")
    if not polls:
        return 0
    path = rng.choice(polls)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_post: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_post.setdefault(str(row.get("platform_content_id")), []).append(row)
    busiest = max(
        by_post.values(), key=lambda rs: int(str(rs[-1].get("views_total", 0))) - int(str(rs[0].get("views_total", 0)))
    )
    frozen = busiest[len(busiest) // 3 : len(busiest) // 3 + 24]
    for row in frozen:
        for key in ("views_total", "likes_total", "comments_total", "shares_total"):
            if key in frozen[0]:
                row[key] = frozen[0][key]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return len(frozen)


def far_future(folder: Path, rng: random.Random) -> int:
    return _poll_field(
        b"observed_at", lambda r: r.choice([b'"2099-06-01T00:00:00Z"', b'"2100-01-01T00:00:00Z"']), 0.005
    )(folder, rng)


def header_garbage(folder: Path, rng: random.Random) -> int:
    count = 0
    for path in _pick(folder, "*.csv", rng, 2):
        lines = _lines(path)
        lines[0] = b"\xff\xfegarbage;header;" + lines[0][::-1]
        path.write_bytes(b"\n".join(lines))
        count += len(lines) - 1
    return count


MUTATORS: dict[str, Mutator] = {
    f.__name__: f
    for f in (
        byte_flips,
        truncate,
        gzip_truncated,
        gzip_bomb,
        latin1_bytes,
        utf16,
        cr_only,
        missing_cells,
        extra_cells,
        duplicate_column,
        swapped_columns,
        nul_bytes,
        non_finite,
        huge_integers,
        negative_counts,
        edge_dates,
        garbage_dates,
        deep_json,
        broken_json,
        long_line,
        empty_files,
        binary_garbage,
        hostile_text,
        duplicate_rows,
        shuffled_order,
        counter_zero,
        counter_jump,
        frozen_counter,
        far_future,
        header_garbage,
    )
}
QUICK = tuple(
    """
    byte_flips gzip_truncated latin1_bytes missing_cells non_finite edge_dates deep_json
    counter_zero frozen_counter duplicate_column
    """.split()
)


# ------------------------------------------------------------------------------------- checks


def physical_records(path: Path) -> int | None:
    """Non-blank lines a line-based file holds as data (CSV without its header), or None when a
    record may span lines or the file is not line-based (a JSON document, gzip, a quoted CSV)."""
    if path.suffix not in (".csv", ".jsonl"):
        return None
    data = path.read_bytes()
    if path.suffix == ".csv" and b'"' in data:
        return None
    lines = [line for line in LINE_END.split(data) if line.strip()]
    if path.suffix == ".csv":
        return max(0, len(lines) - 1)
    return len(lines)


# The run's peak memory is read by a small intermediate process: a child forked straight from a
# large parent (a test runner) inherits the parent's resident size in its maxrss, even after exec.
PEAK_MARK = "claimwatch-fuzz-peak-kb"
MEASURE = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[1:])\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    f"sys.stderr.write('\\n{PEAK_MARK} %d\\n' % usage.ru_maxrss)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


@dataclass
class RunOutcome:
    kind: str
    seed: int
    corrupted: int
    exit_code: int
    crashed: bool
    unreconciled: list[str] = field(default_factory=list)
    peak_mb: float = 0.0
    seconds: float = 0.0
    high_alerts: int = 0  # high/critical alerts of a finding the clean run does not have
    moved_high_alerts: int = 0  # high/critical alerts of the clean run's findings, a poll or a day apart
    error: str = ""


MOVED_WITHIN = timedelta(hours=24)  # the cooldown of a spike: one finding, one alert, within it


def finding_of(alert: dict[str, Any]) -> tuple[tuple[str, ...], datetime]:
    """What an alert is about (its type and subject ids) and when: the same finding raised a poll
    earlier or later (a corrupted record moved it) has another id, but is no alert from garbage."""
    subject = alert.get("subject", {})
    ids = tuple(f"{k}={subject[k]}" for k in sorted(subject) if k not in ("platform", "channel_id") and subject[k])
    return (alert["type"], *ids), datetime.fromisoformat(str(alert["event_time"]).replace("Z", "+00:00"))


def is_moved(alert: dict[str, Any], clean: list[tuple[tuple[str, ...], datetime]]) -> bool:
    key, when = finding_of(alert)
    return any(k == key and abs(when - t) <= MOVED_WITHIN for k, t in clean)


def run_variant(
    kind: str,
    seed: int,
    base: Path,
    work: Path,
    clean_high: set[str],
    clean_findings: list[tuple[tuple[str, ...], datetime]],
) -> RunOutcome:
    rng = random.Random(f"{kind}/{seed}")
    folder = work / f"{kind}-{seed}" / "in"
    out = work / f"{kind}-{seed}" / "out"
    shutil.copytree(base, folder)
    corrupted = MUTATORS[kind](folder, rng)
    expected = {str(p): physical_records(p) for p in folder.rglob("*") if p.is_file() and p.name != "labels.json"}
    started = time.perf_counter()
    cmd = [sys.executable, "-m", "claimwatch.cli", "run", "--input", str(folder), "--out", str(out), "--quiet"]
    done = subprocess.run([sys.executable, "-c", MEASURE, *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = done.stderr.decode("utf-8", "replace")
    peak_kb = [int(line.split()[1]) for line in stderr.splitlines() if line.startswith(PEAK_MARK)]
    stderr = "\n".join(line for line in stderr.splitlines() if not line.startswith(PEAK_MARK))
    outcome = RunOutcome(
        # Exit 4 is a run that read only quarantined records: an answer, not a crash.
        kind,
        seed,
        corrupted,
        done.returncode,
        done.returncode not in (0, 4) or "Traceback" in stderr,
        peak_mb=(peak_kb[-1] if peak_kb else 0) / 1024,
        seconds=time.perf_counter() - started,
    )
    if outcome.crashed:
        outcome.error = stderr.strip().splitlines()[-1][:300] if stderr.strip() else f"exit {done.returncode}"
    else:
        files = {}
        for line in (out / "files.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            files[row["path"]] = row
        for path, physical in expected.items():
            row = files.get(path)
            if row is None:
                outcome.unreconciled.append(f"{path}: not read")
            elif row["records"] != row["accepted"] + row["quarantined"]:
                outcome.unreconciled.append(
                    f"{path}: {row['records']} read != {row['accepted']} + {row['quarantined']}"
                )
            elif physical is not None and row["records"] < physical:
                outcome.unreconciled.append(f"{path}: {row['records']} records of {physical} lines")
        for line in (out / "alerts.jsonl").read_text(encoding="utf-8").splitlines():
            alert = json.loads(line)
            if alert["severity"] in ("high", "critical") and alert["alert_id"] not in clean_high:
                if is_moved(alert, clean_findings):
                    outcome.moved_high_alerts += 1
                else:
                    outcome.high_alerts += 1
    shutil.rmtree(work / f"{kind}-{seed}", ignore_errors=True)
    return outcome


def fuzz(kinds: list[str], seeds: int, items: int, days: int, jobs: int) -> tuple[list[RunOutcome], dict[str, float]]:
    from claimwatch.sample.generator import generate

    with tempfile.TemporaryDirectory(prefix="claimwatch-fuzz-") as tmp:
        work = Path(tmp)
        base = work / "base"
        generate(base, seed=11, items=items, days=days)
        (base / "labels.json").unlink(missing_ok=True)
        for packed in base.rglob("*.gz"):  # the mutators edit text; gzip_truncated packs files again
            packed.with_suffix("").write_bytes(gzip.decompress(packed.read_bytes()))
            packed.unlink()
        clean_out = work / "clean"
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "claimwatch.cli", "run", "--input", str(base), "--out", str(clean_out), "--quiet"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        clean_seconds = time.perf_counter() - started
        clean_alerts = [
            a
            for a in map(json.loads, (clean_out / "alerts.jsonl").read_text(encoding="utf-8").splitlines())
            if a["severity"] in ("high", "critical")
        ]
        clean_findings = [finding_of(a) for a in clean_alerts]
        clean_high = {
            a["alert_id"]
            for a in map(json.loads, (clean_out / "alerts.jsonl").read_text(encoding="utf-8").splitlines())
            if a["severity"] in ("high", "critical")
        }
        tasks = [(k, s) for s in range(seeds) for k in kinds]
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            outcomes = list(
                pool.map(lambda ks: run_variant(ks[0], ks[1], base, work, clean_high, clean_findings), tasks)
            )
    return outcomes, {"clean_run_seconds": clean_seconds, "clean_high_alerts": len(clean_high)}


def summarise(outcomes: list[RunOutcome]) -> dict[str, object]:
    return {
        "runs": len(outcomes),
        "kinds": len({o.kind for o in outcomes}),
        "corrupted_records": sum(o.corrupted for o in outcomes),
        "crashes": sum(o.crashed for o in outcomes),
        "unreconciled_runs": sum(bool(o.unreconciled) for o in outcomes),
        "peak_mb_max": round(max((o.peak_mb for o in outcomes), default=0.0), 1),
        "peak_mb_median": round(statistics.median(o.peak_mb for o in outcomes), 1) if outcomes else 0.0,
        "new_high_alerts": sum(o.high_alerts for o in outcomes),
        "moved_high_alerts": sum(o.moved_high_alerts for o in outcomes),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="claimwatch fuzz", description=__doc__)
    parser.add_argument("--kinds", nargs="+", choices=sorted(MUTATORS), help="default: all")
    parser.add_argument("--quick", action="store_true", help=f"a slice for CI: {', '.join(QUICK)}")
    parser.add_argument("--seeds", type=int, default=4, help="runs per kind (default: %(default)s)")
    parser.add_argument(
        "--items", type=int, default=150, help="content items in the sample (default: the bundled size)"
    )
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    args = parser.parse_args(argv)
    kinds = args.kinds or (list(QUICK) if args.quick else sorted(MUTATORS))
    outcomes, clean = fuzz(kinds, args.seeds, args.items, args.days, args.jobs)
    total = summarise(outcomes) | clean
    if args.json:
        print(json.dumps({"total": total, "runs": [asdict(o) for o in outcomes]}, indent=1))
    else:
        print(
            f"{'kind':18}{'runs':>5}{'corrupted':>11}{'crashes':>9}{'unreconciled':>14}{'peak MB':>9}{'new high+':>11}"
            f"{'moved':>7}"
        )
        for kind in kinds:
            mine = [o for o in outcomes if o.kind == kind]
            row = summarise(mine)
            print(
                f"{kind:18}{row['runs']:5}{row['corrupted_records']:11,}{row['crashes']:9}"
                f"{row['unreconciled_runs']:14}{row['peak_mb_max']:9}{row['new_high_alerts']:11}"
                f"{row['moved_high_alerts']:7}"
            )
        print(json.dumps(total))
        for o in outcomes:
            if o.crashed or o.unreconciled:
                print(f"  {o.kind}/{o.seed}: {o.error or '; '.join(o.unreconciled[:3])}")
    return 0 if total["crashes"] == 0 and total["unreconciled_runs"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
