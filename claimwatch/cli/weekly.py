"""The weekly ``report``, the monthly ``audit``, and ``aws setup`` for a local stack."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from claimwatch.cli.common import Subparsers

EXAMPLES = {
    "aws": "claimwatch aws setup --bucket claimwatch-reports --sns-topic claimwatch-alerts",
    "aws setup": "claimwatch aws setup --bucket claimwatch-reports --sns-topic claimwatch-alerts",
    "aws run-report": "claimwatch aws run-report --week 2026-W46 --wait",
}


def register(sub: Subparsers) -> None:
    """The weekly report, the audit and AWS setup."""
    from batch.job import EXIT_CODES_HELP

    p = sub.add_parser(
        "report",
        help="the weekly summary and dispute-risk report, from Kafka (or a run folder) to a folder or S3",
        description="Build one ISO week's report from the stream's roll-ups, alerts and quarantine on Kafka "
        "(or from an embedded run's output folder) and write it to a folder or s3://bucket/prefix, manifest "
        "last, then notify SNS (CLAIMWATCH_SNS_TOPIC_ARN). Example: claimwatch report --week 2026-W46 "
        "--from-dir claimwatch-out --out s3://reports/weekly",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: the last complete week, UTC)")
    p.add_argument("--from-dir", help="an embedded run's output folder instead of Kafka")
    p.add_argument("--out", default="claimwatch-reports", help="folder or s3://bucket/prefix (default: %(default)s)")
    p.add_argument("--sns-topic", help="SNS topic ARN to notify (default: CLAIMWATCH_SNS_TOPIC_ARN)")
    p.add_argument("--dry-run", action="store_true", help="read and build, print the headline figures, write nothing")
    p.add_argument(
        "--retries",
        type=int,
        default=0,
        choices=range(0, 4),
        metavar="N",
        help="run again up to N times when the input was unavailable (3) or the output failed (5): "
        "safe, a run is idempotent (the scheduled task uses 1)",
    )
    p.add_argument("--retry-after", type=float, default=120.0, metavar="SECONDS", help="wait before a retry")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "audit",
        help="the monthly data-quality audit: completeness per source and day, quarantine, duplicates, trend",
        description="From Kafka's live generation (or an embedded run's folder). Example: claimwatch audit "
        "--month 2026-11 --from-dir claimwatch-out --out audit-2026-11",
    )
    p.add_argument("--month", help="YYYY-MM (default: the last complete month, UTC)")
    p.add_argument("--from-dir", help="an embedded run's output folder instead of Kafka")
    p.add_argument("--out", required=True, help="folder for audit.json and audit.html")
    p.add_argument(
        "--reports",
        help="where the weekly job writes (its --out: folder or s3://bucket/prefix): the monthly performance and "
        "cost review reads its run records there; throughput and lag come from CLAIMWATCH_PROMETHEUS_URL",
    )
    p.add_argument("--prices", help="a JSON price table (the keys of batch/review.py's DEFAULT_PRICES, with as_of)")
    p.add_argument("--family", default="dn-task-claims-report-process", help="the weekly task's definition family")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("aws", help="AWS helpers: a local stack's bucket and topic, the weekly task run by hand")
    aws_sub = p.add_subparsers(dest="action", required=True)
    a = aws_sub.add_parser("setup", help="create the report bucket and the alerts SNS topic if missing")
    a.add_argument("--bucket", required=True)
    a.add_argument("--sns-topic", required=True)
    a.set_defaults(func=cmd_aws_setup)
    a = aws_sub.add_parser(
        "run-report",
        help="start the weekly report's ECS task now, as the schedule does (the runbook's manual processing)",
        description="Reads the cluster, task definition and network settings from the schedule's EventBridge rule "
        "and starts that task once (only the command gets --week when given); with --wait, waits for it to stop "
        "and prints its exit code, stop reason and the last lines of its CloudWatch log. Exit code: the task's own "
        "(0 written, 4 partial, ...), 1 when it stopped without running, 3 when it could not be started or followed.",
    )
    a.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: the task's own, the last complete week)")
    a.add_argument("--wait", action="store_true", help="wait for the task to stop, then print its outcome and log tail")
    a.add_argument("--rule", default="dn-claims-report", help="the schedule's EventBridge rule (default: %(default)s)")
    a.add_argument("--timeout", type=float, default=3600.0, metavar="SECONDS", help="how long --wait waits")
    a.add_argument("--poll", type=float, default=10.0, metavar="SECONDS", help=argparse.SUPPRESS)
    a.set_defaults(func=cmd_aws_run_report)


def cmd_report(args: argparse.Namespace) -> int:
    from batch.job import JobError, run_and_tell

    try:
        outcome = run_and_tell(
            args.retries,
            args.retry_after,
            args.week,
            args.out,
            from_dir=args.from_dir,
            dry_run=args.dry_run,
            sns_topic=args.sns_topic,
        )
    except JobError as exc:
        print(f"claimwatch: error: {exc}", file=sys.stderr)
        return exc.code
    if args.dry_run:
        print(json.dumps(outcome.figures, sort_keys=True))
    else:
        state = "written" if outcome.changed else "unchanged (nothing written, no notification)"
        if outcome.repaired:
            state = f"unchanged, {len(outcome.repaired)} broken object(s) written again ({', '.join(outcome.repaired)})"
        print(f"Weekly report {state}: {outcome.location}")
    return outcome.code


def cmd_audit(args: argparse.Namespace) -> int:
    from batch.audit import build_audit, load_inputs, parse_month, write_audit
    from batch.review import monthly_review
    from claimwatch.detect.alerting import wall_clock

    month = parse_month(args.month, wall_clock())
    inputs, where = load_inputs(month, Path(args.from_dir) if args.from_dir else None)
    audit = build_audit(inputs, month)
    audit["review"] = monthly_review(month, args.reports, args.prices, args.family)
    written = write_audit(audit, Path(args.out))
    cur = audit["current"]
    rate = cur["quarantine_rate"]
    print(
        f"Audit {month} from {where}: {cur['records_read']:,} records on {cur['days_with_data']} days, "
        f"{cur['quarantined_total']:,} quarantined ({'-' if rate is None else f'{rate * 100:.3f} %'}), "
        f"{cur['missing_source_days']} source-days missing"
    )
    print("Wrote " + ", ".join(str(p) for p in written))
    return 0


def cmd_aws_setup(args: argparse.Namespace) -> int:
    from claimwatch.aws import ensure_report_targets

    arn = ensure_report_targets(args.bucket, args.sns_topic)
    print(f"bucket s3://{args.bucket}\nsns topic {arn}")
    return 0


def cmd_aws_run_report(args: argparse.Namespace) -> int:
    from batch.job import parse_week
    from batch.manual import ManualRunError, log_stream, log_tail, outcome_code, schedule_target, start, wait
    from claimwatch.aws import client
    from claimwatch.detect.alerting import wall_clock
    from claimwatch.textsafe import safe_text

    week = parse_week(args.week, wall_clock()) if args.week else None
    ecs = client("ecs")
    try:
        task = schedule_target(client("events"), args.rule)
        task_arn, container = start(ecs, task, week)
        network = task.network.get("awsvpcConfiguration", {})
        print(
            f"Started {task_arn}\n  definition {task.task_definition} on {task.cluster}\n"
            f"  subnets {', '.join(network.get('subnets', [])) or '-'}; security groups "
            f"{', '.join(network.get('securityGroups', [])) or '-'}; week {week or '(the task default)'}"
        )
        if not args.wait:
            return 0
        result = wait(ecs, task.cluster, task_arn, args.timeout, args.poll)
    except ManualRunError as exc:
        print(f"claimwatch: error: {exc}", file=sys.stderr)
        return exc.code
    code = "unknown" if result.exit_code is None else str(result.exit_code)
    print(
        f"Stopped: exit code {code}; {safe_text(result.stop_code or '-', 60)}: {safe_text(result.reason or '-', 300)}"
        f"\n  started {result.started_at or '-'}, stopped {result.stopped_at or '-'}"
    )
    tail = log_tail(client("logs"), log_stream(container, task_arn))
    print("Log tail:" if tail else "Log tail: (no log events)")
    for line in tail:
        print(f"  {safe_text(line, 500)}")
    return outcome_code(result)
