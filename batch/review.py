"""The monthly performance and cost review: is claimwatch getting slower, and what did it cost?

Part of ``claimwatch audit --month`` (the operations document's monthly "performance optimisation
reviews" and "infrastructure cost analysis"). Every figure has one source, and a figure that its
source cannot give is ``None`` ("unknown" on the page), never a zero:

- the stream's throughput, lag and processing time: Prometheus's HTTP API
  (``CLAIMWATCH_PROMETHEUS_URL``), over the worker's own metrics;
- the weekly job's runs: the run records the job writes under ``<out>/runs/`` (duration, peak
  memory, objects written and read, messages sent);
- cost: Fargate vCPU- and GB-hours of those runs at the task definition's size, S3 storage of the
  report prefix and the job's requests, SNS messages published (CloudWatch), MSK broker-hours (the
  clusters' broker count and type), each priced from a price table whose date is stated.

The arithmetic (:func:`cost_lines`) is pure and pinned by a hand-computed table in the tests.
"""

from __future__ import annotations

import calendar
import dataclasses
import json
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# List prices (USD, us-east-1, on-demand) as published on the date below; pass your own with
# ``--prices FILE`` (same keys) for another region, a discount or a newer table.
DEFAULT_PRICES: dict[str, Any] = {
    "as_of": "2025-01-01",
    "currency": "USD",
    "region": "us-east-1",
    "fargate_vcpu_hour": 0.04048,
    "fargate_gb_hour": 0.004445,
    "s3_gb_month": 0.023,
    "s3_put_per_1000": 0.005,
    "s3_get_per_1000": 0.0004,
    "sns_per_million": 0.50,
    "msk_broker_hour": {"kafka.t3.small": 0.0456, "kafka.m5.large": 0.21, "kafka.m7g.large": 0.204},
}
HOURS_PER_MONTH = 730.0  # the month S3 and MSK price by

PERFORMANCE_QUERIES: dict[str, str] = {
    # {d}: the month's length in seconds; evaluated at the month's end.
    "events_per_second_mean": "sum(increase(claimwatch_events_in_total[{d}s])) / {d}",
    "events_per_second_peak_5m": "max_over_time((sum(rate(claimwatch_events_in_total[5m])))[{d}s:5m])",
    "lag_p50": "quantile_over_time(0.5, (sum(claimwatch_consumer_lag))[{d}s:5m])",
    "lag_p95": "quantile_over_time(0.95, (sum(claimwatch_consumer_lag))[{d}s:5m])",
    "lag_max": "max_over_time((sum(claimwatch_consumer_lag))[{d}s:5m])",
    "processing_seconds_p50": "histogram_quantile(0.5, sum by (le) (increase(claimwatch_processing_seconds_bucket[{d}s])))",
    "processing_seconds_p99": "histogram_quantile(0.99, sum by (le) (increase(claimwatch_processing_seconds_bucket[{d}s])))",
}
# Not exported by the worker: shown as unknown, with why.
NOT_MEASURED = {"produce_to_alert_seconds_p50": "the worker exports no produce-to-alert latency yet"}


def month_bounds(month: str) -> tuple[datetime, datetime]:
    year, number = (int(x) for x in month.split("-"))
    start = datetime(year, number, 1, tzinfo=UTC)
    return start, start + timedelta(days=calendar.monthrange(year, number)[1])


# ------------------------------------------------------------------------------ performance


def prometheus_figures(base_url: str, month: str, timeout_s: float = 30.0) -> dict[str, float | None]:
    """Each query of :data:`PERFORMANCE_QUERIES` at the month's end; None where Prometheus has no answer."""
    start, end = month_bounds(month)
    seconds = int((end - start).total_seconds())
    out: dict[str, float | None] = {}
    for name, query in PERFORMANCE_QUERIES.items():
        # At the last second of the month: a sample stamped at the next month's first instant is not this month's.
        params = urllib.parse.urlencode({"query": query.format(d=seconds - 1), "time": f"{end.timestamp() - 1:.0f}"})
        url = f"{base_url.rstrip('/')}/api/v1/query?{params}"
        out[name] = None
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as answer:
                body = json.loads(answer.read())
        except (OSError, ValueError):
            continue
        result = body.get("data", {}).get("result", []) if isinstance(body, dict) else []
        if result:
            try:
                value = float(result[0]["value"][1])
            except (KeyError, IndexError, TypeError, ValueError):
                continue
            out[name] = value if value == value and abs(value) != float("inf") else None  # NaN: no data
    return out


