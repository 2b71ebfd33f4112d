"""``claimwatch doctor``: is everything claimwatch needs working, and if not, what to do next.

The runbook's first step when claims processing fails ("verify the task, read its logs, check
that the data sources are available") as one table: one line per check, green / amber / red, the
reason, and the next step. Red means something is broken now (exit 1); amber means not checked
(not configured here) or worth a look; green means fine.

The judging is pure (``judge_*``: facts in, a :class:`Check` out, table-tested); gathering the
facts is the I/O: Kafka through the stream's own clients, the worker's ``/health`` over HTTP, AWS
through boto3 (ECS, CloudWatch Logs, EventBridge, S3, SNS).
"""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from batch.metadata import Mismatch, find_mismatches
from claimwatch.textsafe import safe_text

State = Literal["green", "amber", "red"]
GREEN: State = "green"
AMBER: State = "amber"
RED: State = "red"

# How late each daily source may be: a day's data is due this long after the day ends.
# YouTube's daily reports land the next day; analytics are final two to three days later.
SOURCE_DEADLINES: dict[str, timedelta] = {
    "claims report": timedelta(hours=36),
    "channel_basic": timedelta(hours=84),
    "content_owner_basic": timedelta(hours=84),
    "platform_poll": timedelta(hours=30),
}
# The claims report comes as the Reporting API's file or the Studio CSV: either covers a day.
SOURCE_FAMILY = {"reporting_api_claims": "claims report", "studio_claims_csv": "claims report"}
# Every deployment has these; analytics exports are checked once any has been read.
REQUIRED_SOURCES = ("claims report", "platform_poll")
POLL_MAX_AGE = timedelta(hours=2)  # no poll file read for this long: the collector is down
MAX_BEHIND = timedelta(minutes=15)  # a group with records waiting longer than this is stalled
LOG_LINES = 10
EXIT_MEANING = {2: "wrong arguments", 3: "input unavailable", 4: "partial data", 5: "output failed"}


@dataclass(frozen=True)
class Check:
    """One line of the doctor's table."""

    name: str
    state: State
    detail: str
    next_step: str = ""
    lines: list[str] = field(default_factory=list)  # supporting text (a log tail), shown indented


# ------------------------------------------------------------------------------ judging (pure)


@dataclass(frozen=True)
class GroupFacts:
    """One consumer group on one topic: records waiting, and how long the oldest has waited."""

    group: str
    topic: str
    lag: int
    oldest_waiting_ms: int | None  # the timestamp of the first record not yet processed


def judge_groups(groups: list[GroupFacts], now: datetime, max_behind: timedelta = MAX_BEHIND) -> Check:
    """Red when a group has records waiting longer than ``max_behind`` (stalled, or too slow).

    >>> now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    >>> judge_groups([GroupFacts("claimwatch-worker", "claimwatch.events", 40, int(now.timestamp() * 1000) - 3_600_000)], now).detail
    'claimwatch-worker is 60 min behind on claimwatch.events (40 records waiting)'
    """
    if not groups:
        return Check(
            "consumer groups", AMBER, "no claimwatch consumer group has committed yet", "start `claimwatch worker`"
        )
    now_ms = now.timestamp() * 1000
    worst: tuple[float, GroupFacts] | None = None
    for g in groups:
        if g.lag > 0 and g.oldest_waiting_ms is not None:
            behind = max(0.0, now_ms - g.oldest_waiting_ms) / 1000
            if worst is None or behind > worst[0]:
                worst = (behind, g)
    if worst is None:
        names = sorted({g.group for g in groups})
        return Check("consumer groups", GREEN, f"{', '.join(names)}: caught up")
    behind, g = worst
    text = f"{g.group} is {behind / 60:.0f} min behind on {g.topic} ({g.lag:,} records waiting)"
    if behind > max_behind.total_seconds():
        return Check(
            "consumer groups",
            RED,
            text,
            "check `/health` and the worker's log; restart the worker (its state is checkpointed)",
        )
    return Check("consumer groups", GREEN, text)


@dataclass(frozen=True)
class SourceFacts:
    """What was read of one source: its newest data day and when a file of it was last read."""

    source: str
    newest_day: date | None
    last_read_ms: int | None = None


