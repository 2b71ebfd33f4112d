"""The stored form of a content item's detection state: versioned, explicit, never executable.

A worker keeps each item's :class:`~claimwatch.detect.monitor.Monitor` in memory and writes it to
its state changelog at checkpoints; this module turns one into bytes and back. The format is JSON
(``{"format": "claimwatch-state", "version": 1, "offset": …, "monitor": …}``) in which every object is
one of the classes named in :data:`SCHEMA`, with the fields listed there and nothing else:

- decoding builds only those classes, from plain values: no pickle, no imports by name, no code
  runs whatever the bytes say; anything else raises :class:`StateFormatError`, with the reason;
- configuration is never stored (``Monitor.config``, the dedup cooldowns, the claim surge policy):
  a restored item takes the running worker's settings;
- a field added later is filled with its default when reading older state, and a field that is
  gone is ignored, so a code change does not make stored state unreadable. A change that does
  needs a new :data:`VERSION` and a migration in :func:`decode`.

>>> from claimwatch.detect.monitor import Monitor, MonitorConfig
>>> blob = encode(Monitor(), offset=41)
>>> offset, restored = decode(blob, MonitorConfig(owner="label-b"))
>>> offset, restored.config.owner
(41, 'label-b')
"""

from __future__ import annotations

import base64
import dataclasses
import json
import zlib
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

import orjson
from pydantic import BaseModel, ValidationError

from claimwatch.detect import packing
from claimwatch.detect.alerting import DedupKey, DedupStage
from claimwatch.detect.claimstate import AssetActivity, ClaimBook, ClaimState
from claimwatch.detect.ewstats import EWMean
from claimwatch.detect.monitor import Monitor, MonitorConfig
from claimwatch.detect.novelty import DayRing, NoveltyDetector, TailSketch
from claimwatch.detect.posts import PostModel, ReactionRate
from claimwatch.detect.reference import CatalogIndex, RightsLedger
from claimwatch.detect.rollup import RollupBook
from claimwatch.detect.spike import CountRateModel, SeasonalBaseline, SpikeDetector
from schemas.events import CatalogItem, RightsRecord
from schemas.rollups import ROLLUP_ROW

FORMAT = "claimwatch-state"
PART_FORMAT = "claimwatch-part"
# 2: bounded novelty sketches (TailSketch, DayRing) instead of each post's full history;
# 3: long arrays may be stored deflated (tags "afz", "abz");
# 4: an item is a root record and one record per claim, roll-up row and dedup key (parts);
# 5: every record is packed (``packing``: zstd with a shipped dictionary), and the weekly roll-up
#    rows of one claim, post or asset are one part (``row_series``), a claim's in the claim's own
#    part (each row repeats the claim's ids and names: packed together they take a third of the
#    bytes); version 4 items are read and written again in this layout
VERSION = 5
READABLE = (1, 2, 3, 4, 5)  # version 1 is migrated on reading: its histories are replayed into sketches
PART_VERSIONS = (4, 5)
MAX_STATE_BYTES = 16 << 20  # what is read at most; what is written is bounded by the record limit
MAX_DEPTH = 24
PART_SEPARATOR = "\x00"  # item key, part kind and part id in a part's changelog key (never in an item key)
CLAIM, ROW, DEDUP = "c", "r", "d"


class StateFormatError(ValueError):
    """Stored bytes that are not a state this version can read; the reason says why."""


def _fields(cls: type, *skip: str) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.name not in skip)


