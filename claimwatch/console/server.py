"""``claimwatch console``: the rights team's pages, server-rendered (aiohttp and Jinja2).

Pages: **Now** (the latest alerts, new ones as they fire over server-sent events), the **review
queue** (one row per subject, with acknowledge / assign / resolve / snooze), **dispute risk**,
**reports** and **data quality**. Every page is rendered from templates with autoescaping (titles,
names and notes are hostile input), served with a content security policy that allows no inline
script, and every action is a POST that carries the CSRF token of the browser's cookie. Identity:
the ALB's signed header in production (:mod:`claimwatch.console.auth`), none when run locally.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import ClientSession, ClientTimeout, web
from markupsafe import Markup

from claimwatch.console import charts
from claimwatch.console.auth import (
    ALB_HEADER,
    ALB_KEYS_URL,
    CSRF_COOKIE,
    CSRF_FIELD,
    LOCAL,
    AuthError,
    Identity,
    csrf_ok,
    new_csrf_token,
    token_parts,
    verify_alb,
)
from claimwatch.console.data import Source
from claimwatch.console.queue import Action, build_queue, review_deadlines
from claimwatch.detect.rollup import BAND_FIELDS
from claimwatch.textsafe import safe_cell, safe_text
from schemas.alerts import ALERT_TYPES, SEVERITIES, Alert, severity_rank

log = logging.getLogger("claimwatch.console")
HERE = Path(__file__).parent
PAGE_ALERTS = 200  # rows on Now; the filters narrow it
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
Clock = Callable[[], datetime]
IDENTITY = web.RequestKey("identity", Identity)
CSRF = web.RequestKey("csrf", str)
FORM = web.RequestKey("form", dict[str, str])  # the POSTed text fields


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ConsoleConfig:
    alb_signer: str = ""  # the ALB's ARN: sign-in through it is required (production)
    alb_region: str = ""
    alb_keys_url: str = ""  # where the ALB's public keys are (default: AWS's for the region)
    impacts: Path | None = None  # a folder of `claimwatch impact --out` folders, listed read-only
    clock: Clock = utc_now


@dataclass
class AlbKeys:
    """The load balancer's public keys by key id, fetched once each."""

    url: str
    cache: dict[str, bytes] = field(default_factory=dict)

    async def get(self, kid: str) -> bytes:
        if kid not in self.cache:
            if "/" in kid or ".." in kid:
                raise AuthError("the identity header names no key")
            async with ClientSession(timeout=ClientTimeout(total=5)) as http, http.get(f"{self.url}/{kid}") as answer:
                if answer.status != 200:
                    raise AuthError("the load balancer's public key could not be had")
                self.cache[kid] = (await answer.read())[:10_000]
        return self.cache[kid]


def _shown(value: Any) -> Any:
    if isinstance(value, Markup):
        return Markup(safe_text(value, len(value)))
    return safe_text(value, 5_000) if isinstance(value, str) else value


def environment_for(templates: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        autoescape=True,  # every title, name and note is hostile input
        undefined=jinja2.StrictUndefined,
        # Escaped is not enough for control characters (terminal escapes, bidi overrides that
        # reorder what a reader sees): every value shown loses them first. Markup is the charts'
        # own drawing, every text in it escaped there: it loses them too, and stays whole.
        finalize=_shown,
    )
    env.filters["when"] = lambda t: t.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if t else ""
    env.filters["thousands"] = lambda n: f"{n:,}" if isinstance(n, int | float) else n
    return env


