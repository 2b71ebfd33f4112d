"""``console``: the review console in the browser."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from claimwatch.cli.common import Subparsers

EXAMPLES: dict[str, str] = {}


def register(sub: Subparsers) -> None:
    """The review console."""
    p = sub.add_parser(
        "console",
        help="the review console: live alerts, the review queue, dispute risk, reports and data quality",
        description="Serves the rights team's pages: Now (alerts as they fire), the review queue (acknowledge, "
        "assign, resolve, snooze; kept on the reviews topic), dispute risk, the weekly reports and the "
        "quarantine. Local use binds 127.0.0.1 without sign-in; in production set CLAIMWATCH_CONSOLE_ALB_ARN "
        "and serve it behind the load balancer's OIDC sign-in. Example: claimwatch console --from-dir "
        "claimwatch-out --port 8080",
    )
    p.add_argument("--from-dir", help="an embedded run's output folder instead of Kafka (no broker needed)")
    p.add_argument("--reports", help="where the weekly reports are: folder or s3://bucket/prefix (Kafka mode)")
    p.add_argument("--port", type=int, help="port (default: CLAIMWATCH_CONSOLE_PORT)")
    p.add_argument("--bind", help="address (default: CLAIMWATCH_CONSOLE_BIND, 127.0.0.1)")
    p.add_argument(
        "--no-sign-in",
        action="store_true",
        help="serve without sign-in on an address other than loopback: only where the network is the host's own "
        "(a container whose port is published on the host's 127.0.0.1, as docker-compose.yml does)",
    )
    p.set_defaults(func=cmd_console)


def cmd_console(args: argparse.Namespace) -> int:
    import asyncio

    from claimwatch.config import environment
    from claimwatch.console.data import FolderSource, KafkaSource, Source
    from claimwatch.console.server import Console, ConsoleConfig, serve
    from claimwatch.logs import setup as setup_logs

    env = environment()
    setup_logs()
    bind = args.bind or env.claimwatch_console_bind
    port = env.claimwatch_console_port if args.port is None else args.port
    if not 0 < port < 65536:
        raise ValueError(f"--port {port}: give 1 to 65535")
    signer = env.claimwatch_console_alb_arn
    if bind not in ("127.0.0.1", "localhost", "::1") and not signer and not args.no_sign_in:
        raise ValueError(
            f"--bind {bind}: a console reachable from other machines needs sign-in (CLAIMWATCH_CONSOLE_ALB_ARN), "
            "or --no-sign-in where only this host can reach it"
        )
    source: Source
    if args.from_dir:
        folder = Path(args.from_dir)
        if not folder.is_dir():
            raise FileNotFoundError(f"--from-dir {folder}: no such folder")
        if not (folder / "alerts.jsonl").is_file():
            raise ValueError(f"--from-dir {folder}: no alerts.jsonl (give the folder of `claimwatch run --out`)")
        source = FolderSource(folder)
    else:
        from stream.generations import for_readers
        from stream.settings import Settings

        source = KafkaSource(for_readers(Settings()), args.reports or env.claimwatch_console_reports)
    region = signer.split(":")[3] if signer.count(":") >= 5 else ""
    impacts = Path(env.claimwatch_console_impacts) if env.claimwatch_console_impacts else None
    config = ConsoleConfig(
        alb_signer=signer, alb_region=region, alb_keys_url=env.claimwatch_console_alb_keys_url, impacts=impacts
    )
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops it: not an error
        asyncio.run(serve(Console(source, config), bind, port))
    return 0
