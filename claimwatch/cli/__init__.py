"""``claimwatch``: one command line for every job.

One module per command group, each parser beside its handler; handlers read arguments, call the
package that does the work and print. :func:`main` turns every expected failure into one line and
an exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from claimwatch.cli import (
    alerts,
    collect,
    config,
    console,
    generations,
    ops,
    pipeline,
    quarantine,
    run,
    scoring,
    weekly,
)
from claimwatch.cli.common import EXIT_UNAVAILABLE, EXIT_USAGE, stdout_to_devnull
from claimwatch.sample import BUNDLED_SAMPLE
from claimwatch.textsafe import format_alert

__all__ = ["BUNDLED_SAMPLE", "EXAMPLES", "build_parser", "format_alert", "main"]

# In the order `claimwatch --help` lists them: what people run most first.
GROUPS = (run, pipeline, collect, alerts, quarantine, generations, weekly, console, ops, config, scoring)

# One example per command whose description does not give one already; every `--help` shows one
# (tests/test_cli.py holds every command to it).
EXAMPLES: dict[str, str] = {name: text for group in GROUPS for name, text in group.EXAMPLES.items()}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("claimwatch")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def add_examples(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> None:
    """Give each command's help its example from :data:`EXAMPLES`, where its text has none."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                command = (*path, name)
                shown = f"{child.description or ''} {child.epilog or ''}"
                example = EXAMPLES.get(" ".join(command))
                if example and "Example" not in shown:
                    child.epilog = f"Example: {example}" + (f"\n\n{child.epilog}" if child.epilog else "")
                add_examples(child, command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="claimwatch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"claimwatch {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    add_examples(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Every expected failure is one line on stderr and an exit code: 2 for wrong input or settings,
    3 when a service (the broker) is unavailable; never a traceback."""
    args = build_parser().parse_args(argv)
    if args.command != "worker":
        import logging

        # One-shot commands: an unreachable broker is their one-line error below, not aiokafka's log.
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
        logging.getLogger("claimwatch.librdkafka").setLevel(logging.CRITICAL)  # replay's reader
    from aiokafka.errors import KafkaError

    from batch.job import JobError
    from stream.kafka_io import IncompleteRead

    try:
        return int(args.func(args))
    except JobError as exc:
        print(f"claimwatch: error: {exc}", file=sys.stderr)
        return exc.code
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, FileExistsError, ValueError) as exc:
        print(f"claimwatch: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader of our output closed it (`| head`): not an error, not Kafka's
        stdout_to_devnull()
        return 0
    except (KafkaError, IncompleteRead, ConnectionError, TimeoutError) as exc:
        print(f"claimwatch: error: Kafka unavailable: {kafka_problem(exc)}"[:500], file=sys.stderr)
        return EXIT_UNAVAILABLE
    except OSError as exc:  # a disk, a permission, a path: one line, not a traceback
        print(f"claimwatch: error: {type(exc).__name__}: {exc}"[:500], file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("claimwatch: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        aws = aws_problem(exc)
        if aws is None:
            raise
        print(f"claimwatch: error: {aws[1]}"[:500], file=sys.stderr)
        return aws[0]


def kafka_problem(exc: BaseException) -> str:
    """The client's error, or what lies under it when that is TLS (an untrusted certificate reads as
    "Unable to bootstrap" otherwise)."""
    from stream.kafka_io import tls_problem
    from stream.settings import Settings

    try:
        under = tls_problem(Settings())
    except ValueError:
        under = None
    return under or f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def aws_problem(exc: BaseException) -> tuple[int, str] | None:
    """(exit code, one line) for an error of boto3's, None for anything else. botocore is imported
    only by the commands that use AWS: if it is not loaded, the error cannot be one of its."""
    botocore = sys.modules.get("botocore.exceptions")
    if botocore is None:
        return None
    text = " ".join(str(exc).split())
    if isinstance(exc, botocore.NoRegionError | botocore.NoCredentialsError | botocore.PartialCredentialsError):
        return EXIT_USAGE, f"AWS is not configured: {text} (AWS_REGION, credentials: see `claimwatch config show`)"
    if isinstance(exc, botocore.BotoCoreError | botocore.ClientError):
        return EXIT_UNAVAILABLE, f"AWS unavailable: {type(exc).__name__}: {text}"
    return None
