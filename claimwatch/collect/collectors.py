"""The collectors: each fetches what is new since its watermark and leaves it as files the readers read.

A collector never publishes: it returns a :class:`Unit` (files in the archive, entries for bodies
that could not be read, event ids that are on the log already, its state after the unit, and how
to fetch the unit again). The service (:mod:`claimwatch.collect.service`) reads the files with
the same readers ``ingest`` uses, so a record fetched and a record read from a file are the same
event with the same id, and publishes a round's units together (see the ledger for exactly once).

- :class:`ReportingCollector`: YouTube Reporting API. Ensures a job per configured report type
  (system-managed types have one already), lists the reports created since its watermark, downloads
  each into ``reports/<type>/<report id>/<type>_<YYYYMMDD>.csv`` (the name gives the readers the
  report's day). A re-issued report (a new id for a day already fetched, as the API regenerates
  reports after a correction) is read whole, and only what differs from the issue before it is new.
- :class:`ContentIdCollector`: Content ID API. ``claimSearch`` pages of claims whose status changed
  since the watermark, then ``claimHistory.get`` of each: snippets to ``claims_api_…jsonl``, histories
  to ``claim_history_…json``; history events published before are not published again.
- :class:`PollCollector`: YouTube Data API ``videos.list`` for the videos the quota planner chose.
- :class:`FolderCollector`: the distributor's own files (catalog, rights, other platforms' polls)
  from a folder, each once it has stopped growing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from claimwatch.collect.google import ApiFailure, Apis, execute, parse
from claimwatch.collect.planner import Planner
from claimwatch.ingest.readers import discover, read_file
from schemas.events import ClaimEvent, QuarantineEntry
from schemas.ids import stable_id

log = logging.getLogger("claimwatch.collect")

REPORT_RETENTION_DAYS = 60  # the Reporting API keeps reports this long: ids older are forgotten
BOUNDARY_SECONDS = 1  # claimSearch is asked from a second before the watermark (same-time changes)
HISTORY_DAYS = 180  # a claim's history is followed (its published events remembered) this long after its last event
MAX_PAGES = 500  # a round reads at most this many pages of one listing; the next round goes on


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%f")


def write_atomically(path: Path, body: bytes) -> Path:
    """The file whole or not at all (a crash never leaves half a report for the readers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("wb") as out:
        out.write(body)
        out.flush()
        os.fsync(out.fileno())
    partial.replace(path)
    return path


def malformed(source: str, what: str, reason: str, body: bytes) -> QuarantineEntry:
    """A response that could not be read, kept with its bytes (bounded) and the call that gave it."""
    return QuarantineEntry(
        source=source,
        source_file=what[:500],
        line=0,
        reason=reason[:500],
        reason_code="malformed_response",
        raw=body[:2000].decode("utf-8", "replace"),
    )


@dataclass
class Unit:
    """What one collector fetched in one round."""

    collector: str
    files: list[Path] = field(default_factory=list)
    quarantined: list[QuarantineEntry] = field(default_factory=list)
    known_ids: set[str] = field(default_factory=set)  # event ids on the log already (re-issues, histories)
    restated: dict[str, str] = field(default_factory=dict)  # a re-issue's corrected rows: old id → new id
    state: dict[str, Any] = field(default_factory=dict)  # the collector's state once the unit is on the log
    # How to have the unit again after a crash took its files: the readings themselves (a reading
    # cannot be taken again), else the state it began from (the service sets it: fetched again).
    redo: dict[str, Any] = field(default_factory=dict)
    failure: str = ""  # what stopped the collector this round (it keeps what it had)

    @property
    def empty(self) -> bool:
        return not self.files and not self.quarantined


class Collector(Protocol):
    name: str

    def collect(self, state: dict[str, Any], now: datetime) -> Unit: ...


# ------------------------------------------------------------------------------------------- Reporting API


class ReportingCollector:
    name = "reporting"

    def __init__(self, apis: Apis, archive: Path, report_types: Iterable[str]) -> None:
        self.apis = apis
        self.archive = archive
        self.report_types = [t.strip() for t in report_types if t.strip()]

    def _call(self, request: Any, what: str, unit: Unit) -> dict[str, Any] | None:
        body = execute(request, what)
        value, why = parse(body)
        if value is None:
            unit.quarantined.append(malformed("reporting_api", what, why, body))
        return value

    def _jobs(self, state: dict[str, Any], unit: Unit) -> dict[str, str]:
        jobs: dict[str, str] = dict(state.get("jobs", {}))
        if all(t in jobs for t in self.report_types):
            return jobs
        listed = self._call(
            self.apis.reporting.jobs().list(includeSystemManaged=True, **self.apis.owner()), "jobs.list", unit
        )
        for job in (listed or {}).get("jobs", []) if isinstance(listed, dict) else []:
            if isinstance(job, dict) and isinstance(job.get("reportTypeId"), str) and isinstance(job.get("id"), str):
                jobs.setdefault(job["reportTypeId"], job["id"])
        for kind in self.report_types:
            if kind in jobs:
                continue
            try:
                created = self._call(
                    self.apis.reporting.jobs().create(
                        body={"reportTypeId": kind, "name": f"claimwatch {kind}"}, **self.apis.owner()
                    ),
                    f"jobs.create {kind}",
                    unit,
                )
            except ApiFailure as exc:
                if exc.kind != "refused":
                    raise
                log.warning("report type %s: no job and none can be created (%s)", kind, exc.reason or exc.status)
                continue
            if created and isinstance(created.get("id"), str):
                jobs[kind] = created["id"]
        return jobs

    def collect(self, state: dict[str, Any], now: datetime) -> Unit:
        unit = Unit(self.name)
        seen: dict[str, str] = dict(state.get("seen", {}))  # report id → createTime
        issues: dict[str, list[str]] = {k: list(v) for k, v in state.get("issues", {}).items()}  # type|day → ids
        jobs: dict[str, str] = dict(state.get("jobs", {}))
        try:
            jobs = self._jobs(state, unit)
            for kind in self.report_types:
                job = jobs.get(kind)
                if job is None:
                    continue
                mine = [t for rid, t in seen.items() if rid.startswith(f"{kind}|")]
                after = max(mine) if mine else None
                for report in self._reports(job, after, unit):
                    key = f"{kind}|{report['id']}"
                    if key in seen:
                        continue
                    day = _parse_time(report["startTime"]).date()
                    path = self.archive / "reports" / kind / report["id"] / f"{kind}_{day:%Y%m%d}.csv"
                    write_atomically(path, self.apis.download(report["downloadUrl"]))
                    earlier = issues.setdefault(f"{kind}|{day}", [])
                    if earlier:
                        previous = self.archive / "reports" / kind / earlier[-1] / path.name
                        known, restated = restatement(previous, path, report["id"])
                        unit.known_ids |= known
                        unit.restated.update(restated)
                    earlier.append(report["id"])
                    unit.files.append(path)
                    seen[key] = report["createTime"]
        except ApiFailure as exc:
            unit.failure = str(exc)
            if exc.kind == "unauthorised":
                raise
        horizon = _iso(now - timedelta(days=REPORT_RETENTION_DAYS))
        unit.state = {
            "jobs": jobs,
            "seen": {k: v for k, v in seen.items() if v >= horizon},
            "issues": {k: v for k, v in issues.items() if k.split("|")[1] >= horizon[:10]},
        }
        return unit

    def _reports(self, job: str, after: str | None, unit: Unit) -> Iterable[dict[str, str]]:
        token = None
        for _ in range(MAX_PAGES):
            options: dict[str, Any] = {"jobId": job, **self.apis.owner()}
            if after:
                options["createdAfter"] = after
            if token:
                options["pageToken"] = token
            page = self._call(self.apis.reporting.jobs().reports().list(**options), f"jobs.reports.list {job}", unit)
            if page is None:
                return
            for report in page.get("reports", []) or []:
                if isinstance(report, dict) and all(
                    isinstance(report.get(k), str) for k in ("id", "startTime", "createTime", "downloadUrl")
                ):
                    yield report
                else:
                    unit.quarantined.append(
                        malformed(
                            "reporting_api",
                            f"jobs.reports.list {job}",
                            "report without id, startTime, createTime or downloadUrl",
                            json.dumps(report).encode(),
                        )
                    )
            token = page.get("nextPageToken")
            if not token:
                return


def restatement(previous: Path, current: Path, report_id: str) -> tuple[set[str], dict[str, str]]:
    """What a re-issued report changes against the issue before it (its archived file): the ids of
    rows it repeats unchanged (on the log already), and for each row it corrects a new id, so the
    correction is a new observation the core applies rather than a repeat it would drop (a
    snapshot's id is its claim and day, the same in every issue). Without the earlier file (an
    archive lost with its machine) every row is taken as corrected."""

    def contents(path: Path) -> dict[str, str]:
        if not path.exists():
            return {}
        out = {}
        for event in read_file(path).events:
            event_id = getattr(event, "event_id", None)
            if event_id:
                out[str(event_id)] = event.model_dump_json(exclude={"source_file", "source_line"})
        return out

    before, after = contents(previous), contents(current)
    known = {i for i, body in after.items() if before.get(i) == body}
    restated = {i: stable_id(i, "restated", report_id) for i in after if i not in known}
    return known, restated


# ------------------------------------------------------------------------------------------- Content ID API


class ContentIdCollector:
    name = "contentid"

    def __init__(self, apis: Apis, archive: Path) -> None:
        self.apis = apis
        self.archive = archive
        self.on_claim_activity: list[Any] = []  # callbacks(video_id, when): the poller's claim signal

    def collect(self, state: dict[str, Any], now: datetime) -> Unit:
        unit = Unit(self.name)
        after = state.get("after")
        at_after = set(state.get("at_after", []))
        through: dict[str, str] = dict(state.get("history_through", {}))
        snippets: list[dict[str, Any]] = []
        newest, newest_ids = after, set(at_after)
        try:
            for snippet in self._search(after, unit):
                when = snippet["timeStatusLastModified"]
                if after and (when < after or (when == after and snippet["id"] in at_after)):
                    continue
                snippets.append(snippet)
                if newest is None or when > newest:
                    newest, newest_ids = when, {snippet["id"]}
                elif when == newest:
                    newest_ids.add(snippet["id"])
            histories = []
            for snippet in snippets:
                history = self._history(snippet["id"], unit)
                if history is not None:
                    histories.append(history)
        except ApiFailure as exc:
            unit.failure = str(exc)
            if exc.kind == "unauthorised":
                raise
            return Unit(self.name, state=dict(state), failure=unit.failure, quarantined=unit.quarantined)
        stamp = _stamp(now)
        if snippets:
            body = "".join(json.dumps(s, sort_keys=True, ensure_ascii=False) + "\n" for s in snippets).encode()
            unit.files.append(write_atomically(self.archive / "claims" / f"claims_api_{stamp}.jsonl", body))
        if histories:
            path = write_atomically(
                self.archive / "claims" / f"claim_history_{stamp}.json",
                json.dumps(histories, ensure_ascii=False, indent=1).encode(),
            )
            unit.files.append(path)
            # A history is the whole story each time: the events published from an earlier copy are known.
            for event in read_file(path).events:
                if not isinstance(event, ClaimEvent) or event.event_time is None:
                    continue
                if event.claim_id in through and _iso(event.event_time) <= through[event.claim_id]:
                    unit.known_ids.add(event.event_id)
            for history in histories:
                times = [
                    str(e["time"])
                    for e in history.get("event", [])
                    if isinstance(e, dict) and isinstance(e.get("time"), str)
                ]
                with contextlib.suppress(ValueError):
                    if times:
                        through[str(history["id"])] = max(_iso(_parse_time(t)) for t in times)
        for snippet in snippets:
            for callback in self.on_claim_activity:
                if isinstance(snippet.get("videoId"), str):
                    callback(snippet["videoId"], now)
        # Histories of claims quiet for half a year are not followed any more (bounded state).
        horizon = _iso(now - timedelta(days=HISTORY_DAYS))
        through = {claim: last for claim, last in through.items() if last >= horizon}
        unit.state = {"after": newest, "at_after": sorted(newest_ids), "history_through": through}
        return unit

    def _search(self, after: str | None, unit: Unit) -> Iterable[dict[str, Any]]:
        token = None
        since = None
        if after:
            since = _iso(_parse_time(after) - timedelta(seconds=BOUNDARY_SECONDS))
        for _ in range(MAX_PAGES):
            options: dict[str, Any] = dict(self.apis.owner())
            if since:
                options["statusModifiedAfter"] = since
            if token:
                options["pageToken"] = token
            body = execute(self.apis.partner.claimSearch().list(**options), "claimSearch.list")
            page, why = parse(body)
            if page is None:
                unit.quarantined.append(malformed("partner_api_claim", "claimSearch.list", why, body))
                return
            for item in page.get("items", []) or []:
                if (
                    isinstance(item, dict)
                    and isinstance(item.get("id"), str)
                    and isinstance(item.get("timeStatusLastModified"), str)
                ):
                    try:
                        item["timeStatusLastModified"] = _iso(_parse_time(item["timeStatusLastModified"]))
                    except ValueError:
                        pass
                    else:
                        yield item
                        continue
                unit.quarantined.append(
                    malformed(
                        "partner_api_claim",
                        "claimSearch.list",
                        "claim snippet without id or a readable timeStatusLastModified",
                        json.dumps(item).encode(),
                    )
                )
            token = page.get("nextPageToken")
            if not token:
                return

    def _history(self, claim_id: str, unit: Unit) -> dict[str, Any] | None:
        what = f"claimHistory.get {claim_id[:80]}"
        try:
            body = execute(self.apis.partner.claimHistory().get(claimId=claim_id, **self.apis.owner()), what)
        except ApiFailure as exc:
            if exc.kind == "refused":  # the claim is gone (404): nothing to tell
                return None
            raise
        history, why = parse(body)
        if history is None:
            unit.quarantined.append(malformed("partner_api_claim_history", what, why, body))
        return history


# ------------------------------------------------------------------------------------------- Data API


class PollCollector:
    name = "poller"

    def __init__(self, apis: Apis, archive: Path, planner: Planner) -> None:
        self.apis = apis
        self.archive = archive
        self.planner = planner
        self.calls = 0

    def collect(self, state: dict[str, Any], now: datetime) -> Unit:
        unit = Unit(self.name, state={})
        at = now.timestamp()
        if at < self.planner.budget.stopped_until:
            return unit
        records: list[dict[str, Any]] = []
        observed = _iso(now).replace(".000000Z", "Z")
        for batch in self.planner.due(at):
            what = f"videos.list ({len(batch)} ids)"
            # The upload time once per video (same cost: one unit a call whatever the parts), and of the
            # snippet only that field.
            ask_upload = any(self.planner.upload_unknown(v) for v in batch)
            options: dict[str, Any] = {"part": "statistics,snippet" if ask_upload else "statistics"}
            if ask_upload:
                options["fields"] = "items(id,statistics,snippet/publishedAt)"
            try:
                body = execute(self.apis.youtube.videos().list(id=",".join(batch), maxResults=50, **options), what)
                self.calls += 1
            except ApiFailure as exc:
                if exc.kind == "quota_exceeded":
                    until = self.planner.budget.exhausted(at)
                    unit.failure = f"{exc}: polling stops until {_iso(datetime.fromtimestamp(until, tz=UTC))}"
                    log.warning("%s", unit.failure)
                    break
                if exc.kind == "unauthorised":
                    raise
                unit.failure = str(exc)
                break
            page, why = parse(body)
            if page is None:
                unit.quarantined.append(malformed("polls", what, why, body))
                continue
            returned = set()
            for item in page.get("items", []) or []:
                record = _poll_record(item, observed)
                if record is None:
                    unit.quarantined.append(
                        malformed(
                            "polls",
                            what,
                            "video item without a string id and statistics object",
                            json.dumps(item).encode(),
                        )
                    )
                    continue
                returned.add(record["platform_content_id"])
                records.append(record)
                if (uploaded := _published_at(item)) is not None:
                    self.planner.add(record["platform_content_id"], published=uploaded)
                views = record.get("views_total")
                self.planner.record(
                    record["platform_content_id"],
                    at,
                    int(views) if isinstance(views, str) and views.isdigit() else None,
                )
            for video_id in set(batch) - returned:
                self.planner.record(video_id, at, None)  # private, deleted or unknown: read again at the floor
        if records:
            body = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode()
            unit.files.append(write_atomically(self.archive / "polls" / f"polls_youtube_{_stamp(now)}.jsonl", body))
            unit.redo = {"records": records, "path": str(unit.files[0])}
        return unit

    @staticmethod
    def rewrite(redo: dict[str, Any]) -> Path:
        """A round's readings written again from its marker (the archive went with its machine)."""
        path = Path(redo["path"])
        if not path.exists():
            write_atomically(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in redo["records"]).encode())
        return path


