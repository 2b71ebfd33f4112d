"""``claimwatch report``: one week's summary and dispute-risk report, as the weekly batch task runs it.

Input: Kafka (the roll-ups topic, read whole: it is compacted; the alerts and quarantine topics,
from the offsets of one day before the week's start, looked up by timestamp, to their end) or the
output folder of an embedded run (``--from-dir``). Both feed the same builder as the embedded run.

Output: a folder or ``s3://bucket/prefix``: ``<prefix>/<week>/`` receives ``report.html``,
``report.json`` and the CSV tables (content types set, server-side encrypted), then
``manifest.json`` last (every key, size and sha256), so a reader that finds the manifest finds the
whole report. A re-run that produces the same bytes writes nothing and sends no notification; a
changed report first removes the old manifest, so a run that fails midway leaves none. Then one
SNS notification with the headline figures and the location, when a topic is configured.

Every stage logs one JSON line on stderr with its duration. Exit codes:

- 0: written (or unchanged);
- 2: wrong arguments (week, target);
- 3: input unavailable (no broker, no such folder, no data for the week);
- 4: partial data: the report was written, but the week has fewer than 7 days of data, no claims
  report, a source missing days, or rows that could not be read (the report says so, and the
  report's readers get a notice: :mod:`batch.notices`);
- 5: output failed (S3, SNS or the folder): no manifest was left for the week.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from batch.notices import NOTICE_FILE, Notice, already_sent, missing_data, next_run, publish, record, was_announced_late
from batch.report import (
    ROLLUPS_FILE,
    ReportInputs,
    WeekIndex,
    build_report,
    keep_row,
    last_complete_week,
    previous_week,
    read_run_folder,
    render_files,
    week_bounds,
)
from claimwatch.config import aws_region, environment
from claimwatch.logs import generation
from claimwatch.quarantine import open_entries
from schemas.alerts import Alert
from schemas.report import WeeklyReport

EXIT_OK, EXIT_USAGE, EXIT_INPUT, EXIT_PARTIAL, EXIT_OUTPUT = 0, 2, 3, 4, 5
EXIT_CODES_HELP = """exit codes:
  0  written (or unchanged since the last run: nothing written, no notification)
  2  wrong arguments (week, output target)
  3  input unavailable: no broker, no such run folder, or no data for the week
  4  partial data: the report was written, but the week has fewer than 7 days of data
     or records that could not be read
  5  output failed (S3, SNS or the folder): no manifest is left for the week"""
MANIFEST = "manifest.json"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".json": "application/json", ".csv": "text/csv; charset=utf-8"}
WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
LOOKBACK = timedelta(days=1)  # alerts are produced at or after their data time, give or take clock skew


def is_file_row(key: bytes | None) -> bool:
    return bool(key) and key.startswith(b"file|")  # type: ignore[union-attr]


class JobError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_week(text: str | None, now: datetime) -> str:
    if text is None:
        return last_complete_week(now)
    match = WEEK.match(text.strip())
    if not match:
        raise JobError(EXIT_USAGE, f"--week {text!r} is not an ISO week like 2026-W47")
    try:
        date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise JobError(EXIT_USAGE, f"--week {text!r} does not exist") from None
    return text.strip()


def log_stage(stage: str, started: float, **fields: Any) -> None:
    line = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "level": "INFO",
        "logger": "claimwatch.report",
        "generation": generation(),
        "stage": stage,
        "seconds": round(time.perf_counter() - started, 3),
        **fields,
    }
    print(json.dumps(line, sort_keys=True, default=str), file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------- input


@dataclass
class Loaded:
    inputs: ReportInputs
    source: str
    unreadable: int = 0


def load_folder(folder: Path, week: str) -> Loaded:
    if not folder.is_dir():
        raise JobError(EXIT_INPUT, f"--from-dir {folder}: no such folder")
    if not (folder / ROLLUPS_FILE).is_file():
        raise JobError(EXIT_INPUT, f"--from-dir {folder}: not the output of `claimwatch run` (no {ROLLUPS_FILE})")
    try:
        return Loaded(read_run_folder(folder, {week, previous_week(week)}), f"folder {folder}")
    except (OSError, ValueError, KeyError) as exc:
        raise JobError(EXIT_INPUT, f"--from-dir {folder}: unreadable: {exc}"[:300]) from None


Records = list[tuple[bytes | None, bytes | None]]


def kafka_records(since_ms: int, keep: Callable[[str], bool]) -> tuple[str, dict[str, bytes], Records, Records]:
    """From the live generation: the latest version of each roll-up row ``keep`` wants (by its key),
    and the alerts and quarantine entries written since ``since_ms``; with a description of where
    they came from. The roll-ups are scanned, not loaded: memory holds the rows kept (the weeks
    reported), whatever the number of weeks the compacted topic retains."""
    from aiokafka.errors import KafkaError

    from stream.generations import for_readers
    from stream.kafka_io import IncompleteRead, read_since, scan
    from stream.settings import Settings

    settings = Settings()
    rows: dict[str, bytes] = {}

    def row(record: Any, files_only: bool = False) -> None:
        if record.key is None:
            return
        key = record.key.decode("utf-8", "replace")
        if (files_only and not is_file_row(record.key)) or not keep(key):
            return
        if record.value is None:
            rows.pop(key, None)  # a tombstone: the row was deleted
        else:
            rows[key] = record.value  # the later version (a key keeps its first place, as in a dict of all)

    async def read() -> tuple[Records, Records]:
        if settings.generation > 1:  # what was read from files is a fact of ingestion, not derived:
            first = dataclasses.replace(settings, generation=1)  # ingest keeps it in generation 1's topic
            await scan(first, first.topic("rollups"), lambda r: row(r, files_only=True))
        await scan(settings, settings.topic("rollups"), row)
        alerts = await read_since(settings, settings.topic("alerts"), since_ms)
        quarantine = await read_since(settings, settings.topic("quarantine"), since_ms)
        return alerts, quarantine

    try:
        settings = for_readers(settings)  # the live generation, unless CLAIMWATCH_GENERATION pins one
        alerts, quarantine = asyncio.run(read())
    except (KafkaError, IncompleteRead, ConnectionError, TimeoutError, OSError) as exc:
        raise JobError(EXIT_INPUT, f"Kafka unavailable at {settings.bootstrap_servers}: {exc}"[:300]) from None
    where = f"kafka {settings.bootstrap_servers} ({settings.topic_prefix}.*, generation {settings.generation})"
    return where, rows, alerts, quarantine


def load_kafka(week: str) -> Loaded:
    since_ms = int((week_bounds(week)[0] - LOOKBACK).timestamp() * 1000)
    loaded = Loaded(ReportInputs(), "")
    wanted = {week, previous_week(week)}
    where, rows, alerts, quarantine = kafka_records(
        since_ms, lambda key: keep_row(key, wanted, loaded.inputs.weeks_seen)
    )
    loaded.source = where
    for key, body in rows.items():
        try:
            row = json.loads(body)
        except ValueError:
            loaded.unreadable += 1
            continue
        if isinstance(row, dict):
            loaded.inputs.rows[key] = row
        else:
            loaded.unreadable += 1
    start, end = week_bounds(week)
    by_id: dict[str, Alert] = {}
    for _, value in alerts:
        try:
            alert = Alert.model_validate_json(value or b"")
        except ValueError:
            loaded.unreadable += 1
            continue
        if start <= alert.event_time <= end:
            by_id.setdefault(alert.alert_id, alert)  # a redelivered alert is the same alert
    loaded.inputs.alerts = list(by_id.values())
    # Entries whose corrected record was released are dealt with: the report counts the open ones.
    entries, unreadable = open_entries(value for _, value in quarantine)
    loaded.inputs.quarantine.extend(entries)
    loaded.unreadable += unreadable
    return loaded


# ---------------------------------------------------------------------------------------- output


class Target(Protocol):
    location: str

    def read(self, name: str) -> bytes | None: ...
    def put(self, name: str, body: bytes) -> None: ...
    def delete(self, name: str) -> None: ...
    def check(self) -> None: ...


@dataclass
class FolderTarget:
    root: Path
    week: str
    location: str = ""

    def __post_init__(self) -> None:
        self.folder = self.root / self.week
        self.location = str(self.folder)
        if self.root.exists() and not self.root.is_dir():
            raise JobError(EXIT_USAGE, f"--out {self.root}: exists and is not a folder")

    def read(self, name: str) -> bytes | None:
        path = self.folder / name
        return path.read_bytes() if path.is_file() else None

    def put(self, name: str, body: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = self.folder / f".{name}.partial"
        partial.write_bytes(body)
        partial.replace(self.folder / name)  # a reader never sees half a file

    def delete(self, name: str) -> None:
        (self.folder / name).unlink(missing_ok=True)

    def check(self) -> None:
        """What a dry run asks: could the report be written here?"""
        existing = next((p for p in (self.folder, *self.folder.parents) if p.exists()), Path("."))
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise JobError(EXIT_OUTPUT, f"--out {self.root}: {existing} cannot be written")


@dataclass
class S3Target:
    bucket: str
    prefix: str
    week: str
    client: Any = None
    location: str = ""

    def __post_init__(self) -> None:
        from claimwatch.aws import client

        self.client = self.client or client("s3")
        base = f"{self.prefix.strip('/')}/{self.week}" if self.prefix.strip("/") else self.week
        self.base = base
        self.location = f"s3://{self.bucket}/{base}/"

    def key(self, name: str) -> str:
        return f"{self.base}/{name}"

    def read(self, name: str) -> bytes | None:
        # Listed first: the task role may list only under its prefix, and S3 answers a GET of a
        # missing key with 403 (not 404) to whoever may not list the bucket as a whole; a listing
        # under the prefix is allowed and says "not there" (a first run has no manifest yet).
        key = self.key(name)
        listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1).get("Contents", [])
        if not any(entry.get("Key") == key for entry in listed):
            return None
        try:
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            return body
        except self.client.exceptions.NoSuchKey:  # deleted between the two requests
            return None

    def put(self, name: str, body: bytes) -> None:
        extra: dict[str, str] = {"ServerSideEncryption": "AES256"}
        kms = environment().claimwatch_report_kms_key_id
        if kms:
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms}
        content_type = CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")
        self.client.put_object(Bucket=self.bucket, Key=self.key(name), Body=body, ContentType=content_type, **extra)

    def delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(name))

    def check(self) -> None:
        """What a dry run asks: does the bucket exist, and may these credentials reach it?"""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            raise JobError(
                EXIT_OUTPUT, f"--out s3://{self.bucket}: cannot be reached: {type(exc).__name__}: {exc}"[:400]
            ) from None


S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
SNS_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?")


def check_arguments(out: str, topic: str) -> None:
    """What can be wrong before anything is read: an output or topic that cannot be one."""
    if out.startswith("s3://"):
        bucket = out[len("s3://") :].partition("/")[0]
        if not S3_BUCKET.fullmatch(bucket):
            raise JobError(EXIT_USAGE, f"--out {out!r}: {bucket!r} is not an S3 bucket name (s3://bucket/prefix)")
    if topic and not SNS_TOPIC_ARN.fullmatch(topic):
        raise JobError(EXIT_USAGE, f"SNS topic {topic!r} is not a topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"[:300])


def make_target(out: str, week: str) -> Target:
    if out.startswith("s3://"):
        bucket, _, prefix = out[len("s3://") :].partition("/")
        if not bucket:
            raise JobError(EXIT_USAGE, f"--out {out!r}: no bucket (s3://bucket/prefix)")
        return S3Target(bucket, prefix, week)
    return FolderTarget(Path(out), week)


def manifest(week: str, files: dict[str, bytes], headline: dict[str, Any]) -> bytes:
    """What was written, without a timestamp: the same report gives the same manifest, byte for byte."""
    body = {
        "week": week,
        "files": [
            {
                "name": name,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "content_type": CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream"),
            }
            for name, data in sorted(files.items())
        ],
        "headline": headline,
    }
    return (json.dumps(body, indent=1, sort_keys=True) + "\n").encode()


def headline(report: WeeklyReport) -> dict[str, Any]:
    cs, dq = report.claims_summary, report.data_quality
    return {
        "claims_listed": cs["total"],
        "new_claims": cs["new"],
        "disputed": cs["disputed"],
        "appealed": cs["appealed"],
        "alerts": report.alerts_summary["total"],
        "alerts_to_review": sum(len(g["alerts"]) for g in report.high_priority),
        **dict(zip(("high_risk_claims", "high_risk_assets"), report.high_risk_counts(), strict=True)),
        "days_with_data": dq.get("days_with_data", 0),
        "quarantined": dq.get("quarantined_total", 0),
    }


def console_link(location: str, name: str, region: str = "") -> str | None:
    """The AWS console's page of one report file, for an ``s3://bucket/prefix/`` location (None for a
    folder): people open it signed in with their own access, so the link grants nothing by itself.

    >>> console_link("s3://reports/weekly/2026-W46/", "report.html", "eu-west-1")
    'https://s3.console.aws.amazon.com/s3/object/reports?region=eu-west-1&prefix=weekly%2F2026-W46%2Freport.html'
    """
    if not location.startswith("s3://"):
        return None
    from urllib.parse import quote

    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    key = f"{prefix.rstrip('/')}/{name}" if prefix.strip("/") else name
    where = f"region={quote(region)}&" if region else ""
    return f"https://s3.console.aws.amazon.com/s3/object/{quote(bucket)}?{where}prefix={quote(key, safe='')}"


def notify(topic_arn: str, week: str, figures: dict[str, Any], location: str) -> None:
    from claimwatch.aws import client

    lines = [f"claimwatch weekly report {week}: {location}"]
    link = console_link(location, "report.html", aws_region())
    if link:  # an s3:// address opens nothing in a mail client or Slack; the console does, after sign-in
        lines.append(f"  open (AWS console): {link}")
    lines += [f"  {name.replace('_', ' ')}: {value:,}" for name, value in figures.items()]
    client("sns").publish(
        TopicArn=topic_arn,
        Subject=f"claimwatch weekly report {week}"[:100],
        Message="\n".join(lines),
        MessageAttributes={"type": {"DataType": "String", "StringValue": "weekly_report"}},
    )


# ------------------------------------------------------------------------------------------- run


@dataclass
class Outcome:
    code: int
    location: str = ""
    changed: bool = False
    notified: bool = False
    figures: dict[str, Any] = field(default_factory=dict)
    repaired: list[str] = field(default_factory=list)  # objects an unchanged rerun found broken and rewrote
    week: str = ""
    missing: dict[str, list[str]] = field(default_factory=dict)  # sources missing from the week, by day
    partial_reason: str = ""  # why the report is partial, in words; empty when it is complete
    objects_written: int = 0  # S3 PUTs (or files) of the run, for the monthly cost review
    objects_read: int = 0


RETRYABLE = (EXIT_INPUT, EXIT_OUTPUT)  # a broker or S3 away for a while; not a wrong argument


def run_with_retries(retries: int, retry_after_s: float, *args: Any, **kwargs: Any) -> Outcome:
    """:func:`run`, again after ``retry_after_s`` when it failed on something that may pass (the
    input unavailable, the output failing), up to ``retries`` more times: the scheduled task's
    automatic retry of a failed run (EventBridge retries only a task that could not be started).
    A rerun of a written report changes nothing and notifies nobody, so retrying is safe."""
    for attempt in range(retries + 1):
        try:
            return run(*args, **kwargs)
        except JobError as exc:
            if exc.code not in RETRYABLE or attempt == retries:
                raise
            log_stage(
                "retry", time.perf_counter(), attempt=attempt + 1, after_seconds=retry_after_s, error=str(exc)[:300]
            )
            time.sleep(retry_after_s)
    raise AssertionError("unreachable")


def run(
    week_arg: str | None,
    out: str,
    from_dir: str | None = None,
    dry_run: bool = False,
    sns_topic: str | None = None,
    now: datetime | None = None,
) -> Outcome:
    week = parse_week(week_arg, now or datetime.now(UTC))
    topic = sns_topic or environment().claimwatch_sns_topic_arn
    check_arguments(out, topic)
    started = time.perf_counter()
    loaded = load_folder(Path(from_dir), week) if from_dir else load_kafka(week)
    log_stage(
        "read",
        started,
        week=week,
        source=loaded.source,
        rows=len(loaded.inputs.rows),
        alerts=len(loaded.inputs.alerts),
        quarantine=len(loaded.inputs.quarantine),
        unreadable=loaded.unreadable,
    )
    started = time.perf_counter()
    index = WeekIndex.build(loaded.inputs)
    if week not in index.weeks():
        have = ", ".join(sorted(loaded.inputs.weeks_seen)[-6:]) or "none"
        raise JobError(EXIT_INPUT, f"no data for {week} in {loaded.source} (weeks with data: {have})")
    report = build_report(index, week)
    files = {name: text.encode("utf-8") for name, text in render_files(report).items()}
    figures = headline(report)
    # A refused roll-up row is data the report could not count, like an unreadable record: partial.
    missing = missing_data(dict(report.data_quality))
    why = partial_reason(figures["days_with_data"], loaded.unreadable, len(index.refused), missing)
    partial = bool(why)
    refused = {"rows_refused": len(index.refused), "first_refused": next(iter(index.refused.items()), None)}
    log_stage("build", started, week=week, files=len(files), partial=partial, **figures, **refused)
    code = EXIT_PARTIAL if partial else EXIT_OK
    built = Outcome(code, figures=figures, week=week, missing=missing, partial_reason=why)  # what every ending shares
    if dry_run:
        target = make_target(out, week)
        target.check()
        log_stage("dry-run", time.perf_counter(), week=week, written=False, location=target.location)
        return dataclasses.replace(built, location=target.location)
    started = time.perf_counter()
    try:
        target = make_target(out, week)
        new_manifest = manifest(week, files, figures)
        if target.read(MANIFEST) == new_manifest:
            # Same report, already written, as far as the manifest says: check that every object is
            # still what it lists (one deleted or overwritten since is written again, not trusted).
            broken = [name for name, data in sorted(files.items()) if target.read(name) != data]
            for name in broken:
                target.put(name, files[name])
            reads, writes = 1 + len(files), len(broken)
            log_stage("write", started, week=week, location=target.location, changed=False, repaired=broken)
            return dataclasses.replace(
                built, location=target.location, repaired=broken, objects_written=writes, objects_read=reads
            )
        target.delete(MANIFEST)  # from here until the new one is written, no manifest: no half report
        for name, data in sorted(files.items()):
            target.put(name, data)
        target.put(MANIFEST, new_manifest)
    except JobError:
        raise
    except Exception as exc:  # boto3/botocore or the file system: one line, the output-failure code
        raise JobError(EXIT_OUTPUT, f"writing the report to {out} failed: {type(exc).__name__}: {exc}"[:400]) from None
    log_stage("write", started, week=week, location=target.location, changed=True, files=len(files) + 1)
    notified = False
    if topic:
        started = time.perf_counter()
        try:
            notify(topic, week, figures, target.location)
        except Exception as exc:
            # Without its notification the run failed: no manifest, so the retry writes and notifies.
            with contextlib.suppress(Exception):  # the notification failure is the error to report
                target.delete(MANIFEST)
            raise JobError(EXIT_OUTPUT, f"the notification failed, the run is to be retried: {exc}"[:400]) from None
        notified = True
        log_stage("notify", started, week=week, topic=topic)
    return dataclasses.replace(
        built, location=target.location, changed=True, notified=notified, objects_written=len(files) + 1, objects_read=1
    )


def partial_reason(days_with_data: int, unreadable: int, refused: int, missing: dict[str, list[str]]) -> str:
    """Why a report is partial, for people; empty when it is complete (what the exit code 4 means).

    >>> partial_reason(5, 0, 0, {"claims report": []})
    'data on 5 of 7 days; no claims report at all'
    >>> partial_reason(7, 0, 0, {})
    ''
    """
    parts = []
    if days_with_data < 7:
        parts.append(f"data on {days_with_data} of 7 days")
    parts += [f"no {source} at all" for source, days in sorted(missing.items()) if not days]
    if unreadable:
        parts.append(f"{unreadable:,} stored record(s) unreadable")
    if refused:
        parts.append(f"{refused:,} roll-up row(s) refused")
    if parts and any(days for days in missing.values()):
        parts.append("sources missing some days")
    return "; ".join(parts)


# --------------------------------------------------------------------------- stakeholder notices


def run_and_tell(
    retries: int,
    retry_after_s: float,
    week_arg: str | None,
    out: str,
    now: datetime | None = None,
    **kwargs: Any,
) -> Outcome:
    """:func:`run_with_retries`, then the report's readers told when the week's report is late,
    partial, or written after they were told it was late (see :mod:`batch.notices`)."""
    now = now or datetime.now(UTC)
    started = time.monotonic()
    try:
        outcome = run_with_retries(retries, retry_after_s, week_arg, out, now=now, **kwargs)
    except JobError as exc:
        if not kwargs.get("dry_run"):
            _tell_failed(week_arg, out, exc, now)
            # A failed run costs compute too; but a wrong argument is not a run, and a failed run
            # does not create an output folder that was never there.
            if exc.code != EXIT_USAGE and (out.startswith("s3://") or Path(out).is_dir()):
                _record_run(week_arg, out, now, time.monotonic() - started, exc.code, None)
        raise
    if not kwargs.get("dry_run"):
        _tell_outcome(outcome, out, now)
        _record_run(week_arg, out, now, time.monotonic() - started, outcome.code, outcome)
    return outcome


# One per run under <out>/runs/, apart from the weeks' reports (whose objects a rerun leaves alone):
# what the monthly review reads.
RUNS = "runs"
RUN_RECORD = "{stamp}-{week}.json"


def run_record(
    week: str, started: datetime, seconds: float, code: int, outcome: Outcome | None, peak_rss_mb: float
) -> bytes:
    """What one run cost and did: the monthly review's input (``claimwatch audit --month``)."""
    body = {
        "week": week,
        "started": started.isoformat(),
        "seconds": round(seconds, 3),
        "exit_code": code,
        "peak_rss_mb": round(peak_rss_mb, 1),
        "changed": bool(outcome and outcome.changed),
        "objects_written": outcome.objects_written if outcome else 0,
        "objects_read": outcome.objects_read if outcome else 0,
        "sns_messages": int(bool(outcome and outcome.notified)),
    }
    return (json.dumps(body, sort_keys=True) + "\n").encode()


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def _record_run(
    week_arg: str | None, out: str, now: datetime, seconds: float, code: int, outcome: Outcome | None
) -> None:
    """Best effort: a run whose output is unreachable leaves no record (the review shows it unknown)."""
    try:
        week = outcome.week if outcome and outcome.week else parse_week(week_arg, now)
        target = make_target(out, RUNS)
        target.put(
            RUN_RECORD.format(stamp=now.strftime("%Y%m%dT%H%M%SZ"), week=week),
            run_record(week, now, seconds, code, outcome, peak_rss_mb()),
        )
    except Exception as exc:
        log_stage("run-record", time.perf_counter(), error=str(exc)[:300])


