"""``collect``: fetch the inputs from YouTube's APIs (and a folder) onto the event log; its plan; a stand-in."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from claimwatch.cli.common import Subparsers
from claimwatch.textsafe import safe_text

EXAMPLES = {
    "collect": "claimwatch collect --folder exports/internal",
    "collect plan": "claimwatch collect plan --json --limit 20",
    "collect standin": "claimwatch collect standin sample-out/ --port 8099",
}


def register(sub: Subparsers) -> None:
    """Collectors."""
    p = sub.add_parser(
        "collect",
        help="fetch claims, reports and video counters from YouTube's APIs onto the event log, exactly once",
        description="A long-running service: the Reporting and Content ID collectors every "
        "CLAIMWATCH_COLLECT_REPORT_SECONDS, the Data API poller every CLAIMWATCH_COLLECT_TICK_SECONDS within the "
        "daily quota (docs/collectors.md). Credentials: CLAIMWATCH_GOOGLE_CLIENT_ID, CLAIMWATCH_GOOGLE_CLIENT_SECRET, CLAIMWATCH_GOOGLE_REFRESH_TOKEN (see `claimwatch config show`).",
    )
    p.add_argument("--once", action="store_true", help="one round of every collector, then exit (a backfill, a cron)")
    p.add_argument("--folder", help="also publish the distributor's own files (catalog, rights, polls) found here")
    p.add_argument("--archive", help="where fetched units are kept (default: CLAIMWATCH_COLLECT_ARCHIVE)")
    p.add_argument("--no-poll", action="store_true", help="without the Data API poller")
    p.add_argument("--json", action="store_true", help="--once: the round's figures as one JSON object")
    p.set_defaults(func=cmd_collect)
    actions = p.add_subparsers(dest="action")

    plan = actions.add_parser(
        "plan",
        help="the poller's plan: each YouTube video's next reading and why",
        description="From the planner state the running collector saved (the collectors topic) and the "
        "catalogue and open alerts on Kafka.",
    )
    plan.add_argument("--json", action="store_true", help="one JSON object: budget and a row per video")
    plan.add_argument("--limit", type=int, default=50, help="rows shown, the next readings first (default 50; 0: all)")
    plan.set_defaults(func=cmd_plan)

    standin = actions.add_parser(
        "standin",
        help="serve a folder of exports as YouTube's Reporting, Content ID and Data APIs (a local stand-in)",
        description="For trying `collect` without a Content Manager account: point CLAIMWATCH_GOOGLE_API_ROOT and "
        "CLAIMWATCH_GOOGLE_TOKEN_URI at it (client id and secret: any; refresh token: standin-refresh).",
    )
    standin.add_argument("folder")
    standin.add_argument("--port", type=int, default=8099)
    standin.add_argument("--bind", default="127.0.0.1", help="address to listen on (a container: 0.0.0.0)")
    standin.add_argument("--public-url", default="", help="the URL clients reach it at (default http://127.0.0.1:PORT)")
    standin.set_defaults(func=cmd_standin)


def _planner_config() -> object:
    from claimwatch.collect.planner import PlannerConfig
    from claimwatch.config import environment

    env = environment()
    if env.claimwatch_collect_reserve_units >= env.claimwatch_collect_budget_units:
        raise ValueError("CLAIMWATCH_COLLECT_RESERVE_UNITS must be below CLAIMWATCH_COLLECT_BUDGET_UNITS")
    return PlannerConfig(
        budget_units_per_day=env.claimwatch_collect_budget_units, reserve_units=env.claimwatch_collect_reserve_units
    )


def cmd_collect(args: argparse.Namespace) -> int:
    import asyncio

    from claimwatch.cli.common import EXIT_UNAVAILABLE
    from claimwatch.collect.google import ApiFailure
    from claimwatch.collect.planner import PlannerConfig
    from claimwatch.collect.service import build_service, serve
    from claimwatch.config import environment
    from claimwatch.logs import setup as setup_logs
    from stream.settings import Settings

    env = environment()
    folder = Path(args.folder) if args.folder else None
    if folder is not None and not folder.is_dir():
        raise NotADirectoryError(f"--folder {args.folder}: not a folder")
    config = _planner_config()
    assert isinstance(config, PlannerConfig)
    if not args.once:
        setup_logs()  # a long-running command: JSON logs, like the worker's
    try:
        service = build_service(
            Settings(),
            Path(args.archive or env.claimwatch_collect_archive),
            folder,
            env.claimwatch_collect_report_types.split(","),
            poll=not args.no_poll,
            planner_config=config,
            settle=not args.once,
        )
    except ApiFailure as exc:  # the APIs cannot be reached or the token is refused before anything starts
        print(f"claimwatch: error: {safe_text(str(exc), 400)}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    report = asyncio.run(
        serve(
            service,
            env.claimwatch_collect_tick_seconds,
            env.claimwatch_collect_report_seconds,
            args.once,
            env.claimwatch_collect_metrics_port,
            env.claimwatch_web_bind,
        )
    )
    if args.json:
        print(json.dumps(report.__dict__, indent=1, sort_keys=True))
    else:
        print(
            f"collected {report.files} file(s): {report.published:,} events published, "
            f"{report.already_on_log:,} already on the log, {report.quarantined:,} quarantined"
            + (" (a round cut short before was finished first)" if report.recovered else "")
        )
        for name, failure in sorted(report.failures.items()):
            print(f"  {name}: {safe_text(failure, 300)}")
    return 0 if report.reconciles and not report.failures else 1


def cmd_plan(args: argparse.Namespace) -> int:
    import asyncio

    from claimwatch.collect.planner import Planner, PlannerConfig
    from claimwatch.collect.service import CollectService
    from stream.settings import Settings

    config = _planner_config()
    assert isinstance(config, PlannerConfig)
    planner = Planner(config)
    service = CollectService(Settings(), [], Path("."), planner)

    async def load() -> None:
        await service.ledger.load()
        from claimwatch.collect.service import PLANNER_KEY

        for key in sorted(k for k in service.ledger.values if k.startswith(PLANNER_KEY)):
            if isinstance(chunk := service.ledger.values[key], dict):
                planner.load_chunk(chunk)
        await service.refresh_signals()

    asyncio.run(load())
    now = service.clock().timestamp()
    rows = planner.explain(now, limit=args.limit or None)
    allowed = planner.budget.allowed(now)
    if args.json:
        print(
            json.dumps(
                {
                    "videos": len(planner.ids),
                    "budget_units_per_day": config.budget_units_per_day,
                    "reserve_units": config.reserve_units,
                    "units_allowed_now": allowed,
                    "plan": rows,
                },
                indent=1,
            )
        )
        return 0
    print(
        f"{len(planner.ids):,} YouTube videos; budget {config.budget_units_per_day:,} units/day "
        f"({config.reserve_units:,} kept back)"
    )
    for row in rows:
        print(
            f"  {safe_text(row['video_id'], 20):20} next {row['next_poll']}  hazard {row['hazard']:>8}  {'; '.join(row['reasons'])}"
        )
    return 0


def cmd_standin(args: argparse.Namespace) -> int:
    import time

    from claimwatch.collect.standin import RunningStandin

    folder = Path(args.folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{args.folder}: not a folder")
    with RunningStandin(folder, port=args.port, bind=args.bind, public_url=args.public_url) as running:
        print(
            f"stand-in serving {folder} at {running.url} (token URI {running.url}/token); Ctrl-C stops it", flush=True
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
    return 0