# Every stored class, by the tag it is stored under, with the fields that are stored. Config-like
# fields (settings the running worker decides) and derived ones are left out on purpose.
# Collections that grow with an item's history (claims, roll-up rows, dedup keys) are not in the root
# record from version 4: each entry is a part record of its own (see encode_part); the indexes of
# the claims are rebuilt on loading, and change tracking is the running process's own.
SCHEMA: dict[str, tuple[type, tuple[str, ...]]] = {
    "Monitor": (Monitor, _fields(Monitor, "config", "clock")),
    "CatalogIndex": (CatalogIndex, _fields(CatalogIndex)),
    "RightsLedger": (RightsLedger, _fields(RightsLedger)),
    "ClaimBook": (ClaimBook, _fields(ClaimBook, "policy", "claims", "by_video", "channels", "changed")),
    "ClaimState": (ClaimState, _fields(ClaimState)),
    "AssetActivity": (AssetActivity, _fields(AssetActivity, "known_channels", "new_channels_today")),
    "DedupStage": (DedupStage, ()),
    "PostModel": (PostModel, _fields(PostModel)),
    "ReactionRate": (ReactionRate, _fields(ReactionRate)),
    "CountRateModel": (CountRateModel, _fields(CountRateModel)),
    # Rates, slots and thresholds are parameters (code): the owner sets its means' rates on reading.
    "SpikeDetector": (SpikeDetector, ("baseline", "residual_var")),
    "SeasonalBaseline": (SeasonalBaseline, ("level", "shape", "seen")),
    "EWMean": (EWMean, ("mean", "n")),
    # The detector's parameters are code (NoveltyDetector.PARAMETERS), never stored.
    "NoveltyDetector": (NoveltyDetector, ("value", "mean", "change", "recent", "day", "resting")),
    # TailSketch is packed (see _enc_sketch): three of them are most of a post's stored bytes.
    "DayRing": (DayRing, _fields(DayRing, "period", "look")),  # its slots are the layout of its arrays
    "RollupBook": (RollupBook, ("watermark",)),
}
# Fields still read from state of version 3 and before, where they were inline in the root record.
LEGACY_FIELDS: dict[str, tuple[str, ...]] = {
    "ClaimBook": ("claims", "by_video"),
    "AssetActivity": ("known_channels", "new_channels_today"),
    "DedupStage": ("seen",),
    "RollupBook": ("rows", "dirty"),
}
MODELS: dict[str, type[BaseModel]] = {"CatalogItem": CatalogItem, "RightsRecord": RightsRecord}
TAGS = {cls: tag for tag, (cls, _) in SCHEMA.items()}
MODEL_TAGS = {cls: tag for tag, cls in MODELS.items()}


# ------------------------------------------------------------------------------------ encoding


def encode(monitor: Monitor, offset: int, seq: int = 0, parts: int = 0) -> bytes:
    """An item's root record: its state but for its parts, the offset of the last event it applied,
    the number of its checkpoint (``seq``) and how many part records that checkpoint wrote before it
    (a restore checks that they all arrived: a checkpoint cut short is never half loaded)."""
    body = {
        "format": FORMAT,
        "version": VERSION,
        "offset": offset,
        "seq": seq,
        "parts": parts,
        "monitor": _enc(monitor),
    }
    return packing.pack(_dumps(body))


def _dumps(body: Any) -> bytes:
    try:
        return orjson.dumps(body)  # a fifth of json.dumps's time; the same JSON
    except TypeError:  # an integer beyond 64 bits: the standard library writes those too
        return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


def part_key(item: str, kind: str, ident: str) -> str:
    """The changelog key of one part of an item: ``item NUL kind NUL id``."""
    return f"{item}{PART_SEPARATOR}{kind}{PART_SEPARATOR}{ident}"


def split_part_key(key: str) -> tuple[str, str, str] | None:
    """``(item, kind, id)`` of a part's key; None for an item's root key."""
    if PART_SEPARATOR not in key:
        return None
    item, _, rest = key.partition(PART_SEPARATOR)
    kind, _, ident = rest.partition(PART_SEPARATOR)
    return item, kind, ident


def dedup_ident(key: DedupKey) -> str:
    return orjson.dumps(_enc(key)).decode()


def row_series(row_key: str) -> tuple[str, str | None]:
    """``(series, week)`` of a roll-up row's key: a weekly row ``kind|<ISO week>|id`` is of the series
    ``kind|id``, whose weeks are stored together (a claim's in the claim's part); any other row is
    a series of its own, without a week."""
    kind, _, rest = row_key.partition("|")
    week, bar, ident = rest.partition("|")
    if bar and len(week) == 8 and week[4:6] == "-W" and week[:4].isdigit() and week[6:].isdigit():
        return f"{kind}|{ident}", week
    return row_key, None


