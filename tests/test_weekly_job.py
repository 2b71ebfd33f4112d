"""``claimwatch report``: from a run folder or Kafka to S3 on moto's real HTTP server, boto3 unchanged."""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from claimwatch.cli import BUNDLED_SAMPLE
from claimwatch.ingest.readers import read_paths
from stream.publish import publish
from tests.streamkit import env_for, free_port, isolated_settings, needs_kafka, setup_topics, start_worker, wait_drained

WEEK = "2026-W45"  # a complete week of the bundled sample
REPORT_FILES = {"report.html", "report.json", "dispute_risk.csv", "high_priority.csv", "claims_summary.csv"}

# Its tests read the shared embedded run of the bundled sample: one test process makes it once.
pytestmark = pytest.mark.xdist_group("bundled-run")


@pytest.fixture
def run_folder(bundled_run: Path) -> Path:
    return bundled_run  # the embedded run's folder, shared: read, never changed


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    # Moto keeps its accounts in the process: start every test from an empty one.
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST"), timeout=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def aws_env(endpoint: str, **extra: str) -> dict[str, str]:
    """Only the standard AWS variables (and PATH): what an ECS task or an operator's shell has."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        **extra,
    }


def aws(service: str, endpoint: str) -> Any:
    return boto3.client(
        service, endpoint_url=endpoint, region_name="eu-west-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def report_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "claimwatch.cli", "report", *args], env=env, capture_output=True, text=True, timeout=600
    )


def bucket_with_topic(endpoint: str) -> tuple[str, str]:
    """A bucket, and an SNS topic with a queue subscribed (to count notifications)."""
    aws("s3", endpoint).create_bucket(Bucket="reports", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return subscribed_topic(endpoint, "claimwatch-reports", "weekly")


def subscribed_topic(endpoint: str, topic_name: str, queue_name: str) -> tuple[str, str]:
    """An SNS topic with an SQS queue subscribed, to read what it was sent."""
    sns, sqs = aws("sns", endpoint), aws("sqs", endpoint)
    topic = sns.create_topic(Name=topic_name)["TopicArn"]
    queue = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, queue


def notifications(endpoint: str, queue: str) -> list[str]:
    sqs = aws("sqs", endpoint)
    out: list[str] = []
    while True:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not got:
            return out
        for message in got:
            out.append(json.loads(message["Body"])["Message"])
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


def check_objects(endpoint: str, prefix: str, expected_json: bytes) -> dict[str, Any]:
    s3 = aws("s3", endpoint)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="reports", Prefix=prefix)["Contents"]}
    assert keys == {f"{prefix}{name}" for name in REPORT_FILES | {"manifest.json"}}
    manifest = json.loads(s3.get_object(Bucket="reports", Key=f"{prefix}manifest.json")["Body"].read())
    for entry in manifest["files"]:
        got = s3.get_object(Bucket="reports", Key=f"{prefix}{entry['name']}")
        body = got["Body"].read()
        assert hashlib.sha256(body).hexdigest() == entry["sha256"] and len(body) == entry["size"]
        assert got["ContentType"] == entry["content_type"]
        assert got["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket="reports", Key=f"{prefix}report.json")["Body"].read() == expected_json
    assert s3.get_object(Bucket="reports", Key=f"{prefix}report.html")["ContentType"].startswith("text/html")
    return manifest  # type: ignore[no-any-return]


@pytest.mark.slow
def test_a_run_folder_goes_to_s3_once_with_one_notification(run_folder: Path, moto_endpoint: str) -> None:
    topic, queue = bucket_with_topic(moto_endpoint)
    env = aws_env(moto_endpoint, CLAIMWATCH_SNS_TOPIC_ARN=topic)
    first = report_cli(env, "--week", WEEK, "--from-dir", str(run_folder), "--out", "s3://reports/weekly")
    assert first.returncode == 0, first.stderr
    stages = [json.loads(line)["stage"] for line in first.stderr.splitlines()]
    assert stages == ["read", "build", "write", "notify"], "one JSON log line per stage"
    (record,) = aws("s3", moto_endpoint).list_objects_v2(Bucket="reports", Prefix="weekly/runs/")["Contents"]
    run = json.loads(aws("s3", moto_endpoint).get_object(Bucket="reports", Key=record["Key"])["Body"].read())
    assert record["Key"].endswith(f"-{WEEK}.json") and run["week"] == WEEK and run["exit_code"] == 0
    assert run["changed"] and run["objects_written"] == len(REPORT_FILES) + 1 and run["sns_messages"] == 1
    assert 0 < run["seconds"] < 600 and run["peak_rss_mb"] > 10, "what the monthly review prices"
    expected = (run_folder / WEEK / "report.json").read_bytes()
    manifest = check_objects(moto_endpoint, f"weekly/{WEEK}/", expected)
    assert manifest["headline"]["days_with_data"] == 7
    sent = notifications(moto_endpoint, queue)
    assert len(sent) == 1 and f"s3://reports/weekly/{WEEK}/" in sent[0] and "new claims" in sent[0]
    link = f"https://s3.console.aws.amazon.com/s3/object/reports?region=eu-west-1&prefix=weekly%2F{WEEK}%2Freport.html"
    assert f"open (AWS console): {link}" in sent[0]

    again = report_cli(env, "--week", WEEK, "--from-dir", str(run_folder), "--out", "s3://reports/weekly")
    assert again.returncode == 0 and "unchanged" in again.stdout, again.stderr
    check_objects(moto_endpoint, f"weekly/{WEEK}/", expected)
    assert notifications(moto_endpoint, queue) == [], "an unchanged report is not announced twice"

    # Someone deletes report.html and overwrites the CSV: the rerun finds out and writes them again.
    s3 = aws("s3", moto_endpoint)
    s3.delete_object(Bucket="reports", Key=f"weekly/{WEEK}/report.html")
    s3.put_object(Bucket="reports", Key=f"weekly/{WEEK}/dispute_risk.csv", Body=b"tampered")
    repaired = report_cli(env, "--week", WEEK, "--from-dir", str(run_folder), "--out", "s3://reports/weekly")
    assert repaired.returncode == 0 and "2 broken object(s) written again" in repaired.stdout, repaired.stdout
    check_objects(moto_endpoint, f"weekly/{WEEK}/", expected)
    body = s3.get_object(Bucket="reports", Key=f"weekly/{WEEK}/dispute_risk.csv")["Body"].read()
    assert body == (run_folder / WEEK / "dispute_risk.csv").read_bytes()
    assert notifications(moto_endpoint, queue) == [], "the report did not change: no second announcement"


class FaultyS3(BaseHTTPRequestHandler):
    """Forwards to moto, but answers 500 to every upload of report.html: S3 failing mid-report."""

    upstream: tuple[str, int] = ("127.0.0.1", 0)

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.command == "PUT" and self.path.split("?")[0].endswith("/report.html"):
            error = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
            self.send_response(500)
            self.send_header("Content-Length", str(len(error)))
            self.end_headers()
            self.wfile.write(error)
            return
        connection = http.client.HTTPConnection(*self.upstream, timeout=30)
        connection.request(self.command, self.path, body=body, headers=dict(self.headers))
        answer = connection.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.slow
def test_an_s3_failure_midway_leaves_no_manifest(run_folder: Path, moto_endpoint: str, tmp_path: Path) -> None:
    bucket_with_topic(moto_endpoint)
    env = aws_env(moto_endpoint)
    assert report_cli(env, "--week", WEEK, "--from-dir", str(run_folder), "--out", "s3://reports/w").returncode == 0
    changed = tmp_path / "changed"
    shutil.copytree(run_folder, changed)
    alerts = (changed / "alerts.jsonl").read_text().splitlines()
    (changed / "alerts.jsonl").write_text("\n".join(alerts[1:]) + "\n")  # one alert fewer: a different report

    host, port = moto_endpoint.removeprefix("http://").split(":")
    handler = type("Handler", (FaultyS3,), {"upstream": (host, int(port))})
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        faulty = aws_env(f"http://127.0.0.1:{proxy.server_address[1]}")
        failed = report_cli(faulty, "--week", WEEK, "--from-dir", str(changed), "--out", "s3://reports/w")
    finally:
        proxy.shutdown()
    assert failed.returncode == 5, failed.stderr
    errors = [line for line in failed.stderr.splitlines() if not line.startswith("{")]
    assert len(errors) == 1 and "Traceback" not in failed.stderr and "report" in errors[0]
    keys = {o["Key"] for o in aws("s3", moto_endpoint).list_objects_v2(Bucket="reports")["Contents"]}
    assert f"w/{WEEK}/manifest.json" not in keys, "a failed run leaves no manifest behind"


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--week", "2026-W99", "--from-dir", "."], 2, "does not exist"),
        (["--week", "last week", "--from-dir", "."], 2, "ISO week"),
        (["--week", WEEK, "--from-dir", "/nonexistent/run"], 3, "no such folder"),
        (["--week", WEEK], 3, "Kafka unavailable"),
        # Checked before anything is read: an output or a topic that cannot be one.
        (["--week", WEEK, "--from-dir", "/nonexistent/run", "--out", "s3:///x"], 2, "not an S3 bucket name"),
        (["--week", WEEK, "--from-dir", "/nonexistent/run", "--out", "s3://Bad_Bucket/x"], 2, "not an S3 bucket"),
        (["--week", WEEK, "--from-dir", "/nonexistent/run", "--sns-topic", "alerts"], 2, "not a topic ARN"),
    ],
)
def test_expected_failures_are_one_line_and_a_documented_code(args: list[str], code: int, says: str) -> None:
    # No broker there: said after one try, not after the connect window a restarting broker gets.
    env = {"PATH": os.environ["PATH"], "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    done = report_cli({**env, "CLAIMWATCH_CONNECT_SECONDS": "0"}, *args)
    errors = [line for line in done.stderr.splitlines() if not line.startswith("{")]
    assert done.returncode == code and len(errors) == 1 and says in errors[0], done.stderr
    assert "Traceback" not in done.stderr


def test_dry_run_writes_nothing_and_a_partial_week_says_so(run_folder: Path, tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"]}
    dry = report_cli(env, "--week", WEEK, "--from-dir", str(run_folder), "--out", str(tmp_path / "r"), "--dry-run")
    assert dry.returncode == 0 and json.loads(dry.stdout)["days_with_data"] == 7 and not (tmp_path / "r").exists()
    # A dry run checks the target too: a file where the folder would go cannot be written.
    (tmp_path / "a-file").write_text("")
    blocked = report_cli(
        env, "--week", WEEK, "--from-dir", str(run_folder), "--out", str(tmp_path / "a-file" / "r"), "--dry-run"
    )
    assert blocked.returncode == 5 and "cannot be written" in blocked.stderr, blocked.stderr
    partial = report_cli(env, "--week", "2026-W46", "--from-dir", str(run_folder), "--out", str(tmp_path / "r"))
    assert partial.returncode == 4, partial.stderr
    assert json.loads((tmp_path / "r" / "2026-W46" / "manifest.json").read_text())["headline"]["days_with_data"] < 7


@needs_kafka
def test_the_week_read_back_from_kafka_equals_the_embedded_report(
    run_folder: Path, moto_endpoint: str, tmp_path: Path
) -> None:
    settings = isolated_settings()
    setup_topics(settings)
    report = asyncio.run(publish(read_paths([BUNDLED_SAMPLE]), settings))
    assert report.reconciles() and report.published["rollups"] > 0
    worker = start_worker(settings, tmp_path)
    try:
        wait_drained([worker])
    finally:
        worker.stop()  # a graceful stop checkpoints: every roll-up row is on the topic
    topic, queue = bucket_with_topic(moto_endpoint)
    env = aws_env(moto_endpoint, CLAIMWATCH_SNS_TOPIC_ARN=topic) | {
        k: v for k, v in env_for(settings).items() if k.startswith(("KAFKA_", "CLAIMWATCH_"))
    }
    for attempt in range(2):
        done = report_cli(env, "--week", WEEK, "--out", "s3://reports/kafka")
        assert done.returncode == 0, done.stderr
        check_objects(moto_endpoint, f"kafka/{WEEK}/", (run_folder / WEEK / "report.json").read_bytes())
        assert len(notifications(moto_endpoint, queue)) == (1 if attempt == 0 else 0)
    # The monthly audit reads the same topics: the same bytes as from the run folder.
    audits = {}
    for name, extra in (("kafka", []), ("folder", ["--from-dir", str(run_folder)])):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "claimwatch.cli",
                "audit",
                "--month",
                "2026-11",
                "--out",
                str(tmp_path / name),
                *extra,
            ],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        audits[name] = (tmp_path / name / "audit.json").read_bytes()
    assert audits["kafka"] == audits["folder"] and json.loads(audits["kafka"])["current"]["records_read"] > 0


def test_headline_figures_match_a_recount_of_the_raw_files(run_folder: Path) -> None:
    """An independent recount (gzip, csv and json only; not the readers) of the week's raw exports."""
    import csv
    import gzip
    from datetime import UTC, date, datetime

    week_days = {f"2026110{d}" for d in range(2, 9)}  # 2026-W45: Monday 2 to Sunday 8 November
    claims: set[str] = set()
    for path in sorted((BUNDLED_SAMPLE / "claims").glob("*.csv.gz")):
        if path.name.rsplit("_", 1)[1][:8] in week_days:
            with gzip.open(path, "rt", encoding="utf-8-sig") as fh:
                rows = list(csv.reader(fh))
            column = [name.lower().replace(" ", "_") for name in rows[0]].index("claim_id")
            claims.update(row[column] for row in rows[1:])
    third_party: set[str] = set()
    for path in sorted((BUNDLED_SAMPLE / "claims").glob("claims_api_*.jsonl.gz")):
        if path.name.rsplit("_", 1)[1][:8] in week_days:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                third_party |= {c["id"] for c in map(json.loads, fh) if c.get("thirdPartyClaim")}
    polls: dict[tuple[str, str], list[tuple[datetime, int, int]]] = {}
    after: dict[tuple[str, str], tuple[datetime, int, int]] = {}  # each post's first poll after the week
    week_end = datetime(2026, 11, 9, tzinfo=UTC)
    for path in sorted((BUNDLED_SAMPLE / "polls").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                poll = json.loads(line)
                seen = datetime.fromisoformat(poll["observed_at"].replace("Z", "+00:00"))
                engaged = sum(poll.get(f"{k}_total") or 0 for k in ("likes", "comments", "shares"))
                point = (seen, poll.get("views_total") or 0, engaged)
                post = (poll["platform"], poll["platform_content_id"])
                if date(2026, 11, 2) <= seen.date() <= date(2026, 11, 8):
                    polls.setdefault(post, []).append(point)
                elif seen >= week_end and (post not in after or seen < after[post][0]):
                    after[post] = point
    views: dict[str, int] = {}
    engagements: dict[str, int] = {}
    posts: dict[str, int] = {}
    for post, points in polls.items():
        platform = post[0]
        first, last = min(points), max(points)
        if post in after:  # the interval across Monday 00:00 is split there, in proportion to time
            nxt = after[post]
            share = (week_end - last[0]) / (nxt[0] - last[0])
            last = (week_end, round(last[1] + (nxt[1] - last[1]) * share), round(last[2] + (nxt[2] - last[2]) * share))
        if last[0] > first[0]:
            views[platform] = views.get(platform, 0) + max(0, last[1] - first[1])
            engagements[platform] = engagements.get(platform, 0) + max(0, last[2] - first[2])
            posts[platform] = posts.get(platform, 0) + 1

    report = json.loads((run_folder / WEEK / "report.json").read_text())
    # The bundled sample's first week may hold none; tests/test_recount.py recounts a week with some.
    assert report["claims_summary"]["third_party_claims"] == len(third_party), "theirs, not ours"
    assert report["claims_summary"]["total"] == len(claims) > 1000
    per_platform = report["trends"]["per_platform"]
    assert {p: row["views"] for p, row in per_platform.items()} == views
    assert {p: row["engagements"] for p, row in per_platform.items()} == engagements
    assert {p: row["posts"] for p, row in per_platform.items()} == posts


def test_a_run_that_may_pass_is_retried_and_a_wrong_one_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    from batch import job

    calls: list[str] = []

    def flaky(week: str, out: str) -> job.Outcome:
        calls.append(week)
        if week == "usage":
            raise job.JobError(job.EXIT_USAGE, "--week is wrong")
        if len(calls) == 1:
            raise job.JobError(job.EXIT_OUTPUT, "S3 answered 500")
        return job.Outcome(job.EXIT_OK, "s3://reports/w/")

    monkeypatch.setattr(job, "run", flaky)
    assert job.run_with_retries(1, 0.0, "2026-W45", "s3://reports/w").code == job.EXIT_OK and len(calls) == 2
    calls.clear()
    with pytest.raises(job.JobError):
        job.run_with_retries(1, 0.0, "usage", "s3://reports/w")
    assert calls == ["usage"], "a wrong argument is not retried"
    calls.clear()
    with pytest.raises(job.JobError):
        job.run_with_retries(0, 0.0, "2026-W45", "s3://reports/w")
    assert len(calls) == 1


@pytest.mark.slow
def test_the_report_s_readers_are_told_once_when_it_is_late_partial_or_late_after_all(
    run_folder: Path, moto_endpoint: str, tmp_path: Path
) -> None:
    report_topic, report_queue = bucket_with_topic(moto_endpoint)
    readers_topic, readers = subscribed_topic(moto_endpoint, "claimwatch-report-readers", "readers")  # not on-call
    env = aws_env(moto_endpoint, CLAIMWATCH_SNS_TOPIC_ARN=report_topic, CLAIMWATCH_STAKEHOLDER_TOPIC_ARN=readers_topic)
    out = "s3://reports/weekly"

    # The scheduled run (no --week) fails: the readers hear once, however often it is rerun.
    gone = str(tmp_path / "no-such-run")
    for _ in range(2):
        failed = report_cli(env, "--from-dir", gone, "--out", out)
        assert failed.returncode == 3, failed.stderr
    (late,) = notifications(moto_endpoint, readers)
    assert late.startswith("The weekly claims report for 20") and "could not be produced" in late
    assert "no-such-run" in late, "the reason, as the job gave it"
    assert "Next attempt:" in late and "paged" in late

    # An on-time, complete week: the report's own notification, nothing for the readers.
    ok = report_cli(env, "--week", WEEK, "--from-dir", str(run_folder), "--out", out)
    assert ok.returncode == 0, ok.stderr
    assert notifications(moto_endpoint, readers) == []
    assert len(notifications(moto_endpoint, report_queue)) == 1

    # A week with days missing is written, and its readers told what is missing, once.
    for _ in range(2):
        partial = report_cli(env, "--week", "2026-W46", "--from-dir", str(run_folder), "--out", out)
        assert partial.returncode == 4, partial.stderr
    (incomplete,) = notifications(moto_endpoint, readers)
    assert incomplete.startswith("The weekly claims report for 2026-W46 was written without some of its data")
    assert "days" in incomplete and "s3://reports/weekly/2026-W46/" in incomplete

    # A week announced late and written after all is announced as such.
    failed = report_cli(env, "--week", WEEK, "--from-dir", gone, "--out", "s3://reports/again")
    assert failed.returncode == 3
    (late,) = notifications(moto_endpoint, readers)
    assert "2026-W45 could not be produced" in late
    again = report_cli(env, "--week", WEEK, "--from-dir", str(run_folder), "--out", "s3://reports/again")
    assert again.returncode == 0, again.stderr
    (available,) = notifications(moto_endpoint, readers)
    assert available.startswith("The weekly claims report for 2026-W45, announced late, is now available")
    rerun = report_cli(env, "--week", WEEK, "--from-dir", str(run_folder), "--out", "s3://reports/again")
    assert rerun.returncode == 0 and notifications(moto_endpoint, readers) == []


def test_a_failed_run_is_recorded_only_where_the_output_already_is(tmp_path: Path) -> None:
    from claimwatch.cli import main

    missing = str(tmp_path / "no-such-run")
    assert main(["report", "--week", WEEK, "--from-dir", missing, "--out", str(tmp_path / "new")]) == 3
    assert not (tmp_path / "new").exists(), "a failed run creates no output folder"
    (tmp_path / "reports").mkdir()
    assert main(["report", "--week", WEEK, "--from-dir", missing, "--out", str(tmp_path / "reports")]) == 3
    assert main(["report", "--week", "2026-W99", "--out", str(tmp_path / "reports")]) == 2  # not a run
    (record,) = (tmp_path / "reports" / "runs").iterdir()
    assert json.loads(record.read_text())["exit_code"] == 3 and record.name.endswith(f"-{WEEK}.json")
