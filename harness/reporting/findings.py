"""Findings: what a reader of the report must know, each with a severity, a rule name and its instances.

The rules over the paper alone are in consistency.py; the rules over the reproduction (tables beside the paper) are
here.
"""

from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from harness.conventions import METRIC_COLUMNS
from harness.published.paper import table_title
from harness.reporting.numbers import format_diff, format_number, format_precise, format_shown
from harness.reporting.tables import EXACT_AUTHORS, EXACT_PRIMARY, ReproductionTable, long_form
from harness.reporting.tolerance import MISMATCH_TOLERANCE

# contradiction: the paper disagrees with itself; mismatch: a number does not reproduce;
# suspect: a number is implausible; note: context the reader needs.
Severity = Literal["contradiction", "mismatch", "suspect", "note"]


@dataclass(frozen=True)
class Finding:
    severity: Severity
    rule: str
    title: str
    detail: str
    items: tuple[str, ...] = ()  # the instances, one line each
    # About PSNR/SSIM of models trained below the paper's budget (a smoke run): shown apart from the findings that
    # hold at any budget (parameters, MACs, released weights, the paper itself), and never counted with them.
    budget_limited: bool = False

MAX_LISTED = 10  # misses listed per table in the findings


@dataclass(frozen=True)
class TableSummary:
    name: str
    paper_rows: int
    reproduced_rows: int
    compared: int  # reproduced numbers the paper also prints that hold at any training budget (or at the paper's)
    missed: int  # of those, beyond tolerance
    limited_compared: int  # PSNR/SSIM of models trained below the paper's budget, compared with the paper's
    limited_missed: int  # of those, beyond tolerance: expected at such a budget
    largest_psnr_miss: str  # where the PSNR is furthest from the paper, in words


def _limited(cells: pd.DataFrame) -> pd.Series:
    return cells["budget_limited"].fillna(0) > 0


def summarize(tables: dict[str, ReproductionTable]) -> list[TableSummary]:
    cells = long_form(tables)
    summaries = []
    for name, table in tables.items():
        part = cells[(cells["table"] == name) & cells["reproduced"].notna() & cells["paper"].notna()]
        limited = _limited(part)
        missed = part["miss_ratio"] > 1
        psnr = part[part["column"] == "psnr_y"]
        if (~limited[psnr.index]).any():  # a difference that holds at any budget says more than a smoke run's
            psnr = psnr[~limited[psnr.index]]
        largest = ""
        if len(psnr):
            worst = psnr.loc[psnr["diff"].abs().idxmax()]
            where = f"×{int(worst['scale'])} " if table.spec.rows_by_scale else ""
            budget = ", reduced training budget" if worst["budget_limited"] > 0 else ""
            largest = f"{format_diff('psnr_y', worst['diff'])} dB ({where}{worst['row']}, {worst['label']}{budget})"
        statuses = table.rows["status"]
        summaries.append(TableSummary(name=name, paper_rows=int((statuses != "not in paper").sum()),
                                      reproduced_rows=int((statuses == "reproduced").sum()),
                                      compared=int((~limited).sum()), missed=int((missed & ~limited).sum()),
                                      limited_compared=int(limited.sum()), limited_missed=int((missed & limited).sum()),
                                      largest_psnr_miss=largest))
    return summaries


def reproduction_findings(tables: dict[str, ReproductionTable]) -> list[Finding]:
    """Per table: which reproduced numbers miss the paper's, and by how much; whether ablation effects survive the
    seed-to-seed spread."""
    cells = long_form(tables)
    findings = []
    compared = cells[cells["reproduced"].notna() & cells["paper"].notna()]
    for name, table_cells in compared.groupby("table", sort=False):
        limited = _limited(table_cells)
        findings += _miss_findings(name, table_cells[~limited], budget_limited=False)
        findings += _miss_findings(name, table_cells[limited], budget_limited=True)
    findings.extend(protocol_findings(cells))
    ablations = cells[(cells["kind"] == "ablation") & cells["spread"].notna() & cells["paper_delta_ref"].notna()]
    for cell in ablations.itertuples():
        if cell.paper_delta_ref == 0 and cell.delta_ref == 0:
            continue
        within = abs(cell.paper_delta_ref) <= cell.spread
        opposite = cell.delta_ref * cell.paper_delta_ref < 0
        if within or opposite or cell.beyond_spread == 0:
            unit = " dB" if cell.column == "psnr_y" else ""
            effect = ("the paper's effect is within the seed-to-seed spread" if within else
                      "the reproduced effect has the opposite sign" if opposite else
                      "the reproduced effect is within the seed-to-seed spread")
            findings.append(Finding(
                "note", "ablation-within-noise",
                f"{table_title(cell.table)} {cell.row} vs the full model, {cell.label}: {effect}",
                f"Paper: {cell.paper_delta_ref:+.4g}{unit}; reproduced: {cell.delta_ref:+.4g}{unit} "
                f"(seed-to-seed spread of a difference {cell.spread:.4g}{unit}).",
                budget_limited=bool(cell.budget_limited > 0)))
    return findings


