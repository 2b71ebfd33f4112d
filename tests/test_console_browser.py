"""The review console in a real browser (Debian's chromium, driven by selenium through chromium-driver):
the live view on Kafka, decisions that outlive a restart, hostile titles, CSRF, the grouped queue,
and the embedded run's folder with no broker. Each page is saved as a 1400 px screenshot in
``test-artifacts/console/`` for a reviewer to look at."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.alerts import Alert
from schemas.codec import encode_alert
from stream.kafka_io import producer, start_client
from stream.settings import Settings
from tests.streamkit import env_for, free_port, isolated_settings, needs_kafka, setup_topics

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("console-browser")]
REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / "test-artifacts" / "console"
HOSTILE = '<img src=x onerror="document.title=1"> <script>document.title="owned"</script> =SUM(A1)'
T0 = datetime(2026, 11, 10, 9, tzinfo=UTC)


def browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver_path, chromium = shutil.which("chromedriver"), shutil.which("chromium")
    if not driver_path or not chromium:
        pytest.fail("chromium and chromium-driver are needed (scripts/test installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)


@pytest.fixture
def chrome() -> Iterator[Any]:
    driver = browser()
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver: Any, name: str) -> None:
    """A 1400 px wide screenshot of the whole page."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(int(height), 600), 4000))
    driver.save_screenshot(str(SHOTS / f"{name}.png"))
    driver.set_window_size(1400, 1000)


