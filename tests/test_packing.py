"""Stored records packed with the shipped dictionary: round trips, bounds, and hostile frames."""

from __future__ import annotations

import contextlib

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from claimwatch.detect import packing, state
from claimwatch.detect.store import StateStore

PART = b'{"format":"claimwatch-part","version":5,"seq":3,"v":null,"rows":{"post|2026-W46|tiktok|t1":{"kind":"post"}}}'


def test_a_record_packs_small_and_unpacks_to_the_same_bytes() -> None:
    packed = packing.pack(PART)
    assert packed[:4] == packing.MAGIC and len(packed) < len(PART) / 2
    assert packing.unpack(packed, 1 << 20) == PART
    assert zstandard.get_frame_parameters(packed).dict_id == packing.CURRENT


def with_dictionary_id(frame: bytes, ident: int) -> bytes:
    """The frame with another one-byte dictionary id in its header (RFC 8878, 3.1.1.1)."""
    descriptor = frame[4]
    assert descriptor & 0b11 == 1, "a one-byte dictionary id"
    at = 5 + (0 if descriptor & 0b100000 else 1)  # a window descriptor unless single-segment
    return frame[:at] + bytes([ident]) + frame[at + 1 :]


def test_records_written_before_packing_are_read_as_they_are() -> None:
    assert packing.unpack(PART, 1 << 20) is PART


def test_every_shipped_dictionary_loads_under_its_own_id() -> None:
    for ident in packing.DICTIONARIES:
        assert packing.dictionary(ident).dict_id() == ident


@pytest.mark.parametrize(
    ("blob", "reason"),
    [
        (packing.MAGIC + b"\x00", "broken header"),
        (packing.pack(PART)[:-3], "does not unpack"),
        (zstandard.ZstdCompressor(write_content_size=False).compress(PART), "does not say its size"),
        (zstandard.ZstdCompressor().compress(b"{" * 100_000), "larger than"),
        (with_dictionary_id(packing.pack(PART), 77), "dictionary 77"),
    ],
    ids=["header", "cut", "no-size", "bomb", "unknown-dictionary"],
)
def test_a_frame_that_is_not_a_record_is_refused_with_its_reason(blob: bytes, reason: str) -> None:
    with pytest.raises(packing.PackingError, match=reason):
        packing.unpack(blob, 50_000)


def test_a_packed_bomb_is_refused_before_it_is_inflated() -> None:
    """16 MB of one byte packs into a few hundred: a reader refuses it by its header alone."""
    bomb = zstandard.ZstdCompressor().compress(b"[" * (state.MAX_STATE_BYTES + 1))
    assert len(bomb) < 2_000
    report = StateStore().restore(0, [(b"CW-1", bomb)])
    assert report.loaded == 0 and "larger than" in report.unreadable["CW-1"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_after_the_magic_are_a_record_or_a_reason(tail: bytes) -> None:
    blob = packing.MAGIC + tail
    with contextlib.suppress(packing.PackingError):  # or bytes, which the readers then refuse
        packing.unpack(blob, 1 << 16)
    for kind, ident in ((state.CLAIM, "c1"), (state.ROW, "post|tiktok|t1"), (state.DEDUP, '{"t":["a"]}')):
        with pytest.raises(state.StateFormatError):
            state.decode_part(kind, ident, blob)
    report = StateStore().restore(0, [(b"CW-1", blob), (b"CW-1\x00c\x00c1", blob)])
    assert report.loaded == 0 and list(report.unreadable) == ["CW-1"]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2_000))
def test_any_bytes_round_trip(raw: bytes) -> None:
    assert packing.unpack(packing.pack(raw), 1 << 16) == raw
