"""`python -m harness complexity` (not implemented yet)."""

import argparse


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    subparsers.add_parser(name, help="not implemented yet")


def main(args: argparse.Namespace) -> int:
    raise NotImplementedError("complexity")
