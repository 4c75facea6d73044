"""The paper's tables, conventions and environments as display rows: what the HTML page and the LaTeX tables show."""

import collections
import dataclasses
import string
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.conventions import METRIC_COLUMNS
from harness.data.benchmark import lr_pixels
from harness.records import TrialRecord
from harness.reporting.numbers import format_diff, format_number, format_precise, format_shown
from harness.reporting.tables import EXACT_AUTHORS, EXACT_PRIMARY, ReproductionTable

SEVERITY_ORDER = ("contradiction", "mismatch", "suspect", "note")
COLUMN_SHORT = {"psnr_y": "PSNR", "ssim_y": "SSIM", "params": "Params", "macs": "Flops"}


# --- the tables as display rows, shared by HTML and LaTeX ---------------------------------------------------------

@dataclass(frozen=True)
class CellView:
    text: str  # at the paper's digits
    precise: str = ""  # one more digit, for a tooltip
    diff: str = ""
    spread: str = ""  # ± over seeds
    vs_reference: str = ""  # ablations: difference from the full model, reproduced and paper
    verdict: str = ""  # "ok" | "off" | "limited" (beyond tolerance, but trained below the paper's budget) | ""
    protocols: str = ""  # Table 5: the value under the authors' protocol, and which protocol reproduces exactly
    rank: int = 0  # paper cells: 1 best, 2 second best of the column among the paper's rows; 0 otherwise
    blank: str = ""  # an empty reproduced cell of a row that ran: why it is empty
    footnote: str = ""  # the letter of `blank` among its section's footnotes


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
class SectionView:
    """The rows printed as one table: all of them, or (Table 5) those of one scale."""
    scale: int | None
    rows: list[RowView]
    footnotes: list[tuple[str, str]]  # (letter, why cells marked with it are empty)
    several_seeds: bool  # some reproduced value is a mean over more than one seed: the caption says "± std"


@dataclass(frozen=True)
class TableView:
    name: str
    number: str
    title: str
    row_header: str
    headers: list[str]
    has_year: bool
    rows_by_scale: bool  # rows repeat per scale: one section (and one LaTeX float) per scale
    scale_note: str
    reference_row: str | None
    sections: list[SectionView]
    reproduced_rows: int
    paper_rows: int
    datasets: list[str | None]
    metrics: list[str]

    @property
    def rows(self) -> list[RowView]:
        return [row for section in self.sections for row in section.rows]

    @property
    def header_groups(self) -> list[tuple[str | None, int]]:
        """The paper's two-level header where columns come per set (Tables 5 and 6): runs of adjacent columns of one
        set, as (set, width); (None, 1) for a column of no set. A single run means a one-level header."""
        groups: list[tuple[str | None, int]] = []
        for dataset in self.datasets:
            if dataset and groups and groups[-1][0] == dataset:
                groups[-1] = (dataset, groups[-1][1] + 1)
            else:
                groups.append((dataset, 1))
        return groups

    @property
    def two_level(self) -> bool:
        return len({dataset for dataset in self.datasets if dataset}) > 1

    @property
    def header_rows(self) -> tuple[list[tuple[str, int, int]], list[str]]:
        """The data columns' header as HTML rows: the top row's cells as (text, colspan, rowspan), and the bottom
        row's texts (empty for a one-level header)."""
        top: list[tuple[str, int, int]] = []
        bottom: list[str] = []
        index = 0
        for dataset, width in self.header_groups:
            if dataset and self.two_level:
                top.append((dataset, width, 1))
                bottom += self.short_headers[index:index + width]
            else:
                top += [(header, 1, 1 + self.two_level) for header in self.headers[index:index + width]]
            index += width
        return top, bottom

    @property
    def short_headers(self) -> list[str]:
        """Column headers under a set's name in a two-level header: "PSNR" under "Set5"."""
        return [COLUMN_SHORT[metric] if dataset else header
                for header, metric, dataset in zip(self.headers, self.metrics, self.datasets, strict=True)]


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
                                                     and not is_reference, str(info.get("authors_protocol", "")),
                                                     table.blank_reason(row_id, column.label)))
        rows.append(RowView(key=str(info["key"]), label=str(info["label"]), year=str(info["year"]),
                            status=str(info["status"]), paper=paper_cells, reproduced=reproduced_cells,
                            group=str(info["group"]), trials=list(info["trials"]), note=str(info["note"]),
                            scale=row_id[0] if spec.rows_by_scale else None))
    scales = sorted({row.scale for row in rows}) if spec.rows_by_scale else [None]
    sections = [_section(table, scale, [row for row in rows if row.scale == scale]) for scale in scales]
    return TableView(name=table.name, number=str(spec.number), title=spec.title, row_header=spec.row_header,
                     headers=[column.label for column in spec.columns],
                     has_year=any(row.year for row in spec.rows), rows_by_scale=spec.rows_by_scale,
                     scale_note=table.scale_note, reference_row=spec.reference_row, sections=sections,
                     reproduced_rows=sum(row.status != "not run" for row in rows),
                     paper_rows=sum(row.status != "not in paper" for row in rows),
                     datasets=[column.dataset for column in spec.columns],
                     metrics=[column.column for column in spec.columns])


