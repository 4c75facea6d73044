"""`python -m harness check`: records against a reference file, with tolerances."""

import json
from pathlib import Path

import pytest
from test_tables import write_record

from harness.cli import main

TRIAL = "3f2a9c0d1b7e"
LABEL = "mren ×4 (Table 1 6), profile smoke, seed 0"


@pytest.fixture()
def results(tmp_path: Path) -> Path:
    results = tmp_path / "results"
    write_record(results, TRIAL, feeds=[("table1", "6")], metrics={"Set5": (32.2104, 0.894812), "Set14": (28.6, 0.78)})
    write_record(results, "imdn4", model="imdn", weights="imdn_x4.pth", metrics={"Set5": (32.21, 0.8948)},
                 params=715_000, macs=40_900_000_000)
    return results


@pytest.fixture()
def reference(results: Path, tmp_path: Path) -> Path:
    path = tmp_path / "reference.json"
    assert main(["check", "--results", str(results), "--reference", str(path), "--update"]) == 0
    return path


def _edit(results: Path, trial_id: str, change) -> None:
    path = results / "trials" / f"{trial_id}.json"
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


def test_unchanged_run_passes(results: Path, reference: Path, capsys: pytest.CaptureFixture) -> None:
    capsys.readouterr()
    assert main(["check", "--results", str(results), "--reference", str(reference)]) == 0
    assert "no drift" in capsys.readouterr().out


def test_reference_format(reference: Path) -> None:
    data = json.loads(reference.read_text())
    assert data["format"] == "mren-harness-check-reference" and data["version"] == 1
    assert data["tolerances"] == {"psnr_y": 0.02, "ssim_y": 0.0005, "params": 0, "macs_relative": 0.001}
    trial = data["trials"][TRIAL]
    assert trial["label"] == LABEL and trial["scale"] == 4
    assert trial["params"] == 298_000 and trial["macs"] == 23_800_000_000
    assert trial["metrics"]["Set5"] == {"psnr_y": 32.2104, "ssim_y": 0.894812}


def test_drift_of_005_db_fails_and_names_it(results: Path, reference: Path, capsys: pytest.CaptureFixture) -> None:
    _edit(results, TRIAL, lambda record: record["metrics"]["Set5"].update(psnr_y=32.2604))
    capsys.readouterr()
    assert main(["check", "--results", str(results), "--reference", str(reference)]) == 1
    out = capsys.readouterr().out
    drifted = [line for line in out.splitlines() if line.startswith(TRIAL)]
    assert len(drifted) == 1
    line = drifted[0]
    assert LABEL in line and "Set5" in line and "×4" in line and "psnr_y" in line
    assert "32.2104" in line and "32.2604" in line and "+0.0500" in line and "±0.02" in line


def test_within_tolerance_passes(results: Path, reference: Path) -> None:
    _edit(results, TRIAL, lambda record: record["metrics"]["Set5"].update(psnr_y=32.2254, ssim_y=0.895212))
    _edit(results, "imdn4", lambda record: record.update(macs=40_900_000_000 + 40_000_000))
    assert main(["check", "--results", str(results), "--reference", str(reference)]) == 0


@pytest.mark.parametrize("change, metric", [
    (lambda record: record["metrics"]["Set14"].update(ssim_y=0.7806), "ssim_y"),
    (lambda record: record.update(params=298_001), "params"),
    (lambda record: record.update(macs=int(23_800_000_000 * 1.002)), "macs"),
    (lambda record: record["metrics"].pop("Set14"), "psnr_y"),
])
def test_each_metric_is_checked(results: Path, reference: Path, capsys: pytest.CaptureFixture, change,
                                metric: str) -> None:
    _edit(results, TRIAL, change)
    capsys.readouterr()
    assert main(["check", "--results", str(results), "--reference", str(reference)]) == 1
    assert any(metric in line for line in capsys.readouterr().out.splitlines() if line.startswith(TRIAL))


def test_missing_trial_is_drift(results: Path, reference: Path, capsys: pytest.CaptureFixture) -> None:
    (results / "trials" / "imdn4.json").unlink()
    capsys.readouterr()
    assert main(["check", "--results", str(results), "--reference", str(reference)]) == 1
    assert "trial missing" in capsys.readouterr().out


def test_update_rewrites_and_keeps_tolerances(results: Path, reference: Path) -> None:
    data = json.loads(reference.read_text())
    data["tolerances"]["psnr_y"] = 0.1
    reference.write_text(json.dumps(data))
    _edit(results, TRIAL, lambda record: record["metrics"]["Set5"].update(psnr_y=32.5))
    assert main(["check", "--results", str(results), "--reference", str(reference)]) == 1
    assert main(["check", "--results", str(results), "--reference", str(reference), "--update"]) == 0
    updated = json.loads(reference.read_text())
    assert updated["tolerances"]["psnr_y"] == 0.1
    assert updated["trials"][TRIAL]["metrics"]["Set5"]["psnr_y"] == 32.5
    assert not list(reference.parent.glob(".reference.json.*"))  # no temporary file left behind
    assert main(["check", "--results", str(results), "--reference", str(reference)]) == 0


def test_bad_inputs_exit_2(results: Path, reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cases = {
        "missing reference": ["--results", str(results), "--reference", str(tmp_path / "none.json")],
        "missing results": ["--results", str(tmp_path / "nowhere"), "--reference", str(reference)],
    }
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    cases["unreadable reference"] = ["--results", str(results), "--reference", str(broken)]
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"format": "mren-harness-check-reference", "version": 1,
                                 "trials": {TRIAL: {"label": "x", "scale": 4, "metrics": {"Set5": {"psnr": 1}}}}}))
    cases["malformed reference"] = ["--results", str(results), "--reference", str(wrong)]
    for name, argv in cases.items():
        capsys.readouterr()
        assert main(["check", *argv]) == 2, name
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, (name, err)
    assert main(["check", "--results", str(results), "--reference", str(wrong), "--update"]) == 2
