"""``claimwatch doctor``: each check turned red in turn, on a real broker and moto's real HTTP server,
then all green; the judging rules table-tested."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.structs import OffsetAndMetadata

from claimwatch import doctor
from claimwatch.cli import main
from claimwatch.front.filerows import file_key
from stream.generations import promote
from stream.replay import ReplayReport, mark_shard_done
from stream.settings import Settings
from stream.topics import TOPICS, create_topics, ensure_state_topic
from tests.streamkit import env_for, free_port, isolated_settings, needs_kafka, setup_topics
from tests.test_manual_run import schedule
from tests.test_weekly_job import aws, aws_env, moto_endpoint

__all__ = ["moto_endpoint"]

NOW = datetime(2026, 12, 8, 13, tzinfo=UTC)


# ------------------------------------------------------------------------------ the rules


@pytest.mark.parametrize(
    ("source", "newest", "read_hours_ago", "state", "text"),
    [
        ("claims report", date(2026, 12, 7), None, "green", "newest data 2026-12-07"),
        (
            "claims report",
            date(2026, 12, 6),
            None,
            "green",
            "newest data 2026-12-06",
        ),  # the 7th is due at noon on the 9th
        ("claims report", date(2026, 12, 5), None, "red", "1 day(s) missing (2026-12-06)"),
        ("claims report", date(2026, 12, 4), None, "red", "2 day(s) missing (2026-12-05 to 2026-12-06)"),
        ("channel_basic", date(2026, 12, 4), None, "green", "newest data"),  # analytics are days behind
        ("channel_basic", date(2026, 12, 2), None, "red", "2 day(s) missing"),
        ("platform_poll", date(2026, 12, 8), 0.5, "green", "last file read 2026-12-08 12:30"),
        ("platform_poll", date(2026, 12, 8), 3.0, "red", "no poll read for 3.0 h"),
        ("claims report", None, None, "red", "nothing read yet"),
    ],
)
def test_a_source_is_red_when_its_days_are_overdue(
    source: str, newest: date | None, read_hours_ago: float | None, state: str, text: str
) -> None:
    read_ms = None if read_hours_ago is None else int((NOW - timedelta(hours=read_hours_ago)).timestamp() * 1000)
    check = doctor.judge_source(doctor.SourceFacts(source, newest, read_ms), NOW)
    assert check.state == state and text in check.detail, check
    assert check.state == "green" or check.next_step


@pytest.mark.parametrize(
    ("task", "state", "text"),
    [
        ({"lastStatus": "STOPPED", "containers": [{"exitCode": 0}], "stoppedAt": "t"}, "green", "exit 0"),
        ({"lastStatus": "STOPPED", "containers": [{"exitCode": 4}]}, "amber", "exit 4 (partial data)"),
        (
            {"lastStatus": "STOPPED", "containers": [{"exitCode": 1}], "stoppedReason": "Essential container exited"},
            "red",
            "exit 1 (failed)",
        ),
        ({"lastStatus": "STOPPED", "containers": [{"exitCode": 3}]}, "red", "exit 3 (input unavailable)"),
        (
            {"lastStatus": "STOPPED", "stopCode": "TaskFailedToStart", "stoppedReason": "CannotPullContainerError: x"},
            "red",
            "did not start (TaskFailedToStart): CannotPullContainerError",
        ),
    ],
)
def test_the_weekly_job_s_last_run_is_judged_by_its_exit_or_stop_code(
    task: dict[str, Any], state: str, text: str
) -> None:
    check = doctor.judge_tasks([task], ["last log line"])
    assert check.state == state and text in check.detail
    assert check.state == "green" or "run-report" in check.next_step or "data quality" in check.next_step


def test_the_newest_of_several_runs_is_the_one_judged() -> None:
    old = {"lastStatus": "STOPPED", "containers": [{"exitCode": 5}], "stoppedAt": "2026-11-30T06:10:00+00:00"}
    new = {"lastStatus": "STOPPED", "containers": [{"exitCode": 0}], "stoppedAt": "2026-12-07T06:10:00+00:00"}
    assert doctor.judge_tasks([new, old], []).state == "green"
    assert doctor.judge_tasks([], []).state == "amber"


def test_a_group_is_red_only_when_records_wait_too_long() -> None:
    ms = int(NOW.timestamp() * 1000)
    fresh = doctor.GroupFacts("worker", "t.events", 500, ms - 60_000)
    stale = doctor.GroupFacts("worker", "t.events", 3, ms - 20 * 60_000)
    assert doctor.judge_groups([fresh], NOW).state == "green"
    assert doctor.judge_groups([fresh, stale], NOW).state == "red"
    assert doctor.judge_groups([doctor.GroupFacts("worker", "t.events", 0, None)], NOW).detail == "worker: caught up"
    assert doctor.judge_groups([], NOW).state == "amber"


def test_the_table_is_one_line_per_check_and_hostile_text_is_made_safe() -> None:
    checks = [
        doctor.Check("kafka", "green", "reachable"),
        doctor.Check("weekly job: last run", "red", "exit 1\x1b[2J", "rerun it", ["\x1b]0;pwned\x07log"]),
    ]
    text = doctor.table(checks)
    assert "\x1b" not in text and "\x07" not in text
    assert text.splitlines()[0].startswith("green  kafka") and text.splitlines()[1].startswith("red    weekly job")
    assert text.splitlines()[-1] == "2 checks: 1 red, 0 amber"
    assert doctor.exit_code(checks) == 1 and json.loads(doctor.as_json(checks))["ok"] is False


# ------------------------------------------------------------------------------ against the real things


class Health(BaseHTTPRequestHandler):
    """Answers /health as the worker does: 200 with its JSON, or 503 with the reason."""

    stalled = False

    def do_GET(self) -> None:
        code, body = (
            (503, {"status": "stalled", "reason": "no commit for 75 s"}) if Health.stalled else (200, {"status": "ok"})
        )
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def worker_health() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/health"
    finally:
        server.shutdown()
        Health.stalled = False


async def write_files_and_events(settings: Settings, claims_day: date, now: datetime) -> None:
    """File roll-up rows as ingest writes them, and events a group has not processed for an hour."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers)
    await producer.start()
    try:
        rows: list[dict[str, Any]] = [
            {
                "kind": "file",
                "path": f"claims/claims_{claims_day:%Y%m%d}.csv",
                "source": "reporting_api_claims",
                "day": claims_day.isoformat(),
            },
            {
                "kind": "file",
                "path": f"polls/poll_{now:%Y%m%d}.jsonl.gz",
                "source": "platform_poll",
                "day": now.date().isoformat(),
            },
        ]
        for row in rows:
            row.update(records=10, accepted=10, quarantined=0, events=10, duplicates=0)
            await producer.send_and_wait(
                settings.topic("rollups"), json.dumps(row).encode(), key=file_key(row).encode(), partition=0
            )
        an_hour_ago = int((now - timedelta(hours=1)).timestamp() * 1000)
        for n in range(5):
            await producer.send_and_wait(
                settings.topic("events"), b"{}", key=f"k{n}".encode(), partition=0, timestamp_ms=an_hour_ago
            )
    finally:
        await producer.stop()


