"""Reference apps for ``scripts/bench-stream``, each run in a child process over the same event log.

- ``faust``: a minimal Faust agent with the worker's exact app settings that decodes each event and
  updates a dict per key: Faust's own per-event floor.
- ``quix``: a quixstreams app doing the closest job to the worker's: a per-post exponentially
  weighted z-score of the view rate in its RocksDB state (changelog-backed, checkpointed), an alert
  record when z > 4.

Each consumes until it has seen ``BENCH_EVENTS`` events, then writes one JSON line (``events``,
``seconds`` from the first event to the last) to the file ``BENCH_RESULT`` and exits. Both are benchmark-only:
quixstreams is the ``bench`` extra, not a dependency of claimwatch.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Any

from stream.settings import Settings


class Clock:
    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.first = 0.0

    def tick(self) -> bool:
        """Count one event; True when the target is reached (and the result was printed)."""
        if self.count == 0:
            self.first = time.perf_counter()
        self.count += 1
        if self.count < self.target:
            return False
        result = json.dumps({"events": self.count, "seconds": time.perf_counter() - self.first})
        # Faust redirects stdout to its log: the result goes to a file the benchmark names.
        with open(os.environ["BENCH_RESULT"], "w", encoding="utf-8") as fh:
            fh.write(result + "\n")
        return True


def faust_floor(settings: Settings, target: int) -> None:
    import faust

    from stream.worker import create_app, faust_credentials, run_faust

    reference = create_app(settings)  # the worker's exact app settings, not its agents
    conf = {
        k: getattr(reference.conf, k)
        for k in (
            "broker_commit_every",
            "broker_commit_interval",
            "producer_linger",
            "producer_compression_type",
            "broker_session_timeout",
            "stream_buffer_maxsize",
            "broker_heartbeat_interval",
        )
    }
    app = faust.App(
        f"{settings.app_id}-floor",
        broker=f"kafka://{settings.bootstrap_servers}",
        broker_credentials=faust_credentials(settings),
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        **conf,
    )
    events = app.topic(settings.topic("events"), key_type=bytes, value_type=bytes)
    clock = Clock(target)
    latest: dict[bytes, Any] = {}

    loads: Any = json.loads
    try:
        import orjson  # what the floor was first measured with; json is close enough without it

        loads = orjson.loads
    except ImportError:
        pass

    @app.agent(events)
    async def floor(stream: Any) -> None:
        async for key, value in stream.items():
            latest[key] = loads(value)
            if clock.tick():
                os._exit(0)

    run_faust(app, "warning")


def quix(settings: Settings, target: int, state_dir: str) -> None:
    from quixstreams import Application, State

    app = Application(
        broker_address=settings.bootstrap_servers,
        consumer_group=f"{settings.app_id}-quix",
        auto_offset_reset="earliest",
        state_dir=state_dir,
        commit_interval=5.0,
    )
    events = app.topic(settings.topic("events"), key_deserializer="bytes", value_deserializer="json")
    alerts = app.topic(f"{settings.topic('alerts')}-quix", value_serializer="json")
    clock = Clock(target)

    def zscore(value: dict[str, Any], state: State[Any, Any]) -> dict[str, Any] | None:
        alert = None
        if value.get("kind") == "metric" and value.get("views") is not None:
            post = f"{value.get('platform')}/{value.get('platform_content_id')}"
            seen = state.get(post) or {"t": None, "v": None, "mean": 0.0, "var": 1.0, "n": 0}
            t = time.mktime(time.strptime(str(value["event_time"])[:19], "%Y-%m-%dT%H:%M:%S"))
            if seen["t"] is not None and t > seen["t"] and value["views"] >= seen["v"]:
                rate = math.log1p((value["views"] - seen["v"]) / ((t - seen["t"]) / 3600))
                z = (rate - seen["mean"]) / math.sqrt(seen["var"] + 1e-9)
                if seen["n"] > 8 and z > 4:
                    alert = {"post": post, "z": z}
                delta = rate - seen["mean"]
                seen["mean"] += 0.05 * delta
                seen["var"] = 0.95 * (seen["var"] + 0.05 * delta * delta)
                seen["n"] += 1
            seen["t"], seen["v"] = t, value["views"]
            state.set(post, seen)
        if clock.tick():
            app.stop()
        return alert

    sdf = app.dataframe(events)
    sdf = sdf.apply(zscore, stateful=True).filter(lambda alert: alert is not None)
    sdf.to_topic(alerts)
    app.run()


def main() -> int:
    kind, target = sys.argv[1], int(os.environ["BENCH_EVENTS"])
    settings = Settings()
    if kind == "faust":
        faust_floor(settings, target)
    elif kind == "quix":
        quix(settings, target, os.environ.get("BENCH_STATE_DIR", "/tmp/claimwatch-quix-state"))
    else:
        raise SystemExit(f"unknown app {kind!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
