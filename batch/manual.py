"""Manual processing: the weekly task started by hand exactly as the schedule starts it.

The runbook's "execute manual processing" step. The EventBridge rule that runs the report
(``dn-claims-report`` in ``infra/claims-report.yaml``) holds the cluster, the task definition and
the network settings; :func:`schedule_target` reads them from the rule itself, so a hand-started
task can never drift from the scheduled one. Only the command differs, by ``--week`` when given.

Clients are passed in (boto3's ECS, EventBridge and CloudWatch Logs clients), and so are the
clock and the sleep, so the waiting is tested without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_RULE = "dn-claims-report"
STARTED_BY = "claimwatch-run-report"  # shows in the ECS console which tasks were started by hand
LOG_LINES = 20


class ManualRunError(Exception):
    """A manual run that could not be started or followed: one line, and the CLI's exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ScheduledTask:
    """What the schedule's rule starts: where, which definition, with which network."""

    cluster: str
    task_definition: str
    launch_type: str
    platform_version: str
    network: dict[str, Any]  # run_task's networkConfiguration
    count: int


@dataclass(frozen=True)
class Stopped:
    """How a task ended."""

    task_arn: str
    last_status: str
    exit_code: int | None
    stop_code: str
    reason: str
    started_at: str
    stopped_at: str


def schedule_target(events: Any, rule: str) -> ScheduledTask:
    """The ECS target of the schedule's rule, as run_task wants it."""
    try:
        targets = events.list_targets_by_rule(Rule=rule)["Targets"]
    except events.exceptions.ResourceNotFoundException:
        raise ManualRunError(2, f"no EventBridge rule {rule!r} (the schedule of infra/claims-report.yaml)") from None
    ecs_targets = [t for t in targets if "EcsParameters" in t]
    if not ecs_targets:
        raise ManualRunError(2, f"the rule {rule!r} has no ECS task target")
    target = ecs_targets[0]
    params = target["EcsParameters"]
    vpc = params.get("NetworkConfiguration", {}).get("awsvpcConfiguration", {})
    network: dict[str, Any] = {}
    if vpc:
        # EventBridge spells the keys in capitals, ECS in camel case.
        network = {
            "awsvpcConfiguration": {
                "subnets": list(vpc.get("Subnets", [])),
                "securityGroups": list(vpc.get("SecurityGroups", [])),
                "assignPublicIp": vpc.get("AssignPublicIp", "DISABLED"),
            }
        }
    return ScheduledTask(
        cluster=target["Arn"],
        task_definition=params["TaskDefinitionArn"],
        launch_type=params.get("LaunchType", "FARGATE"),
        platform_version=params.get("PlatformVersion", "LATEST"),
        network=network,
        count=int(params.get("TaskCount", 1)),
    )


def start(ecs: Any, task: ScheduledTask, week: str | None) -> tuple[str, dict[str, Any]]:
    """Run the scheduled task once; its ARN and the task definition's container (name, log settings)."""
    definition = ecs.describe_task_definition(taskDefinition=task.task_definition)["taskDefinition"]
    container = definition["containerDefinitions"][0]
    kwargs: dict[str, Any] = {
        "cluster": task.cluster,
        "taskDefinition": task.task_definition,
        "count": 1,
        "launchType": task.launch_type,
        "startedBy": STARTED_BY,
    }
    if task.launch_type == "FARGATE":
        kwargs["platformVersion"] = task.platform_version
    if task.network:
        kwargs["networkConfiguration"] = task.network
    if week:
        command = [*drop_week(list(container.get("command", []))), "--week", week]
        kwargs["overrides"] = {"containerOverrides": [{"name": container["name"], "command": command}]}
    answer = ecs.run_task(**kwargs)
    if answer.get("failures") or not answer.get("tasks"):
        failure = (answer.get("failures") or [{}])[0]
        why = f"{failure.get('reason', 'no task')} {failure.get('detail', '')}".strip()
        raise ManualRunError(3, f"ECS did not start the task: {why}"[:300])
    return str(answer["tasks"][0]["taskArn"]), container


def drop_week(command: list[str]) -> list[str]:
    """The command without a ``--week`` it may already carry.

    >>> drop_week(["report", "--week", "2026-W01", "--retries", "1"])
    ['report', '--retries', '1']
    """
    out, skip = [], False
    for word in command:
        if skip:
            skip = False
        elif word == "--week":
            skip = True
        elif not word.startswith("--week="):
            out.append(word)
    return out


def wait(
    ecs: Any,
    cluster: str,
    task_arn: str,
    timeout_s: float,
    poll_s: float = 10.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Stopped:
    """Poll the task until it stops; :class:`ManualRunError` (exit 3) when ``timeout_s`` passes first."""
    deadline = clock() + timeout_s
    while True:
        described = ecs.describe_tasks(cluster=cluster, tasks=[task_arn]).get("tasks", [])
        if described and described[0].get("lastStatus") == "STOPPED":
            return stopped(described[0])
        if clock() >= deadline:
            status = described[0].get("lastStatus", "unknown") if described else "not found"
            raise ManualRunError(3, f"the task {task_arn} is still {status} after {timeout_s:.0f} s (not stopped)")
        sleep(poll_s)


def stopped(task: dict[str, Any]) -> Stopped:
    containers = task.get("containers") or [{}]
    code = containers[0].get("exitCode")
    return Stopped(
        task_arn=str(task.get("taskArn", "")),
        last_status=str(task.get("lastStatus", "")),
        exit_code=int(code) if isinstance(code, int) else None,
        stop_code=str(task.get("stopCode", "")),
        reason=str(task.get("stoppedReason", "")),
        started_at=str(task.get("startedAt", "")),
        stopped_at=str(task.get("stoppedAt", "")),
    )


def log_stream(container: dict[str, Any], task_arn: str) -> tuple[str, str] | None:
    """The awslogs group and stream of the task's container (``prefix/container/task id``).

    >>> log_stream({"name": "report", "logConfiguration": {"logDriver": "awslogs", "options": {
    ...     "awslogs-group": "/ecs/r", "awslogs-stream-prefix": "report"}}}, "arn:aws:ecs:r:1:task/c/abc")
    ('/ecs/r', 'report/report/abc')
    """
    config = container.get("logConfiguration") or {}
    options = config.get("options") or {}
    if config.get("logDriver") != "awslogs" or "awslogs-group" not in options:
        return None
    task_id = task_arn.rsplit("/", 1)[-1]
    prefix = options.get("awslogs-stream-prefix")
    stream = f"{prefix}/{container['name']}/{task_id}" if prefix else task_id
    return str(options["awslogs-group"]), stream


def log_tail(logs: Any, where: tuple[str, str] | None, lines: int = LOG_LINES) -> list[str]:
    """The last ``lines`` messages of the task's log stream (none when it has none yet)."""
    if where is None:
        return []
    group, stream = where
    try:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=lines, startFromHead=False)
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [str(e.get("message", "")).rstrip("\n") for e in events.get("events", [])][-lines:]


def outcome_code(result: Stopped) -> int:
    """The CLI's exit code: the task's own when it ran (0 written, 4 partial, ...), 1 when it never did."""
    if result.exit_code is not None:
        return result.exit_code
    return 1
