"""Trial records aggregated into tables that mirror the paper's Tables 1-6 row for row and column for column.

Each cell holds the reproduced value (the mean over seeds), its standard deviation over seeds, the paper's value and
the difference. Trials identical but for `config.seed` are one group; where several groups feed one row (say a smoke
run and a full run), the longest-trained group is shown and the others are counted. In the ablation tables (1-4) each
cell also holds its difference from the table's reference row (the full model) and whether that difference is larger
than the seed-to-seed spread, sqrt(std_row^2 + std_reference^2): the spread of the difference of two single-seed runs.

Records are read as JSON (docs/records.md) and validated here; nothing imports Ray.
"""

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pydantic

from harness.errors import UserError
from harness.paper import (ABLATION_TABLES, TABLE_NAMES, TABLE_TITLES, Finding, Paper, PaperTable,
                           TableColumn, TableRow, format_in_style, format_number)

RECORD_SCHEMA_VERSIONS = (1,)
FIELDS = ("paper", "reproduced", "std", "n", "diff")
# Table 5, rows scored under more than one protocol: the value under the authors' protocol (the row's
# `authors_protocol`), and which protocol reproduces the paper's printed digits exactly (bit 1: the first protocol,
# usually common; bit 2: the authors'; NaN where the cell was not compared).
PROTOCOL_FIELDS = ("authors", "exact")
EXACT_PRIMARY, EXACT_AUTHORS = 1, 2
ABLATION_FIELDS = ("delta_ref", "paper_delta_ref", "spread", "beyond_spread")
# A reproduced number "does not reproduce" when it is further from the paper than this (or than twice its
# seed-to-seed standard deviation, if larger). PSNR and SSIM: twice the paper's rounding plus what one retraining
# typically moves; parameters: the rounding of a number printed in K; MACs: a relative margin.
MISMATCH_TOLERANCE = {"psnr_y": 0.05, "ssim_y": 0.001, "params": 500, "macs": 0.01}
MAX_LISTED = 10  # misses listed per table in the findings
PAPER_MACS_INPUT = {"hr_height": 720, "hr_width": 1280}  # the output lightweight-SR "Flops" are counted for


# --- trial records ------------------------------------------------------------------------------------------------

class _Record(pydantic.BaseModel):
    # Fields added to the record format later are ignored, so older reports keep working.
    model_config = pydantic.ConfigDict(extra="ignore", frozen=True)


class ImageScore(_Record):
    name: str
    psnr_y: float
    ssim_y: float


class Evaluation(_Record):
    dataset: str
    scale: int
    psnr_y: float
    ssim_y: float
    images: list[ImageScore] = []
    conventions: dict[str, Any] = {}
    protocol: str = "common"  # harness/protocols.py; records older than protocols were scored under "common"
    protocols: dict[str, "Evaluation"] = {}  # the same images under the model's other protocols

    def under(self, protocol: str | None) -> "Evaluation | None":
        if protocol is None or protocol == self.protocol:
            return self
        return self.protocols.get(protocol)


class Feed(_Record):
    table: str
    row: str


class Training(_Record):
    iterations: int
    seconds: float | None = None
    resumed_from_iteration: int | None = None
    curve: list[tuple[int, float]] = []


class Visual(_Record):
    image: str
    box: tuple[int, int, int, int]  # top, left, height, width in HR pixels
    file: str  # the SR crop, relative to the results folder
    hr_file: str | None = None  # the HR crop; by convention visuals/hr_<set>_<image>.png


class TrialConfig(_Record):
    model: str
    model_config_: dict[str, Any] = pydantic.Field(alias="model_config")
    scale: int
    mode: str | None = None  # train | evaluate | complexity
    profile: str | None = None
    train: dict[str, Any] | None = None  # resolved training settings (harness/profiles.py TrainSettings)
    weights: str | None = None
    eval_sets: list[str] = []
    seed: int = 0
    input_digests: dict[str, str] = {}


