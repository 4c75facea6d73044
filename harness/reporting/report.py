"""The reproduction report: one self-contained HTML page (figures embedded as data URIs) and one LaTeX table
(booktabs, harness/reporting/latex.py) per paper table, built from trial records only.

Layout of `out/`: `report.html`, `figures/<name>.png` (the same images the page embeds), `latex/table1.tex` ..
`latex/table6.tex`. Every file is written to a temporary file and renamed.
"""

import base64
import datetime
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from harness.atomic import write_bytes_atomic
from harness.published.paper import Paper, load_paper
from harness.records import load_records
from harness.reporting import figures, visual_comparison
from harness.reporting.budget import training_budget
from harness.reporting.consistency import ClaimCheck, check_claims, consistency_findings
from harness.reporting.findings import Finding, reproduction_findings, summarize
from harness.reporting.model_sources import compare_with_sources, source_findings
from harness.reporting.latex import latex_table
from harness.reporting.tables import build_tables
from harness.reporting.tolerance import MISMATCH_TOLERANCE
from harness.reporting.views import SEVERITY_ORDER, conventions_view, environments_view, table_view


@dataclass
class Report:
    html: str
    latex: dict[str, str]
    figures: list[figures.Figure]
    findings: list[Finding] = field(default_factory=list)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(loader=jinja2.PackageLoader("harness.reporting", "templates"), autoescape=True,
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["data_uri"] = _data_uri
    return environment


def build_report(results_dir: Path, paper: Paper | None = None) -> Report:
    paper = paper or load_paper()
    records = load_records(results_dir)
    tables = build_tables(paper, records)
    views = [table_view(table) for table in tables.values()]
    paper_findings = consistency_findings(paper)
    claims: list[ClaimCheck] = check_claims(paper)
    source_comparisons = compare_with_sources(records)
    repro_findings = reproduction_findings(tables) + source_findings(source_comparisons, records)

    made: list[figures.Figure] = []
    missing: dict[str, str] = {}
    for table in tables.values():
        figure = figures.table_figure(table)
        if figure is not None:
            made.append(figure)
        elif table.spec.figure is not None:
            missing[f"{table.spec.figure.title} ({table.spec.label})"] = f"no record feeds {table.spec.label}"
    curves = figures.training_curves(records)
    if curves is None:
        missing["Training curves"] = "no record carries a training curve (evaluation-only trials)"
    else:
        made.append(curves)
    visuals, visual_notes = visual_comparison.visual_comparisons(Path(results_dir), records)
    if not visuals:
        missing["Visual comparison"] = "no record carries visuals"

    convention_keys = conventions_view(records)
    environments = environments_view(records)
    findings = sorted(paper_findings, key=lambda finding: SEVERITY_ORDER.index(finding.severity))
    repro_sorted = sorted(repro_findings, key=lambda finding: SEVERITY_ORDER.index(finding.severity))
    # the badges count what holds at any budget; findings about reduced-budget training are counted apart
    budget_free = [finding for finding in repro_sorted if not finding.budget_limited]
    budget_limited = [finding for finding in repro_sorted if finding.budget_limited]
    counts = {severity: sum(finding.severity == severity for finding in findings + budget_free)
              for severity in SEVERITY_ORDER}
    html = _environment().get_template("report.html.j2").render(
        generated=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        results_dir=str(results_dir), paper=paper, records=records, tables=views, summaries=summarize(tables),
        paper_findings=findings, reproduction_findings=budget_free, budget_findings=budget_limited,
        budget=training_budget(records, paper), counts=counts, claims=claims,
        figures=made, visuals=visuals, visual_notes=visual_notes, missing=missing,
        conventions=convention_keys, environments=environments, source_comparisons=source_comparisons,
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
