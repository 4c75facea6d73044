"""The paper's Tables 1-6 and its numeric claims in the prose, as typed objects, plus rules that find where the paper
contradicts itself.

The transcription lives in `paper_tables.json` beside this module: one entry per printed number, with the string as
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

Column = Literal["psnr_y", "ssim_y", "params", "macs"]
TABLE_NAMES = ("table1", "table2", "table3", "table4", "table5", "table6")
ABLATION_TABLES = ("table1", "table2", "table3", "table4")
SCALES = (2, 3, 4)
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
        return f"{TABLE_TITLES[self.table]}{scale} {self.row}{dataset} {COLUMN_TITLES[self.column]}"


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


class PaperTable(_Frozen):
    name: str
    title: str
    row_header: str
    reference_row: str | None  # the full model in an ablation table
    full_model: str | None = None  # the Table 5 method the reference row is
    columns: tuple[TableColumn, ...]
    rows: tuple[TableRow, ...]


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


TABLE_TITLES = {name: f"Table {name[-1]}" for name in TABLE_NAMES}
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

    def values_of(self, table: str) -> list[PaperValue]:
        return [value for value in self.values if value.table == table]

    @functools.cached_property
    def inferred_scales(self) -> dict[str, "ScaleInference"]:
        """Tables 1-4 and 6 by name: the scale their numbers belong to, with the evidence."""
        return {name: _infer_scale(self, name) for name in TABLE_NAMES if name != "table5"}


@dataclass(frozen=True)
class ScaleInference:
    scale: int
    evidence: str


@functools.cache
def load_paper() -> Paper:
    raw = json.loads(resources.files("harness.reporting").joinpath("paper_tables.json").read_text(encoding="utf-8"))
    parsed = _PaperFile.model_validate(raw)
    tables = {name: PaperTable.model_validate({"name": name, **table}) for name, table in parsed.tables.items()}
    if tuple(tables) != TABLE_NAMES:
        raise ValueError(f"paper_tables.json holds tables {list(tables)}, expected {list(TABLE_NAMES)}")
    refs = [value.ref() for value in parsed.values]
    if len(set(refs)) != len(refs):
        raise ValueError("paper_tables.json holds a cell twice")
    return Paper(source=parsed.source, training_epochs=parsed.training_epochs, tables=tables,
                 values=parsed.values, claims=parsed.text_claims)


def _infer_scale(paper: Paper, table: str) -> ScaleInference:
    """Which Table 5 scale the unscaled table's numbers belong to: the scale at which most of them reappear."""
    if table in ABLATION_TABLES:
        spec = paper.tables[table]
        pairs = [(value, CellRef(table="table5", row=spec.full_model or "", column=value.column,
                                 dataset=value.dataset, scale=scale))
                 for value in paper.values_of(table) if value.row == spec.reference_row for scale in SCALES]
        described = f"its reference row {spec.reference_row!r} (the full model, {spec.full_model})"
    else:
        pairs = [(value, CellRef(table="table5", row=value.row, column=value.column, dataset=value.dataset,
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
    return ScaleInference(scale=best, evidence=f"{TABLE_TITLES[table]} prints no scale; {matches[best]} of "
                                               f"{totals[best]} numbers of {described} equal Table 5 ×{best}")


# --- findings: rules over the transcription ---------------------------------------------------------------------


