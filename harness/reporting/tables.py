"""Trial records aggregated into tables that mirror the paper's Tables 1-6 row for row and column for column.

Each cell holds the reproduced value (the mean over seeds), its standard deviation over seeds, the paper's value and
the difference. Trials identical but for `config.seed` are one group; where several groups feed one row (say a smoke
run and a full run), the longest-trained group is shown and the others are counted. In the ablation tables (1-4) each
cell also holds its difference from the table's reference row (the full model) and whether that difference is larger
than the seed-to-seed spread, sqrt(std_row^2 + std_reference^2): the spread of the difference of two single-seed runs.

Records come from harness/records.py; nothing here imports Ray.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.conventions import METRIC_COLUMNS, PAPER_MACS_INPUT
from harness.data.bundled import BUNDLED_SET
from harness.published.paper import Paper, PaperTable, TableColumn, TableRow, table_title
from harness.records import TrialRecord, trial_label
from harness.reporting.tolerance import is_exact, miss_ratio
from harness.training.profiles import FULL_BUDGET_PROFILE, SMOKE_EVAL

# miss_ratio: harness/reporting/tolerance.py. budget_limited: 1 where the number is a PSNR/SSIM of a model trained
# below the paper's budget (a smoke run), so a miss says more about the budget than about the paper; 0 for parameter
# counts, MACs and scores of released weights, which no training budget changes.
FIELDS = ("paper", "reproduced", "std", "n", "diff", "miss_ratio", "budget_limited")
# Table 5, rows scored under more than one protocol: the value under the authors' protocol (the row's
# `authors_protocol`), and which protocol reproduces the paper's printed digits exactly (bit 1: the first protocol,
# usually common; bit 2: the authors'; NaN where the cell was not compared).
PROTOCOL_FIELDS = ("authors", "exact")
EXACT_PRIMARY, EXACT_AUTHORS = 1, 2
ABLATION_FIELDS = ("delta_ref", "paper_delta_ref", "spread", "beyond_spread")


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
    def budget_limited(self) -> bool:
        """Trained under a profile other than the paper's: its PSNR/SSIM reflect that budget, not the method."""
        return any(record.training is not None and record.config.profile != FULL_BUDGET_PROFILE
                   for record in self.records)

    @property
    def label(self) -> str:
        seeds = len(self.records)
        return f"{trial_label(self.first.config.to_json(), with_seed=False)}, {seeds} seed{'s' * (seeds > 1)}"

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
    blanks: dict[tuple[tuple, str], str]  # (row id as in `frame`, column label) -> why a row that ran has no value

    def blank_reason(self, row_id: object, column_label: str) -> str:
        key = (row_id if isinstance(row_id, tuple) else (row_id,), column_label)
        return self.blanks.get(key, "")

    @property
    def columns(self) -> tuple[TableColumn, ...]:
        return self.spec.columns


def build_tables(paper: Paper, records: list[TrialRecord]) -> dict[str, ReproductionTable]:
    groups = group_trials(records)
    return {name: _build_table(paper, name, groups) for name in paper.tables}


def _row_id(spec: PaperTable, scale: int | None, row: str) -> tuple:
    return (scale, row) if spec.rows_by_scale else (row,)


def _candidates(spec: PaperTable, groups: list[TrialGroup]) -> dict[tuple, list[TrialGroup]]:
    """Row id -> the seed groups whose records feed that row of the table."""
    candidates: dict[tuple, list[TrialGroup]] = {}
    for group in groups:
        for feed in group.first.feeds:
            if feed.table == spec.name:
                candidates.setdefault(_row_id(spec, group.first.config.scale, feed.row), []).append(group)
    return candidates