async def write_claim(settings: Settings, isrc: str) -> None:
    """A catalog item and one claim on it whose report gives ``isrc`` (roll-up rows, as the core writes them)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers)
    await producer.start()
    try:
        catalog = {"kind": "catalog", "content_id": "CW-1", "title": "Song", "artist": "A", "isrc": "USRC17607839"}
        claim = {
            "kind": "claim",
            "week": "2026-W49",
            "records": {},
            "days": {},
            "claim_id": "c1",
            "status": "active",
            "status_time": 0.0,
            "transitions": {},
            "content_id": "CW-1",
            "isrc": isrc,
        }
        for key, row in (("catalog|CW-1|@CW-1", catalog), ("claim|2026-W49|c1|@CW-1", claim)):
            await producer.send_and_wait(
                settings.topic("rollups"), json.dumps(row).encode(), key=key.encode(), partition=0
            )
    finally:
        await producer.stop()


async def set_topic_config(settings: Settings, topic: str, config: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, config)])
    finally:
        await admin.close()


async def commit(settings: Settings, group: str, offset: int | None) -> None:
    """The group's position on partition 0 of the events: ``offset``, or the end when None."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(settings.topic("events"), 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        await consumer.commit({tp: OffsetAndMetadata(end if offset is None else offset, "")})
    finally:
        await consumer.stop()


def states(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, tuple[str, str]]]:
    code = main(["doctor", "--json", *args])
    checks = json.loads(capsys.readouterr().out)["checks"]
    return code, {c["name"]: (c["state"], c["detail"]) for c in checks}


