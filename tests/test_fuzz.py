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


def test_a_high_alert_of_a_clean_finding_a_poll_apart_is_moved_not_new() -> None:
    from claimwatch.fuzz import finding_of, is_moved

    def alert(when: str, pid: str = "p1", type_: str = "view_spike") -> dict[str, object]:
        subject = {"platform": "youtube", "platform_content_id": pid, "content_id": "CW-1", "channel_id": "UC1"}
        return {"type": type_, "subject": subject, "event_time": when}

    clean = [finding_of(alert("2026-11-06T18:56:52Z"))]
    assert is_moved(alert("2026-11-06T20:38:47Z"), clean)  # the same surge, a poll later
    assert not is_moved(alert("2026-11-08T20:38:47Z"), clean)  # two days later: another finding
    assert not is_moved(alert("2026-11-06T20:38:47Z", pid="p2"), clean)  # another post
    assert not is_moved(alert("2026-11-06T20:38:47Z", type_="engagement_spike"), clean)
