"""The quarantine: list, show and export what could not be read; release corrections; retract a file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from claimwatch.cli.common import EXIT_PARTIAL, Subparsers, operator, time_arg
from claimwatch.textsafe import safe_text

EXAMPLES: dict[str, str] = {}  # each quarantine command's description carries its example


def register(sub: Subparsers) -> None:
    """The quarantine commands."""
    p = sub.add_parser(
        "quarantine",
        help="list, show or export quarantined records (Kafka topic, or a run folder with --from-dir)",
        description="Every record that could not be read, with its file, line, field and reason code. Filters "
        "combine; --since/--until use when a record was quarantined (Kafka only). Examples: claimwatch quarantine "
        "list --reason encoding; claimwatch quarantine export --from-dir out --out fix-me.csv",
    )
    quarantine_sub = p.add_subparsers(dest="action", required=True)
    examples = {
        "list": "claimwatch quarantine list --reason retracted --since 2026-11-09T00:00:00Z",
        "show": "claimwatch quarantine show q-1a2b3c4d5e6f7a8b9c0d",
        "export": "claimwatch quarantine export --source polls --reason cell_count --out fix-me.csv",
    }
    for action, text in (
        ("list", "one line per record, then counts by source and reason"),
        ("show", "every field of the given entries"),
        ("export", "CSV (for spreadsheets) or JSON Lines, by the file's extension"),
    ):
        a = quarantine_sub.add_parser(
            action, help=text, description=f"{text[0].upper()}{text[1:]}. Example: {examples[action]}"
        )
        a.add_argument("--from-dir", help="an embedded run's output folder (default: the Kafka quarantine topic)")
        a.add_argument("--source", action="append", help="only this source (repeatable), e.g. polls, claims_studio")
        a.add_argument("--reason", action="append", help="only this reason code (repeatable), e.g. encoding")
        a.add_argument("--since", help="quarantined at or after this RFC 3339 time (Kafka only)")
        a.add_argument("--until", help="quarantined before this RFC 3339 time (Kafka only)")
        a.add_argument("--file", help="only records from files whose path contains this")
        a.add_argument("--all", action="store_true", help="also entries already released (corrected)")
        if action == "list":
            a.add_argument("--limit", type=int, default=50, help="records to print (the counts cover all)")
            a.add_argument("--json", action="store_true", help="one JSON object: entries, total, counts")
        if action == "show":
            a.add_argument("ids", nargs="+", help="entry ids (q-…) from `claimwatch quarantine list`")
        if action == "export":
            a.add_argument("--out", required=True, help="FILE.csv or FILE.jsonl")
        a.set_defaults(func=cmd_quarantine_read)
    r = quarantine_sub.add_parser(
        "release",
        help="re-publish corrected records (an export whose raw column people fixed) to the event log",
        description="Each corrected record is read again with its original file's reader (CSV needs the original "
        "file for its header). If any still fails, nothing is published and each is named. Released events keep "
        "their original file and line, and carry who released them, when, and the entry they replace in Kafka "
        "headers, and their quarantine entries are resolved. Exit 4: some records still fail. For an embedded run, add "
        "the corrected file to --input instead. Example: claimwatch quarantine release fix-me.csv --by rights-ops",
    )
    t = quarantine_sub.add_parser(
        "retract",
        help="take a published file's events out of every replay and quarantine its records for correction",
        description="For a file that was read and published but is wrong (two columns swapped, a day of views "
        "multiplied): every event on the log that came from it is recorded on the retractions topic, so "
        "`claimwatch replay` skips it, and each of its records becomes a quarantine entry (reason `retracted`) "
        "holding the line as the file has it. Then: export, correct, release, replay into a new generation, "
        "`claimwatch impact`, promote. The live generation keeps what it derived until a replayed one is promoted. "
        "Example: claimwatch quarantine retract content_owner_active_claims_a3_20261109.csv.gz "
        "--reason 'views and video_duration_sec swapped'",
    )
    t.add_argument("file", help="the file's name, or its path as ingest read it")
    t.add_argument("--reason", required=True, help="what is wrong with it, for the people who correct it")
    t.add_argument("--by", help="who retracts it (default: CLAIMWATCH_OPERATOR or the login name)")
    t.set_defaults(func=cmd_quarantine_retract)
    r.add_argument("file", help="the corrected export, FILE.csv or FILE.jsonl")
    r.add_argument("--by", help="who releases them (default: CLAIMWATCH_OPERATOR or the login name)")
    r.add_argument("--dry-run", action="store_true", help="read them again and say what would be released")
    r.set_defaults(func=cmd_quarantine_release)


def cmd_quarantine_read(args: argparse.Namespace) -> int:
    from claimwatch import quarantine as q

    where = q.Filter(
        sources=frozenset(args.source or []),
        reasons=frozenset(args.reason or []),
        since=time_arg(args.since, "--since"),
        until=time_arg(args.until, "--until"),
        file_contains=args.file,
        include_resolved=args.all,
    )
    if args.from_dir:
        entries = q.select(q.from_run_folder(Path(args.from_dir)), where)
    else:
        import asyncio

        from stream.kafka_io import read_timed
        from stream.settings import Settings

        settings = Settings()
        since_ms = int(where.since.timestamp() * 1000) if where.since else None
        records = asyncio.run(read_timed(settings, settings.topic("quarantine"), since_ms))
        entries = q.select(q.from_records(records), where)
    if args.action == "list" and args.json:
        print(json.dumps(q.listing(entries, args.limit), ensure_ascii=False, indent=1))
    elif args.action == "list":
        for entry in entries[: args.limit]:
            print(q.list_line(entry))
        if len(entries) > args.limit:
            print(f"... {len(entries) - args.limit:,} more (--limit, or export them)")
        print(q.summary(entries))
    elif args.action == "show":
        wanted = set(args.ids)
        found = [e for e in entries if e.entry_id in wanted]
        for entry in found:
            print(q.show(entry) + "\n")
        missing = wanted - {e.entry_id for e in found}
        if missing:
            raise ValueError(
                f"no quarantine entry {', '.join(sorted(missing))} (ids come from `claimwatch quarantine list`)"
            )
    else:
        q.export(entries, Path(args.out))
        print(f"{len(entries):,} quarantined records written to {args.out}")
    return 0


def cmd_quarantine_release(args: argparse.Namespace) -> int:
    import asyncio
    import tempfile

    from claimwatch import quarantine as q

    corrections = q.load_corrections(Path(args.file))
    if not corrections:
        raise ValueError(f"{args.file}: no corrected records in it")
    with tempfile.TemporaryDirectory(prefix="claimwatch-release-") as workdir:
        again = q.reread(corrections, Path(workdir))
    if again.still_bad:
        for correction, entry in again.still_bad:
            print(f"{correction.entry_id}: still {entry.reason_code}: {safe_text(entry.reason, 200)}", file=sys.stderr)
        print(f"{len(again.still_bad)} corrected record(s) still fail; nothing released", file=sys.stderr)
        return EXIT_PARTIAL
    by = operator(args.by)
    entries = len(set(again.replaces.values()))
    if args.dry_run:
        print(f"{len(again.events):,} events from {entries:,} corrected records would be released (dry run)")
        return 0
    from stream.publish import publish_released
    from stream.settings import Settings

    published = asyncio.run(publish_released(again.events, again.replaces, by, Settings()))
    print(
        f"released {entries:,} corrected records as {published['events']:,} events, by {safe_text(by, 80)}; "
        "each event names the entry it replaces in its Kafka headers"
    )
    return 0


def cmd_quarantine_retract(args: argparse.Namespace) -> int:

    from stream.retract import main
    from stream.settings import Settings

    by = operator(args.by)
    if not args.reason.strip():
        raise ValueError("--reason must say what is wrong with the file")
    return main(Settings(), args.file, args.reason.strip(), by)
