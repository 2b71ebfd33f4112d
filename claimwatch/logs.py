"""One JSON log format for every long-running command: the worker (Faust, mode and aiokafka too), the
alert sinks, ``ingest --follow``, ``replay`` and ``report``.

One object per line on stderr: ``time`` in ISO 8601 with milliseconds and offset, ``level``,
``logger``, ``message``, the ``generation`` the process works on, and the alert's id, type,
severity and subject when a record is about one. Interactive commands keep their human output.

>>> record = logging.LogRecord("claimwatch.worker", logging.INFO, __file__, 1, "alert raised", None, None)
>>> record.alert_id = "a1"
>>> line = json.loads(JsonFormatter().format(record))
>>> line["message"], line["alert_id"], line["time"][-6:], len(line["time"].split(".")[1])
('alert raised', 'a1', '+00:00', 9)
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

FIELDS = ("alert_id", "type", "severity", "subject", "stage", "partition", "offset")


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object, with the fields a record carries about an alert or a stage."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "generation": generation(),
        }
        body.update({k: getattr(record, k) for k in FIELDS if hasattr(record, k)})
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def generation() -> int:
    from claimwatch.config import environment

    try:
        return environment().claimwatch_generation
    except ValueError:  # a bad value is the command's own error; a log line still gets written
        return 0


QUIETER = ("aiokafka", "mode", "faust", "botocore", "urllib3")  # chatty at INFO, and not ours to act on


def logging_config(level: str = "INFO", quieter: tuple[str, ...] = QUIETER) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` that sends every logger (ours, Faust's, mode's, aiokafka's) to
    stderr as JSON: what the worker hands Faust, and what the other long-running commands install.
    The ``quieter`` libraries log their warnings and errors only."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {name: {"level": "WARNING"} for name in quieter},
    }


def setup(level: str = "INFO") -> None:
    """JSON logs for a long-running command other than the worker. aiokafka keeps the level the CLI
    gave it: a broker that cannot be reached is the command's own one-line error, not also a log."""
    logging.config.dictConfig(logging_config(level, tuple(n for n in QUIETER if n != "aiokafka")))
