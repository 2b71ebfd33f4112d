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
    p.add_argument(
        "--from-snapshot",
        metavar="DATE",
        help="start from this state snapshot (claimwatch snapshots list) and replay only the events after it",
    )
    p.add_argument("--snapshots", help="where the snapshots are (default: CLAIMWATCH_SNAPSHOTS)")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser(
        "snapshots",
        help="dated copies of the live generation's state, for replays that start from them",
        description="take: copy the live generation's state and its committed offsets to a dated snapshot "
        "(daily, as a scheduled task), deleting those older than --keep-days; list: the snapshots kept. "
        "Example: claimwatch snapshots take --to s3://claimwatch-state/snapshots",
    )
    snap = p.add_subparsers(dest="action", required=True)
    q = snap.add_parser(
        "take",
        help="take today's snapshot of the live generation",
        description="Reads the live generation's committed offsets, then its state changelog, and writes "
        "<location>/<date>/ (a file per partition, manifest last); deletes snapshots older than --keep-days. "
        "Example: claimwatch snapshots take --to s3://claimwatch-state/snapshots --keep-days 14",
    )
    q.add_argument("--to", help="folder or s3://bucket/prefix (default: CLAIMWATCH_SNAPSHOTS)")
    q.add_argument(
        "--keep-days", type=int, help="delete snapshots older than this (default: CLAIMWATCH_SNAPSHOT_KEEP_DAYS)"
    )
    q.add_argument("--json", action="store_true", help="print the manifest as JSON")
    q.set_defaults(func=cmd_snapshots_take)
    q = snap.add_parser(
        "list",
        help="the snapshots kept, oldest first",
        description="Each snapshot's date, generation, items, bytes and event offsets. "
        "Example: claimwatch snapshots list --from s3://claimwatch-state/snapshots --json",
    )
    q.add_argument("--from", dest="location", help="folder or s3://bucket/prefix (default: CLAIMWATCH_SNAPSHOTS)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_snapshots_list)

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
    snapshot = None
    if args.from_snapshot:
        from claimwatch.config import environment
        from stream.replay import FromSnapshot

        snapshot = FromSnapshot(args.from_snapshot, args.snapshots or environment().claimwatch_snapshots)
    return replay_main(Settings(), args.generation, since, to, args.processes, shard, snapshot)


def cmd_snapshots_take(args: argparse.Namespace) -> int:
    import json

    from claimwatch.config import environment
    from stream.generations import for_readers
    from stream.settings import Settings
    from stream.snapshots import take_now

    env = environment()
    keep = env.claimwatch_snapshot_keep_days if args.keep_days is None else args.keep_days
    if keep < 1:
        raise ValueError("--keep-days must be 1 or more")
    location = args.to or env.claimwatch_snapshots
    manifest = take_now(for_readers(Settings()), location, keep)
    if args.json:
        print(json.dumps(manifest, indent=1, sort_keys=True))
        return 0
    parts = manifest["partitions"].values()
    print(
        f"snapshot {manifest['name']} of generation {manifest['generation']}: "
        f"{sum(p['items'] for p in parts):,} items, {sum(p['records'] for p in parts):,} records, "
        f"{sum(p['bytes'] for p in parts):,} bytes in {location}"
        + (f"; deleted {', '.join(manifest['deleted'])}" if manifest["deleted"] else "")
    )
    return 0


def cmd_snapshots_list(args: argparse.Namespace) -> int:
    import json

    from claimwatch.config import environment
    from stream.snapshots import Store

    store = Store(args.location or environment().claimwatch_snapshots)
    rows = []
    for name in store.names():
        manifest = store.manifest(name)
        parts = manifest.get("partitions", {}).values()
        rows.append(
            {
                "name": name,
                "generation": manifest.get("generation"),
                "taken_at": manifest.get("taken_at"),
                "items": sum(int(p.get("items", 0)) for p in parts),
                "bytes": sum(int(p.get("bytes", 0)) for p in parts),
                "event_offsets": {k: p.get("event_offset") for k, p in sorted(manifest.get("partitions", {}).items())},
            }
        )
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print(f"no snapshots in {store.location}")
    for row in rows:
        print(
            f"{row['name']}  generation {row['generation']}  taken {row['taken_at']}  {row['items']:,} items  {row['bytes']:,} bytes"
        )
    return 0


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
