"""The command line itself: --version, and --help of every subcommand, never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from claimwatch.cli import EXAMPLES, build_parser, main


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for action in parser._actions:  # argparse has no public walk of its subcommands
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((*prefix, name))
                found += _commands(sub, (*prefix, name))
    return found


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("claimwatch ")


@pytest.mark.parametrize("command", _commands(build_parser()), ids=" ".join)
def test_every_subcommand_has_help(command: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and out.startswith("usage: claimwatch " + " ".join(command))
    text = " ".join(out.split())  # argparse wraps lines
    assert any(
        f"{lead} {start}" in text for lead in ("Example:", "Examples:") for start in ("claimwatch ", "CLAIMWATCH_")
    )


# Every subcommand with a wrong input: no broker, a bad setting, a missing path. Each must end in
# one line on stderr (no traceback) and the documented exit code: 2 usage and input, 3 unavailable.
NO_BROKER = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "CLAIMWATCH_CONNECT_SECONDS": "0"}
WRONG: list[tuple[list[str], dict[str, str], int]] = [
    *[
        (command, NO_BROKER, 3)
        for command in (
            ["topics", "describe"],
            ["topics", "create"],
            ["status"],
            ["alerts", "tail", "--idle-exit", "1"],
            ["alerts", "export", "--generation", "2", "--out", "x.jsonl"],
            ["alerts", "sink", "webhook", "--idle-exit", "1"],
            ["quarantine", "list"],
            ["snapshots", "take", "--to", "snaps"],
            ["quarantine", "retract", "claims.csv", "--reason", "columns swapped"],
            ["promote", "--generation", "2"],
            ["replay", "--generation", "2"],
            ["report", "--week", "2026-W46", "--out", "rep"],
            ["impact", "--from-gen", "1", "--to-gen", "2", "--out", "imp"],
            ["audit", "--month", "2026-11", "--out", "audit"],
        )
    ],
    (["status"], {"CLAIMWATCH_PARTITIONS": "abc"}, 2),
    (["topics", "create"], {"CLAIMWATCH_WEB_PORT": "-5"}, 2),
    (["alerts", "tail"], {"CLAIMWATCH_GENERATION": "x"}, 2),
    (
        ["alerts", "sink", "webhook", "--idle-exit", "1"],
        {**NO_BROKER, "CLAIMWATCH_SINK_MAX_BACKOFF_SECONDS": "soon"},
        2,
    ),
    (["ingest", "missing-folder"], NO_BROKER, 2),
    (["run", "--input", "missing-folder", "--out", "o"], {}, 2),
    (["eval", "--alerts", "missing.jsonl", "--labels", "missing.json"], {}, 2),
    (["backtest", "--series", "missing-folder", "--out", "b"], {}, 2),
    (["quarantine", "export", "--from-dir", "missing-folder", "--out", "q.csv"], {}, 2),
    (["quarantine", "release", "missing.jsonl"], {}, 2),
    (["quarantine", "retract", "claims.csv", "--reason", " "], NO_BROKER, 2),
    (["sample", "--out", "s", "--days", "3"], {}, 2),
    (["report", "--week", "2026-W99", "--from-dir", "missing-folder", "--out", "rep"], {}, 2),
    (["nab-score", "--results", "missing-folder", "--labels", "missing.json"], {}, 2),
    (["console", "--from-dir", "missing-folder"], {}, 2),
    (["console", "--from-dir", "."], {}, 2),  # a folder that is not a run's
    (["console", "--from-dir", ".", "--bind", "0.0.0.0"], {}, 2),  # reachable by others: sign-in required
    (["console", "--from-dir", ".", "--bind", "0.0.0.0", "--no-sign-in"], {}, 2),  # past the bind: no alerts.jsonl
    (["console", "--from-dir", ".", "--port", "0"], {}, 2),
    (["audit", "--month", "November", "--out", "audit"], {}, 2),
    (["config", "show"], {"CLAIMWATCH_CHECKPOINT_SECONDS": "often"}, 2),
    (["config", "show"], {"CLAIMWATCH_PARTITONS": "8"}, 2),
    (["run", "--input", ".", "--out", "o"], {}, 2),  # an empty folder: no record to read
    (["run", "--input", "s3://exports/2026-11/", "--out", "o"], {}, 2),
    (
        ["aws", "setup", "--bucket", "b", "--sns-topic", "t"],
        {"AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_CONFIG_FILE": "/nonexistent"},
        2,
    ),
    (
        ["aws", "setup", "--bucket", "b", "--sns-topic", "t"],
        {
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "y",
            "AWS_MAX_ATTEMPTS": "1",
        },
        3,
    ),
    (["schemas", "export", "a-file"], {}, 2),  # written by the test below before it runs
    (["eval", "--alerts", "a-file", "--labels", "nab-windows.json"], {}, 2),
    (["config", "show"], {"CLAIMWATCH_WEB_PORT": "70000", "CLAIMWATCH_STALL_SECONDS": "inf"}, 2),
    (["audit", "--month", "2026-11", "--from-dir", "missing-folder", "--out", "audit"], {}, 3),
]


@pytest.mark.parametrize(("command", "env", "code"), WRONG, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_a_wrong_input_is_one_line_and_a_documented_exit_code(
    command: list[str], env: dict[str, str], code: int, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("")
    (tmp_path / "nab-windows.json").write_text(
        '{"realKnownCause/x.csv": [["2014-01-01 00:00:00", "2014-01-02 00:00:00"]]}'
    )
    done = subprocess.run(
        [sys.executable, "-m", "claimwatch.cli", *command],
        env={**os.environ, "CLAIMWATCH_WEBHOOK_URL": "http://127.0.0.1:9/hook", **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == code, (done.returncode, done.stderr)
    assert len(lines) <= 2 and lines[-1].startswith("claimwatch: error: "), done.stderr


ROOT = Path(__file__).resolve().parents[1]


def test_every_variable_the_code_reads_is_in_the_settings_registry() -> None:
    import re

    from claimwatch import config

    read = set()
    for folder in ("claimwatch", "stream", "batch", "schemas", "scripts"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in (".py", "") and "__pycache__" not in path.parts:
                read |= set(re.findall(r"\b((?:CLAIMWATCH|KAFKA|AWS)_[A-Z_]+)\b", path.read_text(errors="replace")))
    read -= {"KAFKA_SSL_BOOTSTRAP_SERVERS"}  # the local broker's TLS address: the tests read it, claimwatch never
    registered = {v.name for v in config.VARIABLES}
    assert read <= registered, sorted(read - registered)


def test_the_registry_defaults_are_the_code_s_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from claimwatch import config
    from claimwatch.ingest.readers import ReadLimits
    from stream.settings import Settings

    for v in config.VARIABLES:
        monkeypatch.delenv(v.name, raising=False)
    settings, limits = Settings(), ReadLimits.from_env()
    actual = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "CLAIMWATCH_TOPIC_PREFIX": settings.topic_prefix,
        "CLAIMWATCH_PARTITIONS": settings.partitions,
        "CLAIMWATCH_APP_ID": settings.app_id,
        "CLAIMWATCH_GENERATION": settings.generation,
        "CLAIMWATCH_OWNER": settings.owner,
        "CLAIMWATCH_WEB_PORT": settings.web_port,
        "CLAIMWATCH_WEB_BIND": settings.web_bind,
        "CLAIMWATCH_CHECKPOINT_EVENTS": settings.checkpoint_events,
        "CLAIMWATCH_CHECKPOINT_SECONDS": settings.checkpoint_seconds,
        "CLAIMWATCH_STALL_SECONDS": settings.stall_seconds,
        "CLAIMWATCH_DEAD_LETTER_LIMIT": settings.dead_letter_limit,
        "CLAIMWATCH_SESSION_TIMEOUT_SECONDS": settings.session_timeout_seconds,
        "CLAIMWATCH_STATE_STORE": settings.state_store,
        "CLAIMWATCH_INGEST_DEADLINE_SECONDS": settings.ingest_deadline_seconds,
        "CLAIMWATCH_MAX_LINE_BYTES": limits.max_line_bytes,
        "CLAIMWATCH_MAX_DOCUMENT_BYTES": limits.max_document_bytes,
        "CLAIMWATCH_MAX_FILE_BYTES": limits.max_file_bytes,
    }
    registry = {v.name: v.default for v in config.VARIABLES}
    assert {name: str(value) for name, value in actual.items()} == {name: registry[name] for name in actual}


def test_config_show_masks_secrets(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-print-me")
    monkeypatch.setenv("CLAIMWATCH_TOPIC_PREFIX", "prod")
    assert main(["config", "show", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["AWS_SECRET_ACCESS_KEY"]["value"] == "****"
    assert (rows["CLAIMWATCH_TOPIC_PREFIX"]["value"], rows["CLAIMWATCH_TOPIC_PREFIX"]["from"]) == (
        "prod",
        "environment",
    )
    assert rows["CLAIMWATCH_PARTITIONS"]["from"] == "default"


def test_config_show_never_prints_a_credential(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from stream.settings import Settings

    monkeypatch.setenv("CLAIMWATCH_WEBHOOK_URL", "https://hooks.slack.example/services/T000/B000/sl4cktok3n")
    monkeypatch.setenv("CLAIMWATCH_ALERTMANAGER_URL", "https://oncall:am-pa55word@alertmanager.internal:9093/")
    for args in (["config", "show"], ["config", "show", "--json"]):
        assert main(args) == 0
        out = capsys.readouterr().out
        assert "sl4cktok3n" not in out and "am-pa55word" not in out
        assert "https://hooks.slack.example/****" in out and "https://oncall:****@alertmanager.internal:9093/" in out
    shown = repr(Settings())
    assert "sl4cktok3n" not in shown and "am-pa55word" not in shown


def test_every_bad_or_unknown_variable_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_PARTITONS", "8")
    monkeypatch.setenv("CLAIMWATCH_WEB_PORT", "70000")
    monkeypatch.setenv("CLAIMWATCH_CHECKPOINT_SECONDS", "nan")
    from claimwatch import config

    with pytest.raises(ValueError) as raised:
        config.environment()
    message = str(raised.value)
    assert "\n" not in message
    assert "CLAIMWATCH_PARTITONS is not a claimwatch setting (did you mean CLAIMWATCH_PARTITIONS?)" in message
    assert "CLAIMWATCH_WEB_PORT must be a port number" in message
    assert "CLAIMWATCH_CHECKPOINT_SECONDS must be a finite number" in message


def test_run_into_its_previous_output_leaves_nothing_stale(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "2025-W01").mkdir(parents=True)  # a week of an earlier run, on other data
    (out / "2025-W01" / "report.json").write_text("{}")
    (out / "alerts.jsonl").write_text('{"old": true}\n')
    data = tmp_path / "in"
    data.mkdir()
    (data / "catalog.csv").write_text("content_id,title,youtube\nCW-1,Song,yt1\n")
    assert main(["run", "--input", str(data), "--out", str(out), "--quiet"]) == 0
    assert not (out / "2025-W01").exists() and "old" not in (out / "alerts.jsonl").read_text()


@pytest.mark.parametrize(
    ("setup", "command", "says"),
    [
        ("foreign", ["run", "--input", "{in}", "--out", "{out}"], "not a claimwatch run's output"),
        ("own-output", ["run", "--input", "{own}", "--out", "{out2}"], "the output of a claimwatch run"),
        ("no-export", ["run", "--input", "{junk}", "--out", "{out2}"], "no claimwatch export among the 2 file(s)"),
        ("foreign", ["sample", "--out", "{out}"], "not a claimwatch sample"),
    ],
)
def test_run_and_sample_refuse_what_they_should_in_one_line(
    setup: str, command: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folders = {name: tmp_path / name for name in ("in", "out", "out2", "own", "junk")}
    folders["in"].mkdir()
    (folders["in"] / "catalog.csv").write_text("content_id,title,youtube\nCW-1,Song,yt1\n")
    folders["out"].mkdir()
    (folders["out"] / "thesis.docx").write_text("someone's work")
    folders["own"].mkdir()
    (folders["own"] / "alerts.jsonl").write_text("")
    folders["junk"].mkdir()
    (folders["junk"] / "notes.txt").write_text("shopping list\n")
    (folders["junk"] / "photo.bin").write_bytes(b"\x89PNG\r\n")
    capsys.readouterr()
    assert main([part.format(**{k: str(v) for k, v in folders.items()}) for part in command]) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1, err
    assert (folders["out"] / "thesis.docx").exists(), "nothing of someone else's is touched"


def test_sample_into_its_previous_output_replaces_it(tmp_path: Path) -> None:
    assert main(["sample", "--out", str(tmp_path / "s"), "--items", "40", "--days", "8", "--seed", "1"]) == 0
    (tmp_path / "s" / "polls" / "polls_19990101.jsonl").write_text("{}\n")  # would be stale
    assert main(["sample", "--out", str(tmp_path / "s"), "--items", "40", "--days", "8", "--seed", "2"]) == 0
    assert not (tmp_path / "s" / "polls" / "polls_19990101.jsonl").exists()


OPERATOR_COMMANDS = [
    ["replay"],
    ["promote"],
    ["impact"],
    ["alerts", "export"],
    ["audit"],
    ["quarantine", "list"],
    ["quarantine", "show"],
    ["quarantine", "export"],
    ["quarantine", "release"],
    ["quarantine", "retract"],
]


@pytest.mark.parametrize("command", OPERATOR_COMMANDS, ids=" ".join)
def test_the_data_quality_commands_show_an_example(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """An operator in the middle of an incident reads --help once: it shows a command line to start from."""
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "Example: claimwatch " + " ".join(command) in out or "Examples: claimwatch " + " ".join(command) in out


def test_run_as_json_is_one_object_that_adds_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from claimwatch.sample.generator import generate

    generate(tmp_path / "in", seed=5, items=40, days=8)
    capsys.readouterr()
    assert (
        main(
            ["run", "--input", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--json", "--min-severity", "info"]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)  # no alert lines around it
    files = [json.loads(line) for line in (tmp_path / "out" / "files.jsonl").read_text().splitlines()]
    assert sum(r["records"] for r in summary["records_by_source"].values()) == sum(f["records"] for f in files) > 0
    alerts = (tmp_path / "out" / "alerts.jsonl").read_text().splitlines()
    by_type = summary["alerts"]["by_type"]
    assert summary["alerts"]["total"] == len(alerts) == sum(sum(c.values()) for c in by_type.values())
    assert all(Path(p).exists() for p in [*summary["written"].values(), *summary["reports"]])


@pytest.mark.slow
def test_run_into_a_pipe_closed_early_finishes_and_writes_its_output(tmp_path: Path, small_data: Path) -> None:
    """`claimwatch run | head`: the reader has enough after a few lines; the run is not a Kafka error
    and still writes its alerts and reports."""
    out = tmp_path / "out"
    argv = ["run", "--input", str(small_data), "--out", str(out), "--min-severity", "info"]
    run = subprocess.Popen(
        [sys.executable, "-m", "claimwatch.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert run.stdout is not None and run.stderr is not None
    first = run.stdout.readline()
    run.stdout.close()  # what `head -1` does once it has its line
    err = run.stderr.read().decode()
    assert run.wait(timeout=300) == 0, err[-1000:]
    assert first.strip() and "Kafka" not in err and "Traceback" not in err
    assert (out / "alerts.jsonl").stat().st_size > 0 and list(out.glob("*/report.json"))


def test_a_run_that_read_only_quarantined_records_says_so_and_exits_4(tmp_path: Path) -> None:
    data = tmp_path / "in"
    data.mkdir()
    (data / "catalog.csv").write_text("content_id,title,youtube\n,nameless,yt1\n,also nameless,yt2\n")
    done = subprocess.run(
        [sys.executable, "-m", "claimwatch.cli", "run", "--input", str(data), "--out", str(tmp_path / "o"), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 4, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("claimwatch: error: every record read was quarantined (2)")
    assert len((tmp_path / "o" / "quarantine.jsonl").read_text().splitlines()) == 2


def test_the_run_s_counts_agree_with_its_quarantine_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A poll record repeated in a second file is quarantined: the table, files.jsonl and
    `quarantine list --source polls` (the help's own example) all count it."""
    data = tmp_path / "in"
    data.mkdir()
    (data / "catalog.csv").write_text("content_id,title,youtube\nCW-1,Song,yt1\n")
    polls = "".join(
        f'{{"platform":"youtube","platform_content_id":"yt1","observed_at":"2026-11-10T0{h}:00:00Z","views_total":{h}}}\n'
        for h in range(1, 4)
    )
    (data / "polls_a.jsonl").write_text(polls)
    (data / "polls_b.jsonl").write_text(polls.splitlines(keepends=True)[0])  # a repeat of the first record
    out = tmp_path / "out"
    assert main(["run", "--input", str(data), "--out", str(out), "--quiet"]) == 0
    table = capsys.readouterr().out
    assert re.search(r"\n  polls +2 +4 +3 +1 ", table), table
    files = {Path(r["path"]).name: r for r in map(json.loads, (out / "files.jsonl").read_text().splitlines())}
    assert (files["polls_b.jsonl"]["quarantined"], files["polls_b.jsonl"]["duplicates"]) == (1, 1)
    assert len((out / "quarantine.jsonl").read_text().splitlines()) == 1
    assert main(["quarantine", "list", "--from-dir", str(out), "--source", "polls"]) == 0
    assert "1 quarantined record" in capsys.readouterr().out


