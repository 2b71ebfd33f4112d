"""Value parsing shared by every reader (claimwatch/ingest/normalize.py): each value is parsed or
refused with its field named and a stable reason code, whatever it is."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claimwatch.ingest.normalize import (
    FieldError,
    boolean,
    integer,
    norm_header,
    number,
    open_enum,
    parse_date,
    parse_datetime,
    pipe_list,
    text,
)
from schemas.events import MAX_COUNT


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234", 1234),
        ("1,234", 1234),  # a spreadsheet's thousands separator
        (" 12 ", 12),
        ("12.0", 12),
        (7, 7),  # a JSON number
        ("", None),
        ("n/a", None),
        ("-", None),
        (None, None),
    ],
)
def test_integer_reads_counts(raw: Any, expected: int | None) -> None:
    assert integer({"views": raw}, "views") == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("-1", "invalid_value"),
        ("1.5", "invalid_value"),
        ("twelve", "invalid_value"),
        ("inf", "non_finite"),
        ("nan", "non_finite"),
        (str(MAX_COUNT * 10), "out_of_range"),
        (-3, "out_of_range"),
        ("9" * 60, "out_of_range"),
    ],
)
def test_integer_refuses_what_is_not_a_count(raw: Any, code: str) -> None:
    with pytest.raises(FieldError) as refused:
        integer({"views": raw}, "views")
    assert (refused.value.field, refused.value.code) == ("views", code)


@pytest.mark.parametrize(
    ("raw", "low", "high", "expected", "code"),
    [
        ("0.25", 0, 1, 0.25, None),
        ("1.5", 0, 1, None, "out_of_range"),
        ("-inf", None, None, None, "non_finite"),
        ("abc", None, None, None, "invalid_value"),
        ("", 0, 1, None, None),
    ],
)
def test_number_in_range(
    raw: str, low: float | None, high: float | None, expected: float | None, code: str | None
) -> None:
    if code is None:
        assert number({"share": raw}, "share", low, high) == expected
    else:
        with pytest.raises(FieldError) as refused:
            number({"share": raw}, "share", low, high)
        assert refused.value.code == code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("Y", True), ("1", True), (False, False), ("no", False), ("", None), ("maybe", FieldError)],
)
def test_boolean(raw: Any, expected: bool | type[FieldError] | None) -> None:
    if expected is FieldError:
        with pytest.raises(FieldError):
            boolean({"flag": raw}, "flag")
    else:
        assert boolean({"flag": raw}, "flag") is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("20261109", date(2026, 11, 9)),
        ("2026-11-09", date(2026, 11, 9)),
        ("2026-11-09T23:30:00-02:00", date(2026, 11, 10)),  # the UTC day of a moment
    ],
)
def test_parse_date(raw: str, expected: date) -> None:
    assert parse_date(raw, "day") == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-09T10:00:00Z", datetime(2026, 11, 9, 10, tzinfo=UTC)),
        ("2026-11-09T10:00:00+01:00", datetime(2026, 11, 9, 9, tzinfo=UTC)),
        ("2026-11-09 10:00:00", datetime(2026, 11, 9, 10, tzinfo=UTC)),  # naive means UTC
        ("2026-11-09", datetime(2026, 11, 9, tzinfo=UTC)),
    ],
)
def test_parse_datetime(raw: str, expected: datetime) -> None:
    assert parse_datetime(raw, "at") == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("yesterday", "invalid_value"),
        ("2026-13-01", "invalid_value"),
        ("0001-01-01T00:00:00+14:00", "date_out_of_range"),
    ],
)
def test_parse_datetime_refuses(raw: str, code: str) -> None:
    with pytest.raises(FieldError) as refused:
        parse_datetime(raw, "at")
    assert refused.value.code == code


def test_headers_lists_and_open_enums() -> None:
    assert norm_header("\ufeff Claim-ID ") == norm_header("claim_id") == "claim_id"
    assert pipe_list({"t": "US| GB ||"}, "t") == ["US", "GB"]
    assert pipe_list({"t": ["US", " ", "GB"]}, "t") == ["US", "GB"]
    assert open_enum("AudioVisual", {"audio_visual": "audiovisual"}, "unknown") == "audiovisual"
    assert open_enum("Hologram", {"audio": "audio"}, "unknown") == "unknown"
    assert text({"t": "  N/A "}, "t") is None


@given(st.one_of(st.text(max_size=80), st.integers(), st.floats(), st.none(), st.booleans()))
def test_integer_is_total(raw: Any) -> None:
    """A count or nothing or a FieldError naming the field: never another exception."""
    try:
        value = integer({"views": raw}, "views")
    except FieldError as refused:
        assert refused.field == "views" and refused.code
    else:
        assert value is None or (isinstance(value, int) and 0 <= value <= MAX_COUNT)


@given(st.text(max_size=60))
def test_parse_datetime_is_total(raw: str) -> None:
    try:
        value = parse_datetime(raw, "at")
    except FieldError as refused:
        assert refused.field == "at"
    else:
        assert value.tzinfo is not None and value.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
