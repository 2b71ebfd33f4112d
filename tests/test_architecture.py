"""The import structure of docs/architecture.md, kept: every unit imports only from layers below
its own (or its own unit), so there is no package cycle and no import back up a layer.

A unit is a top-level package (``schemas``, ``stream``, ``batch``), a sub-package of
``claimwatch`` (``claimwatch.detect``) or one of its top-level modules (``claimwatch.embedded``).
Every import counts: module level, inside functions, and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "claimwatch", "stream", "batch")

# Lowest first. A new module goes in the lowest layer whose units it needs (docs/architecture.md).
LAYERS: list[set[str]] = [
    {"schemas", "claimwatch"},  # event, alert and report contracts; the package's version
    {"claimwatch.config"},  # settings from the environment
    {"claimwatch.textsafe", "claimwatch.logs", "claimwatch.aws", "claimwatch.runfolder"},
    {"claimwatch.ingest", "claimwatch.detect", "claimwatch.sample", "claimwatch.nab"},  # readers; the pure core
    {"claimwatch.front", "claimwatch.quarantine", "claimwatch.evaluate"},  # order and de-duplicate; scoring
    {"stream"},  # Kafka: ingest, the worker, sinks, replay
    {"batch"},  # the weekly report and its job
    {
        "claimwatch.embedded",
        "claimwatch.corebench",
        "claimwatch.tuning",
        "claimwatch.fuzz",
        "claimwatch.doctor",
        "claimwatch.collect",
        "claimwatch.console",
    },  # jobs over all of it
    {"claimwatch.seeds"},  # many embedded runs: quality over seeds
    {"claimwatch.cli"},
]


def unit_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "claimwatch" or len(parts) == 1:
        return parts[0]
    return f"claimwatch.{parts[1]}"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[tuple[str, str], list[str]]:
    """(importing unit, imported unit) → where, for every import between two units."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            importer = module_name(path)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    targets = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    targets = [node.module]
                else:
                    continue
                for target in targets:
                    if target.split(".")[0] in PACKAGES and unit_of(target) != unit_of(importer):
                        found[(unit_of(importer), unit_of(target))].append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def layer_of(unit: str) -> int:
    for level, units in enumerate(LAYERS):
        if unit in units:
            return level
    raise AssertionError(f"{unit} is in no layer: add it to LAYERS and docs/architecture.md")


def test_every_import_runs_down_a_layer() -> None:
    upward = [
        f"{where}: {importer} (layer {layer_of(importer)}) imports {imported} (layer {layer_of(imported)})"
        for (importer, imported), places in sorted(imports().items())
        if layer_of(imported) >= layer_of(importer)
        for where in places
    ]
    assert upward == []


def test_the_survey_sees_the_imports_it_rules_on() -> None:
    found = imports()
    assert ("stream", "claimwatch.detect") in found and ("claimwatch.embedded", "batch") in found
    assert all(package in {unit_of(m) for pair in found for m in pair} for package in PACKAGES)
