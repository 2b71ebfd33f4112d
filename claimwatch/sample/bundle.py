"""The sample bundled in the package: a small generated data set, gzip-compressed byte-for-byte reproducibly."""

from __future__ import annotations

import gzip
import shutil
import tempfile
from pathlib import Path

from claimwatch.sample.generator import generate

BUNDLE_SEED = 7
BUNDLE_ITEMS = 150
# Ten days: every scenario has four days of a post's history before it and its reactions' windows (up
# to 12 hours each) have warmed up; in eight, the last engagement surges came before that.
BUNDLE_DAYS = 10
BUNDLE_DIR = Path(__file__).parent / "data"


def build_bundle(target: Path) -> list[Path]:
    """Generate the bundled sample into ``target`` (replacing it); every data file gzip-compressed."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp)
        generate(source, seed=BUNDLE_SEED, items=BUNDLE_ITEMS, days=BUNDLE_DAYS)
        if target.exists():
            shutil.rmtree(target)
        written = []
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            rel = path.relative_to(source)
            if path.name == "labels.json" or path.suffix == ".gz":
                dest = target / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest)
            else:
                dest = target / rel.with_name(rel.name + ".gz")
                dest.parent.mkdir(parents=True, exist_ok=True)
                with dest.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
                    gz.write(path.read_bytes())
            written.append(dest)
        return written


if __name__ == "__main__":
    for p in build_bundle(BUNDLE_DIR):
        print(p)
