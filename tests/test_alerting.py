"""The dedup stage and alert identity."""

from __future__ import annotations

from datetime import timedelta

from claimwatch.detect.alerting import Candidate, DedupStage, build
from schemas.alerts import Severity
from tests.builders import T0


def candidate(severity: Severity = "medium", hours: float = 0, identity: tuple[object, ...] = ("x",)) -> Candidate:
    return Candidate(
        type="view_spike",
        severity=severity,
        score=0.5,
        subject={"content_id": "CW-1", "video_id": None},
        event_time=T0 + timedelta(hours=hours),
        title="t",
        evidence={},
        identity=identity,
        dedup_key=("post",),
    )


def test_repeat_inside_cooldown_is_dropped_and_after_it_passes() -> None:
    stage = DedupStage()
    assert stage.admit(candidate()) is True
    assert stage.admit(candidate(hours=5)) is False
    assert stage.admit(candidate(hours=25)) is True


def test_escalation_passes_but_not_a_repeat_of_it() -> None:
    stage = DedupStage()
    assert stage.admit(candidate("medium"))
    assert stage.admit(candidate("high", hours=1))
    assert not stage.admit(candidate("high", hours=2))
    assert not stage.admit(candidate("medium", hours=3))
    # The escalation kept the first finding's cooldown.
    assert stage.admit(candidate("medium", hours=24.5))


def test_expire_bounds_the_state() -> None:
    stage = DedupStage()
    stage.admit(candidate())
    stage.expire(T0 + timedelta(days=60))
    assert stage.seen == {}


def test_alert_id_depends_on_identity_and_severity_not_on_clock() -> None:
    a = build(candidate(), clock=lambda: T0)
    b = build(candidate(), clock=lambda: T0 + timedelta(days=1))
    c = build(candidate("high"), clock=lambda: T0)
    assert a.alert_id == b.alert_id != c.alert_id
    assert a.subject.model_dump(exclude_none=True) == {"content_id": "CW-1"}


def test_a_low_alert_quiets_its_subject_for_six_hours_and_a_repeat_has_an_id_of_its_own() -> None:
    dedup = DedupStage()
    first, soon, later = candidate("low", 0), candidate("low", 5.9), candidate("low", 6.1)
    assert dedup.admit(first) and not dedup.admit(soon)
    assert dedup.admit(later), "a weak signal does not silence the next finding for a day"
    assert build(first).alert_id != build(later).alert_id, "the same finding's repeat is another alert"
    assert build(candidate("medium", 0)).alert_id == build(candidate("medium", 3)).alert_id
    medium = DedupStage()
    assert medium.admit(candidate("medium", 0)) and not medium.admit(candidate("medium", 23.9))
