"""The Alertmanager sink against a real Alertmanager (Debian's prometheus-alertmanager, which
scripts/test installs when missing): routes by severity, silences, inhibition, deduplication."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from schemas.alerts import ALERT_TYPES, SEVERITIES, Alert
from stream.consumers import AlertFilter, AlertmanagerSink, SinkPipeline, alertmanager_alert
from tests.streamkit import free_port

REPO = Path(__file__).resolve().parents[1]
BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = pytest.mark.alertmanager  # skipped without the binary (tests/conftest.py)


class Receiver:
    """A webhook receiver of Alertmanager's notifications: the alert ids each one carried."""

    def __init__(self) -> None:
        self.alert_ids: list[str] = []
        received = self.alert_ids

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                received.extend(a["labels"]["alert_id"] for a in body["alerts"] if a["status"] == "firing")
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


CONFIG = """
route:
  receiver: rights
  group_by: [alertname, content_id]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['severity="critical"']
      receiver: oncall
inhibit_rules:
  # A discrepancy between what a platform reports and what we measured makes a spike on the same
  # item doubtful: the spike is held back while the discrepancy is open.
  - source_matchers: ['alertname="performance_discrepancy"']
    target_matchers: ['alertname="view_spike"']
    equal: [content_id]
receivers:
  - name: oncall
    webhook_configs: [{url: "%(oncall)s", send_resolved: false}]
  - name: rights
    webhook_configs: [{url: "%(rights)s", send_resolved: false}]
"""