def series_rows(series: str, weeks: Iterable[str], rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The rows of ``series`` among ``rows``, by key, for the weeks given (a row without a week is its series)."""
    if series in rows:  # a row without a week (a weekly series' name is never a row's key)
        return {series: rows[series]}
    kind, _, ident = series.partition("|")
    return {key: rows[key] for week in weeks if (key := f"{kind}|{week}|{ident}") in rows}


def encode_part(kind: str, value: Any, seq: int) -> bytes:
    """One part of an item, written by checkpoint ``seq`` (the inverse of :func:`decode_part`):
    a claim's (``CLAIM``: ``(claim or None, its rows by key)``), one series of roll-up rows (``ROW``:
    rows by key, plain JSON) or a dedup entry (``DEDUP``: its time and rank)."""
    body: dict[str, Any] = {"format": PART_FORMAT, "version": VERSION, "seq": seq}
    if kind == CLAIM:
        claim, rows = value
        body["v"], body["rows"] = (None if claim is None else _enc(claim)), rows
    elif kind == ROW:
        body["rows"] = value
    else:
        body["v"] = _enc(value)
    return packing.pack(_dumps(body))


def _unpacked(blob: bytes) -> bytes:
    try:
        return packing.unpack(blob, MAX_STATE_BYTES)
    except packing.PackingError as exc:
        raise StateFormatError(str(exc)) from None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(map(str, error['loc']))[:60]}: {error['msg'][:80]}"


def _series_rows(series: str, rows: Any) -> dict[str, dict[str, Any]]:
    """Stored rows, each checked to be a row of ``series`` (of its key's week) that the weekly job's
    row schema accepts, strictly: a value that would need coercing was not written by a worker."""
    if rows is None:
        return {}
    if not isinstance(rows, dict):
        raise StateFormatError("a part whose rows are not a mapping")
    for key, row in rows.items():
        of, week = row_series(key)
        if of != series or not isinstance(row, dict) or row.get("week") != week:
            raise StateFormatError("a part holding a roll-up row that is not of the series its key names")
        try:
            ROLLUP_ROW.validate_json(orjson.dumps(row), strict=True)  # JSON mode: arrays are tuples
        except ValidationError as exc:
            raise StateFormatError(f"a roll-up row the row schema refuses: {_first_error(exc)}") from None
    return rows


def decode_part(kind: str, ident: str, blob: bytes) -> tuple[int, Any, Any]:
    """``(seq, id, value)`` of a part record (the id decoded for a dedup key; for a claim the value is
    ``(claim or None, rows by key)``); or StateFormatError."""
    if len(blob) > MAX_STATE_BYTES:
        raise StateFormatError(f"a part of {len(blob):,} bytes is larger than {MAX_STATE_BYTES:,}")
    blob = _unpacked(blob)
    try:
        body = orjson.loads(blob)
    except orjson.JSONDecodeError:
        body = _loads_wide(blob)
    if not isinstance(body, dict) or body.get("format") != PART_FORMAT or body.get("version") not in PART_VERSIONS:
        raise StateFormatError("not a claimwatch state part this worker reads")
    seq = body.get("seq")
    if type(seq) is not int or seq < 0:
        raise StateFormatError("a part without its checkpoint number")
    stored = body.get("v")
    try:
        if kind == CLAIM:
            claim = None if stored is None and body["version"] >= 5 else _dec(stored, 0)
            if claim is not None and (not isinstance(claim, ClaimState) or claim.claim_id != ident):
                raise StateFormatError("a claim part that is not the claim its key names")
            rows = _series_rows(f"claim|{ident}", body.get("rows"))
            if claim is None and not rows:
                raise StateFormatError("a claim part with neither the claim nor a row")
            return seq, ident, (claim, rows)
        if kind == ROW:
            if body["version"] == 4:  # one row a part, keyed by the row's own key
                if not isinstance(stored, dict) or not isinstance(stored.get("kind"), str):
                    raise StateFormatError("a roll-up row part that is not a row")
                return seq, ident, {ident: stored}
            rows = _series_rows(ident, body.get("rows"))
            if not rows:
                raise StateFormatError("a roll-up part without a row")
            return seq, ident, rows
        if kind == DEDUP:
            key = _dec(orjson.loads(ident), 0)
            moment, rank = _dec(stored, 0)
            if not isinstance(key, tuple) or not isinstance(moment, datetime) or type(rank) is not int:
                raise StateFormatError("a dedup part that is not a key, a time and a rank")
            return seq, key, (moment, rank)
    except StateFormatError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, ValidationError) as exc:
        raise StateFormatError(f"malformed {kind!r} part: {type(exc).__name__}: {exc}"[:300]) from None
    raise StateFormatError(f"unknown part kind {kind[:20]!r}")


def stored_size(value: Any) -> int:
    """Bytes ``value`` (a post model, a detector…) takes in the stored form."""
    return len(json.dumps(_enc(value), separators=(",", ":")))


def _enc(value: Any) -> Any:
    encoder = _ENCODERS.get(type(value))
    return encoder(value) if encoder is not None else _enc_by_kind(value)


def _same(value: Any) -> Any:
    return value


def _enc_float(value: float) -> Any:
    return value if value == value and abs(value) != float("inf") else {"nf": repr(value)}


def _enc_array(value: array[Any]) -> Any:
    if value.typecode not in _ARRAY_TAGS:
        raise TypeError(f"no stored form for array({value.typecode!r})")
    raw = value.tobytes()
    if len(raw) >= DEFLATE_FROM:
        # A day ring of a regularly sampled series repeats itself (its offsets are one byte over and
        # over): deflated it is a fraction of its size. Sorted floats are not, so they stay as they are.
        deflater = zlib.compressobj(6, zlib.DEFLATED, -9, 1)  # a small window: 2 µs, not 60
        packed = deflater.compress(raw) + deflater.flush()
        if len(packed) * 5 < len(raw) * 4:
            return {_ARRAY_TAGS[value.typecode] + "z": base64.b64encode(packed).decode()}
    return {_ARRAY_TAGS[value.typecode]: base64.b64encode(raw).decode()}


def _inflated(body: Any) -> bytes:
    """A deflated array, bounded: a crafted record cannot make the decoder allocate more."""
    inflater = zlib.decompressobj(-15)
    try:
        raw = inflater.decompress(base64.b64decode(str(body), validate=True), MAX_ARRAY_BYTES)
    except zlib.error as exc:
        raise StateFormatError(f"a deflated array that does not inflate: {exc}") from None
    if inflater.unconsumed_tail or not inflater.eof:
        raise StateFormatError(f"a deflated array larger than {MAX_ARRAY_BYTES:,} bytes, or cut short")
    return raw


def _enc_sketch(value: TailSketch) -> Any:
    """One sketch as its counts and one array of 32-bit floats: a third of the per-field form."""
    parts = (value.high, value.low, value.sample, value.old_high, value.old_low, value.old_sample)
    cells = array("f")
    for part in parts:
        cells.extend(part)
    return {
        "o": "TailSketch",
        "p": [value.count, value.stride, value.old_count, value.old_stride, *(len(part) for part in parts)],
        "a": base64.b64encode(cells.tobytes()).decode(),
    }


def _dec_sketch(value: dict[str, Any]) -> TailSketch:
    counts, cells = value.get("p"), array("f")
    if not (isinstance(counts, list) and len(counts) == 10 and all(type(c) is int and c >= 0 for c in counts)):
        raise StateFormatError("a TailSketch without its counts")
    cells.frombytes(base64.b64decode(str(value.get("a")), validate=True))
    if sum(counts[4:]) != len(cells):
        raise StateFormatError("a TailSketch whose arrays do not match its counts")
    parts, start = [], 0
    for length in counts[4:]:
        parts.append(cells[start : start + length])
        start += length
    sketch = TailSketch(count=counts[0], stride=counts[1], old_count=counts[2], old_stride=counts[3])
    sketch.high, sketch.low, sketch.sample, sketch.old_high, sketch.old_low, sketch.old_sample = parts
    if sketch.stride < 1 or sketch.old_stride < 1:
        raise StateFormatError("a TailSketch with a stride below 1")
    return sketch


_ARRAY_TAGS = {"f": "af", "B": "ab"}  # 32-bit floats, bytes: the sketches' compact arrays
_ARRAY_CODES = {tag: code for code, tag in _ARRAY_TAGS.items()}
_DEFLATED_CODES = {tag + "z": code for code, tag in _ARRAY_TAGS.items()}
DEFLATE_FROM = 256  # bytes: below this deflating saves too little to be worth its time
MAX_ARRAY_BYTES = 1 << 20


def _enc_deque(value: deque[Any]) -> Any:
    if all(type(v) is float for v in value):
        return {"qf": base64.b64encode(array("d", value).tobytes()).decode(), "m": value.maxlen}
    return {"q": [_enc(v) for v in value], "m": value.maxlen}


def _enc_object(tag: str, names: tuple[str, ...]) -> Any:
    def encode_object(value: Any) -> Any:
        fields = {}
        for name in names:
            field_value = getattr(value, name)
            # Most fields are plain values stored as they are: no call for them.
            fields[name] = field_value if type(field_value) in _PLAIN else _enc(field_value)
        return {"o": tag, "f": fields}

    return encode_object


_PLAIN = {type(None), bool, int, str}

# By exact type: a checkpoint encodes thousands of items, and a chain of isinstance tests per value
# cost most of its time (profiled). Subclasses and models take the general path below.
_ENCODERS: dict[type, Any] = {
    type(None): _same,
    bool: _same,
    int: _same,
    str: _same,
    float: _enc_float,
    list: lambda value: [_enc(v) for v in value],
    tuple: lambda value: {"t": [_enc(v) for v in value]},
    Counter: lambda value: {"C": [[_enc(k), _enc(v)] for k, v in value.items()]},
    dict: lambda value: {"d": [[_enc(k), _enc(v)] for k, v in value.items()]},
    set: lambda value: {"s": sorted((_enc(v) for v in value), key=repr)},
    frozenset: lambda value: {"s": sorted((_enc(v) for v in value), key=repr)},
    deque: _enc_deque,
    array: _enc_array,
    TailSketch: _enc_sketch,
    datetime: lambda value: {"dt": value.isoformat()},
    date: lambda value: {"da": value.isoformat()},
    timedelta: lambda value: {"td": value.total_seconds()},
    **{cls: _enc_object(tag, names) for tag, (cls, names) in SCHEMA.items()},
}


def _enc_by_kind(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else {"nf": repr(value)}
    if isinstance(value, list):
        return [_enc(v) for v in value]
    if isinstance(value, tuple):
        return {"t": [_enc(v) for v in value]}
    if isinstance(value, Counter):
        return {"C": [[_enc(k), _enc(v)] for k, v in value.items()]}
    if isinstance(value, dict):
        return {"d": [[_enc(k), _enc(v)] for k, v in value.items()]}
    if isinstance(value, set | frozenset):
        return {"s": sorted((_enc(v) for v in value), key=repr)}
    if isinstance(value, deque):
        if all(type(v) is float for v in value):
            return {"qf": base64.b64encode(array("d", value).tobytes()).decode(), "m": value.maxlen}
        return {"q": [_enc(v) for v in value], "m": value.maxlen}
    if isinstance(value, array):
        return _enc_array(value)
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"da": value.isoformat()}
    if isinstance(value, timedelta):
        return {"td": value.total_seconds()}
    if isinstance(value, TailSketch):
        return _enc_sketch(value)
    tag = TAGS.get(type(value))
    if tag is not None:
        return {"o": tag, "f": {name: _enc(getattr(value, name)) for name in SCHEMA[tag][1]}}
    model_tag = MODEL_TAGS.get(type(value))
    if model_tag is not None:
        return {"m": model_tag, "f": value.model_dump(mode="json")}
    raise TypeError(f"no stored form for {type(value).__name__}")  # a programming error, caught by tests


# ------------------------------------------------------------------------------------ decoding


def decode(blob: bytes, config: MonitorConfig) -> tuple[int, Monitor]:
    """``(offset, monitor)`` from stored bytes, with the running ``config``; or StateFormatError."""
    root = decode_root(blob, config)
    return root.offset, root.monitor


@dataclasses.dataclass
class Root:
    """An item's root record, read: its parts are loaded into ``monitor`` by the store."""

    offset: int
    monitor: Monitor
    version: int
    seq: int = 0
    parts: int = 0


def decode_root(blob: bytes, config: MonitorConfig) -> Root:
    """An item's root record with the running ``config``; or StateFormatError."""
    if len(blob) > MAX_STATE_BYTES:
        raise StateFormatError(f"state of {len(blob):,} bytes is larger than {MAX_STATE_BYTES:,}")
    if blob[:1] == b"\x80":
        raise StateFormatError("a pickle (the format before version 1): never loaded; rebuilt from the log")
    blob = _unpacked(blob)
    try:
        body = orjson.loads(blob)
    except orjson.JSONDecodeError:
        body = _loads_wide(blob)
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise StateFormatError("not a claimwatch state record")
    if body.get("version") not in READABLE:
        raise StateFormatError(f"state format version {body.get('version')!r}; this worker reads {READABLE}")
    offset, seq, parts = body.get("offset"), body.get("seq", 0), body.get("parts", 0)
    if type(offset) is not int:
        raise StateFormatError("offset missing or not an integer")
    if type(seq) is not int or type(parts) is not int or seq < 0 or parts < 0:
        raise StateFormatError("checkpoint number or part count missing or not a whole number")
    try:
        monitor = _dec(body.get("monitor"), 0)
    except StateFormatError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, ValidationError) as exc:
        raise StateFormatError(f"malformed state: {type(exc).__name__}: {exc}"[:300]) from None
    if not isinstance(monitor, Monitor):
        raise StateFormatError("the stored object is not a Monitor")
    monitor.config = config
    monitor.claims.reindex()
    return Root(offset, monitor, int(body["version"]), seq, parts)


