"""``claimwatch impact``: what changed between two generations, for the data-quality procedure's
impact assessment: alerts added, removed and changed, dispute-risk moves, and the weekly report's
figures that differ; ``impact.json`` and a self-contained ``impact.html``.

Alert ids are derived from data, so the same finding has the same id in both generations: an id in
one generation only is an alert added or removed; the same id with another severity, score or title
is a changed alert.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batch.report import ReportInputs, WeekIndex, build_report, keep_row
from schemas.alerts import Alert

RISK_MOVE = 0.05  # a dispute-risk change smaller than this is not a move


@dataclass
class Generation:
    number: int
    alerts: dict[str, Alert] = field(default_factory=dict)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class InputRecord:
    """A record on the log that one generation's derivation saw and another's did not: retracted (skipped
    by replay) or released (a correction put on the log)."""

    kind: str  # "retracted" | "released"
    source_file: str
    line: int
    entry_id: str
    by: str
    ids: tuple[tuple[str, str], ...] = ()

    def brief(self) -> dict[str, Any]:
        return {"kind": self.kind, "source_file": self.source_file, "line": self.line, "entry_id": self.entry_id}


STRONG_IDS = ("claim_id", "video_id", "platform_content_id")  # an asset has many claims: too loose to blame
MAX_CAUSES = 5


@dataclass
class CauseIndex:
    """The input records by the line they came from and by the claim or video they are about: an
    incident can retract tens of thousands of records and change as many alerts."""

    by_place: dict[tuple[str, int], list[InputRecord]] = field(default_factory=dict)
    by_id: dict[tuple[str, str], list[InputRecord]] = field(default_factory=dict)

    @classmethod
    def of(cls, records: list[InputRecord]) -> CauseIndex:
        index = cls()
        for r in records:
            index.by_place.setdefault((r.source_file, r.line), []).append(r)
            for pair in r.ids:
                if pair[0] in STRONG_IDS:
                    index.by_id.setdefault(pair, []).append(r)
        return index

    def causes(self, alert: Alert) -> list[dict[str, Any]]:
        """The input records that explain an alert's change: the record it was raised on (its evidence
        names the file and line), else records about the same claim or video."""
        evidence = alert.evidence or {}
        line = evidence.get("source_line")
        exact = self.by_place.get((str(evidence.get("source_file", "")), line), []) if isinstance(line, int) else []
        if exact:
            return [r.brief() for r in exact[:MAX_CAUSES]]
        related: dict[int, InputRecord] = {}
        for pair in sorted((k, v) for k, v in alert.subject.ids().items() if k in STRONG_IDS):
            for r in self.by_id.get(pair, []):
                related.setdefault(id(r), r)
        return [r.brief() for r in list(related.values())[:MAX_CAUSES]]


def input_summary(records: list[InputRecord]) -> list[dict[str, Any]]:
    """Retracted and released records per file: what the operator changed in the log."""
    by_file: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        row = by_file.setdefault(
            (r.source_file, r.kind), {"source_file": r.source_file, "kind": r.kind, "records": 0, "by": set()}
        )
        row["records"] += 1
        row["by"].add(r.by)
    return [{**row, "by": sorted(row["by"])} for _, row in sorted(by_file.items())]


def _brief(alert: Alert) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id,
        "type": alert.type,
        "severity": alert.severity,
        "score": alert.score,
        "subject": alert.subject.ids(),
        "event_time": alert.event_time.isoformat(),
        "title": alert.title,
    }


def alert_changes(
    before: Generation, after: Generation, records: list[InputRecord] | None = None
) -> dict[str, list[dict[str, Any]]]:
    index = CauseIndex.of(records) if records else None

    def brief(alert: Alert) -> dict[str, Any]:
        return {**_brief(alert), "caused_by": index.causes(alert)} if index else _brief(alert)

    added = [brief(after.alerts[i]) for i in sorted(set(after.alerts) - set(before.alerts))]
    removed = [brief(before.alerts[i]) for i in sorted(set(before.alerts) - set(after.alerts))]
    changed = []
    for alert_id in sorted(set(before.alerts) & set(after.alerts)):
        a, b = before.alerts[alert_id], after.alerts[alert_id]
        fields = {name: (getattr(a, name), getattr(b, name)) for name in ("severity", "score", "title")}
        moved = {name: {"from": x, "to": y} for name, (x, y) in fields.items() if x != y}
        if moved:
            changed.append({**brief(b), "changes": moved})
    return {"added": added, "removed": removed, "changed": changed}


def _risks(rows: dict[str, dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The latest week's risk of every claim: ``(claim id, week) → row``."""
    out = {}
    for row in rows.values():
        if row.get("kind") == "claim":
            out[(str(row["claim_id"]), str(row["week"]))] = row
    return out


