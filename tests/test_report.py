"""`python -m harness report`: the HTML page, its figures and the LaTeX tables, on a synthetic results folder."""

import base64
import dataclasses
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from factories import write_record, write_results

from harness.cli import main
from harness.records import load_records
from harness.reporting import figures
from harness.reporting.latex import latex_escape
from harness.published.paper import load_paper
from harness.reporting.tables import build_tables

FIGURES = {"psnr_vs_mrebs", "psnr_vs_comm_weight", "tradeoff_params", "tradeoff_macs", "training_curves",
           "visual_Set5_x4"}
HOSTILE_MODEL = "<script>alert(1)</script>"
HOSTILE_ROW = "<script>x</script> & $1_000 {50%}"


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = write_results(tmp_path_factory.mktemp("report") / "results")
    write_record(results, "hostile", model=HOSTILE_MODEL, profile="<b>smoke</b>", feeds=[("table5", HOSTILE_ROW)],
                 model_config={"variant": "<script>variant</script>"}, metrics={"Set5": (30.0, 0.85)})
    out = results / "report"
    assert main(["report", "--results", str(results), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def html(report_dir: Path) -> str:
    return (report_dir / "report.html").read_text(encoding="utf-8")


def test_writes_html_figures_and_six_latex_tables(report_dir: Path, html: str) -> None:
    assert {path.stem for path in (report_dir / "figures").glob("*.png")} == FIGURES
    assert sorted(path.name for path in (report_dir / "latex").glob("*.tex")) == [f"table{n}.tex" for n in range(1, 7)]
    # self-contained: every figure is embedded, nothing is linked
    assert html.count('src="data:image/png;base64,') == len(FIGURES)
    for path in (report_dir / "figures").glob("*.png"):
        assert base64.b64encode(path.read_bytes()).decode("ascii") in html
    assert not re.search(r'(src|href)="(?!data:|#)', html)
    for name in ("table1", "table2", "table3", "table4", "table5", "table6"):
        assert f'data-table="{name}"' in html
    for section in ("findings", "conventions", "environment", "visual", "trials"):
        assert f'id="{section}"' in html
    assert "MATLAB rgb2ycbcr" in html and "abc1234" in html and "Test CPU" in html


def test_published_imdn_weights_show_difference_zero(report_dir: Path, html: str) -> None:
    table5 = (report_dir / "latex" / "table5.tex").read_text()
    imdn_x4 = table5.split("Table 5 ($\\times$4)")[1]
    reproduced, difference = imdn_x4.split("IMDN & 2019")[1].splitlines()[1:3]
    # the paper's digits, and a difference of zero without a sign
    assert reproduced.startswith(r"\quad reproduced &  & 715K & 32.21 & 0.8948 & 28.58")
    assert difference == r"\quad difference &  & 0K" + " & 0.00 & 0.0000" * 4 + r" \\"
    assert '<td class="ok" title="32.210">32.21<span class="diff">0.00</span></td>' in html


def test_findings_are_generated(html: str) -> None:
    assert "MREN with network model parameters of only 298K" in html
    assert "Table 5 ×2 MREN parameters = 274K" in html
    assert "miss the paper" in html


def test_html_escapes_names_from_records(html: str) -> None:
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;script&gt;x&lt;/script&gt; &amp; $1_000 {50%}" in html
    assert "&lt;b&gt;smoke&lt;/b&gt;" in html


def test_latex_escapes_every_string(report_dir: Path) -> None:
    table5 = (report_dir / "latex" / "table5.tex").read_text()
    assert "<script" not in table5
    assert r"\textless{}script\textgreater{}x\textless{}/script\textgreater{} \& \$1\_000 \{50\%\}" in table5
    assert latex_escape("a&b%c$d#e_f{g}h~i^j\\k<l>m|n") == (
        r"a\&b\%c\$d\#e\_f\{g\}h\textasciitilde{}i\textasciicircum{}j\textbackslash{}k\textless{}l\textgreater{}m"
        r"\textbar{}n")
    assert latex_escape("×4 −0.1 ± é") == r"$\times$4 $-$0.1 $\pm$ e"


def test_empty_results_folder_reports_paper_only(tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    assert main(["report", "--results", str(tmp_path / "results")]) == 0
    html = (tmp_path / "results" / "report" / "report.html").read_text()
    assert "No visual comparison" in html and "not run" in html
    assert len(list((tmp_path / "results" / "report" / "latex").glob("*.tex"))) == 6


def test_missing_results_folder_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["report", "--results", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    message = "chromium not found (apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


PROBE = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify({
    images: images.length,
    decoded: images.filter(function (image) { return image.complete && image.naturalWidth > 0; }).length,
    tables: Array.prototype.map.call(document.querySelectorAll("table.repro"), function (table) {
      return table.dataset.table + (table.dataset.scale ? "x" + table.dataset.scale : ""); }),
    rows: document.querySelectorAll("table.repro tbody tr").length,
    scripts: document.scripts.length
  });
  document.body.appendChild(probe);
});
</script>"""


@pytest.mark.browser
def test_page_renders_in_headless_chromium(report_dir: Path, html: str, tmp_path: Path) -> None:
    browser = _chromium()
    page = tmp_path / "page.html"
    page.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")  # a copy: the report has no script
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom",
               page.as_uri()]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    probe = json.loads(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S).group(1).replace("&amp;", "&"))
    # Table 5 is one table per scale
    assert probe["tables"] == ["table1", "table2", "table3", "table4", "table5x2", "table5x3", "table5x4", "table6"]
    assert probe["images"] == len(FIGURES) and probe["decoded"] == len(FIGURES)
    assert probe["rows"] > 60
    assert probe["scripts"] == 1  # only the probe: names from records did not become scripts


@pytest.mark.latex
def test_latex_tables_compile_and_fit_the_text_width(report_dir: Path, tmp_path: Path) -> None:
    """Every table in a minimal article with booktabs (and graphicx, for the tables that shrink themselves): it
    compiles, and TeX reports no overfull line, the sign of a table wider than \\textwidth."""
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        message = "pdflatex not installed (apt-get install texlive-latex-base texlive-latex-recommended)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    for path in (report_dir / "latex").glob("*.tex"):
        shutil.copy(path, tmp_path / path.name)
    inputs = "\n".join(rf"\input{{table{n}}}\clearpage" for n in range(1, 7))
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n"
                                      f"\\begin{{document}}\n{inputs}\n\\end{{document}}\n")
    result = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 0
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert all(f"table{n}.tex" in log for n in range(1, 7))
    assert "Overfull \\hbox" not in log, [line for line in log.splitlines() if "Overfull" in line]


# Measures every table against the text column (<main>'s content box) and every cell against its own box; a table
# wider than the column, or a cell whose text overflows, would be cut off (on paper) or need sideways scrolling.
MEASURE = """
function overflowing() {
  var main = document.querySelector("main");
  var style = getComputedStyle(main);
  var right = main.getBoundingClientRect().left + main.clientWidth - parseFloat(style.paddingRight);
  var tables = document.querySelectorAll("main table");
  var wide = [];
  tables.forEach(function (table) {
    var name = table.id || table.dataset.table + (table.dataset.scale ? "x" + table.dataset.scale : "");
    var box = table.parentElement;
    var cells = Array.prototype.filter.call(table.querySelectorAll("th, td"),
                                            function (cell) { return cell.scrollWidth > cell.clientWidth + 1; });
    var scrolls = box.classList.contains("scroll") && box.scrollWidth > box.clientWidth + 0.5;
    if (table.getBoundingClientRect().right > right + 0.5 || scrolls || cells.length) wide.push(name);
  });
  return {tables: tables.length, wide: wide};
}
"""
# A table that cannot fit: the probes must report it, which shows that they can see an overflow at all.
CONTROL_TABLE = '<div class="scroll"><table id="control"><tr><td style="min-width: 3000px">wide</td></tr></table></div>'


def _probe_page(html: str, tmp_path: Path, script: str) -> Path:
    page = tmp_path / "page.html"
    page.write_text(html.replace("</main>", CONTROL_TABLE + "</main>").replace(
        "</body>", "<script>" + MEASURE + script + "</script></body>"), encoding="utf-8")
    return page


def _chromium_command(tmp_path: Path, *options: str) -> list[str]:
    return [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", *options]


@pytest.mark.browser
def test_tables_fit_a_1280px_window(html: str, tmp_path: Path) -> None:
    page = _probe_page(html, tmp_path, """
window.addEventListener("load", function () {
  var probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify(overflowing());
  document.body.appendChild(probe);
});""")
    command = _chromium_command(tmp_path, "--window-size=1280,900", "--virtual-time-budget=10000", "--dump-dom",
                                page.as_uri())
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    probe = json.loads(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S).group(1))
    assert probe["tables"] >= 12  # eight of the paper's (Table 5 per scale), summary, claims, conventions, ...
    assert probe["wide"] == ["control"]


@pytest.mark.browser
def test_printed_pdf_clips_no_table(html: str, tmp_path: Path) -> None:
    """Print to PDF as a reader would. When the print layout applies, the page measures its tables under print media
    and writes the verdict into its title, which Chromium stores as the PDF's /Title."""
    page = _probe_page(html, tmp_path, """
window.matchMedia("print").addListener(function (query) {
  if (!query.matches) return;
  var verdict = overflowing();
  document.title = "printcheck tables=" + verdict.tables + " wide=" + verdict.wide.join(",") + " end";
});""")
    pdf = tmp_path / "report.pdf"
    command = _chromium_command(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)
    titles = re.findall(rb"/Title\s*\((printcheck [^)]*)\)", pdf.read_bytes())
    assert titles, "the print layout never ran the probe"
    verdict = dict(part.split("=") for part in titles[-1].decode("ascii").split()[1:-1])
    assert int(verdict["tables"]) >= 12
    assert verdict["wide"] == "control"


def test_a_tables_kind_and_columns_decide_its_figure(tmp_path: Path) -> None:
    results = write_results(tmp_path / "results")
    write_record(results, "ten", feeds=[("table1", "10")], metrics={"Set5": (32.3, 0.894)}, model_config={"n_mreb": 10})
    paper = load_paper()
    tables = build_tables(paper, load_records(results))
    assert figures.table_figure(tables["table3"]) is None  # its transcription gives it no figure
    comparison = figures.table_figure(tables["table5"])  # rows per scale: a panel per scale
    assert comparison.panels == ("×2", "×3", "×4") and "the paper's Table 5" in comparison.caption
    complexity = figures.table_figure(tables["table6"])  # a panel per PSNR column, against MACs
    assert complexity.panels == ("Set14", "Urban100") and "only the MACs" in complexity.caption
    curve = figures.table_figure(tables["table1"])
    assert curve.name == "psnr_vs_mrebs" and "Rows the paper lacks (10)" in curve.caption
    # the same drawing code on a transcription that prints Set14 only: one panel, no code names a table
    narrowed = paper.tables["table6"].model_copy(update={"columns": tuple(
        column for column in paper.tables["table6"].columns if column.dataset != "Urban100")})
    other = dataclasses.replace(paper, tables={**paper.tables, "table6": narrowed})
    assert figures.table_figure(build_tables(other, load_records(results))["table6"]).panels == ("Set14",)
