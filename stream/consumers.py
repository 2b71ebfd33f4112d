"""Alert consumers: a terminal tail, a webhook (Slack-compatible) and Amazon SNS.

Each sink is a short pipeline of named stages over a batch of alerts, then a commit:

    consume → DedupByAlertId → AlertFilter (severity, type) → SubjectRateLimit → deliver | digest → commit

- nothing is lost: delivery retries forever with capped exponential backoff (timeouts, 5xx, 429 and
  network errors alike), honouring ``Retry-After``; offsets are committed only after every alert of
  the batch was delivered or collapsed into a digest; a new consumer group starts from the earliest
  retained alert (or ``--since`` a time), never from ``latest``;
- a storm about one subject becomes one digest message listing what was held back, not silence;
- counts are honest: delivered, digested, filtered, duplicates, rejected (a 4xx: the receiver
  refuses the message itself, retrying cannot help, and it is logged with the alert id);
- every text sent to Slack is escaped, every text printed to a terminal is stripped of controls.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from claimwatch.config import environment
from claimwatch.detect.alerting import COOLDOWN
from claimwatch.detect.timeutil import rfc3339
from claimwatch.textsafe import safe_text, slack_escape
from schemas.alerts import Alert, severity_rank
from schemas.codec import decode_alert
from stream.kafka_io import read_records, start_client, topic_partitions
from stream.settings import Settings

log = logging.getLogger("claimwatch.consumers")


# -------------------------------------------------------------------------------------- stages


@dataclass
class DedupByAlertId:
    """The last ``size`` alert ids seen: a redelivered alert is recognised and dropped."""

    size: int = 100_000
    ids: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def first_time(self, alert_id: str) -> bool:
        if alert_id in self.ids:
            return False
        self.ids[alert_id] = None
        if len(self.ids) > self.size:
            self.ids.popitem(last=False)
        return True


@dataclass(frozen=True)
class AlertFilter:
    """Which alerts this sink is for: from ``min_severity`` up, and of ``types`` (all when empty)."""

    min_severity: str = "info"
    types: frozenset[str] = frozenset()

    def matches(self, alert: Alert) -> bool:
        return severity_rank(alert.severity) >= severity_rank(self.min_severity) and (
            not self.types or alert.type in self.types
        )


@dataclass
class SubjectRateLimit:
    """At most ``per_window`` messages per subject per ``window_s``; the rest are held for a digest."""

    per_window: int = 3
    window_s: float = 300.0
    sent: dict[str, list[float]] = field(default_factory=dict)

    def allow(self, subject: str, now: float) -> bool:
        recent = [t for t in self.sent.get(subject, []) if now - t < self.window_s]
        allowed = len(recent) < self.per_window
        if allowed:
            recent.append(now)
        self.sent[subject] = recent
        return allowed


@dataclass
class DestinationRate:
    """What one destination accepts: a token bucket of ``per_s`` messages a second with ``burst``
    messages of headroom (Slack takes about one a second per webhook). A message that finds no token
    is not dropped: it joins the batch's storm digest, which waits for a token."""

    per_s: float = 0.0  # 0: no limit
    burst: float = 5.0
    tokens: float = field(default=-1.0)
    at: float = 0.0

    def take(self, now: float) -> bool:
        """Spend a token now if there is one."""
        if self.per_s <= 0:
            return True
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait_s(self, now: float) -> float:
        """Seconds until a token is there."""
        if self.per_s <= 0:
            return 0.0
        self._refill(now)
        return max(0.0, (1.0 - self.tokens) / self.per_s)

    def _refill(self, now: float) -> None:
        if self.tokens < 0:
            self.tokens, self.at = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_s)
        self.at = now


STORM = "several subjects"  # the subject line of a digest of what the destination's rate held back


def subject_key(alert: Alert) -> str:
    return alert.subject.key() or alert.alert_id


