"""``claimwatch``: one command line for every job."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from claimwatch.config import environment
from claimwatch.sample import BUNDLED_SAMPLE
from claimwatch.textsafe import format_alert, safe_text
from schemas.alerts import ALERT_TYPES, SEVERITIES, Alert

__all__ = ["BUNDLED_SAMPLE", "build_parser", "format_alert", "main"]


def print_counts(counts: dict[str, dict[str, int]]) -> None:
    """The per-source table: every record read was accepted or quarantined, and says so."""
    print("Records per source              files   records  accepted  quarantined    events  reconciles")
    for source, row in counts.items():
        ok = row["records"] == row["accepted"] + row["quarantined"]
        print(
            f"  {safe_text(source)[:28]:28} {row['files']:6} {row['records']:9} {row['accepted']:9} "
            f"{row['quarantined']:12} {row['events']:9}  {'yes' if ok else 'NO'}"
        )


RUN_OUTPUT_FILES = frozenset({"alerts.jsonl", "quarantine.jsonl", "rollups.jsonl", "files.jsonl"})
SAMPLE_OUTPUT = frozenset({"analytics", "catalog", "claims", "conflicts", "polls", "rights", "videos", "labels.json"})


def _is_week_folder(path: Path) -> bool:
    name = path.name
    return path.is_dir() and len(name) == 8 and name[:4].isdigit() and name[4:6] == "-W" and name[6:].isdigit()


def _clear_previous_output(out: Path, ours: Callable[[Path], bool], what: str) -> None:
    """Make ``out`` ready: new, empty, or holding only a previous output of ours (removed, so no stale
    week or file of it survives). Anything else in it is someone else's, and refused."""
    if not out.exists():
        return
    if not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file; it must be a folder")
    entries = sorted(out.iterdir())
    foreign = [e.name for e in entries if not ours(e)]
    if foreign:
        raise ValueError(
            f"--out {out} holds files that are not {what} ({', '.join(foreign[:3])}"
            f"{', …' if len(foreign) > 3 else ''}); choose a new or empty folder"
        )
    for entry in entries:
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def local_paths(given: Sequence[str]) -> list[Path]:
    """The files and folders to read: local ones. ``s3://bucket/key`` would become ``s3:/bucket/key``
    as a path and be reported missing; say what to do instead."""
    for text in given:
        if "://" in text:
            raise ValueError(
                f"{text}: claimwatch reads local files and folders; copy the exports here first "
                "(for S3: aws s3 sync s3://bucket/prefix ./exports)"
            )
    return [Path(text) for text in given]