class TrialRecord(_Record):
    schema_version: int
    trial_id: str
    status: str
    config: TrialConfig
    feeds: list[Feed] = []
    metrics: dict[str, Evaluation] = {}
    params: int | None = None
    macs: int | None = None
    macs_input: dict[str, int] | None = None
    macs_unsupported: dict[str, int] = {}  # operators the MAC counter skipped, with counts
    seconds: float | None = None  # wall time of the run that finished the trial
    training: Training | None = None
    environment: dict[str, Any] = {}
    finished_at: str | None = None
    visuals: dict[str, Visual] = {}
    group_key: str  # the config without its seed: trials equal here are seeds of one experiment
    path: Path

    @property
    def label(self) -> str:
        return trial_label(self)


def trial_label(record: TrialRecord) -> str:
    """A readable name: model and scale, what it feeds, how it was trained, which seed."""
    config = record.config
    feeds = ", ".join(f"{TABLE_TITLES.get(feed.table, feed.table)} {feed.row}" for feed in record.feeds)
    fed = f" ({feeds})" if feeds else ""
    return f"{config.model} ×{config.scale}{fed}, {_origin(config)}, seed {config.seed}"


def _origin(config: TrialConfig) -> str:
    """Where the weights came from: released weights, a training profile, or nothing (bicubic, complexity-only)."""
    if config.weights:
        return f"weights {config.weights}"
    if config.profile:
        return f"profile {config.profile}"
    return config.mode or "untrained"


