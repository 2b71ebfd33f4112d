"""Settings of the streaming path, from the environment (the names docker-compose.yml sets)."""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from claimwatch.config import aws_region, environment

if TYPE_CHECKING:
    from claimwatch.detect.monitor import MonitorConfig

GENERATED = frozenset({"alerts", "rollups"})  # topics a replay writes anew for its generation


def _get(name: str) -> Any:
    """The value of one variable, from the one settings model (:mod:`claimwatch.config`)."""
    value = getattr(environment(), name.lower())
    return value.get_secret_value() if isinstance(value, SecretStr) else value


@dataclass(frozen=True)
class Settings:
    bootstrap_servers: str = field(default_factory=lambda: _get("KAFKA_BOOTSTRAP_SERVERS"))
    # How every client reaches the brokers. MSK: SSL (TLS, port 9094), SASL_SSL with SCRAM-SHA-512
    # (9096), or SASL_SSL with OAUTHBEARER for IAM (9098, signed by the AWS MSK IAM signer library).
    security_protocol: str = field(default_factory=lambda: _get("KAFKA_SECURITY_PROTOCOL"))
    ssl_cafile: str = field(default_factory=lambda: _get("KAFKA_SSL_CAFILE"))  # empty: the system's CAs
    sasl_mechanism: str = field(default_factory=lambda: _get("KAFKA_SASL_MECHANISM"))
    sasl_username: str = field(default_factory=lambda: _get("KAFKA_SASL_USERNAME"))
    sasl_password: str = field(default_factory=lambda: _get("KAFKA_SASL_PASSWORD"), repr=False)
    # Our topics and the worker's changelogs: 1 on a single local broker, 3 (and 2 in sync) on MSK.
    replication_factor: int = field(default_factory=lambda: _get("CLAIMWATCH_REPLICATION_FACTOR"))
    min_insync_replicas: int = field(default_factory=lambda: _get("CLAIMWATCH_MIN_INSYNC_REPLICAS"))
    topic_prefix: str = field(default_factory=lambda: _get("CLAIMWATCH_TOPIC_PREFIX"))
    partitions: int = field(default_factory=lambda: _get("CLAIMWATCH_PARTITIONS"))
    app_id: str = field(default_factory=lambda: _get("CLAIMWATCH_APP_ID"))
    owner: str = field(default_factory=lambda: _get("CLAIMWATCH_OWNER"))
    late_allowance_seconds: float = field(default_factory=lambda: _get("CLAIMWATCH_LATE_ALLOWANCE_SECONDS"))
    web_port: int = field(default_factory=lambda: _get("CLAIMWATCH_WEB_PORT"))
    # Loopback for local runs; the container sets 0.0.0.0 so Prometheus and ECS health checks reach it.
    web_bind: str = field(default_factory=lambda: _get("CLAIMWATCH_WEB_BIND"))
    # A checkpoint writes each changed item once: after this many events, or this many seconds.
    checkpoint_events: int = field(default_factory=lambda: _get("CLAIMWATCH_CHECKPOINT_EVENTS"))
    checkpoint_seconds: float = field(default_factory=lambda: _get("CLAIMWATCH_CHECKPOINT_SECONDS"))
    # /health turns 503 after this long without progress while events wait, or this many dead letters
    # in five minutes, or the broker unreachable this long.
    stall_seconds: float = field(default_factory=lambda: _get("CLAIMWATCH_STALL_SECONDS"))
    checkpoint_failure_seconds: float = field(default_factory=lambda: _get("CLAIMWATCH_CHECKPOINT_FAILURE_SECONDS"))
    dead_letter_limit: int = field(default_factory=lambda: _get("CLAIMWATCH_DEAD_LETTER_LIMIT"))
    broker_timeout_seconds: float = 20.0
    # How long a client keeps trying to reach the broker when it starts (kafka_io.start).
    connect_seconds: float = field(default_factory=lambda: _get("CLAIMWATCH_CONNECT_SECONDS"))
    # How long ingest keeps retrying through a broker outage before it gives up.
    ingest_deadline_seconds: float = field(default_factory=lambda: _get("CLAIMWATCH_INGEST_DEADLINE_SECONDS"))
    session_timeout_seconds: float = field(default_factory=lambda: _get("CLAIMWATCH_SESSION_TIMEOUT_SECONDS"))
    state_store: str = field(default_factory=lambda: _get("CLAIMWATCH_STATE_STORE"))
    # The worker's local copy of its changelog, so a restart reads only what was written since.
    state_dir: str = field(default_factory=lambda: _get("CLAIMWATCH_STATE_DIR"))
    # A Slack webhook's URL is its credential, and an Alertmanager URL may carry one: never in a repr.
    webhook_url: str = field(default_factory=lambda: _get("CLAIMWATCH_WEBHOOK_URL"), repr=False)
    sns_topic_arn: str = field(default_factory=lambda: _get("CLAIMWATCH_SNS_TOPIC_ARN"))
    alertmanager_url: str = field(default_factory=lambda: _get("CLAIMWATCH_ALERTMANAGER_URL"), repr=False)
    # Which generation of derived data this process reads or writes: 1 is the first (and the names
    # of its topics carry no suffix); a replay derives generation N from the event log.
    generation: int = field(default_factory=lambda: _get("CLAIMWATCH_GENERATION"))

    def monitor_config(self) -> MonitorConfig:
        """The detection core's settings, from these (the core itself never reads the environment)."""
        from claimwatch.detect.monitor import MonitorConfig

        return MonitorConfig(owner=self.owner, late_allowance_seconds=self.late_allowance_seconds)

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
                options["sasl_plain_username"], options["sasl_plain_password"] = self.sasl_login()
        return options

    def sasl_login(self) -> tuple[str, str]:
        """The user name and password of SASL PLAIN or SCRAM; one clear error when either is missing."""
        if not (self.sasl_username and self.sasl_password):
            raise ValueError(f"KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are needed for {self.sasl_mechanism}")
        return self.sasl_username, self.sasl_password

    def topic_configs(self) -> dict[str, str]:
        """Settings every topic of ours is created with, beyond its own cleanup policy."""
        return {"min.insync.replicas": str(self.min_insync_replicas)}

    @staticmethod
    def aws_region() -> str:
        region = aws_region()
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


def msk_iam_signer(region: str) -> Callable[[], tuple[str, int]]:
    """A signer of MSK IAM tokens with the standard AWS credential chain: ``(token, expiry in ms)``."""
    try:
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider  # type: ignore[import-untyped]
    except ImportError:
        raise ValueError(
            "KAFKA_SASL_MECHANISM=OAUTHBEARER (MSK IAM) needs the signer: pip install 'claimwatch[msk]'"
        ) from None

    def sign() -> tuple[str, int]:
        token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
        return str(token), int(expiry_ms)

    return sign


def msk_iam_token_provider(region: str) -> Any:
    """An aiokafka token provider that signs MSK IAM tokens (:func:`msk_iam_signer`)."""
    sign = msk_iam_signer(region)
    from aiokafka.abc import AbstractTokenProvider

    class MskIamTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
        async def token(self) -> str:
            import asyncio

            found, _ = await asyncio.to_thread(sign)
            return found

    return MskIamTokenProvider()
