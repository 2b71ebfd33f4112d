"""Delay notices to the report's readers: what they say, made safe, sent once, and carried by a
Slack-compatible webhook as well as SNS (SNS: tests/test_weekly_job.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from batch.job import partial_reason
from batch.notices import Notice, already_sent, missing_data, publish, record, render, was_announced_late


@pytest.mark.parametrize(
    ("notice", "subject", "says"),
    [
        (
            Notice("2026-W48", "failed", "Kafka unavailable at b-1:9094", next_attempt="by hand"),
            "claimwatch: the weekly report 2026-W48 is late",
            ["could not be produced: Kafka unavailable at b-1:9094.", "Next attempt: by hand."],
        ),
        (
            Notice(
                "2026-W48",
                "incomplete",
                "data on 5 of 7 days",
                {"platform_poll": ["2026-11-26", "2026-11-27"]},
                location="s3://r/w/2026-W48/",
            ),
            "claimwatch: the weekly report 2026-W48 is incomplete",
            ["  - platform_poll: no data on 2026-11-26, 2026-11-27", "The partial report: s3://r/w/2026-W48/"],
        ),
        (
            Notice("2026-W48", "available_late", "", location="s3://r/w/2026-W48/"),
            "claimwatch: the weekly report 2026-W48 is now available (late)",
            ["announced late, is now available: s3://r/w/2026-W48/."],
        ),
    ],
)
def test_a_notice_says_which_report_why_what_is_missing_and_what_next(
    notice: Notice, subject: str, says: list[str]
) -> None:
    got_subject, text = render(notice)
    assert got_subject == subject
    for line in says:
        assert line in text


def test_hostile_text_in_a_notice_is_made_safe() -> None:
    _, text = render(Notice("2026-W48", "failed", "bad row \x1b[2J<!channel>", {"src\x07": ["d"] * 30}))
    assert "\x1b" not in text and "\x07" not in text
    assert "and 18 more" in text, "a long list of days is cut, and says so"


def test_missing_data_and_the_partial_reason_name_what_the_week_lacks() -> None:
    quality = {"days_by_source": {"platform_poll": 6}, "sources_missing_for_a_day": {"platform_poll": ["2026-11-05"]}}
    missing = missing_data(quality)
    assert missing == {"claims report": [], "platform_poll": ["2026-11-05"]}
    assert (
        partial_reason(6, 0, 2, missing)
        == "data on 6 of 7 days; no claims report at all; 2 roll-up row(s) refused; sources missing some days"
    )
    assert partial_reason(7, 0, 0, {}) == ""


def test_the_same_news_is_sent_once_and_a_late_week_is_remembered() -> None:
    late = Notice("2026-W48", "failed", "no broker")
    stored = record(late, datetime(2026, 11, 30, 7, tzinfo=UTC))
    assert already_sent(stored, late) and not already_sent(stored, Notice("2026-W48", "failed", "S3 down"))
    assert was_announced_late(stored) and not was_announced_late(None) and not was_announced_late(b"{not json")


class Webhook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Webhook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    Webhook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/services/T0/B0/x"
    finally:
        server.shutdown()


def test_the_slack_webhook_carries_the_notice_with_slack_syntax_shown_as_text(webhook: str) -> None:
    publish(Notice("2026-W48", "failed", "<!channel> no broker <http://x|bank>"), "", webhook)
    ((message,),) = [list(m.values()) for m in Webhook.received]
    assert message.startswith("claimwatch: the weekly report 2026-W48 is late\n")
    assert "&lt;!channel&gt;" in message and "<!channel>" not in message


def test_a_webhook_that_is_not_http_is_refused() -> None:
    with pytest.raises(ValueError, match="http"):
        publish(Notice("2026-W48", "failed", "x"), "", "file:///etc/passwd")