def load_records(results_dir: Path) -> list[TrialRecord]:
    """Every finished trial record under `<results_dir>/trials/`, sorted by trial id."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise UserError(f"results folder {results_dir} does not exist")
    records = [read_record(path) for path in sorted((results_dir / "trials").glob("*.json"))]
    return sorted((record for record in records if record.status == "done"), key=lambda record: record.trial_id)


def read_record(path: Path) -> TrialRecord:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"trial record {path} is not readable JSON: {error}") from error
    if not isinstance(raw, dict) or raw.get("schema_version") not in RECORD_SCHEMA_VERSIONS:
        version = raw.get("schema_version") if isinstance(raw, dict) else None
        raise UserError(f"trial record {path} has schema_version {version!r}; this harness reads "
                        f"{', '.join(map(str, RECORD_SCHEMA_VERSIONS))}")
    config = raw.get("config")
    group = {key: value for key, value in config.items() if key != "seed"} if isinstance(config, dict) else None
    try:
        return TrialRecord.model_validate({**raw, "group_key": json.dumps(group, sort_keys=True), "path": path})
    except pydantic.ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise UserError(f"trial record {path} is malformed at {where}: {problem['msg']}") from error


# --- seed groups ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrialGroup:
    """Trials identical but for their seed."""
    records: tuple[TrialRecord, ...]

    @property
    def first(self) -> TrialRecord:
        return self.records[0]

    @property
    def seeds(self) -> list[int]:
        return [record.config.seed for record in self.records]

    @property
    def iterations(self) -> int:
        return max((record.training.iterations for record in self.records if record.training), default=0)

    @property
    def label(self) -> str:
        config = self.first.config
        seeds = len(self.records)
        return f"{config.model} ×{config.scale}, {_origin(config)}, {seeds} seed{'s' * (seeds > 1)}"

    @property
    def protocols(self) -> tuple[str, ...]:
        """The protocols its evaluations were scored under, the first (headline) one first."""
        names: list[str] = []
        for record in self.records:
            for evaluation in record.metrics.values():
                for name in (evaluation.protocol, *evaluation.protocols):
                    if name not in names:
                        names.append(name)
        return tuple(names)

    def values(self, column: str, dataset: str | None, protocol: str | None = None) -> list[float]:
        """The column's values over seeds; PSNR/SSIM under `protocol` (None: the evaluation's first protocol)."""
        values = []
        for record in self.records:
            evaluation = record.metrics[dataset].under(protocol) if dataset in record.metrics else None
            if column in ("params", "macs"):
                value = getattr(record, column)
            elif evaluation is not None:
                value = getattr(evaluation, column)
            else:
                value = None
            if value is not None:
                values.append(float(value))
        return values


def group_trials(records: list[TrialRecord]) -> list[TrialGroup]:
    groups: dict[str, list[TrialRecord]] = {}
    for record in records:
        groups.setdefault(record.group_key, []).append(record)
    return [TrialGroup(tuple(sorted(members, key=lambda record: record.config.seed))) for members in groups.values()]


def _preference(group: TrialGroup) -> tuple:
    return group.iterations, len(group.records), max(record.finished_at or "" for record in group.records)


# --- reproduction tables --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReproductionTable:
    """One of the paper's tables with reproduced values.

    `frame`: index = the paper's rows (Table 5: (scale, method)); columns = (paper column label, field) with fields
    paper, reproduced, std, n, diff (and delta_ref, paper_delta_ref, spread, beyond_spread in Tables 1-4).
    `rows`: the same index; status ("reproduced", "not run", "not in paper"), trials, seeds, group and note.
    """
    name: str
    spec: PaperTable
    scale_note: str
    frame: pd.DataFrame
    rows: pd.DataFrame

    @property
    def columns(self) -> tuple[TableColumn, ...]:
        return self.spec.columns


def build_tables(paper: Paper, records: list[TrialRecord]) -> dict[str, ReproductionTable]:
    groups = group_trials(records)
    return {name: _build_table(paper, name, groups) for name in TABLE_NAMES}


def _row_id(table: str, scale: int | None, row: str) -> tuple:
    return (scale, row) if table == "table5" else (row,)


def _candidates(name: str, groups: list[TrialGroup]) -> dict[tuple, list[TrialGroup]]:
    """Row id -> the seed groups whose records feed that row of table `name`."""
    candidates: dict[tuple, list[TrialGroup]] = {}
    for group in groups:
        for feed in group.first.feeds:
            if feed.table == name:
                candidates.setdefault(_row_id(name, group.first.config.scale, feed.row), []).append(group)
    return candidates


def _build_table(paper: Paper, name: str, groups: list[TrialGroup]) -> ReproductionTable:
    spec = paper.tables[name]
    inferred = paper.inferred_scales[name].scale if name != "table5" else None
    candidates = _candidates(name, groups)
    # Table 6 is fed by complexity-only trials (parameters, MACs); its PSNR/SSIM are Table 5's at the same scale.
    table5 = _candidates("table5", groups) if name == "table6" else {}

    paper_rows: list[tuple[tuple, TableRow | None]] = [(_row_id(name, row.scale, row.key), row) for row in spec.rows]
    known = {row_id for row_id, _ in paper_rows}
    extra = [(row_id, None) for row_id in candidates if row_id not in known]
    if name == "table5":  # records of methods the paper lacks go to the end of their scale
        ordered = []
        for scale in sorted({row_id[0] for row_id, _ in paper_rows + extra}):
            ordered += [item for item in paper_rows if item[0][0] == scale]
            ordered += sorted((item for item in extra if item[0][0] == scale), key=lambda item: item[0][1])
        paper_rows = ordered
    else:
        paper_rows += sorted(extra, key=lambda item: item[0])

    ablation = name in ABLATION_TABLES
    fields = FIELDS + (ABLATION_FIELDS if ablation else ()) + (PROTOCOL_FIELDS if name == "table5" else ())
    index = (pd.MultiIndex.from_tuples([row_id for row_id, _ in paper_rows], names=["scale", "method"])
             if name == "table5" else pd.Index([row_id[0] for row_id, _ in paper_rows], name=spec.row_header))
    columns = pd.MultiIndex.from_tuples([(column.label, field) for column in spec.columns for field in fields],
                                        names=["column", "field"])
    frame = pd.DataFrame(np.nan, index=index, columns=columns, dtype=float)
    info = []
    for position, (row_id, row) in enumerate(paper_rows):
        feeding = candidates[row_id] if row_id in candidates else []
        chosen = max(feeding, key=_preference, default=None)
        others = len(feeding) - (chosen is not None)
        metrics_from = max(table5.get((inferred, row_id[-1]), []), key=_preference, default=None) or chosen
        sources = []
        scored_under = metrics_from.protocols if metrics_from else ()
        authors_protocol = next((protocol for protocol in scored_under[1:]), None)
        for column in spec.columns:
            value = paper.cell_value(name, row.key, column, row.scale) if row else None
            frame.iloc[position, frame.columns.get_loc((column.label, "paper"))] = np.nan if value is None else value
            source = metrics_from if column.column in ("psnr_y", "ssim_y") else chosen or metrics_from
            measured = source.values(column.column, column.dataset) if source else []
            if not measured:
                continue
            if source not in sources:
                sources.append(source)
            mean = float(np.mean(measured))
            cells = {"reproduced": mean, "n": len(measured),
                     "std": float(np.std(measured, ddof=1)) if len(measured) > 1 else np.nan,
                     "diff": mean - value if value is not None else np.nan}
            if name == "table5" and column.column in ("psnr_y", "ssim_y") and source is metrics_from:
                cells.update(_protocol_cells(column, value, mean, source, authors_protocol))
            for field, cell in cells.items():
                frame.iloc[position, frame.columns.get_loc((column.label, field))] = cell
        notes = []
        for source in sources:
            if name != "table5" and source.first.config.scale != inferred:
                notes.append(f"reproduced at ×{source.first.config.scale}; the paper's table is ×{inferred}")
            counted_for = {key: value for key, value in (source.first.macs_input or {}).items() if key.startswith("hr")}
            if name == "table6" and counted_for != PAPER_MACS_INPUT:
                notes.append(f"MACs counted for {counted_for}, the paper's for {PAPER_MACS_INPUT}")
        if others:
            notes.append(f"{others} other run{'s' * (others > 1)} of this row not shown")
        status = "not in paper" if row is None else "reproduced" if sources else "not run"
        info.append({"key": row_id[-1], "label": row.label if row else row_id[-1], "status": status,
                     "trials": [record.trial_id for source in sources for record in source.records],
                     "seeds": sorted({seed for source in sources for seed in source.seeds}),
                     "group": "; ".join(source.label for source in sources),
                     "iterations": max((source.iterations for source in sources), default=None),
                     "year": str(row.year) if row and row.year else "",
                     "protocols": list(scored_under), "authors_protocol": authors_protocol or "",
                     "note": "; ".join(dict.fromkeys(notes))})
    rows = pd.DataFrame(info, index=index)
    if ablation and spec.reference_row in frame.index:
        _add_reference_deltas(frame, spec)
    scale_note = (paper.inferred_scales[name].evidence if name != "table5" else "scales as printed")
    return ReproductionTable(name=name, spec=spec, scale_note=scale_note, frame=frame, rows=rows)


def _protocol_cells(column: TableColumn, paper_value: float | None, primary: float, source: TrialGroup,
                    authors_protocol: str | None) -> dict[str, float]:
    """The authors'-protocol value of a Table 5 cell, and which protocol reproduces the paper's printed digits."""
    authors = np.nan
    if authors_protocol:
        measured = source.values(column.column, column.dataset, authors_protocol)
        authors = float(np.mean(measured)) if measured else np.nan
    if paper_value is None:
        return {"authors": authors, "exact": np.nan}
    exact = 0
    if is_exact(column.column, primary, paper_value):
        exact |= EXACT_PRIMARY
    if not np.isnan(authors) and is_exact(column.column, authors, paper_value):
        exact |= EXACT_AUTHORS
    return {"authors": authors, "exact": float(exact)}


def is_exact(column: str, value: float, paper_value: float) -> bool:
    """`value` printed as the paper prints `column` gives the paper's digits."""
    return format_number(column, value) == format_number(column, paper_value)


