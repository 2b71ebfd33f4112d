"""The event log's wire format: every event decodes to itself, whatever it holds."""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from claimwatch.ingest.readers import read_paths
from claimwatch.sample.generator import generate
from schemas.codec import decode_event, encode_event
from schemas.events import CatalogItem, ClaimEvent, MetricObservation, OwnershipConflict, RightsRecord

MODELS = (CatalogItem, ClaimEvent, MetricObservation, OwnershipConflict, RightsRecord)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_a_field_that_may_be_none_defaults_to_none(model: type[BaseModel]) -> None:
    """What lets the encoder leave out None: a field absent from a record decodes to its default."""
    for name, info in model.model_fields.items():
        if type(None) in typing.get_args(info.annotation):
            assert info.default is None and info.default_factory is None, (model.__name__, name)


def test_every_event_of_a_generated_data_set_round_trips(tmp_path: Path) -> None:
    generate(tmp_path, seed=3, items=40, days=8)
    events = read_paths([tmp_path]).events
    assert {e.kind for e in events} >= {"catalog", "claim", "metric", "rights"}
    for event in events:
        assert decode_event(encode_event(event)) == event


counts = st.none() | st.integers(0, 10**15)


@given(
    channel=st.none() | st.text(max_size=12),
    period=st.none() | st.datetimes(datetime(2000, 1, 1), datetime(2099, 1, 1), timezones=st.just(UTC)),
    views=counts,
    likes=counts,
    watch=st.none() | st.floats(0, 1e12),
    extra=st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)
def test_a_metric_with_any_fields_set_or_not_round_trips(
    channel: str | None,
    period: datetime | None,
    views: int | None,
    likes: int | None,
    watch: float | None,
    extra: dict[str, str],
) -> None:
    event = MetricObservation(
        event_id="e",
        source="platform_poll",
        granularity="cumulative",
        platform="youtube",
        platform_content_id="v",
        channel_id=channel,
        event_time=datetime(2026, 11, 2, tzinfo=UTC),
        period_start=period,
        views=views,
        likes=likes,
        watch_time_minutes=watch,
        extra=extra,
    )
    encoded = encode_event(event)
    assert decode_event(encoded) == event
    assert None not in orjson.loads(encoded).values()  # an unset field is left out, not spelt out
