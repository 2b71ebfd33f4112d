"""Settings of the streaming path, from the environment (the names docker-compose.yml sets)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

ENV_NAMES = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "CLAIMWATCH_TOPIC_PREFIX",
    "CLAIMWATCH_PARTITIONS",
    "CLAIMWATCH_APP_ID",
    "CLAIMWATCH_OWNER",
    "CLAIMWATCH_WEB_PORT",
    "CLAIMWATCH_STATE_STORE",
    "CLAIMWATCH_WEBHOOK_URL",
    "CLAIMWATCH_SNS_TOPIC_ARN",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
)


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    bootstrap_servers: str = field(default_factory=lambda: _env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    topic_prefix: str = field(default_factory=lambda: _env("CLAIMWATCH_TOPIC_PREFIX", "claimwatch"))
    partitions: int = field(default_factory=lambda: int(_env("CLAIMWATCH_PARTITIONS", "4")))
    app_id: str = field(default_factory=lambda: _env("CLAIMWATCH_APP_ID", "claimwatch-worker"))
    owner: str = field(default_factory=lambda: _env("CLAIMWATCH_OWNER", "our-label"))
    web_port: int = field(default_factory=lambda: int(_env("CLAIMWATCH_WEB_PORT", "6066")))
    state_store: str = field(default_factory=lambda: _env("CLAIMWATCH_STATE_STORE", "memory://"))
    webhook_url: str = field(default_factory=lambda: _env("CLAIMWATCH_WEBHOOK_URL", ""))
    sns_topic_arn: str = field(default_factory=lambda: _env("CLAIMWATCH_SNS_TOPIC_ARN", ""))

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}.{name}"
