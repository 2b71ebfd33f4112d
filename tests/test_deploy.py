"""docker-compose.yml and the Dockerfile cannot run here (no Docker engine): check what can be checked."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from claimwatch.cli import build_parser
from stream.settings import ENV_NAMES

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def test_every_claimwatch_service_runs_a_real_subcommand() -> None:
    services = compose()["services"]
    ours = {name: s for name, s in services.items() if "build" in s}
    assert {"topics", "worker", "ingest", "alerts-tail", "webhook-sink", "sns-sink"} <= ours.keys()
    for name, service in ours.items():
        args = service["command"]
        parsed = build_parser().parse_args(args)  # exits (fails the test) on an unknown command or option
        assert callable(parsed.func), name


def test_environment_names_are_the_settings_names() -> None:
    for name, service in compose()["services"].items():
        if "build" not in service:
            continue
        env = service.get("environment", {})
        for key in env:
            assert key in ENV_NAMES, f"{name}: {key} is not read by stream.settings"


def test_dependencies_and_health_checks() -> None:
    services = compose()["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:4")
    assert "healthcheck" in services["kafka"] and "healthcheck" in services["worker"]
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in ("worker", "ingest", "alerts-tail", "webhook-sink"):
        assert services[name]["depends_on"]["topics"]["condition"] == "service_completed_successfully", name
    for service in services.values():
        for dep in service.get("depends_on", {}):
            assert dep in services


def test_dockerfile_installs_the_package_and_fronts_the_cli() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.1[1-9]", text, re.M)
    assert 'ENTRYPOINT ["claimwatch"]' in text and "USER claimwatch" in text
    for folder in ("claimwatch", "schemas", "stream", "batch"):
        assert f"COPY {folder} ./{folder}" in text
    build_parser().parse_args(["run"])


def test_no_secrets_in_the_repository() -> None:
    pattern = re.compile(r"(AKIA[0-9A-Z]{16}|aws_secret_access_key\s*=\s*[A-Za-z0-9/+]{30,})")
    for path in ROOT.rglob("*"):
        if (
            path.is_file()
            and ".git" not in path.parts
            and ".venv" not in path.parts
            and path.suffix in {".py", ".yml", ".yaml", ".toml", ".md", ".sh", ".cfg", ""}
        ):
            assert not pattern.search(path.read_text(errors="ignore")), path