@needs_kafka
@pytest.mark.slow
def test_doctor_turns_each_check_red_in_turn_then_all_green(
    moto_endpoint: str, worker_health: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = isolated_settings(partitions=1)
    setup_topics(settings)
    today = datetime.now(UTC)
    asyncio.run(write_files_and_events(settings, (today - timedelta(days=4)).date(), today))
    asyncio.run(commit(settings, f"{settings.app_id}-doctor", 0))  # an hour of events waiting
    asyncio.run(write_claim(settings, "GBAYE0601498"))  # YouTube holds another ISRC for the item

    deployed = schedule(moto_endpoint)
    s3, sns = aws("s3", moto_endpoint), aws("sns", moto_endpoint)
    report_topic = sns.create_topic(Name="reports")["TopicArn"]
    readers_topic = sns.create_topic(Name="readers")["TopicArn"]
    env = {**env_for(settings), **aws_env(moto_endpoint), "CLAIMWATCH_CONNECT_SECONDS": "0"}
    env |= {"CLAIMWATCH_SNS_TOPIC_ARN": report_topic, "CLAIMWATCH_STAKEHOLDER_TOPIC_ARN": readers_topic}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = ("--worker-url", worker_health, "--bucket", "reports")

    # A worker stalled (records waiting an hour, /health 503), a source days late, no run yet, no bucket.
    Health.stalled = True
    code, seen = states(capsys, *args)
    assert code == 1
    assert seen["kafka"][0] == "green" and seen["topics"][0] == "green"
    assert seen["consumer groups"][0] == "red" and "60 min behind" in seen["consumer groups"][1]
    assert seen["worker /health"][0] == "red" and "503" in seen["worker /health"][1]
    assert seen["source claims report"][0] == "red" and "day(s) missing" in seen["source claims report"][1]
    assert seen["source platform_poll"][0] == "green"
    assert seen["weekly job: last run"][0] == "amber"
    assert seen["report bucket"][0] == "red"
    assert seen["metadata"][0] == "red" and "GBAYE0601498" in seen["metadata"][1]

    # The alerts topic made compacted by hand: its alerts would be kept forever, one per id.
    asyncio.run(set_topic_config(settings, settings.topic("alerts"), {"cleanup.policy": "compact"}))
    code, seen = states(capsys, *args)
    assert seen["topics"] == ("red", f"{settings.topic('alerts')} is compact, not delete")
    asyncio.run(set_topic_config(settings, settings.topic("alerts"), {"cleanup.policy": "delete"}))  # retention: 7 days
    code, seen = states(capsys, *args)
    assert seen["topics"] == ("amber", f"{settings.topic('alerts')} keeps 7 days, not 90 days")
    alerts = next(t for t in TOPICS if t.name == "alerts")
    asyncio.run(set_topic_config(settings, settings.topic("alerts"), alerts.config()))  # (AlterConfigs sets them all)

    # The broker stopped: one red line for Kafka, the rest still checked.
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    code, seen = states(capsys, *args)
    assert code == 1 and seen["kafka"][0] == "red" and "unreachable" in seen["kafka"][1]
    assert "topics" not in seen and seen["report bucket"][0] == "red"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", settings.bootstrap_servers)

    # Everything mended: the worker caught up, the claims report in, a run done, the bucket made.
    Health.stalled = False
    asyncio.run(commit(settings, f"{settings.app_id}-doctor", None))
    asyncio.run(write_files_and_events(settings, (today - timedelta(days=1)).date(), today))
    asyncio.run(commit(settings, f"{settings.app_id}-doctor", None))
    asyncio.run(write_claim(settings, "US-RC1-76-07839"))
    s3.create_bucket(Bucket="reports", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    ecs = aws("ecs", moto_endpoint)
    assert main(["aws", "run-report"]) == 0
    (task,) = ecs.list_tasks(cluster=deployed["cluster"])["taskArns"]
    ecs.stop_task(cluster=deployed["cluster"], task=task, reason="Essential container in task exited")
    capsys.readouterr()
    code, seen = states(capsys, *args)
    assert {name: state for name, (state, _) in seen.items() if state != "green"} == {}, seen
    assert code == 0
    assert main(["doctor", *args]) == 0
    assert capsys.readouterr().out.rstrip().endswith("all green")

    # After a replay is promoted, the derived topics checked are the live generation's; the files
    # read stay generation 1's (ingest writes them once).
    second = dataclasses.replace(settings, generation=2)
    asyncio.run(create_topics(second))
    asyncio.run(ensure_state_topic(second))  # what a replay leaves: promote checks for it
    asyncio.run(mark_shard_done(second, (0, 1), list(range(settings.partitions)), ReplayReport(2)))
    asyncio.run(write_claim(second, "GBAYE0601498"))
    asyncio.run(promote(settings, 2, "test"))
    code, seen = states(capsys, *args)
    assert "live generation 2" in seen["kafka"][1] and seen["source claims report"][0] == "green"
    assert seen["metadata"][0] == "red" and code == 1
