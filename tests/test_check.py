"""`python -m harness check`: records against a reference file, with tolerances."""

import json
from pathlib import Path

import pytest
from factories import tid, write_record

from harness import records
from harness.cli import main

TRIAL = "mren"  # handles of the fixture's records (test_tables.tid gives their ids)
LABEL = "mren x4 smoke"


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


def _edit(results: Path, handle: str, change) -> None:
    path = results / "trials" / f"{tid(handle)}.json"
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


def test_unchanged_run_passes(results: Path, reference: Path, capsys: pytest.CaptureFixture) -> None:
    capsys.readouterr()
    assert main(["check", "--results", str(results), "--reference", str(reference)]) == 0
    assert "no drift" in capsys.readouterr().out


def test_reference_format(reference: Path) -> None:
    data = json.loads(reference.read_text())
    assert data["format"] == "mren-harness-check-reference" and data["version"] == 2
    assert data["tolerances"] == {"psnr_y": 0.02, "ssim_y": 0.0005, "params": 0, "macs_relative": 0.001}
    made_with = data["made_with"]
    assert made_with["cpu"] == ["Test CPU"] and made_with["torch_threads"] == [1]
    assert made_with["torch"] == ["2.13.0"] and made_with["numpy"] == ["2.4.6"]
    assert made_with["git_commit"] == ["abc1234"]
    assert made_with["cpu_capability"] == ["AVX512"] and made_with["pillow"] == ["unknown"]
    trial = data["trials"][tid(TRIAL)]
    assert trial["label"] == LABEL and trial["scale"] == 4
    assert trial["config"]["model"] == "mren" and trial["config"]["profile"] == "smoke"
    assert trial["params"] == 298_000 and trial["macs"] == 23_800_000_000
    assert trial["metrics"]["Set5"] == {"psnr_y": 32.2104, "ssim_y": 0.894812, "protocols": {}}


def test_drift_of_005_db_fails_and_names_it(results: Path, reference: Path, capsys: pytest.CaptureFixture) -> None:
    _edit(results, TRIAL, lambda record: record["metrics"]["Set5"].update(psnr_y=32.2604))
    capsys.readouterr()
    assert main(["check", "--results", str(results), "--reference", str(reference)]) == 1
    out = capsys.readouterr().out
    drifted = [line for line in out.splitlines() if line.startswith(tid(TRIAL))]
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
    assert any(metric in line for line in capsys.readouterr().out.splitlines() if line.startswith(tid(TRIAL)))


def test_missing_trial_is_drift(results: Path, reference: Path, capsys: pytest.CaptureFixture) -> None:
    (results / "trials" / f"{tid('imdn4')}.json").unlink()
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
    assert updated["trials"][tid(TRIAL)]["metrics"]["Set5"]["psnr_y"] == 32.5
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
                                 "trials": {"3f2a9c0d1b7e": {"label": "x", "scale": 4,
                                                             "metrics": {"Set5": {"psnr": 1}}}}}))
    cases["malformed reference"] = ["--results", str(results), "--reference", str(wrong)]
    for name, argv in cases.items():
        capsys.readouterr()
        assert main(["check", *argv]) == 2, name
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, (name, err)
    assert main(["check", "--results", str(results), "--reference", str(wrong), "--update"]) == 2


