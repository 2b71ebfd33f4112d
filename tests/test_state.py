"""The worker's stored state: versioned, non-executable, configuration-free, and resumable."""

from __future__ import annotations

import base64
import json
import os
import pickle
import random
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from river import stats as river_stats

from claimwatch.detect import packing, state
from claimwatch.detect.ewstats import EWMean
from claimwatch.detect.monitor import Monitor, MonitorConfig
from claimwatch.detect.routing import keyed
from claimwatch.detect.store import StateStore
from claimwatch.front import order_events
from claimwatch.ingest.readers import read_paths
from claimwatch.sample.generator import generate
from tests.builders import T0, catalog, claim, conflict, day_end, rights

FIXTURE = Path(__file__).parent / "fixtures" / "state-v0-monitor.pickle"


@pytest.fixture(scope="module")
def keyed_events(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, object]]:
    folder = tmp_path_factory.mktemp("state-data")
    generate(folder, seed=5, items=40, days=8)
    events, _ = order_events(read_paths([folder]).events)
    return keyed(events)  # type: ignore[return-value]


def test_ewmean_computes_exactly_what_river_computes() -> None:
    rng = random.Random(3)
    for alpha in (0.04, 0.25, 0.5):
        ours, theirs = EWMean(fading_factor=alpha), river_stats.EWMean(fading_factor=alpha)
        for i in range(5000):
            x = 0.0 if i % 11 == 0 else rng.gauss(0, 100)
            ours.update(x)
            theirs.update(x)
            assert ours.get() == theirs.get()


def run(store: StateStore, events: list[tuple[str, object]], start: int = 0) -> list[str]:
    ids = []
    for offset, (key, event) in enumerate(events[start:], start=start):
        ids += [a.alert_id for a in store.apply_event(key, 0, offset, event) or []]  # type: ignore[arg-type]
    return ids


def test_a_store_restored_from_a_checkpoint_continues_exactly(keyed_events: list[tuple[str, object]]) -> None:
    whole = run(StateStore(clock=lambda: T0), keyed_events)
    half = len(keyed_events) // 2
    first = StateStore(clock=lambda: T0)
    before = run(first, keyed_events[:half])
    records = [(key.encode(), blob) for _, key, blob in first.checkpoint()]
    second = StateStore(clock=lambda: T0)
    report = second.restore(0, records)
    roots = [key for key, _ in records if b"\x00" not in key]
    assert report.loaded == len(roots) == len(first.keyed.monitors) and not report.unreadable
    assert report.parts == len(records) - len(roots) > len(roots)
    # A crash redelivers events the checkpoint already covers: they are skipped, not counted twice.
    after = run(second, keyed_events, start=half - 500)
    assert before + after == whole and len(whole) > 10


def rollups_of(store: StateStore) -> dict[str, bytes]:
    return {key: row for _, key, row in store.take_rollups(sorted(store.keyed.monitors))}


def test_roll_ups_after_a_crash_and_a_restore_are_the_uninterrupted_ones(
    keyed_events: list[tuple[str, object]],
) -> None:
    whole = StateStore(clock=lambda: T0)
    run(whole, keyed_events)
    expected = rollups_of(whole)
    half = len(keyed_events) // 2
    first = StateStore(clock=lambda: T0)
    run(first, keyed_events[:half])
    keys = first.take_dirty()
    written = first.checkpoint_items(keys)
    records = [(key.encode(), blob) for _, key, blob in written.states]
    published: dict[str, bytes] = {}
    # The process dies here: the state was written, the roll-up rows maybe not. The restored items
    # know which rows their last checkpoint took, so they are published again with the rest.
    assert written.rollups
    second = StateStore(clock=lambda: T0)
    second.restore(0, records)
    assert second.dirty == set(keys)
    run(second, keyed_events, start=half - 500)
    published.update(rollups_of(second))
    assert published == expected and len(expected) > 100


def test_encoding_is_stable_through_a_round_trip(keyed_events: list[tuple[str, object]]) -> None:
    store = StateStore(clock=lambda: T0)
    run(store, keyed_events)
    for _, key, blob in store.checkpoint():
        assert blob is not None
        split = state.split_part_key(key)
        if split is None:
            root = state.decode_root(blob, MonitorConfig())
            assert state.encode(root.monitor, root.offset, root.seq, root.parts) == blob, key
        else:
            seq, _, value = state.decode_part(split[1], split[2], blob)
            stored = list(value) if split[1] == state.DEDUP else value
            assert state.encode_part(split[1], stored, seq) == blob, key


