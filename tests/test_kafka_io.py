"""Starting a client rides out a broker that cannot be reached for a moment, within its setting."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from aiokafka.errors import KafkaConnectionError

from stream.kafka_io import start_client
from stream.settings import Settings


class FlakyClient:
    """Refuses ``failures`` starts, then starts."""

    def __init__(self, failures: int) -> None:
        self.failures, self.attempts = failures, 0

    async def start(self) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 1)]")


def settings(connect_seconds: float) -> Settings:
    return dataclasses.replace(Settings(), connect_seconds=connect_seconds)


@pytest.mark.parametrize(
    ("connect_seconds", "failures", "started", "attempts"),
    [
        (0.0, 0, True, 1),  # reachable: one start
        (0.0, 1, False, 1),  # 0: once, the error at once
        (5.0, 2, True, 3),  # a broker back within the window is reached
        (2.5, 5, False, 3),  # still away when the window closes: the error
    ],
)
def test_a_start_is_tried_again_within_the_connect_window(
    connect_seconds: float, failures: int, started: bool, attempts: int
) -> None:
    client = FlakyClient(failures)
    began = time.monotonic()
    if started:
        asyncio.run(start_client(client, settings(connect_seconds)))
    else:
        with pytest.raises(KafkaConnectionError):
            asyncio.run(start_client(client, settings(connect_seconds)))
    assert client.attempts == attempts
    assert time.monotonic() - began < connect_seconds + 1.0


def test_other_errors_are_not_retried() -> None:
    class Broken:
        attempts = 0

        async def start(self) -> None:
            self.attempts += 1
            raise ValueError("bad TLS settings")

    client = Broken()
    with pytest.raises(ValueError, match="bad TLS"):
        asyncio.run(start_client(client, settings(30.0)))
    assert client.attempts == 1