def _loads_wide(blob: bytes) -> Any:
    """What orjson declines but is JSON (an integer beyond 64 bits), or StateFormatError."""
    try:
        return json.loads(blob)
    except (ValueError, RecursionError) as exc:
        raise StateFormatError(f"not JSON: {exc}"[:200]) from None


_PLAIN_JSON = {type(None), bool, int, float, str}


def _dec(value: Any, depth: int) -> Any:
    if type(value) in _PLAIN_JSON:
        return value
    if depth > MAX_DEPTH:
        raise StateFormatError("state nested too deeply")
    if isinstance(value, list):
        return [_dec(v, depth + 1) for v in value]
    if not isinstance(value, dict) or not value:
        raise StateFormatError(f"unexpected value of type {type(value).__name__}")
    kind = next(iter(value))
    if kind == "o":
        return _object(value, depth)
    if kind == "m":
        model = MODELS.get(value["m"])
        if model is None:
            raise StateFormatError(f"unknown model {str(value['m'])[:40]!r}")
        return model.model_validate(value["f"])
    body = value[kind]
    if kind == "t":
        return tuple(_dec(v, depth + 1) for v in _list(body))
    if kind == "d":
        return {_key(k, depth): _dec(v, depth + 1) for k, v in _pairs(body)}
    if kind == "C":
        return Counter({_key(k, depth): _dec(v, depth + 1) for k, v in _pairs(body)})
    if kind == "s":
        return {_key(v, depth) for v in _list(body)}
    if kind == "q":
        return deque((_dec(v, depth + 1) for v in _list(body)), maxlen=_maxlen(value))
    if kind == "qf":
        floats = array("d")
        floats.frombytes(base64.b64decode(str(body), validate=True))
        return deque(floats, maxlen=_maxlen(value))
    if kind in _ARRAY_CODES:
        values = array(_ARRAY_CODES[kind])
        values.frombytes(base64.b64decode(str(body), validate=True))
        return values
    if kind in _DEFLATED_CODES:
        values = array(_DEFLATED_CODES[kind])
        values.frombytes(_inflated(body))
        return values
    if kind == "dt":
        return datetime.fromisoformat(str(body))
    if kind == "da":
        return date.fromisoformat(str(body))
    if kind == "td":
        return timedelta(seconds=float(body))
    if kind == "nf":
        if body not in ("nan", "inf", "-inf"):
            raise StateFormatError(f"not a float: {str(body)[:20]!r}")
        return float(body)
    raise StateFormatError(f"unknown value tag {kind[:20]!r}")