def impacts_in(folder: Path | None) -> list[dict[str, Any]]:
    """The impact reports (``claimwatch impact --out``) in a folder: what each generation changed."""
    out: list[dict[str, Any]] = []
    if folder is None or not folder.is_dir():
        return out
    for path in sorted(folder.iterdir()):
        try:
            body = json.loads((path / "impact.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(body, dict):
            continue
        out.append(
            {
                "name": path.name,
                "from": body.get("from_generation"),
                "to": body.get("to_generation"),
                "added": len(body.get("added", [])),
                "removed": len(body.get("removed", [])),
                "changed": len(body.get("changed", [])),
            }
        )
    return out


def risk_moves(alerts: list[Alert], hours: float = 24) -> list[dict[str, Any]]:
    """The dispute-risk alerts of the last day (of data time, up to the newest alert): what crossed
    into high risk since yesterday, with the score before and now, newest first."""
    risky = [a for a in alerts if a.type == "dispute_risk"]
    if not risky:
        return []
    newest = max(a.event_time for a in alerts)
    out = []
    for a in sorted(risky, key=lambda a: (a.event_time, a.alert_id), reverse=True):
        if newest - a.event_time > timedelta(hours=hours):
            break
        before = a.evidence.get("previous_score")
        out.append(
            {
                "alert": a,
                "before": before if isinstance(before, int | float) else None,
                "drivers": [d.get("driver") for d in a.evidence.get("drivers", []) if isinstance(d, dict)][:4],
            }
        )
    return out


def alert_row(alert: Alert) -> dict[str, Any]:
    """What Now shows of an alert (the live view sends the same, as JSON: its script sets text only)."""
    return {
        "id": alert.alert_id,
        "at": alert.detected_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "severity": alert.severity,
        "type": alert.type,
        "title": safe_text(alert.title, 1_000),
        "item": alert.subject.content_id or "",
        "platform": alert.subject.platform or "",
    }


def matches(alert: Alert, query: dict[str, str]) -> bool:
    if query.get("severity") and severity_rank(alert.severity) < severity_rank(query["severity"]):
        return False
    if query.get("type") and alert.type != query["type"]:
        return False
    if query.get("platform") and (alert.subject.platform or "") != query["platform"]:
        return False
    item = query.get("item", "").strip()
    return not item or item in set(alert.subject.ids().values())


def links(alert_or_ids: dict[str, str]) -> list[tuple[str, str]]:
    out = []
    video = alert_or_ids.get("video_id")
    if video:
        out.append(("YouTube Studio", f"https://studio.youtube.com/video/{video}/copyright"))
        out.append(("the video", f"https://www.youtube.com/watch?v={video}"))
    return out


class Console:
    def __init__(self, source: Source, config: ConsoleConfig | None = None) -> None:
        self.source = source
        self.config = config or ConsoleConfig()
        self.templates = environment_for(HERE / "templates")
        region = self.config.alb_region
        self.keys = AlbKeys(self.config.alb_keys_url or ALB_KEYS_URL.format(region=region))

    # ------------------------------------------------------------------------- plumbing

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard], client_max_size=64 * 1024)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/", self.now)
        app.router.add_get("/events", self.events)
        app.router.add_get("/alerts/{alert_id}", self.alert)
        app.router.add_get("/queue", self.queue)
        app.router.add_post("/queue/action", self.act)
        app.router.add_get("/risk", self.risk)
        app.router.add_get("/reports", self.reports)
        app.router.add_get("/reports/{week}", self.report)
        app.router.add_get("/impacts/{name}", self.impact)
        app.router.add_get("/quality", self.quality)
        app.router.add_get("/quality/export.csv", self.quality_export)
        app.router.add_static("/static", HERE / "static", append_version=False)
        app.on_startup.append(lambda _: self.source.start())
        app.on_cleanup.append(lambda _: self.source.close())
        return app

    async def identity(self, request: web.Request) -> Identity:
        if not self.config.alb_signer:
            return LOCAL
        token = request.headers.get(ALB_HEADER)
        if not token:
            raise AuthError("no sign-in: the console is reached through its load balancer")
        kid = str(token_parts(token)[0].get("kid", ""))
        key = await self.keys.get(kid) if kid else b""
        return verify_alb(token, lambda _: key, self.config.alb_signer, time.time())

    async def healthz(self, request: web.Request) -> web.Response:
        """The load balancer's health check: the one path that needs no sign-in, and says nothing."""
        return web.Response(text="ok\n")

    @web.middleware
    async def guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path == "/healthz" and request.method == "GET":
            return self.secure(await handler(request), request)
        try:
            request[IDENTITY] = await self.identity(request)
        except AuthError as exc:
            log.warning("refused %s %s: %s", request.method, request.path, exc)
            response: web.StreamResponse = web.Response(status=401, text=f"not signed in: {exc}\n")
        else:
            token = request.cookies.get(CSRF_COOKIE) or new_csrf_token()
            request[CSRF] = token
            if request.method == "POST":
                form = await request.post()
                submitted = form.get(CSRF_FIELD)
                if not csrf_ok(request.cookies.get(CSRF_COOKIE), submitted if isinstance(submitted, str) else None):
                    response = web.Response(status=403, text="refused: the form carries no valid CSRF token\n")
                    return self.secure(response, request)
                request[FORM] = {k: v for k, v in form.items() if isinstance(v, str)}
            try:
                response = await handler(request)
            except web.HTTPException as exc:  # a redirect or a refusal: headed like every answer
                response = web.Response(status=exc.status, reason=exc.reason, body=exc.body, headers=exc.headers)
            if CSRF_COOKIE not in request.cookies and isinstance(response, web.Response):
                response.set_cookie(
                    CSRF_COOKIE, token, httponly=True, samesite="Strict", secure=bool(self.config.alb_signer), path="/"
                )
        return self.secure(response, request)

    def secure(self, response: web.StreamResponse, request: web.Request) -> web.StreamResponse:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    def page(self, request: web.Request, template: str, **values: Any) -> web.Response:
        identity: Identity = request[IDENTITY]
        body = self.templates.get_template(template).render(
            identity=identity,
            csrf=request[CSRF],
            where=self.source.where,
            path=request.path,
            **values,
        )
        return web.Response(text=body, content_type="text/html")

    # ------------------------------------------------------------------------- pages

    async def now(self, request: web.Request) -> web.Response:
        query = {k: request.query.get(k, "")[:100] for k in ("severity", "type", "platform", "item")}
        alerts = self.source.alerts()
        shown = [
            a for a in sorted(alerts, key=lambda a: (a.detected_at, a.alert_id), reverse=True) if matches(a, query)
        ]
        platforms = sorted({a.subject.platform for a in alerts if a.subject.platform})
        return self.page(
            request,
            "now.html",
            rows=[alert_row(a) for a in shown[:PAGE_ALERTS]],
            total=len(shown),
            seen=len(alerts),
            query=query,
            severities=SEVERITIES,
            types=ALERT_TYPES,
            platforms=platforms,
        )

    async def events(self, request: web.Request) -> web.StreamResponse:
        """New alerts as server-sent events (``data:`` one JSON row each), filtered as Now is."""
        query = {k: request.query.get(k, "")[:100] for k in ("severity", "type", "platform", "item")}
        try:
            seen = max(0, int(request.query.get("since", "0")))
        except ValueError:
            seen = 0
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        self.secure(response, request)
        await response.prepare(request)
        try:
            while True:
                fresh = await self.source.wait_for_alerts(seen, timeout_s=15)
                seen += len(fresh)
                rows = [alert_row(a) for a in fresh if matches(a, query)]
                if rows:
                    for row in rows:
                        await response.write(f"data: {json.dumps(row)}\n\n".encode())
                else:
                    await response.write(b": still here\n\n")  # keeps proxies from closing an idle stream
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response

    async def alert(self, request: web.Request) -> web.Response:
        wanted = request.match_info["alert_id"]
        found = next((a for a in self.source.alerts() if a.alert_id == wanted), None)
        if found is None:
            raise web.HTTPNotFound(text="no such alert\n")
        subject = found.subject.key() or ""
        related = [a for a in self.source.alerts() if a.subject.key() == subject and a.alert_id != wanted]
        evidence = sorted(  # the days of a post are drawn, their figures in a table of their own
            (str(k), json.dumps(v) if isinstance(v, dict | list) else str(v))
            for k, v in found.evidence.items()
            if k != "recent_days"
        )
        pictures = {  # drawn by charts.py, every text in them escaped there
            "bars": Markup(charts.observed_against_expected(found.evidence)),
            "timeline": Markup(charts.timeline([found, *related])),
            "drivers": Markup(charts.drivers(found.evidence.get("drivers"))),
            "bands": post_bands([found, *related]),
        }
        return self.page(
            request,
            "alert.html",
            alert=found,
            pictures=pictures,
            evidence=evidence,
            ids=sorted(found.subject.ids().items()),
            links=links(found.subject.ids()),
            related=[alert_row(a) for a in sorted(related, key=lambda a: a.detected_at, reverse=True)[:50]],
        )

    async def queue(self, request: web.Request) -> web.Response:
        now = self.config.clock()
        rows = build_queue(self.source.alerts(), await self.source.actions(), now)
        status = request.query.get("status", "active")
        if status == "active":
            rows = [r for r in rows if r.state.status != "resolved"]
        elif status in ("open", "resolved", "snoozed", "assigned", "acknowledged"):
            rows = [r for r in rows if r.state.status == status]
        return self.page(request, "queue.html", rows=rows, status=status, links=links, now=now)

    async def act(self, request: web.Request) -> web.Response:
        form = request[FORM]
        identity: Identity = request[IDENTITY]
        kind = str(form.get("kind", ""))
        subject = str(form.get("subject", ""))[:300]
        known = {a.subject.key() for a in self.source.alerts()}
        if subject not in known:
            raise web.HTTPBadRequest(text="no such subject\n")
        until = None
        if kind == "snooze":
            try:
                hours = float(str(form.get("hours", "")))
            except ValueError:
                raise web.HTTPBadRequest(text="snooze for how many hours?\n") from None
            if not 0 < hours <= 24 * 30:
                raise web.HTTPBadRequest(text="snooze for 0 to 720 hours\n")
            until = self.config.clock() + timedelta(hours=hours)
        try:
            action = Action(
                subject=subject,
                kind=kind,
                by=identity.user,
                at=self.config.clock(),
                note=str(form.get("note", ""))[:2000],
                assignee=str(form.get("assignee", ""))[:200],
                until=until,
            )
        except ValueError as exc:
            raise web.HTTPBadRequest(text=f"not an action: {' '.join(str(exc).split())[:200]}\n") from None
        await self.source.record(action)
        log.info("review action", extra={"subject": subject, "kind": kind, "by": identity.user})
        raise web.HTTPSeeOther(location="/queue")

    async def risk(self, request: web.Request) -> web.Response:
        reports = await self.source.reports()
        latest = reports[-1] if reports else None
        previous = reports[-2] if len(reports) > 1 else None
        before = {
            r.get("claim_id"): r.get("score") for r in (previous.figures.get("dispute_risk", []) if previous else [])
        }
        rows = []
        for row in (latest.figures.get("dispute_risk", []) if latest else [])[:200]:
            score = row.get("score")
            was = before.get(row.get("claim_id"))
            change = None if was is None or score is None else round(float(score) - float(was), 3)
            rows.append({**row, "change": change})
        now = self.config.clock()
        deadlines = review_deadlines(await self.source.claim_rows(), now)
        return self.page(
            request,
            "risk.html",
            report=latest,
            rows=rows,
            previous=previous,
            deadlines=deadlines,
            now=now,
            moved=risk_moves(self.source.alerts()),
        )

    async def reports(self, request: web.Request) -> web.Response:
        reports = await self.source.reports()
        return self.page(
            request,
            "reports.html",
            reports=list(reversed(reports)),
            generations=await self.source.generations(),
            impacts=impacts_in(self.config.impacts),
        )

    async def impact(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        found = next((i for i in impacts_in(self.config.impacts) if i["name"] == name), None)
        if found is None or self.config.impacts is None:
            raise web.HTTPNotFound(text="no such impact report\n")
        html = self.config.impacts / name / "impact.html"
        if not html.is_file():
            raise web.HTTPNotFound(text="no such impact report\n")
        return web.Response(
            body=html.read_bytes(), content_type="text/html", headers={"Content-Security-Policy": REPORT_CSP}
        )

    async def report(self, request: web.Request) -> web.Response:
        week = request.match_info["week"]
        found = next((r for r in await self.source.reports() if r.week == week), None)
        if found is None or found.html is None:
            raise web.HTTPNotFound(text="no such report\n")
        # The report is claimwatch's own static page (no script): its inline styles are allowed.
        return web.Response(body=found.html, content_type="text/html", headers={"Content-Security-Policy": REPORT_CSP})

    async def quality(self, request: web.Request) -> web.Response:
        entries = await self.source.quarantine()
        counts = Counter((e.source, e.reason_code) for e in entries)
        rows = [{"source": s, "reason": r, "count": n} for (s, r), n in sorted(counts.items(), key=lambda kv: -kv[1])]
        return self.page(request, "quality.html", rows=rows, total=len(entries))

    async def quality_export(self, request: web.Request) -> web.Response:
        source, reason = request.query.get("source", ""), request.query.get("reason", "")
        entries = [
            e
            for e in await self.source.quarantine()
            if (not source or e.source == source) and (not reason or e.reason_code == reason)
        ]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["source", "source_file", "line", "field", "reason_code", "reason", "raw"])
        for e in entries:  # cells a spreadsheet would run as formulas are made text
            writer.writerow(
                [safe_cell(v) for v in (e.source, e.source_file, e.line, e.field or "", e.reason_code, e.reason, e.raw)]
            )
        return web.Response(
            text=out.getvalue(),
            content_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="quarantine.csv"'},
        )


