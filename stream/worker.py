"""``claimwatch worker``: the Faust app that runs the detection core over the event log.

The agent is a thin loop: decode, hand the event to the content item's :class:`Monitor`, send its
alerts, store the monitor back. One Monitor per content item lives in a changelog-backed table, so
a restarted or rebalanced worker resumes with its models. Each stored monitor remembers the offset
of the last event it applied: an event redelivered after a crash is skipped, so state never counts
an event twice, while its alerts (sent before the state was stored) are sent again under the same
``alert_id`` and dropped by the consumers.
"""

from __future__ import annotations

import json
import logging
import pickle
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import faust

from claimwatch.detect.alerting import wall_clock
from claimwatch.detect.monitor import Monitor, MonitorConfig
from schemas.alerts import Alert
from stream.codec import decode_event, encode_alert
from stream.settings import Settings

log = logging.getLogger("claimwatch.worker")


class WorkerStats:
    """What /metrics reports: counters since start, and when the agent last made progress."""

    def __init__(self) -> None:
        self.events_in: Counter[str] = Counter()
        self.quarantined: Counter[str] = Counter()
        self.alerts_out: Counter[tuple[str, str]] = Counter()
        self.skipped_redelivered = 0
        self.decode_errors = 0
        self.latency_sum = 0.0
        self.latency_count = 0
        self.last_progress = time.time()
        self.started = time.time()
        self.next_offset: dict[int, int] = {}

    def prometheus(self, lag: dict[int, int]) -> str:
        lines = [
            "# TYPE claimwatch_events_in_total counter",
            *(f'claimwatch_events_in_total{{kind="{k}"}} {v}' for k, v in sorted(self.events_in.items())),
            "# TYPE claimwatch_alerts_out_total counter",
            *(
                f'claimwatch_alerts_out_total{{type="{t}",severity="{s}"}} {v}'
                for (t, s), v in sorted(self.alerts_out.items())
            ),
            "# TYPE claimwatch_quarantined_total counter",
            *(f'claimwatch_quarantined_total{{source="{k}"}} {v}' for k, v in sorted(self.quarantined.items())),
            "# TYPE claimwatch_redelivered_skipped_total counter",
            f"claimwatch_redelivered_skipped_total {self.skipped_redelivered}",
            "# TYPE claimwatch_decode_errors_total counter",
            f"claimwatch_decode_errors_total {self.decode_errors}",
            "# TYPE claimwatch_processing_seconds summary",
            f"claimwatch_processing_seconds_sum {self.latency_sum:.6f}",
            f"claimwatch_processing_seconds_count {self.latency_count}",
            "# TYPE claimwatch_consumer_lag gauge",
            *(f'claimwatch_consumer_lag{{partition="{p}"}} {v}' for p, v in sorted(lag.items())),
            "# TYPE claimwatch_seconds_since_progress gauge",
            f"claimwatch_seconds_since_progress {time.time() - self.last_progress:.1f}",
        ]
        return "\n".join(lines) + "\n"


class StateCache:
    """The live object behind each table value this worker wrote, so it is not unpickled per event.

    A value that changed under us (restored from the changelog after a rebalance) is a different
    bytes object, so it is unpickled afresh. Values are (offset of the last event applied, object).
    """

    def __init__(self, empty: Callable[[], Any]) -> None:
        self.empty = empty
        self.live: dict[bytes, tuple[bytes, int, Any]] = {}

    def get(self, key: bytes, blob: bytes | None) -> tuple[int, Any]:
        cached = self.live.get(key)
        if cached is not None and blob is not None and cached[0] is blob:
            return cached[1], cached[2]
        if not blob:
            return -1, self.empty()
        offset, value = pickle.loads(blob)  # written only by claimwatch workers into their own changelog
        if isinstance(value, Monitor):
            value.clock = wall_clock
        return int(offset), value

    def put(self, key: bytes, offset: int, value: Any) -> bytes:
        if isinstance(value, Monitor):
            posts, clock = value.posts, value.clock
            value.posts, value.clock = {}, None  # type: ignore[assignment]
            try:
                blob = pickle.dumps((offset, value), protocol=pickle.HIGHEST_PROTOCOL)
            finally:
                value.posts, value.clock = posts, clock
        else:
            blob = pickle.dumps((offset, value), protocol=pickle.HIGHEST_PROTOCOL)
        self.live[key] = (blob, offset, value)
        return blob


