"""A bounded slice of the corrupted-input benchmark (``scripts/fuzz`` runs all of it)."""

from __future__ import annotations

import pytest

from claimwatch.fuzz import MUTATORS, QUICK, fuzz, summarise


@pytest.mark.slow
def test_corrupted_samples_never_crash_a_run_and_always_reconcile() -> None:
    outcomes, _ = fuzz(list(QUICK), seeds=1, items=40, days=8, jobs=2)
    total = summarise(outcomes)
    failures = [(o.kind, o.error or o.unreconciled[:2]) for o in outcomes if o.crashed or o.unreconciled]
    assert failures == []
    assert total["runs"] == len(QUICK) and int(str(total["corrupted_records"])) > 1000
    assert float(str(total["peak_mb_max"])) < 600


def test_the_benchmark_has_at_least_twenty_kinds_of_corruption() -> None:
    assert len(MUTATORS) >= 20 and set(QUICK) <= set(MUTATORS)
