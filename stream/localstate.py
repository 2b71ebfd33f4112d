"""A worker's local copy of its state changelog: what makes a restart take seconds, not minutes.

Kafka Streams keeps each task's store on local disk with a checkpoint file of changelog offsets, so
a restarted instance reads only the changelog written since; this is the same idea in one SQLite
file. The changelog stays the authority:

- a checkpoint's records are written here only once the broker has confirmed them (``landed``),
  with, per partition, the offset of the last one and a digest of it;
- a restore reads the changelog from that offset: when the record found there is not the one
  remembered (a new cluster, a topic deleted and created again, compaction that removed it), the
  copy of that partition is thrown away and the partition read whole, as without a copy;
- whatever the changelog holds past it (written by another worker that held the partition
  meanwhile, or by a checkpoint whose confirmation never reached this file) is written over it.

Items are then decoded from here when their next event arrives (:class:`~claimwatch.detect.store.
StateStore` asks :meth:`LocalState.item`), so a restart costs the changelog's tail, not the
catalogue. Several workers on one machine each take a file of their own (``<topic>.<slot>.sqlite``,
held with an exclusive lock); any file is as good as any other, since every partition's copy is
checked against the changelog before it is used.

The file holds bytes this worker wrote and the broker confirmed; nothing in it is executed, and a
record that does not decode is refused as one from the changelog would be.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from claimwatch.detect import state

log = logging.getLogger("claimwatch.localstate")
FORMAT = 2
SLOTS = 16  # workers of one application on one machine that can each keep a copy

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    partition INTEGER NOT NULL, item TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (partition, item, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS roots (
    partition INTEGER NOT NULL, item TEXT NOT NULL, PRIMARY KEY (partition, item)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS positions (
    partition INTEGER PRIMARY KEY, changelog_offset INTEGER NOT NULL, digest TEXT NOT NULL
);
"""

StateRecord = tuple[int, str, bytes | None]  # partition, key, value (None: deleted)


def record_digest(key: bytes | None, value: bytes | None) -> str:
    """What identifies a changelog record (its key and value) without keeping it."""
    h = hashlib.blake2b(digest_size=16)
    for part in (key, value):
        h.update(b"\xff" if part is None else len(part).to_bytes(8, "big") + part)
    return h.hexdigest()


class LocalState:
    """One worker's copy of the changelog partitions it held; see the module's docstring."""

    def __init__(self, path: Path, lock: IO[bytes]) -> None:
        self.path = path
        self._lock = lock
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # WAL and synchronous=NORMAL: a crash loses at most the last transactions, which the
        # positions then do not cover either (they are written in the same transaction), so the
        # restore reads those records from the changelog again.
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        found = self.db.execute("SELECT value FROM meta WHERE name='format'").fetchone()
        if found is None or found[0] != str(FORMAT):
            self.db.executescript("DELETE FROM records; DELETE FROM roots; DELETE FROM positions;")
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)", (str(FORMAT),))

    @classmethod
    def open(cls, directory: Path, name: str) -> LocalState | None:
        """The first free copy for this changelog in ``directory`` (made if missing), or None (with
        a warning) when none can be had: the worker then restores from the changelog alone."""
        try:
            directory.mkdir(parents=True, exist_ok=True)
            for slot in range(SLOTS):
                path = directory / f"{name}.{slot}.sqlite"
                lock = (directory / f"{name}.{slot}.lock").open("ab")
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    lock.close()
                    continue
                try:
                    return cls(path, lock)
                except sqlite3.DatabaseError as exc:
                    log.warning("local state %s is unusable (%s): starting it afresh", path, exc)
                    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                        stale.unlink(missing_ok=True)
                    return cls(path, lock)
            log.warning(
                "every local state slot in %s is held by another worker: restoring from the changelog", directory
            )
        except (OSError, sqlite3.Error) as exc:
            log.warning("no local state in %s (%s): restoring from the changelog", directory, exc)
        return None

    def position(self, partition: int) -> tuple[int, str] | None:
        """The changelog offset this copy of the partition is current to, and that record's digest."""
        row = self.db.execute(
            "SELECT changelog_offset, digest FROM positions WHERE partition=?", (partition,)
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def write(
        self, records: Iterable[StateRecord], positions: dict[int, tuple[int, str]], clear: Iterable[int] = ()
    ) -> int:
        """In one transaction: forget the ``clear`` partitions, write the records (None deletes),
        then the positions they bring the partitions to. Returns the records written."""
        written = 0
        db = self.db
        db.execute("BEGIN")
        try:
            for partition in clear:
                for table in ("records", "roots", "positions"):
                    db.execute(f"DELETE FROM {table} WHERE partition=?", (partition,))
            upserts: list[tuple[int, str, str, bytes]] = []
            roots: list[tuple[int, str]] = []
            for partition, key, value in records:
                item = key.split(state.PART_SEPARATOR, 1)[0]
                if value is None:
                    self._flush(upserts, roots)
                    db.execute("DELETE FROM records WHERE partition=? AND item=? AND key=?", (partition, item, key))
                    if key == item:
                        db.execute("DELETE FROM roots WHERE partition=? AND item=?", (partition, item))
                else:
                    upserts.append((partition, item, key, value))
                    if key == item:
                        roots.append((partition, item))
                written += 1
            self._flush(upserts, roots)
            db.executemany(
                "INSERT OR REPLACE INTO positions VALUES (?,?,?)",
                [(p, offset, digest) for p, (offset, digest) in sorted(positions.items())],
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return written

    def _flush(self, upserts: list[tuple[int, str, str, bytes]], roots: list[tuple[int, str]]) -> None:
        """Write the upserts gathered so far (before a deletion, which must follow them)."""
        self.db.executemany("INSERT OR REPLACE INTO records VALUES (?,?,?,?)", upserts)
        self.db.executemany("INSERT OR IGNORE INTO roots VALUES (?,?)", roots)
        upserts.clear()
        roots.clear()

    def forget_positions(self) -> None:
        """Make every partition's copy count for nothing (a write failed part way)."""
        self.db.execute("DELETE FROM positions")

    def item(self, partition: int, item: str) -> list[tuple[bytes, bytes]]:
        """The stored records of one item (its root and parts), as the changelog has them."""
        rows = self.db.execute(
            "SELECT key, value FROM records WHERE partition=? AND item=?", (partition, item)
        ).fetchall()
        return [(key.encode(), bytes(value)) for key, value in rows]

    def count_items(self, partition: int) -> int:
        row = self.db.execute("SELECT count(DISTINCT item) FROM records WHERE partition=?", (partition,)).fetchone()
        return int(row[0])

    def close(self) -> None:
        self.db.close()
        self._lock.close()
