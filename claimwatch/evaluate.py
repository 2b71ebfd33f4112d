"""Scoring alerts against labels (``claimwatch eval``) and the spike detector on plain series (``backtest``)."""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from claimwatch.detect.novelty import NoveltyDetector
from claimwatch.ingest.normalize import parse_datetime
from claimwatch.nab import parse_time
from schemas.alerts import ALERT_TYPES, severity_rank

IGNORED_SUBJECT_KEYS = frozenset({"platform", "channel_id"})
MEDIUM = severity_rank("medium")


@dataclass(frozen=True)
class TypeScore:
    type: str
    labels: int
    detected: int
    alerts: int
    alerts_medium_plus: int
    true_medium_plus: int
    median_delay_s: float | None
    delays_s: tuple[float, ...] = ()  # from each detected label's start to its first alert

    @property
    def p90_delay_s(self) -> float | None:
        return percentile(self.delays_s, 0.9)

    @property
    def recall(self) -> float | None:
        return self.detected / self.labels if self.labels else None

    @property
    def precision(self) -> float | None:
        return self.true_medium_plus / self.alerts_medium_plus if self.alerts_medium_plus else None


def _shares_id(alert_subject: dict[str, Any], label_subject: dict[str, Any]) -> bool:
    """The output contract's rule: at least one id key in common, and every one in common equal
    (so a TikTok alert does not match a label on the same item's YouTube post)."""
    shared = [k for k, v in label_subject.items() if k not in IGNORED_SUBJECT_KEYS and v and alert_subject.get(k)]
    return bool(shared) and all(alert_subject[k] == label_subject[k] for k in shared)


def _matches(alert: dict[str, Any], label: dict[str, Any]) -> bool:
    if alert["type"] != label["type"] or not _shares_id(alert.get("subject", {}), label.get("subject", {})):
        return False
    t = alert["_t"]
    return bool(label["_start"] <= t <= label["_end"])


def evaluate(alerts: list[dict[str, Any]], labels: list[dict[str, Any]]) -> dict[str, TypeScore]:
    """Recall per type (labels matched by any alert of the type), precision over medium+ alerts."""
    for a in alerts:
        a["_t"] = parse_datetime(a["event_time"], "event_time")
    for lab in labels:
        lab["_start"] = parse_datetime(lab["start"], "start")
        lab["_end"] = parse_datetime(lab["end"], "end")
    by_type_alerts: dict[str, list[dict[str, Any]]] = {}
    for a in alerts:
        by_type_alerts.setdefault(a["type"], []).append(a)
    scores = {}
    for type_ in sorted({*ALERT_TYPES, *(lab["type"] for lab in labels)}):
        type_labels = [lab for lab in labels if lab["type"] == type_]
        type_alerts = by_type_alerts.get(type_, [])
        detected, delays = 0, []
        for lab in type_labels:
            hits = [a["_t"] for a in type_alerts if _matches(a, lab)]
            if hits:
                detected += 1
                delays.append((min(hits) - lab["_start"]).total_seconds())
        strong = [a for a in type_alerts if severity_rank(a["severity"]) >= MEDIUM]
        true_strong = sum(1 for a in strong if any(_matches(a, lab) for lab in type_labels))
        scores[type_] = TypeScore(
            type_,
            len(type_labels),
            detected,
            len(type_alerts),
            len(strong),
            true_strong,
            statistics.median(delays) if delays else None,
            tuple(sorted(delays)),
        )
    return scores


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile by the nearest rank (an observed delay, not an interpolated one)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def overall(scores: dict[str, TypeScore]) -> dict[str, float | None]:
    strong = sum(s.alerts_medium_plus for s in scores.values())
    true_strong = sum(s.true_medium_plus for s in scores.values())
    delays = [s.median_delay_s for s in scores.values() if s.median_delay_s is not None]
    labels = sum(s.labels for s in scores.values())
    return {
        "precision": true_strong / strong if strong else None,
        "recall": sum(s.detected for s in scores.values()) / labels if labels else None,
        "median_delay_s": statistics.median(delays) if delays else None,
    }


def figures(scores: dict[str, TypeScore]) -> dict[str, Any]:
    """What ``claimwatch eval --json`` writes: each type's counts and rates, then ``overall``."""
    return {
        t: {**{k: v for k, v in s.__dict__.items() if k != "delays_s"}, "recall": s.recall, "precision": s.precision}
        | {"p90_delay_s": s.p90_delay_s}
        for t, s in scores.items()
    } | {"overall": overall(scores)}


def load_labels(path: Path) -> list[dict[str, Any]]:
    """claimwatch's labels (``labels.json`` of ``claimwatch sample``): a list of objects with ``type``,
    ``subject``, ``start`` and ``end``. ValueError in one line for anything else, NAB's window files
    (a mapping of series to windows) included: those go to ``claimwatch nab-score``."""
    try:
        labels = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None
    if isinstance(labels, dict):
        raise ValueError(
            f"{path}: a mapping, as NAB's label windows are; eval reads claimwatch's labels (a list of "
            "{type, subject, start, end}); score NAB series with `claimwatch nab-score`"
        )
    if not isinstance(labels, list):
        raise ValueError(f"{path}: labels are a JSON list of {{type, subject, start, end}}")
    for n, label in enumerate(labels, start=1):
        missing = {"type", "subject", "start", "end"} - set(label) if isinstance(label, dict) else None
        if missing is None or missing or not isinstance(label["subject"], dict):
            raise ValueError(f"{path}: label {n} is not a {{type, subject, start, end}} object")
        for name in ("start", "end"):
            parse_datetime(str(label[name]), f"label {n} {name}")
    return labels


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# ------------------------------------------------------------------------------------ backtest


def backtest_series(rows: list[tuple[str, float]]) -> list[float]:
    """The novelty detector over one univariate series, in order, one pass, nothing tuned per series."""
    detector = NoveltyDetector()
    return [round(detector.update(value, epoch_of(stamp)), 6) for stamp, value in rows]


def epoch_of(stamp: str) -> float:
    return parse_time(stamp).replace(tzinfo=UTC).timestamp()


def read_series(path: Path) -> list[tuple[str, float]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = []
        for n, row in enumerate(reader, start=2):
            try:
                rows.append((row["timestamp"], float(row["value"])))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{n}: needs timestamp,value columns with a number value ({exc})") from None
        return rows


def backtest_folder(series_dir: Path, out_dir: Path) -> list[Path]:
    """Score every CSV under ``series_dir``; write ``timestamp,value,anomaly_score`` mirroring its tree."""
    written = []
    for path in sorted(series_dir.rglob("*.csv")):
        rows = read_series(path)
        scores = backtest_series(rows)
        target = out_dir / path.relative_to(series_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["timestamp", "value", "anomaly_score"])
            for (stamp, value), score in zip(rows, scores, strict=True):
                writer.writerow([stamp, repr(value) if value != int(value) else int(value), score])
        written.append(target)
    return written
