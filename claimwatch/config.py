"""Every environment variable claimwatch reads, in one settings model: its type, default and meaning.

:class:`Environment` (pydantic-settings) is the one place: the stream settings, the readers' size
limits and the sinks read their values from it, and ``claimwatch config show`` prints it with the
values in effect (secrets masked) and where each came from. A bad value is one line naming the
variable, the type it must have and what it got (``environment()`` turns pydantic's error into
that). ``AWS_REGION`` and ``AWS_DEFAULT_REGION`` both work (:func:`aws_region`).

>>> import os
>>> environment().claimwatch_partitions > 0
True
"""

from __future__ import annotations

import difflib
import functools
import os
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, PositiveInt, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# A duration or size in seconds: above 0 and finite (``inf`` would be a timer that never fires).
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Port = Annotated[int, Field(ge=1, le=65535)]

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]


def _var(default: Any, name: str, kind: str, doc: str, used_by: str) -> Any:
    return Field(default, validation_alias=name, description=doc, json_schema_extra={"kind": kind, "used_by": used_by})


class Environment(BaseSettings):
    """claimwatch's environment variables, typed, with their defaults and docs."""

    model_config = SettingsConfigDict(
        case_sensitive=True, env_ignore_empty=True, extra="ignore", str_strip_whitespace=True, frozen=True
    )

    # ---- Kafka and the stream path
    kafka_bootstrap_servers: str = _var(
        "127.0.0.1:9092", "KAFKA_BOOTSTRAP_SERVERS", "text", "the brokers, host:port[,host:port]", "every Kafka command"
    )
    kafka_security_protocol: Protocol = _var(
        "PLAINTEXT",
        "KAFKA_SECURITY_PROTOCOL",
        "text",
        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (MSK: SSL, or SASL_SSL for SCRAM and IAM)",
        "every Kafka command",
    )
    kafka_ssl_cafile: str = _var(
        "",
        "KAFKA_SSL_CAFILE",
        "text",
        "CA bundle that signed the brokers' certificates (empty: the system's)",
        "every Kafka command",
    )
    kafka_sasl_mechanism: Mechanism = _var(
        "PLAIN",
        "KAFKA_SASL_MECHANISM",
        "text",
        "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, or OAUTHBEARER (MSK IAM, signed with the AWS credentials)",
        "every Kafka command",
    )
    kafka_sasl_username: str = _var(
        "", "KAFKA_SASL_USERNAME", "text", "SASL user (PLAIN, SCRAM)", "every Kafka command"
    )
    kafka_sasl_password: SecretStr = _var(
        SecretStr(""), "KAFKA_SASL_PASSWORD", "secret", "SASL password (PLAIN, SCRAM)", "every Kafka command"
    )
    claimwatch_replication_factor: PositiveInt = _var(
        1,
        "CLAIMWATCH_REPLICATION_FACTOR",
        "whole number",
        "replicas of our topics and changelogs (MSK: 3)",
        "topics create, worker, replay",
    )
    claimwatch_min_insync_replicas: PositiveInt = _var(
        1,
        "CLAIMWATCH_MIN_INSYNC_REPLICAS",
        "whole number",
        "min.insync.replicas of our topics (MSK: 2)",
        "topics create, worker, replay",
    )
    claimwatch_topic_prefix: str = _var(
        "claimwatch", "CLAIMWATCH_TOPIC_PREFIX", "text", "prefix of every topic", "every Kafka command"
    )
    claimwatch_partitions: PositiveInt = _var(
        4, "CLAIMWATCH_PARTITIONS", "whole number", "partitions of the keyed topics when created", "topics create"
    )
    claimwatch_app_id: str = _var(
        "claimwatch-worker",
        "CLAIMWATCH_APP_ID",
        "text",
        "the worker's consumer group and state changelog",
        "worker, replay",
    )
    claimwatch_generation: PositiveInt = _var(
        1,
        "CLAIMWATCH_GENERATION",
        "whole number",
        "the generation of derived data read or written (replay)",
        "every Kafka command",
    )
    claimwatch_owner: str = _var(
        "our-label", "CLAIMWATCH_OWNER", "text", "our owner name in rights records", "run, worker, replay"
    )
    claimwatch_web_port: Port = _var(
        6066, "CLAIMWATCH_WEB_PORT", "port", "port of the worker's /health and /metrics", "worker"
    )
    claimwatch_web_bind: str = _var(
        "127.0.0.1", "CLAIMWATCH_WEB_BIND", "text", "address they listen on (the container sets 0.0.0.0)", "worker"
    )
    claimwatch_checkpoint_events: PositiveInt = _var(
        20000, "CLAIMWATCH_CHECKPOINT_EVENTS", "whole number", "a checkpoint after this many events", "worker"
    )
    claimwatch_checkpoint_seconds: PositiveFloat = _var(
        5.0, "CLAIMWATCH_CHECKPOINT_SECONDS", "number", "or after this many seconds", "worker"
    )
    claimwatch_stall_seconds: PositiveFloat = _var(
        60.0, "CLAIMWATCH_STALL_SECONDS", "number", "/health fails after this long without progress", "worker"
    )
    claimwatch_checkpoint_failure_seconds: PositiveFloat = _var(
        60.0,
        "CLAIMWATCH_CHECKPOINT_FAILURE_SECONDS",
        "number",
        "/health fails when checkpoints have failed for this long (events applied, not stored or committed)",
        "worker",
    )
    claimwatch_dead_letter_limit: PositiveInt = _var(
        100,
        "CLAIMWATCH_DEAD_LETTER_LIMIT",
        "whole number",
        "/health fails past this many dead letters in 5 minutes",
        "worker",
    )
    claimwatch_session_timeout_seconds: PositiveFloat = _var(
        6.0, "CLAIMWATCH_SESSION_TIMEOUT_SECONDS", "number", "the worker's consumer session timeout", "worker"
    )
    claimwatch_state_store: str = _var("memory://", "CLAIMWATCH_STATE_STORE", "text", "Faust's table store", "worker")
    claimwatch_snapshots: str = _var(
        "claimwatch-snapshots",
        "CLAIMWATCH_SNAPSHOTS",
        "text",
        "where state snapshots are kept: a folder or s3://bucket/prefix",
        "snapshots, replay --from-snapshot",
    )
    claimwatch_snapshot_keep_days: PositiveInt = _var(
        14, "CLAIMWATCH_SNAPSHOT_KEEP_DAYS", "number", "days of snapshots kept", "snapshots take"
    )
    claimwatch_console_port: int = _var(
        8080, "CLAIMWATCH_CONSOLE_PORT", "number", "the review console's port", "console"
    )
    claimwatch_console_bind: str = _var(
        "127.0.0.1",
        "CLAIMWATCH_CONSOLE_BIND",
        "text",
        "the console's address (beyond loopback: sign-in required)",
        "console",
    )
    claimwatch_console_alb_arn: str = _var(
        "",
        "CLAIMWATCH_CONSOLE_ALB_ARN",
        "text",
        "the load balancer whose signed OIDC header the console requires (empty: local use, no sign-in)",
        "console",
    )
    claimwatch_console_alb_keys_url: str = _var(
        "", "CLAIMWATCH_CONSOLE_ALB_KEYS_URL", "text", "where the ALB's public keys are (default: AWS's)", "console"
    )
    claimwatch_console_impacts: str = _var(
        "",
        "CLAIMWATCH_CONSOLE_IMPACTS",
        "text",
        "a folder of `claimwatch impact --out` folders the console lists",
        "console",
    )
    claimwatch_console_reports: str = _var(
        "claimwatch-reports", "CLAIMWATCH_CONSOLE_REPORTS", "text", "the weekly reports the console lists", "console"
    )
    claimwatch_state_dir: str = _var(
        "claimwatch-state",
        "CLAIMWATCH_STATE_DIR",
        "text",
        "where the worker keeps a local copy of its state changelog (relative: to its working directory; none: no copy)",
        "worker",
    )
    claimwatch_late_allowance_seconds: PositiveFloat = _var(
        900.0,
        "CLAIMWATCH_LATE_ALLOWANCE_SECONDS",
        "number",
        "a poll this much older than the post's latest is jitter (counted); older, it is quarantined as late_poll",
        "run, worker, replay",
    )
    claimwatch_connect_seconds: NonNegativeFloat = _var(
        30.0,
        "CLAIMWATCH_CONNECT_SECONDS",
        "number",
        "how long a one-shot command (status, promote, replay, report, quarantine…) keeps trying to reach a "
        "broker that refuses or does not answer (restarting, overloaded) before its one-line error; 0: once",
        "every Kafka command",
    )
    claimwatch_ingest_deadline_seconds: PositiveFloat = _var(
        300.0,
        "CLAIMWATCH_INGEST_DEADLINE_SECONDS",
        "number",
        "how long ingest retries through a broker outage",
        "ingest, quarantine release",
    )
    # ---- alert consumers
    claimwatch_webhook_url: str = _var(
        "",
        "CLAIMWATCH_WEBHOOK_URL",
        "secret url",
        "the webhook sink's endpoint (Slack-compatible JSON)",
        "alerts sink webhook",
    )
    claimwatch_sns_topic_arn: str = _var(
        "",
        "CLAIMWATCH_SNS_TOPIC_ARN",
        "text",
        "the SNS sink's topic, and the report's notification",
        "alerts sink sns, report",
    )
    claimwatch_stakeholder_topic_arn: str = _var(
        "",
        "CLAIMWATCH_STAKEHOLDER_TOPIC_ARN",
        "text",
        "SNS topic of the report's readers: told in plain language when the weekly report is late or partial",
        "report",
    )
    claimwatch_stakeholder_webhook_url: str = _var(
        "",
        "CLAIMWATCH_STAKEHOLDER_WEBHOOK_URL",
        "secret url",
        "a Slack-compatible webhook that gets the same notices as CLAIMWATCH_STAKEHOLDER_TOPIC_ARN",
        "report",
    )
    claimwatch_alertmanager_url: str = _var(
        "", "CLAIMWATCH_ALERTMANAGER_URL", "url", "Alertmanager's base URL", "alerts sink alertmanager"
    )
    claimwatch_prometheus_url: str = _var(
        "",
        "CLAIMWATCH_PROMETHEUS_URL",
        "url",
        "Prometheus's base URL, scraping the worker: the monthly review's throughput, lag and processing time",
        "audit",
    )
    claimwatch_runbook_url: str = _var(
        "",
        "CLAIMWATCH_RUNBOOK_URL",
        "url",
        "where docs/alerts.md is served (your git host's page of it): each Alertmanager alert's runbook_url is "
        "this with #<alert type>",
        "alerts sink alertmanager",
    )
    claimwatch_webhook_rate_per_second: Annotated[float, Field(ge=0, allow_inf_nan=False)] = _var(
        1.0,
        "CLAIMWATCH_WEBHOOK_RATE_PER_SECOND",
        "rate",
        "messages a second the webhook sink sends at most (Slack: about 1; 0: no limit); the overflow goes in one digest",
        "alerts sink webhook",
    )
    claimwatch_sink_max_backoff_seconds: PositiveFloat = _var(
        30.0,
        "CLAIMWATCH_SINK_MAX_BACKOFF_SECONDS",
        "number",
        "the longest wait between two delivery attempts",
        "alerts sink",
    )
    # ---- reading files
    claimwatch_max_line_bytes: PositiveInt = _var(
        1 << 20, "CLAIMWATCH_MAX_LINE_BYTES", "whole number", "a longer line is quarantined, not read", "run, ingest"
    )
    claimwatch_max_document_bytes: PositiveInt = _var(
        64 << 20, "CLAIMWATCH_MAX_DOCUMENT_BYTES", "whole number", "largest JSON document read whole", "run, ingest"
    )
    claimwatch_max_file_bytes: PositiveInt = _var(
        4 << 30, "CLAIMWATCH_MAX_FILE_BYTES", "whole number", "largest file read (after decompression)", "run, ingest"
    )
    claimwatch_operator: str = _var(
        "",
        "CLAIMWATCH_OPERATOR",
        "text",
        "who releases quarantined records (default: the login name)",
        "quarantine release",
    )
    # ---- collectors (claimwatch collect)
    claimwatch_google_client_id: str = _var(
        "", "CLAIMWATCH_GOOGLE_CLIENT_ID", "text", "OAuth 2.0 client id of the Content Manager app", "collect"
    )
    claimwatch_google_client_secret: SecretStr = _var(
        SecretStr(""), "CLAIMWATCH_GOOGLE_CLIENT_SECRET", "secret", "its client secret", "collect"
    )
    claimwatch_google_refresh_token: SecretStr = _var(
        SecretStr(""),
        "CLAIMWATCH_GOOGLE_REFRESH_TOKEN",
        "secret",
        "a Content Manager user's refresh token (scopes: youtubepartner, yt-analytics.readonly, youtube.readonly)",
        "collect",
    )
    claimwatch_google_secret_id: str = _var(
        "",
        "CLAIMWATCH_GOOGLE_SECRET_ID",
        "text",
        "an AWS Secrets Manager secret (JSON: client_id, client_secret, refresh_token) read instead of the three above",
        "collect",
    )
    claimwatch_google_token_uri: str = _var(
        "https://oauth2.googleapis.com/token",
        "CLAIMWATCH_GOOGLE_TOKEN_URI",
        "url",
        "where access tokens are refreshed",
        "collect",
    )
    claimwatch_google_api_root: str = _var(
        "",
        "CLAIMWATCH_GOOGLE_API_ROOT",
        "url",
        "one root for the Reporting, Content ID and Data APIs instead of Google's (the local stand-in)",
        "collect",
    )
    claimwatch_content_owner_id: str = _var(
        "", "CLAIMWATCH_CONTENT_OWNER_ID", "text", "onBehalfOfContentOwner of every call", "collect"
    )
    claimwatch_collect_report_types: str = _var(
        "content_owner_active_claims_a3,content_owner_asset_conflict_a3,content_owner_video_metadata_a4,"
        "content_owner_basic_a4",
        "CLAIMWATCH_COLLECT_REPORT_TYPES",
        "text",
        "Reporting API report types to fetch, comma-separated (a job is created for those not system-managed)",
        "collect",
    )
    claimwatch_collect_budget_units: PositiveInt = _var(
        10_000, "CLAIMWATCH_COLLECT_BUDGET_UNITS", "whole number", "the Data API project's daily quota", "collect"
    )
    claimwatch_collect_reserve_units: Annotated[int, Field(ge=0)] = _var(
        1_000,
        "CLAIMWATCH_COLLECT_RESERVE_UNITS",
        "whole number",
        "of those, kept back from the poller (other callers of the project, retries)",
        "collect",
    )
    claimwatch_collect_tick_seconds: PositiveFloat = _var(
        60.0, "CLAIMWATCH_COLLECT_TICK_SECONDS", "number", "how often the poller plans and reads", "collect"
    )
    claimwatch_collect_report_seconds: PositiveFloat = _var(
        900.0,
        "CLAIMWATCH_COLLECT_REPORT_SECONDS",
        "number",
        "how often the Reporting and Content ID collectors look for new data",
        "collect",
    )
    claimwatch_collect_metrics_port: Annotated[int, Field(ge=0, le=65535)] = _var(
        6067,
        "CLAIMWATCH_COLLECT_METRICS_PORT",
        "port",
        "port of the collector's /metrics (on CLAIMWATCH_WEB_BIND; 0: none)",
        "collect",
    )
    claimwatch_collect_archive: str = _var(
        "collect-archive",
        "CLAIMWATCH_COLLECT_ARCHIVE",
        "text",
        "folder where each fetched unit is kept as the file the readers read (audit, re-ingest)",
        "collect",
    )
    # ---- AWS (boto3 reads its own variables and credential chain too)
    aws_region: str = _var(
        "", "AWS_REGION", "text", "the region (AWS_DEFAULT_REGION is read too)", "report, aws setup, alerts sink sns"
    )
    aws_default_region: str = _var(
        "", "AWS_DEFAULT_REGION", "text", "the region when AWS_REGION is unset", "report, aws setup, alerts sink sns"
    )
    aws_endpoint_url: str = _var(
        "",
        "AWS_ENDPOINT_URL",
        "url",
        "another endpoint for every AWS service (tests use moto)",
        "report, aws setup, alerts sink sns",
    )
    aws_access_key_id: SecretStr = _var(
        SecretStr(""),
        "AWS_ACCESS_KEY_ID",
        "secret",
        "credentials, when not from a role",
        "report, aws setup, alerts sink sns",
    )
    aws_secret_access_key: SecretStr = _var(
        SecretStr(""),
        "AWS_SECRET_ACCESS_KEY",
        "secret",
        "credentials, when not from a role",
        "report, aws setup, alerts sink sns",
    )
    claimwatch_report_kms_key_id: str = _var(
        "", "CLAIMWATCH_REPORT_KMS_KEY_ID", "text", "encrypt report objects with this KMS key (else SSE-S3)", "report"
    )
    no_color: str = _var("", "NO_COLOR", "text", "set: no colours in the live alert lines", "run, alerts tail")
    # ---- tests and benchmarks (read by scripts/)
    claimwatch_kafka_state: str = _var(
        "", "CLAIMWATCH_KAFKA_STATE", "text", "where scripts/kafka-local keeps its broker", "scripts, benchmarks"
    )
    claimwatch_kafka_cache: str = _var(
        "~/.cache/claimwatch/kafka",
        "CLAIMWATCH_KAFKA_CACHE",
        "text",
        "where scripts/kafka-local keeps the Kafka jars",
        "scripts/kafka-local",
    )
    kafka_version: str = _var(
        "4.1.0", "KAFKA_VERSION", "text", "the Apache Kafka version scripts/kafka-local runs", "scripts/kafka-local"
    )
    kafka_port: Port | None = _var(
        None, "KAFKA_PORT", "port", "the local broker's port (default: a free one)", "scripts/kafka-local"
    )

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