def risk_moves(before: Generation, after: Generation, weeks: set[str] | None) -> list[dict[str, Any]]:
    old, new = _risks(before.rows), _risks(after.rows)
    moves: list[dict[str, Any]] = []
    for key in sorted(set(old) | set(new)):
        if weeks is not None and key[1] not in weeks:
            continue
        a, b = float(old.get(key, {}).get("risk", 0.0)), float(new.get(key, {}).get("risk", 0.0))
        if abs(a - b) >= RISK_MOVE:
            row = new.get(key) or old[key]
            moves.append(
                {
                    "claim_id": key[0],
                    "week": key[1],
                    "asset_id": row.get("asset_id"),
                    "video_id": row.get("video_id"),
                    "from": round(a, 4),
                    "to": round(b, 4),
                    "change": round(b - a, 4),
                }
            )
    moves.sort(key=lambda m: (-abs(float(m["change"])), str(m["claim_id"])))
    return moves


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for section in ("claims_summary", "alerts_summary", "data_quality"):
        for name, value in report.get(section, {}).items():
            if isinstance(value, int | float):
                flat[f"{section}.{name}"] = value
            elif isinstance(value, dict) and all(isinstance(v, int | float) for v in value.values()):
                flat.update({f"{section}.{name}.{k}": v for k, v in value.items()})
    flat["dispute_risk.listed"] = len(report.get("dispute_risk", []))
    flat["high_priority.alerts"] = sum(len(g["alerts"]) for g in report.get("high_priority", []))
    return flat


def report_changes(before: Generation, after: Generation, week: str) -> list[dict[str, Any]]:
    """The weekly report's figures that differ between the generations, for one week."""
    reports = []
    for generation in (before, after):
        index = WeekIndex.build(ReportInputs(rows=generation.rows, alerts=list(generation.alerts.values())))
        reports.append(_figures(build_report(index, week).model_dump(mode="json")) if week in index.weeks() else {})
    a, b = reports
    return [
        {"figure": name, "from": a.get(name), "to": b.get(name)}
        for name in sorted(set(a) | set(b))
        if a.get(name) != b.get(name)
    ]


def impact(
    before: Generation, after: Generation, weeks: list[str], records: list[InputRecord] | None = None
) -> dict[str, Any]:
    return {
        "from_generation": before.number,
        "to_generation": after.number,
        "weeks": weeks,
        "input_records": input_summary(records or []),
        **alert_changes(before, after, records),
        "dispute_risk_moves": risk_moves(before, after, set(weeks) if weeks else None),
        "report_changes": {week: report_changes(before, after, week) for week in weeks},
    }


