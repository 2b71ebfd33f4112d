"""The review queue, as plain code: alerts grouped into subjects, and what people did about them.

A subject is what one decision is about: an item (one viral video is one row, however many alerts
its posts raise), else an asset, a video or a claim (:meth:`schemas.alerts.Subject.key`). The queue
holds the subjects with an alert of high or critical severity; every review action is kept with who
did it and when, and a subject's state is derived from its alerts and its actions at a given time
(an injected clock: the same input gives the same queue):

- ``open``: nobody has acted, or a new alert arrived after it was resolved (``reopened``), or its
  snooze ran out;
- ``acknowledged`` / ``assigned``: someone is on it;
- ``snoozed`` until a time; ``resolved`` with a note.

>>> from datetime import datetime, UTC
>>> t = datetime(2026, 11, 3, tzinfo=UTC)
>>> actions = [Action(subject="content_id:CW-1", kind="resolve", by="ana", at=t, note="licensed")]
>>> later = t.replace(day=5)
>>> state_of([t.replace(day=2)], actions, later).status, state_of([t.replace(day=4)], actions, later).status
('resolved', 'open')
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.alerts import REVIEW_SEVERITIES, Alert, severity_rank

ActionKind = Literal["acknowledge", "assign", "resolve", "snooze", "reopen"]
Status = Literal["open", "acknowledged", "assigned", "snoozed", "resolved"]
MAX_NOTE = 2_000  # characters: a note is a sentence or two, never a document


class Action(BaseModel):
    """One thing a person did about a subject (stored as is on the ``reviews`` topic)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str = Field(min_length=1, max_length=300)
    kind: ActionKind
    by: str = Field(min_length=1, max_length=200)
    at: datetime
    note: str = Field(default="", max_length=MAX_NOTE)
    assignee: str = Field(default="", max_length=200)
    until: datetime | None = None  # a snooze's end

    @field_validator("at", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("times carry their zone")
        return value


@dataclass
class ReviewState:
    status: Status = "open"
    reopened: bool = False
    assignee: str = ""
    note: str = ""
    snoozed_until: datetime | None = None
    last_action: Action | None = None


def state_of(alert_times: Iterable[datetime], actions: Sequence[Action], now: datetime) -> ReviewState:
    """A subject's state at ``now`` from when its alerts were raised and its actions, in order."""
    state = ReviewState()
    for action in sorted(actions, key=lambda a: a.at):
        if action.at > now:
            break
        state.last_action = action
        if action.kind == "acknowledge":
            state.status = "acknowledged" if state.status != "assigned" else "assigned"
        elif action.kind == "assign":
            state.status, state.assignee = "assigned", action.assignee
        elif action.kind == "resolve":
            state.status, state.note, state.reopened = "resolved", action.note, False
        elif action.kind == "snooze":
            state.status, state.snoozed_until = "snoozed", action.until
        else:  # reopen
            state.status, state.reopened = "open", True
    if state.status == "snoozed" and (state.snoozed_until is None or state.snoozed_until <= now):
        state.status = "open"
    if state.status == "resolved" and state.last_action is not None:
        resolved_at = state.last_action.at
        if any(resolved_at < t <= now for t in alert_times):  # a new alert on a resolved subject
            state.status, state.reopened = "open", True
    return state


@dataclass
class QueueRow:
    """One subject of the queue with its alerts, newest first."""

    subject: str
    alerts: list[Alert] = field(default_factory=list)
    state: ReviewState = field(default_factory=ReviewState)

    @property
    def top(self) -> Alert:
        """The alert that speaks for the subject: the most severe, then the newest."""
        return max(self.alerts, key=lambda a: (severity_rank(a.severity), a.detected_at, a.alert_id))

    @property
    def severity(self) -> str:
        return self.top.severity

    @property
    def last_at(self) -> datetime:
        return max(a.detected_at for a in self.alerts)

    @property
    def last_event(self) -> datetime:
        """When the newest alert's evidence happened (data time)."""
        return max(a.event_time for a in self.alerts)

    @property
    def types(self) -> list[str]:
        return sorted({a.type for a in self.alerts})

    @property
    def platforms(self) -> list[str]:
        return sorted({a.subject.platform for a in self.alerts if a.subject.platform})

    @property
    def video_ids(self) -> list[str]:
        return sorted({a.subject.video_id for a in self.alerts if a.subject.video_id})


def build_queue(alerts: Iterable[Alert], actions: Iterable[Action], now: datetime) -> list[QueueRow]:
    """Subjects with a high or critical alert, each with all its alerts and its state at ``now``;
    open ones first, then by severity and the newest alert."""
    rows: dict[str, QueueRow] = {}
    for alert in alerts:
        key = alert.subject.key()
        if key is not None:
            rows.setdefault(key, QueueRow(key)).alerts.append(alert)
    by_subject: dict[str, list[Action]] = {}
    for action in actions:
        by_subject.setdefault(action.subject, []).append(action)
    out = []
    for key, row in rows.items():
        if not any(a.severity in REVIEW_SEVERITIES for a in row.alerts):
            continue
        row.alerts.sort(key=lambda a: (a.detected_at, a.alert_id), reverse=True)
        times = [a.detected_at for a in row.alerts if a.severity in REVIEW_SEVERITIES]
        row.state = state_of(times, by_subject.get(key, []), now)
        out.append(row)
    order = {"open": 0, "acknowledged": 1, "assigned": 1, "snoozed": 2, "resolved": 3}
    out.sort(key=lambda r: (order[r.state.status], -severity_rank(r.severity), -r.last_at.timestamp(), r.subject))
    return out


# Claimant review periods (../shared/docs/youtube-formats.md, "Dispute lifecycle and timing"): a
# dispute not answered in 30 days expires (the claim is released), an appeal in 7, and a potential
# or pending claim nobody reviews becomes inactive after 30.
REVIEW_PERIOD_DAYS = {"disputed": 30, "appealed": 7, "potential": 30, "pending": 30}


@dataclass(frozen=True)
class Deadline:
    claim_id: str
    status: str
    since: datetime
    due: datetime
    content_id: str
    asset_id: str
    video_id: str

    def days_left(self, now: datetime) -> float:
        return round((self.due - now).total_seconds() / 86_400, 1)


def review_deadlines(
    claim_rows: Iterable[dict[str, object]], now: datetime, horizon_days: float = 14
) -> list[Deadline]:
    """The claims whose review period runs out within ``horizon_days`` of ``now`` (or has run out
    in the last week), soonest first, from the latest weekly roll-up row of each claim."""
    latest: dict[str, dict[str, object]] = {}
    for row in claim_rows:
        claim = row.get("claim_id")
        if not isinstance(claim, str) or not isinstance(row.get("status_time"), int | float):
            continue
        if claim not in latest or float(row["status_time"]) >= float(latest[claim]["status_time"]):  # type: ignore[arg-type]
            latest[claim] = row
    out = []
    for claim, row in latest.items():
        days = REVIEW_PERIOD_DAYS.get(str(row.get("status")))
        if days is None:
            continue
        since = datetime.fromtimestamp(float(row["status_time"]), tz=now.tzinfo)  # type: ignore[arg-type]
        due = since + timedelta(days=days)
        if now - timedelta(days=7) <= due <= now + timedelta(days=horizon_days):
            out.append(
                Deadline(
                    claim,
                    str(row.get("status")),
                    since,
                    due,
                    str(row.get("content_id") or ""),
                    str(row.get("asset_id") or ""),
                    str(row.get("video_id") or ""),
                )
            )
    return sorted(out, key=lambda d: (d.due, d.claim_id))
