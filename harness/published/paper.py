"""The MREN paper's Tables 1-6 and its numeric claims in the prose, as typed objects: one source of published numbers
(harness/published/__init__.py).

The transcription lives in `paper_tables.json` beside this module, and it describes the tables as well as their
numbers: each table's kind (an ablation, the comparison with other methods, the complexity table), its rows and
columns, whether its rows repeat per scale, whether specs may add rows the paper lacks, and its figure. Adding a
report table is one entry there and one spec. Every printed number is one entry of `values`, with the string as
printed and the line of `mren-paper.txt` it came from. Parameters are integers (298K -> 298000), "Flops" are
integers (23.8G -> 23800000000), numbers printed "--" are null. Tables 1-4 and 6 do not print their scale;
`Paper.inferred_scales` derives it from the numbers themselves, and the findings say so. Numbers the text quotes
are `text_claims`: each names the cells it speaks about, so rules can check it.
"""

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import pydantic

from harness.conventions import METRIC_COLUMNS, SCALES

Column = Literal[METRIC_COLUMNS + ("params", "macs")]
TableKind = Literal["ablation", "comparison", "complexity"]
UNITS = {"params": 1000, "macs": 1e9}  # the paper prints parameters in K and Flops in G


class _Frozen(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class CellRef(_Frozen):
    table: str
    row: str
    column: Column
    dataset: str | None = None
    scale: int | None = None

    def describe(self) -> str:
        scale = f" ×{self.scale}" if self.scale else ""
        dataset = f" {self.dataset}" if self.dataset else ""
        return f"{table_title(self.table)}{scale} {self.row}{dataset} {COLUMN_TITLES[self.column]}"


class PaperValue(_Frozen):
    table: str
    scale: int | None  # printed scale (Table 5 only)
    row: str
    column: Column
    dataset: str | None
    value: float | int | None  # None where the paper prints "--"
    printed: str
    line: int  # line of mren-paper.txt

    def ref(self) -> CellRef:
        return CellRef(table=self.table, row=self.row, column=self.column, dataset=self.dataset, scale=self.scale)


class TableColumn(_Frozen):
    column: Column
    dataset: str | None
    label: str  # header as printed


class TableRow(_Frozen):
    key: str  # the row name used in trial records' `feeds`
    label: str  # as printed
    scale: int | None = None  # Table 5 only
    year: int | None = None  # Table 5 only; the paper prints none for MREN and MREN-L


class TableFigure(_Frozen):
    name: str  # file name of the figure, figures/<name>.png
    title: str
    x_label: str


class PaperTable(_Frozen):
    name: str
    number: int  # as the paper numbers it: "Table 5"
    # ablation: rows vary one setting of the full model (its reference row); comparison: methods against each other,
    # rows per scale; complexity: parameters and MACs of methods, scored where the comparison table scores them
    kind: TableKind
    rows_by_scale: bool  # rows repeat per printed scale (the comparison table)
    open_rows: bool  # specs may feed rows the paper lacks (another method)
    scores_from: str | None  # the table whose trials give this table's PSNR/SSIM (complexity-only trials give none)
    figure: TableFigure | None  # the figure the report draws of it
    title: str
    row_header: str
    reference_row: str | None  # the full model in an ablation table
    full_model: str | None = None  # the comparison-table method the reference row is
    columns: tuple[TableColumn, ...]
    rows: tuple[TableRow, ...]

    @property
    def label(self) -> str:
        return f"Table {self.number}"

    @property
    def row_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(row.key for row in self.rows))


class TextClaim(_Frozen):
    id: str
    where: str
    kind: Literal["value", "rank", "order", "difference", "ratio"]
    quote: str
    claimed: float | None = None
    printed: str | None = None
    rank: int | None = None
    cells: tuple[CellRef, ...] = ()  # value: each must equal `claimed`; rank: each must have `rank` in its column
    pairs: tuple[tuple[CellRef, CellRef], ...] = ()  # order: first > second; difference/ratio: readings of the claim


class TrainingEpochs(_Frozen):
    ablation: int
    final: int
    quote: str


class _PaperFile(_Frozen):
    source: str
    units: dict[str, str]
    training_epochs: TrainingEpochs
    tables: dict[str, dict]
    values: tuple[PaperValue, ...]
    text_claims: tuple[TextClaim, ...]


COLUMN_TITLES = {"psnr_y": "PSNR", "ssim_y": "SSIM", "params": "parameters", "macs": "Flops"}


