"""The reproduction report: one self-contained HTML page (figures embedded as data URIs) and one LaTeX table
(booktabs) per paper table, built from trial records only.

Layout of `out/`: `report.html`, `figures/<name>.png` (the same images the page embeds), `latex/table1.tex` ..
`latex/table6.tex`. Every file is written to a temporary file and renamed.
"""

import base64
import collections
import datetime
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import numpy as np

from harness import figures
from harness.atomic import write_bytes_atomic
from harness.paper import (ABLATION_TABLES, TABLE_NAMES, ClaimCheck, Finding, Paper, check_claims,
                           consistency_findings, format_number, load_paper)
from harness.tables import (EXACT_AUTHORS, EXACT_PRIMARY, MISMATCH_TOLERANCE, ReproductionTable, TrialRecord,
                            build_tables, format_diff, format_value, load_records, reproduction_findings, summarize,
                            tolerance_for)

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
            reproduced_cells.append(_reproduced_cell(column.column, cell, table.name in ABLATION_TABLES
                                                     and not is_reference, str(info.get("authors_protocol", ""))))
        rows.append(RowView(key=str(info["key"]), label=str(info["label"]), year=str(info["year"]),
                            status=str(info["status"]), paper=paper_cells, reproduced=reproduced_cells,
                            group=str(info["group"]), trials=list(info["trials"]), note=str(info["note"]),
                            scale=row_id[0] if table.name == "table5" else None))
    return TableView(name=table.name, number=table.name[-1], title=spec.title, row_header=spec.row_header,
                     headers=[column.label for column in spec.columns], has_year=table.name == "table5",
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
        verdict = "ok" if abs(cell["diff"]) <= tolerance_for(column, cell["paper"], cell["std"]) else "off"
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


# --- LaTeX --------------------------------------------------------------------------------------------------------

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
    "|": r"\textbar{}", "×": r"$\times$", "−": r"$-$", "±": r"$\pm$", "Δ": r"$\Delta$", "“": "``", "”": "''",
    "’": "'", "–": "--", "—": "---", "\n": " ",
}


