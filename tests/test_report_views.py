"""What the report shows: the training budget kept apart, reasons for blank cells, the paper's digits, best and
second best, captions, conventions that do not change numbers, figures and the visual comparison's crop."""

import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from factories import CONVENTIONS, tid, write_record, write_results
from PIL import Image

from harness.data.benchmark import GENERATED_LR
from harness.evaluation.visuals import candidate_boxes, choose_box
from harness.published.paper import load_paper
from harness.records import load_records
from harness.reporting import figures, visual_comparison
from harness.reporting.findings import reproduction_findings, summarize
from harness.reporting.latex import latex_table
from harness.reporting.numbers import format_diff, format_number, format_precise, format_shown
from harness.reporting.report import build_report
from harness.reporting.tables import build_tables
from harness.reporting.views import conventions_view, table_view


@pytest.fixture()
def results(tmp_path: Path) -> Path:
    return write_results(tmp_path / "results")


# --- numbers ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("column, value, shown, precise", [
    ("psnr_y", 32.1049, "32.10", "32.105"),
    ("ssim_y", 0.89481, "0.8948", "0.89481"),
    ("params", 274_123, "274K", "274.1K"),
    ("macs", 112_640_000_000, "112.6G", "112.64G"),
])
def test_reproduced_numbers_show_the_papers_digits(column: str, value: float, shown: str, precise: str) -> None:
    assert format_shown(column, value) == shown
    assert format_precise(column, value) == precise


def test_no_negative_zero() -> None:
    assert format_diff("psnr_y", -0.001) == "0.00"
    assert format_diff("psnr_y", 0.004) == "0.00"
    assert format_diff("psnr_y", -0.006) == "-0.01"
    assert format_diff("params", -120) == "0K"
    assert format_shown("psnr_y", -0.0001) == "0.00"
    assert format_number("psnr_y", None) == "--" and format_diff("psnr_y", math.nan) == ""


# --- the training budget ------------------------------------------------------------------------------------------

def test_smoke_psnr_misses_are_kept_apart_from_budget_independent_ones(results: Path) -> None:
    tables = build_tables(load_paper(), load_records(results))
    summaries = {summary.name: summary for summary in summarize(tables)}
    # Table 1: smoke-trained PSNR/SSIM miss, parameters match; only the latter count as compared
    assert summaries["table1"].missed == 0 and summaries["table1"].compared == 2
    assert summaries["table1"].limited_missed == 4 and summaries["table1"].limited_compared == 4
    # Table 6: MREN's MACs (60G against the paper's 23.8G) miss at any budget
    assert summaries["table6"].missed == 1
    findings = reproduction_findings(tables)
    mismatches = [finding for finding in findings if finding.severity == "mismatch"]
    assert any("Flops" in item for finding in mismatches for item in finding.items)
    assert not any(finding.budget_limited for finding in mismatches)
    limited = {finding.title.split(":")[0]: finding for finding in findings if finding.rule == "budget-limited"}
    assert "6 PSNR(Set5): reproduced 32.12 ±0.03, paper 32.24 (-0.12; mren x4 smoke, 2 seeds)" in \
        limited["Table 1"].items
    assert limited["Table 1"].severity == "note"
    # released weights hold at any budget: IMDN's scores are compared, not set aside
    imdn = tables["table5"].frame.loc[(4, "IMDN"), ("PSNR(Set5)", "budget_limited")]
    assert imdn == 0


def test_smoke_report_says_so_at_the_top(results: Path) -> None:
    html = build_report(results).html
    banner = html.index('id="budget"')
    assert banner < html.index('id="summary"')
    assert "profile <code>smoke</code> (60 iterations)" in html
    assert "900,000 and 3,000,000 iterations" in html
    assert 'id="budget-limited-findings"' in html
    assert '<td class="limited" title=' in html  # a smoke PSNR beyond tolerance is grey, not red