def _table(header: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return "<p class='muted'>None.</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))[:300]}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(result: dict[str, Any]) -> str:
    def alert_rows(items: list[dict[str, Any]]) -> list[list[Any]]:
        return [[a["severity"], a["type"], a["title"], a["event_time"][:16], _caused(a), a["alert_id"]] for a in items]

    sections = [
        f"<h1>Impact of generation {result['to_generation']} against {result['from_generation']}</h1>",
        f"<p>{len(result['added'])} alerts added, {len(result['removed'])} removed, {len(result['changed'])} "
        f"changed; {len(result['dispute_risk_moves'])} dispute-risk moves.</p>",
        "<h2>Records retracted and released on the log</h2>",
        _table(
            ["file", "what", "records", "by"],
            [[r["source_file"], r["kind"], r["records"], ", ".join(r["by"])] for r in result.get("input_records", [])],
        ),
        "<h2>Removed alerts</h2>",
        _table(["severity", "type", "what", "when", "caused by", "id"], alert_rows(result["removed"])),
        "<h2>Added alerts</h2>",
        _table(["severity", "type", "what", "when", "caused by", "id"], alert_rows(result["added"])),
        "<h2>Changed alerts</h2>",
        _table(
            ["type", "what", "changes", "id"],
            [[a["type"], a["title"], json.dumps(a["changes"]), a["alert_id"]] for a in result["changed"]],
        ),
        "<h2>Dispute-risk moves</h2>",
        _table(
            ["claim", "week", "asset", "from", "to"],
            [[m["claim_id"], m["week"], m["asset_id"], m["from"], m["to"]] for m in result["dispute_risk_moves"]],
        ),
    ]
    for week, changes in result["report_changes"].items():
        sections += [
            f"<h2>Weekly report {html.escape(week)}: figures that differ</h2>",
            _table(["figure", "before", "after"], [[c["figure"], c["from"], c["to"]] for c in changes]),
        ]
    css = (
        "body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px}table{border-collapse:collapse;width:100%}"
    )
    css += (
        "td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;overflow-wrap:break-word}.muted{color:#888}"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>claimwatch impact</title><style>{css}</style></head><body>" + "\n".join(sections) + "</body></html>\n"
    )


def _caused(alert: dict[str, Any]) -> str:
    found = alert.get("caused_by") or []
    return "; ".join(f"{c['kind']} {Path(c['source_file']).name}:{c['line']}" for c in found) or "-"


def load_input_records() -> list[InputRecord]:
    """Every retracted record (the retractions topic) and released one (events carrying the release
    headers): what separates a replayed generation from the one before the incident."""
    import asyncio

    from schemas.events import Retraction
    from stream.kafka_io import read_to_end
    from stream.settings import Settings

    settings = Settings()
    records: dict[tuple[str, str, int], InputRecord] = {}
    for _, value in asyncio.run(read_to_end(settings, settings.topic("retractions"))):
        try:
            r = Retraction.model_validate_json(value or b"")
        except ValueError:
            continue
        records.setdefault(
            ("retracted", r.source_file, r.line),
            InputRecord("retracted", r.source_file, r.line, r.entry_id, r.by, tuple(sorted(r.ids.items()))),
        )
    for record in asyncio.run(_released(settings)):
        records.setdefault((record.kind, record.source_file, record.line), record)
    return [records[k] for k in sorted(records)]


async def _released(settings: Any) -> list[InputRecord]:
    from schemas.codec import decode_event
    from stream.kafka_io import read_records
    from stream.retract import event_ids

    out: list[InputRecord] = []
    for record in await read_records(settings, settings.topic("events")):
        headers = dict(record.headers or ())
        if "claimwatch-released-by" in headers:
            event = decode_event(record.value or b"")
            by = headers["claimwatch-released-by"].decode("utf-8", "replace")
            entry = headers.get("claimwatch-replaces", b"").decode("utf-8", "replace")
            out.append(
                InputRecord(
                    "released", event.source_file, event.source_line, entry, by, tuple(sorted(event_ids(event).items()))
                )
            )
    return out


def write(result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "impact.json").write_text(json.dumps(result, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8")
    (out / "impact.html").write_text(render_html(result), encoding="utf-8")


def load_generation(number: int, weeks: set[str] | None) -> Generation:
    """A generation's alerts and roll-ups from Kafka."""
    import asyncio
    import dataclasses

    from batch.job import is_file_row
    from stream.generations import UnknownGeneration, existing
    from stream.kafka_io import read_to_end
    from stream.settings import Settings

    settings = dataclasses.replace(Settings(), generation=number)
    if not asyncio.run(existing(settings, number)):
        raise UnknownGeneration(f"generation {number} does not exist")
    generation = Generation(number)
    for _, value in asyncio.run(read_to_end(settings, settings.topic("alerts"))):
        alert = Alert.model_validate_json(value or b"")
        generation.alerts.setdefault(alert.alert_id, alert)
    wanted = None if weeks is None else weeks | {_previous(w) for w in weeks}
    seen: set[str] = set()
    records = asyncio.run(read_to_end(settings, settings.topic("rollups")))
    if number > 1:  # file rows are facts of ingestion, kept in generation 1's topic
        first = dataclasses.replace(settings, generation=1)
        records = [r for r in asyncio.run(read_to_end(first, first.topic("rollups"))) if is_file_row(r[0])] + records
    for key, value in records:
        name = (key or b"").decode("utf-8", "replace")
        if value is not None and keep_row(name, wanted, seen):
            generation.rows[name] = json.loads(value)
    return generation


def _previous(week: str) -> str:
    from batch.report import previous_week

    return previous_week(week)