EXPECTED = {
    "whole number": "a whole number above 0",
    "number": "a finite number above 0",
    "port": "a port number, 1 to 65535",
    "rate": "a finite number, 0 or more",
}


def _problem(error: dict[str, Any]) -> str:
    name = str(error["loc"][0]) if error.get("loc") else "a setting"
    field = next((f for f in Environment.model_fields.values() if f.validation_alias == name), None)
    kind = (field.json_schema_extra or {}).get("kind", "text") if field is not None else "text"  # type: ignore[union-attr]
    expected = EXPECTED.get(str(kind))
    if expected is None and error.get("type") == "literal_error":
        expected = "one of " + str((error.get("ctx") or {}).get("expected", "")).replace("'", "")
    return f"{name} must be {expected or 'valid'}, got {str(error.get('input'))[:40]!r}"


@functools.lru_cache(maxsize=8)
def _environment(snapshot: tuple[tuple[str, str | None], ...]) -> Environment:
    # The cache key: the values of every variable of the model, and any unknown CLAIMWATCH_* name.
    problems = [unknown_variable(name) for name, _ in snapshot if name not in KNOWN]
    try:
        env = Environment()
    except ValidationError as exc:
        problems += [_problem(dict(error)) for error in exc.errors()]
    if problems:
        raise ValueError("; ".join(problems))  # every bad variable at once, on one line
    return env