def _build_table(paper: Paper, name: str, groups: list[TrialGroup]) -> ReproductionTable:
    spec = paper.tables[name]
    inferred = paper.inferred_scales[name].scale if not spec.rows_by_scale else None
    candidates = _candidates(spec, groups)
    # A complexity table is fed by complexity-only trials (parameters, MACs); its PSNR/SSIM come from the trials of
    # its `scores_from` table at the same scale.
    scored = _candidates(paper.tables[spec.scores_from], groups) if spec.scores_from else {}

    paper_rows: list[tuple[tuple, TableRow | None]] = [(_row_id(spec, row.scale, row.key), row) for row in spec.rows]
    known = {row_id for row_id, _ in paper_rows}
    extra = [(row_id, None) for row_id in candidates if row_id not in known]
    if spec.rows_by_scale:  # records of methods the paper lacks go to the end of their scale
        ordered = []
        for scale in sorted({row_id[0] for row_id, _ in paper_rows + extra}):
            ordered += [item for item in paper_rows if item[0][0] == scale]
            ordered += sorted((item for item in extra if item[0][0] == scale), key=lambda item: item[0][1])
        paper_rows = ordered
    else:
        paper_rows += sorted(extra, key=lambda item: item[0])

    ablation = spec.kind == "ablation"
    compares_protocols = spec.kind == "comparison"  # where released weights are scored under several protocols
    counts_macs = any(column.column == "macs" for column in spec.columns)
    fields = FIELDS + (ABLATION_FIELDS if ablation else ()) + (PROTOCOL_FIELDS if compares_protocols else ())
    index = (pd.MultiIndex.from_tuples([row_id for row_id, _ in paper_rows], names=["scale", "method"])
             if spec.rows_by_scale else pd.Index([row_id[0] for row_id, _ in paper_rows], name=spec.row_header))
    columns = pd.MultiIndex.from_tuples([(column.label, field) for column in spec.columns for field in fields],
                                        names=["column", "field"])
    frame = pd.DataFrame(np.nan, index=index, columns=columns, dtype=float)
    info = []
    blanks: dict[tuple[tuple, str], str] = {}
    for position, (row_id, row) in enumerate(paper_rows):
        feeding = candidates[row_id] if row_id in candidates else []
        chosen = max(feeding, key=_preference, default=None)
        others = len(feeding) - (chosen is not None)
        metrics_from = max(scored.get((inferred, row_id[-1]), []), key=_preference, default=None) or chosen
        sources = []
        scored_under = metrics_from.protocols if metrics_from else ()
        authors_protocol = next((protocol for protocol in scored_under[1:]), None)
        for column in spec.columns:
            value = paper.cell_value(name, row.key, column, row.scale) if row else None
            frame.iloc[position, frame.columns.get_loc((column.label, "paper"))] = np.nan if value is None else value
            scores = column.column in METRIC_COLUMNS
            source = metrics_from if scores else chosen or metrics_from
            measured = source.values(column.column, column.dataset) if source else []
            if not measured:
                if chosen is not None or metrics_from is not None:  # a row that ran: say why this cell is empty
                    blanks[(row_id, column.label)] = _blank_reason(spec, column, source, inferred)
                continue
            if source not in sources:
                sources.append(source)
            mean = float(np.mean(measured))
            std = float(np.std(measured, ddof=1)) if len(measured) > 1 else np.nan
            cells = {"reproduced": mean, "n": len(measured), "std": std,
                     "diff": mean - value if value is not None else np.nan,
                     "miss_ratio": miss_ratio(column.column, mean, value, std) if value is not None else np.nan,
                     "budget_limited": float(scores and source.budget_limited)}
            if compares_protocols and column.column in METRIC_COLUMNS and source is metrics_from:
                cells.update(_protocol_cells(column, value, mean, source, authors_protocol))
            for field, cell in cells.items():
                frame.iloc[position, frame.columns.get_loc((column.label, field))] = cell
        notes = []
        for source in sources:
            if not spec.rows_by_scale and source.first.config.scale != inferred:
                notes.append(f"reproduced at ×{source.first.config.scale}; the paper's table is ×{inferred}")
            counted, paper_input = source.first.macs_input, PAPER_MACS_INPUT.to_json(source.first.config.scale)
            if counts_macs and counted is not None and counted != paper_input:
                notes.append(f"MACs counted for a {counted['hr_width']}x{counted['hr_height']} HR output, the paper's "
                             f"for a {PAPER_MACS_INPUT}")
        if others:
            notes.append(f"{others} other run{'s' * (others > 1)} of this row not shown")
        status = "not in paper" if row is None else "reproduced" if sources else "not run"
        info.append({"key": row_id[-1], "label": row.label if row else row_id[-1], "status": status,
                     "trials": [record.trial_id for source in sources for record in source.records],
                     "seeds": sorted({seed for source in sources for seed in source.seeds}),
                     "group": "; ".join(source.label for source in sources),
                     "released_weights": any(source.first.config.weights for source in sources),
                     "iterations": max((source.iterations for source in sources), default=None),
                     "year": str(row.year) if row and row.year else "",
                     "protocols": list(scored_under), "authors_protocol": authors_protocol or "",
                     "note": "; ".join(dict.fromkeys(notes))})
    rows = pd.DataFrame(info, index=index)
    if ablation and spec.reference_row in frame.index:
        _add_reference_deltas(frame, spec)
    scale_note = paper.inferred_scales[name].evidence if not spec.rows_by_scale else "scales as printed"
    return ReproductionTable(name=name, spec=spec, scale_note=scale_note, frame=frame, rows=rows, blanks=blanks)


