"""run_trial and the run command: determinism, records, skipping done trials, visuals, resume after SIGKILL."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT
from factories import fake_records
from processes import processes_in_group
from tiny_grid import tiny_spec

from harness import cli, records
from harness.commands import run as run_command
from harness.data.images import crop_to_multiple
from harness.evaluation.visuals import choose_box
from harness.experiment.run_trial import run_trial
from harness.experiment.scheduler import GridOutcome
from harness.experiment.spec import load_spec
from harness.experiment.trial import RunSettings, resolve_trials

# MREN at a fraction of its width: a smoke trial of it takes seconds on one CPU core.
@pytest.fixture
def one_thread():
    """What a 1-CPU Ray task runs with; several threads on a loaded 2-core machine can be many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_two_smoke_runs_with_the_same_seed_give_identical_metrics(tmp_path: Path, one_thread: None) -> None:
    trial = resolve_trials(load_spec(tiny_spec(tmp_path)), RunSettings("smoke", tmp_path))[0]
    outcomes = []
    for run in ("first", "second"):
        settings = RunSettings("smoke", tmp_path / run)
        result = run_trial(trial, settings, device="cpu")
        assert not (tmp_path / run / records.TRIALS_DIR).exists()  # run_trial writes no record: its caller does
        outcomes.append(json.loads(result.write(settings.results_dir).read_text()))
    first, second = outcomes
    assert first["metrics"] == second["metrics"]
    assert first["training"]["curve"] == second["training"]["curve"]
    assert (first["params"], first["macs"]) == (second["params"], second["macs"])

    assert first["trial_id"] == trial.trial_id and first["config"] == trial.config.to_json()
    assert first["feeds"] == [{"table": "table3", "row": "OSA"}]
    assert list(first["metrics"]) == ["bundled"]  # no data root: the bundled held-out images
    assert first["training"]["iterations"] == trial.config.train.iterations
    assert first["training"]["resumed_from_iteration"] is None
    assert first["macs_input"] == {"hr_height": 720, "hr_width": 1280, "lr_height": 180, "lr_width": 320}
    visual = first["visuals"]["bundled"]
    assert len(visual["box"]) == 4 and visual["box"][2:] == [64, 64]
    assert (tmp_path / "first" / visual["file"]).is_file() and (tmp_path / "first" / visual["hr_file"]).is_file()
    assert {"git_commit", "device", "torch", "libraries"} <= set(first["environment"])


def test_visual_box_depends_on_the_hr_alone() -> None:
    rng = np.random.default_rng(0)
    hr = np.full((101, 150, 3), 128, np.uint8)
    hr[32:96, 48:112] = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)  # the only textured window
    box = choose_box(hr)
    assert box.to_json() == [32, 48, 64, 64]
    for scale in (2, 3, 4):
        assert choose_box(crop_to_multiple(hr, scale)) == box


def test_done_trials_are_skipped_without_ray_and_gain_new_feeds(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    ablations = REPO_ROOT / "ablations"
    scacb = fake_records(results, ablations / "scacb.yaml")
    asked = []

    def fake_run_grid(trials, settings, options, spec=None):
        asked.extend(trials)
        return GridOutcome((), (), 0.0)

    monkeypatch.setattr(run_command, "run_grid", fake_run_grid)
    code = cli.main(["run", str(ablations / "scacb.yaml"), "--profile", "smoke", "--results", str(results)])
    out = capsys.readouterr().out
    assert code == 0 and not asked
    assert "nothing to run: all 4 trials are done" in out

    code = cli.main(["run", str(ablations / "dracb.yaml"), "--profile", "smoke", "--results", str(results)])
    out = capsys.readouterr().out
    assert code == 0
    base = next(trial for trial in scacb if trial.feeds[0].row == "SCACB")
    assert len(asked) == 3 and base.trial_id not in {trial.trial_id for trial in asked}
    record = json.loads(records.record_path(results, base.trial_id).read_text())
    assert record["feeds"] == [{"table": "table3", "row": "SCACB"}, {"table": "table4", "row": "DRACB"}]
    assert "added this spec's table rows to 1 existing record" in out


def listening_addresses(pids: list[int]) -> list[str]:
    if shutil.which("ss") is None:
        return []
    lines = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout.splitlines()
    return [line.split()[3] for line in lines if any(f"pid={pid}," in line for pid in pids)]


def end_processes(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_until_gone(group: int, seconds: float = 15) -> list[int]:
    deadline = time.monotonic() + seconds
    while processes_in_group(group) and time.monotonic() < deadline:
        time.sleep(0.5)
    return processes_in_group(group)


@pytest.mark.slow
@pytest.mark.ray
def test_sigkill_mid_trial_then_rerun_finishes_and_resumes(tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path)
    results = tmp_path / "results"
    command = [sys.executable, "-m", "harness", "run", str(spec), "--profile", "smoke", "--results", str(results)]
    killed = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    rerun = None
    try:
        deadline = time.monotonic() + 120
        while not list(results.glob("checkpoints/*/last.pt")):
            assert killed.poll() is None, killed.stdout.read().decode()
            assert time.monotonic() < deadline, "no checkpoint written in time"
            time.sleep(0.2)
        addresses = listening_addresses(processes_in_group(killed.pid))
        assert addresses and all(address.startswith(("127.0.0.1:", "[::ffff:127.0.0.1]:")) for address in addresses)
        checkpointed = {path.parent.name for path in results.glob("checkpoints/*/last.pt")}
        killed.kill()
        killed.wait()

        rerun = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 start_new_session=True)
        output, _ = rerun.communicate(timeout=240)
        assert rerun.returncode == 0, output
        assert "2 trials finished, 0 failed" in output
        trials = resolve_trials(load_spec(spec), RunSettings("smoke", results))
        for trial in trials:
            record = json.loads(records.record_path(results, trial.trial_id).read_text())
            if trial.trial_id in checkpointed:  # resumed from one of its checkpoints
                resumed = record["training"]["resumed_from_iteration"]
                assert resumed is not None and resumed % trial.config.train.checkpoint_every == 0
        assert not processes_in_group(killed.pid), "the rerun left the killed run's Ray processes running"
        assert not wait_until_gone(rerun.pid), "Ray processes left behind after the run ended"
    finally:
        for driver in (killed, rerun):
            if driver is not None:
                if driver.poll() is None:
                    driver.kill()
                driver.stdout.close()
                end_processes(processes_in_group(driver.pid))
