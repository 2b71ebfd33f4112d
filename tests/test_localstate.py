"""The worker's local copy of its state changelog: a restart reads the changelog's tail, decodes items
as their events arrive, and never trusts a copy the changelog does not vouch for."""

from __future__ import annotations

from pathlib import Path

import pytest

from claimwatch.detect.monitor import MonitorConfig
from stream.coreproc import CoreServer
from stream.coreproto import Encoded, Landed, Positioned, Rebuilt, Record, Request, Restored
from stream.localstate import SLOTS, LocalState, record_digest
from tests.test_coreproc import TOPIC, apply, ask, checkpoint, in_process_alert_ids

PARTITIONS = range(4)


class Changelog:
    """The state topic as the broker keeps it: records with offsets, per partition."""

    def __init__(self) -> None:
        self.records: dict[int, list[tuple[int, bytes, bytes | None]]] = {p: [] for p in PARTITIONS}

    def write(self, encoded: Encoded) -> list[dict[str, object]]:
        """Append a checkpoint's records; the positions a worker reports when they are confirmed."""
        last: dict[int, tuple[int, str]] = {}
        for record in encoded.states:
            log = self.records[record.partition]
            value = record.blob()
            log.append((len(log), record.key.encode(), value))
            last[record.partition] = (len(log) - 1, record_digest(record.key.encode(), value))
        return [{"partition": p, "offset": o, "digest": d} for p, (o, d) in sorted(last.items())]

    def read(self, partition: int, start: int = 0) -> list[Record]:
        return [(partition, o, k, v) for o, k, v in self.records[partition] if o >= start]


def server_with_copy(folder: Path) -> CoreServer:
    local = LocalState.open(folder, "t.state")
    assert local is not None
    return CoreServer(MonitorConfig(), TOPIC, local=local)


def checkpoint_and_land(server: CoreServer, changelog: Changelog) -> None:
    positions = changelog.write(checkpoint(server))
    ask(server, Request.LANDED, Landed, {"positions": positions}, [])


def restore(server: CoreServer, changelog: Changelog, partition: int) -> Restored:
    """What the worker does: read the changelog from the copy's position, or whole when the copy is stale."""
    start = ask(server, Request.POSITION, Positioned, {"partition": partition}, []).offset
    if start is not None:
        report = ask(
            server,
            Request.RESTORE,
            Restored,
            {"partition": partition, "start": start},
            changelog.read(partition, start),
        )
        if not report.stale_copy:
            return report
    return ask(server, Request.RESTORE, Restored, {"partition": partition}, changelog.read(partition))


def close(server: CoreServer) -> None:
    assert server.local is not None
    server.local.close()


def test_a_restart_reads_the_tail_decodes_items_as_they_move_and_continues_exactly(
    log_records: list[Record], tmp_path: Path
) -> None:
    third = len(log_records) // 3
    changelog = Changelog()
    first = server_with_copy(tmp_path)
    apply(first, log_records[:third])
    checkpoint_and_land(first, changelog)
    apply(first, log_records[third : 2 * third])
    positions = changelog.write(checkpoint(first))  # on the changelog, but the copy never heard: a crash
    assert positions
    close(first)

    second = server_with_copy(tmp_path)
    reports = [restore(second, changelog, p) for p in PARTITIONS]
    assert not any(r.stale_copy for r in reports) and all(r.loaded == 0 for r in reports)
    assert sum(r.lazy for r in reports) == 40  # every item, held in the copy
    assert second.store.keyed.monitors == {}  # nothing decoded yet
    replies = [apply(second, log_records)]  # everything since the first checkpoint is redelivered
    ids = [alert.alert_id for reply in replies for alert in reply.alerts]
    whole = in_process_alert_ids(log_records)
    assert ids and ids == whole[len(whole) - len(ids) :]
    assert sum(r.redelivered for r in replies) == 2 * third - 1  # the dead letter is not an applied event
    close(second)


def test_items_no_event_touches_are_never_decoded(log_records: list[Record], tmp_path: Path) -> None:
    changelog = Changelog()
    first = server_with_copy(tmp_path)
    apply(first, log_records)
    checkpoint_and_land(first, changelog)
    items = len(first.store.keyed.monitors)
    close(first)
    second = server_with_copy(tmp_path)
    for p in PARTITIONS:
        restore(second, changelog, p)
    one = next(r for r in log_records if r[0] == 2 and r[2] != b"CW-x")
    apply(second, [(one[0], one[1] + 10**6, one[2], one[3])])
    assert list(second.store.keyed.monitors) == [one[2].decode()] and items > 1  # type: ignore[union-attr]
    close(second)