def _blank_reason(spec: PaperTable, column: TableColumn, source: TrialGroup | None, inferred: int | None) -> str:
    """Why a row that ran has no value in `column`, in words for a tooltip or footnote."""
    if source is None:  # a complexity table's scores come from its `scores_from` table, and none was there
        return (f"no {table_title(spec.scores_from)} ×{inferred} record of this method to take scores from; "
                "a complexity-only trial counts parameters and MACs only")
    record = source.first
    if record.config.mode == "complexity":
        return "complexity-only trial: parameters and MACs, no scores"
    scored = list(record.metrics)
    if not scored:
        return "the trial scored no set"
    if BUNDLED_SET in scored:
        return f"scored on the bundled images instead of {column.dataset}"
    budget = f" (the smoke profile scores {SMOKE_EVAL} only)" if record.config.profile == "smoke" else ""
    return f"not scored on {column.dataset}: the trial scored {', '.join(scored)}{budget}"


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


def _add_reference_deltas(frame: pd.DataFrame, spec: PaperTable) -> None:
    reference = frame.loc[spec.reference_row]
    for column in spec.columns:
        label = column.label
        frame[(label, "delta_ref")] = frame[(label, "reproduced")] - reference[(label, "reproduced")]
        frame[(label, "paper_delta_ref")] = frame[(label, "paper")] - reference[(label, "paper")]
        if column.column not in METRIC_COLUMNS:
            continue  # parameter counts do not vary with the seed
        frame[(label, "spread")] = np.sqrt(frame[(label, "std")] ** 2 + reference[(label, "std")] ** 2)
        beyond = (frame[(label, "delta_ref")].abs() > frame[(label, "spread")]).astype(float)
        # unknown (NaN) where either side has a single seed; the reference row compared with itself is no ablation
        beyond[frame[(label, "spread")].isna() | frame[(label, "delta_ref")].isna()] = np.nan
        beyond[spec.reference_row] = np.nan
        frame[(label, "beyond_spread")] = beyond


def long_form(tables: dict[str, ReproductionTable]) -> pd.DataFrame:
    """One line per cell of every table: table, its title and kind, scale, row, column, dataset and the fields."""
    lines = []
    for name, table in tables.items():
        for row_id in table.frame.index:
            scale, row = row_id if table.spec.rows_by_scale else (None, row_id)
            for column in table.columns:
                cell = table.frame.loc[row_id, column.label]
                lines.append({"table": name, "title": table.spec.label, "kind": table.spec.kind, "scale": scale,
                              "row": row, "column": column.column,
                              "dataset": column.dataset, "label": column.label,
                              "status": table.rows.loc[row_id, "status"], "group": table.rows.loc[row_id, "group"],
                              "released_weights": bool(table.rows.loc[row_id, "released_weights"]),
                              "authors_protocol": table.rows.loc[row_id].get("authors_protocol", ""),
                              **{field: cell.get(field, np.nan)
                                 for field in FIELDS + ABLATION_FIELDS + PROTOCOL_FIELDS}})
    return pd.DataFrame(lines)





