"""`python -m harness export`: one tidy table of the records, in CSV, Markdown and JSON, conventions in the header."""

import csv
import io
import json
from pathlib import Path

import pandas
import pytest
from factories import IMDN_X4, tid, write_results

from harness import cli
from harness.published.paper import load_paper


@pytest.fixture()
def results(tmp_path: Path) -> Path:
    return write_results(tmp_path / "results")


def export(capsys, results: Path, form: str, *more: str) -> str:
    assert cli.main(["export", "--results", str(results), "--format", form, *more]) == 0
    return capsys.readouterr().out


def rows_from_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def paper_imdn_x4(dataset: str) -> tuple[float, float]:
    paper = load_paper()
    table = paper.tables["table5"]
    row = next(row for row in table.rows if row.key == "IMDN" and row.scale == 4)
    values = [paper.cell_value("table5", row.key, column, 4) for column in table.columns
              if column.dataset == dataset and column.column in ("psnr_y", "ssim_y")]
    return tuple(values)


def test_json_has_a_row_per_trial_and_set_with_the_paper_value(capsys, results: Path) -> None:
    data = json.loads(export(capsys, results, "json"))
    rows = data["rows"]
    imdn = {row["set"]: row for row in rows if row["trial_id"] == tid("imdn4")}
    assert set(imdn) == set(IMDN_X4)  # one row per evaluation set of the trial
    for dataset, (psnr, ssim) in IMDN_X4.items():
        paper_psnr, paper_ssim = paper_imdn_x4(dataset)
        row = imdn[dataset]
        assert (row["psnr_y"], row["ssim_y"], row["params"], row["scale"]) == (psnr, ssim, 715_000, 4)
        assert row["paper_row"] == "table5:IMDN" and row["feeds"] == "table5:IMDN"
        assert row["paper_psnr_y"] == paper_psnr and row["diff_psnr_y"] == pytest.approx(psnr - paper_psnr)
        assert row["paper_ssim_y"] == paper_ssim and row["diff_ssim_y"] == pytest.approx(ssim - paper_ssim)
    # A complexity-only trial has one row, without a set, for its parameters and MACs.
    [macs] = [row for row in rows if row["trial_id"] == tid("mren2macs")]
    assert macs["set"] is None and macs["macs"] == 60_000_000_000
    # Without a paper value there is no difference.
    assert all(row["diff_psnr_y"] is None and row["paper_psnr_y"] is None for row in rows if row["paper_row"] is None)
    metadata = data["metadata"]
    assert metadata["rows"] == len(rows)
    assert metadata["conventions"]["psnr_peak"] == 255 and "SSIM" not in metadata["conventions"]
    assert "fvcore" in metadata["conventions"]["macs"]
    assert set(metadata["columns"]) == set(rows[0])


def test_csv_opens_in_pandas_as_written_with_its_conventions_beside_it(capsys, results: Path, tmp_path: Path) -> None:
    out = tmp_path / "table.csv"
    assert cli.main(["export", "--results", str(results), "--format", "csv", "--out", str(out)]) == 0
    assert "table.conventions.json" in capsys.readouterr().err
    frame = pandas.read_csv(out)  # no options: a comment line would be taken for data and break the columns
    reference = json.loads(export(capsys, results, "json"))
    assert list(frame.columns) == list(reference["metadata"]["columns"]) and len(frame) == len(reference["rows"])
    assert not out.read_text().startswith("#")
    sidecar = json.loads((tmp_path / "table.conventions.json").read_text())
    assert sidecar["data"] == "table.csv" and sidecar["rows"] == len(frame)
    assert sidecar["conventions"] == reference["metadata"]["conventions"]
    assert sidecar["conventions"]["psnr_peak"] == 255 and "crop_border" in sidecar["conventions"]


def test_csv_to_standard_output_writes_conventions_where_told(capsys, results: Path, tmp_path: Path) -> None:
    assert cli.main(["export", "--results", str(results), "--format", "csv"]) == 0
    printed = capsys.readouterr()
    assert "conventions were not written" in printed.err
    rows = rows_from_csv(printed.out)
    text = export(capsys, results, "csv", "--conventions", str(tmp_path / "c.json"))
    assert rows_from_csv(text) == rows
    assert json.loads((tmp_path / "c.json").read_text())["data"] is None
    assert cli.main(["export", "--results", str(results), "--format", "json", "--conventions",
                     str(tmp_path / "x.json")]) == 2 and not (tmp_path / "x.json").exists()


def test_csv_has_the_same_rows_as_json(capsys, results: Path) -> None:
    rows = rows_from_csv(export(capsys, results, "csv"))
    reference = json.loads(export(capsys, results, "json"))["rows"]
    assert len(rows) == len(reference)
    for row, expected in zip(rows, reference):
        assert row["trial_id"] == expected["trial_id"] and row["set"] == (expected["set"] or "")
        if expected["psnr_y"] is not None:
            assert float(row["psnr_y"]) == expected["psnr_y"]
        if expected["diff_psnr_y"] is not None:
            assert float(row["diff_psnr_y"]) == pytest.approx(expected["diff_psnr_y"])


def test_crop_border_that_differs_between_rows_says_so(capsys, results: Path) -> None:
    # mren2 is scored at x2 (crop 2), the others at x4 (crop 4)
    conventions = json.loads(export(capsys, results, "json"))["metadata"]["conventions"]
    assert conventions["crop_border"].startswith("varies")


def test_markdown_has_a_preamble_and_a_pipe_table(capsys, results: Path, tmp_path: Path) -> None:
    out = tmp_path / "table.md"
    assert export(capsys, results, "markdown", "--out", str(out)) == ""
    text = out.read_text()
    preamble = [line for line in text.splitlines() if line.startswith(">")]
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert any("psnr_peak: 255" in line for line in preamble)
    reference = json.loads(export(capsys, results, "json"))["rows"]
    assert len(table) == 2 + len(reference)  # header, rule, one line per row
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    imdn_set5 = next(line for line in table[2:] if tid("imdn4") in line and "| Set5 |" in line)
    cells = dict(zip(header, [cell.strip() for cell in imdn_set5.strip("|").split("|")]))
    assert cells["psnr_y"] == f"{IMDN_X4['Set5'][0]:.2f}" and cells["paper_row"] == "table5:IMDN"


def test_no_records_is_one_line(capsys, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert cli.main(["export", "--results", str(tmp_path / "empty"), "--format", "csv"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no trial records") and err.count("\n") == 1