# ------------------------------------------------------------------------------ the weekly job


@dataclass(frozen=True)
class TaskSize:
    vcpu: float
    memory_gb: float


def job_runs(records: list[dict[str, Any]], month: str) -> list[dict[str, Any]]:
    """The run records that started in ``month``, oldest first."""
    start, end = month_bounds(month)
    runs = []
    for r in records:
        try:
            when = datetime.fromisoformat(str(r["started"]))
        except (KeyError, ValueError):
            continue
        if start <= when < end:
            runs.append(r)
    return sorted(runs, key=lambda r: str(r["started"]))


def job_figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    if not runs:
        return {"runs": 0, "failed": None, "seconds_per_run": [], "peak_rss_mb_per_run": [], "seconds_max": None}
    return {
        "runs": len(runs),
        "failed": sum(1 for r in runs if r.get("exit_code") not in (0, 4)),
        "seconds_per_run": [float(r.get("seconds", 0.0)) for r in runs],
        "peak_rss_mb_per_run": [float(r.get("peak_rss_mb", 0.0)) for r in runs],
        "seconds_max": max(float(r.get("seconds", 0.0)) for r in runs),
        "peak_rss_mb_max": max(float(r.get("peak_rss_mb", 0.0)) for r in runs),
    }


# ------------------------------------------------------------------------------ cost (pure)


@dataclass(frozen=True)
class Usage:
    """What the month used; None where it cannot be known."""

    task_size: TaskSize | None
    job_seconds: float | None
    s3_bytes: int | None
    s3_puts: int | None
    s3_gets: int | None
    sns_messages: int | None
    msk_brokers: dict[str, int] | None  # instance type -> broker count
    hours_in_month: float


def cost_lines(usage: Usage, prices: dict[str, Any]) -> list[dict[str, Any]]:
    """One line per thing paid for: quantity, unit, unit price, cost (None when unknown).

    >>> lines = cost_lines(Usage(TaskSize(1, 3), 3600.0, 2 * 1024**3, 1000, 0, 2_000_000, {}, 720.0), DEFAULT_PRICES)
    >>> [(line["item"], line["cost"]) for line in lines][:3]
    [('Fargate vCPU-hours (weekly job)', 0.04048), ('Fargate GB-hours (weekly job)', 0.013335), ('S3 storage (reports)', 0.04536987)]
    """
    lines: list[dict[str, Any]] = []

    def line(item: str, quantity: float | None, unit: str, price: float | None) -> None:
        cost = None if quantity is None or price is None else round(quantity * price, 8)
        lines.append({"item": item, "quantity": quantity, "unit": unit, "unit_price": price, "cost": cost})

    hours = None if usage.job_seconds is None else usage.job_seconds / 3600.0
    size = usage.task_size
    line(
        "Fargate vCPU-hours (weekly job)",
        None if hours is None or size is None else round(hours * size.vcpu, 6),
        "vCPU-hour",
        prices.get("fargate_vcpu_hour"),
    )
    line(
        "Fargate GB-hours (weekly job)",
        None if hours is None or size is None else round(hours * size.memory_gb, 6),
        "GB-hour",
        prices.get("fargate_gb_hour"),
    )
    # Storage is billed per GB-month: what is stored now, for the part of a 730-hour month this one is.
    gb_months = (
        None if usage.s3_bytes is None else round(usage.s3_bytes / 1024**3 * usage.hours_in_month / HOURS_PER_MONTH, 6)
    )
    line("S3 storage (reports)", gb_months, "GB-month", prices.get("s3_gb_month"))
    put = prices.get("s3_put_per_1000")
    get = prices.get("s3_get_per_1000")
    line("S3 PUT requests (weekly job)", usage.s3_puts, "request", None if put is None else put / 1000)
    line("S3 GET requests (weekly job)", usage.s3_gets, "request", None if get is None else get / 1000)
    sns = prices.get("sns_per_million")
    line("SNS messages published", usage.sns_messages, "message", None if sns is None else sns / 1e6)
    if usage.msk_brokers is None:
        line("MSK broker-hours", None, "broker-hour", None)
    for kind, count in sorted((usage.msk_brokers or {}).items()):
        price = prices.get("msk_broker_hour", {}).get(kind)
        line(f"MSK broker-hours ({kind})", round(count * usage.hours_in_month, 6), "broker-hour", price)
    line("ECS services (worker, sinks)", None, "vCPU-hour", None)  # not deployed as services yet
    return lines