def test_configuration_is_never_stored_and_the_running_settings_apply() -> None:
    monitor = Monitor(config=MonitorConfig(owner="old-owner"), clock=lambda: T0)
    for event in (catalog(), rights("new-owner", 100)):
        monitor.process(event)
    blob = state.encode(monitor, 3)
    assert b"old-owner" not in blob and b"cooldown" not in blob
    _, restored = state.decode(blob, MonitorConfig(owner="new-owner"))
    assert restored.config.owner == "new-owner"
    # Whose share is ours now follows the running setting: a conflict on an asset we own 100 % is high.
    found = restored.process(conflict("A1", "Rival", day_end(1), views=10))
    assert [(a.type, a.severity) for a in found] == [("rights_conflict", "high")]
    _, as_before = state.decode(blob, MonitorConfig(owner="old-owner"))
    assert [a.severity for a in as_before.process(conflict("A1", "Rival", day_end(1), views=10))] == ["medium"]


class Boom:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {MARKER}",))


MARKER = Path("/tmp/claimwatch-state-marker")


def _deflated(raw: bytes) -> bytes:
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    return deflater.compress(raw) + deflater.flush()


@pytest.mark.parametrize(
    "blob",
    [
        pickle.dumps((1, Boom())),
        b'{"format":"claimwatch-state","version":1,"offset":1,"monitor":{"o":"os.system","f":{}}}',
        b'{"format":"claimwatch-state","version":1,"offset":1,"monitor":{"m":"Monitor","f":{}}}',
        b'{"format":"claimwatch-state","version":9,"offset":1,"monitor":{}}',
        b'{"format":"claimwatch-state","version":1,"offset":"1","monitor":{}}',
        b'{"format":"claimwatch-state","version":1,"offset":1,"monitor":{"o":"Monitor","f":{"posts":{"d":[[1]]}}}}',
        b'{"format":"claimwatch-state","version":1,"offset":1,"monitor":' + b"[" * 5000 + b"]" * 5000 + b"}",
        b"\x00\xff garbage",
        b"",
        # a deflated array that would inflate to 64 MiB, and one that does not inflate at all
        b'{"format":"claimwatch-state","version":3,"offset":1,"monitor":{"afz":"'
        + base64.b64encode(_deflated(bytes(64 << 20)))
        + b'"}}',
        b'{"format":"claimwatch-state","version":3,"offset":1,"monitor":{"abz":"AAAAAAAA"}}',
    ],
)
def test_a_crafted_state_record_is_rejected_and_nothing_runs(blob: bytes) -> None:
    MARKER.unlink(missing_ok=True)
    with pytest.raises(state.StateFormatError):
        state.decode(blob, MonitorConfig())
    report = StateStore().restore(0, [(b"CW-1", blob)])
    assert report.loaded == 0 and list(report.unreadable) == ["CW-1"]
    assert not MARKER.exists()


def test_state_of_the_old_pickle_format_is_rebuilt_from_the_log(keyed_events: list[tuple[str, object]]) -> None:
    """The worker before format version 1 stored pickles; they are never loaded, but rebuilt."""
    old = FIXTURE.read_bytes()
    assert old[:1] == b"\x80"
    whole = run(StateStore(clock=lambda: T0), keyed_events)
    half = len(keyed_events) // 2
    first = StateStore(clock=lambda: T0)
    run(first, keyed_events[:half])
    records = [
        (key.encode(), old if "\x00" not in key and i % 2 else blob)
        for i, (_, key, blob) in enumerate(first.checkpoint())
    ]
    second = StateStore(clock=lambda: T0)
    report = second.restore(0, records)
    assert report.unreadable and all("pickle" in why for why in report.unreadable.values())
    rebuilt = second.rebuild(0, ((k, o, e) for o, (k, e) in enumerate(keyed_events[:half])), set(report.unreadable))  # type: ignore[misc]
    assert rebuilt == len(report.unreadable)
    assert run(second, keyed_events, start=half) == whole[len(run(StateStore(clock=lambda: T0), keyed_events[:half])) :]


V1_RECORDS = Path(__file__).parent / "fixtures" / "state-v1-records.jsonl"