def _stakeholders() -> tuple[str, str]:
    env = environment()
    return env.claimwatch_stakeholder_topic_arn, env.claimwatch_stakeholder_webhook_url


def _tell_failed(week_arg: str | None, out: str, error: JobError, now: datetime) -> None:
    topic, webhook = _stakeholders()
    if not (topic or webhook) or (error.code == EXIT_USAGE and week_arg is not None):
        return  # nobody to tell, or an operator's typing error in a manual run: not a late report
    try:
        week = parse_week(week_arg, now)
    except JobError:
        return
    notice = Notice(week, "failed", str(error), next_attempt=next_run(now))
    _send_once(notice, out, topic, webhook, now)


def _tell_outcome(outcome: Outcome, out: str, now: datetime) -> None:
    topic, webhook = _stakeholders()
    if not (topic or webhook):
        return
    if outcome.code == EXIT_PARTIAL:
        notice = Notice(
            outcome.week,
            "incomplete",
            outcome.partial_reason,
            outcome.missing,
            next_attempt="the report is written again when the missing data arrives and the job is rerun",
            location=outcome.location,
        )
        _send_once(notice, out, topic, webhook, now)
        return
    target = _target_or_none(out, outcome.week)
    previous = _read_or_none(target)
    if was_announced_late(previous):
        _send_once(Notice(outcome.week, "available_late", "", location=outcome.location), out, topic, webhook, now)