@dataclass
class SinkCounts:
    delivered: int = 0
    digested: int = 0
    digests: int = 0
    filtered: int = 0
    duplicates: int = 0
    rejected: int = 0
    undecodable: int = 0

    def line(self) -> str:
        return (
            f"delivered {self.delivered}, digested {self.digested} (in {self.digests} digest(s)), "
            f"filtered {self.filtered}, duplicates {self.duplicates}, rejected {self.rejected}, "
            f"undecodable {self.undecodable}"
        )


class Sink:
    """Where alerts go. ``send`` delivers one alert, ``send_digest`` one message for many; both
    raise :class:`Retryable` when trying again may help and :class:`Rejected` when it cannot."""

    name = "sink"

    async def send(self, alert: Alert) -> None:
        raise NotImplementedError

    async def send_digest(self, subject: str, alerts: list[Alert]) -> None:
        raise NotImplementedError


class Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Rejected(Exception):
    """The receiver refused this message (a 4xx other than 408/429): retrying cannot help."""


@dataclass
class Backoff:
    """Capped exponential backoff; ``Retry-After`` from the receiver wins when it says more."""

    base_s: float = 0.5
    cap_s: float = 30.0

    def delays(self) -> Any:
        delay = self.base_s
        while True:
            yield delay
            delay = min(self.cap_s, delay * 2)


async def deliver_with_retries(
    attempt: Callable[[], Awaitable[None]], what: str, backoff: Backoff, give_up_after_s: float | None = None
) -> None:
    """Run ``attempt`` until it succeeds, waiting between tries; only a Rejected ends it early.

    ``give_up_after_s`` exists for tests and one-shot calls; a sink passes None: it never drops.
    """
    started = time.monotonic()
    for delay in backoff.delays():
        try:
            await attempt()
            return
        except Retryable as exc:
            wait = max(delay, exc.retry_after or 0.0)
            if give_up_after_s is not None and time.monotonic() - started + wait > give_up_after_s:
                raise
            log.warning("%s failed (%s); retrying in %.1fs", what, exc, wait)
            await asyncio.sleep(wait)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date.

    >>> retry_after_seconds("7"), retry_after_seconds("nonsense")
    (7.0, None)
    >>> retry_after_seconds("Tue, 10 Nov 2026 00:00:30 GMT", datetime(2026, 11, 10, tzinfo=UTC))
    30.0
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), 3600))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min(3600.0, (when - (now or datetime.now(tz=UTC))).total_seconds()))


# ------------------------------------------------------------------------------------- webhook


def slack_text(alert: Alert) -> str:
    return slack_escape(f"[{alert.severity.upper()}] {alert.type}: {safe_text(alert.title)}")


def slack_payload(alert: Alert) -> dict[str, Any]:
    text = slack_text(alert)
    context = slack_escape(f"alert_id {alert.alert_id} · event time {alert.event_time.isoformat()}")
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
        "alert": json.loads(alert.model_dump_json()),
    }


def digest_payload(subject: str, alerts: list[Alert]) -> dict[str, Any]:
    top = max(alerts, key=lambda a: severity_rank(a.severity))
    kinds = ", ".join(sorted({a.type for a in alerts}))
    text = slack_escape(
        f"[{top.severity.upper()}] {len(alerts)} more alert(s) about {safe_text(subject, 200)} "
        f"held back by the rate limit ({kinds}); newest: {safe_text(alerts[-1].title, 300)}"
    )
    return {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}],
        "digest": {"subject": subject, "alert_ids": [a.alert_id for a in alerts]},
    }


class WebhookSink(Sink):
    name = "webhook"

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url
        self.timeout_s = timeout_s

    async def post(self, payload: dict[str, Any] | list[dict[str, Any]]) -> None:
        import aiohttp

        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as session,
                session.post(self.url, json=payload) as response,
            ):
                if response.status < 300:
                    return
                body = (await response.text())[:200]
                if response.status in (408, 429) or response.status >= 500:
                    raise Retryable(f"HTTP {response.status}", retry_after_seconds(response.headers.get("Retry-After")))
                raise Rejected(f"webhook answered {response.status}: {body}")
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise Retryable(f"{type(exc).__name__}: {exc}"[:200]) from None

    async def send(self, alert: Alert) -> None:
        await self.post(slack_payload(alert))

    async def send_digest(self, subject: str, alerts: list[Alert]) -> None:
        await self.post(digest_payload(subject, alerts))