def test_a_copy_the_changelog_does_not_vouch_for_is_read_whole(log_records: list[Record], tmp_path: Path) -> None:
    changelog = Changelog()
    first = server_with_copy(tmp_path)
    apply(first, log_records)
    checkpoint_and_land(first, changelog)
    close(first)
    # The topic deleted and made again: other records at the copy's offsets.
    fresh = Changelog()
    other = CoreServer(MonitorConfig(), TOPIC)
    apply(other, log_records[: len(log_records) // 2])
    fresh.write(checkpoint(other))
    second = server_with_copy(tmp_path)
    start = ask(second, Request.POSITION, Positioned, {"partition": 0}, []).offset
    assert start is not None
    stale = ask(second, Request.RESTORE, Restored, {"partition": 0, "start": start}, fresh.read(0, start))
    assert stale.stale_copy
    for p in PARTITIONS:
        assert not restore(second, fresh, p).stale_copy
    reply = apply(second, log_records)
    ids = [a.alert_id for a in reply.alerts]
    whole = in_process_alert_ids(log_records)
    assert ids == whole[len(whole) - len(ids) :]  # continues from the fresh changelog, not the old copy
    close(second)


def test_an_unreadable_item_in_the_copy_holds_its_batch_until_it_is_rebuilt(
    log_records: list[Record], tmp_path: Path
) -> None:
    changelog = Changelog()
    first = server_with_copy(tmp_path)
    half = len(log_records) // 2
    apply(first, log_records[:half])
    checkpoint_and_land(first, changelog)
    close(first)
    victim = next(r for r in log_records[:half] if r[0] == 1 and r[2] != b"CW-x")[2]
    assert victim is not None
    local = LocalState.open(tmp_path, "t.state")
    assert local is not None
    local.db.execute(
        "UPDATE records SET value=? WHERE item=? AND key=?", (b"\x80\x04crafted", victim.decode(), victim.decode())
    )
    local.close()

    second = server_with_copy(tmp_path)
    for p in PARTITIONS:
        restore(second, changelog, p)
    held = apply(second, log_records)
    assert [(u.partition, u.key) for u in held.unreadable] == [(1, victim.decode())]
    assert held.events == {} and held.alerts == []  # nothing of the batch applied
    p1 = [r for r in log_records[:half] if r[0] == 1]
    ask(second, Request.REBUILD, Rebuilt, {"partition": 1, "keys": [victim.decode()]}, p1)
    again = apply(second, log_records)
    assert again.unreadable == []
    ids = [a.alert_id for a in again.alerts]
    whole = in_process_alert_ids(log_records)
    assert ids and ids == whole[len(whole) - len(ids) :]
    close(second)


def test_each_worker_on_a_machine_takes_a_copy_of_its_own(tmp_path: Path) -> None:
    held = [LocalState.open(tmp_path, "t.state") for _ in range(SLOTS)]
    assert all(held) and len({c.path for c in held if c}) == SLOTS
    assert LocalState.open(tmp_path, "t.state") is None  # every slot taken: no copy, the changelog alone
    first = held[0]
    assert first is not None
    first.close()
    again = LocalState.open(tmp_path, "t.state")
    assert again is not None and again.path == first.path
    for copy in [again, *held[1:]]:
        assert copy is not None
        copy.close()


def test_a_copy_that_is_not_sqlite_is_started_afresh(tmp_path: Path) -> None:
    (tmp_path / "t.state.0.sqlite").write_bytes(b"\x00not a database" * 100)
    local = LocalState.open(tmp_path, "t.state")
    assert local is not None and local.position(0) is None
    local.write([(0, "CW-1", b"{}")], {0: (5, "d")})
    assert local.position(0) == (5, "d") and local.item(0, "CW-1") == [(b"CW-1", b"{}")]
    local.close()


@pytest.mark.parametrize(("key", "value"), [(b"k", b"v"), (b"k", None), (None, b"v"), (b"kv", b""), (b"k", b"v\x00")])
def test_a_digest_tells_records_apart(key: bytes | None, value: bytes | None) -> None:
    others = {(b"k", b"v"), (b"k", None), (None, b"v"), (b"kv", b""), (b"k", b"v\x00")} - {(key, value)}
    assert record_digest(key, value) not in {record_digest(k, v) for k, v in others}


def test_a_partition_read_whole_in_chunks_is_the_copy_a_single_read_makes(
    log_records: list[Record], tmp_path: Path
) -> None:
    changelog = Changelog()
    first = server_with_copy(tmp_path / "a")
    apply(first, log_records)
    checkpoint_and_land(first, changelog)
    whole = server_with_copy(tmp_path / "b")
    chunked = server_with_copy(tmp_path / "c")
    for p in PARTITIONS:
        records = changelog.read(p)
        ask(whole, Request.RESTORE, Restored, {"partition": p}, records)
        pieces = [records[i : i + 7] for i in range(0, len(records), 7)]
        for n, piece in enumerate(pieces):
            header = {"partition": p, "first": n == 0, "last": False}
            assert ask(chunked, Request.RESTORE, Restored, header, piece) == Restored(loaded=0, unreadable={})
        done = ask(chunked, Request.RESTORE, Restored, {"partition": p, "first": not pieces, "last": True}, [])
        assert done.lazy == whole.local.count_items(p) > 0  # type: ignore[union-attr]
        assert chunked.local.position(p) == whole.local.position(p) is not None  # type: ignore[union-attr]
    dump = "SELECT partition, key, value FROM records ORDER BY 1, 2"
    assert chunked.local.db.execute(dump).fetchall() == whole.local.db.execute(dump).fetchall()  # type: ignore[union-attr]
    for server in (first, whole, chunked):
        close(server)
