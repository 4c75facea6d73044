"""The transcription of the paper's Tables 1-6 and the rules that find where the paper contradicts itself."""

import collections
import dataclasses
from pathlib import Path

import pytest

from harness.published.paper import CellRef, Paper, load_paper
from harness.reporting.consistency import check_claims, consistency_findings

VALUES_PER_TABLE = {
    "table1": 6 * 3,  # MREBs 3..8 x (PSNR, SSIM, parameters)
    "table2": 11 * 2,  # weights 0..1 x (PSNR, SSIM)
    "table3": 4 * 3,
    "table4": 4 * 3,
    "table5": (18 + 18 + 19) * 9,  # x2, x3, x4 (EFDN only at x4) x (parameters + 4 sets x (PSNR, SSIM))
    "table6": 8 * 6,  # parameters, Flops, Set14 and Urban100 PSNR/SSIM
}


@pytest.fixture(scope="module")
def paper() -> Paper:
    return load_paper()


def test_number_of_values_per_table(paper: Paper) -> None:
    assert collections.Counter(value.table for value in paper.values) == VALUES_PER_TABLE


def test_every_cell_of_every_table_is_transcribed(paper: Paper) -> None:
    for name, table in paper.tables.items():
        for row in table.rows:
            for column in table.columns:
                ref = CellRef(table=name, row=row.key, column=column.column, dataset=column.dataset, scale=row.scale)
                assert paper.lookup(ref) is not None, ref


def test_spot_values(paper: Paper) -> None:
    assert paper.value("table2", "0.7", "psnr_y", "Set5").value == 32.14
    assert paper.value("table2", "0.7", "ssim_y", "Set5").value == 0.8931
    assert paper.value("table5", "MREN-L", "ssim_y", "Urban100", 3).value == 0.8506
    flops = paper.value("table6", "MREN-L", "macs")
    assert (flops.value, flops.printed) == (46_300_000_000, "46.3G")
    params = paper.value("table1", "6", "params")
    assert (params.value, params.printed) == (298_000, "298K")
    assert paper.value("table3", "OCA", "params").value == 375_000
    assert paper.value("table4", "Distillation block + Sigmoid", "psnr_y", "Set5").value == 32.20
    assert paper.value("table5", "MREN", "params", None, 2).value == 274_000
    assert paper.value("table5", "MREN-L", "params", None, 4).value == 579_000
    assert paper.value("table5", "EFDN", "psnr_y", "Set5", 4).value == 32.08


def test_imdn_rows(paper: Paper) -> None:
    published = {2: (694_000, 38.00, 0.9605, 32.17, 0.9283), 3: (703_000, 34.36, 0.9270, 28.17, 0.8519),
                 4: (715_000, 32.21, 0.8948, 26.04, 0.7838)}
    for scale, (params, set5_psnr, set5_ssim, urban_psnr, urban_ssim) in published.items():
        assert paper.value("table5", "IMDN", "params", None, scale).value == params
        assert paper.value("table5", "IMDN", "psnr_y", "Set5", scale).value == set5_psnr
        assert paper.value("table5", "IMDN", "ssim_y", "Set5", scale).value == set5_ssim
        assert paper.value("table5", "IMDN", "psnr_y", "Urban100", scale).value == urban_psnr
        assert paper.value("table5", "IMDN", "ssim_y", "Urban100", scale).value == urban_ssim
    assert paper.value("table6", "IMDN", "macs").value == 158_800_000_000


def test_missing_values_are_null(paper: Paper) -> None:
    missing = [(value.row, value.scale) for value in paper.values if value.value is None]
    assert sorted(missing) == [("CFSRCNN", 3), ("CFSRCNN", 4), ("ESRGCNN", 3), ("ESRGCNN", 4)]
    assert all(value.printed == "--" for value in paper.values if value.value is None)