def _object(value: dict[str, Any], depth: int) -> Any:
    tag = value.get("o")
    if tag == "TailSketch":
        return _dec_sketch(value)
    if tag == "TailNovelty":
        return _migrated_tail(value, depth)
    entry = SCHEMA.get(tag) if isinstance(tag, str) else None
    if entry is None:
        raise StateFormatError(f"unknown object {str(tag)[:40]!r}")
    cls, stored = entry
    given = value.get("f")
    if not isinstance(given, dict):
        raise StateFormatError(f"{tag} without fields")
    # Defaults first (fields added since the state was written, and the ones never stored), then
    # the stored values of the fields this version knows.
    kwargs = {}
    for name in stored + LEGACY_FIELDS.get(str(tag), ()):
        if name in given:
            field_value = given[name]
            kwargs[name] = field_value if type(field_value) in _PLAIN_JSON else _dec(field_value, depth + 1)
    if cls is NoveltyDetector:
        _migrate_detector(kwargs)
    checks = _FIELD_CHECKS.get(cls)
    if checks is None:
        checks = _FIELD_CHECKS[cls] = _field_checks(cls)
    for name, field_value in kwargs.items():
        check = checks.get(name)
        if check is not None and not check(field_value):
            raise StateFormatError(f"{tag}.{name} holds a value of the wrong type ({type(field_value).__name__})")
    return cls(**kwargs)


