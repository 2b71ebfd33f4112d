"""How good and how fast the detection is: ``eval``, ``backtest``, ``nab-score`` and ``bench``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from claimwatch.cli.common import Subparsers

EXAMPLES = {
    "eval": "claimwatch eval --alerts out/alerts.jsonl --labels data/labels.json",
    "backtest": "claimwatch backtest --series nab/data --out results --labels nab/labels/combined_windows.json --score",
    "nab-score": "claimwatch nab-score --results results --labels nab/labels/combined_windows.json",
    "bench": "claimwatch bench --events 1000000 --repeats 3",
}


def register(sub: Subparsers) -> None:
    """Evaluation and benchmarks."""
    p = sub.add_parser(
        "eval",
        help="recall, precision and delay of alerts against labels (or over many generated seeds: --seeds)",
        description="Either score one run's --alerts against --labels, or (--seeds) generate each seed's data "
        "and its quiet twin (no scenarios), run, score, and print recall per type per seed, precision, false "
        "alerts per 1,000 post-days and the median and p90 delay per type. Example: claimwatch eval --seeds "
        "101-110 --items 200 --days 14 --processes 2",
    )
    p.add_argument("--alerts", help="an embedded run's alerts.jsonl")
    p.add_argument("--labels", help="the data set's labels.json")
    p.add_argument("--seeds", help="instead: seeds to generate and score, e.g. 101-110 or 3,7,11")
    p.add_argument("--items", type=int, default=200, help="items per seed (--seeds; default: %(default)s)")
    p.add_argument("--days", type=int, default=14, help="days per seed (--seeds; default: %(default)s)")
    p.add_argument("--processes", type=int, default=1, help="seeds side by side (--seeds; default: 1)")
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

    p = sub.add_parser("bench", help="throughput and peak memory of the detection core")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--series", help="instead: cost per value of the novelty detector over these series (NAB's data)")
    p.add_argument("--json", action="store_true", help="print only the summary, one JSON object (no per-run lines)")
    p.set_defaults(func=cmd_bench)


def cmd_eval(args: argparse.Namespace) -> int:
    from claimwatch.evaluate import evaluate, figures, load_jsonl, load_labels, overall

    if args.seeds:
        return eval_seeds(args)
    if not args.alerts or not args.labels:
        raise ValueError("eval needs --alerts and --labels (or --seeds)")
    alerts = load_jsonl(Path(args.alerts))
    labels = load_labels(Path(args.labels))
    scores = evaluate(alerts, labels)
    print(
        f"{'type':26}{'labels':>8}{'found':>7}{'recall':>8}{'alerts':>8}{'med+':>6}{'prec':>7}{'delay':>10}{'p90':>8}"
    )
    for s in scores.values():
        recall = "-" if s.recall is None else f"{s.recall:.2f}"
        precision = "-" if s.precision is None else f"{s.precision:.2f}"
        delay = "-" if s.median_delay_s is None else f"{s.median_delay_s / 3600:.1f}h"
        p90 = "-" if s.p90_delay_s is None else f"{s.p90_delay_s / 3600:.1f}h"
        print(
            f"{s.type:26}{s.labels:8}{s.detected:7}{recall:>8}{s.alerts:8}{s.alerts_medium_plus:6}{precision:>7}"
            f"{delay:>10}{p90:>8}"
        )
    total = overall(scores)
    all_precision, all_recall, median_delay = total["precision"], total["recall"], total["median_delay_s"]
    print(
        f"\noverall: precision (medium+) {'-' if all_precision is None else f'{all_precision:.3f}'}, "
        f"recall {'-' if all_recall is None else f'{all_recall:.3f}'}, "
        f"median detection delay {'-' if median_delay is None else f'{median_delay / 3600:.1f}h'}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures(scores), indent=1) + "\n")
    return 0


def eval_seeds(args: argparse.Namespace) -> int:
    """``eval --seeds``: exit 0 when every target is met on every seed, 1 when not."""
    from claimwatch.seeds import evaluate_seeds, figures, parse_seeds, table

    seeds = parse_seeds(args.seeds)
    if args.items < 40 or args.days < 8:
        raise ValueError("--items must be at least 40 and --days at least 8 (what a sample holds every scenario in)")
    started = time.perf_counter()
    results = evaluate_seeds(seeds, args.items, args.days, max(1, args.processes))
    text, met = table(results)
    print(text)
    print(f"({len(seeds)} seed(s) of {args.items} items and {args.days} days in {time.perf_counter() - started:.0f}s)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures(results), indent=1) + "\n")
    return 0 if met else 1


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


def cmd_bench(args: argparse.Namespace) -> int:
    from claimwatch.corebench import main as bench_main
    from claimwatch.corebench import novelty_cost

    if args.series:
        return novelty_cost(Path(args.series), repeats=args.repeats, quiet=args.json)
    return bench_main(events=args.events, repeats=args.repeats, quiet=args.json)