NAMES = tuple(str(f.validation_alias) for f in Environment.model_fields.values())
KNOWN = frozenset(NAMES)
OURS = "CLAIMWATCH_"  # a variable of this prefix that is no setting is a typo, not someone else's


def unknown_variable(name: str) -> str:
    close = difflib.get_close_matches(name, [n for n in NAMES if n.startswith(OURS)], n=1)
    return f"{name} is not a claimwatch setting" + (f" (did you mean {close[0]}?)" if close else "")


def environment() -> Environment:
    """The settings in effect, validated: read again whenever the environment changed. ValueError
    names every bad variable, and every ``CLAIMWATCH_*`` one that is no setting (a typo)."""
    unknown = sorted(name for name in os.environ if name.startswith(OURS) and name not in KNOWN)
    return _environment(tuple((name, os.environ.get(name)) for name in (*NAMES, *unknown)))


def aws_region() -> str:
    """``AWS_REGION``, else ``AWS_DEFAULT_REGION`` (boto3 reads only the second): empty when neither."""
    env = environment()
    return env.aws_region or env.aws_default_region


@dataclass(frozen=True)
class Variable:
    name: str
    kind: str  # "text", "whole number", "number", "url", "secret"
    default: str
    doc: str
    used_by: str

    def value(self) -> tuple[str, str]:
        """(value shown, where it came from)."""
        raw = os.environ.get(self.name, "").strip()
        if not raw:
            return (self.default or "–", "default")
        if self.kind == "secret":
            return ("****", "environment")
        if self.kind in ("url", "secret url"):
            return (masked_url(raw, path_is_secret=self.kind == "secret url")[:200], "environment")
        return (raw[:200], "environment")