def total(lines: list[dict[str, Any]]) -> tuple[float, int]:
    """The known total and how many lines are unknown (so a total is never read as complete)."""
    known = [line["cost"] for line in lines if line["cost"] is not None]
    return round(sum(known), 6), len(lines) - len(known)


def change(now: float | None, before: float | None) -> float | None:
    """Month-over-month change as a fraction; None when either month is unknown or the base is 0.

    >>> change(12.0, 10.0), change(None, 10.0), change(5.0, 0.0)
    (0.2, None, None)
    """
    if now is None or before is None or before == 0:
        return None
    return round((now - before) / before, 4)


# ------------------------------------------------------------------------------ AWS (I/O)


def aws_usage(
    client: Callable[[str], Any],
    month: str,
    out: str,
    runs: list[dict[str, Any]],
    family: str,
    topic_arns: list[str],
) -> Usage:
    """The month's usage from AWS: the task size (ECS), the report prefix's bytes (S3), messages
    published (CloudWatch's AWS/SNS), the MSK clusters' brokers; and the job's own run records."""
    start, end = month_bounds(month)
    hours = (end - start).total_seconds() / 3600.0
    size: TaskSize | None = None
    try:
        definition = client("ecs").describe_task_definition(taskDefinition=family)["taskDefinition"]
        size = TaskSize(float(definition["cpu"]) / 1024, float(definition["memory"]) / 1024)
    except Exception:  # no such family, no permission: unknown
        size = None
    s3_bytes: int | None = None
    if out.startswith("s3://"):
        bucket, _, prefix = out[len("s3://") :].partition("/")
        try:
            s3_bytes = 0
            for page in client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                s3_bytes += sum(int(o["Size"]) for o in page.get("Contents", []))
        except Exception:
            s3_bytes = None
    sns_messages: int | None = None
    if topic_arns:
        try:
            cloudwatch = client("cloudwatch")
            sns_messages = 0
            for arn in topic_arns:
                points = cloudwatch.get_metric_statistics(
                    Namespace="AWS/SNS",
                    MetricName="NumberOfMessagesPublished",
                    Dimensions=[{"Name": "TopicName", "Value": arn.rsplit(":", 1)[-1]}],
                    StartTime=start,
                    EndTime=end,
                    Period=86400,
                    Statistics=["Sum"],
                )["Datapoints"]
                sns_messages += int(sum(p["Sum"] for p in points))
        except Exception:
            sns_messages = None
    brokers: dict[str, int] | None = None
    try:
        brokers = {}
        for cluster in client("kafka").list_clusters_v2().get("ClusterInfoList", []):
            info = cluster.get("Provisioned") or {}
            kind = info.get("BrokerNodeGroupInfo", {}).get("InstanceType")
            if kind:
                brokers[kind] = brokers.get(kind, 0) + int(info.get("NumberOfBrokerNodes", 0))
    except Exception:
        brokers = None
    return dataclasses.replace(
        job_usage(runs, hours), task_size=size, s3_bytes=s3_bytes, sns_messages=sns_messages, msk_brokers=brokers
    )


def job_usage(runs: list[dict[str, Any]], hours_in_month: float) -> Usage:
    """What the weekly job's own run records say (seconds, requests); everything else unknown."""
    if not runs:
        return Usage(None, None, None, None, None, None, None, hours_in_month)
    seconds = sum(float(r.get("seconds", 0.0)) for r in runs)
    puts = sum(int(r.get("objects_written", 0)) for r in runs)
    gets = sum(int(r.get("objects_read", 0)) for r in runs)
    return Usage(None, seconds, None, puts, gets, None, None, hours_in_month)