def judge_source(facts: SourceFacts, now: datetime) -> Check:
    """Red when a source's newest data is older than its cadence allows, with the days missing.

    >>> now = datetime(2026, 12, 8, 13, tzinfo=UTC)  # 5 and 6 December were due by noon of the 7th and 8th
    >>> judge_source(SourceFacts("claims report", date(2026, 12, 4)), now).detail
    'newest data 2026-12-04: 2 day(s) missing (2026-12-05 to 2026-12-06)'
    """
    name = f"source {facts.source}"
    deadline = SOURCE_DEADLINES.get(facts.source)
    if facts.newest_day is None:
        return Check(name, RED, "nothing read yet", f"check the {facts.source} delivery and run `claimwatch ingest`")
    # A day's data is due ``deadline`` after the day ends: the last day due by now, and those missing.
    last_due = (now - deadline).date() - timedelta(days=1) if deadline is not None else None
    if last_due is not None and last_due > facts.newest_day:
        first = facts.newest_day + timedelta(days=1)
        missing = (last_due - first).days + 1
        span = f"{first}" if missing == 1 else f"{first} to {last_due}"
        return Check(
            name,
            RED,
            f"newest data {facts.newest_day}: {missing} day(s) missing ({span})",
            f"check the {facts.source} export or collector; ingest the missing days, then rerun the week's report",
        )
    if facts.source == "platform_poll" and facts.last_read_ms is not None:
        age = now - datetime.fromtimestamp(facts.last_read_ms / 1000, UTC)
        if age > POLL_MAX_AGE:
            return Check(
                name, RED, f"no poll read for {age.total_seconds() / 3600:.1f} h", "check the platform collectors"
            )
    read = ""
    if facts.last_read_ms is not None:
        read = f", last file read {datetime.fromtimestamp(facts.last_read_ms / 1000, UTC):%Y-%m-%d %H:%M} UTC"
    return Check(name, GREEN, f"newest data {facts.newest_day}{read}")


def newest_by_source(file_rows: Iterable[tuple[int | None, dict[str, Any]]]) -> dict[str, SourceFacts]:
    """Per source family: the newest data day and the newest read of the ``file`` roll-up rows."""
    days: dict[str, date] = {}
    reads: dict[str, int] = {}
    for read_ms, row in file_rows:
        source = SOURCE_FAMILY.get(str(row.get("source")), str(row.get("source")))
        if source not in SOURCE_DEADLINES:
            continue
        try:
            day = date.fromisoformat(str(row.get("day")))
        except ValueError:
            day = None
        if day is not None and (source not in days or day > days[source]):
            days[source] = day
        if read_ms is not None and read_ms > reads.get(source, -1):
            reads[source] = read_ms
    return {s: SourceFacts(s, days.get(s), reads.get(s)) for s in sorted(set(days) | set(reads))}