@dataclass(frozen=True)
class Paper:
    source: str
    training_epochs: TrainingEpochs
    tables: dict[str, PaperTable]
    values: tuple[PaperValue, ...]
    claims: tuple[TextClaim, ...]

    @functools.cached_property
    def _index(self) -> dict[CellRef, PaperValue]:
        return {value.ref(): value for value in self.values}

    def lookup(self, ref: CellRef) -> PaperValue | None:
        return self._index.get(ref)

    def value(self, table: str, row: str, column: Column, dataset: str | None = None,
              scale: int | None = None) -> PaperValue:
        ref = CellRef(table=table, row=row, column=column, dataset=dataset, scale=scale)
        if ref not in self._index:
            raise KeyError(f"the paper prints no value at {ref.describe()}")
        return self._index[ref]

    def cell_value(self, table: str, row: str, column: TableColumn, scale: int | None) -> float | int | None:
        """The number printed in `table` at (`row`, `column`), None where the paper prints "--" or nothing."""
        value = self.lookup(CellRef(table=table, row=row, column=column.column, dataset=column.dataset, scale=scale))
        return None if value is None else value.value

    def lookup_params(self, table: str, row: str, scale: int | None) -> PaperValue | None:
        """The parameter count `table` prints for `row` (at `scale` where its rows are per scale), if any."""
        value = self.lookup(CellRef(table=table, row=row, column="params", scale=scale))
        return value if value is not None and value.value is not None else None

    def values_of(self, table: str) -> list[PaperValue]:
        return [value for value in self.values if value.table == table]

    def names_of(self, kind: TableKind) -> tuple[str, ...]:
        return tuple(name for name, table in self.tables.items() if table.kind == kind)

    @property
    def comparison(self) -> str:
        """The table comparing methods at each scale (Table 5): the one the others' scales are inferred from."""
        return self.names_of("comparison")[0]

    @functools.cached_property
    def inferred_scales(self) -> dict[str, "ScaleInference"]:
        """Tables that print no scale, by name: the scale their numbers belong to, with the evidence."""
        return {name: _infer_scale(self, name) for name, table in self.tables.items() if not table.rows_by_scale}


@dataclass(frozen=True)
class ScaleInference:
    scale: int
    evidence: str


@functools.cache
def load_paper() -> Paper:
    raw = json.loads(resources.files("harness.published").joinpath("paper_tables.json").read_text(encoding="utf-8"))
    parsed = _PaperFile.model_validate(raw)
    tables = {name: PaperTable.model_validate({"name": name, **table}) for name, table in parsed.tables.items()}
    comparisons = [name for name, table in tables.items() if table.kind == "comparison" and table.rows_by_scale]
    if len(comparisons) != 1:
        raise ValueError(f"paper_tables.json needs one comparison table with rows by scale, has {comparisons}")
    for name, table in tables.items():
        if table.scores_from is not None and table.scores_from not in tables:
            raise ValueError(f"paper_tables.json: {name}.scores_from names no table: {table.scores_from!r}")
        if table.kind == "ablation" and (table.reference_row not in table.row_keys or not table.full_model):
            raise ValueError(f"paper_tables.json: ablation {name} needs a reference_row among its rows and a "
                             "full_model")
    refs = [value.ref() for value in parsed.values]
    if len(set(refs)) != len(refs):
        raise ValueError("paper_tables.json holds a cell twice")
    return Paper(source=parsed.source, training_epochs=parsed.training_epochs, tables=tables,
                 values=parsed.values, claims=parsed.text_claims)


def table_title(name: str) -> str:
    """"Table 5" for "table5"; a name the transcription lacks is shown as it is."""
    tables = load_paper().tables
    return tables[name].label if name in tables else name


def _infer_scale(paper: Paper, table: str) -> ScaleInference:
    """Which comparison-table scale the unscaled table's numbers belong to: the scale at which most reappear."""
    comparison = paper.comparison
    if paper.tables[table].kind == "ablation":
        spec = paper.tables[table]
        pairs = [(value, CellRef(table=comparison, row=spec.full_model or "", column=value.column,
                                 dataset=value.dataset, scale=scale))
                 for value in paper.values_of(table) if value.row == spec.reference_row for scale in SCALES]
        described = f"its reference row {spec.reference_row!r} (the full model, {spec.full_model})"
    else:
        pairs = [(value, CellRef(table=comparison, row=value.row, column=value.column, dataset=value.dataset,
                                 scale=scale))
                 for value in paper.values_of(table) if value.column != "macs" for scale in SCALES]
        described = "its rows"
    matches = {scale: 0 for scale in SCALES}
    totals = {scale: 0 for scale in SCALES}
    for value, ref in pairs:
        other = paper.lookup(ref)
        if other is not None and other.value is not None:
            totals[ref.scale] += 1
            matches[ref.scale] += other.value == value.value
    best = max(SCALES, key=lambda scale: matches[scale])
    return ScaleInference(scale=best, evidence=f"{table_title(table)} prints no scale; {matches[best]} of "
                                               f"{totals[best]} numbers of {described} equal "
                                               f"{table_title(comparison)} ×{best}")