def test_row_names_match_the_records_format(paper: Paper) -> None:
    assert [row.key for row in paper.tables["table1"].rows] == ["3", "4", "5", "6", "7", "8"]
    assert [row.key for row in paper.tables["table2"].rows] == [f"{weight / 10:.1f}" for weight in range(11)]
    assert [row.key for row in paper.tables["table3"].rows] == ["OSA", "OCA", "SCNC", "SCACB"]
    assert [row.key for row in paper.tables["table4"].rows][-1] == "DRACB"
    assert {"IMDN", "MREN", "MREN-L", "CARN", "SRCNN", "VDSR"} <= {row.key for row in paper.tables["table5"].rows}


def test_transcription_matches_the_paper_text(paper: Paper, shared_dir: Path) -> None:
    lines = (shared_dir / "paper" / "mren-paper.txt").read_text(encoding="utf-8").splitlines()
    for value in paper.values:
        assert value.printed in lines[value.line - 1].split(), (value, lines[value.line - 1])
    for name in ("table5", "table6"):
        per_line = collections.Counter(value.line for value in paper.values if value.table == name)
        for line, count in per_line.items():
            numbers = [token for token in lines[line - 1].split() if token[0].isdigit() or token == "--"]
            years = sum(token.isdigit() and len(token) == 4 for token in numbers)
            assert count == len(numbers) - years, lines[line - 1]


def test_inferred_scales(paper: Paper) -> None:
    scales = {name: inference.scale for name, inference in paper.inferred_scales.items()}
    assert scales == {"table1": 4, "table2": 4, "table3": 4, "table4": 4, "table6": 2}


def _titles(findings) -> str:
    return "\n".join(f"{finding.title} {finding.detail} {' '.join(finding.items)}" for finding in findings)


def test_findings_catch_the_known_contradictions(paper: Paper) -> None:
    findings = consistency_findings(paper)
    text = _titles(findings)
    # MREN: 298K in the text and Tables 1, 3, 4, 5 (x3, x4); 274K in Table 5 x2 and Table 6
    assert "MREN with network model parameters of only 298K" in text
    assert "Table 5 ×2 MREN parameters = 274K" in text and "Table 6 MREN parameters = 274K" in text
    # MREN-L: 531K in the text, Table 5 x2 and Table 6; 579K at x3 and x4
    assert "with 531 K parameters" in text and "Table 5 ×3 MREN-L parameters = 579K" in text
    assert "MREN-L's parameter count is equal at two scales" in text
    assert "0.33 dB higher than that of HPUN-S" in text and "= 0.24" in text
    assert "MREN and MREN-L print the same ×3 Set5 result (34.42 / 0.9265)" in text
    assert "ESRGCNN ×3 Urban100: PSNR and SSIM disagree" in text
    assert "MREN's Flops are 0.41×" in text
    assert "although trained 900 instead of 3000 epochs" in text
    contradictions = [finding for finding in findings if finding.severity == "contradiction"]
    assert len(contradictions) == 5


def test_claims_that_hold_are_not_findings(paper: Paper) -> None:
    checks = {check.claim.id: check for check in check_claims(paper)}
    assert checks["mren-l-163k-below-imdn"].holds
    assert checks["mren-flops-52pct-hpun"].holds
    assert checks["table2-0.2-second-ssim"].holds
    assert not checks["mren-x4-set5-0.33db-over-hpun"].holds


def test_findings_follow_the_data_not_prose(paper: Paper) -> None:
    """Correct the transcription and the finding goes away: the rules read numbers, they do not carry conclusions."""
    fixed_values = tuple(
        value.model_copy(update={"value": 298_000, "printed": "298K"})
        if value.row == "MREN" and value.column == "params" and value.table in ("table5", "table6") else value
        for value in paper.values)
    fixed = dataclasses.replace(paper, values=fixed_values)
    text = _titles(consistency_findings(fixed))
    assert "MREN with network model parameters of only 298K" not in text
    assert "MREN's parameter count is equal at two scales" not in text
    assert "MREN-L's parameter count is equal at two scales" in text
