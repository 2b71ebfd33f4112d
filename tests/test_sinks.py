"""Alert consumers: webhook delivery with retries and rate limits, SNS through moto's real HTTP server,
and the at-least-once consumer loop against the broker."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import pytest_asyncio
from aiohttp import web
from aiokafka import AIOKafkaProducer

from schemas import Alert, Subject
from schemas.codec import encode_alert
from stream.consumers import (
    AlertFilter,
    Backoff,
    DestinationRate,
    Rejected,
    SinkPipeline,
    SubjectRateLimit,
    WebhookSink,
    consume,
    post_with_retries,
    slack_payload,
    sns_deliverer,
)
from stream.settings import Settings
from tests.streamkit import free_port, needs_kafka

T = datetime(2026, 11, 10, tzinfo=UTC)


def alert(n: int = 1, severity: str = "high", content: str = "CW-1", title: str = "Views at 4x") -> Alert:
    return Alert(
        alert_id=f"id{n}",
        type="view_spike",
        severity=severity,
        score=0.9,
        subject=Subject(content_id=content),
        event_time=T,
        detected_at=T,
        title=title,
        evidence={"ratio": 4.0},
    )


class Hook:
    """A loopback webhook receiver, on the test's own event loop, that fails the first ``failures``
    requests with ``status``."""

    def __init__(self, failures: int = 0, status: int = 503, retry_after: str | None = None) -> None:
        self.failures, self.status, self.retry_after = failures, status, retry_after
        self.received: list[dict[str, Any]] = []
        self.port = free_port()
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        if self.failures > 0:
            self.failures -= 1
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return web.Response(status=self.status, text="try later", headers=headers)
        self.received.append(await request.json())
        return web.Response(text="ok")

    async def start(self) -> Hook:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


HookFactory = Callable[..., Awaitable[Hook]]


@pytest_asyncio.fixture
async def webhook() -> AsyncIterator[HookFactory]:
    """Start receivers as a test needs them (``await webhook(failures=2)``); all stop after it."""
    started: list[Hook] = []

    async def start(**options: Any) -> Hook:
        started.append(await Hook(**options).start())
        return started[-1]

    yield start
    for hook in started:
        await hook.stop()


async def test_webhook_retries_server_errors_then_delivers_slack_json(webhook: HookFactory) -> None:
    hook = await webhook(failures=2)
    await post_with_retries(hook.url, slack_payload(alert()), base_delay_s=0.01)
    (body,) = hook.received
    assert body["text"].startswith("[HIGH] view_spike") and body["blocks"] and body["alert"]["alert_id"] == "id1"


async def test_webhook_client_errors_are_final(webhook: HookFactory) -> None:
    hook = await webhook(failures=5, status=400)
    with pytest.raises(Rejected):
        await post_with_retries(hook.url, slack_payload(alert()), base_delay_s=0.01)
    assert hook.received == [] and hook.failures == 4, "a 4xx is not retried"


async def test_retry_after_is_honoured(webhook: HookFactory) -> None:
    hook = await webhook(failures=1, status=429, retry_after="2")
    started = time.monotonic()
    await post_with_retries(hook.url, slack_payload(alert()), base_delay_s=0.01)
    waited = time.monotonic() - started
    assert len(hook.received) == 1 and waited >= 1.9


def test_slack_control_syntax_in_titles_is_escaped() -> None:
    payload = slack_payload(alert(title="<!channel> see <http://evil.example|bank.com> & \x1b[2Jwin\u202e"))
    text = payload["text"] + json.dumps(payload["blocks"])
    assert "<!channel>" not in text and "<http" not in text and "\x1b" not in payload["text"]
    assert "&lt;!channel&gt;" in payload["text"] and "&amp;" in payload["text"]


async def test_a_storm_about_one_subject_becomes_one_digest_not_silence(webhook: HookFactory) -> None:
    hook = await webhook()
    pipeline = SinkPipeline(
        WebhookSink(hook.url), limit=SubjectRateLimit(per_window=2, window_s=3600), backoff=Backoff(base_s=0.01)
    )
    storm = [alert(n, content="CW-1") for n in range(6)] + [alert(9, content="CW-2"), alert(0, content="CW-1")]
    await pipeline.handle(storm)
    singles = [b["alert"]["alert_id"] for b in hook.received if "alert" in b]
    (digest,) = [b["digest"] for b in hook.received if "digest" in b]
    assert singles == ["id0", "id1", "id9"] and digest["alert_ids"] == ["id2", "id3", "id4", "id5"]
    assert (pipeline.counts.delivered, pipeline.counts.digested, pipeline.counts.duplicates) == (3, 4, 1)


async def test_the_sink_filters_by_severity_and_type(webhook: HookFactory) -> None:
    hook = await webhook()
    pipeline = SinkPipeline(WebhookSink(hook.url), AlertFilter("high", frozenset({"view_spike"})))
    await pipeline.handle([alert(1, "medium"), alert(2, "critical"), alert(3, "high", content="CW-9")])
    assert [b["alert"]["alert_id"] for b in hook.received] == ["id2", "id3"] and pipeline.counts.filtered == 1


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def aws(service: str, endpoint: str) -> Any:
    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


async def test_sns_messages_carry_severity_and_type_attributes_for_filtering(moto_endpoint: str) -> None:
    sns, sqs = aws("sns", moto_endpoint), aws("sqs", moto_endpoint)
    topic = sns.create_topic(Name="claimwatch-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="review")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"FilterPolicy": json.dumps({"severity": ["high", "critical"]}), "RawMessageDelivery": "true"},
    )
    deliver = sns_deliverer(topic, client=sns)
    await deliver(alert(1, "high"))
    await deliver(alert(2, "low"))
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert [json.loads(m["Body"])["alert_id"] for m in messages] == ["id1"]
    assert messages[0]["MessageAttributes"]["severity"]["StringValue"] == "high"
    assert messages[0]["MessageAttributes"]["type"]["StringValue"] == "view_spike"


@needs_kafka
async def test_consumer_delivers_each_alert_once_and_commits_after_delivery(
    kafka_topics: Settings, kafka_producer: AIOKafkaProducer, webhook: HookFactory
) -> None:
    settings, out = kafka_topics, kafka_producer
    for a in (alert(1), alert(2), alert(1)):  # id1 redelivered, as after a worker restart
        await out.send_and_wait(settings.topic("alerts"), key=a.alert_id.encode(), value=encode_alert(a))
    hook = await webhook()
    pipeline = SinkPipeline(WebhookSink(hook.url), limit=SubjectRateLimit(per_window=100))
    read = await consume(settings, "claimwatch-webhook", pipeline.handle, idle_exit_s=3)
    again = await consume(settings, "claimwatch-webhook", pipeline.handle, idle_exit_s=3)
    assert read == 3 and pipeline.counts.delivered == 2 and pipeline.counts.duplicates == 1
    assert sorted(b["alert"]["alert_id"] for b in hook.received) == ["id1", "id2"]
    assert again == 0, "the group's committed offsets survive a restart of the consumer"


class FakeTime:
    """The pipeline's clock and sleep, driven by the test: sleeping moves the clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_a_storm_over_many_subjects_keeps_to_the_destinations_rate_and_loses_nothing(
    webhook: HookFactory,
) -> None:
    """3,003 alerts about 3,003 subjects used to post 3,003 messages in 70 s where Slack accepts about
    one a second. Now: the burst, then one digest of the rest (paced), every alert in one or the other."""
    hook = await webhook()
    fake = FakeTime()
    pipeline = SinkPipeline(
        WebhookSink(hook.url),
        backoff=Backoff(base_s=0.01),
        rate=DestinationRate(per_s=1.0, burst=5.0),
        clock=fake.clock,
        sleep=fake.sleep,
    )
    storm = [alert(n, content=f"CW-{n}") for n in range(3003)]
    await pipeline.handle(storm[:1500])
    await pipeline.handle(storm[1500:])
    singles = [b["alert"]["alert_id"] for b in hook.received if "alert" in b]
    digests = [b["digest"]["alert_ids"] for b in hook.received if "digest" in b]
    assert len(hook.received) == len(singles) + len(digests) <= 5 + 2
    assert sorted(singles + [i for d in digests for i in d]) == sorted(a.alert_id for a in storm)
    assert pipeline.counts.delivered + pipeline.counts.digested == 3003
    # Messages sent over the (fake) time taken: within the rate, burst aside.
    assert len(hook.received) <= 5 + fake.now * 1.0 + 1e-9 and fake.slept


@pytest.mark.parametrize(
    ("per_s", "burst", "times", "expected"),
    [
        (0.0, 5.0, [0, 0, 0, 0, 0, 0, 0], [True] * 7),  # no limit
        (1.0, 2.0, [0, 0, 0, 0.5, 1.0, 1.0, 3.0], [True, True, False, False, True, False, True]),
        (2.0, 1.0, [0, 0.1, 0.5, 0.6, 1.0], [True, False, True, False, True]),
    ],
)
def test_the_destination_rate_is_a_token_bucket(
    per_s: float, burst: float, times: list[float], expected: list[bool]
) -> None:
    rate = DestinationRate(per_s=per_s, burst=burst)
    assert [rate.take(t) for t in times] == expected
