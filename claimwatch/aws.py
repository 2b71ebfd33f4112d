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


def ensure_report_targets(bucket: str, topic_name: str) -> str:
    """Create the report bucket and the alerts SNS topic unless they exist (for a local stack);
    the topic's ARN. A bucket outside us-east-1 needs its region named when it is created."""
    s3, sns = client("s3"), client("sns")
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        where = s3.meta.region_name
        if where and where != "us-east-1":
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": where})
        else:
            s3.create_bucket(Bucket=bucket)
    return str(sns.create_topic(Name=topic_name)["TopicArn"])  # idempotent