BAND_KEYS = frozenset(BAND_FIELDS)  # a day of the band an alert carries, as the core writes it


def post_bands(alerts: list[Alert]) -> list[tuple[str, Markup, list[dict[str, Any]]]]:
    """Per post among ``alerts`` (the first alert's own post first): its last days against the usual
    range, as a picture and as figures, from the newest alert on it that carries them
    (``recent_days``, taken from the post's roll-up rows when it was raised)."""
    newest: dict[tuple[str, str], Alert] = {}
    own = alerts[0].subject.ids() if alerts else {}
    first = (str(own.get("platform", "")), str(own.get("platform_content_id", "")))
    for a in alerts:
        ids = a.subject.ids()
        post = (str(ids.get("platform", "")), str(ids.get("platform_content_id", "")))
        if post[1] and a.evidence.get("recent_days") and (post not in newest or a.event_time > newest[post].event_time):
            newest[post] = a
    out = []
    for (platform, post_id), a in sorted(newest.items(), key=lambda kv: (kv[0] != first, kv[0])):
        label = f"{platform} post {post_id}, to {a.event_time:%Y-%m-%d %H:%M}"
        picture = charts.band(a.evidence["recent_days"], label)
        if picture:
            days = [d for d in a.evidence["recent_days"] if isinstance(d, dict) and d.keys() >= BAND_KEYS]
            out.append((label, Markup(picture), days))
    return out


async def serve(console: Console, host: str, port: int) -> None:
    runner = web.AppRunner(console.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    print(f"claimwatch console on http://{host}:{port}/ ({console.source.where})", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
