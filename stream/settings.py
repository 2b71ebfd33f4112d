"""Settings of the streaming path, from the environment (the names docker-compose.yml sets)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from claimwatch.envconfig import positive_number

ENV_NAMES = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "CLAIMWATCH_TOPIC_PREFIX",
    "CLAIMWATCH_PARTITIONS",
    "CLAIMWATCH_APP_ID",
    "CLAIMWATCH_OWNER",
    "CLAIMWATCH_WEB_PORT",
    "CLAIMWATCH_WEB_BIND",
    "CLAIMWATCH_CHECKPOINT_EVENTS",
    "CLAIMWATCH_CHECKPOINT_SECONDS",
    "CLAIMWATCH_STALL_SECONDS",
    "CLAIMWATCH_DEAD_LETTER_LIMIT",
    "CLAIMWATCH_SESSION_TIMEOUT_SECONDS",
    "CLAIMWATCH_INGEST_DEADLINE_SECONDS",
    "CLAIMWATCH_STATE_STORE",
    "CLAIMWATCH_WEBHOOK_URL",
    "CLAIMWATCH_SNS_TOPIC_ARN",
    "CLAIMWATCH_ALERTMANAGER_URL",
    "CLAIMWATCH_GENERATION",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "CLAIMWATCH_REPORT_KMS_KEY_ID",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
)


GENERATED = frozenset({"alerts", "rollups"})  # topics a replay writes anew for its generation


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _number(name: str, default: float, kind: type[int] | type[float] = int) -> Any:
    return positive_number(name, default, kind)


@dataclass(frozen=True)
class Settings:
    bootstrap_servers: str = field(default_factory=lambda: _env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    topic_prefix: str = field(default_factory=lambda: _env("CLAIMWATCH_TOPIC_PREFIX", "claimwatch"))
    partitions: int = field(default_factory=lambda: _number("CLAIMWATCH_PARTITIONS", 4))
    app_id: str = field(default_factory=lambda: _env("CLAIMWATCH_APP_ID", "claimwatch-worker"))
    owner: str = field(default_factory=lambda: _env("CLAIMWATCH_OWNER", "our-label"))
    web_port: int = field(default_factory=lambda: _number("CLAIMWATCH_WEB_PORT", 6066))
    # Loopback for local runs; the container sets 0.0.0.0 so Prometheus and ECS health checks reach it.
    web_bind: str = field(default_factory=lambda: _env("CLAIMWATCH_WEB_BIND", "127.0.0.1"))
    # A checkpoint writes each changed item once: after this many events, or this many seconds.
    checkpoint_events: int = field(default_factory=lambda: _number("CLAIMWATCH_CHECKPOINT_EVENTS", 20_000))
    checkpoint_seconds: float = field(default_factory=lambda: _number("CLAIMWATCH_CHECKPOINT_SECONDS", 5.0, float))
    # /health turns 503 after this long without progress while events wait, or this many dead letters
    # in five minutes, or the broker unreachable this long.
    stall_seconds: float = field(default_factory=lambda: _number("CLAIMWATCH_STALL_SECONDS", 60.0, float))
    dead_letter_limit: int = field(default_factory=lambda: _number("CLAIMWATCH_DEAD_LETTER_LIMIT", 100))
    broker_timeout_seconds: float = 20.0
    # How long ingest keeps retrying through a broker outage before it gives up.
    ingest_deadline_seconds: float = field(
        default_factory=lambda: _number("CLAIMWATCH_INGEST_DEADLINE_SECONDS", 300.0, float)
    )
    session_timeout_seconds: float = field(
        default_factory=lambda: _number("CLAIMWATCH_SESSION_TIMEOUT_SECONDS", 6.0, float)
    )
    state_store: str = field(default_factory=lambda: _env("CLAIMWATCH_STATE_STORE", "memory://"))
    webhook_url: str = field(default_factory=lambda: _env("CLAIMWATCH_WEBHOOK_URL", ""))
    sns_topic_arn: str = field(default_factory=lambda: _env("CLAIMWATCH_SNS_TOPIC_ARN", ""))
    alertmanager_url: str = field(default_factory=lambda: _env("CLAIMWATCH_ALERTMANAGER_URL", ""))
    # Which generation of derived data this process reads or writes: 1 is the first (and the names
    # of its topics carry no suffix); a replay derives generation N from the event log.
    generation: int = field(default_factory=lambda: _number("CLAIMWATCH_GENERATION", 1))

    def topic(self, name: str) -> str:
        """A topic's name; the derived ones (alerts, roll-ups) carry the generation from the second on."""
        base = f"{self.topic_prefix}.{name}"
        return f"{base}.g{self.generation}" if name in GENERATED and self.generation > 1 else base

    def worker_app_id(self) -> str:
        """The worker's Faust app id (its consumer group and state changelog) for this generation."""
        return self.app_id if self.generation == 1 else f"{self.app_id}-g{self.generation}"
