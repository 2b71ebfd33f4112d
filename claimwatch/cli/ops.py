"""``doctor``: the runbook's first step when claims processing fails, as one table."""

from __future__ import annotations

import argparse
import sys

from claimwatch.cli.common import Subparsers

EXAMPLES = {
    "doctor": "claimwatch doctor --bucket claimwatch-reports --json",
    "metadata": "claimwatch metadata --from-dir claimwatch-out --json",
}


def register(sub: Subparsers) -> None:
    """Operations."""
    p = sub.add_parser(
        "doctor",
        help="check Kafka, the worker, the data sources, the weekly job on ECS, S3 and SNS: green / amber / red",
        description="One line per check with its state, the reason and the next step (docs/runbook.md). Red: "
        "broken now; amber: not checked here or worth a look. Exit 0 when nothing is red, 1 otherwise.",
    )
    p.add_argument("--json", action="store_true", help="the same checks as JSON objects with their state")
    p.add_argument("--worker-url", help="the worker's /health (default: http://127.0.0.1:$CLAIMWATCH_WEB_PORT/health)")
    p.add_argument("--bucket", default="", help="the report bucket to check (with the task's permissions)")
    p.add_argument("--rule", default="dn-claims-report", help="the weekly schedule's EventBridge rule")
    p.add_argument("--family", default="dn-task-claims-report-process", help="the weekly task's definition family")
    p.add_argument("--no-aws", action="store_true", help="skip the AWS checks (a local stack without AWS)")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser(
        "metadata",
        help="the daily metadata check: ISRCs, assets, titles and channels in the claims reports against the catalog",
        description="From Kafka's roll-ups (or an embedded run's folder). An ISRC or asset id that differs from the "
        "catalog can misdirect claims: exit 1 when any does (a finding to act on); titles and channels that differ "
        "are listed, exit 0.",
    )
    p.add_argument("--from-dir", help="an embedded run's output folder instead of Kafka")
    p.add_argument("--json", action="store_true", help="the counts and the items as one JSON object")
    p.set_defaults(func=cmd_metadata)


def cmd_doctor(args: argparse.Namespace) -> int:
    import asyncio

    from aiokafka.errors import KafkaError

    from claimwatch import doctor
    from claimwatch.aws import client
    from claimwatch.config import aws_region, environment
    from claimwatch.detect.alerting import wall_clock
    from stream.kafka_io import IncompleteRead
    from stream.settings import Settings

    env = environment()
    now = wall_clock()
    checks: list[doctor.Check] = []
    settings = Settings()
    try:
        checks += asyncio.run(doctor.kafka_checks(settings, now))
    except (KafkaError, IncompleteRead, ConnectionError, TimeoutError, OSError) as exc:
        checks.append(
            doctor.Check(
                "kafka",
                doctor.RED,
                f"unreachable at {settings.bootstrap_servers}: {type(exc).__name__}: {' '.join(str(exc).split())}"[
                    :300
                ],
                "are the brokers up? KAFKA_BOOTSTRAP_SERVERS and TLS/SASL settings: `claimwatch config show`",
            )
        )
    checks.append(doctor.health_check(args.worker_url or f"http://127.0.0.1:{env.claimwatch_web_port}/health"))
    if args.no_aws:
        pass
    elif not aws_region():
        checks.append(doctor.Check("aws", doctor.AMBER, "not checked: no AWS_REGION (or --no-aws)"))
    else:
        topics = {
            "report topic": env.claimwatch_sns_topic_arn,
            "readers' topic": env.claimwatch_stakeholder_topic_arn,
        }
        checks += doctor.aws_checks(args.bucket, topics, args.rule, args.family, client)
    if args.json:
        print(doctor.as_json(checks))
    else:
        print(doctor.table(checks, colour=sys.stdout.isatty()))
    return doctor.exit_code(checks)


def cmd_metadata(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from batch.audit import load_inputs, parse_month
    from batch.metadata import find_mismatches, summary
    from batch.report import WeekIndex
    from claimwatch.detect.alerting import wall_clock
    from claimwatch.textsafe import safe_text

    inputs, where = load_inputs(parse_month(None, wall_clock()), Path(args.from_dir) if args.from_dir else None)
    index = WeekIndex.build(inputs)
    claims = [row for week in sorted(index.claims) for row in index.claims[week].values()]
    found = find_mismatches(index.catalog, claims)
    if args.json:
        print(json.dumps(summary(found), indent=1, sort_keys=True))
    else:
        for m in found:
            flag = "MISDIRECTS" if m.misdirects else "differs"
            print(
                safe_text(
                    f"{flag:<10} {m.content_id} {m.field}: catalog {m.catalog!r}, claims report {m.seen!r} "
                    f"({m.claims} claim(s), e.g. {m.example})",
                    400,
                )
            )
        misdirecting = sum(m.misdirects for m in found)
        print(f"{len(found)} mismatch(es) in {where}: {misdirecting} can misdirect claims")
    return 1 if any(m.misdirects for m in found) else 0
