"""Realistic labelled sample data."""

from pathlib import Path

BUNDLED_SAMPLE = Path(__file__).parent / "data"  # what `claimwatch run` reads when given no --input
