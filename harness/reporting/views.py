"""The paper's tables, conventions and environments as display rows: what the HTML page and the LaTeX tables show."""

import collections
from dataclasses import dataclass

import numpy as np

from harness.reporting.numbers import format_diff, format_number, format_value
from harness.records import TrialRecord
from harness.reporting.tables import EXACT_AUTHORS, EXACT_PRIMARY, ReproductionTable


SEVERITY_ORDER = ("contradiction", "mismatch", "suspect", "note")
COLUMN_SHORT = {"psnr_y": "PSNR", "ssim_y": "SSIM", "params": "Params", "macs": "Flops"}


# --- the tables as display rows, shared by HTML and LaTeX ---------------------------------------------------------

@dataclass(frozen=True)
class CellView:
    text: str
    diff: str = ""
    spread: str = ""  # ± over seeds
    vs_reference: str = ""  # ablations: difference from the full model, reproduced and paper
    verdict: str = ""  # "ok" | "off" | "" : the difference within / beyond tolerance
    protocols: str = ""  # Table 5: the value under the authors' protocol, and which protocol reproduces exactly


@dataclass(frozen=True)
class RowView:
    key: str
    label: str
    year: str
    status: str
    paper: list[CellView]
    reproduced: list[CellView]
    group: str
    trials: list[str]
    note: str
    scale: int | None


@dataclass(frozen=True)
class TableView:
    name: str
    number: str
    title: str
    row_header: str
    headers: list[str]
    has_year: bool
    rows_by_scale: bool  # rows repeat per scale: one LaTeX float per scale
    scale_note: str
    reference_row: str | None
    rows: list[RowView]
    reproduced_rows: int
    datasets: list[str | None]
    metrics: list[str]


def table_view(table: ReproductionTable) -> TableView:
    spec = table.spec
    rows = []
    for row_id in table.frame.index:
        info = table.rows.loc[row_id]
        paper_cells, reproduced_cells = [], []
        for column in spec.columns:
            cell = table.frame.loc[row_id, column.label]
            paper_value = None if np.isnan(cell["paper"]) else cell["paper"]
            in_paper = info["status"] != "not in paper"
            paper_cells.append(CellView(format_number(column.column, paper_value) if in_paper else ""))
            is_reference = row_id == spec.reference_row
            reproduced_cells.append(_reproduced_cell(column.column, cell, spec.kind == "ablation"
                                                     and not is_reference, str(info.get("authors_protocol", ""))))
        rows.append(RowView(key=str(info["key"]), label=str(info["label"]), year=str(info["year"]),
                            status=str(info["status"]), paper=paper_cells, reproduced=reproduced_cells,
                            group=str(info["group"]), trials=list(info["trials"]), note=str(info["note"]),
                            scale=row_id[0] if spec.rows_by_scale else None))
    return TableView(name=table.name, number=str(spec.number), title=spec.title, row_header=spec.row_header,
                     headers=[column.label for column in spec.columns],
                     has_year=any(row.year for row in spec.rows), rows_by_scale=spec.rows_by_scale,
                     scale_note=table.scale_note, reference_row=spec.reference_row, rows=rows,
                     reproduced_rows=sum(row.status != "not run" for row in rows),
                     datasets=[column.dataset for column in spec.columns],
                     metrics=[column.column for column in spec.columns])


def _protocols_text(column: str, cell, authors_protocol: str) -> str:
    """E.g. "above: common; idn-test 37.827; exact under idn-test" (the headline value is the common protocol's)."""
    if not authors_protocol or "authors" not in cell or np.isnan(cell["authors"]):
        return ""
    text = f"above: common; {authors_protocol} {format_value(column, cell['authors'])}"
    if np.isnan(cell["exact"]):
        return text
    exact = int(cell["exact"])
    under = [name for bit, name in ((EXACT_PRIMARY, "common"), (EXACT_AUTHORS, authors_protocol)) if exact & bit]
    return f"{text}; exact under {' and '.join(under)}" if under else f"{text}; exact under neither"


def _reproduced_cell(column: str, cell, ablation: bool, authors_protocol: str = "") -> CellView:
    """`cell`: one column's fields of one row of `ReproductionTable.frame`."""
    if np.isnan(cell["reproduced"]):
        return CellView("")
    verdict = ""
    if not np.isnan(cell["diff"]):
        verdict = "ok" if cell["miss_ratio"] <= 1 else "off"
    vs_reference = ""
    if ablation and not np.isnan(cell["delta_ref"]):
        vs_reference = (f"vs full model {format_diff(column, cell['delta_ref'])}"
                        f" (paper {format_diff(column, cell['paper_delta_ref'])})")
        if not np.isnan(cell["beyond_spread"]):
            spread = format_diff(column, cell["spread"]).lstrip("+")
            vs_reference += f", {'beyond' if cell['beyond_spread'] else 'within'} seed spread {spread}"
    seeds_vary = cell["n"] > 1 and column in ("psnr_y", "ssim_y")  # parameter counts do not vary with the seed
    return CellView(text=format_value(column, cell["reproduced"]), diff=format_diff(column, cell["diff"]),
                    spread=format_diff(column, cell["std"]).lstrip("+") if seeds_vary else "",
                    vs_reference=vs_reference, verdict=verdict,
                    protocols=_protocols_text(column, cell, authors_protocol))


# --- conventions and environment ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConventionView:
    key: str
    values: list[tuple[str, int]]  # value, number of evaluations measured under it

    @property
    def varies(self) -> bool:
        return len(self.values) > 1


def conventions_view(records: list[TrialRecord]) -> list[ConventionView]:
    table: dict[str, collections.Counter] = {}
    for record in records:
        for evaluation in record.metrics.values():
            for key, value in evaluation.conventions.items():
                # a setting that follows the scale (crop_border) is one convention, not one per scale
                _count(table, key, "the scale" if key == "crop_border" and value == evaluation.scale else str(value))
        if record.macs_input is not None:
            # the LR size follows from the HR size and the scale, so it is not a convention of its own
            size = ", ".join(f"{key} {value}" for key, value in sorted(record.macs_input.items())
                             if key.startswith("hr"))
            _count(table, "macs_input (MACs counted for the HR output; LR = HR // scale)", size)
    return [ConventionView(key, sorted(values.items(), key=lambda item: -item[1])) for key, values in table.items()]


def _count(table: dict[str, collections.Counter], key: str, value: str) -> None:
    table.setdefault(key, collections.Counter())[value] += 1


@dataclass(frozen=True)
class EnvironmentView:
    keys: list[str]
    columns: list[tuple[int, list[str]]]  # per distinct environment: number of trials, value per key


def environments_view(records: list[TrialRecord]) -> EnvironmentView:
    """Distinct environments side by side, one line per field; nested fields (library versions) flattened."""
    flat = [_flatten(record.environment.model_dump(mode="json")) for record in records]
    keys = list(dict.fromkeys(key for environment in flat for key in environment))
    counts = collections.Counter(tuple(environment[key] if key in environment else "" for key in keys)
                                 for environment in flat)
    return EnvironmentView(keys, [(count, list(values)) for values, count in counts.items()])


def _flatten(environment: dict, prefix: str = "") -> dict[str, str]:
    flat = {}
    for key, value in environment.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = "" if value is None else str(value)
    return flat


