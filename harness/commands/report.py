"""`python -m harness report`: the reproduction report (HTML page and LaTeX tables) from trial records."""

import argparse
from pathlib import Path

from harness import outputs
from harness.inputs import input_folder
from harness.reporting.report import build_report, write_report
from harness.results_layout import ResultsLayout


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(name, help="render the reproduction report (HTML + LaTeX) from trial records",
                                   description=__doc__)
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="results folder holding trials/<trial_id>.json (default: results)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: <results>/report)")


def main(args: argparse.Namespace) -> int:
    out = args.out or ResultsLayout(args.results).report
    input_folder(args.results, "results folder")
    outputs.check_output_folder(out, "report --out")  # before the figures take their time
    layout = ResultsLayout(args.results)
    outputs.check_apart(out, "report --out", {"--results": args.results},
                        {"records folder": layout.trials, "visuals folder": layout.visuals})
    for part in ("figures", "latex"):
        if (out / part).exists() or (out / part).is_symlink():
            outputs.check_output_folder(out / part, f"report --out {out}: its")
    report = build_report(args.results)
    written = write_report(report, out)
    print(f"wrote {out / 'report.html'}, {sum(path.suffix == '.png' for path in written)} figures and "
          f"{sum(path.suffix == '.tex' for path in written)} LaTeX tables under {out}")
    return 0
