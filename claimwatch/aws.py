"""boto3 clients the way every claimwatch job makes them.

The standard credential chain and ``AWS_ENDPOINT_URL`` are boto3's own; the region comes from
``AWS_REGION`` (what ECS and docker-compose set) or ``AWS_DEFAULT_REGION`` (what boto3 reads);
throttling and 5xx answers are retried with backoff (botocore's "standard" mode).
"""

from __future__ import annotations

from typing import Any

DEFAULT_ATTEMPTS = 6


def region() -> str | None:
    from claimwatch.config import aws_region

    return aws_region() or None


def client(service: str, attempts: int = DEFAULT_ATTEMPTS) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": attempts}, connect_timeout=10, read_timeout=60)
    return boto3.client(service, region_name=region(), config=config)