def _add_reference_deltas(frame: pd.DataFrame, spec: PaperTable) -> None:
    reference = frame.loc[spec.reference_row]
    for column in spec.columns:
        label = column.label
        frame[(label, "delta_ref")] = frame[(label, "reproduced")] - reference[(label, "reproduced")]
        frame[(label, "paper_delta_ref")] = frame[(label, "paper")] - reference[(label, "paper")]
        if column.column not in ("psnr_y", "ssim_y"):
            continue  # parameter counts do not vary with the seed
        frame[(label, "spread")] = np.sqrt(frame[(label, "std")] ** 2 + reference[(label, "std")] ** 2)
        beyond = (frame[(label, "delta_ref")].abs() > frame[(label, "spread")]).astype(float)
        # unknown (NaN) where either side has a single seed; the reference row compared with itself is no ablation
        beyond[frame[(label, "spread")].isna() | frame[(label, "delta_ref")].isna()] = np.nan
        beyond[spec.reference_row] = np.nan
        frame[(label, "beyond_spread")] = beyond


def long_form(tables: dict[str, ReproductionTable]) -> pd.DataFrame:
    """One line per cell of every table: table, scale, row, column, dataset and the fields."""
    lines = []
    for name, table in tables.items():
        for row_id in table.frame.index:
            scale, row = row_id if name == "table5" else (None, row_id)
            for column in table.columns:
                cell = table.frame.loc[row_id, column.label]
                lines.append({"table": name, "scale": scale, "row": row, "column": column.column,
                              "dataset": column.dataset, "label": column.label,
                              "status": table.rows.loc[row_id, "status"], "group": table.rows.loc[row_id, "group"],
                              "authors_protocol": table.rows.loc[row_id].get("authors_protocol", ""),
                              **{field: cell.get(field, np.nan)
                                 for field in FIELDS + ABLATION_FIELDS + PROTOCOL_FIELDS}})
    return pd.DataFrame(lines)


