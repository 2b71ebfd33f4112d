"""Leave-one-category-out: a fold never sees the category it is scored on."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from claimwatch import tuning
from claimwatch.nab import Weights, prepare_file


def _series(name: str) -> tuning.Series:
    stamps = [datetime(2020, 1, 1) + timedelta(minutes=5 * i) for i in range(100)]
    template = prepare_file(name, stamps, [0.0] * 100, [(stamps[60], stamps[70])], 0)
    return tuning.Series(name, template.category, [s.timestamp() for s in stamps], [0.0] * 100, template)


def test_each_fold_chooses_on_the_other_categories_and_ships_the_median(monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = [_series(f"{c}/f.csv") for c in ("a", "b", "c")]
    monkeypatch.setattr(tuning, "_CORPUS", corpus)
    monkeypatch.setattr(tuning, "_WEIGHTS", {"standard": Weights(tp=1.0, fn=1.0, fp=0.11)})
    configs = [{"rest": 10}, {"rest": 20}, {"rest": 30}]
    # Raw file scores: "a" and "b" prefer rest=10, "c" prefers rest=30 by far.
    raws = [
        {"a/f.csv": 1.0, "b/f.csv": 1.0, "c/f.csv": -1.0},
        {"a/f.csv": 0.0, "b/f.csv": 0.5, "c/f.csv": 0.0},
        {"a/f.csv": -1.0, "b/f.csv": -1.0, "c/f.csv": 1.0},
    ]
    folds, shipped = tuning.leave_one_category_out(configs, raws)
    chosen = {f["held_out"]: f["chosen"]["rest"] for f in folds}
    # Holding "c" out, a and b choose 10 and c is scored with it: its own preference is not seen.
    assert chosen["c"] == 10 and next(f for f in folds if f["held_out"] == "c")["held_out_score"] == 0.0
    # Holding "a" out, b and c sum to 0 at 10 and at 30 but 0.5 at 20: rest=20 wins.
    assert chosen["a"] == 20
    # Holding "b" out, a and c tie at 0 everywhere: the first (smallest) candidate is kept.
    assert chosen["b"] == 10
    assert shipped == {"rest": 10}  # the median of the folds' choices (20, 10, 10)
