"""Aggregation of trial records into the paper's tables."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from factories import tid, write_record, write_results

from harness.errors import UserError
from harness.published.paper import load_paper
from harness.records import load_records
from harness.reporting.findings import reproduction_findings
from harness.reporting.tables import build_tables, long_form


@pytest.fixture()
def results(tmp_path: Path) -> Path:
    return write_results(tmp_path / "results")


def test_tables_mirror_the_paper(results: Path) -> None:
    paper = load_paper()
    tables = build_tables(paper, load_records(results))
    assert list(tables) == [f"table{n}" for n in range(1, 7)]
    for name, table in tables.items():
        paper_labels = [column.label for column in paper.tables[name].columns]
        assert list(dict.fromkeys(table.frame.columns.get_level_values("column"))) == paper_labels
        paper_rows = [(row.scale, row.key) if name == "table5" else row.key for row in paper.tables[name].rows]
        assert [row for row in table.frame.index if row in set(paper_rows)] == paper_rows
    table5 = tables["table5"]
    assert table5.rows.loc[(4, "Bicubic"), "status"] == "not in paper"
    assert table5.rows.loc[(3, "MREN"), "status"] == "not run"
    assert table5.frame.loc[(3, "MREN"), ("PSNR(Set5)", "paper")] == 34.42
    assert math.isnan(table5.frame.loc[(3, "MREN"), ("PSNR(Set5)", "reproduced")])


def test_published_imdn_weights_differ_by_zero(results: Path) -> None:
    table5 = build_tables(load_paper(), load_records(results))["table5"]
    imdn = table5.frame.loc[(4, "IMDN")]
    for dataset in ("Set5", "Set14", "B100", "Urban100"):
        assert imdn[(f"PSNR({dataset})", "diff")] == pytest.approx(0, abs=1e-9)
        assert imdn[(f"SSIM({dataset})", "diff")] == pytest.approx(0, abs=1e-9)
    assert imdn[("parameters", "diff")] == 0


def test_seeds_give_mean_std_and_significance(results: Path) -> None:
    table1 = build_tables(load_paper(), load_records(results))["table1"]
    six = table1.frame.loc["6", "PSNR(Set5)"]
    assert six["reproduced"] == pytest.approx(32.12)
    assert six["std"] == pytest.approx(np.std([32.10, 32.14], ddof=1))
    assert six["n"] == 2 and six["diff"] == pytest.approx(32.12 - 32.24)
    three = table1.frame.loc["3", "PSNR(Set5)"]
    assert three["delta_ref"] == pytest.approx(-0.20)
    assert three["paper_delta_ref"] == pytest.approx(32.06 - 32.24)
    assert three["spread"] == pytest.approx(math.sqrt(2) * six["std"])
    assert three["beyond_spread"] == 1.0
    assert table1.rows.loc["3", "seeds"] == [0, 1]
    assert table1.rows.loc["8", "status"] == "not run"
    # a single-seed ablation has no spread to compare with
    osa = build_tables(load_paper(), load_records(results))["table3"].frame.loc["OSA", "PSNR(Set5)"]
    assert math.isnan(osa["spread"]) and math.isnan(osa["beyond_spread"])


def test_table5_scale_comes_from_the_record(results: Path) -> None:
    tables = build_tables(load_paper(), load_records(results))
    assert tables["table5"].frame.loc[(2, "MREN"), ("PSNR(Set14)", "reproduced")] == pytest.approx(33.50)
    assert tables["table5"].frame.loc[(4, "MREN"), ("PSNR(Set14)", "reproduced")] == pytest.approx(28.48)
    assert math.isnan(tables["table5"].frame.loc[(3, "MREN"), ("PSNR(Set14)", "reproduced")])
    table6 = tables["table6"]
    assert table6.frame.loc["MREN", ("Flops", "paper")] == 23.8e9
    assert table6.frame.loc["MREN", ("Flops", "reproduced")] == 60e9  # from the complexity-only trial
    assert table6.frame.loc["MREN", ("PSNR(Set14)", "reproduced")] == pytest.approx(33.50)  # from Table 5 ×2
    assert table6.rows.loc["MREN", "trials"] == [tid("mren2macs"), tid("mren2")]
    assert table6.rows.loc["IMDN", "status"] == "not run"


def test_longest_trained_group_is_shown(results: Path) -> None:
    write_record(results, "long0", feeds=[("table3", "OSA")], metrics={"Set5": (32.15, 0.8929)}, params=245_000,
                 model_config={"scacb": "spatial_only"}, profile="full", iterations=1000)
    table3 = build_tables(load_paper(), load_records(results))["table3"]
    assert table3.frame.loc["OSA", ("PSNR(Set5)", "reproduced")] == pytest.approx(32.15)
    assert "1 other run" in table3.rows.loc["OSA", "note"]


def test_findings_say_what_does_not_reproduce(results: Path) -> None:
    findings = reproduction_findings(build_tables(load_paper(), load_records(results)))
    mismatches = {finding.title.split(":")[0]: finding for finding in findings if finding.severity == "mismatch"}
    assert ("MREN Flops: reproduced 60.0G, paper 23.8G (+36.2G; mren x2 complexity, 1 seed; mren x2 smoke, 1 seed)"
            in mismatches["Table 6"].items)
    budget = {finding.title.split(":")[0]: finding for finding in findings if finding.rule == "budget-limited"}
    assert ("6 PSNR(Set5): reproduced 32.12 ±0.03, paper 32.24 (-0.12; mren x4 smoke, 2 seeds)"
            in budget["Table 1"].items)
    # Table 5: what holds at any budget (IMDN's released weights, parameter counts) reproduces; the trained MREN's
    # PSNR/SSIM (below the paper's budget) do not, and are told apart
    table5 = [finding for finding in findings if finding.title.startswith("Table 5:")]
    assert [(finding.rule, finding.budget_limited) for finding in table5] == [("reproduces", False),
                                                                            ("budget-limited", True)]
    assert len(long_form(build_tables(load_paper(), load_records(results)))) > 500


def test_bad_records_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_records(tmp_path / "missing")
    (tmp_path / "trials").mkdir()
    (tmp_path / "trials" / "broken.json").write_text("{not json")
    with pytest.raises(UserError, match="broken.json"):
        load_records(tmp_path)
    (tmp_path / "trials" / "broken.json").write_text(json.dumps({"schema_version": 1, "trial_id": "x"}))
    with pytest.raises(UserError, match=r"broken.json \(version 1\) is malformed at status"):
        load_records(tmp_path)
    (tmp_path / "trials" / "broken.json").write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(UserError, match="broken.json has format version 99; this harness reads version 1"):
        load_records(tmp_path)
    (tmp_path / "trials" / "broken.json").unlink()


@pytest.mark.parametrize("spoil, message", [
    (lambda record: record["config"].update(seed=7), "config hash"),  # edited by hand: the id no longer fits
    (lambda record: record.update(trial_id="0123456789ab"), "trial_id 0123456789ab"),
    (lambda record: record.update(extra_field=1), "malformed at extra_field"),  # a newer harness's, same version
    (lambda record: record.pop("environment"), "malformed at environment"),  # no silent default
    (lambda record: record.update(status="running"), "malformed at status"),
])
def test_a_record_must_agree_with_itself(tmp_path: Path, spoil, message: str) -> None:
    record = write_record(tmp_path, "one")
    spoil(record)
    path = tmp_path / "trials" / f"{tid('one')}.json"
    path.write_text(json.dumps(record))
    with pytest.raises(UserError, match=message) as error:
        load_records(tmp_path)
    assert path.name in str(error.value) and "\n" not in str(error.value)


def test_a_record_under_another_name_is_refused(tmp_path: Path) -> None:
    write_record(tmp_path, "one")
    original = tmp_path / "trials" / f"{tid('one')}.json"
    copy = original.with_name("0123456789ab.json")  # a copy, say, kept beside the original
    copy.write_text(original.read_text())
    with pytest.raises(UserError, match="0123456789ab.json does not agree with itself: file name 0123456789ab"):
        load_records(tmp_path)


def test_paper_effect_within_seed_spread_is_a_finding(results: Path) -> None:
    for seed, psnr in enumerate([32.02, 32.12]):  # std 0.07: Table 1's 7-vs-6 effect (-0.04 dB) is within it
        write_record(results, f"seven{seed}", seed=seed, feeds=[("table1", "7")], metrics={"Set5": (psnr, 0.893)},
                     params=332_000, model_config={"n_mreb": 7})
    findings = reproduction_findings(build_tables(load_paper(), load_records(results)))
    notes = [finding for finding in findings if finding.rule == "ablation-within-noise"]
    assert [finding.title for finding in notes if "Table 1 7 " in finding.title and "PSNR" in finding.title] == [
        "Table 1 7 vs the full model, PSNR(Set5): the paper's effect is within the seed-to-seed spread"]
    assert not [finding for finding in notes if "Table 1 3 " in finding.title]


def test_table5_cells_say_which_protocol_reproduces(tmp_path: Path) -> None:
    results = tmp_path / "results"
    record = write_record(results, "idn2", model="idn", scale=2, weights="IDN_x2.caffemodel",
                          feeds=[("table5", "IDN")], params=552_769,
                          metrics={"Set5": (37.8398, 0.96008), "Set14": (33.30, 0.9150)})
    # the authors' protocol rides along in each evaluation, as harness/evaluation/evaluate.py writes it
    authors = {"Set5": (37.8273, 0.95998), "Set14": (33.20, 0.9140)}
    for name, (psnr, ssim) in authors.items():
        evaluation = record["metrics"][name]
        evaluation["protocol"] = "common"
        evaluation["protocols"] = {"idn-test": {**evaluation, "protocol": "idn-test", "psnr_y": psnr, "ssim_y": ssim}}
    (results / "trials" / f"{tid('idn2')}.json").write_text(json.dumps(record))
    tables = build_tables(load_paper(), load_records(results))
    table5 = tables["table5"]
    cell = table5.frame.loc[(2, "IDN"), "PSNR(Set5)"]
    assert cell["reproduced"] == pytest.approx(37.8398) and cell["authors"] == pytest.approx(37.8273)
    assert int(cell["exact"]) == 2  # the paper's 37.83 is the authors' protocol's, not common's 37.84
    assert int(table5.frame.loc[(2, "IDN"), "SSIM(Set5)"]["exact"]) == 2  # 0.9600
    assert int(table5.frame.loc[(2, "IDN"), "PSNR(Set14)"]["exact"]) == 1  # 33.30 under common here
    assert int(table5.frame.loc[(2, "IDN"), "SSIM(Set14)"]["exact"]) == 0  # 0.9148 under neither
    assert table5.rows.loc[(2, "IDN"), "authors_protocol"] == "idn-test"
    findings = {finding.rule: finding for finding in reproduction_findings(tables)}
    protocol = findings["protocol-dependence"]
    assert "3 of 4 PSNR/SSIM cells reproduce" in protocol.title and "(1 under common, 2 under" in protocol.title
    assert any("SSIM(Set14)" in item and "idn-test" in item for item in protocol.items)
    params = findings["parameter-count"]
    assert any("552,769" in item and "579K" in item for item in params.items)
