"""The review console: its queue as plain code, its pages, its guards (CSRF, escaping, ALB sign-in)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from claimwatch.console.auth import AuthError, verify_alb
from claimwatch.console.data import FolderSource
from claimwatch.console.queue import Action, build_queue, review_deadlines, state_of
from claimwatch.console.server import BAND_KEYS, Console, ConsoleConfig, post_bands, risk_moves
from claimwatch.detect.rollup import band_day
from schemas.alerts import Alert
from tests.streamkit import needs_kafka

T0 = datetime(2026, 11, 3, 12, tzinfo=UTC)
HOSTILE = '<script>alert(1)</script> =HYPERLINK("http://x") \x1b[31m <@here>'
SIGNER = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/console/50dc6c495c0c9188"


def act(kind: str, hours: float, **extra: Any) -> Action:
    return Action(subject="content_id:CW-1", kind=kind, by="ana", at=T0 + timedelta(hours=hours), **extra)


# ------------------------------------------------------------------------------ the queue, plain


@pytest.mark.parametrize(
    ("alerts_at", "actions", "now", "status", "reopened"),
    [
        ([0], [], 1, "open", False),
        ([0], [act("acknowledge", 1)], 2, "acknowledged", False),
        ([0], [act("assign", 1, assignee="bo"), act("acknowledge", 2)], 3, "assigned", False),
        ([0], [act("resolve", 1, note="licensed")], 2, "resolved", False),
        ([0, 3], [act("resolve", 1, note="licensed")], 4, "open", True),  # a new alert reopens it
        ([0, 3], [act("resolve", 1, note="licensed")], 2, "resolved", False),  # not yet raised at 2
        ([0], [act("snooze", 1, until=T0 + timedelta(hours=5))], 4, "snoozed", False),
        ([0], [act("snooze", 1, until=T0 + timedelta(hours=5))], 6, "open", False),  # the snooze ran out
        ([0], [act("resolve", 1, note="x"), act("reopen", 2)], 3, "open", True),
        ([0], [act("resolve", 5, note="later")], 3, "open", False),  # an action after now is not seen
    ],
)
def test_a_subject_s_state_follows_its_actions_and_alerts(
    alerts_at: list[float], actions: list[Action], now: float, status: str, reopened: bool
) -> None:
    state = state_of([T0 + timedelta(hours=h) for h in alerts_at], actions, T0 + timedelta(hours=now))
    assert (state.status, state.reopened) == (status, reopened)


def alert(n: int, severity: str = "high", content: str = "CW-1", title: str = "", **subject: str) -> Alert:
    return Alert.model_validate(
        {
            "alert_id": f"a{n:04d}",
            "type": "view_spike",
            "severity": severity,
            "score": 0.9,
            "title": title or f"alert {n}",
            "event_time": (T0 + timedelta(minutes=n)).isoformat(),
            "detected_at": (T0 + timedelta(minutes=n)).isoformat(),
            "subject": {"content_id": content, "platform": "youtube", **subject},
            "evidence": {"rule": "view_spike", "note": title, "observed": 900.0, "expected": 100.0},
        }
    )


def test_a_viral_item_s_alerts_are_one_row_and_low_ones_alone_are_not_queued() -> None:
    alerts = [alert(i, content="CW-VIRAL") for i in range(20)] + [alert(99, "low", content="CW-QUIET")]
    rows = build_queue(alerts, [], T0 + timedelta(days=1))
    assert [(r.subject, len(r.alerts)) for r in rows] == [("content_id:CW-VIRAL", 20)]


# ------------------------------------------------------------------------------ the pages


@pytest.fixture
def run_folder(bundled_run: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    shutil.copytree(bundled_run, folder)
    with (folder / "alerts.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(alert(1, "critical", content="CW-HOSTILE", title=HOSTILE).model_dump_json() + "\n")
    return folder


@pytest_asyncio.fixture
async def client(run_folder: Path) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    console = Console(FolderSource(run_folder), ConsoleConfig(clock=lambda: T0 + timedelta(days=40)))
    async with TestClient(TestServer(console.app())) as test_client:
        yield test_client


def token_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the page carries a CSRF token"
    return found.group(1)


def FolderSourceAlerts(folder: Path) -> list[Alert]:
    return [Alert.model_validate_json(line) for line in (folder / "alerts.jsonl").read_text().splitlines() if line]


async def test_every_page_renders_escaped_and_under_a_policy_without_inline_script(
    client: TestClient,  # type: ignore[type-arg]
    run_folder: Path,
) -> None:
    for path in (
        "/",
        "/queue",
        "/risk",
        "/reports",
        "/quality",
        "/alerts/a0001",
        "/?severity=critical&item=CW-HOSTILE",
    ):
        answer = await client.get(path)
        text = await answer.text()
        assert answer.status == 200, (path, text[:300])
        assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
        assert "<script>alert(1)" not in text and "\x1b" not in text, path
        assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) is None, f"an inline script on {path}"
    evidence = await (await client.get("/alerts/a0001")).text()
    assert 'aria-label="count: observed 900.0 against 100.0 expected"' in evidence and "<svg" in evidence
    risky = next(a for a in FolderSourceAlerts(run_folder) if a.type == "dispute_risk")
    assert 'aria-label="dispute risk drivers"' in await (await client.get(f"/alerts/{risky.alert_id}")).text()
    now = await (await client.get("/?severity=critical&item=CW-HOSTILE")).text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in now
    assert "Local use: no sign-in." in now


async def test_an_action_without_its_csrf_token_is_refused(client: TestClient, run_folder: Path) -> None:  # type: ignore[type-arg]
    page = await (await client.get("/queue")).text()
    form = {"subject": "content_id:CW-HOSTILE", "kind": "acknowledge"}
    refused = await client.post("/queue/action", data=form, allow_redirects=False)
    assert refused.status == 403
    wrong = await client.post("/queue/action", data=form | {"csrf": "not-the-cookie"}, allow_redirects=False)
    assert wrong.status == 403 and not (run_folder / "reviews.jsonl").exists()
    done = await client.post("/queue/action", data=form | {"csrf": token_of(page)}, allow_redirects=False)
    assert done.status == 303 and "acknowledge" in (run_folder / "reviews.jsonl").read_text()


async def test_a_resolved_subject_stays_resolved_for_a_new_console_on_the_same_folder(
    client: TestClient,  # type: ignore[type-arg]
    run_folder: Path,
) -> None:
    page = await (await client.get("/queue")).text()
    form = {"subject": "content_id:CW-HOSTILE", "kind": "resolve", "note": "<b>licensed</b>", "csrf": token_of(page)}
    assert (await client.post("/queue/action", data=form, allow_redirects=False)).status == 303
    again = Console(FolderSource(run_folder), ConsoleConfig(clock=lambda: T0 + timedelta(days=40)))
    async with TestClient(TestServer(again.app())) as second:
        resolved = await (await second.get("/queue?status=resolved")).text()
    row = resolved.split('data-subject="content_id:CW-HOSTILE"')[1].split("</tr>")[0]
    assert "resolved" in row and "&lt;b&gt;licensed&lt;/b&gt;" in row and "resolve by local" in row


async def test_a_new_alert_line_reaches_the_live_view_within_two_seconds(client: TestClient, run_folder: Path) -> None:  # type: ignore[type-arg]
    page = await (await client.get("/")).text()
    since = int(re.search(r'data-since="(\d+)"', page).group(1))  # type: ignore[union-attr]
    stream = await client.get(f"/events?since={since}")
    started = time.monotonic()
    with (run_folder / "alerts.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(alert(2, "high", content="CW-NEW", title="fresh one").model_dump_json() + "\n")
    line = b""
    while not line.startswith(b"data:"):
        line = await asyncio.wait_for(stream.content.readline(), 2.0)
    assert time.monotonic() - started < 2.0
    assert json.loads(line[5:])["title"] == "fresh one"
    stream.close()


async def test_the_quarantine_export_makes_formulas_text(client: TestClient, run_folder: Path) -> None:  # type: ignore[type-arg]
    entry = {
        "source": "platform_poll",
        "source_file": "p.jsonl",
        "line": 3,
        "reason": "bad",
        "reason_code": "x",
        "raw": "=1+1",
    }
    with (run_folder / "quarantine.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")
    csv_text = await (await client.get("/quality/export.csv?source=platform_poll&reason=x")).text()
    assert csv_text.splitlines()[1].endswith("'=1+1") or "'=1+1" in csv_text


# ------------------------------------------------------------------------------ ALB sign-in


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()  # padded, as the ALB writes it


def alb_token(key: ec.EllipticCurvePrivateKey, expires: float, signer: str = SIGNER, kid: str = "k1") -> str:
    header = {
        "alg": "ES256",
        "kid": kid,
        "signer": signer,
        "iss": "https://idp.example",
        "client": "c",
        "exp": int(expires),
    }
    claims = {"sub": "1234", "email": "ana@label.example", "exp": int(expires)}
    signed = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    r, s = decode_dss_signature(key.sign(signed.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signed}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def tampered(token: str) -> str:
    """The same signature over claims someone changed (another e-mail address)."""
    header, claims, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(claims))
    return f"{header}.{b64(json.dumps(body | {'email': 'mallory@x'}).encode())}.{signature}"


def pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


async def test_a_post_s_last_days_are_drawn_and_malformed_ones_are_left_out(run_folder: Path) -> None:
    days = [
        {"day": f"2026-11-0{n}", "views": 100.0 * n, "expected": 100.0, "low": 60.0, "high": 140.0}
        | {"reactions": 9.0, "reactions_expected": 8.0, "reactions_low": 3.0, "reactions_high": 13.0}
        for n in range(1, 6)
    ]
    drawn, hostile, broken = alert(2, platform_content_id="yt1"), alert(3, content="CW-2"), alert(4, content="CW-3")
    drawn.evidence["recent_days"] = days
    hostile.evidence["recent_days"] = [d | {"day": HOSTILE} for d in days]
    broken.evidence["recent_days"] = [{"day": "2026-11-01", "views": "many"}, 7, None, {"views": 1}]
    hostile.subject.platform_content_id = broken.subject.platform_content_id = "yt2"
    with (run_folder / "alerts.jsonl").open("a", encoding="utf-8") as fh:
        fh.writelines(a.model_dump_json() + "\n" for a in (drawn, hostile, broken))
    console = Console(FolderSource(run_folder), ConsoleConfig(clock=lambda: T0 + timedelta(days=40)))
    async with TestClient(TestServer(console.app())) as client:
        page = await (await client.get("/alerts/a0002")).text()
        assert "youtube post yt1, to 2026-11-03 12:02: views and reactions per day against their usual range" in page
        assert page.count('r="5" fill="#b3261e"') == 4, "the days at 200 to 500 are out of 60–140"
        assert "<td>500.0</td>" in page  # the figures in a table too
        for wanted in ("a0003", "a0004"):
            answer = await client.get(f"/alerts/{wanted}")
            text = await answer.text()
            assert answer.status == 200 and "<script>alert(1)" not in text
            assert "against their usual range" in text if wanted == "a0003" else "against their usual range" not in text


JSON_ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=10),
    max_leaves=40,
)
BAND_DAY = st.fixed_dictionaries(
    {k: st.floats(allow_nan=True) | st.integers() | st.text(max_size=20) for k in sorted(BAND_KEYS)}
)


@settings(max_examples=150, deadline=None)
@given(st.one_of(JSON_ANY, st.lists(BAND_DAY | JSON_ANY, max_size=16)))
def test_any_recent_days_an_alert_carries_draws_or_is_left_out_never_raises(days: Any) -> None:
    found = alert(5, platform_content_id="yt1", title=HOSTILE)
    found.evidence["recent_days"] = days
    for label, picture, rows in post_bands([found]):
        assert str(picture).startswith("<svg") and "<script" not in str(picture)
        assert all(row.keys() >= BAND_KEYS for row in rows) and "yt1" in label


@given(st.lists(st.floats(min_value=0, max_value=1e12), min_size=6, max_size=6))
def test_a_day_s_usual_range_holds_its_usual_and_never_goes_below_zero(figures: list[float]) -> None:
    day = band_day("2026-11-20", figures)
    assert 0.0 <= day["low"] <= round(day["expected"], 1) + 0.1 and day["expected"] <= day["high"] + 0.1
    assert day["reactions_low"] >= 0.0 and day["reactions_expected"] <= day["reactions_high"] + 0.1


def test_the_alb_header_is_believed_only_when_signed_by_its_load_balancer_and_fresh() -> None:
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    now = time.time()
    good = verify_alb(alb_token(key, now + 60), lambda kid: pem(key), SIGNER, now)
    assert (good.user, good.signed) == ("ana@label.example", True)
    cases = {
        "expired": (alb_token(key, now - 1), pem(key), "expired"),
        "wrong key": (alb_token(other, now + 60), pem(key), "does not check"),
        "another load balancer": (alb_token(key, now + 60, signer=SIGNER + "x"), pem(key), "another load balancer"),
        "not a token": ("abc", pem(key), "not a JWT"),
        "altered claims": (tampered(alb_token(key, now + 60)), pem(key), "does not check"),
    }
    for token, public, reason in cases.values():
        with pytest.raises(AuthError, match=reason):
            verify_alb(token, lambda kid, public=public: public, SIGNER, now)  # type: ignore[misc]


@pytest_asyncio.fixture
async def key_server() -> AsyncIterator[tuple[str, ec.EllipticCurvePrivateKey]]:
    """The ALB's public-key endpoint, stood in: ``/<kid>`` answers the PEM."""
    from aiohttp import web

    key = ec.generate_private_key(ec.SECP256R1())

    async def public_key(request: web.Request) -> web.Response:
        if request.match_info["kid"] != "k1":
            return web.Response(status=404)
        return web.Response(body=pem(key))

    app = web.Application()
    app.router.add_get("/{kid}", public_key)
    async with TestServer(app) as server:
        yield str(server.make_url("")).rstrip("/"), key


