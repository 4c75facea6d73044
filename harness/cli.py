"""`python -m harness <command>`: one module per command under harness/commands/."""

import argparse
import signal
import sys
from types import FrameType
from typing import Any

from harness.commands import check, complexity, degrade, evaluate, export, list_things, report, run, status
from harness.errors import UserError
from harness.inputs import os_error_line

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
    # SIGTERM (a scheduler's or `kill`'s stop) ends a command as Ctrl-C does: cleanup runs, finished work is kept,
    # exit status 130. Only the main thread may set handlers (an in-process caller on another thread keeps its own).
    previous = _terminate_as_interrupt()
    try:
        return COMMANDS[args.command].main(args)
    except UserError as error:
        return _error_line(str(error))
    except BrokenPipeError:
        raise  # the reader went away: harness/__main__.py ends quietly with 141
    except OSError as error:
        # A file-system error no check foresaw (a file made unreadable, a disk filling up mid-command) is still the
        # user's environment, not a bug: one line naming the file and what went wrong (harness/inputs.py).
        return _error_line(os_error_line(error))
    except MemoryError:
        return _error_line("out of memory: this command needs more memory than this machine could give it")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _error_line(message: str) -> int:
    try:
        print(f"error: {' '.join(message.split())}", file=sys.stderr)  # one line, whatever the message held
        sys.stderr.flush()
    except OSError:
        pass  # standard error itself cannot be written (a full disk behind 2>file): the exit status still says it
    return 2


def _terminate_as_interrupt() -> Any:
    try:
        return signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    except ValueError:  # not the main thread
        return None


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