def _miss_findings(name: str, cells: pd.DataFrame, *, budget_limited: bool) -> list[Finding]:
    """One finding for `cells` of table `name`: which miss the paper's numbers, largest first, or that none does."""
    if not len(cells):
        return []
    what = "PSNR/SSIM numbers of models trained below the paper's budget" if budget_limited else "reproduced numbers"
    misses = sorted(((cell.miss_ratio, cell) for cell in cells.itertuples() if cell.miss_ratio > 1),
                    key=lambda item: -item[0])
    if not misses:
        return [Finding("note", "reproduces", f"{table_title(name)}: all {len(cells)} {what} match the paper within "
                        "tolerance", _tolerance_text(), budget_limited=budget_limited)]
    items = tuple(_describe_miss(cell) for _, cell in misses[:MAX_LISTED])
    if len(misses) > MAX_LISTED:
        items += (f"and {len(misses) - MAX_LISTED} more (see the table)",)
    if budget_limited:  # expected at a smoke budget: context, not a verdict on the paper
        return [Finding("note", "budget-limited", f"{table_title(name)}: {len(misses)} of {len(cells)} {what} miss "
                        "the paper's", "Expected: these models trained for a fraction of the paper's iterations, so "
                        f"their scores test the pipeline, not the paper. {_tolerance_text()}. Largest first:", items,
                        budget_limited=True)]
    return [Finding("mismatch", "does-not-reproduce", f"{table_title(name)}: {len(misses)} of {len(cells)} {what} "
                    "miss the paper's", f"{_tolerance_text()}. Largest first:", items)]


def protocol_findings(cells: pd.DataFrame) -> list[Finding]:
    """Table 5 rows scored under their authors' protocol as well: which cells reproduce exactly under which protocol,
    which under none (and by how much each misses), and the parameter counts that differ from the paper's."""
    table5 = cells[(cells["kind"] == "comparison") & cells["paper"].notna()]
    scored = table5[table5["authors_protocol"].fillna("") != ""]
    findings = []
    if len(scored):
        metric = scored[scored["column"].isin(METRIC_COLUMNS) & scored["exact"].notna()]
        exact = {"common": int((metric["exact"].astype(int) & EXACT_PRIMARY > 0).sum()),
                 "authors": int((metric["exact"].astype(int) & EXACT_AUTHORS > 0).sum())}
        misses = [cell for cell in metric.itertuples() if int(cell.exact) == 0]
        items = tuple(
            f"×{int(cell.scale)} {cell.row} {cell.label}: paper {format_number(cell.column, cell.paper)}, common "
            f"{format_precise(cell.column, cell.reproduced)} "
            f"({format_diff(cell.column, cell.reproduced - cell.paper)}), "
            f"{cell.authors_protocol} {format_precise(cell.column, cell.authors)} "
            f"({format_diff(cell.column, cell.authors - cell.paper)})" for cell in misses)
        findings.append(Finding(
            "mismatch" if misses else "note", "protocol-dependence",
            f"Table 5 from released weights: {len(metric) - len(misses)} of {len(metric)} PSNR/SSIM cells reproduce "
            f"the paper's digits exactly under some protocol ({exact['common']} under common, {exact['authors']} "
            "under the authors' own test script)",
            "Each released-weights row is scored under the common conventions and under its authors' protocol "
            "(docs/protocols.md). Cells that reproduce under neither:" if misses else
            "Every compared cell reproduces under at least one protocol.", items))
    params = table5[(table5["column"] == "params") & table5["reproduced"].notna() & table5["released_weights"]]
    wrong = [cell for cell in params.itertuples()
             if cell.miss_ratio > 1]
    if wrong:
        findings.append(Finding(
            "mismatch", "parameter-count",
            "Table 5 parameter counts that the released weights contradict",
            "Counted element by element in the authors' released files:",
            tuple(f"×{int(cell.scale)} {cell.row}: {int(cell.reproduced):,} in the released weights, the paper prints "
                  f"{format_number('params', cell.paper)}" for cell in wrong)))
    return findings


def _describe_miss(cell: Any) -> str:
    where = f"×{int(cell.scale)} " if cell.scale == cell.scale and cell.scale is not None else ""
    seeds = f" ±{format_diff(cell.column, cell.std).lstrip('+')}" if cell.std == cell.std else ""
    return (f"{where}{cell.row} {cell.label}: reproduced {format_shown(cell.column, cell.reproduced)}{seeds}, paper "
            f"{format_number(cell.column, cell.paper)} ({format_diff(cell.column, cell.diff)}; {cell.group})")


def _tolerance_text() -> str:
    return (f"Tolerance: PSNR {MISMATCH_TOLERANCE['psnr_y']} dB, SSIM {MISMATCH_TOLERANCE['ssim_y']}, parameters "
            f"±{MISMATCH_TOLERANCE['params']} (printed in K), MACs {MISMATCH_TOLERANCE['macs']:.0%}, or twice the "
            "seed-to-seed standard deviation where larger")
