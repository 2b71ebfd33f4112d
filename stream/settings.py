"""Settings of the streaming path, from the environment (the names docker-compose.yml sets)."""

from __future__ import annotations

import functools
import os
import ssl
from dataclasses import dataclass, field
from typing import Any

from claimwatch.envconfig import choice, positive_number

ENV_NAMES = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SSL_CAFILE",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "CLAIMWATCH_REPLICATION_FACTOR",
    "CLAIMWATCH_MIN_INSYNC_REPLICAS",
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


PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")


@dataclass(frozen=True)
class Settings:
    bootstrap_servers: str = field(default_factory=lambda: _env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    # How every client reaches the brokers. MSK: SSL (TLS, port 9094), SASL_SSL with SCRAM-SHA-512
    # (9096), or SASL_SSL with OAUTHBEARER for IAM (9098, signed by the AWS MSK IAM signer library).
    security_protocol: str = field(default_factory=lambda: choice("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", PROTOCOLS))
    ssl_cafile: str = field(default_factory=lambda: _env("KAFKA_SSL_CAFILE", ""))  # empty: the system's CAs
    sasl_mechanism: str = field(default_factory=lambda: choice("KAFKA_SASL_MECHANISM", "PLAIN", MECHANISMS))
    sasl_username: str = field(default_factory=lambda: _env("KAFKA_SASL_USERNAME", ""))
    sasl_password: str = field(default_factory=lambda: _env("KAFKA_SASL_PASSWORD", ""), repr=False)
    # Our topics and the worker's changelogs: 1 on a single local broker, 3 (and 2 in sync) on MSK.
    replication_factor: int = field(default_factory=lambda: _number("CLAIMWATCH_REPLICATION_FACTOR", 1))
    min_insync_replicas: int = field(default_factory=lambda: _number("CLAIMWATCH_MIN_INSYNC_REPLICAS", 1))
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

    def client_options(self) -> dict[str, Any]:
        """What every Kafka client (producer, consumer, admin) is built with: the brokers and how to reach them."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            options["ssl_context"] = ssl_context(self.ssl_cafile)
        if self.security_protocol.startswith("SASL"):
            options["sasl_mechanism"] = self.sasl_mechanism
            if self.sasl_mechanism == "OAUTHBEARER":
                options["sasl_oauth_token_provider"] = msk_iam_token_provider(self.aws_region())
            else:
                if not (self.sasl_username and self.sasl_password):
                    raise ValueError(
                        f"KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are needed for {self.sasl_mechanism}"
                    )
                options["sasl_plain_username"] = self.sasl_username
                options["sasl_plain_password"] = self.sasl_password
        return options

    def topic_configs(self) -> dict[str, str]:
        """Settings every topic of ours is created with, beyond its own cleanup policy."""
        return {"min.insync.replicas": str(self.min_insync_replicas)}

    @staticmethod
    def aws_region() -> str:
        region = os.environ.get("AWS_REGION", "").strip() or os.environ.get("AWS_DEFAULT_REGION", "").strip()
        if not region:
            raise ValueError("AWS_REGION (or AWS_DEFAULT_REGION) is needed to sign MSK IAM authentication")
        return region

    def topic(self, name: str) -> str:
        """A topic's name; the derived ones (alerts, roll-ups) carry the generation from the second on."""
        base = f"{self.topic_prefix}.{name}"
        return f"{base}.g{self.generation}" if name in GENERATED and self.generation > 1 else base

    def worker_app_id(self) -> str:
        """The worker's Faust app id (its consumer group and state changelog) for this generation."""
        return self.app_id if self.generation == 1 else f"{self.app_id}-g{self.generation}"


@functools.cache
def ssl_context(cafile: str) -> ssl.SSLContext:
    """A client TLS context that verifies the brokers: against ``cafile``, or the system's CAs."""
    try:
        context = ssl.create_default_context(cafile=cafile or None)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"KAFKA_SSL_CAFILE {cafile!r} cannot be used: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def msk_iam_token_provider(region: str) -> Any:
    """An aiokafka token provider that signs MSK IAM tokens with the standard AWS credential chain."""
    try:
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider  # type: ignore[import-untyped]
    except ImportError:
        raise ValueError(
            "KAFKA_SASL_MECHANISM=OAUTHBEARER (MSK IAM) needs the signer: pip install 'claimwatch[msk]'"
        ) from None
    from aiokafka.abc import AbstractTokenProvider

    class MskIamTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
        async def token(self) -> str:
            import asyncio

            found, _ = await asyncio.to_thread(MSKAuthTokenProvider.generate_auth_token, region)
            return str(found)

    return MskIamTokenProvider()
