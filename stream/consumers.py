"""Alert consumers: a terminal tail, a webhook (Slack-compatible) and Amazon SNS.

Each is a short pipeline: consume → drop duplicates by ``alert_id`` → filter/limit → deliver →
commit. Every consumer has its own consumer group and commits only after delivery, so delivery
is at least once; receivers drop repeats by ``alert_id``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer

from schemas.alerts import Alert, severity_rank
from stream.codec import decode_alert
from stream.settings import Settings

log = logging.getLogger("claimwatch.consumers")


@dataclass
class SeenIds:
    """The last ``size`` alert ids delivered: a redelivered alert is recognised and dropped."""

    size: int = 100_000
    ids: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def first_time(self, alert_id: str) -> bool:
        if alert_id in self.ids:
            return False
        self.ids[alert_id] = None
        if len(self.ids) > self.size:
            self.ids.popitem(last=False)
        return True


@dataclass
class SubjectRateLimit:
    """At most ``per_window`` deliveries per subject per ``window_s``; the rest are counted and reported
    with the next delivery for that subject, so a storm about one video is one message, not fifty."""

    per_window: int = 3
    window_s: float = 300.0
    sent: dict[str, list[float]] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)

    def allow(self, subject: str, now: float) -> tuple[bool, int]:
        recent = [t for t in self.sent.get(subject, []) if now - t < self.window_s]
        if len(recent) >= self.per_window:
            self.sent[subject] = recent
            self.held[subject] = self.held.get(subject, 0) + 1
            return False, 0
        recent.append(now)
        self.sent[subject] = recent
        return True, self.held.pop(subject, 0)


def subject_key(alert: Alert) -> str:
    ids = alert.subject.ids()
    for k in ("content_id", "asset_id", "video_id", "claim_id", "platform_content_id"):
        if k in ids:
            return f"{k}:{ids[k]}"
    return alert.alert_id


async def consume(
    settings: Settings,
    group: str,
    deliver: Callable[[Alert], Awaitable[None]],
    from_beginning: bool = False,
    idle_exit_s: float = 0.0,
) -> int:
    """Run one consumer until idle for ``idle_exit_s`` (0: forever); returns alerts delivered."""
    consumer = AIOKafkaConsumer(
        settings.topic("alerts"),
        bootstrap_servers=settings.bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    seen = SeenIds()
    delivered = 0
    await consumer.start()
    try:
        last = time.monotonic()
        while True:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            if not batch:
                if idle_exit_s and time.monotonic() - last > idle_exit_s:
                    return delivered
                continue
            last = time.monotonic()
            for records in batch.values():
                for record in records:
                    if record.value is None:
                        continue
                    alert = decode_alert(record.value)
                    if seen.first_time(alert.alert_id):
                        await deliver(alert)
                        delivered += 1
            await consumer.commit()  # after delivery: a crash before it redelivers, never loses
    finally:
        await consumer.stop()


def tail(
    min_severity: str = "info",
    types: set[str] | None = None,
    from_beginning: bool = False,
    idle_exit_s: float = 0.0,
    colour: bool = False,
    settings: Settings | None = None,
) -> int:
    from claimwatch.cli import format_alert

    settings = settings or Settings()
    floor = severity_rank(min_severity)

    async def show(alert: Alert) -> None:
        if severity_rank(alert.severity) >= floor and (not types or alert.type in types):
            print(format_alert(alert, colour), flush=True)

    # A tail is a viewer, not a delivery: its own throwaway group, so it never steals another's offsets.
    group = f"claimwatch-tail-{uuid.uuid4().hex[:8]}"
    asyncio.run(consume(settings, group, show, from_beginning, idle_exit_s))
    return 0


def slack_payload(alert: Alert, held: int = 0) -> dict[str, Any]:
    more = f" ({held} more alert(s) about this subject were held back)" if held else ""
    text = f"[{alert.severity.upper()}] {alert.type}: {alert.title}{more}"
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "plain_text", "text": text[:2900]}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "plain_text",
                        "text": f"alert_id {alert.alert_id} · event time {alert.event_time.isoformat()}",
                    }
                ],
            },
        ],
        "alert": json.loads(alert.model_dump_json()),
    }


async def post_with_retries(
    url: str, payload: dict[str, Any], attempts: int = 5, base_delay_s: float = 0.5, timeout_s: float = 10.0
) -> None:
    """POST JSON; retry 5xx, 429 and network errors with exponential backoff; 4xx is final."""
    import aiohttp

    delay = base_delay_s
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
        for attempt in range(1, attempts + 1):
            try:
                async with session.post(url, json=payload) as response:
                    if response.status < 300:
                        return
                    if response.status < 500 and response.status != 429:
                        raise WebhookRejected(f"webhook answered {response.status}: {(await response.text())[:200]}")
                    reason = f"HTTP {response.status}"
            except aiohttp.ClientError as exc:
                reason = str(exc)
            if attempt == attempts:
                raise WebhookUnavailable(f"webhook failed after {attempts} attempts: {reason}")
            await asyncio.sleep(delay)
            delay *= 2


class WebhookRejected(Exception):
    pass


class WebhookUnavailable(Exception):
    pass


def webhook_deliverer(url: str, limit: SubjectRateLimit | None = None) -> Callable[[Alert], Awaitable[None]]:
    limit = limit or SubjectRateLimit()

    async def deliver(alert: Alert) -> None:
        allowed, held = limit.allow(subject_key(alert), time.monotonic())
        if not allowed:
            log.info("rate-limited alert %s for %s", alert.alert_id, subject_key(alert))
            return
        try:
            await post_with_retries(url, slack_payload(alert, held))
        except WebhookRejected:
            log.exception("webhook rejected alert %s; not retried", alert.alert_id)

    return deliver


def sns_deliverer(topic_arn: str, client: Any | None = None) -> Callable[[Alert], Awaitable[None]]:
    import boto3

    sns = client or boto3.client("sns")

    def publish(alert: Alert) -> None:
        sns.publish(
            TopicArn=topic_arn,
            Subject=f"claimwatch {alert.severity}: {alert.type}"[:100],
            Message=alert.model_dump_json(),
            MessageAttributes={
                "severity": {"DataType": "String", "StringValue": alert.severity},
                "type": {"DataType": "String", "StringValue": alert.type},
                "alert_id": {"DataType": "String", "StringValue": alert.alert_id},
            },
        )

    async def deliver(alert: Alert) -> None:
        await asyncio.to_thread(publish, alert)

    return deliver


def run_sink(
    kind: str, from_beginning: bool = False, idle_exit_s: float = 0.0, settings: Settings | None = None
) -> int:
    settings = settings or Settings()
    if kind == "webhook":
        if not settings.webhook_url:
            raise ValueError("set CLAIMWATCH_WEBHOOK_URL for the webhook sink")
        deliver = webhook_deliverer(settings.webhook_url)
    else:
        if not settings.sns_topic_arn:
            raise ValueError("set CLAIMWATCH_SNS_TOPIC_ARN for the SNS sink")
        deliver = sns_deliverer(settings.sns_topic_arn)
    delivered = asyncio.run(consume(settings, f"claimwatch-{kind}", deliver, from_beginning, idle_exit_s))
    print(f"delivered {delivered} alert(s) to {kind}")
    return 0