def _section(table: ReproductionTable, scale: int | None, rows: list[RowView]) -> SectionView:
    """Rank the paper's cells per column (as the paper's own bold would), and letter the reasons for blank cells."""
    metrics = [column.column for column in table.spec.columns]
    for index, metric in enumerate(metrics):
        if metric not in METRIC_COLUMNS:
            continue
        # ranked at the printed digits, so that two methods the paper prints equal tie
        printed = {row.paper[index].text for row in rows if row.status != "not in paper" and row.paper[index].text
                   and row.paper[index].text != "--"}
        order = sorted(printed, key=float, reverse=True)[:2]
        for row in rows:
            text = row.paper[index].text
            if text in order:
                row.paper[index] = dataclasses.replace(row.paper[index], rank=order.index(text) + 1)
    letters: dict[str, str] = {}
    for row in rows:
        for index, cell in enumerate(row.reproduced):
            if cell.blank:
                letter = letters.setdefault(cell.blank, string.ascii_lowercase[len(letters) % 26])
                row.reproduced[index] = dataclasses.replace(cell, footnote=letter)
    ids = [row_id for row_id in table.frame.index if not table.spec.rows_by_scale or row_id[0] == scale]
    counts = table.frame.loc[ids, (slice(None), "n")] if ids else pd.DataFrame()
    return SectionView(scale=scale, rows=rows, footnotes=[(letter, reason) for reason, letter in letters.items()],
                       several_seeds=bool((counts.fillna(0).to_numpy() > 1).any()) if len(counts) else False)


def _protocols_text(column: str, cell, authors_protocol: str) -> str:
    """E.g. "above: common; idn-test 37.827; exact under idn-test" (the headline value is the common protocol's)."""
    if not authors_protocol or "authors" not in cell or np.isnan(cell["authors"]):
        return ""
    text = f"above: common; {authors_protocol} {format_precise(column, cell['authors'])}"
    if np.isnan(cell["exact"]):
        return text
    exact = int(cell["exact"])
    under = [name for bit, name in ((EXACT_PRIMARY, "common"), (EXACT_AUTHORS, authors_protocol)) if exact & bit]
    return f"{text}; exact under {' and '.join(under)}" if under else f"{text}; exact under neither"


def _reproduced_cell(column: str, cell, ablation: bool, authors_protocol: str = "", blank: str = "") -> CellView:
    """`cell`: one column's fields of one row of `ReproductionTable.frame`."""
    if np.isnan(cell["reproduced"]):
        return CellView("", blank=blank)
    verdict = ""
    if not np.isnan(cell["diff"]):
        verdict = "ok" if cell["miss_ratio"] <= 1 else "limited" if cell["budget_limited"] > 0 else "off"
    vs_reference = ""
    if ablation and not np.isnan(cell["delta_ref"]):
        vs_reference = (f"vs full model {format_diff(column, cell['delta_ref'])}"
                        f" (paper {format_diff(column, cell['paper_delta_ref'])})")
        if not np.isnan(cell["beyond_spread"]):
            spread = format_diff(column, cell["spread"]).lstrip("+")
            vs_reference += f", {'beyond' if cell['beyond_spread'] else 'within'} seed spread {spread}"
    seeds_vary = cell["n"] > 1 and column in METRIC_COLUMNS  # parameter counts do not vary with the seed
    return CellView(text=format_shown(column, cell["reproduced"]), precise=format_precise(column, cell["reproduced"]),
                    diff=format_diff(column, cell["diff"]),
                    spread=format_diff(column, cell["std"]).lstrip("+") if seeds_vary else "",
                    vs_reference=vs_reference, verdict=verdict,
                    protocols=_protocols_text(column, cell, authors_protocol))


# --- conventions and environment ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConventionView:
    key: str
    values: list[tuple[str, int]]  # value, number of evaluations measured under it
    effects: int  # distinct effects on the numbers: values that give the same pixels count once
    same_numbers: str = ""  # why different values here give the same numbers

    @property
    def varies(self) -> bool:
        """Whether trials were measured under conventions that change their numbers."""
        return self.effects > 1


# Per convention, what decides its effect on the numbers; a convention not listed is taken at its word.
CONVENTION_EFFECTS = {"lr_source": lr_pixels}
SAME_NUMBERS = {"lr_source": "bit-identical LR: the LR_bicubic files are MATLAB bicubic output, which the harness's "
                             "bicubic reproduces bit for bit (tests/test_imresize.py)"}


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
    views = []
    for key, values in table.items():
        effect = CONVENTION_EFFECTS.get(key, str)
        effects = len({effect(value) for value in values})
        views.append(ConventionView(key, sorted(values.items(), key=lambda item: -item[1]), effects,
                                    SAME_NUMBERS.get(key, "") if len(values) > effects else ""))
    return views


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


