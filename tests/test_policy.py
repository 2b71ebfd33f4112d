"""Every severity ladder, pinned at each of its boundaries: a one-line change of a tier fails here."""

from __future__ import annotations

from typing import Any

import pytest

from claimwatch.detect import policy
from claimwatch.detect.alerting import COOLDOWN
from claimwatch.detect.dispute_risk import HIGH, MEDIUM, risk_level
from schemas.alerts import ALERT_TYPES

LADDERS: list[tuple[Any, tuple[Any, ...], str]] = [
    # spikes: sure (score >= 0.7, ratio >= 2.2) to be more than low; then by the extra counts at
    # stake once sustained (views 2 hours, reactions 6; over two windows or more)
    (policy.spike_severity, (0.69, 9.0, 1e9), "low"),
    (policy.spike_severity, (0.7, 2.19, 1e9), "low"),
    (policy.spike_severity, (0.7, 2.2, 999), "low"),
    (policy.spike_severity, (0.7, 2.2, 1_000), "medium"),
    (policy.spike_severity, (0.99, 3.99, 49_999), "medium"),
    (policy.spike_severity, (0.7, 2.2, 50_000), "high"),
    (policy.spike_severity, (0.7, 4.0, 4_999), "medium"),
    (policy.spike_severity, (0.7, 4.0, 5_000), "high"),
    (policy.spike_severity, (0.9, 3.0, 49_999, "views", 1.99), "low"),  # a burst of an hour
    (policy.spike_severity, (0.9, 3.0, 1_000, "views", 2.0), "medium"),
    (policy.spike_severity, (0.9, 3.0, 400_000, "views", 1.99), "low"),  # 3x on 200,000 an hour: not at once
    (policy.spike_severity, (0.9, 3.0, 800_000, "views", 2.0), "high"),  # but two hours in
    (policy.spike_severity, (0.9, 5.0, 18, "comments"), "low"),  # 22 comments where 4 were usual
    (policy.spike_severity, (0.9, 5.0, 39, "comments"), "low"),
    (policy.spike_severity, (0.9, 5.0, 40, "comments"), "medium"),
    (policy.spike_severity, (0.9, 3.0, 999, "comments"), "medium"),
    (policy.spike_severity, (0.9, 3.0, 1_000, "comments"), "high"),
    (policy.spike_severity, (0.9, 4.0, 200, "shares"), "high"),
    (policy.spike_severity, (0.9, 4.0, 199, "shares"), "medium"),
    (policy.spike_severity, (0.9, 9.0, 249, "likes"), "low"),
    (policy.spike_severity, (0.9, 2.5, 250, "likes"), "medium"),
    (policy.spike_severity, (0.9, 2.5, 5_000, "likes"), "high"),
    (policy.spike_severity, (0.9, 3.0, 900, "comments", 5.99), "low"),  # a wave of an hour or two
    (policy.spike_severity, (0.9, 3.0, 900, "comments", 6.0), "medium"),
    (policy.spike_severity, (0.9, 3.0, 4_999, "likes", 5.99), "low"),
    (policy.spike_severity, (0.9, 3.0, 5_000, "likes", 6.0), "high"),
    (policy.spike_severity, (0.9, 3.0, 5_000, "likes", 6.0, 1), "low"),  # one long window: maybe one wave
    (policy.spike_severity, (0.9, 3.0, 5_000, "likes", 6.0, 2), "high"),
    (policy.drop_severity, (2.99, 1e6), "low"),
    (policy.drop_severity, (3.0, 999), "low"),
    (policy.drop_severity, (3.0, 1_000), "medium"),
    (policy.propagation_severity, (1, 999), "low"),
    (policy.propagation_severity, (1, 1_000), "high"),
    (policy.propagation_severity, (2, 999), "low"),
    (policy.propagation_severity, (2, 1_000), "critical"),
    (policy.viral_without_claim_severity, (999,), "low"),
    (policy.viral_without_claim_severity, (1_000,), "high"),
    # claims
    (policy.flag_severity, (99_999,), "low"),
    (policy.flag_severity, (100_000,), "medium"),
    (policy.flag_severity, (999_999,), "medium"),
    (policy.flag_severity, (1_000_000,), "high"),
    (policy.dispute_opened_severity, ("disputed",), "medium"),
    (policy.dispute_opened_severity, ("appealed",), "high"),
    (policy.dispute_opened_severity, ("takedown",), "critical"),
    (policy.dispute_opened_severity, ("delayed_takedown",), "critical"),
    (policy.release_severity, (True,), "high"),
    (policy.release_severity, (False,), "medium"),
    (policy.discrepancy_severity, (0.2499,), "high"),
    (policy.discrepancy_severity, (0.25,), "medium"),
    (policy.discrepancy_severity, (4.0,), "medium"),
    (policy.discrepancy_severity, (4.0001,), "high"),
    (policy.surge_severity, (5.0, 15), "high"),
    (policy.surge_severity, (4.99, 100), "medium"),
    (policy.surge_severity, (50.0, 14), "medium"),
    # rights
    (policy.conflict_severity, (100.0, 0), "high"),
    (policy.conflict_severity, (99.9, 9_999), "medium"),
    (policy.conflict_severity, (0.0, 10_000), "high"),
    (policy.other_owners_severity, (99_999,), "medium"),
    (policy.other_owners_severity, (100_000,), "high"),
    # risk
    (policy.risk_severity, (0.9299,), "high"),
    (policy.risk_severity, (0.93,), "critical"),
    (risk_level, (HIGH,), "high"),
    (risk_level, (HIGH - 1e-9,), "medium"),
    (risk_level, (MEDIUM,), "medium"),
    (risk_level, (MEDIUM - 1e-9,), "low"),
]