def stdout_to_devnull() -> None:
    """Send what is still printed nowhere once the reader of stdout is gone (Python's own advice:
    otherwise the flush at exit fails again)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def cmd_run(args: argparse.Namespace) -> int:
    from claimwatch.embedded import run, summarise

    inputs = local_paths(args.input) if args.input else [BUNDLED_SAMPLE]
    if not args.input:
        print(f"claimwatch: no --input given, running on the bundled sample ({BUNDLED_SAMPLE})", file=sys.stderr)
    for path in inputs:
        if path.is_dir() and any((path / name).exists() for name in ("rollups.jsonl", "alerts.jsonl")):
            raise ValueError(f"{path} is the output of a claimwatch run, not exports to read")
    out = Path(args.out)
    _clear_previous_output(out, lambda e: e.name in RUN_OUTPUT_FILES or _is_week_folder(e), "a claimwatch run's output")
    colour = sys.stdout.isatty() and not environment().no_color
    min_rank = SEVERITIES.index(args.min_severity)
    started = time.perf_counter()

    def on_alert(alert: Alert) -> None:
        if SEVERITIES.index(alert.severity) >= min_rank:
            try:
                print(format_alert(alert, colour), flush=True)
            except BrokenPipeError:  # `claimwatch run | head`: the reader has enough; the run goes on
                stdout_to_devnull()

    def on_progress(done: int, total: int) -> None:
        if not args.quiet:
            print(f"  … {done:,}/{total:,} events ({100 * done / total:.0f}%)", file=sys.stderr, flush=True)

    owner = args.owner or environment().claimwatch_owner
    result = run(inputs, out, owner=owner, on_alert=on_alert, on_progress=on_progress,
                 late_allowance_s=environment().claimwatch_late_allowance_seconds)  # fmt: skip
    elapsed = time.perf_counter() - started
    print()
    print_counts(result.counts())
    if result.left_out:
        print(f"  and {result.left_out:,} event(s) the detection core left out as impossible or late, also quarantined")
    print(f"\nEvents processed: {result.events:,} ({result.duplicates:,} duplicate records dropped) in {elapsed:.1f}s")
    print("\nAlerts                        " + "".join(f"{s:>9}" for s in SEVERITIES) + "    total")
    for type_, counts in summarise(result.alerts).items():
        cells = "".join(f"{counts.get(s, 0):9}" for s in SEVERITIES)
        print(f"  {type_:28}{cells}{sum(counts.values()):9}")
    print(f"\nWrote {out / 'alerts.jsonl'} ({len(result.alerts)} alerts), {out / 'quarantine.jsonl'}")
    for folder in result.report_dirs:
        print(f"Weekly report: {folder / 'report.html'}")
    read = result.counts().values()
    if not sum(r["records"] for r in read):
        raise ValueError(f"no record in {', '.join(map(str, inputs))}: no export claimwatch knows, or only empty ones")
    if sum(r["accepted"] for r in read) == 0:
        quarantined = sum(r["quarantined"] for r in read)
        print(f"claimwatch: error: every record read was quarantined ({quarantined:,}): "
              f"see {out / 'quarantine.jsonl'}", file=sys.stderr)  # fmt: skip
        return EXIT_PARTIAL
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from claimwatch.sample.generator import generate

    _clear_previous_output(Path(args.out), lambda e: e.name in SAMPLE_OUTPUT, "a claimwatch sample")
    counts = generate(Path(args.out), seed=args.seed, items=args.items, days=args.days)
    for name, n in counts.items():
        print(f"  {name:22} {n:>9,}")
    print(f"Wrote a data set (seed {args.seed}) to {args.out}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from claimwatch.evaluate import evaluate, load_jsonl, load_labels, overall

    alerts = load_jsonl(Path(args.alerts))
    labels = load_labels(Path(args.labels))
    scores = evaluate(alerts, labels)
    print(f"{'type':26}{'labels':>8}{'found':>7}{'recall':>8}{'alerts':>8}{'med+':>6}{'prec':>7}{'delay':>10}")
    for s in scores.values():
        recall = "-" if s.recall is None else f"{s.recall:.2f}"
        precision = "-" if s.precision is None else f"{s.precision:.2f}"
        delay = "-" if s.median_delay_s is None else f"{s.median_delay_s / 3600:.1f}h"
        print(
            f"{s.type:26}{s.labels:8}{s.detected:7}{recall:>8}{s.alerts:8}{s.alerts_medium_plus:6}{precision:>7}{delay:>10}"
        )
    total = overall(scores)
    all_precision, all_recall, median_delay = total["precision"], total["recall"], total["median_delay_s"]
    print(
        f"\noverall: precision (medium+) {'-' if all_precision is None else f'{all_precision:.3f}'}, "
        f"recall {'-' if all_recall is None else f'{all_recall:.3f}'}, "
        f"median detection delay {'-' if median_delay is None else f'{median_delay / 3600:.1f}h'}"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {t: {**s.__dict__, "recall": s.recall, "precision": s.precision} for t, s in scores.items()}
                | {"overall": total},
                indent=1,
            )
            + "\n"
        )
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from claimwatch.evaluate import backtest_folder

    started = time.perf_counter()
    series = Path(args.series)
    if not series.is_dir():
        raise FileNotFoundError(f"no such folder: {series}")
    written = backtest_folder(series, Path(args.out))
    if not written:
        raise ValueError(f"no timestamp,value CSV files under {series}")
    elapsed = time.perf_counter() - started
    print(f"Scored {len(written)} series into {args.out} in {elapsed:.1f}s")
    if args.score:
        if not args.labels:
            raise ValueError("--score needs --labels (NAB's combined_windows.json)")
        from claimwatch.detect.novelty import NoveltyDetector

        _print_nab(Path(args.out), Path(args.labels), args.profiles)
        own = NoveltyDetector().alert_score
        print(f"\nat the detector's own alert threshold ({own:.4f}), as the worker decides:")
        return _print_nab(Path(args.out), Path(args.labels), args.profiles, threshold=own)
    return 0


def cmd_nab_score(args: argparse.Namespace) -> int:
    return _print_nab(Path(args.results), Path(args.labels), args.profiles, threshold=args.threshold)


def _print_nab(results: Path, labels: Path, profiles: str | None, threshold: float | None = None) -> int:
    from claimwatch.nab import score_results

    profiles_path = Path(profiles) if profiles else labels.parent / "profiles.json"
    scored = score_results(results, labels, profiles_path, threshold=threshold)
    categories = sorted({c for r in scored for c in r.by_category})
    print(f"\n{'profile':22}{'score':>8}{'threshold':>11}  " + "".join(f"{c[:14]:>15}" for c in categories))
    for r in scored:
        cells = "".join(f"{r.by_category.get(c, float('nan')):15.2f}" for c in categories)
        print(f"{r.profile:22}{r.score:8.2f}{r.threshold:11.4f}  {cells}")
    return 0


def cmd_schemas(args: argparse.Namespace) -> int:
    from schemas import export_json_schemas

    if Path(args.dir).exists() and not Path(args.dir).is_dir():
        raise ValueError(f"{args.dir} is a file: schemas are written into a folder, one file per schema")
    for path in export_json_schemas(Path(args.dir)):
        print(path)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from claimwatch.bench import main as bench_main
    from claimwatch.bench import novelty_cost

    if args.series:
        return novelty_cost(Path(args.series), repeats=args.repeats, quiet=args.json)
    return bench_main(events=args.events, repeats=args.repeats, quiet=args.json)


def cmd_topics(args: argparse.Namespace) -> int:
    import asyncio

    from stream.settings import Settings
    from stream.topics import create_topics, describe_topics

    settings = Settings()
    if args.action == "create":
        created = asyncio.run(create_topics(settings))
        print(f"created: {', '.join(created) if created else 'nothing (all exist)'}")
    for row in asyncio.run(describe_topics(settings)):
        print(
            f"  {row['topic']:28} partitions={row['partitions']!s:5} cleanup={row['cleanup']:8} "
            f"retention_days={row['retention_days']!s:5} key={row['key']}"
        )
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from stream.ingest import ingest, watch
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


def cmd_worker(args: argparse.Namespace) -> int:
    from stream.worker import main as worker_main

    worker_main(loglevel=args.loglevel)
    return 0


def _since(value: str | None) -> datetime | None:
    return _time_arg(value, "--since")


def _time_arg(value: str | None, name: str) -> datetime | None:
    """An RFC 3339 time given on the command line; a bad one is a one-line error naming ``name``."""
    if not value:
        return None
    from claimwatch.ingest.normalize import FieldError, parse_datetime

    try:
        return parse_datetime(value, name)
    except FieldError as exc:
        raise ValueError(f"{name}: {exc.reason}") from None


def cmd_audit(args: argparse.Namespace) -> int:
    from batch.audit import build_audit, load_inputs, parse_month, write_audit
    from claimwatch.detect.alerting import wall_clock

    month = parse_month(args.month, wall_clock())
    inputs, where = load_inputs(month, Path(args.from_dir) if args.from_dir else None)
    audit = build_audit(inputs, month)
    written = write_audit(audit, Path(args.out))
    cur = audit["current"]
    rate = cur["quarantine_rate"]
    print(f"Audit {month} from {where}: {cur['records_read']:,} records on {cur['days_with_data']} days, "
          f"{cur['quarantined_total']:,} quarantined ({'-' if rate is None else f'{rate * 100:.3f} %'}), "
          f"{cur['missing_source_days']} source-days missing")  # fmt: skip
    print("Wrote " + ", ".join(str(p) for p in written))
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from claimwatch import config

    config.check()  # a bad value: one line naming the variable (exit 2)
    rows = config.rows()
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print(f"{r['name']:{width}}  {safe_text(str(r['value']), 60):30}  {r['from']:11}  {r['doc']}")
    return 0


def cmd_release(args: argparse.Namespace) -> int:
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
    by = _operator(args.by)
    entries = len(set(again.replaces.values()))
    if args.dry_run:
        print(f"{len(again.events):,} events from {entries:,} corrected records would be released (dry run)")
        return 0
    from stream.ingest import publish_released
    from stream.settings import Settings

    published = asyncio.run(publish_released(again.events, again.replaces, by, Settings()))
    print(f"released {entries:,} corrected records as {published['events']:,} events, by {safe_text(by, 80)}; "
          "each event names the entry it replaces in its Kafka headers")  # fmt: skip
    return 0


def _operator(given: str | None) -> str:
    """Who acts on the quarantine: --by, else CLAIMWATCH_OPERATOR, else the login name."""
    import getpass

    return given or environment().claimwatch_operator or getpass.getuser()


def cmd_retract(args: argparse.Namespace) -> int:

    from stream.retract import main
    from stream.settings import Settings

    by = _operator(args.by)
    if not args.reason.strip():
        raise ValueError("--reason must say what is wrong with the file")
    return main(Settings(), args.file, args.reason.strip(), by)


def cmd_quarantine(args: argparse.Namespace) -> int:
    from claimwatch import quarantine as q

    where = q.Filter(
        sources=frozenset(args.source or []),
        reasons=frozenset(args.reason or []),
        since=_time_arg(args.since, "--since"),
        until=_time_arg(args.until, "--until"),
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
    if args.action == "list":
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


def cmd_alerts(args: argparse.Namespace) -> int:
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
        since=_since(args.since),
    )


def cmd_sink(args: argparse.Namespace) -> int:
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
        since=_since(args.since),
    )


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


def cmd_promote(args: argparse.Namespace) -> int:
    import asyncio
    import getpass

    from stream.generations import promote
    from stream.settings import Settings

    previous = asyncio.run(promote(Settings(), args.generation, getpass.getuser()))
    print(f"live generation: {previous} -> {args.generation} (restart the alert sinks to follow it)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import asyncio
    import dataclasses

    from stream.generations import UnknownGeneration, existing
    from stream.kafka_io import read_to_end
    from stream.settings import Settings

    settings = dataclasses.replace(Settings(), generation=args.generation)
    if not asyncio.run(existing(settings, args.generation)):
        raise UnknownGeneration(f"generation {args.generation} does not exist")
    seen: set[str] = set()
    with Path(args.out).open("w", encoding="utf-8") as fh:
        for _, value in asyncio.run(read_to_end(settings, settings.topic("alerts"))):
            alert = Alert.model_validate_json(value or b"")
            if alert.alert_id not in seen:  # a redelivered alert is the same alert
                seen.add(alert.alert_id)
                fh.write(alert.model_dump_json() + "\n")
    print(f"{len(seen):,} alerts of generation {args.generation} written to {args.out}")
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


def cmd_replay(args: argparse.Namespace) -> int:
    from stream.replay import main as replay_main
    from stream.settings import Settings

    since: datetime | int | None = None
    if args.since is not None:
        since = int(args.since) if args.since.isdigit() else _since(args.since)
    if args.processes < 1:
        raise ValueError("--processes must be 1 or more")
    from claimwatch.logs import setup as setup_logs

    setup_logs()  # progress as JSON logs; the counts at the end on stdout
    return replay_main(Settings(), args.generation, since, _since(args.to) if args.to else None, args.processes)


def cmd_report(args: argparse.Namespace) -> int:
    from batch.job import JobError, run_with_retries

    try:
        outcome = run_with_retries(
            args.retries, args.retry_after, args.week, args.out,
            from_dir=args.from_dir, dry_run=args.dry_run, sns_topic=args.sns_topic,
        )  # fmt: skip
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


def cmd_aws_setup(args: argparse.Namespace) -> int:
    from claimwatch.aws import client as aws_client

    s3, sns = aws_client("s3"), aws_client("sns")
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if args.bucket not in existing:
        region = s3.meta.region_name
        if region and region != "us-east-1":
            s3.create_bucket(Bucket=args.bucket, CreateBucketConfiguration={"LocationConstraint": region})
        else:
            s3.create_bucket(Bucket=args.bucket)
    arn = sns.create_topic(Name=args.sns_topic)["TopicArn"]  # idempotent
    print(f"bucket s3://{args.bucket}\nsns topic {arn}")
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("claimwatch")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


# One example per command whose description does not give one already; every `--help` shows one
# (tests/test_cli.py holds every command to it).
EXAMPLES = {
    "run": "claimwatch run --input exports/ --out out --min-severity high",
    "sample": "claimwatch sample --out data --seed 11 --items 300 --days 18",
    "eval": "claimwatch eval --alerts out/alerts.jsonl --labels data/labels.json",
    "backtest": "claimwatch backtest --series nab/data --out results --labels nab/labels/combined_windows.json --score",
    "nab-score": "claimwatch nab-score --results results --labels nab/labels/combined_windows.json",
    "schemas": "claimwatch schemas export schemas-out/",
    "schemas export": "claimwatch schemas export schemas-out/",
    "topics": "claimwatch topics create",
    "ingest": "claimwatch ingest exports/ --follow",
    "worker": "CLAIMWATCH_WEB_PORT=6066 claimwatch worker",
    "config": "claimwatch config show --json",
    "config show": "claimwatch config show --json",
    "alerts": "claimwatch alerts tail --min-severity high --since 2026-11-10T00:00:00Z",
    "alerts tail": "claimwatch alerts tail --min-severity high --since 2026-11-10T00:00:00Z",
    "alerts sink": "CLAIMWATCH_WEBHOOK_URL=https://hooks.slack.com/services/… claimwatch alerts sink webhook",
    "status": "claimwatch status --json",
    "aws": "claimwatch aws setup --bucket claimwatch-reports --sns-topic claimwatch-alerts",
    "aws setup": "claimwatch aws setup --bucket claimwatch-reports --sns-topic claimwatch-alerts",
    "bench": "claimwatch bench --events 1000000 --repeats 3",
}


def add_examples(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> None:
    """Give each command's help its example from :data:`EXAMPLES`, where its text has none."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                command = (*path, name)
                shown = f"{child.description or ''} {child.epilog or ''}"
                example = EXAMPLES.get(" ".join(command))
                if example and "Example" not in shown:
                    child.epilog = f"Example: {example}" + (f"\n\n{child.epilog}" if child.epilog else "")
                add_examples(child, command)