# -------------------------------------------------------------------------------- Alertmanager

MIN_ACTIVE = timedelta(hours=1)  # an alert delivered late (a backfill) is still active for an hour
SUBJECT_LABELS = ("content_id", "platform", "platform_content_id", "video_id", "asset_id", "claim_id", "channel_id")


def alertmanager_alert(alert: Alert, now: datetime | None = None, runbook: str = "") -> dict[str, Any]:
    """One alert in Alertmanager's API v2 form: routing, grouping, silences and inhibition match its
    labels; ``endsAt`` is the end of the alert's cooldown (when it would be raised again), and at
    least an hour from now, so an alert about older data still notifies once. With ``runbook`` (where
    docs/alerts.md is served), ``runbook_url`` points at the alert type's section of it."""
    now = now or datetime.now(UTC)
    ends = max(alert.event_time + COOLDOWN.get(alert.type, timedelta(hours=24)), now + MIN_ACTIVE)
    ids = alert.subject.ids()
    labels = {"alertname": alert.type, "type": alert.type, "severity": alert.severity, "alert_id": alert.alert_id}
    labels |= {name: _label_value(ids[name]) for name in SUBJECT_LABELS if name in ids}
    evidence = alert.evidence
    description = "; ".join(
        f"{name} {evidence[name]}" for name in ("rule", "observed", "expected", "ratio", "z") if name in evidence
    )
    body: dict[str, Any] = {
        "labels": labels,
        "annotations": {
            # `summary` is what receivers and templates show by convention: what happened, in words.
            "summary": safe_text(alert.title)[:500],
            "title": safe_text(alert.title)[:500],
            "description": safe_text(description)[:500],
            # For Slack receivers (deploy/alertmanager.yml): mention and link syntax shown as text.
            "slack_title": slack_escape(
                safe_text(f"{alert.type} on {ids.get('content_id') or alert.subject.key()}", 300)
            ),
            "slack_text": slack_escape(safe_text(alert.title, 500)),
            "score": f"{alert.score:.2f}",
            "event_time": rfc3339(alert.event_time),
        },
        "startsAt": rfc3339(alert.event_time),
        "endsAt": rfc3339(ends),
    }
    link = _watch_url(ids.get("video_id"))
    if link:
        body["generatorURL"] = link
        body["annotations"]["video"] = link
    if runbook:
        body["annotations"]["runbook_url"] = f"{runbook.split('#')[0]}#{alert.type}"
    return body


def _label_value(value: str) -> str:
    return safe_text(value)[:200]


def _watch_url(video_id: str | None) -> str | None:
    if video_id and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", video_id):
        return f"https://www.youtube.com/watch?v={video_id}"
    return None


class AlertmanagerSink(WebhookSink):
    """Posts alerts to Alertmanager (``/api/v2/alerts``), which routes them by severity and type,
    groups, repeats, silences and inhibits: the on-call team's own rules, not a copy of them here.
    A storm about one subject is posted as one request; Alertmanager's grouping makes it one page."""

    name = "alertmanager"

    def __init__(self, base_url: str, timeout_s: float = 10.0, runbook: str = "") -> None:
        super().__init__(base_url.rstrip("/") + "/api/v2/alerts", timeout_s)
        self.runbook = runbook

    async def send(self, alert: Alert) -> None:
        await self.post([alertmanager_alert(alert, runbook=self.runbook)])

    async def send_digest(self, subject: str, alerts: list[Alert]) -> None:
        await self.post([alertmanager_alert(a, runbook=self.runbook) for a in alerts])


