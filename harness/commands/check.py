"""`python -m harness check`: compare trial records with a reference file; exit 1 on drift."""

import argparse
from pathlib import Path

from harness.check import (Tolerances, compare, format_drifts, load_reference, reference_from_records,
                           write_reference)
from harness.tables import load_records


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="compare trial records with a reference file metric by metric; exit 1 on drift",
        description=__doc__)
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="results folder holding trials/<trial_id>.json (default: results)")
    parser.add_argument("--reference", type=Path, required=True, help="reference JSON file (docs/reports.md)")
    parser.add_argument("--update", action="store_true",
                        help="rewrite the reference from the results (keeping its tolerances) instead of failing")


def main(args: argparse.Namespace) -> int:
    records = load_records(args.results)
    if args.update and not args.reference.exists():
        reference = None
    else:
        reference = load_reference(args.reference)
    if reference is not None:
        comparison = compare(reference, records)
        if comparison.drifts:
            trials = len({drift.trial_id for drift in comparison.drifts})
            print(f"drift: {len(comparison.drifts)} value(s) in {trials} of {comparison.trials} reference trial(s) "
                  f"differ from {args.reference} beyond tolerance")
            print(format_drifts(comparison.drifts))
        else:
            print(f"no drift: {comparison.compared} value(s) in {comparison.trials} trial(s) within tolerance of "
                  f"{args.reference}")
        if comparison.unreferenced:
            print(f"{len(comparison.unreferenced)} trial(s) in the results are not in the reference: "
                  f"{', '.join(comparison.unreferenced)}" + ("" if args.update else " (add them with --update)"))
        if not args.update:
            return 1 if comparison.drifts else 0
    tolerances = reference.tolerances if reference is not None else Tolerances()
    updated = reference_from_records(records, tolerances)
    write_reference(args.reference, updated)
    print(f"updated {args.reference}: {len(updated.trials)} trial(s)")
    return 0