def read_run_records(out: str, client: Callable[[str], Any]) -> list[dict[str, Any]]:
    """Every run record under ``<out>/runs/`` (a folder or s3://bucket/prefix)."""
    from pathlib import Path

    bodies: list[bytes] = []
    if out.startswith("s3://"):
        bucket, _, prefix = out[len("s3://") :].partition("/")
        base = f"{prefix.strip('/')}/runs/" if prefix.strip("/") else "runs/"
        s3 = client("s3")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base):
            for o in page.get("Contents", []):
                if o["Key"].endswith(".json") and int(o["Size"]) < 1_000_000:
                    bodies.append(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
    else:
        folder = Path(out) / "runs"
        bodies = (
            [p.read_bytes() for p in sorted(folder.glob("*.json")) if p.stat().st_size < 1_000_000]
            if folder.is_dir()
            else []
        )
    records = []
    for body in bodies:
        try:
            record = json.loads(body)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


# ------------------------------------------------------------------------------ the review


def review(
    month: str,
    previous: str,
    prices: dict[str, Any],
    performance: Callable[[str], dict[str, float | None]],
    usage: Callable[[str, list[dict[str, Any]]], Usage] | None,
    records: list[dict[str, Any]],
) -> dict[str, Any]:
    """The review of ``month`` beside ``previous``: figures, cost lines, changes, largest items."""
    months: dict[str, dict[str, Any]] = {}
    for m in (month, previous):
        runs = job_runs(records, m)
        perf = performance(m)
        lines = cost_lines(usage(m, runs), prices) if usage is not None else []
        known, unknown = total(lines)
        months[m] = {
            "performance": {**perf, **dict.fromkeys(NOT_MEASURED)},
            "weekly_job": job_figures(runs),
            "cost_lines": lines,
            "cost_known_total": known if lines else None,
            "cost_lines_unknown": unknown if lines else None,
        }
    now, before = months[month], months[previous]
    changes = {
        name: change(now["performance"].get(name), before["performance"].get(name)) for name in PERFORMANCE_QUERIES
    }
    changes["cost_known_total"] = change(now["cost_known_total"], before["cost_known_total"])
    changes["weekly_job_seconds_max"] = change(now["weekly_job"]["seconds_max"], before["weekly_job"]["seconds_max"])
    largest = sorted((line for line in now["cost_lines"] if line["cost"]), key=lambda line: -line["cost"])[:3]
    return {
        "month": month,
        "previous_month": previous,
        "prices": {"as_of": prices.get("as_of"), "region": prices.get("region"), "currency": prices.get("currency")},
        "current": now,
        "previous": before,
        "change": changes,
        "largest_cost_items": [line["item"] for line in largest],
        "not_measured": NOT_MEASURED,
    }


def checked_prices(table: Any, where: str) -> dict[str, Any]:
    """A price table with the keys of :data:`DEFAULT_PRICES`: prices numbers (or left out: unknown).

    >>> checked_prices({"as_of": "2026-01-01", "s3_gb_month": "cheap"}, "--prices p.json")
    Traceback (most recent call last):
    ValueError: --prices p.json: s3_gb_month must be a number
    """
    if not isinstance(table, dict) or "as_of" not in table:
        raise ValueError(f"{where}: a JSON object with as_of and the prices")
    for key, value in table.items():
        if key == "msk_broker_hour":
            if not isinstance(value, dict) or not all(_is_price(v) for v in value.values()):
                raise ValueError(f"{where}: msk_broker_hour must map instance types to numbers")
        elif key in DEFAULT_PRICES and not isinstance(DEFAULT_PRICES[key], str) and not _is_price(value):
            raise ValueError(f"{where}: {key} must be a number")
    return table


def _is_price(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < float("inf")


def monthly_review(month: str, reports: str | None, prices_file: str | None, family: str) -> dict[str, Any]:
    """The review of ``month`` with what this machine can reach: Prometheus when
    ``CLAIMWATCH_PROMETHEUS_URL`` is set, AWS when a region is, the run records under ``reports``."""
    from pathlib import Path

    from batch.audit import previous_month
    from claimwatch.aws import client
    from claimwatch.config import aws_region, environment

    env = environment()
    prices = DEFAULT_PRICES
    if prices_file:
        try:
            loaded = json.loads(Path(prices_file).read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ValueError(f"--prices {prices_file}: not JSON: {exc}") from None
        prices = checked_prices(loaded, f"--prices {prices_file}")
    on_aws = bool(aws_region())
    readable = reports and (on_aws or not reports.startswith("s3://"))
    records = read_run_records(reports, client) if reports and readable else []
    topics = [arn for arn in (env.claimwatch_sns_topic_arn, env.claimwatch_stakeholder_topic_arn) if arn]

    def performance(m: str) -> dict[str, float | None]:
        if not env.claimwatch_prometheus_url:
            return dict.fromkeys(PERFORMANCE_QUERIES)
        return prometheus_figures(env.claimwatch_prometheus_url, m)

    def usage(m: str, runs: list[dict[str, Any]]) -> Usage:
        if on_aws:
            return aws_usage(client, m, reports or "", runs, family, topics)
        start, end = month_bounds(m)
        return job_usage(runs, (end - start).total_seconds() / 3600)

    return review(month, previous_month(month), prices, performance, usage, records)
