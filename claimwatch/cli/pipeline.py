"""The stream's commands: ``ingest`` files onto the log, ``topics``, the ``worker``, and ``status``."""

from __future__ import annotations

import argparse
import json
import sys

from claimwatch.cli.common import Subparsers, local_paths, print_counts
from claimwatch.textsafe import safe_text

EXAMPLES = {
    "topics": "claimwatch topics create",
    "ingest": "claimwatch ingest exports/ --follow",
    "worker": "CLAIMWATCH_WEB_PORT=6066 claimwatch worker",
    "status": "claimwatch status --json",
}


def register(sub: Subparsers) -> None:
    """Ingest, topics, the worker and status."""
    from claimwatch.ingest.readers import BY_NAME

    p = sub.add_parser("ingest", help="read files and publish validated events to Kafka")
    p.add_argument("paths", nargs="+")
    p.add_argument(
        "--kind",
        choices=["auto", *BY_NAME],
        default="auto",
        help="the input source, skipping recognition (default: auto): one of the names the per-source table prints",
    )
    p.add_argument("--follow", action="store_true", help="keep watching the folders for new export files")
    p.add_argument("--poll-seconds", type=float, default=10.0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("topics", help="create or describe the Kafka topics")
    p.add_argument("action", choices=["create", "describe"])
    p.add_argument("--json", action="store_true", help="one JSON object: what was created and every topic")
    p.set_defaults(func=cmd_topics)

    p = sub.add_parser("worker", help="the Faust stream worker (detection core over the event log)")
    p.add_argument("--loglevel", default="info")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("status", help="topics, consumer-group lag (claimwatch's groups only) and the last alert")
    p.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    p.set_defaults(func=cmd_status)


def cmd_ingest(args: argparse.Namespace) -> int:
    from stream.publish import ingest, watch
    from stream.settings import Settings

    settings = Settings()
    kind = None if args.kind == "auto" else args.kind

    def on_progress(done: int, total: int) -> None:
        if not args.quiet:
            print(f"  … published {done:,}/{total:,} events", file=sys.stderr, flush=True)

    if args.follow:
        from claimwatch.logs import setup as setup_logs

        setup_logs()  # a long-running command: JSON logs, like the worker's
        return watch(local_paths(args.paths), settings, kind, on_progress, poll_s=args.poll_seconds)
    report = ingest(local_paths(args.paths), settings, kind, on_progress)
    print_counts(report.by_source)
    print(
        f"\nPublished {report.published['events']:,} events ({report.duplicates:,} duplicates dropped), "
        f"{report.quarantined:,} quarantine entries, catalog {report.published['catalog']:,}, "
        f"rights {report.published['rights']:,} in {report.seconds:.1f}s; "
        f"counts reconcile: {'yes' if report.reconciles() else 'NO'}"
    )
    return 0 if report.reconciles() else 1


def cmd_topics(args: argparse.Namespace) -> int:
    import asyncio

    from stream.settings import Settings
    from stream.topics import create_topics, describe_topics

    settings = Settings()
    created = asyncio.run(create_topics(settings)) if args.action == "create" else []
    rows = asyncio.run(describe_topics(settings))
    if args.json:
        print(json.dumps({"created": created, "topics": rows}, indent=1, default=str))
        return 0
    if args.action == "create":
        print(f"created: {', '.join(created) if created else 'nothing (all exist)'}")
    for row in rows:
        print(
            f"  {row['topic']:28} partitions={row['partitions']!s:5} cleanup={row['cleanup']:8} "
            f"retention_days={row['retention_days']!s:5} key={row['key']}"
        )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from stream.worker import main as worker_main

    worker_main(loglevel=args.loglevel)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    import asyncio
    from datetime import UTC, datetime

    from stream.settings import Settings
    from stream.status import status

    found = asyncio.run(status(Settings()))
    if args.json:
        print(json.dumps(found, indent=1, default=str))
        return 0
    print("Topics")
    for t in found["topics"]:
        print(f"  {t['topic']:28} {'exists' if t['exists'] else 'MISSING':8} partitions={t['partitions']}")
    print("Consumer groups (lag = records not yet processed)")
    for g in found["consumer_groups"]:
        print(f"  {safe_text(g['group']):36} {g['topic']:28} lag={g['lag']:,}")
    last = found["last_alert"]
    if last:
        when = datetime.fromtimestamp(last["written_ms"] / 1000, tz=UTC).isoformat(timespec="seconds")
        print(f"Last alert: {when}  {safe_text(str(last['type']))}  {safe_text(str(last['title']))}")
    else:
        print("Last alert: none yet")
    return 0
