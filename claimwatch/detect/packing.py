"""Stored records packed small: each record is one zstd frame compressed with a shipped dictionary.

A stored part (a claim, a roll-up row) is a few hundred bytes of JSON, most of it field names,
tags and words every record repeats. Compressed alone, such a record hardly shrinks: the
compressor has not seen any of it yet. A dictionary trained once on many records (``state-1.zdict``,
made by ``scripts/train-state-dictionary``) gives it those repeats in advance, and a record packs
to a third or less. The dictionary is trained on records whose titles, names, ids and dates were
replaced by random characters, so it holds the format's vocabulary, not the generator's data.

The frame names its dictionary by id, so records packed with an older dictionary stay readable as
long as it is shipped too (:data:`DICTIONARIES`). Unpacking is bounded: a frame that says it holds
more than the caller allows is refused before anything is allocated.

>>> packed = pack(b'{"format":"claimwatch-part","version":5,"seq":1,"v":null}')
>>> packed[:4] == MAGIC, unpack(packed, 1 << 20)
(True, b'{"format":"claimwatch-part","version":5,"seq":1,"v":null}')
"""

from __future__ import annotations

import threading
from functools import cache
from importlib import resources

import zstandard

MAGIC = b"\x28\xb5\x2f\xfd"  # every zstd frame starts with it; a JSON record with "{"
# Level 3 packs our records within 10 % of level 9 at five times its speed (measured on the
# bundled sample's records): a checkpoint packs every record it writes.
LEVEL = 3
DICTIONARIES = {1: "state-1.zdict"}  # dictionary id (in every frame) -> the file shipped beside this module
CURRENT = 1  # the dictionary new records are packed with


class PackingError(ValueError):
    """Bytes that start like a packed record but are not one this version can unpack."""


@cache
def dictionary(ident: int) -> zstandard.ZstdCompressionDict:
    name = DICTIONARIES.get(ident)
    if name is None:
        raise PackingError(f"packed with dictionary {ident}, which this version does not ship")
    data = resources.files(__package__).joinpath(name).read_bytes()
    loaded = zstandard.ZstdCompressionDict(data, dict_type=zstandard.DICT_TYPE_FULLDICT)
    if loaded.dict_id() != ident:
        raise PackingError(f"{name} holds dictionary {loaded.dict_id()}, not {ident}")
    return loaded


class _Contexts(threading.local):
    """Compression contexts are not thread-safe: one set per thread (restores decode in a thread)."""

    def __init__(self) -> None:
        self.compressor: zstandard.ZstdCompressor | None = None
        self.decompressors: dict[int, zstandard.ZstdDecompressor] = {}


_contexts = _Contexts()


def pack(raw: bytes) -> bytes:
    """``raw`` as one zstd frame (with its size and the dictionary's id in the header)."""
    compressor = _contexts.compressor
    if compressor is None:
        compressor = _contexts.compressor = zstandard.ZstdCompressor(
            level=LEVEL, dict_data=dictionary(CURRENT), write_content_size=True, write_checksum=False
        )
    return compressor.compress(raw)


def unpack(blob: bytes, limit: int) -> bytes:
    """The bytes a packed record holds (at most ``limit``); anything not packed is returned as it is."""
    if blob[:4] != MAGIC:
        return blob
    try:
        header = zstandard.get_frame_parameters(blob)
    except zstandard.ZstdError as exc:
        raise PackingError(f"a packed record with a broken header: {exc}"[:200]) from None
    size = header.content_size
    if size == zstandard.CONTENTSIZE_UNKNOWN or size < 0:
        raise PackingError("a packed record that does not say its size")
    if size > limit:
        raise PackingError(f"a packed record of {size:,} bytes unpacked is larger than {limit:,}")
    decompressor = _contexts.decompressors.get(header.dict_id)
    if decompressor is None:
        used = dictionary(header.dict_id) if header.dict_id else None
        decompressor = _contexts.decompressors[header.dict_id] = zstandard.ZstdDecompressor(dict_data=used)
    try:
        raw = decompressor.decompress(blob, max_output_size=limit)
    except zstandard.ZstdError as exc:
        raise PackingError(f"a packed record that does not unpack: {exc}"[:200]) from None
    if len(raw) != size:
        raise PackingError(f"a packed record of {len(raw):,} bytes that says {size:,}")
    return raw