def latex_escape(text: str) -> str:
    """Any string as LaTeX text: specials escaped, other non-ASCII characters reduced to ASCII (pdflatex's default
    fonts lack them)."""
    out = []
    for char in str(text):
        if char in _LATEX_SPECIALS:
            out.append(_LATEX_SPECIALS[char])
        elif ord(char) < 128:
            out.append(char)
        else:
            out.append(unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii") or "?")
    return "".join(out)


def latex_table(view: TableView) -> str:
    """A booktabs table: per paper row, the paper's line and the reproduced line (mean, ± std over seeds, difference
    from the paper). Table 5 is one float per scale, so each fits a page."""
    if view.name == "table5":
        scales = sorted({row.scale for row in view.rows})
        parts = [_latex_float(view, [row for row in view.rows if row.scale == scale], f" (×{scale})")
                 for scale in scales]
        return "\n".join(parts)
    return _latex_float(view, view.rows, "")


def _latex_header(view: TableView) -> list[str]:
    """The paper's own header layout: one row of labels, or (Tables 5 and 6) sets over PSNR/SSIM."""
    e = latex_escape
    lead = [e(view.row_header)] + (["Year"] if view.has_year else [])
    if len({dataset for dataset in view.datasets if dataset}) <= 1:
        return [" & ".join(lead + [e(header) for header in view.headers]) + r" \\"]
    top, rules, bottom = [""] * len(lead), [], list(lead)
    position = len(lead)
    groups: list[tuple[str | None, int]] = []
    for dataset in view.datasets:
        if dataset and groups and groups[-1][0] == dataset:
            groups[-1] = (dataset, groups[-1][1] + 1)
        else:
            groups.append((dataset, 1))
    index = 0
    for dataset, width in groups:
        if dataset:
            top.append(r"\multicolumn{" + str(width) + "}{c}{" + e(dataset) + "}")
            rules.append(rf"\cmidrule(lr){{{position + 1}-{position + width}}}")
            bottom += [e(COLUMN_SHORT[view.metrics[index + offset]]) for offset in range(width)]
        else:
            top.append("")
            bottom.append(e(view.headers[index]))
        position += width
        index += width
    return [" & ".join(top) + r" \\", " ".join(rules), " & ".join(bottom) + r" \\"]


def _latex_float(view: TableView, rows: list[RowView], suffix: str) -> str:
    e = latex_escape
    lead = 1 + view.has_year
    columns = "l" * lead + "r" * len(view.headers)
    caption = (f"The paper's Table {view.number}{suffix}: {view.title}. Under a reproduced row, the mean over seeds "
               "(± std) and its difference from the paper; other rows were not run.")
    lines = [
        "% generated by `python -m harness report`",
        r"\begin{table}[htbp]",
        r"\centering",
        r"\scriptsize" if view.name == "table5" else r"\small",
        r"\setlength{\tabcolsep}{3.5pt}",
        r"\caption{" + e(caption) + "}",
        r"\label{tab:repro-" + view.name + ("-x" + suffix.strip(" ()×") if suffix else "") + "}",
        r"\begin{tabular}{" + columns + "}",
        r"\toprule",
        *_latex_header(view),
        r"\midrule",
    ]
    blank = [""] * (lead - 1)
    for index, row in enumerate(rows):
        label = e(row.label) + (" (ref.)" if row.key == view.reference_row else "") + (
            " (not in paper)" if row.status == "not in paper" else "")
        lines.append(" & ".join([label] + ([e(row.year)] if view.has_year else [])
                                + [e(cell.text) for cell in row.paper]) + r" \\")
        if row.status != "not run":
            means = [e(cell.text) + (r"$\pm$" + e(cell.spread) if cell.spread else "") for cell in row.reproduced]
            lines.append(" & ".join([r"\quad " + e("reproduced")] + blank + means) + r" \\")
            diffs = [e(cell.diff.replace("-", "−")) for cell in row.reproduced]
            lines.append(" & ".join([r"\quad " + e("difference")] + blank + diffs) + r" \\")
        if index < len(rows) - 1:
            lines.append(r"\addlinespace[2pt]" if row.status != "not run" else "")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(line for line in lines if line) + "\n"


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
    flat = [_flatten(record.environment) for record in records]
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


# --- the page -------------------------------------------------------------------------------------------------------

@dataclass
class Report:
    html: str
    latex: dict[str, str]
    figures: list[figures.Figure]
    findings: list[Finding] = field(default_factory=list)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(loader=jinja2.PackageLoader("harness", "templates"), autoescape=True,
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["data_uri"] = _data_uri
    return environment


def build_report(results_dir: Path, paper: Paper | None = None) -> Report:
    paper = paper or load_paper()
    records = load_records(results_dir)
    tables = build_tables(paper, records)
    views = [table_view(tables[name]) for name in TABLE_NAMES]
    paper_findings = consistency_findings(paper)
    claims: list[ClaimCheck] = check_claims(paper)
    repro_findings = reproduction_findings(tables)

    made: list[figures.Figure] = []
    missing: dict[str, str] = {}
    for name, table, title, x_label in [
            ("psnr_vs_mrebs", tables["table1"], "PSNR against the number of MREBs (Table 1)", "number of MREBs"),
            ("psnr_vs_comm_weight", tables["table2"], "PSNR against the communication weight (Table 2)",
             "communication weight")]:
        figure = figures.ablation_curve(table, name, title, x_label)
        if figure is None:
            missing[title] = f"no record feeds {title.split('(')[-1].rstrip(')')}"
        else:
            made.append(figure)
    made += [figures.tradeoff_params(tables["table5"]), figures.tradeoff_macs(tables["table6"])]
    curves = figures.training_curves(records)
    if curves is None:
        missing["Training curves"] = "no record carries a training curve (evaluation-only trials)"
    else:
        made.append(curves)
    visuals, visual_notes = figures.visual_comparisons(Path(results_dir), records)
    if not visuals:
        missing["Visual comparison"] = "no record carries visuals"

    convention_keys = conventions_view(records)
    environments = environments_view(records)
    findings = sorted(paper_findings, key=lambda finding: SEVERITY_ORDER.index(finding.severity))
    repro_sorted = sorted(repro_findings, key=lambda finding: SEVERITY_ORDER.index(finding.severity))
    counts = {severity: sum(finding.severity == severity for finding in findings + repro_sorted)
              for severity in SEVERITY_ORDER}
    html = _environment().get_template("report.html.j2").render(
        generated=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        results_dir=str(results_dir), paper=paper, records=records, tables=views, summaries=summarize(tables),
        paper_findings=findings, reproduction_findings=repro_sorted, counts=counts, claims=claims,
        figures=made, visuals=visuals, visual_notes=visual_notes, missing=missing,
        conventions=convention_keys, environments=environments,
        tolerance=MISMATCH_TOLERANCE, epochs=paper.training_epochs)
    latex = {view.name: latex_table(view) for view in views}
    return Report(html=html, latex=latex, figures=made + visuals, findings=findings + repro_sorted)


def write_report(report: Report, out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    files = {out_dir / "figures" / f"{figure.name}.png": figure.png for figure in report.figures}
    files.update({out_dir / "latex" / f"{name}.tex": text.encode("utf-8") for name, text in report.latex.items()})
    files[out_dir / "report.html"] = report.html.encode("utf-8")  # last: the page appears once its parts exist
    for path, data in files.items():
        write_bytes_atomic(path, data)
    figure_dir = out_dir / "figures"
    for stale in sorted(figure_dir.glob("*.png")):
        if stale not in files:  # a figure of an earlier report that this one no longer draws
            stale.unlink()
    return list(files)
