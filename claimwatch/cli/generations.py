"""Generations: ``replay`` the log into a new one, see its ``impact``, ``promote`` it."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from claimwatch.cli.common import Subparsers, since_arg

EXAMPLES: dict[str, str] = {}  # each command's description carries its example


def register(sub: Subparsers) -> None:
    """Replay, impact and promote."""
    p = sub.add_parser(
        "replay",
        help="re-derive state, alerts and roll-ups from the event log into a new generation",
        description="A bounded job: reads the event log from its beginning to the end offsets seen at start (or "
        "--to), drives the detection core in process and writes generation N's alerts (<prefix>.alerts.gN), "
        "roll-ups and state once at the end; a worker started with CLAIMWATCH_GENERATION=N continues from "
        "there. The live generation is not touched. Example: claimwatch replay --generation 2 "
        "--from 2026-11-10T00:00:00Z --processes 2",
    )
    p.add_argument("--generation", type=int, required=True, help="the generation to derive (2 or more)")
    p.add_argument(
        "--from",
        dest="since",
        help="raise alerts from this RFC 3339 time (log time) or offset; state is always "
        "derived from the start of the log",
    )
    p.add_argument("--to", help="stop at this RFC 3339 time (log time; default: the end offsets at start)")
    p.add_argument("--processes", type=int, default=1, help="processes over the partitions (default: 1)")
    p.add_argument(
        "--shard",
        default="0/1",
        help="I/N: replay only the partitions p with p %% N == I (N machines side by side; promote waits for all N)",
    )
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser(
        "impact",
        help="what changed between two generations: alerts, dispute risk, weekly report figures",
        description="Writes impact.json (added, removed, changed alerts; dispute_risk_moves; report_changes "
        "per --week) and impact.html. Example: claimwatch impact --from-gen 1 --to-gen 2 --week 2026-W46 "
        "--out impact-gen2",
    )
    p.add_argument("--from-gen", type=int, required=True)
    p.add_argument("--to-gen", type=int, required=True)
    p.add_argument("--week", action="append", help="ISO week whose report figures to compare (repeatable)")
    p.add_argument("--out", required=True, help="folder for impact.json and impact.html")
    p.set_defaults(func=cmd_impact)

    p = sub.add_parser(
        "promote",
        help="make a replayed generation the live one (what alerts tail, the sinks and the report read)",
        description="Writes the live generation to the control topic and says what it replaced. "
        "Example: claimwatch promote --generation 2",
    )
    p.add_argument("--generation", type=int, required=True)
    p.set_defaults(func=cmd_promote)


def cmd_replay(args: argparse.Namespace) -> int:
    from stream.replay import main as replay_main
    from stream.replay import parse_shard
    from stream.settings import Settings

    since: datetime | int | None = None
    if args.since is not None:
        since = int(args.since) if args.since.isdigit() else since_arg(args.since)
    if args.processes < 1:
        raise ValueError("--processes must be 1 or more")
    from claimwatch.logs import setup as setup_logs

    setup_logs()  # progress as JSON logs; the counts at the end on stdout
    shard = parse_shard(args.shard)
    to = since_arg(args.to) if args.to else None
    return replay_main(Settings(), args.generation, since, to, args.processes, shard)


def cmd_impact(args: argparse.Namespace) -> int:
    from batch.impact import impact, load_generation, load_input_records, write
    from batch.job import parse_week

    weeks = [parse_week(w, datetime.now()) for w in args.week or []]
    before = load_generation(args.from_gen, set(weeks) or None)
    after = load_generation(args.to_gen, set(weeks) or None)
    records = load_input_records()
    result = impact(before, after, weeks, records)
    write(result, Path(args.out))
    print(
        f"generation {args.to_gen} against {args.from_gen}: {len(result['added'])} alerts added, "
        f"{len(result['removed'])} removed, {len(result['changed'])} changed, "
        f"{len(result['dispute_risk_moves'])} dispute-risk moves; {len(records):,} records retracted or released "
        f"on the log; {args.out}/impact.html"
    )
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    import asyncio
    import getpass

    from stream.generations import promote
    from stream.settings import Settings

    previous = asyncio.run(promote(Settings(), args.generation, getpass.getuser()))
    print(f"live generation: {previous} -> {args.generation} (restart the alert sinks to follow it)")
    return 0
