"""The monthly performance and cost review (``claimwatch audit --month``): the cost arithmetic
against a hand-computed table, Prometheus's real HTTP API over a month of backfilled worker
metrics, and AWS (ECS, S3, CloudWatch, MSK) on moto's real HTTP server."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from batch.job import run_record
from batch.review import (
    DEFAULT_PRICES,
    PERFORMANCE_QUERIES,
    TaskSize,
    Usage,
    checked_prices,
    cost_lines,
    prometheus_figures,
    total,
)
from claimwatch.cli import main
from claimwatch.sample.generator import generate
from tests.streamkit import free_port
from tests.test_weekly_job import aws, aws_env, moto_endpoint

__all__ = ["moto_endpoint"]

NOV_START = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())
NOV_SECONDS = 30 * 86400
STEP = 300


def test_the_cost_of_a_month_is_the_hand_computed_table() -> None:
    usage = Usage(
        task_size=TaskSize(vcpu=1.0, memory_gb=3.0),
        job_seconds=4 * 1800.0,  # four runs of half an hour
        s3_bytes=5 * 1024**3,
        s3_puts=28,
        s3_gets=4,
        sns_messages=1200,
        msk_brokers={"kafka.m5.large": 3},
        hours_in_month=720.0,
    )
    by_item = {line["item"]: line for line in cost_lines(usage, DEFAULT_PRICES)}
    expected = {  # quantity, cost: worked by hand from DEFAULT_PRICES
        "Fargate vCPU-hours (weekly job)": (2.0, 0.08096),  # 2 h x 1 vCPU x 0.04048
        "Fargate GB-hours (weekly job)": (6.0, 0.02667),  # 2 h x 3 GB x 0.004445
        "S3 storage (reports)": (4.931507, 0.11342466),  # 5 GB x 720/730 of a month x 0.023
        "S3 PUT requests (weekly job)": (28, 0.00014),  # 28 x 0.005 / 1000
        "S3 GET requests (weekly job)": (4, 0.0000016),  # 4 x 0.0004 / 1000
        "SNS messages published": (1200, 0.0006),  # 1200 x 0.50 / 1e6
        "MSK broker-hours (kafka.m5.large)": (2160.0, 453.6),  # 3 brokers x 720 h x 0.21
        "ECS services (worker, sinks)": (None, None),  # not deployed as services: unknown, not zero
    }
    assert {item: (line["quantity"], line["cost"]) for item, line in by_item.items()} == expected
    assert total(list(by_item.values())) == (453.821796, 1)


def test_what_cannot_be_known_is_unknown_never_zero() -> None:
    lines = cost_lines(Usage(None, None, None, None, None, None, None, 720.0), DEFAULT_PRICES)
    assert all(line["cost"] is None for line in lines)
    assert total(lines) == (0.0, len(lines))


# ------------------------------------------------------------------------------ Prometheus


def openmetrics_month() -> str:
    """A month of the worker's metrics every 5 minutes: 100 events/s (400/s on the 10th), lag
    cycling 0..99, and 100 processing times per step (90 under 10 ms, 9 under 100 ms, 1 under 1 s)."""
    lines = ["# TYPE claimwatch_events_in counter"]
    events, samples = 0, []
    for i in range(NOV_SECONDS // STEP + 1):
        t = NOV_START + i * STEP
        samples.append((t, events))
        events += STEP * (400 if 9 * 86400 <= i * STEP < 10 * 86400 else 100)
    lines += [f'claimwatch_events_in_total{{kind="poll"}} {v} {t}' for t, v in samples]
    lines.append("# TYPE claimwatch_consumer_lag gauge")
    lines += [f'claimwatch_consumer_lag{{partition="0"}} {i % 100} {t}' for i, (t, _) in enumerate(samples)]
    lines.append("# TYPE claimwatch_processing_seconds histogram")
    for le, per_step in (("0.01", 90), ("0.1", 99), ("1.0", 100), ("+Inf", 100)):
        lines += [
            f'claimwatch_processing_seconds_bucket{{le="{le}"}} {i * per_step} {t}' for i, (t, _) in enumerate(samples)
        ]
    lines += [f"claimwatch_processing_seconds_count {i * 100} {t}" for i, (t, _) in enumerate(samples)]
    lines += [f"claimwatch_processing_seconds_sum {i * 1.0} {t}" for i, (t, _) in enumerate(samples)]
    return "\n".join(lines) + "\n# EOF\n"


@pytest.fixture
def prometheus_with_a_month(tmp_path: Path) -> Iterator[str]:
    promtool, prometheus = shutil.which("promtool"), shutil.which("prometheus")
    assert promtool and prometheus
    (tmp_path / "month.om").write_text(openmetrics_month())
    data = tmp_path / "tsdb"
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(tmp_path / "month.om"), str(data)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (tmp_path / "prometheus.yml").write_text("global: {}\n")
    port = free_port()
    server = subprocess.Popen(
        [
            prometheus,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.promtool
def test_the_month_s_throughput_lag_and_processing_time_come_from_prometheus(prometheus_with_a_month: str) -> None:
    figures = prometheus_figures(prometheus_with_a_month, "2026-11")
    assert set(figures) == set(PERFORMANCE_QUERIES)
    mean = (29 * 100 + 400) / 30  # events a second over the month
    assert figures["events_per_second_mean"] == pytest.approx(mean, rel=0.01)
    assert figures["events_per_second_peak_5m"] == pytest.approx(400, rel=0.01)
    assert figures["lag_p50"] == pytest.approx(49.5, abs=1.0)
    assert figures["lag_p95"] == pytest.approx(94.05, abs=1.0)
    assert figures["lag_max"] == 99
    assert figures["processing_seconds_p50"] == pytest.approx(0.01 * 50 / 90, rel=0.02)
    assert figures["processing_seconds_p99"] == pytest.approx(0.1, rel=0.05)
    october = prometheus_figures(prometheus_with_a_month, "2026-10")
    assert all(value is None for value in october.values()), "no data that month: unknown, not zero"


# ------------------------------------------------------------------------------ the audit on AWS


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("review")
    generate(base / "in", seed=5, items=40, days=8)
    assert main(["run", "--input", str(base / "in"), "--out", str(base / "out"), "--quiet"]) == 0
    return base / "out"


@pytest.mark.slow
def test_the_audit_prices_the_month_from_aws_and_says_what_is_unknown(
    small_run: Path, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in aws_env(moto_endpoint).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CLAIMWATCH_PROMETHEUS_URL", raising=False)
    s3, sns, cloudwatch = aws("s3", moto_endpoint), aws("sns", moto_endpoint), aws("cloudwatch", moto_endpoint)
    s3.create_bucket(Bucket="reports", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="reports", Key="weekly/2026-W45/report.html", Body=b"x" * 1_000_000)
    runs = [  # two November runs and one in October, as the job records them
        ("2026-11-02T06:00:00+00:00", "2026-W44", 1800.0, 0, 7, 1),
        ("2026-11-09T06:00:00+00:00", "2026-W45", 600.0, 4, 7, 1),
        ("2026-10-26T06:00:00+00:00", "2026-W43", 1000.0, 0, 7, 1),
    ]
    for started, week, seconds, code, written, read in runs:
        body = json.loads(run_record(week, datetime.fromisoformat(started), seconds, code, None, 512.0))
        body.update(objects_written=written, objects_read=read)
        key = f"weekly/runs/{started[:10]}-{week}.json"
        s3.put_object(Bucket="reports", Key=key, Body=json.dumps(body).encode())
    stored = sum(o["Size"] for o in s3.list_objects_v2(Bucket="reports", Prefix="weekly")["Contents"])
    aws("ecs", moto_endpoint).register_task_definition(
        family="dn-task-claims-report-process",
        cpu="1024",
        memory="3072",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        containerDefinitions=[{"name": "report", "image": "claimwatch", "memory": 3072}],
    )
    topic = sns.create_topic(Name="reports")["TopicArn"]
    monkeypatch.setenv("CLAIMWATCH_SNS_TOPIC_ARN", topic)
    cloudwatch.put_metric_data(
        Namespace="AWS/SNS",
        MetricData=[
            {
                "MetricName": "NumberOfMessagesPublished",
                "Dimensions": [{"Name": "TopicName", "Value": "reports"}],
                "Timestamp": datetime(2026, 11, d, 12, tzinfo=UTC),
                "Value": 10.0,
                "Unit": "Count",
            }
            for d in (3, 10, 17, 24)
        ],
    )
    ec2 = aws("ec2", moto_endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24")["Subnet"]["SubnetId"] for n in (1, 2, 3)]
    aws("kafka", moto_endpoint).create_cluster_v2(
        ClusterName="claimwatch",
        Provisioned={
            "BrokerNodeGroupInfo": {"InstanceType": "kafka.m5.large", "ClientSubnets": subnets},
            "KafkaVersion": "3.6.0",
            "NumberOfBrokerNodes": 3,
        },
    )

    out = tmp_path / "audit"
    args = [
        "audit",
        "--month",
        "2026-11",
        "--from-dir",
        str(small_run),
        "--out",
        str(out),
        "--reports",
        "s3://reports/weekly",
    ]
    assert main(args) == 0
    audit = json.loads((out / "audit.json").read_text())
    review = audit["review"]
    now = review["current"]
    assert now["weekly_job"]["runs"] == 2 and now["weekly_job"]["seconds_per_run"] == [1800.0, 600.0]
    assert now["weekly_job"]["peak_rss_mb_per_run"] == [512.0, 512.0] and now["weekly_job"]["failed"] == 0
    lines = {line["item"]: line for line in now["cost_lines"]}
    hours = 2400 / 3600
    assert lines["Fargate vCPU-hours (weekly job)"]["quantity"] == pytest.approx(hours * 1.0)
    assert lines["Fargate GB-hours (weekly job)"]["quantity"] == pytest.approx(hours * 3.0)
    assert lines["S3 storage (reports)"]["quantity"] == pytest.approx(stored / 1024**3 * 720 / 730, abs=1e-6)
    assert lines["S3 PUT requests (weekly job)"]["quantity"] == 14
    assert lines["SNS messages published"]["quantity"] == 40
    assert lines["MSK broker-hours (kafka.m5.large)"]["cost"] == pytest.approx(3 * 720 * 0.21)
    assert lines["ECS services (worker, sinks)"]["cost"] is None
    assert review["largest_cost_items"][0] == "MSK broker-hours (kafka.m5.large)"
    assert all(value is None for value in now["performance"].values()), "no Prometheus configured: unknown"
    before = review["previous"]
    assert before["weekly_job"]["seconds_per_run"] == [1000.0]
    assert review["change"]["weekly_job_seconds_max"] == pytest.approx(0.8)
    assert review["prices"]["as_of"] == DEFAULT_PRICES["as_of"]
    page = (out / "audit.html").read_text()
    assert "Cost (USD, prices of 2025-01-01" in page and page.count("unknown") >= len(PERFORMANCE_QUERIES)


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ([1], "a JSON object with as_of"),
        ({"s3_gb_month": 0.02}, "a JSON object with as_of"),
        ({"as_of": "2026-01", "fargate_vcpu_hour": "0.04"}, "fargate_vcpu_hour must be a number"),
        ({"as_of": "2026-01", "sns_per_million": -1}, "sns_per_million must be a number"),
        ({"as_of": "2026-01", "msk_broker_hour": {"kafka.m5.large": True}}, "msk_broker_hour must map"),
    ],
)
def test_a_price_table_that_cannot_price_is_one_clear_error(table: object, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        checked_prices(table, "--prices p.json")
    assert checked_prices({"as_of": "2026-01", "s3_gb_month": 0}, "x")["s3_gb_month"] == 0