# --- findings about the reproduction ------------------------------------------------------------------------------

def tolerance_for(column: str, paper_value: float, std: float) -> float:
    """How far a reproduced number may sit from the paper's before it counts as not reproducing."""
    base = MISMATCH_TOLERANCE[column] * (abs(paper_value) if column == "macs" else 1)
    return max(base, 2 * std) if not math.isnan(std) else base


@dataclass(frozen=True)
class TableSummary:
    name: str
    paper_rows: int
    reproduced_rows: int
    compared: int  # reproduced numbers the paper also prints
    missed: int  # of those, beyond tolerance
    largest_psnr_miss: str  # where the PSNR is furthest from the paper, in words


def summarize(tables: dict[str, ReproductionTable]) -> list[TableSummary]:
    cells = long_form(tables)
    summaries = []
    for name, table in tables.items():
        part = cells[(cells["table"] == name) & cells["reproduced"].notna() & cells["paper"].notna()]
        missed = [cell for cell in part.itertuples()
                  if abs(cell.diff) > tolerance_for(cell.column, cell.paper, cell.std)]
        psnr = part[part["column"] == "psnr_y"]
        largest = ""
        if len(psnr):
            worst = psnr.loc[psnr["diff"].abs().idxmax()]
            where = f"×{int(worst['scale'])} " if name == "table5" else ""
            largest = f"{format_diff('psnr_y', worst['diff'])} dB ({where}{worst['row']}, {worst['label']})"
        statuses = table.rows["status"]
        summaries.append(TableSummary(name=name, paper_rows=int((statuses != "not in paper").sum()),
                                      reproduced_rows=int((statuses == "reproduced").sum()), compared=len(part),
                                      missed=len(missed), largest_psnr_miss=largest))
    return summaries


def reproduction_findings(tables: dict[str, ReproductionTable]) -> list[Finding]:
    """Per table: which reproduced numbers miss the paper's, and by how much; whether ablation effects survive the
    seed-to-seed spread."""
    cells = long_form(tables)
    findings = []
    compared = cells[cells["reproduced"].notna() & cells["paper"].notna()]
    for name, table_cells in compared.groupby("table", sort=False):
        misses = []
        for cell in table_cells.itertuples():
            tolerance = tolerance_for(cell.column, cell.paper, cell.std)
            if abs(cell.diff) > tolerance:
                misses.append((abs(cell.diff) / tolerance, cell))
        if not misses:
            findings.append(Finding("note", "reproduces", f"{TABLE_TITLES[name]}: all {len(table_cells)} reproduced "
                                    "numbers match the paper within tolerance", _tolerance_text()))
            continue
        misses.sort(key=lambda item: -item[0])
        items = tuple(_describe_miss(cell) for _, cell in misses[:MAX_LISTED])
        if len(misses) > MAX_LISTED:
            items += (f"and {len(misses) - MAX_LISTED} more (see the table)",)
        findings.append(Finding("mismatch", "does-not-reproduce",
                                f"{TABLE_TITLES[name]}: {len(misses)} of {len(table_cells)} reproduced numbers "
                                "miss the paper's", f"{_tolerance_text()}. Largest first:", items))
    findings.extend(protocol_findings(cells))
    ablations = cells[cells["table"].isin(ABLATION_TABLES) & cells["spread"].notna() & cells["paper_delta_ref"].notna()]
    for cell in ablations.itertuples():
        if cell.paper_delta_ref == 0 and cell.delta_ref == 0:
            continue
        within = abs(cell.paper_delta_ref) <= cell.spread
        opposite = cell.delta_ref * cell.paper_delta_ref < 0
        if within or opposite or cell.beyond_spread == 0:
            unit = " dB" if cell.column == "psnr_y" else ""
            findings.append(Finding(
                "note", "ablation-within-noise",
                f"{TABLE_TITLES[cell.table]} {cell.row} vs the full model, {cell.label}: "
                + ("the paper's effect is within the seed-to-seed spread" if within else
                   "the reproduced effect has the opposite sign" if opposite else
                   "the reproduced effect is within the seed-to-seed spread"),
                f"Paper: {cell.paper_delta_ref:+.4g}{unit}; reproduced: {cell.delta_ref:+.4g}{unit} "
                f"(seed-to-seed spread of a difference {cell.spread:.4g}{unit})."))
    return findings