def build_parser() -> argparse.ArgumentParser:
    from claimwatch.ingest.readers import BY_NAME

    parser = argparse.ArgumentParser(prog="claimwatch", description=__doc__)
    parser.add_argument("--version", action="version", version=f"claimwatch {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="embedded run: read files, detect, write alerts and weekly reports")
    p.add_argument("--input", nargs="+", help="files or folders (default: the bundled sample)")
    p.add_argument("--out", default="claimwatch-out", help="output folder (default: %(default)s)")
    p.add_argument("--owner", help="our owner name in rights (default: CLAIMWATCH_OWNER, or our-label)")
    p.add_argument("--min-severity", choices=SEVERITIES, default="medium", help="print alerts from this severity")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("sample", help="write a realistic, labelled data set")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--items", type=int, default=300)
    p.add_argument("--days", type=int, default=21, help="days of data, at least 8: four of warm-up, then the scenarios")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("eval", help="recall, precision and delay of alerts against labels")
    p.add_argument("--alerts", required=True)
    p.add_argument("--labels", required=True)
    p.add_argument("--json", help="also write the figures here")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("backtest", help="run the spike detector over timestamp,value CSV series")
    p.add_argument("--series", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--labels", help="NAB label windows (combined_windows.json), for --score")
    p.add_argument("--profiles", help="NAB cost profiles (default: profiles.json beside --labels)")
    p.add_argument("--score", action="store_true", help="score the outputs with NAB's method")
    p.set_defaults(func=cmd_backtest)

    p = sub.add_parser("nab-score", help="score a folder of detector outputs (anyone's) with NAB's method")
    p.add_argument("--results", required=True, help="folder of <category>/<file>.csv (or NAB's <detector>_<file>.csv)")
    p.add_argument("--labels", required=True)
    p.add_argument("--profiles")
    p.add_argument("--threshold", type=float, help="score this fixed threshold instead of the best one per profile")
    p.set_defaults(func=cmd_nab_score)

    p = sub.add_parser("schemas", help="JSON Schemas of every event, the alert and the report")
    schema_sub = p.add_subparsers(dest="action", required=True)
    e = schema_sub.add_parser("export")
    e.add_argument("dir")
    e.set_defaults(func=cmd_schemas)

    p = sub.add_parser("topics", help="create or describe the Kafka topics")
    p.add_argument("action", choices=["create", "describe"])
    p.set_defaults(func=cmd_topics)

    p = sub.add_parser("ingest", help="read files and publish validated events to Kafka")
    p.add_argument("paths", nargs="+")
    p.add_argument("--kind", choices=["auto", *BY_NAME], default="auto",
                   help="the input source, skipping recognition (default: auto): one of the names the per-source "
                   "table prints")  # fmt: skip
    p.add_argument("--follow", action="store_true", help="keep watching the folders for new export files")
    p.add_argument("--poll-seconds", type=float, default=10.0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("worker", help="the Faust stream worker (detection core over the event log)")
    p.add_argument("--loglevel", default="info")
    p.set_defaults(func=cmd_worker)

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
    for action, text in (("list", "one line per record, then counts by source and reason"),
                         ("show", "every field of the given entries"),
                         ("export", "CSV (for spreadsheets) or JSON Lines, by the file's extension")):  # fmt: skip
        a = quarantine_sub.add_parser(action, help=text, description=f"{text[0].upper()}{text[1:]}. "
                                      f"Example: {examples[action]}")  # fmt: skip
        a.add_argument("--from-dir", help="an embedded run's output folder (default: the Kafka quarantine topic)")
        a.add_argument("--source", action="append", help="only this source (repeatable), e.g. polls, claims_studio")
        a.add_argument("--reason", action="append", help="only this reason code (repeatable), e.g. encoding")
        a.add_argument("--since", help="quarantined at or after this RFC 3339 time (Kafka only)")
        a.add_argument("--until", help="quarantined before this RFC 3339 time (Kafka only)")
        a.add_argument("--file", help="only records from files whose path contains this")
        a.add_argument("--all", action="store_true", help="also entries already released (corrected)")
        if action == "list":
            a.add_argument("--limit", type=int, default=50, help="records to print (the counts cover all)")
        if action == "show":
            a.add_argument("ids", nargs="+", help="entry ids (q-…) from `claimwatch quarantine list`")
        if action == "export":
            a.add_argument("--out", required=True, help="FILE.csv or FILE.jsonl")
        a.set_defaults(func=cmd_quarantine)
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
    t.set_defaults(func=cmd_retract)
    r.add_argument("file", help="the corrected export, FILE.csv or FILE.jsonl")
    r.add_argument("--by", help="who releases them (default: CLAIMWATCH_OPERATOR or the login name)")
    r.add_argument("--dry-run", action="store_true", help="read them again and say what would be released")
    r.set_defaults(func=cmd_release)

    p = sub.add_parser(
        "audit",
        help="the monthly data-quality audit: completeness per source and day, quarantine, duplicates, trend",
        description="From Kafka's live generation (or an embedded run's folder). Example: claimwatch audit "
        "--month 2026-11 --from-dir claimwatch-out --out audit-2026-11",
    )
    p.add_argument("--month", help="YYYY-MM (default: the last complete month, UTC)")
    p.add_argument("--from-dir", help="an embedded run's output folder instead of Kafka")
    p.add_argument("--out", required=True, help="folder for audit.json and audit.html")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("config", help="settings: every environment variable, its value in effect and meaning")
    config_sub = p.add_subparsers(dest="action", required=True)
    c = config_sub.add_parser(
        "show",
        help="each variable with its value (secrets masked), whether set or default, and what it does",
        description="Checks every setting first: a bad value is one line naming the variable (exit 2).",
    )
    c.add_argument("--json", action="store_true", help="one JSON array instead of the table")
    c.set_defaults(func=cmd_config)

    p = sub.add_parser("alerts", help="alert consumers")
    alerts_sub = p.add_subparsers(dest="action", required=True)
    e = alerts_sub.add_parser(
        "export",
        help="write one generation's alerts as JSON Lines",
        description="Example: claimwatch alerts export --generation 2 --out gen2.jsonl",
    )
    e.add_argument("--generation", type=int, required=True)
    e.add_argument("--out", required=True, help="the JSON Lines file to write")
    e.set_defaults(func=cmd_export)

    t = alerts_sub.add_parser("tail", help="print alerts as they arrive")
    t.add_argument("--min-severity", choices=SEVERITIES, default="info")
    t.add_argument("--type", action="append", choices=ALERT_TYPES)
    t.add_argument("--from-beginning", action="store_true", help="every retained alert (default: new ones only)")
    t.add_argument("--since", help="alerts written since this RFC 3339 time")
    t.add_argument("--idle-exit", type=float, default=0.0, help="stop after this many idle seconds (0: never)")
    t.set_defaults(func=cmd_alerts)
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
    k.set_defaults(func=cmd_sink)

    p = sub.add_parser("status", help="topics, consumer-group lag (claimwatch's groups only) and the last alert")
    p.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    p.set_defaults(func=cmd_status)

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
        "--from", dest="since", help="raise alerts from this RFC 3339 time (log time) or offset; state is always "
        "derived from the start of the log",
    )  # fmt: skip
    p.add_argument("--to", help="stop at this RFC 3339 time (log time; default: the end offsets at start)")
    p.add_argument("--processes", type=int, default=1, help="processes over the partitions (default: 1)")
    p.set_defaults(func=cmd_replay)

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
    p.add_argument("--retries", type=int, default=0, choices=range(0, 4), metavar="N",
                   help="run again up to N times when the input was unavailable (3) or the output failed (5): "
                   "safe, a run is idempotent (the scheduled task uses 1)")  # fmt: skip
    p.add_argument("--retry-after", type=float, default=120.0, metavar="SECONDS", help="wait before a retry")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("aws", help="AWS helpers for local stacks")
    aws_sub = p.add_subparsers(dest="action", required=True)
    a = aws_sub.add_parser("setup", help="create the report bucket and the alerts SNS topic if missing")
    a.add_argument("--bucket", required=True)
    a.add_argument("--sns-topic", required=True)
    a.set_defaults(func=cmd_aws_setup)

    p = sub.add_parser("bench", help="throughput and peak memory of the detection core")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--series", help="instead: cost per value of the novelty detector over these series (NAB's data)")
    p.add_argument("--json", action="store_true", help="print only the summary, one JSON object (no per-run lines)")
    p.set_defaults(func=cmd_bench)
    add_examples(parser)
    return parser


EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_PARTIAL = 2, 3, 4


def main(argv: Sequence[str] | None = None) -> int:
    """Every expected failure is one line on stderr and an exit code: 2 for wrong input or settings,
    3 when a service (the broker) is unavailable; never a traceback."""
    args = build_parser().parse_args(argv)
    if args.command != "worker":
        import logging

        # One-shot commands: an unreachable broker is their one-line error below, not aiokafka's log.
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
        logging.getLogger("claimwatch.librdkafka").setLevel(logging.CRITICAL)  # replay's reader
    from aiokafka.errors import KafkaError

    from batch.job import JobError
    from stream.kafka_io import IncompleteRead

    try:
        return int(args.func(args))
    except JobError as exc:
        print(f"claimwatch: error: {exc}", file=sys.stderr)
        return exc.code
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, FileExistsError, ValueError) as exc:
        print(f"claimwatch: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader of our output closed it (`| head`): not an error, not Kafka's
        stdout_to_devnull()
        return 0
    except (KafkaError, IncompleteRead, ConnectionError, TimeoutError) as exc:
        print(f"claimwatch: error: Kafka unavailable: {kafka_problem(exc)}"[:500], file=sys.stderr)
        return EXIT_UNAVAILABLE
    except OSError as exc:  # a disk, a permission, a path: one line, not a traceback
        print(f"claimwatch: error: {type(exc).__name__}: {exc}"[:500], file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("claimwatch: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        aws = aws_problem(exc)
        if aws is None:
            raise
        print(f"claimwatch: error: {aws[1]}"[:500], file=sys.stderr)
        return aws[0]


def kafka_problem(exc: BaseException) -> str:
    """The client's error, or what lies under it when that is TLS (an untrusted certificate reads as
    "Unable to bootstrap" otherwise)."""
    from stream.kafka_io import tls_problem
    from stream.settings import Settings

    try:
        under = tls_problem(Settings())
    except ValueError:
        under = None
    return under or f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def aws_problem(exc: BaseException) -> tuple[int, str] | None:
    """(exit code, one line) for an error of boto3's, None for anything else. botocore is imported
    only by the commands that use AWS: if it is not loaded, the error cannot be one of its."""
    botocore = sys.modules.get("botocore.exceptions")
    if botocore is None:
        return None
    text = " ".join(str(exc).split())
    if isinstance(exc, botocore.NoRegionError | botocore.NoCredentialsError | botocore.PartialCredentialsError):
        return EXIT_USAGE, f"AWS is not configured: {text} (AWS_REGION, credentials: see `claimwatch config show`)"
    if isinstance(exc, botocore.BotoCoreError | botocore.ClientError):
        return EXIT_UNAVAILABLE, f"AWS unavailable: {type(exc).__name__}: {text}"
    return None


if __name__ == "__main__":
    sys.exit(main())