def test_a_file_without_a_date_in_its_name_counts_in_the_week_of_its_data(tmp_path: Path) -> None:
    """A poll log named without a date: its broken line and its repeated record are in the data
    quality of the week its polls are about, not in no week at all."""
    data = tmp_path / "in"
    data.mkdir()
    (data / "catalog.csv").write_text("content_id,title,youtube\nCW-1,Song,yt1\n")
    polls = [
        f'{{"platform":"youtube","platform_content_id":"yt1","observed_at":"2026-11-10T0{h}:00:00Z","views_total":{h}}}\n'
        for h in range(1, 4)
    ]
    (data / "polls.jsonl").write_text("".join(polls) + "{broken\n")
    (data / "polls_again.jsonl").write_text(polls[0])
    out = tmp_path / "out"
    assert main(["run", "--input", str(data), "--out", str(out), "--quiet"]) == 0
    quality = json.loads((out / "2026-W46" / "report.json").read_text())["data_quality"]
    assert quality["quarantined_total"] == 2, quality
    assert quality["records_read_by_source"]["polls"]["quarantined"] == 2


@pytest.mark.parametrize("command", sorted(EXAMPLES))
def test_every_example_in_the_help_parses(command: str) -> None:
    """An example that no longer parses would teach the wrong command."""
    words = [w for w in shlex.split(EXAMPLES[command]) if "=" not in w or w.startswith("-")]
    assert words[0] == "claimwatch" and " ".join(words[1:]).startswith(command)
    build_parser().parse_args(words[1:])