# ------------------------------------------------------------------------------------ field types
# A record that parses can still hold a value of the wrong type (a number where a mapping belongs):
# loaded, it would fail at the item's every later event or checkpoint, so it is refused here and the
# item rebuilt from the log. Each stored field is checked against its annotation: scalars exactly
# (an int passes for a float), containers by kind and their entries one level deep, stored classes
# by class. Annotations this cannot read are not checked.

FieldCheck = Callable[[Any], bool]
_FIELD_CHECKS: dict[type, dict[str, FieldCheck]] = {}


def _field_checks(cls: type) -> dict[str, FieldCheck]:
    try:
        hints = get_type_hints(cls)
    except (NameError, TypeError):
        return {}
    checks = {name: _check_of(hint) for name, hint in hints.items()}
    return {name: check for name, check in checks.items() if check is not None}


def _check_of(hint: Any) -> FieldCheck | None:
    if hint is float:
        return lambda v: type(v) is float or type(v) is int
    if hint in (int, str, bool):
        return lambda v: type(v) is hint
    if hint is type(None):
        return lambda v: v is None
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, UnionType):
        options = [_check_of(a) for a in args]
        if any(o is None for o in options):
            return None
        return lambda v: any(o(v) for o in options)  # type: ignore[misc]
    if origin in (dict, Counter) and len(args) == 2:
        key, value = _check_of(args[0]), _check_of(args[1])
        return lambda v: (
            isinstance(v, origin) and all((key is None or key(k)) and (value is None or value(x)) for k, x in v.items())
        )
    if origin in (list, set, frozenset, deque) and len(args) == 1:
        kinds = (set, frozenset) if origin in (set, frozenset) else origin
        entry = _check_of(args[0])
        return lambda v: isinstance(v, kinds) and (entry is None or all(entry(x) for x in v))
    if origin is tuple and args and args[-1] is not Ellipsis:
        places = [_check_of(a) for a in args]
        return lambda v: (
            isinstance(v, tuple)
            and len(v) == len(places)
            and all(p is None or p(x) for p, x in zip(places, v, strict=True))
        )
    if origin is None and isinstance(hint, type) and (hint in TAGS or hint in MODEL_TAGS or hint is datetime):
        return lambda v: isinstance(v, hint)
    return None