def _published_at(item: dict[str, Any]) -> float | None:
    """``snippet.publishedAt`` of a ``videos.list`` item, as epoch seconds (None: absent or unreadable)."""
    snippet = item.get("snippet")
    text = snippet.get("publishedAt") if isinstance(snippet, dict) else None
    if not isinstance(text, str):
        return None
    try:
        return _parse_time(text).timestamp()
    except ValueError:
        return None


def _poll_record(item: Any, observed: str) -> dict[str, Any] | None:
    """One ``videos.list`` item as a row of the polls contract (the reader checks its values)."""
    if (
        not isinstance(item, dict)
        or not isinstance(item.get("id"), str)
        or not isinstance(item.get("statistics"), dict)
    ):
        return None
    stats = item["statistics"]
    record: dict[str, Any] = {"platform": "youtube", "platform_content_id": item["id"], "observed_at": observed}
    for api_name, column in (
        ("viewCount", "views_total"),
        ("likeCount", "likes_total"),
        ("commentCount", "comments_total"),
    ):
        if api_name in stats:
            record[column] = stats[api_name]
    return record


# ------------------------------------------------------------------------------------------- files


class FolderCollector:
    """The distributor's own exports (catalog, rights, other platforms' polls) dropped in a folder."""

    name = "folder"

    def __init__(self, folder: Path, settle: bool = True) -> None:
        self.folder = folder
        self.settle = settle  # take a file only once its size held still for a round (it may be mid-copy)
        self.sizes: dict[str, int] = {}

    def collect(self, state: dict[str, Any], now: datetime) -> Unit:
        done: dict[str, list[float]] = {k: list(v) for k, v in state.get("done", {}).items()}
        unit = Unit(self.name)
        for path in discover([self.folder]) if self.folder.exists() else []:
            stat = path.stat()
            mark = [stat.st_size, stat.st_mtime]
            key = str(path)
            if done.get(key) == mark:
                continue
            if self.settle and self.sizes.get(key) != stat.st_size:
                self.sizes[key] = stat.st_size  # still being written, maybe: the next round takes it
                continue
            unit.files.append(path)
            done[key] = mark
        unit.state = {"done": done}
        return unit
