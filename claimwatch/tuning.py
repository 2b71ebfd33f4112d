"""Honest parameter choice for the novelty detector: leave one NAB category out.

A parameter chosen on the data it is scored on proves nothing. For each category with anomaly
windows in turn, every candidate setting is scored (NAB standard profile, at the detector's own
fixed threshold) on the *other* categories, the best one is chosen there, and the held-out
category is scored with it. The mean of the held-out scores predicts how the detector does on
series nobody tuned it on. The shipped value of each parameter is the median of the folds'
choices, never a value that only the whole corpus prefers.

Run it with ``scripts/tune-novelty`` (``python -m claimwatch.tuning DATA LABELS``); it prints
the grid's corpus scores, the fold table and the shipped values as JSON.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claimwatch.detect.novelty import NoveltyDetector
from claimwatch.evaluate import epoch_of, read_series
from claimwatch.nab import ScoredFile, Weights, file_score, load_profiles, normalised, parse_time, prepare_file

# Each parameter's candidates, around the detector's defaults: a grid small enough to run in
# minutes on two cores, wide enough that a fold can disagree with the others.
GRID: dict[str, tuple[Any, ...]] = {
    "window": (6_000, 10_000, 14_000),
    "tolerance": (0.01, 0.02, 0.03),
    "rest": (60, 100, 140),
    "alert_surprise": (2.9, 3.1, 3.3),
    "period_penalty": (1.5, 2.0, 2.5),
}


@dataclass
class Series:
    name: str
    category: str
    times: list[float]
    values: list[float]
    template: ScoredFile  # windows and row values; scores are filled per run


_CORPUS: list[Series] = []


def load_corpus(data_dir: Path, labels_path: Path) -> list[Series]:
    windows = json.loads(labels_path.read_text())
    corpus, next_window = [], 0
    for path in sorted(data_dir.rglob("*.csv")):
        name = path.relative_to(data_dir).as_posix()
        if name not in windows:
            continue
        rows = read_series(path)
        stamps = [parse_time(s) for s, _ in rows]
        file_windows = [(parse_time(a), parse_time(b)) for a, b in windows[name]]
        template = prepare_file(name, stamps, [0.0] * len(rows), file_windows, next_window)
        next_window += template.windows
        corpus.append(Series(name, template.category, [epoch_of(s) for s, _ in rows], [v for _, v in rows], template))
    return corpus


def _decisions(params: dict[str, Any], series: Series) -> list[float]:
    """1.0 where the detector alerts, else 0.0: at its own threshold only the decision counts."""
    detector = NoveltyDetector(**params)
    first = len(series.values) - len(series.template.scores)
    flags = [detector.is_alert(detector.update(x, t)) for t, x in zip(series.times, series.values, strict=True)]
    return [1.0 if f else 0.0 for f in flags[first:]]


def _raw_scores(params: dict[str, Any]) -> dict[str, float]:
    """Raw standard-profile score of every file under ``params``."""
    weights = _WEIGHTS["standard"]
    out = {}
    for series in _CORPUS:
        sf = series.template
        scored = ScoredFile(
            sf.name, sf.category, sf.windows, _decisions(params, series), sf.window_of_row, sf.tp_value, sf.fp_value
        )
        out[series.name] = file_score(sf=scored, weights=weights, threshold=0.5)
    return out


_WEIGHTS: dict[str, Weights] = {}


def category_score(raw: dict[str, float], categories: set[str]) -> float:
    """Normalised score over the files of ``categories``."""
    files = [s for s in _CORPUS if s.category in categories]
    windows = sum(s.template.windows for s in files)
    return normalised(sum(raw[s.name] for s in files), windows, _WEIGHTS["standard"])


def configurations(grid: dict[str, tuple[Any, ...]]) -> list[dict[str, Any]]:
    names = sorted(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*(grid[n] for n in names))]


def leave_one_category_out(
    configs: list[dict[str, Any]], raws: list[dict[str, float]]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    categories = sorted({s.category for s in _CORPUS})
    scored = sorted({s.category for s in _CORPUS if s.template.windows})
    folds: list[dict[str, Any]] = []
    for held_out in scored:
        train = set(categories) - {held_out}
        best = max(range(len(configs)), key=lambda i: (round(category_score(raws[i], train), 6), -i))
        folds.append(
            {
                "held_out": held_out,
                "chosen": configs[best],
                "train_score": round(category_score(raws[best], train), 2),
                "held_out_score": round(category_score(raws[best], {held_out}), 2),
            }
        )
    shipped = {name: statistics.median_low(sorted(f["chosen"][name] for f in folds)) for name in configs[0]}
    return folds, shipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tune-novelty", description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("labels", type=Path)
    parser.add_argument("--grid", help="JSON object of parameter -> candidates (default: the built-in grid)")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args(argv)
    grid = json.loads(args.grid) if args.grid else GRID
    _CORPUS.extend(load_corpus(args.data, args.labels))
    _WEIGHTS.update(load_profiles(args.labels.parent / "profiles.json"))
    configs = configurations({k: tuple(v) for k, v in grid.items()})
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.processes) as pool:
        raws = pool.map(_raw_scores, configs, chunksize=1)
    print(f"{len(configs)} settings in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    everything = {s.category for s in _CORPUS}
    corpus_scores = [round(category_score(r, everything), 2) for r in raws]
    folds, shipped = leave_one_category_out(configs, raws)
    shipped_raw = _raw_scores(shipped) if shipped not in configs else raws[configs.index(shipped)]
    by_category: dict[str, float] = defaultdict(float)
    for f in folds:
        by_category[f["held_out"]] = category_score(shipped_raw, {f["held_out"]})
    report = {
        "grid": grid,
        "best_on_whole_corpus": {
            "params": configs[corpus_scores.index(max(corpus_scores))],
            "score": max(corpus_scores),
        },
        "folds": folds,
        "held_out_mean": round(statistics.mean(f["held_out_score"] for f in folds), 2),
        "shipped": shipped,
        "shipped_corpus_score": round(category_score(shipped_raw, everything), 2),
        "shipped_by_category": {c: round(v, 2) for c, v in sorted(by_category.items())},
    }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
