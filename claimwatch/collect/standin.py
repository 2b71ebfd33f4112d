"""A local stand-in for the three Google APIs the collectors call, speaking their documented shapes.

Google's servers are out of reach from tests (and from a laptop without a Content Manager
account), so ``claimwatch collect standin DIR`` serves a folder of exports (``claimwatch sample``'s
output, or real ones) as the APIs would, and the maintained clients (``google-api-python-client``
with ``google-auth``) are pointed at it:

- **YouTube Reporting API v1** (``/v1/…``): report types, jobs (system-managed ones exist, others
  are created), reports per job listed by ``createdAfter`` and paged, downloads by URL (gzip-encoded
  to a client that accepts it, as Google's are). Every
  ``<reportTypeId>_<YYYYMMDD>.csv[.gz]`` of the folder is one report of that day, created at 06:00
  UTC the next day; ``POST /standin/reissue`` re-issues one (a new report id, a later createTime, the
  same period), as the API does when it regenerates a report.
- **Content ID API v1** (``/youtube/partner/v1/…``, discovery document served): ``claimSearch.list``
  with ``statusModifiedAfter`` (claim snippets, 20 a page, oldest change first), ``claimHistory.get``.
  Claims are the folder's Content ID claim records and the claims its claim histories name (the
  history's last event gives the status and time).
- **YouTube Data API v3** (``/youtube/v3/videos``): ``videos.list`` with ``part=statistics`` for up to
  50 ids: each video's counters as of the stand-in's clock, from the folder's YouTube polls (no
  shares: the Data API has no share count). One unit a call, a daily quota that resets at midnight
  Pacific, then ``403 quotaExceeded``.
- **OAuth 2.0** (``/token``): a refresh token for an access token; the APIs answer ``401`` to any
  other token.

The clock (``POST /standin/clock``) decides what exists: reports not yet created, claims not yet
changed and polls not yet taken are not served. ``POST /standin/faults`` queues failures for the
next calls to one API (``quota``, ``429``, ``500``, ``503``, ``unauthorized``, ``malformed``,
``truncated``), so every failure mode is tested against the real client's handling of it.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import re
import threading
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from claimwatch.collect.planner import pacific_day_bounds

REPORT_FILE = re.compile(r"^((?:content_owner|channel)_[a-z_]+_a\d+)_(\d{8})\.(?:csv|csv\.gz)$")
# System-managed report types exist for every content owner without a job being created.
SYSTEM_MANAGED_PREFIXES = (
    "content_owner_active_claims",
    "content_owner_asset_conflict",
    "content_owner_video_metadata",
    "content_owner_asset_",
    "content_owner_active_references",
)
PAGE_SIZE = 20
GRANTED_SCOPES = (
    "https://www.googleapis.com/auth/youtubepartner",
    "https://www.googleapis.com/auth/yt-analytics.readonly",
    "https://www.googleapis.com/auth/youtube.readonly",
)
REPORT_READY_HOURS = 30  # a day's report is created at 06:00 UTC the next day
TOKEN_SECONDS = 3600
FAULTS = ("quota", "429", "500", "503", "unauthorized", "malformed", "truncated")
API_OF_PATH = (
    ("/youtube/v3/", "data"),
    ("/youtube/partner/v1/", "partner"),
    ("/v1/media/", "media"),
    ("/v1/", "reporting"),
)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _open_text(path: Path) -> str:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8-sig")


@dataclass
class Report:
    id: str
    job_id: str
    report_type: str
    day: date
    created: datetime
    body: bytes

    def resource(self, base: str) -> dict[str, Any]:
        start = datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC)
        return {
            "id": self.id,
            "jobId": self.job_id,
            "startTime": _iso(start),
            "endTime": _iso(start + timedelta(days=1)),
            "createTime": _iso(self.created),
            "downloadUrl": f"{base}/v1/media/{self.id}?alt=media",
        }


@dataclass
class StandinData:
    """What the folder holds, indexed the way the APIs answer."""

    reports: list[Report] = field(default_factory=list)
    claim_versions: dict[str, list[tuple[datetime, dict[str, Any]]]] = field(default_factory=dict)
    histories: dict[str, list[tuple[datetime, dict[str, Any]]]] = field(default_factory=dict)
    polls: dict[str, list[tuple[datetime, dict[str, int]]]] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> StandinData:
        data = cls()
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            if match := REPORT_FILE.match(path.name):
                kind, ymd = match[1], match[2]
                day = date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]))
                created = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=REPORT_READY_HOURS)
                body = _open_text(path).encode()
                data.reports.append(Report(_report_id(kind, day, 0), f"job-{kind}", kind, day, created, body))
            elif path.name.startswith("claims_api_"):
                for line in _open_text(path).splitlines():
                    if line.strip():
                        record = json.loads(line)
                        when = _parse(record.get("timeStatusLastModified") or record["timeCreated"])
                        data.claim_versions.setdefault(record["id"], []).append((when, record))
            elif path.name.startswith("claim_history_"):
                for record in json.loads(_open_text(path)):
                    last = max(_parse(e["time"]) for e in record.get("event", []))
                    data.histories.setdefault(record["id"], []).append((last, record))
            elif path.name.startswith("polls_"):
                for line in _open_text(path).splitlines():
                    if not line.strip():
                        continue
                    poll = json.loads(line)
                    if poll.get("platform") != "youtube":
                        continue
                    counters = {
                        k: int(poll[k])
                        for k in ("views_total", "likes_total", "comments_total")
                        if poll.get(k) is not None
                    }
                    data.polls.setdefault(poll["platform_content_id"], []).append(
                        (_parse(poll["observed_at"]), counters)
                    )
        for versions in (*data.claim_versions.values(), *data.histories.values(), *data.polls.values()):
            versions.sort(key=lambda v: v[0])
        return data

    def latest_time(self) -> datetime:
        times = [r.created for r in self.reports]
        times += [v[-1][0] for v in self.claim_versions.values()]
        times += [v[-1][0] for v in self.polls.values()]
        return max(times) if times else datetime.now(tz=UTC)


def _report_id(kind: str, day: date, issue: int) -> str:
    return hashlib.sha256(f"{kind}|{day}|{issue}".encode()).hexdigest()[:16]


def _latest(versions: list[tuple[datetime, Any]], now: datetime) -> tuple[datetime, Any] | None:
    found = None
    for version in versions:
        if version[0] > now:
            break
        found = version
    return found


class Standin:
    """The server's state: the data, the clock, issued tokens, queued faults and what was used."""

    def __init__(self, data: StandinData, refresh_token: str = "standin-refresh", daily_units: int = 10_000) -> None:
        self.data = data
        self.now = data.latest_time() + timedelta(minutes=1)
        self.refresh_token = refresh_token
        self.tokens: set[str] = set()
        self.issued = 0
        self.daily_units = daily_units
        self.units: Counter[str] = Counter()  # Pacific day → Data API units used
        self.calls: Counter[str] = Counter()
        self.faults: dict[str, deque[str]] = defaultdict(deque)
        self.jobs: dict[str, dict[str, Any]] = {}
        self.reissues: Counter[tuple[str, date]] = Counter()
        for kind in sorted({r.report_type for r in data.reports}):
            if kind.startswith(SYSTEM_MANAGED_PREFIXES):
                self.jobs[kind] = {"id": f"job-{kind}", "reportTypeId": kind, "name": kind, "systemManaged": True}
        self.base = ""
        self.delay_seconds = 0.0  # each API answer waits this long (a slow network, for kill tests)
        self.delay_api = ""  # only this API's answers ("": all)

    # ------------------------------------------------------------------ plumbing

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_post("/token", self.token)
        r.add_post("/standin/clock", self.set_clock)
        r.add_post("/standin/faults", self.add_faults)
        r.add_post("/standin/reissue", self.reissue)
        r.add_get("/standin/usage", self.usage)
        r.add_post("/standin/delay", self.set_delay)
        r.add_get("/v1/reportTypes", self.report_types)
        r.add_get("/v1/jobs", self.list_jobs)
        r.add_post("/v1/jobs", self.create_job)
        r.add_get("/v1/jobs/{job}/reports", self.list_reports)
        r.add_get("/v1/media/{report}", self.download)
        r.add_get("/discovery/v1/apis/youtubePartner/v1/rest", self.partner_discovery)
        r.add_get("/youtube/partner/v1/claimSearch", self.claim_search)
        r.add_get("/youtube/partner/v1/claimHistory/{claim}", self.claim_history)
        r.add_get("/youtube/v3/videos", self.videos)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        api = next((name for prefix, name in API_OF_PATH if path.startswith(prefix)), None)
        if api is None:
            return await handler(request)  # type: ignore[no-any-return]
        self.calls[api] += 1
        if self.delay_seconds and self.delay_api in ("", api):
            await asyncio.sleep(self.delay_seconds)
        fault = self.faults[api].popleft() if self.faults[api] else None
        if fault == "unauthorized":
            self.tokens.clear()  # the access token expired: the client must refresh it
        if not self._authorised(request):
            return _error(401, "UNAUTHENTICATED", "authError", "Request had invalid authentication credentials.")
        if fault == "quota":
            return _quota_exceeded()
        if fault == "429":
            return _error(429, "RESOURCE_EXHAUSTED", "rateLimitExceeded", "Too many requests.")
        if fault in ("500", "503"):
            return _error(int(fault), "UNAVAILABLE", "backendError", "Backend Error")
        if api == "data":
            day = datetime.fromtimestamp(pacific_day_bounds(self.now.timestamp())[0], tz=UTC).isoformat()
            if self.units[day] >= self.daily_units:
                return _quota_exceeded()
            self.units[day] += 1
        response: web.StreamResponse = await handler(request)
        if fault == "malformed" and isinstance(response, web.Response):
            return web.Response(
                status=200, body=b'{"items": [{"id": 12, "statistics": "lots"}, ', content_type="application/json"
            )
        if fault == "truncated" and isinstance(response, web.Response) and response.body:
            body = bytes(response.body)  # type: ignore[arg-type]
            return web.Response(status=200, body=body[: len(body) // 2], content_type=response.content_type)
        return response

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        return header.startswith("Bearer ") and header[7:] in self.tokens

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
            return web.json_response({"error": "invalid_grant", "error_description": "Bad Request"}, status=400)
        self.issued += 1
        token = f"standin-access-{self.issued}"
        self.tokens.add(token)
        # The scopes asked for are the scopes granted (a real consent screen may grant fewer).
        scope = str(form.get("scope") or " ".join(GRANTED_SCOPES))
        return web.json_response(
            {"access_token": token, "expires_in": TOKEN_SECONDS, "token_type": "Bearer", "scope": scope}
        )

    async def set_clock(self, request: web.Request) -> web.Response:
        self.now = _parse(str((await request.json())["now"]))
        return web.json_response({"now": _iso(self.now)})

    async def add_faults(self, request: web.Request) -> web.Response:
        body = await request.json()
        unknown = [f for f in body["faults"] if str(f) not in FAULTS]
        if unknown or body["api"] not in {"data", "partner", "reporting", "media"}:
            return web.json_response({"error": f"unknown api or faults {unknown}"}, status=400)
        self.faults[body["api"]].extend(str(f) for f in body["faults"])
        return web.json_response({"queued": {k: list(v) for k, v in self.faults.items()}})

    async def reissue(self, request: web.Request) -> web.Response:
        body = await request.json()
        kind, day = str(body["report_type"]), date.fromisoformat(str(body["day"]))
        old = next(r for r in self.data.reports if r.report_type == kind and r.day == day)
        self.reissues[(kind, day)] += 1
        issue = self.reissues[(kind, day)]
        replacement = body.get("body")
        self.data.reports.append(
            Report(
                _report_id(kind, day, issue),
                old.job_id,
                kind,
                day,
                self.now,
                replacement.encode() if replacement else old.body,
            )
        )
        return web.json_response({"id": self.data.reports[-1].id})

    async def set_delay(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.delay_seconds, self.delay_api = float(body["seconds"]), str(body.get("api", ""))
        return web.json_response({"delay_seconds": self.delay_seconds, "api": self.delay_api})

    async def usage(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"units": dict(self.units), "calls": dict(self.calls), "tokens_issued": self.issued, "now": _iso(self.now)}
        )

    # ------------------------------------------------------------------ Reporting API

    async def report_types(self, request: web.Request) -> web.Response:
        kinds = sorted({r.report_type for r in self.data.reports})
        return web.json_response(
            {
                "reportTypes": [
                    {"id": k, "name": k, "systemManaged": k.startswith(SYSTEM_MANAGED_PREFIXES)} for k in kinds
                ]
            }
        )

    async def list_jobs(self, request: web.Request) -> web.Response:
        system = request.query.get("includeSystemManaged") == "true"
        jobs = [j for j in self.jobs.values() if system or not j.get("systemManaged")]
        return web.json_response({"jobs": jobs})

    async def create_job(self, request: web.Request) -> web.Response:
        body = await request.json()
        kind = str(body.get("reportTypeId", ""))
        if kind not in {r.report_type for r in self.data.reports}:
            return _error(400, "INVALID_ARGUMENT", "badRequest", f"unknown report type {kind[:80]}")
        if kind in self.jobs:
            return _error(409, "ALREADY_EXISTS", "alreadyExists", "a job for this report type exists")
        job = {
            "id": f"job-{kind}",
            "reportTypeId": kind,
            "name": str(body.get("name", kind)),
            "createTime": _iso(self.now),
        }
        self.jobs[kind] = job
        return web.json_response(job)

    async def list_reports(self, request: web.Request) -> web.Response:
        job = request.match_info["job"]
        if not any(j["id"] == job for j in self.jobs.values()):
            return _error(404, "NOT_FOUND", "notFound", "job not found")
        after = _parse(request.query["createdAfter"]) if "createdAfter" in request.query else None
        found = sorted(
            (
                r
                for r in self.data.reports
                if r.job_id == job and r.created <= self.now and (after is None or r.created > after)
            ),
            key=lambda r: (r.created, r.id),
        )
        start = int(request.query.get("pageToken") or 0)
        size = int(request.query.get("pageSize") or PAGE_SIZE)
        page = found[start : start + size]
        body: dict[str, Any] = {"reports": [r.resource(self.base) for r in page]}
        if start + size < len(found):
            body["nextPageToken"] = str(start + size)
        return web.json_response(body)

    async def download(self, request: web.Request) -> web.Response:
        report = next((r for r in self.data.reports if r.id == request.match_info["report"]), None)
        if report is None or report.created > self.now:
            return _error(404, "NOT_FOUND", "notFound", "report not found")
        response = web.Response(body=report.body, content_type="application/octet-stream")
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            response.enable_compression(web.ContentCoding.gzip)  # as Google serves reports to clients that accept it
        return response

    # ------------------------------------------------------------------ Content ID API

    async def partner_discovery(self, request: web.Request) -> web.Response:
        return web.json_response(partner_discovery(self.base))

    def _changed_claims(self, after: datetime | None) -> list[tuple[datetime, dict[str, Any]]]:
        snippets = {}
        for claim_id, versions in self.data.claim_versions.items():
            if (found := _latest(versions, self.now)) is not None:
                snippets[claim_id] = (found[0], {**found[1], "kind": "youtubePartner#claimSnippet"})
        for claim_id, versions in self.data.histories.items():
            found = _latest(versions, self.now)
            if found is None or (claim_id in snippets and snippets[claim_id][0] >= found[0]):
                continue
            snippets[claim_id] = (found[0], _snippet_from_history(found[1], self.now))
        return sorted((v for v in snippets.values() if after is None or v[0] > after), key=lambda v: (v[0], v[1]["id"]))

    async def claim_search(self, request: web.Request) -> web.Response:
        after = request.query.get("statusModifiedAfter")
        found = self._changed_claims(_parse(after) if after else None)
        start = int(request.query.get("pageToken") or 0)
        page = found[start : start + PAGE_SIZE]
        body: dict[str, Any] = {
            "kind": "youtubePartner#claimSnippetList",
            "items": [snippet for _, snippet in page],
            "pageInfo": {"totalResults": len(found), "resultsPerPage": PAGE_SIZE},
        }
        if start + PAGE_SIZE < len(found):
            body["nextPageToken"] = str(start + PAGE_SIZE)
        return web.json_response(body)

    async def claim_history(self, request: web.Request) -> web.Response:
        claim_id = request.match_info["claim"]
        found = _latest(self.data.histories.get(claim_id, []), self.now)
        if found is None:
            # Every claim has a history in the API: a claim the folder has no history for was created and nothing more.
            versions = self.data.claim_versions.get(claim_id)
            latest = _latest(versions or [], self.now)
            if latest is None:
                return _error(404, "NOT_FOUND", "notFound", "claim not found")
            record = latest[1]
            return web.json_response(
                {
                    "kind": "youtubePartner#claimHistory",
                    "id": claim_id,
                    "event": [
                        {
                            "time": record.get("timeCreated") or record.get("timeStatusLastModified"),
                            "type": "claim_create",
                            "source": {"type": "system"},
                        }
                    ],
                }
            )
        return web.json_response(found[1])

    # ------------------------------------------------------------------ Data API

    async def videos(self, request: web.Request) -> web.Response:
        parts = set(request.query.get("part", "").split(","))
        ids = [i for i in request.query.get("id", "").split(",") if i]
        if "statistics" not in parts or not ids:
            return _error(400, "INVALID_ARGUMENT", "missingRequiredParameter", "part=statistics and id are required")
        if len(ids) > 50:
            return _error(400, "INVALID_ARGUMENT", "tooManyIds", "at most 50 ids")
        items: list[dict[str, Any]] = []
        for video_id in ids:
            found = _latest(self.data.polls.get(video_id, []), self.now)
            if found is None:
                continue  # unknown, private or deleted videos are simply absent, as in the API
            counters = found[1]
            statistics = {"viewCount": str(counters.get("views_total", 0)), "favoriteCount": "0"}
            if "likes_total" in counters:
                statistics["likeCount"] = str(counters["likes_total"])
            if "comments_total" in counters:
                statistics["commentCount"] = str(counters["comments_total"])
            item: dict[str, Any] = {
                "kind": "youtube#video",
                "etag": f"e{len(items)}",
                "id": video_id,
                "statistics": statistics,
            }
            if "snippet" in parts:
                item["snippet"] = {"publishedAt": _iso(self.data.polls[video_id][0][0])}
            items.append(item)
        return web.json_response(
            {
                "kind": "youtube#videoListResponse",
                "items": items,
                "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
            }
        )


def _snippet_from_history(history: dict[str, Any], now: datetime) -> dict[str, Any]:
    events = [e for e in history.get("event", []) if _parse(e["time"]) <= now]
    last = events[-1] if events else {}
    status = {"dispute_create": "disputed", "dispute_appeal": "appealed", "takedown": "takedown"}.get(
        str(last.get("type")), str((last.get("typeDetails") or {}).get("updateStatus") or "active")
    )
    created = next((e["time"] for e in events if e.get("type") == "claim_create"), last.get("time"))
    return {
        "kind": "youtubePartner#claimSnippet",
        "id": history["id"],
        "status": status,
        "timeCreated": created,
        "timeStatusLastModified": last.get("time"),
    }


def _error(code: int, status: str, reason: str, message: str, domain: str = "global") -> web.Response:
    body = {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
            "status": status,
        }
    }
    return web.json_response(body, status=code)


def _quota_exceeded() -> web.Response:
    return _error(
        403,
        "PERMISSION_DENIED",
        "quotaExceeded",
        "The request cannot be completed because you have exceeded your quota.",
        domain="youtube.quota",
    )


def partner_discovery(base: str) -> dict[str, Any]:
    """The part of the youtubePartner v1 discovery document the collector calls (Google's lists the
    same methods, paths and parameters; ``build()`` reads it as it reads Google's)."""
    owner = {"onBehalfOfContentOwner": {"type": "string", "location": "query"}}
    return {
        "kind": "discovery#restDescription",
        "discoveryVersion": "v1",
        "id": "youtubePartner:v1",
        "name": "youtubePartner",
        "version": "v1",
        "title": "YouTube Content ID API",
        "protocol": "rest",
        "rootUrl": f"{base}/",
        "servicePath": "",
        "baseUrl": f"{base}/",
        "batchPath": "batch",
        "parameters": {"alt": {"type": "string", "default": "json", "location": "query"}},
        "auth": {
            "oauth2": {"scopes": {"https://www.googleapis.com/auth/youtubepartner": {"description": "Content ID"}}}
        },
        "schemas": {},
        "resources": {
            "claimSearch": {
                "methods": {
                    "list": {
                        "id": "youtubePartner.claimSearch.list",
                        "path": "youtube/partner/v1/claimSearch",
                        "flatPath": "youtube/partner/v1/claimSearch",
                        "httpMethod": "GET",
                        "parameters": {
                            **owner,
                            "statusModifiedAfter": {"type": "string", "location": "query"},
                            "status": {"type": "string", "location": "query"},
                            "pageToken": {"type": "string", "location": "query"},
                            "sort": {"type": "string", "location": "query"},
                        },
                        "scopes": ["https://www.googleapis.com/auth/youtubepartner"],
                    }
                }
            },
            "claimHistory": {
                "methods": {
                    "get": {
                        "id": "youtubePartner.claimHistory.get",
                        "path": "youtube/partner/v1/claimHistory/{claimId}",
                        "flatPath": "youtube/partner/v1/claimHistory/{claimId}",
                        "httpMethod": "GET",
                        "parameterOrder": ["claimId"],
                        "parameters": {**owner, "claimId": {"type": "string", "required": True, "location": "path"}},
                        "scopes": ["https://www.googleapis.com/auth/youtubepartner"],
                    }
                }
            },
        },
    }


class RunningStandin:
    """The stand-in on a loopback port in a background thread (tests, ``collect standin``)."""

    def __init__(
        self, folder: Path, port: int = 0, bind: str = "127.0.0.1", public_url: str = "", **options: Any
    ) -> None:
        self.standin = Standin(StandinData.load(folder), **options)
        self.port = port
        self.bind = bind
        self.public_url = public_url.rstrip("/")  # how clients reach it (download URLs name it)
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="standin")
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._runner = web.AppRunner(self.standin.app(), access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, self.bind, self.port)
        self._loop.run_until_complete(site.start())
        if self.port == 0:
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.standin.base = self.public_url or self.url
        self._started.set()
        self._loop.run_forever()

    def __enter__(self) -> RunningStandin:
        self._thread.start()
        if not self._started.wait(30):
            raise RuntimeError("the stand-in did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
