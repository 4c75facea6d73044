"""`python -m harness <command>`: one module per command under harness/commands/."""

import argparse
import sys

from harness.commands import check, complexity, degrade, evaluate, export, list_things, report, run, status
from harness.errors import UserError

COMMANDS = {
    "eval": evaluate,
    "degrade": degrade,
    "complexity": complexity,
    "run": run,
    "report": report,
    "check": check,
    "status": status,
    "export": export,
    "list": list_things,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, module in COMMANDS.items():
        module.add_parser(subparsers, name)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command].main(args)
    except UserError as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)  # one line, whatever the message held
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