async def test_behind_the_alb_a_request_without_a_valid_signed_identity_is_refused(
    run_folder: Path, key_server: tuple[str, ec.EllipticCurvePrivateKey]
) -> None:
    url, key = key_server
    config = ConsoleConfig(alb_signer=SIGNER, alb_keys_url=url)
    async with TestClient(TestServer(Console(FolderSource(run_folder), config).app())) as client:
        assert (await client.get("/")).status == 401  # missing
        health = await client.get("/healthz")  # the load balancer's health check: no sign-in, nothing said
        assert health.status == 200 and await health.text() == "ok\n"
        unsigned = base64.urlsafe_b64encode(json.dumps({"email": "mallory@x"}).encode()).decode()
        assert (await client.get("/", headers={"x-amzn-oidc-data": f"e30.{unsigned}."})).status == 401
        stale = alb_token(key, time.time() - 5)
        assert (await client.get("/", headers={"x-amzn-oidc-data": stale})).status == 401
        fresh = alb_token(key, time.time() + 60)
        page = await client.get("/queue", headers={"x-amzn-oidc-data": fresh})
        text = await page.text()
        assert page.status == 200 and "Signed in as <strong>ana@label.example</strong>" in text
        assert "Secure" in page.headers["Set-Cookie"]  # behind the ALB the browser speaks HTTPS
        form = {"subject": "content_id:CW-HOSTILE", "kind": "acknowledge", "csrf": token_of(text)}
        # The test speaks HTTP to the console itself, so it hands back the Secure cookie as a browser would.
        headers = {"x-amzn-oidc-data": fresh, "Cookie": f"cw_csrf={token_of(text)}"}
        done = await client.post("/queue/action", data=form, headers=headers, allow_redirects=False)
        assert done.status == 303 and '"by":"ana@label.example"' in (run_folder / "reviews.jsonl").read_text()