def test_full_budget_report_holds_psnr_to_the_paper(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_record(results, "paper6", feeds=[("table1", "6")], profile="paper", metrics={"Set5": (31.90, 0.8900)})
    html = build_report(results).html
    assert 'id="budget"' not in html and 'id="budget-limited-findings"' not in html
    summary = {summary.name: summary for summary in summarize(build_tables(load_paper(), load_records(results)))}
    assert summary["table1"].missed == 2 and summary["table1"].limited_compared == 0


# --- blank cells ------------------------------------------------------------------------------------------------

def test_every_blank_cell_of_a_row_that_ran_has_a_reason(results: Path) -> None:
    write_record(results, "bundled", model="carn", feeds=[("table5", "CARN (retrained)")],
                 metrics={"bundled": (25.0, 0.7)})
    tables = build_tables(load_paper(), load_records(results))
    table5 = tables["table5"]
    assert table5.blank_reason((2, "MREN"), "PSNR(Set5)") == (
        "not scored on Set5: the trial scored Set14, Urban100 (the smoke profile scores Set5 only)")
    assert table5.blank_reason((4, "CARN (retrained)"), "PSNR(Set5)") == (
        "scored on the bundled images instead of Set5")
    for name, table in tables.items():
        view = table_view(table)
        for row in view.rows:
            if row.status == "not run":
                continue
            for cell in row.reproduced:
                assert cell.text or (cell.blank and cell.footnote), (name, row.key)
    html = build_report(results).html
    assert '<td class="blank" title="scored on the bundled images instead of Set5">n/a<sup>' in html
    assert '<td class="notrun" title="no trial record feeds this row">' in html


# --- best, second best, captions --------------------------------------------------------------------------------------

def test_best_and_second_best_of_the_papers_rows(results: Path) -> None:
    views = {name: table_view(table) for name, table in build_tables(load_paper(), load_records(results)).items()}
    table1 = {row.key: row for row in views["table1"].rows}
    assert table1["6"].paper[0].rank == 1 and table1["8"].paper[0].rank == 2  # PSNR 32.24, 32.21
    assert table1["8"].paper[1].rank == 1 and table1["6"].paper[1].rank == 2  # SSIM 0.8944, 0.8943
    assert table1["3"].paper[0].rank == 0
    assert table1["6"].paper[2].rank == 0  # parameters are not ranked
    x4 = {row.key: row for row in views["table5"].sections[2].rows}
    assert views["table5"].sections[2].scale == 4
    assert x4["MREN-L"].paper[1].rank == 1 and x4["MREN"].paper[1].rank == 2  # Set5 PSNR 32.33, 32.24
    assert all(cell.rank == 0 for row in views["table5"].rows for cell in row.reproduced)
    latex = latex_table(views["table5"])
    assert r"\textbf{32.33}" in latex and r"\underline{32.24}" in latex


def test_caption_says_std_only_with_several_seeds(results: Path) -> None:
    views = {name: table_view(table) for name, table in build_tables(load_paper(), load_records(results)).items()}
    assert views["table1"].sections[0].several_seeds  # rows 3 and 6 have two seeds
    assert not any(section.several_seeds for section in views["table5"].sections)
    assert "± std" in latex_table(views["table1"]).replace(r"$\pm$", "±")
    assert r"$\pm$" not in latex_table(views["table5"])
    html = build_report(results).html
    table5 = html[html.index('id="table5"'):html.index('id="table6"')]
    assert "mean over seeds ± std" not in table5
    table1 = html[html.index('id="table1"'):html.index('id="table2"')]
    assert "mean over seeds ± std" in table1


# --- conventions --------------------------------------------------------------------------------------------------

def _with_lr_source(results: Path, handle: str, lr_source: str, seed: int) -> None:
    record = write_record(results, handle, seed=seed, feeds=[("table1", "6")])
    path = results / "trials" / f"{tid(handle)}.json"
    record["metrics"]["Set5"]["conventions"] = {**CONVENTIONS, "crop_border": 4, "lr_source": lr_source}
    path.write_text(json.dumps(record))


def test_lr_from_a_matlab_folder_and_the_harness_bicubic_are_one_convention(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _with_lr_source(results, "folder", "folder Set5/LR_bicubic/X4", 0)
    _with_lr_source(results, "made", GENERATED_LR, 1)
    lr = {view.key: view for view in conventions_view(load_records(results))}["lr_source"]
    assert len(lr.values) == 2 and not lr.varies and "bit for bit" in lr.same_numbers
    _with_lr_source(results, "other", "folder Set5/LQ", 2)  # a folder of unknown making does change numbers
    lr = {view.key: view for view in conventions_view(load_records(results))}["lr_source"]
    assert lr.varies


# --- figures ------------------------------------------------------------------------------------------------------

def test_scatter_zooms_on_the_cluster_and_names_the_outliers() -> None:
    x = np.array([57, 250, 300, 450, 530, 600, 700, 680])
    y = np.array([30.48, 32.0, 32.24, 32.1, 32.0, 31.9, 32.2, 32.1])  # SRCNN far below
    far = figures._outliers(x, y)
    assert far.tolist() == [True] + [False] * 7
    table5 = build_tables(load_paper(), [])["table5"]
    assert "off the axes: ×2 SRCNN" in figures.table_figure(table5).caption


def test_labels_do_not_overlap() -> None:
    figure, axis = plt.subplots(figsize=(4, 3))
    axis.set(xlim=(0, 10), ylim=(0, 10))
    points = [(5.0, 5.0), (5.1, 5.05), (5.2, 4.95), (4.9, 5.0), (5.05, 5.1)]  # a crowded cluster, as MREN's
    figures._place_labels(axis, [(x, y, f"method{index}", {"fontsize": 7}) for index, (x, y) in enumerate(points)])
    renderer = figure.canvas.get_renderer()
    boxes = [text.get_window_extent(renderer) for text in axis.texts]
    assert len(boxes) == len(points)
    for first in range(len(boxes)):
        for second in range(first + 1, len(boxes)):
            assert figures._overlap(boxes[first], boxes[second]) == 0
    plt.close(figure)


def test_training_curves_are_grouped_per_table(results: Path) -> None:
    panels = figures.curve_panels([record for record in load_records(results) if record.training])
    assert list(panels)[:4] == ["table1", "table2", "table3", "table4"]
    assert sorted(label for label, _ in panels["table1"]) == ["3", "3", "6", "6"]  # two seeds each
    assert sorted(label for label, _ in panels["table5"]) == ["MREN ×2", "MREN ×4"]


# --- the visual comparison ----------------------------------------------------------------------------------------

def test_candidate_windows_do_not_overlap_and_start_with_the_box() -> None:
    hr = np.random.default_rng(1).integers(0, 256, (200, 260, 3), dtype=np.uint8)
    boxes = candidate_boxes(hr)
    assert len(boxes) == 6 and boxes[0] == choose_box(hr)
    assert not any(first.overlaps(second) for index, first in enumerate(boxes) for second in boxes[index + 1:])


def _save(results: Path, name: str, pixels: np.ndarray) -> str:
    path = results / "visuals" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return f"visuals/{name}"


def test_visual_comparison_crops_where_the_methods_differ(tmp_path: Path) -> None:
    results = tmp_path / "results"
    windows = [[0, 0, 16, 16], [0, 32, 16, 16], [32, 0, 16, 16]]
    rng = np.random.default_rng(0)
    hr = rng.integers(60, 200, (48, 16, 3))  # three 16x16 crops, stacked
    shared = {"image": "baby", "box": windows[0], "candidates": windows, "image_size": [64, 64],
              "hr_file": _save(results, "hr_candidates.png", hr),
              "bicubic_file": _save(results, "bicubic_candidates.png", hr // 2 + 40),
              "overview_file": _save(results, "overview.png", rng.integers(0, 256, (32, 32, 3)))}
    for index, model in enumerate(["imdn", "mren"]):
        sr = hr.copy()
        sr[32:] = np.clip(hr[32:] + (index * 2 - 1) * 30, 0, 255)  # the third window: one too bright, one too dark
        sr[:16] = np.clip(hr[:16] + 3, 0, 255)  # the first (the HR's own pick): both wrong alike
        visual = {**shared, "file": _save(results, f"{model}.png", sr)}
        write_record(results, model, model=model, feeds=[("table5", model.upper())], visuals={"Set5": visual})
    made, notes = visual_comparison.visual_comparisons(results, load_records(results))
    assert notes == [] and len(made) == 1
    assert "at (32, 0)" in made[0].caption and "differ most" in made[0].caption
    assert "boxed in red on the whole image" in made[0].caption
    titles = made[0].panels
    assert titles[:2] == ("baby (whole)", "HR")
    assert [title.split("\n")[0] for title in titles[2:]] == ["Bicubic", "IMDN", "MREN"]
    assert all(title.endswith(" dB") for title in titles[2:])