async def post_with_retries(
    url: str, payload: dict[str, Any], base_delay_s: float = 0.5, give_up_after_s: float | None = None
) -> None:
    """POST JSON to a webhook until it is accepted (or ``give_up_after_s``); a 4xx raises Rejected."""
    sink = WebhookSink(url)
    await deliver_with_retries(lambda: sink.post(payload), "webhook", Backoff(base_s=base_delay_s), give_up_after_s)


# ----------------------------------------------------------------------------------------- SNS


class SnsSink(Sink):
    name = "sns"

    def __init__(self, topic_arn: str, client: Any | None = None) -> None:
        from claimwatch.aws import client as aws_client

        self.topic_arn = topic_arn
        self.sns = client or aws_client("sns", attempts=3)

    def _publish(self, subject: str, message: str, attributes: dict[str, str]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.sns.publish(
                TopicArn=self.topic_arn,
                # SNS subjects are one line of printable ASCII, at most 100 characters.
                Subject="".join(ch if 32 <= ord(ch) < 127 else "?" for ch in subject)[:100],
                Message=message,
                MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
            if status >= 500 or status == 429 or "Throttl" in code:
                raise Retryable(f"SNS {code or status}") from None
            raise Rejected(f"SNS refused the message: {code}: {exc}"[:300]) from None
        except BotoCoreError as exc:  # endpoint unreachable, timeouts
            raise Retryable(f"SNS unreachable: {exc}"[:200]) from None

    async def send(self, alert: Alert) -> None:
        await asyncio.to_thread(
            self._publish,
            f"claimwatch {alert.severity}: {alert.type}",
            alert.model_dump_json(),
            {"severity": alert.severity, "type": alert.type, "alert_id": alert.alert_id},
        )

    async def send_digest(self, subject: str, alerts: list[Alert]) -> None:
        top = max(alerts, key=lambda a: severity_rank(a.severity))
        body = json.dumps({"digest": {"subject": subject, "alerts": [json.loads(a.model_dump_json()) for a in alerts]}})
        await asyncio.to_thread(
            self._publish,
            f"claimwatch {top.severity}: {len(alerts)} alerts about one subject",
            body,
            {"severity": top.severity, "type": "digest", "alert_id": alerts[-1].alert_id},
        )


def sns_deliverer(topic_arn: str, client: Any | None = None) -> Callable[[Alert], Awaitable[None]]:
    """Publish one alert to SNS with retries (used by tests and one-shot callers)."""
    sink = SnsSink(topic_arn, client)

    async def deliver(alert: Alert) -> None:
        await deliver_with_retries(lambda: sink.send(alert), "sns", Backoff(), give_up_after_s=60)

    return deliver


# ------------------------------------------------------------------------------------ pipeline


@dataclass
class SinkPipeline:
    """Dedup → filter → rate limit → deliver, or hold for the batch's digest; see the module doc."""

    sink: Sink
    filter: AlertFilter = field(default_factory=AlertFilter)
    limit: SubjectRateLimit = field(default_factory=SubjectRateLimit)
    backoff: Backoff = field(default_factory=Backoff)
    rate: DestinationRate = field(default_factory=DestinationRate)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    seen: DedupByAlertId = field(default_factory=DedupByAlertId)
    counts: SinkCounts = field(default_factory=SinkCounts)
    clock: Callable[[], float] = time.monotonic

    async def handle(self, alerts: Sequence[Alert]) -> None:
        held: dict[str, list[Alert]] = {}
        storm: list[Alert] = []  # over the destination's rate: one digest for all of them
        for alert in alerts:
            if not self.seen.first_time(alert.alert_id):
                self.counts.duplicates += 1
            elif not self.filter.matches(alert):
                self.counts.filtered += 1
            elif not self.limit.allow(subject_key(alert), self.clock()):
                held.setdefault(subject_key(alert), []).append(alert)
            elif not self.rate.take(self.clock()):
                storm.append(alert)
            elif await self._deliver(lambda a=alert: self.sink.send(a), f"{self.sink.name} {alert.alert_id}"):  # type: ignore[misc]
                self.counts.delivered += 1
        for subject, group in held.items():
            if not self.rate.take(self.clock()):
                storm += group
            elif await self._deliver(lambda s=subject, g=group: self.sink.send_digest(s, g), f"digest {subject}"):  # type: ignore[misc]
                self.counts.digested += len(group)
                self.counts.digests += 1
        if storm:
            # Paced, never dropped: the batch's offsets are committed after this is delivered.
            await self.sleep(self.rate.wait_s(self.clock()))
            self.rate.take(self.clock())
            storm.sort(key=lambda a: (a.event_time, a.alert_id))
            if await self._deliver(lambda: self.sink.send_digest(STORM, storm), f"digest of {len(storm)} alerts"):
                self.counts.digested += len(storm)
                self.counts.digests += 1

    async def _deliver(self, attempt: Callable[[], Awaitable[None]], what: str) -> bool:
        try:
            await deliver_with_retries(attempt, what, self.backoff)
            return True
        except Rejected as exc:
            self.counts.rejected += 1
            log.error("%s rejected by the receiver, not retried: %s", what, exc)
            return False


# ------------------------------------------------------------------------------------ consuming


async def consume(
    settings: Settings,
    group: str | None,
    handle: Callable[[list[Alert]], Awaitable[None]],
    from_beginning: bool = False,
    idle_exit_s: float = 0.0,
    since: datetime | None = None,
    counts: SinkCounts | None = None,
    after: dict[int, int] | None = None,
) -> int:
    """Feed the alerts topic to ``handle`` in batches until idle for ``idle_exit_s`` (0: forever);
    returns the alerts read. ``after`` (a viewer's): partition → the offset to go on from, where a
    backlog already shown ends.

    With a ``group``, offsets are committed after ``handle`` returns (at least once), and a new
    group starts from the earliest retained alert, or from ``since``. Without one (a viewer) nothing
    is committed and no group is left behind.
    """
    counts = counts or SinkCounts()
    consumer = AIOKafkaConsumer(
        **settings.client_options(),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await start_client(consumer, settings)
    read = 0
    try:
        topic = settings.topic("alerts")
        if group is None:
            tps = await topic_partitions(consumer, topic, settings)
            consumer.assign(tps)
            if not from_beginning and since is None:
                await consumer.seek_to_end(*tps)
        else:
            consumer.subscribe([topic])
            tps = []
        positioned = False
        last = time.monotonic()
        while True:
            if not positioned and consumer.assignment():
                await _position(consumer, group, from_beginning, since)
                for tp in consumer.assignment():
                    if after and tp.partition in after:
                        consumer.seek(tp, after[tp.partition])
                positioned = True
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            alerts = []
            for records in batch.values():
                for record in records:
                    if record.value is None:
                        continue
                    try:
                        alerts.append(decode_alert(record.value))
                    except (ValidationError, ValueError):
                        counts.undecodable += 1
                        log.warning("not an alert at %s[%s]@%s; skipped", record.topic, record.partition, record.offset)
            if not batch:
                if idle_exit_s and time.monotonic() - last > idle_exit_s:
                    return read
                continue
            last = time.monotonic()
            read += len(alerts)
            await handle(alerts)
            if group is not None:
                await consumer.commit()  # after delivery: a crash before it redelivers, never loses
    finally:
        await consumer.stop()


async def _position(
    consumer: AIOKafkaConsumer, group: str | None, from_beginning: bool, since: datetime | None
) -> None:
    tps = list(consumer.assignment())
    if from_beginning:
        await consumer.seek_to_beginning(*tps)
        return
    if since is None:
        return
    fresh: list[TopicPartition] = tps
    if group is not None:  # a group that has committed goes on from there; only new partitions use --since
        fresh = [tp for tp in tps if await consumer.committed(tp) is None]
    if not fresh:
        return
    found = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in fresh})
    for tp in fresh:
        position = found.get(tp)
        if position is None:
            await consumer.seek_to_end(tp)
        else:
            consumer.seek(tp, position.offset)


def tail(
    min_severity: str = "info",
    types: set[str] | None = None,
    from_beginning: bool = False,
    idle_exit_s: float = 0.0,
    colour: bool = False,
    settings: Settings | None = None,
    since: datetime | None = None,
    as_json: bool = False,
) -> int:
    """Print alerts: the retained ones asked for (``from_beginning``, ``since``) first, in event
    time order across partitions, then new ones as they arrive (each batch in event time order).
    One line each: the terminal line, or the alert as JSON with ``as_json``."""
    from claimwatch.textsafe import format_alert

    settings = settings or Settings()
    wanted = AlertFilter(min_severity, frozenset(types or ()))

    def line(alert: Alert) -> str:
        return alert.model_dump_json() if as_json else format_alert(alert, colour)

    async def show(alerts: list[Alert]) -> None:
        for alert in sorted(alerts, key=lambda a: (a.event_time, a.alert_id)):
            if wanted.matches(alert):
                print(line(alert), flush=True)

    after: dict[int, int] = {}
    if from_beginning or since is not None:
        # The backlog as a whole, so that it reads in time order; then on from where it ended.
        since_ms = None if from_beginning or since is None else int(since.timestamp() * 1000)
        backlog = []
        for record in asyncio.run(read_records(settings, settings.topic("alerts"), since_ms)):
            after[record.partition] = max(after.get(record.partition, 0), record.offset + 1)
            try:
                backlog.append(decode_alert(record.value or b""))
            except (ValidationError, ValueError):
                log.warning("not an alert at %s[%s]@%s; skipped", record.topic, record.partition, record.offset)
        asyncio.run(show(backlog))
    # A tail is a viewer, not a delivery: no group, so it commits nothing and leaves nothing behind.
    asyncio.run(consume(settings, None, show, from_beginning, idle_exit_s, since, after=after))
    return 0


def sink_group(kind: str, settings: Settings) -> str:
    """A sink's consumer group: one per generation, so a promoted generation is read from its start."""
    return f"claimwatch-{kind}" if settings.generation == 1 else f"claimwatch-{kind}-g{settings.generation}"


def run_sink(
    kind: str,
    from_beginning: bool = False,
    idle_exit_s: float = 0.0,
    settings: Settings | None = None,
    min_severity: str = "info",
    types: Sequence[str] = (),
    since: datetime | None = None,
) -> int:
    settings = settings or Settings()
    sink: Sink
    if kind == "webhook":
        if not settings.webhook_url:
            raise ValueError("set CLAIMWATCH_WEBHOOK_URL for the webhook sink")
        sink = WebhookSink(settings.webhook_url)
    elif kind == "alertmanager":
        if not settings.alertmanager_url:
            raise ValueError(
                "set CLAIMWATCH_ALERTMANAGER_URL (e.g. http://alertmanager:9093) for the alertmanager sink"
            )
        sink = AlertmanagerSink(settings.alertmanager_url, runbook=environment().claimwatch_runbook_url)
    else:
        if not settings.sns_topic_arn:
            raise ValueError("set CLAIMWATCH_SNS_TOPIC_ARN for the SNS sink")
        sink = SnsSink(settings.sns_topic_arn)
    env = environment()
    pipeline = SinkPipeline(
        sink,
        AlertFilter(min_severity, frozenset(types)),
        backoff=Backoff(cap_s=env.claimwatch_sink_max_backoff_seconds),
        # Slack accepts about one message a second per webhook; SNS and Alertmanager much more.
        rate=DestinationRate(env.claimwatch_webhook_rate_per_second if kind == "webhook" else 0.0),
    )
    try:
        asyncio.run(
            consume(
                settings,
                sink_group(kind, settings),
                pipeline.handle,
                from_beginning,
                idle_exit_s,
                since,
                pipeline.counts,
            )
        )
    finally:
        print(f"{kind}: {pipeline.counts.line()}", flush=True)
    return 0