def _target_or_none(out: str, week: str) -> Target | None:
    try:
        return make_target(out, week)
    except JobError:
        return None


def _read_or_none(target: Target | None) -> bytes | None:
    if target is None:
        return None
    try:
        return target.read(NOTICE_FILE)
    except Exception:  # the output is what failed: the notice goes out all the same
        return None


def _send_once(notice: Notice, out: str, topic: str, webhook: str, now: datetime) -> None:
    """Publish ``notice`` unless the week's ``notice.json`` says it went out already; record it.
    A notice that cannot be sent is logged, never the run's failure: the report is what matters."""
    target = _target_or_none(out, notice.week)
    if already_sent(_read_or_none(target), notice):
        log_stage("stakeholder-notice", time.perf_counter(), week=notice.week, kind=notice.kind, sent=False)
        return
    started = time.perf_counter()
    try:
        publish(notice, topic, webhook)
    except Exception as exc:
        log_stage("stakeholder-notice", started, week=notice.week, kind=notice.kind, error=str(exc)[:300])
        return
    if target is not None:
        with contextlib.suppress(Exception):  # without the record a rerun may tell them again: harmless
            target.put(NOTICE_FILE, record(notice, now))
    log_stage("stakeholder-notice", started, week=notice.week, kind=notice.kind, sent=True)