def test_state_of_format_version_1_is_migrated_into_the_bounded_sketches() -> None:
    """Version 1 kept every post's last 10,000 values; reading it replays them into the sketches.

    The fixture is two items' state as the worker of version 1 wrote it (main before the bounded
    detector), a few days into the sample. The value view of each migrated post must be exactly
    the sketch the current code builds from the same values (its version 1 history), and the
    migrated item must keep processing.
    """
    import base64
    import json
    from array import array

    from claimwatch.detect.novelty import TailSketch

    rows = [json.loads(line) for line in V1_RECORDS.read_text().splitlines()]
    report = StateStore(clock=lambda: T0).restore(0, [(r["key"].encode(), r["state"].encode()) for r in rows])
    assert report.loaded == len(rows) == 2 and not report.unreadable
    checked = 0
    for row in rows:
        raw = json.loads(row["state"])
        assert raw["version"] == 1
        _, monitor = state.decode(row["state"].encode(), MonitorConfig())
        stored_posts = [value for _, value in raw["monitor"]["f"]["posts"]["d"]]  # in the decoded order
        assert len(stored_posts) == len(monitor.posts) > 0
        for post, stored in zip(monitor.posts.values(), stored_posts, strict=True):
            history = array("d", base64.b64decode(stored["f"]["novelty"]["f"]["value"]["f"]["history"]["qf"]))
            rebuilt = TailSketch()
            for x in history:
                rebuilt.learn_one(x)
            assert post.novelty.value == rebuilt
            assert post.novelty.value.n == len(history) > 0
            checked += 1
        blob = state.encode(monitor, offset=1)
        assert (
            state.stored_json(blob)["version"] == state.VERSION
            and state.decode(blob, MonitorConfig())[1].posts.keys() == monitor.posts.keys()
        )
    assert checked >= 2


