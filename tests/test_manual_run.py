"""``claimwatch aws run-report``: the weekly task started by hand as the schedule starts it, on moto's
real HTTP server (ECS, EventBridge, CloudWatch Logs), boto3 unchanged."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from batch.manual import Stopped, outcome_code, stopped
from claimwatch.cli import main
from tests.test_weekly_job import aws, aws_env, moto_endpoint

__all__ = ["moto_endpoint"]  # the fixture, shared with the weekly job's tests

COMMAND = ["report", "--out", "s3://reports/weekly", "--retries", "1"]


def schedule(endpoint: str) -> dict[str, Any]:
    """What infra/claims-report.yaml deploys, in small: a cluster, the task definition, the rule."""
    ecs, events, logs = aws("ecs", endpoint), aws("events", endpoint), aws("logs", endpoint)
    cluster = ecs.create_cluster(clusterName="claimwatch")["cluster"]["clusterArn"]
    definition = ecs.register_task_definition(
        family="dn-task-claims-report-process",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="1024",
        memory="3072",
        containerDefinitions=[
            {
                "name": "report",
                "image": "claimwatch:latest",
                "essential": True,
                "memory": 3072,  # the template sets it on the task only; moto's RunTask adds up containers'
                "command": COMMAND,
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": "/ecs/report",
                        "awslogs-region": "eu-west-1",
                        "awslogs-stream-prefix": "report",
                    },
                },
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    logs.create_log_group(logGroupName="/ecs/report")
    events.put_rule(Name="dn-claims-report", ScheduleExpression="rate(7 days)", State="ENABLED")
    ec2 = aws("ec2", endpoint)  # moto checks that the subnet and the security group exist
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # as MSK clients need
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="report", Description="report task", VpcId=vpc)["GroupId"]
    network = {"Subnets": [subnet], "SecurityGroups": [group], "AssignPublicIp": "ENABLED"}
    events.put_targets(
        Rule="dn-claims-report",
        Targets=[
            {
                "Id": "dn-task-claims-report-process",
                "Arn": cluster,
                "RoleArn": "arn:aws:iam::123456789012:role/run-task",
                "EcsParameters": {
                    "TaskDefinitionArn": definition,
                    "TaskCount": 1,
                    "LaunchType": "FARGATE",
                    "PlatformVersion": "LATEST",
                    "NetworkConfiguration": {"awsvpcConfiguration": network},
                },
            }
        ],
    )
    return {"cluster": cluster, "definition": definition, "network": network}


@pytest.fixture
def run_task_calls(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Every RunTask call claimwatch makes, as sent (boto3's own event hook, in this process)."""
    for name, value in aws_env(moto_endpoint).items():
        monkeypatch.setenv(name, value)
    boto3.setup_default_session()
    calls: list[dict[str, Any]] = []
    boto3.DEFAULT_SESSION.events.register(
        "provide-client-params.ecs.RunTask", lambda params, **_: calls.append(dict(params))
    )
    yield calls
    boto3.DEFAULT_SESSION = None


def test_run_report_starts_the_schedule_s_task_with_its_network_settings(
    moto_endpoint: str, run_task_calls: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    deployed = schedule(moto_endpoint)
    assert main(["aws", "run-report", "--week", "2026-W46"]) == 0
    (call,) = run_task_calls
    assert call["cluster"] == deployed["cluster"] and call["taskDefinition"] == deployed["definition"]
    assert call["launchType"] == "FARGATE" and call["platformVersion"] == "LATEST"
    network = deployed["network"]
    assert call["networkConfiguration"] == {
        "awsvpcConfiguration": {
            "subnets": network["Subnets"],
            "securityGroups": network["SecurityGroups"],
            "assignPublicIp": "ENABLED",
        }
    }
    assert call["overrides"] == {
        "containerOverrides": [{"name": "report", "command": [*COMMAND, "--week", "2026-W46"]}]
    }
    out = capsys.readouterr().out
    assert network["Subnets"][0] in out and "2026-W46" in out
    (task,) = aws("ecs", moto_endpoint).list_tasks(cluster=deployed["cluster"])["taskArns"]
    assert out.startswith(f"Started {task}")


def test_run_report_waits_and_prints_the_outcome_and_the_log_tail(
    moto_endpoint: str, run_task_calls: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    deployed = schedule(moto_endpoint)
    ecs, logs = aws("ecs", moto_endpoint), aws("logs", moto_endpoint)

    def the_task_runs_and_stops() -> None:
        for _ in range(100):
            tasks = ecs.list_tasks(cluster=deployed["cluster"])["taskArns"]
            if tasks:
                break
            time.sleep(0.1)
        stream = f"report/report/{tasks[0].rsplit('/', 1)[-1]}"
        logs.create_log_stream(logGroupName="/ecs/report", logStreamName=stream)
        now = int(time.time() * 1000)
        lines = ['{"stage": "read", "week": "2026-W45"}', "\x1b[2Jcleared?", '{"stage": "write", "changed": true}']
        logs.put_log_events(
            logGroupName="/ecs/report",
            logStreamName=stream,
            logEvents=[{"timestamp": now + i, "message": line} for i, line in enumerate(lines)],
        )
        ecs.stop_task(cluster=deployed["cluster"], task=tasks[0], reason="Essential container in task exited")

    helper = threading.Thread(target=the_task_runs_and_stops)
    helper.start()
    code = main(["aws", "run-report", "--wait", "--poll", "0.2", "--timeout", "60"])
    helper.join()
    out = capsys.readouterr().out
    assert "overrides" not in run_task_calls[0], "no --week: the task's own command, unchanged"
    assert "Stopped: exit code 0; -: Essential container in task exited" in out
    assert out.rstrip().endswith('{"stage": "write", "changed": true}')
    assert "\x1b" not in out, "a log line is printed without its terminal escapes"
    assert code == 0, "the task's own exit code (moto's stopped container exits 0)"


def test_run_report_names_a_missing_schedule_in_one_line(
    moto_endpoint: str, run_task_calls: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["aws", "run-report"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("claimwatch: error: no EventBridge rule 'dn-claims-report'") and err.count("\n") == 1
    assert run_task_calls == []


@pytest.mark.parametrize(
    ("task", "code"),
    [
        ({"lastStatus": "STOPPED", "containers": [{"exitCode": 0}]}, 0),
        ({"lastStatus": "STOPPED", "containers": [{"exitCode": 4}]}, 4),  # written, partial week
        ({"lastStatus": "STOPPED", "containers": [{"exitCode": 5}], "stopCode": "EssentialContainerExited"}, 5),
        ({"lastStatus": "STOPPED", "stopCode": "TaskFailedToStart", "stoppedReason": "CannotPullContainerError"}, 1),
        ({"lastStatus": "STOPPED", "containers": [{}], "stopCode": "UserInitiated"}, 1),
    ],
)
def test_the_exit_code_is_the_task_s_own_or_1_when_it_never_ran(task: dict[str, Any], code: int) -> None:
    result = stopped(task)
    assert isinstance(result, Stopped) and outcome_code(result) == code