def wait_for(condition: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


class ConsoleProcess:
    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "claimwatch.cli", "console", "--port", str(self.port), *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_for(self.up, 60, "the console to serve")

    def up(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the console exited: {self.process.stderr.read().decode()[-1500:]}")  # type: ignore[union-attr]
        try:
            with urllib.request.urlopen(self.url + "/reports", timeout=2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def alert(n: int, content: str, title: str, severity: str = "high") -> Alert:
    return Alert.model_validate(
        {
            "alert_id": f"b{content}{n:03d}".lower().replace("-", ""),
            "type": "view_spike",
            "severity": severity,
            "score": 0.9,
            "title": title,
            "event_time": (T0 + timedelta(minutes=n)).isoformat(),
            "detected_at": datetime.now(UTC).isoformat(),
            "subject": {"content_id": content, "platform": "youtube", "video_id": f"v{content}"},
            "evidence": {"rule": "view_spike", "observed": 9000 + n, "expected": 1000},
        }
    )


def produce(settings: Settings, alerts: list[Alert]) -> None:
    async def send() -> None:
        out = producer(settings)
        await start_client(out, settings)
        try:
            for a in alerts:
                await out.send_and_wait(settings.topic("alerts"), key=a.alert_id.encode(), value=encode_alert(a))
        finally:
            await out.stop()

    asyncio.run(send())


def click_action(driver: Any, subject: str, kind: str, **fields: str) -> None:
    from selenium.webdriver.common.by import By

    row = driver.find_element(By.CSS_SELECTOR, f'tr[data-subject="{subject}"]')
    form = next(
        f
        for f in row.find_elements(By.TAG_NAME, "form")
        if f.find_element(By.NAME, "kind").get_attribute("value") == kind
    )
    for name, value in fields.items():
        box = form.find_element(By.NAME, name)
        box.clear()
        box.send_keys(value)
    form.find_element(By.TAG_NAME, "button").click()
    wait_for(lambda: driver.current_url.endswith("/queue"), 10, f"the queue after {kind}")


def state_of(driver: Any, subject: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CSS_SELECTOR, f'tr[data-subject="{subject}"] td.state').text)


@needs_kafka
def test_on_kafka_the_live_view_the_queue_and_decisions_that_outlive_a_restart(chrome: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    settings = isolated_settings()
    setup_topics(settings)
    viral = [alert(i, "CW-VIRAL", f"Views of CW-VIRAL post {i} at 6x of usual") for i in range(6)]
    produce(settings, [*viral, alert(1, "CW-HOSTILE", HOSTILE, "critical")])
    env = env_for(settings) | {"CLAIMWATCH_CONSOLE_REPORTS": str(tmp_path / "reports")}
    console = ConsoleProcess(env)
    try:
        chrome.get(console.url + "/")
        wait_for(lambda: "CW-VIRAL post 5" in chrome.page_source, 10, "the alerts already on the topic")
        # The hostile title is text: no element it names was made, no script of it ran.
        assert chrome.title == "Now · claimwatch"
        hostile = chrome.find_element(By.PARTIAL_LINK_TEXT, "=SUM(A1)")
        assert "<script>" in hostile.text and not chrome.find_elements(By.CSS_SELECTOR, "tbody img")
        # An alert produced now appears on Now within 2 s, without a reload.
        fresh = alert(99, "CW-FRESH", "Claim storm on CW-FRESH: 40 new claims in an hour", "critical")
        started = time.monotonic()
        produce(settings, [fresh])
        wait_for(lambda: fresh.title in chrome.find_element(By.ID, "alerts").text, 2.0, "the new alert on Now")
        assert time.monotonic() - started < 2.0
        shot(chrome, "now")

        chrome.get(console.url + "/queue")
        rows = chrome.find_elements(By.CSS_SELECTOR, 'tr[data-subject="content_id:CW-VIRAL"]')
        assert len(rows) == 1 and rows[0].find_elements(By.TAG_NAME, "td")[2].text == "6"  # one row, six alerts
        click_action(chrome, "content_id:CW-VIRAL", "acknowledge")
        assert state_of(chrome, "content_id:CW-VIRAL").startswith("acknowledged")
        click_action(chrome, "content_id:CW-VIRAL", "resolve", note="licensed to the channel <b>ok</b>")
        chrome.get(console.url + "/queue?status=all")
        shot(chrome, "queue")
        # Without its CSRF token an action is refused (the field removed as a forged form would lack it).
        form = chrome.find_element(By.CSS_SELECTOR, 'tr[data-subject="content_id:CW-HOSTILE"] form')
        chrome.execute_script("arguments[0].querySelector('input[name=csrf]').remove()", form)
        form.find_element(By.TAG_NAME, "button").click()
        wait_for(lambda: "refused" in chrome.page_source, 10, "the refusal")
        for page in ("risk", "reports", "quality"):
            chrome.get(f"{console.url}/{page}")
            shot(chrome, page)
        chrome.get(f"{console.url}/alerts/{viral[0].alert_id}")
        shot(chrome, "alert")
    finally:
        console.stop()

    # A restarted console, and a second browser session, see the same decisions.
    again = ConsoleProcess(env)
    second = browser()
    try:
        second.get(again.url + "/queue?status=all")
        state = wait_for(lambda: state_of(second, "content_id:CW-VIRAL"), 10, "the queue")
        assert state.startswith("resolved") and "licensed to the channel <b>ok</b>" in state
        assert state_of(second, "content_id:CW-HOSTILE").startswith("open")  # the forged action changed nothing
    finally:
        second.quit()
        again.stop()


def test_from_a_run_folder_with_no_broker(chrome: Any, bundled_run: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    folder = tmp_path / "run"
    shutil.copytree(bundled_run, folder)
    env = dict(os.environ) | {"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}", "CLAIMWATCH_CONNECT_SECONDS": "0"}
    console = ConsoleProcess(env, "--from-dir", str(folder))
    try:
        chrome.get(console.url + "/")
        assert "Local use: no sign-in." in chrome.page_source
        assert len(chrome.find_elements(By.CSS_SELECTOR, "#alerts tr")) > 20
        chrome.get(console.url + "/reports")
        weeks = [a.text for a in chrome.find_elements(By.CSS_SELECTOR, "table.reports th a")]
        assert weeks == sorted((p.name for p in folder.iterdir() if p.is_dir()), reverse=True) and weeks
        chrome.find_element(By.LINK_TEXT, weeks[0]).click()
        wait_for(lambda: "Weekly" in chrome.title or "week" in chrome.page_source.lower(), 10, "the weekly report")
        chrome.get(console.url + "/quality")
        counts = chrome.find_elements(By.CSS_SELECTOR, "table.quality tbody tr")
        assert counts and "platform_poll" in chrome.page_source
        chrome.get(console.url + "/risk")
        assert chrome.find_elements(By.CSS_SELECTOR, "table.risk tbody th")  # claims ranked by risk
        shot(chrome, "from-dir-now")
        # A view spike's evidence: its post's last days against their usual range, from the roll-ups.
        spike = next(
            a
            for line in (folder / "alerts.jsonl").read_text().splitlines()
            if (a := json.loads(line))["type"] == "view_spike" and len(a["evidence"].get("recent_days", [])) >= 5
        )
        chrome.get(f"{console.url}/alerts/{spike['alert_id']}")
        drawn = chrome.find_elements(By.CSS_SELECTOR, 'figure svg[aria-label*="against their usual range"]')
        assert drawn and drawn[0].size["height"] > 200, "views and reactions, each in a panel"
        shot(chrome, "alert-band")
    finally:
        console.stop()