def create_app(settings: Settings | None = None) -> faust.App:
    settings = settings or Settings()
    config = MonitorConfig(owner=settings.owner)
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap_servers}",
        store=settings.state_store,
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        web_port=settings.web_port,
        web_bind="127.0.0.1",
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        # Changelog writes are the bulk of what a worker produces: batch them instead of one request each.
        producer_linger=0.01,
        producer_max_batch_size=512 * 1024,
        producer_compression_type="gzip",
    )
    events = app.topic(settings.topic("events"), key_type=bytes, value_type=bytes, partitions=settings.partitions)
    alerts = app.topic(settings.topic("alerts"), key_type=bytes, value_type=bytes, partitions=settings.partitions)
    # One Monitor per content item, and its post models apart: a poll (most events) then rewrites
    # a 2 KB post model, not the item's whole state.
    monitors = app.Table("monitors", default=None, partitions=settings.partitions, key_type=bytes, value_type=bytes)
    posts = app.Table("posts", default=None, partitions=settings.partitions, key_type=bytes, value_type=bytes)
    stats = WorkerStats()
    monitor_cache = StateCache(lambda: Monitor(config=config))
    post_cache = StateCache(lambda: None)
    app.claimwatch_stats = stats  # type: ignore[attr-defined]

    async def send_alerts(found: list[Alert]) -> None:
        for alert in found:
            await alerts.send(key=alert.alert_id.encode(), value=encode_alert(alert))
            stats.alerts_out[(alert.type, alert.severity)] += 1
            log.info(
                "alert raised",
                extra={
                    "alert_id": alert.alert_id,
                    "type": alert.type,
                    "severity": alert.severity,
                    "subject": alert.subject.ids(),
                },
            )

    quarantine = app.topic(settings.topic("quarantine"), key_type=bytes, value_type=bytes, partitions=1)

    @app.agent(quarantine)
    async def count_quarantined(stream: Any) -> None:
        async for value in stream:
            try:
                stats.quarantined[str(json.loads(value).get("source", "unknown"))] += 1
            except ValueError:
                stats.quarantined["unreadable"] += 1

    @app.agent(events)
    async def detect(stream: Any) -> None:
        async for record in stream.events():
            started = time.perf_counter()
            key: bytes = record.key
            offset: int = record.message.offset
            partition: int = record.message.partition
            stats.next_offset[partition] = offset + 1
            try:
                event = decode_event(record.value)
            except ValueError:
                # A record this worker cannot read is logged with its position and skipped, so one
                # bad record cannot stop every item on the partition.
                stats.decode_errors += 1
                log.exception("undecodable record partition=%s offset=%s key=%r", partition, offset, key)
                continue
            applied, monitor = monitor_cache.get(key, monitors.get(key))
            post_keys = {p: key + b"\x1f" + "\x1f".join(p).encode() for p in monitor.posts_for(event)}
            loaded = {p: post_cache.get(k, posts.get(k)) for p, k in post_keys.items()}
            is_metric = event.kind == "metric"
            # Redelivered after a crash: the stored state already includes this event.
            seen = (max(o for o, _ in loaded.values()) if loaded else -1) if is_metric else applied
            if offset <= seen:
                stats.skipped_redelivered += 1
                continue
            monitor.posts = {p: post for p, (_, post) in loaded.items() if post is not None}
            found = monitor.process(event)
            stats.events_in[event.kind] += 1
            await send_alerts(found)
            if is_metric:
                for p, k in post_keys.items():
                    if p in monitor.posts:  # a day of analytics on a polled video makes no daily model
                        posts[k] = post_cache.put(k, offset, monitor.posts[p])
            if monitor.shared_state_changed or not is_metric:
                monitors[key] = monitor_cache.put(key, offset, monitor)
            stats.latency_sum += time.perf_counter() - started
            stats.latency_count += 1
            stats.last_progress = time.time()

    @app.page("/health")
    async def health(web: Any, request: Any) -> Any:
        idle = time.time() - stats.last_progress
        return web.json(
            {
                "status": "ok",
                "seconds_since_progress": round(idle, 1),
                "events": sum(stats.events_in.values()),
                "redelivered_skipped": stats.skipped_redelivered,
                "assigned": sorted(
                    tp.partition for tp in app.consumer.assignment() if tp.topic == events.get_topic_name()
                ),
            }
        )

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        lag: dict[int, int] = {}
        consumer = app.consumer
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is not None and tp.topic == settings.topic("events"):
                lag[tp.partition] = max(0, highwater - stats.next_offset.get(tp.partition, 0))
        return web.text(stats.prometheus(lag), content_type="text/plain")

    return app


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the alert id and subject when a record carries them."""

    FIELDS = ("alert_id", "type", "severity", "subject")

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        body.update({k: getattr(record, k) for k in self.FIELDS if hasattr(record, k)})
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def main(settings: Settings | None = None, loglevel: str = "info") -> None:
    from faust.worker import Worker

    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    ours = logging.getLogger("claimwatch")
    ours.addHandler(handler)
    ours.setLevel(loglevel.upper())
    ours.propagate = False
    app = create_app(settings)
    Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