def newest_first(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ECS tasks, the one that stopped last first."""
    return sorted(tasks, key=lambda t: str(t.get("stoppedAt") or t.get("createdAt") or ""), reverse=True)


def judge_tasks(tasks: list[dict[str, Any]], tail: list[str]) -> Check:
    """The weekly job's last finished run (an ECS task as ``describe_tasks`` gives it).

    >>> judge_tasks([{"lastStatus": "STOPPED", "stopCode": "TaskFailedToStart",
    ...               "stoppedReason": "CannotPullContainerError: no such image"}], []).state
    'red'
    """
    name = "weekly job: last run"
    if not tasks:
        return Check(name, AMBER, "no finished run found", "run it by hand: `claimwatch aws run-report --wait`")
    ordered = newest_first(tasks)
    task = ordered[0]
    containers = task.get("containers") or [{}]
    code = containers[0].get("exitCode")
    when = f"{task.get('startedAt') or '?'} to {task.get('stoppedAt') or '?'}"
    earlier = [
        f"earlier run: exit {(t.get('containers') or [{}])[0].get('exitCode', '-')}"
        f" {t.get('stopCode') or ''} stopped {t.get('stoppedAt') or '?'}".replace("  ", " ")
        for t in ordered[1:3]
    ]
    tail = earlier + tail
    reason = safe_text(str(task.get("stoppedReason") or ""), 200)
    retry = "fix the cause, then `claimwatch aws run-report --week <week> --wait`"
    if task.get("stopCode") == "TaskFailedToStart" or (code is None and task.get("lastStatus") == "STOPPED"):
        return Check(name, RED, f"did not start ({task.get('stopCode') or '-'}): {reason}", retry, tail)
    if code == 0:
        return Check(name, GREEN, f"exit 0, ran {when}", lines=earlier)
    if code == 4:
        return Check(name, AMBER, f"exit 4 (partial data), ran {when}", "see the report's data quality section", tail)
    meaning = EXIT_MEANING.get(int(code), "failed") if isinstance(code, int) else "failed"
    return Check(name, RED, f"exit {code} ({meaning}), ran {when}: {reason or '-'}", retry, tail)


RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")


def next_run(rule: dict[str, Any], last_scheduled_start: datetime | None) -> Check:
    """The schedule: enabled or not, and when it next runs (a rate counts from its last run).

    >>> next_run({"State": "ENABLED", "ScheduleExpression": "rate(7 days)"}, datetime(2026, 11, 30, 6, tzinfo=UTC)).detail
    'rate(7 days), enabled; next run about 2026-12-07 06:00 UTC'
    """
    name = "weekly job: schedule"
    expression = str(rule.get("ScheduleExpression", ""))
    if rule.get("State") != "ENABLED":
        return Check(
            name, RED, f"{expression or 'no schedule'}, {str(rule.get('State', '?')).lower()}", "enable the rule"
        )
    found = RATE.match(expression)
    if found and last_scheduled_start is not None:
        unit = found.group(2).rstrip("s") + "s"
        at = last_scheduled_start + timedelta(**{unit: int(found.group(1))})
        return Check(name, GREEN, f"{expression}, enabled; next run about {at:%Y-%m-%d %H:%M} UTC")
    return Check(name, GREEN, f"{expression}, enabled")


# ------------------------------------------------------------------------------ gathering (I/O)


def health_check(url: str, timeout_s: float = 5.0) -> Check:
    """The worker's ``/health``: 200 green, 503 red with its reason, no answer red."""
    name = "worker /health"
    if not url.startswith(("http://", "https://")):
        return Check(name, AMBER, f"not checked: {safe_text(url, 100)!r} is not an http(s) URL")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            body = answer.read(4096).decode("utf-8", "replace")
            return Check(name, GREEN, f"{answer.status} at {url}: {safe_text(' '.join(body.split()), 150)}")
    except urllib.error.HTTPError as exc:
        body = exc.read(4096).decode("utf-8", "replace")
        return Check(
            name,
            RED,
            f"{exc.code} at {url}: {safe_text(' '.join(body.split()), 200)}",
            "read the worker's log; a stalled worker is restarted by ECS once its health check fails",
        )
    except (OSError, ValueError) as exc:
        return Check(name, RED, f"no answer at {url}: {safe_text(str(exc), 150)}", "is the worker running?")


async def kafka_checks(settings: Any, now: datetime) -> list[Check]:
    """Reachable, topics present, groups' lag and wait, and the sources seen in the roll-ups."""
    from aiokafka import TopicPartition

    from claimwatch.config import environment
    from stream.generations import live_generation
    from stream.kafka_io import bounded_reader, read_timed, start_client
    from stream.status import group_offsets
    from stream.topics import TOPICS, describe_topics, topic_configs

    topics = await describe_topics(settings)  # raises when the brokers cannot be reached
    first = settings
    if "claimwatch_generation" not in environment().model_fields_set:  # else pinned, as for every reader
        # The derived topics (alerts, roll-ups) to check are the live generation's.
        settings = dataclasses.replace(settings, generation=await live_generation(settings))
        topics = await describe_topics(settings)
    checks = [
        Check(
            "kafka",
            GREEN,
            f"reachable at {settings.bootstrap_servers} ({settings.security_protocol}); "
            f"live generation {settings.generation}",
        )
    ]
    absent = [str(t["topic"]) for t in topics if not t["exists"]]
    wrong = [
        f"{t['topic']} has {t['partitions']}"
        for t, spec in zip(topics, TOPICS, strict=True)
        if t["exists"] and spec.partitioned and t["partitions"] != settings.partitions
    ]
    configs = await topic_configs(settings, [str(t["topic"]) for t in topics if t["exists"]])
    policy, retention = [], []
    for t, spec in zip(topics, TOPICS, strict=True):
        held = configs.get(str(t["topic"]), {})
        if held.get("cleanup.policy", spec.cleanup) != spec.cleanup:
            policy.append(f"{t['topic']} is {held['cleanup.policy']}, not {spec.cleanup}")
        if spec.retention_ms is not None and held.get("retention.ms", str(spec.retention_ms)) != str(spec.retention_ms):
            kept = int(held["retention.ms"])
            shown = "forever" if kept < 0 else f"{kept / 86_400_000:g} days"
            retention.append(f"{t['topic']} keeps {shown}, not {spec.retention_ms // 86_400_000} days")
    if absent or wrong or policy:
        checks.append(
            Check(
                "topics",
                RED,
                "; ".join(([f"missing: {', '.join(absent)}"] if absent else []) + wrong + policy),
                "`claimwatch topics create` (partitions must match CLAIMWATCH_PARTITIONS); a wrong cleanup "
                "policy: `kafka-configs --alter` the topic as `claimwatch topics describe` lists it",
            )
        )
    elif retention:
        checks.append(Check("topics", AMBER, "; ".join(retention), "intended? `claimwatch topics describe` lists ours"))
    else:
        checks.append(
            Check(
                "topics",
                GREEN,
                f"{len(topics)} present with their cleanup and retention, events in {settings.partitions} partitions",
            )
        )

    groups: list[GroupFacts] = []
    committed = await group_offsets(settings)
    if committed:
        reader = bounded_reader(settings)
        await start_client(reader, settings)
        try:
            ends = await reader.end_offsets([tp for _, tp, _ in committed])
            waiting: dict[tuple[str, str], list[int]] = {}
            lags: dict[tuple[str, str], int] = {}
            for group, tp, offset in committed:
                key = (group, tp.topic)
                lag = max(0, ends[tp] - offset)
                lags[key] = lags.get(key, 0) + lag
                if lag > 0:
                    reader.assign([TopicPartition(tp.topic, tp.partition)])
                    reader.seek(tp, offset)
                    batch = await reader.getmany(tp, timeout_ms=3000, max_records=1)
                    for record in batch.get(tp, [])[:1]:
                        waiting.setdefault(key, []).append(record.timestamp)
            groups = [
                GroupFacts(g, t, lag, min(waiting[(g, t)]) if waiting.get((g, t)) else None)
                for (g, t), lag in sorted(lags.items())
            ]
        finally:
            await reader.stop()
    checks.append(judge_groups(groups, now))

    rows: list[tuple[int | None, dict[str, Any]]] = []
    catalog: dict[str, dict[str, Any]] = {}
    claims: dict[str, dict[str, Any]] = {}
    # What was read from files is a fact of ingestion, kept in generation 1's roll-ups (batch/job.py).
    records = await read_timed(settings, settings.topic("rollups"), None)
    if settings.generation > 1:
        records = [
            r for r in await read_timed(first, first.topic("rollups"), None) if (r[1] or b"").startswith(b"file|")
        ] + records
    for read_ms, row_key, value in records:
        kind = (row_key or b"").split(b"|", 1)[0]
        if kind not in (b"file", b"catalog", b"claim"):
            continue
        name = (row_key or b"").decode("utf-8", "replace")
        if value is None:  # a tombstone
            catalog.pop(name, None)
            claims.pop(name, None)
            continue
        try:
            row = json.loads(value)
        except ValueError:
            continue
        if not isinstance(row, dict):
            continue
        if kind == b"file":
            rows.append((read_ms, row))
        elif kind == b"catalog":
            catalog[name] = row
        else:
            claims[name] = row
    seen = newest_by_source(rows)
    for source in sorted(set(REQUIRED_SOURCES) | set(seen)):
        checks.append(judge_source(seen.get(source, SourceFacts(source, None)), now))
    by_item = {str(r.get("content_id")): r for r in catalog.values()}
    checks.append(judge_metadata(find_mismatches(by_item, claims.values())))
    return checks


def judge_metadata(found: list[Mismatch]) -> Check:
    """Red when a claim's ISRC or asset differs from the catalog's (claims may go astray)."""
    misdirecting = [m for m in found if m.misdirects]
    if misdirecting:
        first = misdirecting[0]
        return Check(
            "metadata",
            RED,
            f"{len(misdirecting)} ISRC/asset mismatch(es), e.g. {first.content_id} {first.field}: catalog "
            f"{first.catalog!r}, claims report {first.seen!r}",
            "`claimwatch metadata` lists them: correct the catalog or dispute the claims' asset",
        )
    if found:
        return Check("metadata", AMBER, f"{len(found)} title/channel difference(s)", "`claimwatch metadata` lists them")
    return Check("metadata", GREEN, "the claims agree with the catalog")


def aws_checks(
    bucket: str, topics: dict[str, str], rule_name: str, family: str, client: Callable[[str], Any]
) -> list[Check]:
    """The weekly job on ECS (its last run and log tail), its schedule, the bucket and the topics."""
    from batch.manual import ManualRunError, log_stream, log_tail, schedule_target

    checks: list[Check] = []
    events = client("events")
    try:
        rule = events.describe_rule(Name=rule_name)
        target = schedule_target(events, rule_name)
    except (ManualRunError, events.exceptions.ResourceNotFoundException) as exc:
        checks.append(Check("weekly job: schedule", RED, safe_text(str(exc), 200), "deploy infra/claims-report.yaml"))
        rule, target = None, None
    if target is not None and rule is not None:
        ecs = client("ecs")
        arns = ecs.list_tasks(cluster=target.cluster, family=family, desiredStatus="STOPPED").get("taskArns", [])
        tasks = ecs.describe_tasks(cluster=target.cluster, tasks=arns[:100]).get("tasks", []) if arns else []
        tail: list[str] = []
        if tasks:
            newest = newest_first(tasks)[0]
            definition = ecs.describe_task_definition(taskDefinition=newest["taskDefinitionArn"])["taskDefinition"]
            tail = log_tail(
                client("logs"), log_stream(definition["containerDefinitions"][0], newest["taskArn"]), LOG_LINES
            )
        checks.append(judge_tasks(tasks, [safe_text(line, 300) for line in tail]))
        scheduled = [t for t in tasks if str(t.get("startedBy", "")).startswith("events-rule")]
        starts = [t.get("startedAt") or t.get("createdAt") for t in scheduled]
        last = max((s for s in starts if isinstance(s, datetime)), default=None)
        checks.append(next_run(rule, last))
    if bucket:
        s3 = client("s3")
        try:
            s3.head_bucket(Bucket=bucket)
            checks.append(Check("report bucket", GREEN, f"s3://{bucket} reachable"))
        except Exception as exc:  # botocore's ClientError: 404 missing, 403 no permission
            checks.append(
                Check(
                    "report bucket", RED, f"s3://{bucket}: {safe_text(str(exc), 200)}", "create it or fix the task role"
                )
            )
    else:
        checks.append(Check("report bucket", AMBER, "not checked: no --bucket"))
    for label, arn in topics.items():
        if not arn:
            checks.append(Check(label, AMBER, "not checked: not configured"))
            continue
        try:
            client("sns").get_topic_attributes(TopicArn=arn)
            checks.append(Check(label, GREEN, f"{arn} reachable"))
        except Exception as exc:
            checks.append(Check(label, RED, f"{arn}: {safe_text(str(exc), 200)}", "create the topic or fix the ARN"))
    return checks


# ------------------------------------------------------------------------------ the table


def exit_code(checks: list[Check]) -> int:
    return 1 if any(c.state == RED for c in checks) else 0


def as_json(checks: list[Check]) -> str:
    return json.dumps({"checks": [asdict(c) for c in checks], "ok": exit_code(checks) == 0}, indent=1)


def table(checks: list[Check], colour: bool = False) -> str:
    """One line per check: state, name, reason; the next step and supporting lines under it."""
    paint = {GREEN: "\033[32m", AMBER: "\033[33m", RED: "\033[1;31m"} if colour else {}
    width = max((len(c.name) for c in checks), default=10)
    out = []
    for c in checks:
        state = f"{paint.get(c.state, '')}{c.state:<5}{chr(27) + '[0m' if colour else ''}"
        out.append(f"{state}  {c.name:<{width}}  {safe_text(c.detail, 300)}")
        if c.next_step and c.state != GREEN:
            out.append(f"{'':<5}  {'':<{width}}  next: {safe_text(c.next_step, 300)}")
        out += [f"{'':<5}  {'':<{width}}  | {safe_text(line, 300)}" for line in c.lines]
    red = sum(c.state == RED for c in checks)
    amber = sum(c.state == AMBER for c in checks)
    out.append(f"{len(checks)} checks: {red} red, {amber} amber" + (" — all green" if not red and not amber else ""))
    return "\n".join(out)