def claim_row(claim: str, status: str, days_ago: float, now: datetime) -> dict[str, object]:
    return {
        "kind": "claim",
        "claim_id": claim,
        "status": status,
        "status_time": (now - timedelta(days=days_ago)).timestamp(),
    }


def test_review_deadlines_follow_youtube_s_periods_and_the_latest_status() -> None:
    now = T0
    rows = [
        claim_row("dispute-due-in-2", "disputed", 28, now),
        claim_row("appeal-due-in-6", "appealed", 1, now),
        claim_row("potential-ran-out", "potential", 32, now),
        claim_row("active-no-timer", "active", 29, now),
        claim_row("dispute-far-off", "disputed", 2, now),  # 28 days left: beyond the two weeks shown
        claim_row("long-gone", "disputed", 60, now),  # ran out a month ago
        claim_row("resolved-since", "disputed", 28, now),
        claim_row("resolved-since", "active", 1, now),  # its latest row: reinstated, no timer
    ]
    found = [(d.claim_id, d.days_left(now)) for d in review_deadlines(rows, now)]
    assert found == [("potential-ran-out", -2.0), ("dispute-due-in-2", 2.0), ("appeal-due-in-6", 6.0)]


async def test_the_risk_page_lists_the_deadlines_that_run_out(client: TestClient) -> None:  # type: ignore[type-arg]
    page = await (await client.get("/risk")).text()
    assert '<ul class="moved">' in page
    table = page.split('<table class="deadlines">')[1].split("</table>")[0]
    assert table.count("<tr") > 2 and "disputed" in table


