"""``alerts tail`` (read them), ``alerts sink`` (deliver them) and ``alerts export`` (one generation's)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from claimwatch.cli.common import Subparsers, since_arg
from claimwatch.config import environment
from schemas.alerts import ALERT_TYPES, SEVERITIES

EXAMPLES = {
    "alerts": "claimwatch alerts tail --min-severity high --since 2026-11-10T00:00:00Z",
    "alerts tail": "claimwatch alerts tail --min-severity high --since 2026-11-10T00:00:00Z",
    "alerts sink": "CLAIMWATCH_WEBHOOK_URL=https://hooks.slack.com/services/… claimwatch alerts sink webhook",
}


def register(sub: Subparsers) -> None:
    """The alert consumers."""
    p = sub.add_parser("alerts", help="alert consumers")
    alerts_sub = p.add_subparsers(dest="action", required=True)
    e = alerts_sub.add_parser(
        "export",
        help="write one generation's alerts as JSON Lines",
        description="Example: claimwatch alerts export --generation 2 --out gen2.jsonl",
    )
    e.add_argument("--generation", type=int, required=True)
    e.add_argument("--out", required=True, help="the JSON Lines file to write")
    e.set_defaults(func=cmd_alerts_export)

    t = alerts_sub.add_parser(
        "tail",
        help="print alerts: the retained ones asked for in event time order, then new ones as they arrive",
    )
    t.add_argument("--min-severity", choices=SEVERITIES, default="info")
    t.add_argument("--type", action="append", choices=ALERT_TYPES)
    t.add_argument("--from-beginning", action="store_true", help="every retained alert (default: new ones only)")
    t.add_argument("--since", help="alerts written since this RFC 3339 time")
    t.add_argument("--idle-exit", type=float, default=0.0, help="stop after this many idle seconds (0: never)")
    t.add_argument("--json", action="store_true", help="each alert as one JSON object per line (the alert contract)")
    t.set_defaults(func=cmd_alerts_tail)
    k = alerts_sub.add_parser(
        "sink",
        help="deliver alerts to a webhook, Amazon SNS or Alertmanager (at least once, never dropped)",
        description="A new sink group starts from the earliest retained alert (or --since); a running one "
        "goes on from its committed offset. Delivery retries forever with capped backoff, honours "
        "Retry-After, and commits only after delivery; a storm about one subject becomes one digest.",
    )
    k.add_argument("kind", choices=["webhook", "sns", "alertmanager"])
    k.add_argument("--min-severity", choices=SEVERITIES, default="info", help="deliver from this severity up")
    k.add_argument("--type", action="append", choices=ALERT_TYPES, help="deliver only these types (repeatable)")
    k.add_argument("--since", help="a new group starts at alerts written since this RFC 3339 time")
    k.add_argument("--from-beginning", action="store_true", help="re-read every retained alert")
    k.add_argument("--idle-exit", type=float, default=0.0, help="stop after this many idle seconds (0: never)")
    k.set_defaults(func=cmd_alerts_sink)


def cmd_alerts_tail(args: argparse.Namespace) -> int:
    from stream.consumers import tail
    from stream.generations import for_readers
    from stream.settings import Settings

    return tail(
        settings=for_readers(Settings()),
        min_severity=args.min_severity,
        types=set(args.type or []),
        from_beginning=args.from_beginning,
        idle_exit_s=args.idle_exit,
        colour=sys.stdout.isatty() and not environment().no_color,
        since=since_arg(args.since),
        as_json=args.json,
    )


def cmd_alerts_sink(args: argparse.Namespace) -> int:
    from claimwatch.config import environment
    from stream.consumers import run_sink
    from stream.generations import for_readers
    from stream.settings import Settings

    environment()  # a bad value says so before any broker
    from claimwatch.logs import setup as setup_logs

    setup_logs()  # a long-running command: JSON logs, like the worker's
    return run_sink(
        args.kind,
        settings=for_readers(Settings()),
        from_beginning=args.from_beginning,
        idle_exit_s=args.idle_exit,
        min_severity=args.min_severity,
        types=args.type or (),
        since=since_arg(args.since),
    )


def cmd_alerts_export(args: argparse.Namespace) -> int:
    from stream.generations import export_alerts
    from stream.settings import Settings

    written = export_alerts(Settings(), args.generation, Path(args.out))
    print(f"{written:,} alerts of generation {args.generation} written to {args.out}")
    return 0
