"""Long-running commands log JSON: ours, Faust's, mode's and aiokafka's lines alike."""

from __future__ import annotations

import json
import logging
import logging.config

import pytest

from claimwatch import logs


def test_every_logger_writes_one_json_object_per_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAIMWATCH_GENERATION", "3")
    logging.config.dictConfig(logs.logging_config("info"))  # the worker's (Faust gets the same)
    try:
        logging.getLogger("claimwatch.worker").info(
            "alert raised", extra={"alert_id": "a1", "severity": "high", "subject": {"claim_id": "C1"}}
        )
        logging.getLogger("aiokafka.consumer").warning("heartbeat failed")
        logging.getLogger("aiokafka.consumer").info("chatty and not ours")  # below WARNING for aiokafka
        logging.getLogger("faust.worker").error("agent crashed")
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False, "root": {"handlers": []}})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(x["logger"], x["level"]) for x in lines] == [
        ("claimwatch.worker", "INFO"),
        ("aiokafka.consumer", "WARNING"),
        ("faust.worker", "ERROR"),
    ]
    first = lines[0]
    assert first["alert_id"] == "a1" and first["subject"] == {"claim_id": "C1"} and first["generation"] == 3
    assert first["time"].endswith("+00:00") and len(first["time"].split(".")[1]) == len("123+00:00")


def test_other_long_running_commands_leave_aiokafka_to_the_cli() -> None:
    """An unreachable broker is a one-shot command's one-line error: setup() keeps aiokafka's level."""
    aiokafka = logging.getLogger("aiokafka")
    before = aiokafka.level
    aiokafka.setLevel(logging.CRITICAL)
    try:
        logs.setup("info")
        assert aiokafka.level == logging.CRITICAL and logging.getLogger("faust").level == logging.WARNING
    finally:
        aiokafka.setLevel(before)
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False, "root": {"handlers": []}})