async def test_impact_reports_are_listed_and_served_read_only(run_folder: Path, tmp_path: Path) -> None:
    impacts = tmp_path / "impacts"
    (impacts / "gen2-incident").mkdir(parents=True)
    body = {"from_generation": 1, "to_generation": 2, "added": [], "removed": [{"alert_id": "x"}], "changed": []}
    (impacts / "gen2-incident" / "impact.json").write_text(json.dumps(body))
    (impacts / "gen2-incident" / "impact.html").write_text("<h1>Impact of generation 2 against 1</h1>")
    config = ConsoleConfig(clock=lambda: T0, impacts=impacts)
    async with TestClient(TestServer(Console(FolderSource(run_folder), config).app())) as client:
        page = await (await client.get("/reports")).text()
        listed = page.split('<table class="impacts">')[1].split("</table>")[0]
        assert "gen2-incident" in listed and "<td>1 → 2</td><td>0</td><td>1</td><td>0</td>" in listed
        served = await client.get("/impacts/gen2-incident")
        assert served.status == 200 and "Impact of generation 2" in await served.text()
        assert "script" not in served.headers["Content-Security-Policy"].replace("script-src", "")
        assert (await client.get("/impacts/..%2F..%2Fetc")).status == 404


@needs_kafka
def test_on_kafka_the_generations_are_read_from_the_control_topic() -> None:
    from claimwatch.console.data import KafkaSource
    from stream.kafka_io import producer, start_client
    from tests.streamkit import isolated_settings, setup_topics

    settings = isolated_settings()
    setup_topics(settings)  # runs its own event loop: this test is not a coroutine

    async def write_markers() -> None:
        out = producer(settings)
        await start_client(out, settings)
        try:
            for key, value in (
                (
                    b"replay_done|g2|0/2",
                    {"generation": 2, "shard": "0/2", "records": 10, "alerts": 3, "finished_at": "t1"},
                ),
                (
                    b"replay_done|g2|1/2",
                    {"generation": 2, "shard": "1/2", "records": 12, "alerts": 4, "finished_at": "t2"},
                ),
                (b"live_generation", {"generation": 2, "previous": 1, "by": "ops", "at": "t3"}),
            ):
                await out.send_and_wait(settings.topic("control"), key=key, value=json.dumps(value).encode())
        finally:
            await out.stop()

    asyncio.run(write_markers())
    found = asyncio.run(KafkaSource(settings, "reports").generations())
    assert [(g["generation"], g["live"], g["shards"], g["records"]) for g in found] == [
        (1, False, [], 0),
        (2, True, ["0/2", "1/2"], 22),
    ]


def test_what_moved_since_yesterday_is_the_last_day_s_dispute_risk_alerts() -> None:
    def risk(n: int, hours_ago: float) -> Alert:
        a = alert(n)
        return a.model_copy(
            update={
                "type": "dispute_risk",
                "event_time": T0 - timedelta(hours=hours_ago),
                "evidence": {"previous_score": 0.4, "drivers": [{"driver": "appeal open", "weight": 2.5}]},
            }
        )

    moved = risk_moves([risk(1, 2), risk(2, 30), risk(3, 23), alert(4)])
    assert [(m["alert"].alert_id, m["before"], m["drivers"]) for m in moved] == [
        ("a0001", 0.4, ["appeal open"]),
        ("a0003", 0.4, ["appeal open"]),
    ]
