"""One tidy table of every trial record: a row per trial x evaluation set x protocol, for spreadsheets and pandas.

Each row carries the trial's identity (id, model, scale, seed, profile, the table rows it feeds), the scores, the
parameters and MACs, and, where the trial is what a paper table row shows (harness/reporting/tables.py), the
paper's printed value and the difference. The measurement conventions go in a header (CSV comment lines, a Markdown
preamble, a JSON metadata object): they are the same for every row, or the header says which rows differ.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
import math
from typing import Any

from harness.conventions import METRIC_COLUMNS, PAPER_MACS_INPUT
from harness.published.paper import load_paper
from harness.records import TrialRecord, trial_label
from harness.reporting.tables import build_tables, long_form

FORMATS = ("csv", "markdown", "json")
COLUMNS = {
    "trial_id": "the trial's id: its record is <results>/trials/<trial_id>.json",
    "model": "registered model name",
    "label": "the trial's readable name (model, scale, settings that differ from the defaults, profile, seed)",
    "scale": "upscaling factor",
    "seed": "training seed",
    "profile": "training profile (empty for trials that train nothing)",
    "iterations": "training iterations (empty for trials that train nothing)",
    "feeds": "the paper table rows this trial feeds, table:row separated by '; '",
    "set": "evaluation set (empty for complexity-only trials)",
    "protocol": "evaluation protocol the scores are under (docs/protocols.md)",
    "psnr_y": "PSNR on Y, dB, mean over the set's images",
    "ssim_y": "SSIM on Y, mean over the set's images",
    "params": "learned parameters",
    "macs": f"multiply-accumulates (fvcore, one fused multiply-add = 1) for one {PAPER_MACS_INPUT}",
    "paper_row": "the table row whose paper value is compared (table:row), where the trial is what that row shows",
    "paper_psnr_y": "the paper's printed PSNR for paper_row and this set",
    "paper_ssim_y": "the paper's printed SSIM for paper_row and this set",
    "diff_psnr_y": "psnr_y - paper_psnr_y",
    "diff_ssim_y": "ssim_y - paper_ssim_y",
}


def tidy_rows(records: list[TrialRecord]) -> list[dict[str, Any]]:
    paper_values = _paper_values(records)
    rows = []
    for record in records:
        config = record.config
        common = {"trial_id": record.trial_id, "model": config.model, "label": trial_label(config.to_json()),
                  "scale": config.scale, "seed": config.seed, "profile": config.profile,
                  "iterations": record.training.iterations if record.training else None,
                  "feeds": "; ".join(f"{feed.table}:{feed.row}" for feed in record.feeds)}
        sizes = {"params": record.params, "macs": record.macs}
        if not record.metrics:
            rows.append({**common, "set": None, "protocol": None, "psnr_y": None, "ssim_y": None, **sizes,
                         **_paper_cells(None, None, None)})
        for name, evaluation in record.metrics.items():
            for scored in (evaluation, *evaluation.protocols.values()):
                paper = paper_values.get((record.trial_id, name))
                rows.append({**common, "set": name, "protocol": scored.protocol, "psnr_y": scored.psnr_y,
                             "ssim_y": scored.ssim_y, **sizes, **_paper_cells(paper, scored.psnr_y, scored.ssim_y)})
    return rows


def _paper_cells(paper: tuple[str, float | None, float | None] | None, psnr: float | None,
                 ssim: float | None) -> dict[str, Any]:
    if paper is None:
        return {"paper_row": None, "paper_psnr_y": None, "paper_ssim_y": None, "diff_psnr_y": None,
                "diff_ssim_y": None}
    row, paper_psnr, paper_ssim = paper
    return {"paper_row": row, "paper_psnr_y": paper_psnr, "paper_ssim_y": paper_ssim,
            "diff_psnr_y": None if paper_psnr is None or psnr is None else psnr - paper_psnr,
            "diff_ssim_y": None if paper_ssim is None or ssim is None else ssim - paper_ssim}


def _paper_values(records: list[TrialRecord]) -> dict[tuple[str, str], tuple[str, float | None, float | None]]:
    """(trial id, set) -> (table:row, paper PSNR, paper SSIM), from the first table row that shows the trial and prints
    a value for that set."""
    tables = build_tables(load_paper(), records)
    cells = long_form(tables)
    found: dict[tuple[str, str], tuple[str, float | None, float | None]] = {}
    for name, table in tables.items():
        for row_id in table.rows.index:
            scale, row = row_id if table.spec.rows_by_scale else (None, row_id)
            mine = cells[(cells["table"] == name) & (cells["row"] == row)]
            if table.spec.rows_by_scale:
                mine = mine[mine["scale"] == scale]
            for dataset in {value for value in mine["dataset"] if isinstance(value, str)}:
                values = {}
                for column in METRIC_COLUMNS:
                    cell = mine[(mine["dataset"] == dataset) & (mine["column"] == column)]
                    value = float(cell["paper"].iloc[0]) if len(cell) else math.nan
                    values[column] = None if math.isnan(value) else value
                if values["psnr_y"] is None and values["ssim_y"] is None:
                    continue
                for trial_id in table.rows.loc[row_id, "trials"]:
                    found.setdefault((trial_id, dataset), (f"{name}:{row}", values["psnr_y"], values["ssim_y"]))
    return found


def conventions(records: list[TrialRecord]) -> dict[str, Any]:
    """The measurement conventions of every evaluation; a key whose value differs between rows says so."""
    seen: dict[str, set[str]] = {}
    values: dict[str, Any] = {}
    for record in records:
        for evaluation in record.metrics.values():
            for scored in (evaluation, *evaluation.protocols.values()):
                for key, value in scored.conventions.items():
                    seen.setdefault(key, set()).add(json.dumps(value, sort_keys=True))
                    values[key] = value
    merged = {key: values[key] if len(seen[key]) == 1 else "varies between rows (see each record)" for key in seen}
    merged["macs"] = COLUMNS["macs"]
    return merged


def render(rows: list[dict[str, Any]], header: dict[str, Any], form: str) -> str:
    if form == "json":
        return json.dumps({"metadata": header, "rows": rows}, indent=2, allow_nan=False) + "\n"
    if form == "csv":
        # Header and rows only: `pandas.read_csv(path)` and spreadsheets open it as written. Its conventions go into a
        # sidecar file beside it (conventions_sidecar), never into comment lines that readers take for data.
        output = io.StringIO()
        writer = csv.DictWriter(output, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows({key: "" if value is None else value for key, value in row.items()} for row in rows)
        return output.getvalue()
    lines = _header_lines(header)
    table = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    table += ["| " + " | ".join(_markdown_cell(row[key]) for key in COLUMNS) + " |" for row in rows]
    return "\n".join([f"> {line}" if line else ">" for line in lines] + ["", *table]) + "\n"


def conventions_sidecar(csv_path: Path) -> Path:
    """Where a CSV export's conventions go: `table.csv` -> `table.conventions.json`, beside it."""
    return csv_path.with_name(f"{csv_path.stem}.conventions.json")


def _header_lines(header: dict[str, Any]) -> list[str]:
    lines = [f"{header['title']} ({header['rows']} rows, from {header['results']})", "", "Conventions:"]
    lines += [f"- {key}: {value}" for key, value in header["conventions"].items()]
    lines += ["", "Columns:"] + [f"- {key}: {text}" for key, text in header["columns"].items()]
    return lines


def _markdown_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1 else f"{value:.2f}"
    return str(value).replace("|", "\\|")
