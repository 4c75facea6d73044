"""`python -m harness export --results DIR --format csv|markdown|json [--out FILE]`: every trial record as one tidy
table (a row per trial x evaluation set x protocol: PSNR, SSIM, parameters, MACs, the paper's value and the
difference), with the measurement conventions: in the header of Markdown and JSON, and for CSV (which stays plain
header and rows, for pandas and spreadsheets) in a sidecar JSON file beside it, `<name>.conventions.json`, or where
`--conventions FILE` says. Reads the trial records only."""

import argparse
import datetime
import json
import sys
from pathlib import Path

from harness import outputs, records
from harness.atomic import write_text_atomic
from harness.errors import UserError
from harness.reporting import export
from harness.results_layout import ResultsLayout


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(name, help="trial records as one tidy CSV, Markdown or JSON table",
                                   description=__doc__)
    parser.add_argument("--results", type=Path, default=Path("results"), help="results folder (default: results)")
    parser.add_argument("--format", choices=export.FORMATS, default="csv", help="output format (default: csv)")
    parser.add_argument("--out", type=Path, help="file to write (default: standard output); a CSV gets its "
                        "conventions beside it, in <name>.conventions.json")
    parser.add_argument("--conventions", type=Path, metavar="FILE",
                        help="CSV only: write the conventions (JSON) to FILE instead of beside --out")


def main(args: argparse.Namespace) -> int:
    layout = ResultsLayout(args.results)
    for out, what in ((args.out, "--out"), (args.conventions, "--conventions")):
        if out is not None:
            outputs.check_output_file(out, what)
            outputs.check_apart(out, what, {}, {"records folder": layout.trials, "visuals folder": layout.visuals})
    trial_records = records.load_records(args.results)
    if not trial_records:
        raise UserError(f"no trial records in {ResultsLayout(args.results).trials}: run a spec first")
    rows = export.tidy_rows(trial_records)
    header = {"title": "mren-harness trial results", "results": str(args.results), "rows": len(rows),
              "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "conventions": export.conventions(trial_records), "columns": export.COLUMNS}
    if args.conventions is not None and args.format != "csv":
        raise UserError(f"--conventions is for CSV; {args.format} carries its conventions in its header")
    text = export.render(rows, header, args.format)
    sidecar = args.conventions
    if sidecar is None and args.format == "csv" and args.out is not None:
        sidecar = export.conventions_sidecar(args.out)
    if sidecar is not None:
        data = args.out.name if args.out is not None else None
        write_text_atomic(sidecar, json.dumps({**header, "data": data}, indent=2, allow_nan=False) + "\n")
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_text_atomic(args.out, text)
        print(f"wrote {len(rows)} rows to {args.out}", file=sys.stderr)
    if sidecar is not None:
        print(f"wrote its conventions to {sidecar}", file=sys.stderr)
    elif args.format == "csv":
        print("the conventions were not written: give --out FILE.csv (they go beside it) or --conventions FILE",
              file=sys.stderr)
    return 0
