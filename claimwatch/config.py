"""Every environment variable claimwatch reads, in one place: its type, default and meaning.

``claimwatch config show`` prints them with the values in effect (secrets masked) and where each
came from; the readers of each variable check it the same way (:mod:`claimwatch.envconfig`), so a
bad value is one line naming the variable and what it must be. ``tests/test_cli.py`` checks that
every variable the code reads is listed here and that the defaults agree with the code's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


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
        return ("****" if self.kind == "secret" else raw[:200], "environment")


VARIABLES: tuple[Variable, ...] = (
    # ---- Kafka and the stream path
    Variable(
        "KAFKA_BOOTSTRAP_SERVERS", "text", "127.0.0.1:9092", "the brokers, host:port[,host:port]", "every Kafka command"
    ),
    Variable(
        "KAFKA_SECURITY_PROTOCOL",
        "text",
        "PLAINTEXT",
        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (MSK: SSL, or SASL_SSL for SCRAM and IAM)",
        "every Kafka command",
    ),
    Variable(
        "KAFKA_SSL_CAFILE",
        "text",
        "",
        "CA bundle that signed the brokers' certificates (empty: the system's)",
        "every Kafka command",
    ),
    Variable(
        "KAFKA_SASL_MECHANISM",
        "text",
        "PLAIN",
        "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, or OAUTHBEARER (MSK IAM, signed with the AWS credentials)",
        "every Kafka command",
    ),
    Variable("KAFKA_SASL_USERNAME", "text", "", "SASL user (PLAIN, SCRAM)", "every Kafka command"),
    Variable("KAFKA_SASL_PASSWORD", "secret", "", "SASL password (PLAIN, SCRAM)", "every Kafka command"),
    Variable(
        "CLAIMWATCH_REPLICATION_FACTOR",
        "whole number",
        "1",
        "replicas of our topics and changelogs (MSK: 3)",
        "topics create, worker, replay",
    ),
    Variable(
        "CLAIMWATCH_MIN_INSYNC_REPLICAS",
        "whole number",
        "1",
        "min.insync.replicas of our topics (MSK: 2)",
        "topics create, worker, replay",
    ),
    Variable("CLAIMWATCH_TOPIC_PREFIX", "text", "claimwatch", "prefix of every topic", "every Kafka command"),
    Variable(
        "CLAIMWATCH_PARTITIONS", "whole number", "4", "partitions of the keyed topics when created", "topics create"
    ),
    Variable(
        "CLAIMWATCH_APP_ID",
        "text",
        "claimwatch-worker",
        "the worker's consumer group and state changelog",
        "worker, replay",
    ),
    Variable(
        "CLAIMWATCH_GENERATION",
        "whole number",
        "1",
        "the generation of derived data read or written (replay)",
        "every Kafka command",
    ),
    Variable("CLAIMWATCH_OWNER", "text", "our-label", "our owner name in rights records", "run, worker, replay"),
    Variable("CLAIMWATCH_WEB_PORT", "whole number", "6066", "port of the worker's /health and /metrics", "worker"),
    Variable(
        "CLAIMWATCH_WEB_BIND", "text", "127.0.0.1", "address they listen on (the container sets 0.0.0.0)", "worker"
    ),
    Variable("CLAIMWATCH_CHECKPOINT_EVENTS", "whole number", "20000", "a checkpoint after this many events", "worker"),
    Variable("CLAIMWATCH_CHECKPOINT_SECONDS", "number", "5.0", "or after this many seconds", "worker"),
    Variable("CLAIMWATCH_STALL_SECONDS", "number", "60.0", "/health fails after this long without progress", "worker"),
    Variable(
        "CLAIMWATCH_DEAD_LETTER_LIMIT",
        "whole number",
        "100",
        "/health fails past this many dead letters in 5 minutes",
        "worker",
    ),
    Variable("CLAIMWATCH_SESSION_TIMEOUT_SECONDS", "number", "6.0", "the worker's consumer session timeout", "worker"),
    Variable("CLAIMWATCH_STATE_STORE", "text", "memory://", "Faust's table store", "worker"),
    Variable(
        "CLAIMWATCH_INGEST_DEADLINE_SECONDS",
        "number",
        "300.0",
        "how long ingest retries through a broker outage",
        "ingest, quarantine release",
    ),
    # ---- alert consumers
    Variable(
        "CLAIMWATCH_WEBHOOK_URL",
        "url",
        "",
        "the webhook sink's endpoint (Slack-compatible JSON)",
        "alerts sink webhook",
    ),
    Variable(
        "CLAIMWATCH_SNS_TOPIC_ARN",
        "text",
        "",
        "the SNS sink's topic, and the report's notification",
        "alerts sink sns, report",
    ),
    Variable("CLAIMWATCH_ALERTMANAGER_URL", "url", "", "Alertmanager's base URL", "alerts sink alertmanager"),
    Variable(
        "CLAIMWATCH_SINK_MAX_BACKOFF_SECONDS",
        "number",
        "30",
        "the longest wait between two delivery attempts",
        "alerts sink",
    ),
    # ---- reading files
    Variable(
        "CLAIMWATCH_MAX_LINE_BYTES", "whole number", "1048576", "a longer line is quarantined, not read", "run, ingest"
    ),
    Variable(
        "CLAIMWATCH_MAX_DOCUMENT_BYTES", "whole number", "67108864", "largest JSON document read whole", "run, ingest"
    ),
    Variable(
        "CLAIMWATCH_MAX_FILE_BYTES",
        "whole number",
        "4294967296",
        "largest file read (after decompression)",
        "run, ingest",
    ),
    Variable(
        "CLAIMWATCH_OPERATOR",
        "text",
        "",
        "who releases quarantined records (default: the login name)",
        "quarantine release",
    ),
    # ---- AWS (boto3's own variables and credential chain)
    Variable(
        "AWS_REGION", "text", "", "the region (AWS_DEFAULT_REGION is read too)", "report, aws setup, alerts sink sns"
    ),
    Variable(
        "AWS_DEFAULT_REGION", "text", "", "the region when AWS_REGION is unset", "report, aws setup, alerts sink sns"
    ),
    Variable(
        "AWS_ENDPOINT_URL",
        "url",
        "",
        "another endpoint for every AWS service (tests use moto)",
        "report, aws setup, alerts sink sns",
    ),
    Variable(
        "AWS_ACCESS_KEY_ID", "secret", "", "credentials, when not from a role", "report, aws setup, alerts sink sns"
    ),
    Variable(
        "AWS_SECRET_ACCESS_KEY", "secret", "", "credentials, when not from a role", "report, aws setup, alerts sink sns"
    ),
    Variable(
        "CLAIMWATCH_REPORT_KMS_KEY_ID", "text", "", "encrypt report objects with this KMS key (else SSE-S3)", "report"
    ),
    Variable("NO_COLOR", "text", "", "set: no colours in the live alert lines", "run, alerts tail"),
    # ---- tests and benchmarks
    Variable("CLAIMWATCH_KAFKA_STATE", "text", "", "where scripts/kafka-local keeps its broker", "scripts, benchmarks"),
    Variable(
        "CLAIMWATCH_KAFKA_CACHE",
        "text",
        "~/.cache/claimwatch/kafka",
        "where scripts/kafka-local keeps the Kafka jars",
        "scripts/kafka-local",
    ),
    Variable(
        "KAFKA_VERSION", "text", "4.1.0", "the Apache Kafka version scripts/kafka-local runs", "scripts/kafka-local"
    ),
    Variable("KAFKA_PORT", "whole number", "", "the local broker's port (default: a free one)", "scripts/kafka-local"),
)


def check() -> None:
    """Read every checked setting once: a bad value raises ValueError naming its variable."""
    from claimwatch.ingest.readers import ReadLimits
    from stream.settings import Settings

    Settings()
    ReadLimits.from_env()
    from claimwatch.envconfig import positive_number

    positive_number("CLAIMWATCH_SINK_MAX_BACKOFF_SECONDS", 30.0, float)


def rows() -> list[dict[str, Any]]:
    out = []
    for v in VARIABLES:
        shown, source = v.value()
        out.append({"name": v.name, "type": v.kind, "value": shown, "from": source, "default": v.default,
                    "used_by": v.used_by, "doc": v.doc})  # fmt: skip
    return out
