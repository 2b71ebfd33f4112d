"""docker-compose.yml and the Dockerfile cannot run here (no Docker engine): check what can be checked."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from claimwatch.cli import build_parser
from claimwatch.config import NAMES as ENV_NAMES
from stream.scalebench import REPLAY_TASK_PROCESSES

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def test_every_claimwatch_service_runs_a_real_subcommand() -> None:
    services = compose()["services"]
    ours = {name: s for name, s in services.items() if "build" in s}
    assert {"topics", "worker", "ingest", "alerts-tail", "webhook-sink", "sns-sink", "report", "console"} <= ours.keys()
    assert services["report"]["profiles"] == ["report"], "the report runs on demand, not with the stack"
    # The console without sign-in is published on the host's loopback only, never on every address.
    assert all(port.startswith("127.0.0.1:") for port in services["console"]["ports"])
    assert "--no-sign-in" in services["console"]["command"]
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
            assert key in ENV_NAMES, f"{name}: {key} is not a claimwatch setting"


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
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "claimwatch"]' in text and "USER claimwatch" in text
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


def template() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "infra" / "claims-report.yaml").read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", ["claims-report.yaml", "stream-services.yaml"])
def test_the_templates_pass_cfn_lint(name: str) -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")  # installed with the dev extra, beside python
    done = subprocess.run([str(cfn_lint), str(ROOT / "infra" / name)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_template_matches_the_operations_document() -> None:
    resources = template()["Resources"]
    rule = resources["WeeklySchedule"]["Properties"]
    assert (rule["Name"], rule["ScheduleExpression"], rule["State"]) == ("dn-claims-report", "rate(7 days)", "ENABLED")
    target = rule["Targets"][0]
    ecs = target["EcsParameters"]
    assert ecs["LaunchType"] == "FARGATE"
    assert ecs["NetworkConfiguration"]["AwsVpcConfiguration"]["AssignPublicIp"] == "ENABLED"
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1 and "DeadLetterConfig" in target
    task = resources["TaskDefinition"]["Properties"]
    assert (task["Family"], task["Cpu"], task["Memory"], task["NetworkMode"]) == (
        "dn-task-claims-report-process",
        "1024",
        "3072",
        "awsvpc",
    )
    assert task["RequiresCompatibilities"] == ["FARGATE"]
    container = task["ContainerDefinitions"][0]
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    build_parser().parse_args([*container["Command"][:2], "s3://bucket/prefix"])  # a real subcommand
    failed = resources["FailedRunRule"]["Properties"]["EventPattern"]
    assert failed["detail"]["containers"]["exitCode"] == [{"anything-but": 0}]
    assert {"Ref": "OpsAlertTopicArn"} in [t["Arn"] for t in resources["FailedRunRule"]["Properties"]["Targets"]]
    assert container["Command"][-2:] == ["--retries", "1"], "a failed run is retried once by the task itself"


def test_the_task_role_may_write_only_under_the_report_prefix() -> None:
    statements = template()["Resources"]["TaskRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {"s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:ListBucket", "sns:Publish"}
    objects = next(s for s in statements if s["Sid"] == "ReportObjects")
    assert objects["Resource"]["Fn::Sub"].endswith("${ReportBucket}/${ReportPrefix}/*")


def test_the_example_alertmanager_config_is_valid() -> None:
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("needs amtool (prometheus-alertmanager; scripts/test installs it)")
    done = subprocess.run(
        [amtool, "check-config", str(ROOT / "deploy" / "alertmanager.yml")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert compose()["services"]["alertmanager-sink"]["command"] == ["alerts", "sink", "alertmanager"]


def test_a_failed_run_pages_once_and_a_task_that_never_started_pages_too() -> None:
    resources = template()["Resources"]
    ops = {"Ref": "OpsAlertTopicArn"}
    rule_pages = {
        name: r["Properties"]["EventPattern"]["detail"]
        for name, r in resources.items()
        if r["Type"] == "AWS::Events::Rule" and any(t["Arn"] == ops for t in r["Properties"].get("Targets", []))
    }
    alarm_pages = [
        name
        for name, r in resources.items()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and ops in r["Properties"].get("AlarmActions", [])
        and r["Properties"].get("Namespace") == "AWS/Events"
    ]
    assert alarm_pages == [], "a failed run must not page a second time through an alarm on its rule"
    failed = [d for d in rule_pages.values() if "containers" in d]
    not_started = [d for d in rule_pages.values() if d.get("stopCode") == ["TaskFailedToStart"]]
    assert len(failed) == 1 and len(not_started) == 1


def test_the_report_job_reads_a_missing_manifest_with_a_prefix_limited_listing() -> None:
    """S3 answers a GET of a missing key with 403 to a role that may list only under its prefix: the
    job lists under the key first, so a first run (no manifest yet) reads "not there"."""
    from batch.job import S3Target

    class PrefixLimitedS3:
        class exceptions:
            NoSuchKey = KeyError

        def __init__(self) -> None:
            self.objects = {"weekly/2026-W45/report.json": b"{}"}

        def list_objects_v2(self, Bucket: str, Prefix: str, MaxKeys: int) -> dict:  # type: ignore[type-arg]
            assert Prefix.startswith("weekly/"), "the role may list only under its prefix"
            return {"Contents": [{"Key": k} for k in sorted(self.objects) if k.startswith(Prefix)][:MaxKeys]}

        def get_object(self, Bucket: str, Key: str) -> dict:  # type: ignore[type-arg]
            if Key not in self.objects:
                raise PermissionError("AccessDenied")  # what S3 says without a bucket-wide listing
            return {"Body": io.BytesIO(self.objects[Key])}

    target = S3Target("reports", "weekly", "2026-W45", client=PrefixLimitedS3())
    assert target.read("manifest.json") is None
    assert target.read("report.json") == b"{}"


def test_the_replay_task_runs_a_shard_of_a_real_replay_command() -> None:
    resources = template()["Resources"]
    (container,) = resources["ReplayTaskDefinition"]["Properties"]["ContainerDefinitions"]
    parsed = build_parser().parse_args(container["Command"])  # overridden per shard at run time
    assert parsed.command == "replay" and parsed.shard == "0/1" and parsed.processes == 2
    # scripts/bench-scale projects a week's replay on 8 of these tasks as it measured one: the same
    # processes, a vCPU each.
    assert parsed.processes == REPLAY_TASK_PROCESSES
    assert resources["ReplayTaskDefinition"]["Properties"]["Cpu"] == str(1024 * REPLAY_TASK_PROCESSES)
    assert resources["ReplayTaskDefinition"]["Properties"]["TaskRoleArn"] == {"Fn::GetAtt": ["ReplayTaskRole", "Arn"]}


def test_the_daily_snapshot_task_runs_a_real_command_on_a_daily_schedule() -> None:
    resources = template()["Resources"]
    (container,) = resources["SnapshotTaskDefinition"]["Properties"]["ContainerDefinitions"]
    parsed = build_parser().parse_args(container["Command"])
    assert parsed.command == "snapshots" and parsed.action == "take" and callable(parsed.func)
    assert {v["Name"] for v in container["Environment"]} <= set(ENV_NAMES)
    rule = resources["SnapshotSchedule"]["Properties"]
    assert rule["ScheduleExpression"] == "rate(1 day)"
    assert rule["Targets"][0]["EcsParameters"]["TaskDefinitionArn"] == {"Ref": "SnapshotTaskDefinition"}
    allowed = resources["RunTaskRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]["Resource"]
    assert {"Ref": "SnapshotTaskDefinition"} in allowed


def test_the_stream_services_run_real_commands_within_their_limits() -> None:
    stream = yaml.safe_load((ROOT / "infra" / "stream-services.yaml").read_text())
    resources = stream["Resources"]
    definitions = {name: r for name, r in resources.items() if r["Type"] == "AWS::ECS::TaskDefinition"}
    assert set(definitions) == {
        "WorkerTaskDefinition",
        "SinkTaskDefinition",
        "CollectTaskDefinition",
        "ConsoleTaskDefinition",
    }
    for name, definition in definitions.items():
        (container,) = definition["Properties"]["ContainerDefinitions"]
        parsed = build_parser().parse_args(container["Command"])
        assert callable(parsed.func), name
        for variable in container["Environment"]:
            assert variable["Name"] in ENV_NAMES, f"{name}: {variable['Name']} is not a claimwatch setting"
    worker = resources["WorkerTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    assert "6066/health" in " ".join(worker["HealthCheck"]["Command"])
    # Never more workers than partitions (an idle worker holds nothing), never fewer than one.
    scaling = resources["WorkerScaling"]["Properties"]
    assert scaling["MaxCapacity"] == {"Ref": "Partitions"} and scaling["MinCapacity"] == 1
    # One collector at a time, even during a deployment: its rounds and markers are one process's.
    deployment = resources["CollectService"]["Properties"]["DeploymentConfiguration"]
    assert deployment == {"MinimumHealthyPercent": 0, "MaximumPercent": 100}
    assert resources["CollectService"]["Properties"]["DesiredCount"] == 1


def test_the_console_sits_behind_an_alb_that_signs_users_in_and_whose_arn_it_checks() -> None:
    resources = yaml.safe_load((ROOT / "infra" / "stream-services.yaml").read_text())["Resources"]
    (container,) = resources["ConsoleTaskDefinition"]["Properties"]["ContainerDefinitions"]
    parsed = build_parser().parse_args(container["Command"])
    assert parsed.command == "console" and parsed.bind == "0.0.0.0"
    env = {v["Name"]: v["Value"] for v in container["Environment"]}
    assert env["CLAIMWATCH_CONSOLE_ALB_ARN"] == {"Ref": "ConsoleLoadBalancer"}  # the signer it believes
    actions = resources["ConsoleListener"]["Properties"]["DefaultActions"]
    assert [a["Type"] for a in sorted(actions, key=lambda a: a["Order"])] == ["authenticate-oidc", "forward"]
    assert resources["ConsoleListener"]["Properties"]["Protocol"] == "HTTPS"
    assert resources["ConsoleTargetGroup"]["Properties"]["HealthCheckPath"] == "/healthz"