def test_a_post_model_stays_within_4_kb_however_long_its_history() -> None:
    """A year of hourly polls and daily analytics: the stored post model does not grow with it."""
    import math

    from schemas.events import MetricObservation
    from tests.builders import at, poll

    monitor, views, sizes = Monitor(clock=lambda: T0), 1_000, []
    for hour in range(24 * 400):
        views += int(200 + 150 * math.sin(hour / 24 * 2 * math.pi)) + hour % 7
        monitor.process(poll("p-long", at(hour), views, likes=views // 20))
        if hour % 24 == 23:
            monitor.process(
                MetricObservation(
                    event_id=f"a-{hour}",
                    source="channel_basic",
                    granularity="day",
                    platform="youtube",
                    platform_content_id="p-long",
                    event_time=at(hour),
                    views=5_000,
                )
            )
        if hour in (24 * 260, 24 * 399):  # steady: past the first of the sketches' two generations
            sizes.append(max(state.stored_size(post) for post in monitor.posts.values()))
    assert sizes[1] <= 4096 and sizes[1] - sizes[0] < 64, sizes


V2_RECORDS = Path(__file__).parent / "fixtures" / "state-v2-records.jsonl"


def test_state_of_format_version_2_is_read_and_continues(keyed_events: list[tuple[str, object]]) -> None:
    """Version 2 stored every array plainly and sketches with 16 extremes a side.

    The fixture is two items of the bundled sample, 60 % through, as version 2 wrote them. They
    load, keep processing, and are written back as the current version with the same content.
    """
    rows = [json.loads(line) for line in V2_RECORDS.read_text().splitlines()]
    report = StateStore(clock=lambda: T0).restore(0, [(r["key"].encode(), r["state"].encode()) for r in rows])
    assert report.loaded == len(rows) == 2 and not report.unreadable
    for row in rows:
        assert json.loads(row["state"])["version"] == 2
        offset, monitor = state.decode(row["state"].encode(), MonitorConfig())
        assert offset > 0 and monitor.posts
        for post in monitor.posts.values():
            assert len(post.novelty.value.high) <= 16 < post.novelty.value.extremes
        again = state.decode(state.encode(monitor, offset), MonitorConfig())[1]
        assert state.stored_json(state.encode(again, offset))["version"] == state.VERSION
        assert state.encode(again, offset) == state.encode(monitor, offset)


def test_a_generation_restored_with_fewer_extremes_keeps_its_counts_exact() -> None:
    """A v2 generation holds 16 extremes; the running code keeps 24. It must not mix the two."""
    from array import array

    from claimwatch.detect.novelty import TailSketch

    rng = random.Random(4)
    values = [rng.gauss(0, 1) for _ in range(9_000)]
    old_kind, restored = TailSketch(window=10_000, extremes=16), TailSketch(window=10_000, extremes=16)
    for x in values[:3_000]:
        old_kind.learn_one(x)
        restored.learn_one(x)
    restored.extremes = 24  # what reading it with the current defaults does
    for x in values[3_000:4_999]:
        old_kind.learn_one(x)
        restored.learn_one(x)
        assert restored.high == old_kind.high and restored.low == old_kind.low
    for probe in (2.5, 3.0, 3.5, -2.5, -3.5):
        assert restored.log_p(probe) == old_kind.log_p(probe)
    for x in values[4_999:]:  # past the generation: the new one keeps 24
        restored.learn_one(x)
    assert len(restored.high) == 24 and len(restored.old_high) == 16
    assert restored.high == array("f", sorted(values[5_000:])[-24:])


@pytest.mark.parametrize("typecode", ["f", "B"])
def test_arrays_are_deflated_only_when_that_pays_and_read_back_exactly(typecode: str) -> None:
    from array import array

    rng = random.Random(1)
    regular = array(typecode, [7] * 300)
    noisy = (
        array(typecode, [rng.randrange(256) for _ in range(300)])
        if typecode == "B"
        else array("f", [rng.gauss(0, 1) for _ in range(300)])
    )
    short = array(typecode, [7] * 10)
    for value, deflated in ((regular, True), (noisy, False), (short, False)):
        stored = state._enc(value)
        assert next(iter(stored)).endswith("z") == deflated
        assert state._dec(stored, 0) == value


# ------------------------------------------------------------------------ bounded stored records


def claim_storm(claims: int, days: int = 3) -> list[tuple[str, object]]:
    """One asset's item: its catalog row, then ``claims`` claims spread over ``days`` daily reports,
    some disputed on the last day (every claim keeps a record, every dispute a dedup key)."""
    events: list[tuple[str, object]] = [("CW-1", catalog())]
    for day in range(days):
        for n in range(claims * day // days, claims * (day + 1) // days):
            events.append(("CW-1", claim(f"C{n:06d}", day_end(day), claim_created_at=day_end(day))))
    for n in range(0, claims, 97):
        events.append(("CW-1", claim(f"C{n:06d}", day_end(days), status="disputed")))
    return events


def largest(records: list[tuple[int, str, bytes | None]]) -> int:
    return max(len(key.encode()) + len(blob or b"") for _, key, blob in records)


@pytest.mark.slow
def test_no_stored_record_grows_with_an_assets_claims() -> None:
    """An asset of 20,000 claims (40,000 and 100,000 run in scripts/bench-stream): every record stays
    small, the item's root a few KB, and a restore gives back every claim and the same later alerts."""
    events = claim_storm(20_000)
    whole = StateStore(clock=lambda: T0)
    expected = run(whole, events)
    first = StateStore(clock=lambda: T0)
    half = len(events) * 3 // 4
    before = run(first, events[:half])
    records = first.checkpoint()
    assert largest(records) < 8 * 1024, "one claim, row or dedup key per record"
    root = next(blob for _, key, blob in records if key == "CW-1")
    assert root is not None and len(root) < 16 * 1024
    second = StateStore(clock=lambda: T0)
    report = second.restore(0, [(key.encode(), blob) for _, key, blob in records])
    assert report.loaded == 1 and not report.unreadable
    assert len(second.keyed.monitors["CW-1"].claims.claims) == len(first.keyed.monitors["CW-1"].claims.claims)
    assert before + run(second, events, start=half) == expected
    # The next checkpoint writes what changed only, not the asset's 40,000 claims again.
    again = [key for _, key, _ in second.checkpoint() if state.split_part_key(key) is not None]
    claims_written = [key for key in again if state.split_part_key(key)[1] == state.CLAIM]  # type: ignore[index]
    assert 0 < len(claims_written) <= len(events) - half


def test_a_checkpoint_cut_short_is_rebuilt_not_half_loaded(keyed_events: list[tuple[str, object]]) -> None:
    """Parts come before their root; a restore that finds a root without every part of its
    checkpoint treats the item as unreadable (rebuilt from the log), and an item whose root never
    arrived has its parts deleted when it is stored again."""
    half = len(keyed_events) // 2
    first = StateStore(clock=lambda: T0)
    run(first, keyed_events[:half])
    first.checkpoint()
    run(first, keyed_events[: half + 2000], start=half)
    records = first.checkpoint()
    torn_item = next(key.split(state.PART_SEPARATOR)[0] for _, key, _ in records if state.PART_SEPARATOR in key)
    lost = next(key for _, key, _ in records if key.startswith(torn_item + state.PART_SEPARATOR))
    orphan_item = sorted({key for _, key, _ in records if state.PART_SEPARATOR not in key} - {torn_item})[0]
    kept = [(key.encode(), blob) for _, key, blob in records if key not in (lost, orphan_item)]
    second = StateStore(clock=lambda: T0)
    report = second.restore(0, kept)
    assert list(report.unreadable) == [torn_item] and "cut short" in report.unreadable[torn_item]
    assert orphan_item not in second.keyed.monitors and orphan_item in second.stale
    # Redelivered, the orphan's events make it again; its next checkpoint deletes the parts left
    # first, then writes its own, numbered above them.
    run(second, keyed_events[: half + 2000], start=half)
    assert orphan_item in second.dirty
    written = [(key, blob) for _, key, blob in second.checkpoint() if key.split(state.PART_SEPARATOR)[0] == orphan_item]
    deletions = [key for key, blob in written if blob is None]
    assert deletions and written[: len(deletions)] == [(key, None) for key in deletions]
    assert written[-1][0] == orphan_item and state.stored_json(written[-1][1] or b"")["seq"] > 2


@pytest.mark.parametrize("offset", [2**62, -5, 10_000])
def test_an_applied_offset_outside_the_event_log_is_refused(offset: int) -> None:
    """An item that claims to have applied an offset the log does not have would skip every later
    event as a redelivery: it is refused (counted, rebuilt), not loaded."""
    monitor = Monitor(clock=lambda: T0)
    monitor.process(catalog())
    blob = state.encode(monitor, offset)
    report = StateStore().restore(0, [(b"CW-1", blob)], log_end=10_000)
    assert report.loaded == 0 and "outside the event log" in report.unreadable["CW-1"]
    assert StateStore().restore(0, [(b"CW-1", state.encode(monitor, 9_999))], log_end=10_000).loaded == 1


def test_state_with_inline_collections_is_rewritten_as_parts(keyed_events: list[tuple[str, object]]) -> None:
    """Version 2 and 3 roots held every claim and roll-up row inline: their first checkpoint writes
    each as a part, after which the item reads back the same."""
    rows = [json.loads(line) for line in V2_RECORDS.read_text().splitlines()]
    store = StateStore(clock=lambda: T0)
    store.restore(0, [(r["key"].encode(), r["state"].encode()) for r in rows])
    claims = {key: len(m.claims.claims) for key, m in store.keyed.monitors.items()}
    assert sum(claims.values()) > 0 and store.rewrite == set(claims)
    records = store.checkpoint()
    again = StateStore(clock=lambda: T0)
    report = again.restore(0, [(key.encode(), blob) for _, key, blob in records])
    assert report.loaded == len(claims) and not report.unreadable
    assert {key: len(m.claims.claims) for key, m in again.keyed.monitors.items()} == claims
    assert max(len(blob or b"") for _, key, blob in records if state.PART_SEPARATOR not in key) < 64 * 1024


V4_RECORDS = Path(__file__).parent / "fixtures" / "state-v4-records.jsonl"


def test_state_of_format_version_4_is_read_and_stored_again_packed(keyed_events: list[tuple[str, object]]) -> None:
    """Version 4 stored plain JSON, each week's roll-up row a part of its own.

    The fixture is two items of this module's data, 60 % through, as version 4 wrote them. They
    load; their first checkpoint deletes the week-by-week row parts first and writes every part in
    this layout; read back, the items continue with the alerts of a run never stored."""
    rows = [json.loads(line) for line in V4_RECORDS.read_text().splitlines()]
    cut, items = rows[0]["cut"], {r["key"] for r in rows if state.PART_SEPARATOR not in r["key"]}
    assert len(items) == 2 and all(state.stored_json(r["state"].encode())["version"] == 4 for r in rows)
    old = [(r["key"].encode(), r["state"].encode()) for r in rows]
    store = StateStore(clock=lambda: T0)
    report = store.restore(0, old)
    assert report.loaded == 2 and not report.unreadable and store.rewrite == items
    weekly = sorted(
        r["key"] for r in rows if (s := state.split_part_key(r["key"])) and s[1] == state.ROW and "-W" in s[2]
    )
    assert weekly and sorted(k for keys in store.stale.values() for k in keys) == weekly
    written = store.checkpoint()
    for item in items:
        mine = [(key, blob) for _, key, blob in written if key.split(state.PART_SEPARATOR)[0] == item]
        deleted = [key for key, blob in mine if blob is None]
        assert mine[: len(deleted)] == [(key, None) for key in deleted] and deleted
        assert all(blob[:4] == b"\x28\xb5\x2f\xfd" for _, blob in mine if blob is not None)
    # The changelog after that checkpoint: the latest record per key wins, deletions remove.
    changelog: dict[bytes, bytes | None] = dict(old)
    for _, key, blob in written:
        changelog[key.encode()] = blob
    again = StateStore(clock=lambda: T0)
    assert again.restore(0, [(k, v) for k, v in changelog.items() if v is not None]).loaded == 2 and not again.rewrite
    for item in items:
        assert again.keyed.monitors[item].rollups.rows == store.keyed.monitors[item].rollups.rows
        assert again.keyed.monitors[item].claims.claims == store.keyed.monitors[item].claims.claims
    whole = StateStore(clock=lambda: T0)
    expected = [
        alert.alert_id
        for offset, (key, event) in enumerate(keyed_events)
        for alert in (whole.apply_event(key, 0, offset, event) or [])  # type: ignore[arg-type]
        if offset >= cut and key in items
    ]
    continued = [
        alert.alert_id
        for offset, (key, event) in enumerate(keyed_events[cut:], start=cut)
        if key in items
        for alert in (again.apply_event(key, 0, offset, event) or [])  # type: ignore[arg-type]
    ]
    assert continued == expected and again.keyed.monitors.keys() == items


@pytest.fixture(scope="module")
def stored_parts(keyed_events: list[tuple[str, object]]) -> tuple[int, list[tuple[str, bytes]]]:
    """The claim and roll-up parts (and roots) a checkpoint 60 % through this module's data writes."""
    store = StateStore(clock=lambda: T0)
    cut = len(keyed_events) * 6 // 10
    run(store, keyed_events[:cut])
    return cut, [(key, blob) for _, key, blob in store.checkpoint() if blob is not None]


WRONG_VALUES = st.sampled_from(
    [None, 0, -1, 1.5, 2**70, "x", "", [], {}, [1, "a"], {"kind": 3}, True, "2026-W99", {"d": [[1, 2]]}]
)


def _mutated(value: object, path: list[int], wrong: object) -> object:
    """``value`` with the leaf or branch ``path`` picks (indexes taken modulo each level) replaced."""
    if not path or not isinstance(value, dict | list) or not value:
        return wrong
    if isinstance(value, dict):
        key = sorted(value)[path[0] % len(value)]
        return {**value, key: _mutated(value[key], path[1:], wrong)}
    at = path[0] % len(value)
    return [*value[:at], _mutated(value[at], path[1:], wrong), *value[at + 1 :]]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pick=st.integers(0, 10**6), path=st.lists(st.integers(0, 50), min_size=1, max_size=6), wrong=WRONG_VALUES)
def test_a_claim_or_row_part_with_a_wrong_value_is_refused_not_carried(
    stored_parts: tuple[int, list[tuple[str, bytes]]],
    keyed_events: list[tuple[str, object]],
    pick: int,
    path: list[int],
    wrong: object,
) -> None:
    """A part that unpacks and parses but holds a value of the wrong type anywhere is refused on
    reading (the item is rebuilt from the log), never loaded to fail at its next event or checkpoint."""
    cut, records = stored_parts
    parts = [(k, b) for k, b in records if (s := state.split_part_key(k)) and s[1] in (state.CLAIM, state.ROW)]
    key, blob = parts[pick % len(parts)]
    item = key.split(state.PART_SEPARATOR)[0]
    body = _mutated(state.stored_json(blob), [1, *path] if path[0] % 2 else path, wrong)
    try:
        bad = packing.pack(orjson.dumps(body))
    except TypeError:  # an integer past 64 bits: orjson writes no such record
        return
    store = StateStore(clock=lambda: T0)
    mine = [(k.encode(), bad if k == key else b) for k, b in records if k.split(state.PART_SEPARATOR)[0] == item]
    report = store.restore(0, mine)
    assert report.loaded + len(report.unreadable) == 1
    for offset, (event_key, event) in enumerate(keyed_events[cut:], start=cut):
        if event_key == item:
            store.apply_event(event_key, 0, offset, event)  # type: ignore[arg-type]
    store.checkpoint()


def _set(value: Any, path: tuple[str | int, ...], wrong: object) -> Any:
    if not path:
        return wrong
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, str(head): _set(value[str(head)], rest, wrong)}
    assert isinstance(value, list) and isinstance(head, int)
    return [*value[:head], _set(value[head], rest, wrong), *value[head + 1 :]]


POST = ("monitor", "f", "posts", "d", 0, 1, "f")


@pytest.mark.parametrize(
    ("path", "wrong", "named"),
    [
        (("monitor", "f", "posts"), 5, "Monitor.posts"),
        (("monitor", "f", "watermark"), 3, "Monitor.watermark"),
        (("monitor", "f", "asset_risk", "d", 0, 1), "high", "Monitor.asset_risk"),
        ((*POST, "cusum"), "x", "PostModel.cusum"),
        ((*POST, "last_totals", "d", 0, 1), 1.5, "PostModel.last_totals"),
        ((*POST, "held_drop"), {"d": []}, "PostModel.held_drop"),
        ((*POST, "reactions", "d", 0, 1, "f", "seen"), 2.5, "ReactionRate.seen"),
        ((*POST, "views", "f", "detector", "f", "baseline", "f", "level", "f", "mean"), None, "EWMean.mean"),
    ],
    ids=lambda value: ".".join(map(str, value)) if isinstance(value, tuple) else None,
)
def test_a_root_field_of_the_wrong_type_is_refused_by_name(
    stored_parts: tuple[int, list[tuple[str, bytes]]], path: tuple[str | int, ...], wrong: object, named: str
) -> None:
    """A root that parses but holds a value of the wrong type in a stored field is refused on reading,
    naming the field, rather than loaded to fail at the item's next event."""
    _, records = stored_parts
    roots = [state.stored_json(blob) for key, blob in records if state.PART_SEPARATOR not in key]
    for body in roots:  # the first item that holds the field
        try:
            bad = packing.pack(orjson.dumps(_set(body, path, wrong)))
        except (KeyError, IndexError, AssertionError):
            continue
        break
    else:
        pytest.fail(f"no item holds {path}")
    with pytest.raises(state.StateFormatError, match=named):
        state.decode_root(bad, MonitorConfig())
    assert state.decode_root(packing.pack(orjson.dumps(body)), MonitorConfig()).offset == body["offset"]


def test_the_rows_a_snapshot_holds_are_every_stored_row_of_either_layout(
    keyed_events: list[tuple[str, object]],
) -> None:
    """Replay from a snapshot publishes the rows its records hold: every row of every item, read from
    claim and row parts alike, and from version 4's one-row parts."""
    from stream.replay import snapshot_rows

    store = StateStore(clock=lambda: T0)
    run(store, keyed_events[: len(keyed_events) // 2])
    written = store.checkpoint_items(store.take_dirty())  # the first: every row the items hold is in it
    records = [(key.encode(), blob) for _, key, blob in written.states if blob is not None]
    held = {key.encode(): row for _, key, row in written.rollups}
    found = dict(row for key, value in records for row in snapshot_rows(key, value))
    assert found == held and len(held) > 100
    old = [json.loads(line) for line in V4_RECORDS.read_text().splitlines()]
    v4_rows = [r["key"] for r in old if (s := state.split_part_key(r["key"])) and s[1] == state.ROW]
    from_v4 = [row for r in old for row in snapshot_rows(r["key"].encode(), r["state"].encode())]
    assert sorted(key for key, _ in from_v4) == sorted(
        f"{k.split(state.PART_SEPARATOR)[2]}|@{k.split(state.PART_SEPARATOR)[0]}".encode() for k in v4_rows
    )
