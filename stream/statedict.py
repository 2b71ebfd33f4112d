"""Train the dictionary stored state is packed with (``scripts/train-state-dictionary``).

The detection core runs over a generated sample and stores every item as a checkpoint would; the
records are then made anonymous — every string that is not the format's own vocabulary (a word
found in at least a fifth of the items, with no digit in it: tags, field values such as statuses,
sources and platforms) is replaced by random characters of the same kinds, so titles, names, ids
and dates of the sample leave nothing in the dictionary — and zstd trains a dictionary on them.

A dictionary, once records are packed with it, must be shipped for as long as they may be read:
this writes a new one under a new id (``claimwatch/detect/state-<id>.zdict``) and never replaces
one; ``claimwatch.detect.packing`` then lists it and packs with it.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import zstandard

from claimwatch.detect import packing, state
from stream.scalebench import template_items

VOCABULARY_SHARE = 0.2  # a string in at least this share of items is the format's, not the data's
DICTIONARY_BYTES = 16 << 10  # 8, 16 and 32 KB packed the bench's records alike; 16 KB is the middle
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def strings(value: Any, found: set[str]) -> None:
    if isinstance(value, str):
        found.add(value)
    elif isinstance(value, list):
        for entry in value:
            strings(entry, found)
    elif isinstance(value, dict):
        for entry in value.values():
            strings(entry, found)


def vocabulary(items: dict[str, list[Any]]) -> set[str]:
    """The strings in at least ``VOCABULARY_SHARE`` of the items, with no digit and under 40 characters."""
    holders: dict[str, int] = defaultdict(int)
    for bodies in items.values():
        found: set[str] = set()
        for body in bodies:
            strings(body, found)
        for text in found:
            holders[text] += 1
    floor = VOCABULARY_SHARE * len(items)
    return {t for t, n in holders.items() if n >= floor and len(t) < 40 and not any(c.isdigit() for c in t)}


def anonymous(value: Any, keep: set[str], rng: random.Random) -> Any:
    """``value`` with every string outside ``keep`` replaced, character class by character class."""
    if isinstance(value, str):
        if value in keep:
            return value
        return "".join(
            str(rng.randrange(10)) if c.isdigit() else rng.choice(ALPHABET) if c.isalpha() else c for c in value
        )
    if isinstance(value, list):
        return [anonymous(v, keep, rng) for v in value]
    if isinstance(value, dict):
        return {k: anonymous(v, keep, rng) for k, v in value.items()}
    return value


def samples(seed: int, template_count: int) -> list[bytes | bytearray | memoryview]:
    with tempfile.TemporaryDirectory() as tmp:
        templates, _ = template_items(Path(tmp) / "sample", template_count, seed)
    items = {
        item: [orjson.loads(packing.unpack(value, state.MAX_STATE_BYTES)) for _, value in records]
        for item, records in templates.items()
    }
    keep = vocabulary(items)
    rng = random.Random(seed)
    out: list[bytes | bytearray | memoryview] = [
        orjson.dumps(anonymous(body, keep, rng)) for bodies in items.values() for body in bodies
    ]
    rng.shuffle(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/train-state-dictionary", description=__doc__)
    parser.add_argument("--id", type=int, required=True, help="the new dictionary's id (never one already shipped)")
    parser.add_argument("--seed", type=int, default=1, help="the generated sample's seed")
    parser.add_argument("--items", type=int, default=200, help="items of the generated sample")
    args = parser.parse_args(argv)
    target = Path(packing.__file__).with_name(f"state-{args.id}.zdict")
    if args.id < 1 or args.id in packing.DICTIONARIES or target.exists():
        parser.error(f"dictionary {args.id} exists or is not a positive id: records packed with it would be lost")
    trained = zstandard.train_dictionary(DICTIONARY_BYTES, samples(args.seed, args.items), dict_id=args.id, threads=0)
    target.write_bytes(trained.as_bytes())
    print(f"{target}: {len(trained.as_bytes()):,} bytes; list it in packing.DICTIONARIES and pack with it (CURRENT)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
