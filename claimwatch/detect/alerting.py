"""From a finding to a delivered alert, as a short pipeline of named stages.

``build`` gives a finding its identity (an id derived from data only) and its contract shape;
``DedupStage`` lets one finding through once, and again only when it escalates or its cooldown has
passed in event time. Grouping, routing and delivery live with the consumers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.alerts import Alert, AlertType, Severity, Subject, severity_rank
from schemas.ids import stable_id

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(tz=UTC)


@dataclass(frozen=True)
class Candidate:
    """A detector's finding, ready to be an alert: what, about whom, how sure, and why."""

    type: AlertType
    severity: Severity
    score: float
    subject: dict[str, str | None]
    event_time: datetime
    title: str
    evidence: dict[str, Any]
    identity: tuple[object, ...]  # what makes two findings the same finding
    dedup_key: tuple[object, ...] | None = None  # what one cooldown covers; identity if unset


def build(candidate: Candidate, clock: Clock = wall_clock) -> Alert:
    subject = Subject(**{k: v for k, v in candidate.subject.items() if v})
    return Alert(
        # A low alert may be raised again within its finding once LOW_COOLDOWN has passed: its own
        # time is part of its id, so each notice is one alert, never the same id twice.
        alert_id=stable_id(
            candidate.type,
            candidate.severity,
            *candidate.identity,
            *((candidate.event_time.isoformat(),) if candidate.severity == "low" else ()),
        ),
        type=candidate.type,
        severity=candidate.severity,
        score=round(min(1.0, max(0.0, candidate.score)), 4),
        subject=subject,
        event_time=candidate.event_time,
        detected_at=clock(),
        title=candidate.title[:300],
        evidence=candidate.evidence,
    )


COOLDOWN: dict[AlertType, timedelta] = {
    "view_spike": timedelta(hours=24),
    "engagement_spike": timedelta(hours=24),
    "viral_propagation": timedelta(hours=48),
    "claim_surge": timedelta(hours=20),
    "performance_discrepancy": timedelta(days=7),
    "rights_conflict": timedelta(days=7),
    "content_id_flag": timedelta(days=30),
    "dispute_opened": timedelta(days=30),
    "dispute_risk": timedelta(days=7),
}


# A low alert ("worth a glance") keeps its subject quiet this long at most: the next finding of the
# kind a few hours later is news again (a wave before a surge must not hide the surge).
LOW_COOLDOWN = timedelta(hours=6)
LOW_RANK = severity_rank("low")

DedupKey = tuple[object, ...]


@dataclass
class DedupStage:
    """One alert per finding: drops repeats inside the cooldown unless the severity rises.

    ``changed`` and ``removed`` name the keys written and forgotten since :meth:`take_changes`: a
    worker stores each key as a record of its own (a storm of 2,000 claims is 2,000 keys), and
    only the keys it has stored (``saved``) need deleting when they expire.
    """

    cooldown: dict[AlertType, timedelta] = field(default_factory=lambda: dict(COOLDOWN))
    seen: dict[DedupKey, tuple[datetime, int]] = field(default_factory=dict)
    changed: set[DedupKey] = field(default_factory=set)
    removed: set[DedupKey] = field(default_factory=set)
    saved: set[DedupKey] = field(default_factory=set)

    def admit(self, candidate: Candidate) -> bool:
        key = (candidate.type, *(candidate.dedup_key or candidate.identity))
        rank = severity_rank(candidate.severity)
        previous = self.seen.get(key)
        if previous is not None:
            last_time, last_rank = previous
            cooldown = self.cooldown.get(candidate.type, timedelta(hours=24))
            if last_rank <= LOW_RANK:  # a weak signal does not silence the next finding for a day
                cooldown = min(cooldown, LOW_COOLDOWN)
            within = candidate.event_time - last_time < cooldown
            if within and rank <= last_rank:
                return False
            if within:  # an escalation keeps the cooldown of the finding it escalates
                self.seen[key] = (last_time, rank)
                self.changed.add(key)
                return True
        self.seen[key] = (candidate.event_time, rank)
        self.changed.add(key)
        return True

    def take_changes(self) -> tuple[list[DedupKey], list[DedupKey]]:
        """``(changed, removed)`` since the last call; the changed keys count as stored from then on."""
        changed, removed = sorted(self.changed, key=repr), sorted(self.removed, key=repr)
        self.saved.update(changed)
        self.changed.clear()
        self.removed.clear()
        return changed, removed

    def expire(self, now: datetime) -> None:
        """Forget keys whose cooldown has passed, so the state stays bounded."""
        # now - seen < longest, as one comparison per key against a cut-off computed once.
        cutoff = now - max(self.cooldown.values())
        kept = {k: v for k, v in self.seen.items() if v[0] > cutoff}
        if len(kept) < len(self.seen):
            gone = self.seen.keys() - kept.keys()
            self.changed -= gone
            self.removed |= gone & self.saved
            self.saved -= gone
        self.seen = kept
