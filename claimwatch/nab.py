"""Numenta Anomaly Benchmark scoring, implemented from the method in ``../shared/nab/README.md``.

Per file: the first min(15 % of rows, 750) rows are probationary (no detection counts). A
detection is a row whose score is at or above the threshold. Within an anomaly window only the
earliest detection counts, worth ``tpWeight * sigma(pos) / sigma(-1)`` with
``pos = -(R - i + 1) / W``; a window without one costs ``fnWeight``. A detection outside every
window costs ``fpWeight`` (before the first window) or ``fpWeight * -sigma(|R_prev - i| / (W_prev - 1))``
after one, so false alarms just after a window cost less. One threshold per profile is chosen
for the whole corpus (the one maximising the total), and the total is normalised so that the
detector that never fires scores 0 and the perfect one 100.

>>> sigma(-1.0) > 0.98 and sigma(0.0) == 0.0 and sigma(3.5) == -1.0
True
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")


def sigma(x: float) -> float:
    """NAB's scaled sigmoid: 1 well before, 0 at, -1 well after; -1 beyond 3."""
    if x > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


@dataclass(frozen=True)
class Weights:
    tp: float
    fn: float
    fp: float


@dataclass
class ScoredFile:
    """The rows of one file that can count, with what each would be worth as a detection."""

    name: str
    category: str
    windows: int
    scores: list[float]
    window_of_row: list[int]  # global window id, or -1 outside every window
    tp_value: list[float]  # sigma(pos) / sigma(-1) inside a window
    fp_value: list[float]  # the (negative) unweighted cost outside windows


def parse_time(text: str) -> datetime:
    text = text.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def probation_rows(length: int, percent: float = 0.15) -> int:
    return min(math.floor(percent * length), math.floor(percent * 5000))


def prepare_file(
    name: str,
    timestamps: list[datetime],
    scores: list[float],
    windows: list[tuple[datetime, datetime]],
    first_window_id: int,
) -> ScoredFile:
    n = len(timestamps)
    bounds = []
    for start, end in sorted(windows):
        inside = [i for i, t in enumerate(timestamps) if start <= t <= end]
        if inside:
            bounds.append((inside[0], inside[-1]))
    window_of_row = [-1] * n
    tp_value = [0.0] * n
    fp_value = [0.0] * n
    top = sigma(-1.0)
    for w, (left, right) in enumerate(bounds):
        width = right - left + 1
        for i in range(left, right + 1):
            window_of_row[i] = first_window_id + w
            tp_value[i] = sigma(-(right - i + 1) / width) / top
    previous: tuple[int, int] | None = None
    w = 0
    for i in range(n):
        while w < len(bounds) and bounds[w][1] < i:
            previous = bounds[w]
            w += 1
        if window_of_row[i] >= 0:
            continue
        if previous is None:
            fp_value[i] = -1.0
        else:
            left, right = previous
            fp_value[i] = sigma(abs(right - i) / (right - left))
    first = probation_rows(n)
    category = name.split("/")[0]
    return ScoredFile(
        name=name,
        category=category,
        windows=len(bounds),
        scores=scores[first:],
        window_of_row=window_of_row[first:],
        tp_value=tp_value[first:],
        fp_value=fp_value[first:],
    )


def total_at_best_threshold(files: list[ScoredFile], weights: Weights) -> tuple[float, float]:
    """(threshold, raw score) maximising the corpus total; the sweep visits every distinct score."""
    rows = sorted(
        ((s, f, i) for f, sf in enumerate(files) for i, s in enumerate(sf.scores)),
        key=lambda r: -r[0],
    )
    windows = sum(f.windows for f in files)
    best_threshold, best = math.inf, -weights.fn * windows
    tp_by_window: dict[int, float] = {}
    tp_sum = fp_sum = 0.0
    k = 0
    while k < len(rows):
        threshold = rows[k][0]
        while k < len(rows) and rows[k][0] == threshold:
            _, f, i = rows[k]
            sf = files[f]
            window = sf.window_of_row[i]
            if window >= 0:
                value = weights.tp * sf.tp_value[i]
                if value > tp_by_window.get(window, -math.inf):
                    tp_sum += value - tp_by_window.get(window, 0.0)
                    tp_by_window[window] = value
            else:
                fp_sum += weights.fp * sf.fp_value[i]
            k += 1
        total = tp_sum + fp_sum - weights.fn * (windows - len(tp_by_window))
        if total > best:
            best_threshold, best = threshold, total
    return best_threshold, best