@pytest_asyncio.fixture
async def alertmanager(tmp_path: Path) -> AsyncIterator[tuple[str, Receiver, Receiver]]:
    oncall, rights = Receiver(), Receiver()
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG % {"oncall": oncall.url, "rights": rights.url})
    port = free_port()
    process = subprocess.Popen(
        [
            str(BINARY),
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "alertmanager.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(f"{url}/-/ready", timeout=aiohttp.ClientTimeout(total=1)) as ready:
                        if ready.status == 200:
                            break
                except (aiohttp.ClientError, TimeoutError):
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError((tmp_path / "alertmanager.log").read_text()[-2000:])
                await asyncio.sleep(0.2)
        yield url, oncall, rights
    finally:
        process.terminate()
        process.wait(timeout=10)
        oncall.server.shutdown()
        rights.server.shutdown()


def alert(n: int, type_: str, severity: str, content: str) -> Alert:
    now = datetime.now(UTC)
    return Alert(
        alert_id=f"am-{n}",
        type=type_,
        severity=severity,
        score=0.9,
        subject={"content_id": content, "video_id": f"vid{n}", "platform": "youtube"},
        event_time=now,
        detected_at=now,
        title=f"<b>{type_}</b> on {content}",
        evidence={"rule": type_, "ratio": 4.0},
    )


async def wait_for(condition: Any, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.2)
    return False


async def test_routes_silences_inhibition_and_redelivery(alertmanager: tuple[str, Receiver, Receiver]) -> None:
    url, oncall, rights = alertmanager
    sink = AlertmanagerSink(url)
    pipeline = SinkPipeline(sink, AlertFilter("info"))

    # Routing by severity: critical to on-call, the rest to the rights team.
    await pipeline.handle([alert(1, "dispute_risk", "critical", "CW-1"), alert(2, "view_spike", "medium", "CW-2")])
    assert await wait_for(lambda: "am-1" in oncall.alert_ids and "am-2" in rights.alert_ids), (
        oncall.alert_ids,
        rights.alert_ids,
    )
    assert "am-1" not in rights.alert_ids and "am-2" not in oncall.alert_ids

    # Redelivered (a sink restarted before its commit): Alertmanager sees the same alert, pages once.
    await sink.send(alert(1, "dispute_risk", "critical", "CW-1"))
    await sink.send(alert(1, "dispute_risk", "critical", "CW-1"))

    # A silence holds an alert back.
    now = datetime.now(UTC)
    silence = {
        "matchers": [{"name": "alertname", "value": "engagement_spike", "isRegex": False, "isEqual": True}],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
        "createdBy": "test",
        "comment": "known campaign",
    }
    async with aiohttp.ClientSession() as session, session.post(f"{url}/api/v2/silences", json=silence) as response:
        assert response.status == 200
    await sink.send(alert(3, "engagement_spike", "high", "CW-3"))

    # Inhibition: a spike on an item with an open discrepancy is held; on another item it is not.
    await sink.send(alert(4, "performance_discrepancy", "high", "CW-4"))
    assert await wait_for(lambda: "am-4" in rights.alert_ids)
    await sink.send_digest("CW-4", [alert(5, "view_spike", "high", "CW-4"), alert(6, "view_spike", "high", "CW-5")])
    assert await wait_for(lambda: "am-6" in rights.alert_ids)

    await asyncio.sleep(3)  # several group intervals: whatever was to be sent has been
    assert "am-5" not in rights.alert_ids, "inhibited by the open discrepancy on CW-4"
    assert "am-3" not in rights.alert_ids + oncall.alert_ids, "silenced"
    assert oncall.alert_ids.count("am-1") == 1, "a redelivered alert pages once"


def test_the_alert_form_carries_labels_links_and_a_cooldown_end() -> None:
    a = alert(9, "viral_propagation", "high", "CW-9")
    body = alertmanager_alert(a, now=a.event_time)
    assert body["labels"] == {
        "alertname": "viral_propagation",
        "type": "viral_propagation",
        "severity": "high",
        "alert_id": "am-9",
        "content_id": "CW-9",
        "platform": "youtube",
        "video_id": "vid9",
    }
    assert body["generatorURL"] == "https://www.youtube.com/watch?v=vid9"
    assert body["endsAt"] > body["startsAt"]  # the 48 h cooldown of viral_propagation
    old = a.model_copy(update={"event_time": a.event_time - timedelta(days=30)})
    assert alertmanager_alert(old, now=a.event_time)["endsAt"] > alertmanager_alert(a, now=a.event_time)["startsAt"]
    annotations = body["annotations"]
    assert annotations["summary"] == a.title == annotations["title"], "what receivers show is what happened"
    assert annotations["description"].startswith("rule ") or annotations["description"] == ""
    hostile = a.model_copy(update={"title": "<!channel> pay <https://evil.example|your bank>"})
    slack = alertmanager_alert(hostile, now=a.event_time)["annotations"]
    assert slack["slack_text"] == "&lt;!channel&gt; pay &lt;https://evil.example|your bank&gt;"
    assert "<" not in slack["slack_title"] and slack["slack_title"] == "viral_propagation on CW-9"
    assert "runbook_url" not in annotations  # only where the runbook is served (CLAIMWATCH_RUNBOOK_URL)


def test_every_alert_type_has_a_runbook_section_its_alerts_point_at() -> None:
    runbook = (Path(__file__).resolve().parents[1] / "docs" / "alerts.md").read_text()
    sections = set(re.findall(r"^## ([a-z_]+)$", runbook, re.M))
    assert sections == set(ALERT_TYPES)
    served = "https://git.example.org/claimwatch/-/blob/main/docs/alerts.md"
    for type_ in ALERT_TYPES:
        a = alert(1, type_, "high", "CW-1")
        assert alertmanager_alert(a, runbook=served)["annotations"]["runbook_url"] == f"{served}#{type_}"


# The example routing tree: every alert reaches the rights team; a critical one also pages on-call.
ROUTES = {severity: "oncall,rights-slack" if severity == "critical" else "rights-slack" for severity in SEVERITIES}


@pytest.mark.parametrize("alert_type", ALERT_TYPES)
def test_the_shipped_routing_tree_sends_every_type_and_severity_where_it_belongs(alert_type: str) -> None:
    amtool = shutil.which("amtool")
    assert amtool, "amtool comes with prometheus-alertmanager"
    routed = {}
    for severity in SEVERITIES:
        done = subprocess.run(
            [
                amtool,
                "config",
                "routes",
                "test",
                f"--config.file={REPO / 'deploy' / 'alertmanager.yml'}",
                f"alertname={alert_type}",
                f"type={alert_type}",
                f"severity={severity}",
                "content_id=CW-1",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        routed[severity] = done.stdout.strip()
    assert routed == ROUTES
