"""The worker's /metrics: Prometheus' own checker accepts it, and data cannot forge a series."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from stream.worker import WorkerStats

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.promtool  # skipped without the binary (tests/conftest.py)

HOSTILE = 'evil"} 1\nclaimwatch_fake_total{x="1'


def exposition() -> str:
    stats = WorkerStats()
    stats.events_in["metric"] += 3
    stats.quarantined[HOSTILE] += 1
    stats.dead_letters["undecodable_event"] += 2
    stats.alerts_out[("view_spike", "high")] += 2
    for seconds in (0.0004, 0.002, 0.3):
        stats.latency.observe(seconds)
    return stats.prometheus({0: 5, 1: 0})


def promtool_check(text: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)


@needs_promtool
def test_promtool_accepts_the_exposition() -> None:
    checked = promtool_check(exposition())
    assert checked.returncode == 0 and not checked.stdout.strip() and not checked.stderr.strip(), checked


def test_every_family_has_help_and_a_hostile_label_stays_one_label() -> None:
    text = exposition()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert all(f.documentation for f in families.values())
    assert "claimwatch_fake" not in families and "claimwatch_fake_total" not in families
    quarantined = families["claimwatch_quarantined"].samples
    assert [(s.labels, s.value) for s in quarantined] == [({"source": HOSTILE}, 1.0)]
    latency = families["claimwatch_processing_seconds"]
    assert latency.type == "histogram"
    assert {s.name for s in latency.samples} >= {
        "claimwatch_processing_seconds_bucket",
        "claimwatch_processing_seconds_count",
    }
    assert "process_resident_memory_bytes" in families, "process metrics"
    lag = {s.labels["partition"]: s.value for s in families["claimwatch_consumer_lag"].samples}
    assert lag == {"0": 5.0, "1": 0.0}


DASHBOARD = Path(__file__).resolve().parents[1] / "deploy" / "grafana-worker.json"


def _panel_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    return [t["expr"].replace("$job", ".*") for p in board["panels"] for t in p["targets"]]


def test_the_dashboard_queries_only_series_the_worker_exposes() -> None:
    exposed = {s.name for f in text_string_to_metric_families(exposition()) for s in f.samples}
    used = {m for q in _panel_queries() for m in re.findall(r"\b(?:claimwatch|process)_[a-z_]+", q)}
    assert used and used <= exposed, used - exposed


@needs_promtool
def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    """As recording rules, the panels' PromQL goes through Prometheus' own parser."""
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"claimwatch:panel_{i}", "expr": q} for i, q in enumerate(_panel_queries())],
            }
        ]
    }
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    assert PROMTOOL is not None
    checked = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr


RULES = Path(__file__).resolve().parents[1] / "deploy" / "prometheus-rules.yml"


@needs_promtool
def test_the_shipped_alert_rules_pass_promtool_and_their_unit_tests() -> None:
    assert PROMTOOL is not None
    for args in (["check", "rules", str(RULES)], ["test", "rules", str(RULES.with_suffix(".test.yml"))]):
        done = subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60, cwd=RULES.parent)
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_alert_rules_use_only_metrics_the_worker_exposes() -> None:
    """A renamed metric would silence its alert without a word: every claimwatch_ name in the rules
    is one /metrics writes."""
    families = {f.name for f in text_string_to_metric_families(exposition())}
    exposed = families | {f"{name}_total" for name in families}
    used = set(re.findall(r"\bclaimwatch_[a-z_]+\b", RULES.read_text()))
    used -= {n for n in used if n.endswith("_total") and n[: -len("_total")] in families}
    assert used and used <= exposed, used - exposed


def test_every_panel_plots_what_its_title_and_unit_say() -> None:
    """Bytes in byte panels, seconds in second panels, per minute where the title says so: a panel
    whose unit or rate does not match its series misleads whoever is on call."""
    board = json.loads(DASHBOARD.read_text())
    seconds = re.compile(r"_seconds(_bucket|_sum|_total)?\b|claimwatch_seconds_since_progress")
    for panel in board["panels"]:
        title, unit = panel["title"], panel["fieldConfig"]["defaults"]["unit"]
        for target in panel["targets"]:
            expr = target["expr"]
            metrics = re.findall(r"\b(?:claimwatch|process)_[a-z_]+", expr)
            if unit in ("bytes", "Bps"):
                assert all("_bytes" in m for m in metrics), (title, expr)
            elif unit == "s":
                assert seconds.search(expr), (title, expr)
            elif unit == "percentunit":
                assert "process_cpu_seconds_total" in expr, (title, expr)
            else:
                assert not any("_bytes" in m or m.endswith("_seconds_total") for m in metrics), (title, expr)
            if "per minute" in title:
                assert expr.endswith("* 60"), (title, expr)
            if "per second" in title or unit in ("ops", "Bps"):
                assert "rate(" in expr and not expr.endswith("* 60"), (title, expr)
        if "per event" in title:
            assert any("/ sum(rate(claimwatch_events_in_total" in t["expr"] for t in panel["targets"]), title