def file_score(sf: ScoredFile, weights: Weights, threshold: float) -> float:
    detected: dict[int, float] = {}
    fp = 0.0
    for s, window, tp, fpv in zip(sf.scores, sf.window_of_row, sf.tp_value, sf.fp_value, strict=True):
        if s < threshold:
            continue
        if window >= 0:
            detected[window] = max(detected.get(window, -math.inf), weights.tp * tp)
        else:
            fp += weights.fp * fpv
    return sum(detected.values()) + fp - weights.fn * (sf.windows - len(detected))


def normalised(raw: float, windows: int, weights: Weights) -> float:
    null, perfect = -weights.fn * windows, weights.tp * windows
    return 100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0


@dataclass(frozen=True)
class ProfileResult:
    profile: str
    score: float
    threshold: float
    by_category: dict[str, float]


def load_profiles(path: Path) -> dict[str, Weights]:
    data = json.loads(path.read_text())
    return {
        name: Weights(tp=m["CostMatrix"]["tpWeight"], fn=m["CostMatrix"]["fnWeight"], fp=m["CostMatrix"]["fpWeight"])
        for name, m in data.items()
    }


def read_scored_csv(path: Path) -> tuple[list[datetime], list[float]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        stamps, scores = [], []
        for n, row in enumerate(reader, start=2):
            try:
                stamps.append(parse_time(row["timestamp"]))
                scores.append(float(row["anomaly_score"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{n}: needs timestamp and a numeric anomaly_score ({exc})") from None
    return stamps, scores


def find_output(results_dir: Path, name: str) -> Path | None:
    """The output for ``category/file.csv``: same relative path, or NAB's ``<detector>_file.csv``."""
    direct = results_dir / name
    if direct.exists():
        return direct
    category, file_name = name.split("/", 1)
    matches = sorted((results_dir / category).glob(f"*_{file_name}")) if (results_dir / category).is_dir() else []
    return matches[0] if matches else None


def score_results(
    results_dir: Path,
    labels_path: Path,
    profiles_path: Path,
    names: Iterable[str] | None = None,
    threshold: float | None = None,
) -> list[ProfileResult]:
    """Score a folder of detector outputs (``timestamp,...,anomaly_score`` per file) against the labels.

    NAB's method picks the best threshold per profile; pass ``threshold`` to score the detector's
    own decision instead.
    """
    windows = json.loads(labels_path.read_text())
    profiles = load_profiles(profiles_path)
    files: list[ScoredFile] = []
    next_window = 0
    for name in sorted(names or windows):
        path = find_output(results_dir, name)
        if path is None:
            raise FileNotFoundError(f"no output for {name} under {results_dir}")
        stamps, scores = read_scored_csv(path)
        file_windows = [(parse_time(a), parse_time(b)) for a, b in windows[name]]
        sf = prepare_file(name, stamps, scores, file_windows, next_window)
        next_window += sf.windows
        files.append(sf)
    results = []
    for profile in PROFILES:
        weights = profiles[profile]
        if threshold is None:
            chosen, raw = total_at_best_threshold(files, weights)
        else:
            chosen, raw = threshold, sum(file_score(sf, weights, threshold) for sf in files)
        per_category: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for sf in files:
            per_category[sf.category][0] += file_score(sf, weights, chosen)
            per_category[sf.category][1] += sf.windows
        by_category = {
            c: round(normalised(raw_c, int(w), weights), 2) for c, (raw_c, w) in sorted(per_category.items()) if w
        }
        results.append(
            ProfileResult(
                profile, round(normalised(raw, sum(f.windows for f in files), weights), 2), chosen, by_category
            )
        )
    return results