def masked_url(url: str, path_is_secret: bool = False) -> str:
    """A URL fit to print: its password (``user:****@``) and query masked, and its path too when the
    path is the credential (a Slack webhook's ``/services/T…/B…/token``).

    >>> masked_url("https://am:hunter2@alertmanager.internal:9093/")
    'https://am:****@alertmanager.internal:9093/'
    >>> masked_url("https://hooks.slack.com/services/T0/B0/abc", path_is_secret=True)
    'https://hooks.slack.com/****'
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "****"
    if not parts.scheme or not host:
        return "****"
    user = f"{parts.username}:****@" if parts.password else (f"{parts.username}@" if parts.username else "")
    path = "/****" if path_is_secret and parts.path.strip("/") else parts.path
    return urlunsplit((parts.scheme, f"{user}{host}{port}", path, "****" if parts.query else "", ""))


def _default(value: Any) -> str:
    if value is None or isinstance(value, SecretStr):
        return ""
    return str(value)


VARIABLES: tuple[Variable, ...] = tuple(
    Variable(
        str(f.validation_alias), str(extra["kind"]), _default(f.default), str(f.description), str(extra["used_by"])
    )
    for f in Environment.model_fields.values()
    if isinstance(extra := f.json_schema_extra, dict)
)


def check() -> None:
    """Read every setting once: a bad value raises ValueError naming its variable."""
    environment()


def rows() -> list[dict[str, Any]]:
    out = []
    for v in VARIABLES:
        shown, source = v.value()
        out.append(
            {
                "name": v.name,
                "type": v.kind,
                "value": shown,
                "from": source,
                "default": v.default,
                "used_by": v.used_by,
                "doc": v.doc,
            }
        )
    return out