def protocol_findings(cells: pd.DataFrame) -> list[Finding]:
    """Table 5 rows scored under their authors' protocol as well: which cells reproduce exactly under which protocol,
    which under none (and by how much each misses), and the parameter counts that differ from the paper's."""
    table5 = cells[(cells["table"] == "table5") & cells["paper"].notna()]
    scored = table5[table5["authors_protocol"].fillna("") != ""]
    findings = []
    if len(scored):
        metric = scored[scored["column"].isin(["psnr_y", "ssim_y"]) & scored["exact"].notna()]
        exact = {"common": int((metric["exact"].astype(int) & EXACT_PRIMARY > 0).sum()),
                 "authors": int((metric["exact"].astype(int) & EXACT_AUTHORS > 0).sum())}
        misses = [cell for cell in metric.itertuples() if int(cell.exact) == 0]
        items = tuple(
            f"×{int(cell.scale)} {cell.row} {cell.label}: paper {format_number(cell.column, cell.paper)}, common "
            f"{format_value(cell.column, cell.reproduced)} ({format_diff(cell.column, cell.reproduced - cell.paper)}), "
            f"{cell.authors_protocol} {format_value(cell.column, cell.authors)} "
            f"({format_diff(cell.column, cell.authors - cell.paper)})" for cell in misses)
        findings.append(Finding(
            "mismatch" if misses else "note", "protocol-dependence",
            f"Table 5 from released weights: {len(metric) - len(misses)} of {len(metric)} PSNR/SSIM cells reproduce "
            f"the paper's digits exactly under some protocol ({exact['common']} under common, {exact['authors']} "
            "under the authors' own test script)",
            "Each released-weights row is scored under the common conventions and under its authors' protocol "
            "(docs/protocols.md). Cells that reproduce under neither:" if misses else
            "Every compared cell reproduces under at least one protocol.", items))
    params = table5[(table5["column"] == "params") & table5["reproduced"].notna()
                    & (table5["group"].fillna("").str.contains("weights "))]
    wrong = [cell for cell in params.itertuples()
             if abs(cell.reproduced - cell.paper) > MISMATCH_TOLERANCE["params"]]
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
    return (f"{where}{cell.row} {cell.label}: reproduced {format_number(cell.column, cell.reproduced)}{seeds}, paper "
            f"{format_number(cell.column, cell.paper)} ({format_diff(cell.column, cell.diff)}; {cell.group})")


def _tolerance_text() -> str:
    return (f"Tolerance: PSNR {MISMATCH_TOLERANCE['psnr_y']} dB, SSIM {MISMATCH_TOLERANCE['ssim_y']}, parameters "
            f"±{MISMATCH_TOLERANCE['params']} (printed in K), MACs {MISMATCH_TOLERANCE['macs']:.0%}, or twice the "
            "seed-to-seed standard deviation where larger")


def format_diff(column: str, value: float) -> str:
    return "" if value is None or value != value else format_in_style(column, value, 2)


def format_value(column: str, value: float) -> str:
    """A reproduced value at one more digit than the paper prints, so a difference below the paper's rounding shows."""
    return "" if value is None or value != value else format_in_style(column, value, 1)