# ------------------------------------------------------------------------------------ migration
# Version 1 kept each view's last 10,000 values (TailNovelty.history) and the last period's
# (time, value) pairs (NoveltyDetector.day); replaying them into the bounded sketches gives the
# state the current code would have built from the same values.


def _migrated_tail(value: dict[str, Any], depth: int) -> TailSketch:
    given = value.get("f")
    history = _dec(given.get("history"), depth + 1) if isinstance(given, dict) else None
    if not isinstance(history, deque) or not all(type(v) is float for v in history):
        raise StateFormatError("a version 1 TailNovelty without its history")
    sketch = TailSketch()
    for x in history:
        sketch.learn_one(x)
    return sketch


def _migrate_detector(fields: dict[str, Any]) -> None:
    recent = fields.get("recent")
    if isinstance(recent, deque):
        fields["recent"] = array("f", recent)
    day = fields.get("day")
    if isinstance(day, deque):
        ring = DayRing()
        for pair in day:
            if not (isinstance(pair, tuple) and len(pair) == 2 and all(type(v) is float for v in pair)):
                raise StateFormatError("a version 1 day record that is not (time, value) pairs")
            ring.learn_one(pair[1], pair[0])
        fields["day"] = ring


def _key(value: Any, depth: int) -> Any:
    key = _dec(value, depth + 1)
    if isinstance(key, list | dict | set):
        raise StateFormatError("a mapping key that is not hashable")
    return key


def _list(body: Any) -> list[Any]:
    if not isinstance(body, list):
        raise StateFormatError("expected a list")
    return body


def _pairs(body: Any) -> list[tuple[Any, Any]]:
    pairs = _list(body)
    if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
        raise StateFormatError("expected key/value pairs")
    return [(k, v) for k, v in pairs]


def _maxlen(value: dict[str, Any]) -> int | None:
    maxlen = value.get("m")
    if maxlen is not None and (type(maxlen) is not int or maxlen < 0):
        raise StateFormatError("bad deque bound")
    return maxlen


def stored_json(blob: bytes) -> Any:
    """The JSON a stored record holds, unpacked (for tools and tests: :func:`decode_root` and
    :func:`decode_part` are the readers that check it)."""
    return orjson.loads(_unpacked(blob))
