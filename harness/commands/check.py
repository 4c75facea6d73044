"""`python -m harness check`: compare trial records with a reference file; exit 1 on drift."""

import argparse
from pathlib import Path

from harness import outputs
from harness.errors import UserError
from harness.records import TrialRecord, load_records
from harness.reporting.check import (Tolerances, compare, environment_differences, format_drifts, load_reference,
                                     made_with, reference_from_records, write_reference)
from harness.results_layout import ResultsLayout


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="compare trial records with a reference file metric by metric; exit 1 on drift",
        description=__doc__)
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="results folder holding trials/<trial_id>.json (default: results)")
    parser.add_argument("--reference", type=Path, required=True, help="reference JSON file (docs/reports.md)")
    parser.add_argument("--update", action="store_true",
                        help="rewrite the reference from the results (keeping its tolerances) instead of failing")
    parser.add_argument("--prune", action="store_true",
                        help="with --update: drop reference trials that the results lack (refused otherwise)")


def main(args: argparse.Namespace) -> int:
    if args.prune and not args.update:
        raise UserError("--prune only goes with --update")
    if args.update:
        outputs.check_output_file(args.reference, "--reference")
        layout = ResultsLayout(args.results)
        outputs.check_apart(args.reference, "--reference", {}, {"records folder": layout.trials,
                                                                 "visuals folder": layout.visuals})
    records = _finished_records(args.results)
    reference = None if args.update and not args.reference.exists() else load_reference(args.reference)
    if args.update:
        return _update(args, records, reference)
    comparison = compare(reference, records)
    if comparison.compared == 0 and not any(drift.lookalike for drift in comparison.drifts):
        raise UserError(f"the results in {args.results} share no trial with the reference {args.reference} "
                        f"({comparison.trials} trials): wrong folder or reference?")
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
              f"{', '.join(comparison.unreferenced)} (add them with --update)")
    elsewhere = environment_differences(reference.made_with, made_with(records))
    if elsewhere:
        print(f"note: {elsewhere}")
    return 1 if comparison.drifts else 0


def _update(args: argparse.Namespace, records: list[TrialRecord], reference) -> int:
    """Rewrite the reference from every record, never dropping a reference trial unless --prune says so."""
    dropped = sorted(set(reference.trials) - {record.trial_id for record in records}) if reference else []
    if dropped and not args.prune:
        raise UserError(f"--update would drop {len(dropped)} of the {len(reference.trials)} trials of "
                        f"{args.reference} that {args.results} lacks (first: {dropped[0]}); run them, or add "
                        "--prune to drop them")
    tolerances = reference.tolerances if reference is not None else Tolerances()
    updated = reference_from_records(records, tolerances)
    write_reference(args.reference, updated)
    print(f"updated {args.reference}: {len(updated.trials)} trial(s)"
          + (f", {len(dropped)} dropped" if dropped else ""))
    return 0


def _finished_records(results: Path) -> list[TrialRecord]:
    """Every record of `results`; an empty folder, or a record that is not finished, is a UserError."""
    records = load_records(results)
    trials = ResultsLayout(results).trials
    if not records:
        raise UserError(f"results folder {results} holds no finished trial records ({trials}/*.json)")
    files = sorted(trials.glob("*.json"))
    if len(files) != len(records):
        finished = {record.path for record in records}
        unfinished = [path.name for path in files if path not in finished]
        raise UserError(f"results folder {results} holds {len(unfinished)} unfinished trial record(s) "
                        f"({', '.join(unfinished[:3])}); finish or delete them first")
    return records