@pytest.mark.parametrize(("ladder", "args", "severity"), LADDERS, ids=lambda v: getattr(v, "__name__", repr(v)))
def test_each_ladder_at_each_boundary(ladder: Any, args: tuple[Any, ...], severity: str) -> None:
    assert ladder(*args) == severity


def test_the_fixed_severities() -> None:
    assert policy.THIRD_PARTY_ON_OWN_VIDEO == "high"
    assert policy.VIRAL_WITHOUT_CLAIM == "high"
    assert policy.OVER_100_PERCENT == "high"


def test_every_alert_type_has_a_cooldown() -> None:
    assert set(COOLDOWN) == set(ALERT_TYPES)
    assert all(c.total_seconds() > 0 for c in COOLDOWN.values())


def _ledger(*records: tuple[str, float, str]) -> list[tuple[str, float]]:
    from claimwatch.detect.reference import RightsLedger
    from tests.builders import rights

    ledger, found = RightsLedger(), []
    for owner, share, territories in records:
        found = ledger.add(rights(owner, share, territories))
    return [(o.territory, o.total_pct) for o in found]


@pytest.mark.parametrize(
    ("records", "over"),
    [
        # An owner's explicit territory share overrides its worldwide one, whichever came first:
        # in the US "us" holds 20 (not 60), so 20 + 70 is no conflict.
        ([("us", 60.0, "WW"), ("us", 20.0, "US"), ("them", 70.0, "US")], []),
        ([("us", 20.0, "US"), ("us", 60.0, "WW"), ("them", 70.0, "US")], []),
        ([("us", 60.0, "WW"), ("them", 60.0, "US"), ("us", 50.0, "US")], [("US", 110.0)]),
        # Exactly 100 % is whole ownership, not a conflict; a hair over is.
        ([("us", 60.0, "WW"), ("them", 40.0, "WW")], []),
        ([("us", 60.0, "WW"), ("them", 40.01, "WW")], [("WW", 100.01)]),
    ],
)
def test_ownership_over_100_percent(records: list[tuple[str, float, str]], over: list[tuple[str, float]]) -> None:
    assert _ledger(*records) == over