def _one_error_line(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_empty_results_are_an_error_and_leave_the_reference_untouched(reference: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    empty = tmp_path / "empty"
    (empty / "trials").mkdir(parents=True)
    before = reference.read_bytes()
    for extra in ([], ["--update"], ["--update", "--prune"]):
        capsys.readouterr()
        assert main(["check", "--results", str(empty), "--reference", str(reference), *extra]) == 2, extra
        assert "no finished trial records" in _one_error_line(capsys)
        assert reference.read_bytes() == before
    new = tmp_path / "new.json"
    assert main(["check", "--results", str(empty), "--reference", str(new), "--update"]) == 2
    assert not new.exists()


def test_results_sharing_no_trial_with_the_reference_are_an_error(reference: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    other = tmp_path / "other"
    write_record(other, "0123456789ab", model="carn", feeds=[("table5", "CARN")])
    capsys.readouterr()
    assert main(["check", "--results", str(other), "--reference", str(reference)]) == 2
    assert "share no trial" in _one_error_line(capsys)


def test_update_refuses_to_shrink_the_reference_unless_pruning(results: Path, reference: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    (results / "trials" / f"{tid('imdn4')}.json").unlink()
    before = reference.read_bytes()
    capsys.readouterr()
    assert main(["check", "--results", str(results), "--reference", str(reference), "--update"]) == 2
    assert "drop 1 of the 2 trials" in _one_error_line(capsys)
    assert reference.read_bytes() == before
    assert main(["check", "--results", str(results), "--reference", str(reference), "--update", "--prune"]) == 0
    assert list(json.loads(reference.read_text())["trials"]) == [tid(TRIAL)]


def test_update_refuses_unfinished_records(results: Path, reference: Path, capsys: pytest.CaptureFixture) -> None:
    _edit(results, "imdn4", lambda record: record.update(status="running"))
    before = reference.read_bytes()
    capsys.readouterr()
    assert main(["check", "--results", str(results), "--reference", str(reference), "--update"]) == 2
    assert f"{tid('imdn4')}.json" in _one_error_line(capsys)
    assert reference.read_bytes() == before


def test_non_finite_values_never_enter_or_pass_a_reference(results: Path, reference: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    data = json.loads(reference.read_text())
    data["tolerances"]["psnr_y"] = float("inf")
    loose = tmp_path / "loose.json"
    loose.write_text(json.dumps(data))  # Python writes Infinity
    capsys.readouterr()
    assert main(["check", "--results", str(results), "--reference", str(loose)]) == 2
    assert "tolerances.psnr_y" in _one_error_line(capsys)

    _edit(results, TRIAL, lambda record: record["metrics"]["Set5"].update(psnr_y=float("nan")))
    capsys.readouterr()
    # A NaN score is a damaged record (records.py refuses it): one line naming it, never a match or a blank cell
    assert main(["check", "--results", str(results), "--reference", str(reference)]) == 2
    line = _one_error_line(capsys)
    assert tid(TRIAL) in line and "NaN is not a score" in line
    before = reference.read_bytes()
    capsys.readouterr()
    assert main(["check", "--results", str(results), "--reference", str(reference), "--update"]) == 2
    assert tid(TRIAL) in _one_error_line(capsys)
    assert reference.read_bytes() == before


def test_a_changed_setting_is_drift_and_names_what_changed(results: Path, reference: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    path = results / "trials" / f"{tid(TRIAL)}.json"
    record = json.loads(path.read_text())
    record["config"]["train"]["learning_rate"] = 0.0004  # a settings change gives the trial a new id
    record["trial_id"] = changed = records.trial_id(record["config"])
    path.unlink()
    (results / "trials" / f"{changed}.json").write_text(json.dumps(record))
    # not one trial id left in common: still drift, not a wrong folder
    (results / "trials" / f"{tid('imdn4')}.json").unlink()
    capsys.readouterr()
    assert main(["check", "--results", str(results), "--reference", str(reference)]) == 1
    out = capsys.readouterr().out
    assert f"{changed} has train.learning_rate None -> 0.0004" in out


def test_results_made_elsewhere_are_said_in_one_line(results: Path, reference: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    def elsewhere(record: dict) -> None:
        record["environment"].update(cpu_capability="AVX2", torch_threads=2)

    _edit(results, TRIAL, elsewhere)
    capsys.readouterr()
    assert main(["check", "--results", str(results), "--reference", str(reference)]) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1
    assert "cpu_capability AVX2, AVX512 (reference: AVX512)" in notes[0]
    assert "torch_threads 1, 2 (reference: 1)" in notes[0]


def test_every_protocol_of_a_record_is_checked(results: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    def add_protocol(record: dict) -> None:
        headline = record["metrics"]["Set5"]
        headline["protocols"] = {"srcnn-demo": {**headline, "protocol": "srcnn-demo", "psnr_y": 30.48,
                                                "ssim_y": 0.8628}}

    _edit(results, "imdn4", add_protocol)
    reference = tmp_path / "protocols.json"
    assert main(["check", "--results", str(results), "--reference", str(reference), "--update"]) == 0
    stored = json.loads(reference.read_text())["trials"][tid("imdn4")]["metrics"]["Set5"]
    assert stored["protocols"] == {"srcnn-demo": {"psnr_y": 30.48, "ssim_y": 0.8628}}
    _edit(results, "imdn4", lambda record: record["metrics"]["Set5"]["protocols"]["srcnn-demo"].update(psnr_y=30.53))
    capsys.readouterr()
    assert main(["check", "--results", str(results), "--reference", str(reference)]) == 1
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith(tid("imdn4"))]
    assert len(rows) == 1 and "psnr_y[srcnn-demo]" in rows[0] and "+0.0500" in rows[0]
