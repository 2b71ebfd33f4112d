"""Delay notices: the rights team told, in plain language, that the Monday report is late or partial.

The on-call engineer is paged by the schedule's rules when a run fails (``infra/``); the people
who read the report are not on-call and learn nothing from a page. A notice says which report,
why it is late, what is missing and when the next attempt is. It goes to its own SNS topic
(``CLAIMWATCH_STAKEHOLDER_TOPIC_ARN``) and, when set, to a Slack-compatible webhook
(``CLAIMWATCH_STAKEHOLDER_WEBHOOK_URL``); never to the on-call topic.

A week gets one notice per state: the job keeps ``notice.json`` beside the week's report, so a
retried or rerun failure does not tell people twice, and a report written after a notice went out
is announced as late ("now available").

Texts built here are pure (:func:`render`); :func:`publish` is the I/O.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from claimwatch.textsafe import safe_text, slack_escape

NOTICE_FILE = "notice.json"  # beside the week's report: what the stakeholders were last told
Kind = Literal["failed", "incomplete", "available_late"]
SCHEDULE_DAYS = 7  # the schedule's rate(7 days): the next automatic run reports the next week
MAX_MISSING_LISTED = 12  # sources or days named in one notice; the rest counted


@dataclass(frozen=True)
class Notice:
    """What the stakeholders are told about one week's report."""

    week: str
    kind: Kind
    reason: str  # why, in one sentence
    missing: dict[str, list[str]] = field(default_factory=dict)  # source -> days missing ([] = all week)
    next_attempt: str = ""
    location: str = ""  # where the report is, once written

    def key(self) -> dict[str, Any]:
        """What makes two notices the same news: the same kind, reason and missing data."""
        return {"week": self.week, "kind": self.kind, "reason": self.reason, "missing": self.missing}


def missing_data(data_quality: dict[str, Any], expected: tuple[str, ...] = ("claims report",)) -> dict[str, list[str]]:
    """Sources missing from the week: ``expected`` families with no record at all (``[]``), and every
    family with days missing among the days that had data.

    >>> missing_data({"days_by_source": {"platform_poll": 7}, "sources_missing_for_a_day": {"platform_poll": ["2026-11-05"]}})
    {'claims report': [], 'platform_poll': ['2026-11-05']}
    """
    seen = data_quality.get("days_by_source", {})
    out: dict[str, list[str]] = {family: [] for family in expected if not seen.get(family)}
    for family, days in sorted(data_quality.get("sources_missing_for_a_day", {}).items()):
        out[str(family)] = sorted(str(d) for d in days)
    return out


def next_run(now: datetime) -> str:
    """The next attempt, as people read it: by hand today, and the schedule's next run."""
    scheduled = (now + timedelta(days=SCHEDULE_DAYS)).strftime("%A %d %B %Y")
    return (
        "the on-call engineer has been paged and will run it again by hand once the cause is fixed; "
        f"otherwise the next scheduled run ({scheduled}, about) covers the following week only"
    )


def _missing_lines(missing: dict[str, list[str]]) -> list[str]:
    lines = []
    for n, (source, days) in enumerate(sorted(missing.items())):
        if n == MAX_MISSING_LISTED:
            lines.append(f"  … and {len(missing) - n} more source(s)")
            break
        shown = ", ".join(days[:MAX_MISSING_LISTED]) + (
            f" and {len(days) - MAX_MISSING_LISTED} more" if len(days) > MAX_MISSING_LISTED else ""
        )
        lines.append(f"  - {safe_text(source, 80)}: " + (f"no data on {shown}" if days else "nothing at all this week"))
    return lines


def render(notice: Notice) -> tuple[str, str]:
    """(subject, text) of a notice; every piece of data in it is made safe for a terminal or mail.

    >>> subject, text = render(Notice("2026-W45", "incomplete", "the claims report did not arrive", {"claims report": []}))
    >>> subject
    'claimwatch: the weekly report 2026-W45 is incomplete'
    >>> print(text.splitlines()[1])
      - claims report: nothing at all this week
    """
    week = safe_text(notice.week, 20)
    if notice.kind == "failed":
        subject = f"claimwatch: the weekly report {week} is late"
        head = f"The weekly claims report for {week} could not be produced: {safe_text(notice.reason, 300)}."
    elif notice.kind == "incomplete":
        subject = f"claimwatch: the weekly report {week} is incomplete"
        head = (
            f"The weekly claims report for {week} was written without some of its data "
            f"({safe_text(notice.reason, 300)}); its figures undercount what is listed below:"
        )
    else:
        subject = f"claimwatch: the weekly report {week} is now available (late)"
        head = (
            f"The weekly claims report for {week}, announced late, is now available: {safe_text(notice.location, 300)}."
        )
    lines = [head]
    if notice.missing:
        if notice.kind != "incomplete":
            lines.append("Missing from it:")
        lines += _missing_lines(notice.missing)
    if notice.next_attempt:
        lines.append(f"Next attempt: {safe_text(notice.next_attempt, 300)}.")
    if notice.location and notice.kind == "incomplete":
        lines.append(f"The partial report: {safe_text(notice.location, 300)}")
    return subject[:100], "\n".join(lines)


def _told(previous: bytes | None) -> dict[str, Any]:
    """The ``key`` of the week's ``notice.json``: what the stakeholders were last told ({} if nothing)."""
    if not previous:
        return {}
    try:
        told = json.loads(previous)
    except ValueError:
        return {}
    key = told.get("key") if isinstance(told, dict) else None
    return key if isinstance(key, dict) else {}


def already_sent(previous: bytes | None, notice: Notice) -> bool:
    """True when ``previous`` (the week's ``notice.json``) records this very news."""
    return _told(previous) == notice.key()


def record(notice: Notice, sent_at: datetime) -> bytes:
    body = {"key": notice.key(), "notice": asdict(notice), "sent_at": sent_at.isoformat()}
    return (json.dumps(body, sort_keys=True) + "\n").encode()


def was_announced_late(previous: bytes | None) -> bool:
    """True when the week's last notice said it was late or partial (so a full report now is news)."""
    return _told(previous).get("kind") in ("failed", "incomplete")


def publish(notice: Notice, topic_arn: str, webhook_url: str) -> None:
    """Send the notice to the stakeholders' SNS topic and/or their Slack-compatible webhook."""
    subject, text = render(notice)
    if topic_arn:
        from claimwatch.aws import client

        client("sns").publish(
            TopicArn=topic_arn,
            Subject=subject,
            Message=text,
            MessageAttributes={
                "type": {"DataType": "String", "StringValue": "report_notice"},
                "kind": {"DataType": "String", "StringValue": notice.kind},
            },
        )
    if webhook_url:
        import urllib.request

        if not webhook_url.startswith(("https://", "http://")):
            raise ValueError("CLAIMWATCH_STAKEHOLDER_WEBHOOK_URL must be an http(s) URL")
        body = json.dumps({"text": slack_escape(f"{subject}\n{text}")}).encode()
        request = urllib.request.Request(
            webhook_url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # an HTTP error status raises
            answer.read()
