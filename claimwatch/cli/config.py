"""``config show`` (every setting in effect) and ``schemas export`` (the contracts as JSON Schema)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from claimwatch.cli.common import Subparsers
from claimwatch.textsafe import safe_text

EXAMPLES = {
    "config": "claimwatch config show --json",
    "config show": "claimwatch config show --json",
    "schemas": "claimwatch schemas export schemas-out/",
    "schemas export": "claimwatch schemas export schemas-out/",
}


def register(sub: Subparsers) -> None:
    """Settings and contracts."""
    p = sub.add_parser("config", help="settings: every environment variable, its value in effect and meaning")
    config_sub = p.add_subparsers(dest="action", required=True)
    c = config_sub.add_parser(
        "show",
        help="each variable with its value (secrets masked), whether set or default, and what it does",
        description="Checks every setting first: a bad value is one line naming the variable (exit 2).",
    )
    c.add_argument("--json", action="store_true", help="one JSON array instead of the table")
    c.set_defaults(func=cmd_config_show)

    p = sub.add_parser("schemas", help="JSON Schemas of every event, the alert and the report")
    schema_sub = p.add_subparsers(dest="action", required=True)
    e = schema_sub.add_parser("export")
    e.add_argument("dir")
    e.set_defaults(func=cmd_schemas_export)


def cmd_config_show(args: argparse.Namespace) -> int:
    from claimwatch import config

    config.check()  # a bad value: one line naming the variable (exit 2)
    rows = config.rows()
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print(f"{r['name']:{width}}  {safe_text(str(r['value']), 60):30}  {r['from']:11}  {r['doc']}")
    return 0


def cmd_schemas_export(args: argparse.Namespace) -> int:
    from schemas import export_json_schemas

    if Path(args.dir).exists() and not Path(args.dir).is_dir():
        raise ValueError(f"{args.dir} is a file: schemas are written into a folder, one file per schema")
    for path in export_json_schemas(Path(args.dir)):
        print(path)
    return 0
