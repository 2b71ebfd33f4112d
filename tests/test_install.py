"""claimwatch as a user gets it: a wheel installed into a fresh environment, away from the repository.

The package must not lean on anything only the repository has (``tests``, files beside the code):
every subcommand's ``--help`` works, the embedded run reads its bundled sample, and the benchmark
that ships in the package runs.
"""

from __future__ import annotations

import json
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# One test process builds the wheel once: two builds from the same tree race on its `build/`.
pytestmark = pytest.mark.xdist_group("install")

WALK_HELP = """
import argparse, contextlib, io, sys
from claimwatch.cli import build_parser, main

def commands(parser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from commands(sub, (*prefix, name))

failed, count = [], 0
for command in commands(build_parser()):
    count += 1
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            main([*command, "--help"])
    except SystemExit as done:
        if done.code != 0 or not out.getvalue().startswith("usage: claimwatch " + " ".join(command)):
            failed.append(command)
print(count, failed)
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel built from this tree; the dependencies are borrowed from the
    test environment (added as a plain path, so its editable install of claimwatch is not)."""
    work = tmp_path_factory.mktemp("install")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = work.glob("claimwatch-*.whl")
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    target = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    borrowed = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (Path(target) / "borrowed-dependencies.pth").write_text("\n".join(borrowed) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", target, str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return python


def _run(python: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), *args], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_the_installed_package_comes_from_the_wheel_not_the_repository(installed: Path, tmp_path: Path) -> None:
    where = _run(installed, tmp_path, "-c", "import claimwatch, stream, batch, schemas; print(claimwatch.__file__)")
    assert where.returncode == 0, where.stderr
    assert not where.stdout.strip().startswith(str(ROOT)), where.stdout
    assert _run(installed, tmp_path, "-c", "import tests").returncode != 0, "the wheel must not need the tests"
    # Stored state is packed with a dictionary shipped as package data: the wheel must carry it.
    packed = _run(
        installed, tmp_path, "-c", "from claimwatch.detect import packing as p; print(p.unpack(p.pack(b'{}'), 9))"
    )
    assert packed.returncode == 0 and packed.stdout.strip() == "b'{}'", packed.stderr[-2000:]


def test_every_subcommand_s_help_works_when_installed(installed: Path, tmp_path: Path) -> None:
    done = _run(installed, tmp_path, "-c", WALK_HELP)
    assert done.returncode == 0, done.stderr[-2000:]
    count, failed = done.stdout.split(" ", 1)
    assert int(count) >= 30 and failed.strip() == "[]", done.stdout


@pytest.mark.slow
def test_the_main_job_and_the_shipped_benchmarks_run_when_installed(installed: Path, tmp_path: Path) -> None:
    run = _run(installed, tmp_path, "-m", "claimwatch.cli", "run", "--out", "out", "--quiet")
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "out" / "alerts.jsonl").read_text().count("\n") > 30
    bench = _run(installed, tmp_path, "-m", "claimwatch.cli", "bench", "--events", "3000", "--json")
    assert bench.returncode == 0, bench.stderr[-2000:]
    assert json.loads(bench.stdout)["post_state_bytes_max"] <= 4096


def _declared(requirements: list[str]) -> set[str]:
    import re

    return {re.split(r"[\s<>=!~\[;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def test_every_module_the_package_imports_is_a_declared_dependency() -> None:
    """The wheel test above borrows the test environment's packages, where a dependency of a dev
    tool can stand in for one the package forgot to declare (pydantic-settings once did, and a fresh
    ``pip install -e .`` could not run ``claimwatch``). Every import of the shipped packages, at the
    top of a module or inside a function, must come from the standard library, the package itself,
    or a distribution ``pyproject.toml`` names: in ``dependencies``, or in the extra that the
    importing code's feature documents (``bench``, ``msk``)."""
    import ast
    import importlib.metadata
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = _declared(project["dependencies"])
    extras = {name: _declared(reqs) for name, reqs in project["optional-dependencies"].items() if name != "dev"}
    allowed = required.union(*extras.values())
    providers = importlib.metadata.packages_distributions()
    ours = {"claimwatch", "schemas", "stream", "batch"}
    missing = []
    for package in sorted(ours):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in ours or top in sys.stdlib_module_names or top == "__future__":
                        continue
                    dists = {d.lower().replace("_", "-") for d in providers.get(top, [])}
                    if not dists:  # an extra not installed here (CI has no ``bench``): by its name
                        dists = {d for d in allowed if d.startswith(top.lower().replace("_", "-"))}
                    if not dists & allowed:
                        missing.append(f"{path.relative_to(ROOT)}: {top} ({', '.join(sorted(dists)) or '?'})")
    assert missing == [], missing
