"""run_trial and the run command: determinism, records, skipping done trials, visuals, resume after SIGKILL."""

import contextlib
import dataclasses
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

from harness import api, cli
from harness.data.images import crop_to_multiple
from harness.evaluation.visuals import choose_box
from harness.experiment.environment import environment
from harness.experiment.run_trial import TrialResult, run_trial
from harness.experiment.spec import load_spec
from harness.experiment.trial import RunSettings, resolve_trials
from harness.experiment.trial_records import build_record
from harness.results_layout import ResultsLayout

# MREN at a fraction of its width: a smoke trial of it takes seconds on one CPU core.
@pytest.mark.slow
def test_two_smoke_runs_with_the_same_seed_give_identical_metrics(tmp_path: Path, one_thread: None) -> None:
    trial = resolve_trials(load_spec(tiny_spec(tmp_path)), RunSettings("smoke", tmp_path))[0]
    outcomes = []
    for run in ("first", "second"):
        settings = RunSettings("smoke", tmp_path / run)
        result = run_trial(trial, settings, device="cpu")
        assert not ResultsLayout(tmp_path / run).trials.exists()  # run_trial writes no record: its caller does
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
    assert box.as_tuple() == (32, 48, 64, 64)
    for scale in (2, 3, 4):
        assert choose_box(crop_to_multiple(hr, scale)) == box


class RecordingExecutor:
    """Stands in for Ray: each attempt finishes at once with an empty record of its trial."""

    how = "1 at a time (no Ray)"
    notes: list[str] = []
    capacity = 1

    def __init__(self) -> None:
        self.asked: list = []

    def submit(self, attempt):
        self.asked.append(attempt.trial)
        return len(self.asked) - 1

    def wait(self, handles, timeout):
        return list(handles)

    def outcome(self, handle):
        trial = self.asked[handle]
        record = build_record(trial, metrics={}, params=0, macs=0, macs_input={}, macs_unsupported={}, training=None,
                              visuals={}, environment=environment(torch.device("cpu")), seconds=0.0)
        return TrialResult(trial.trial_id, record, {}, 0.0, "no scores")

    def statuses(self):
        return {}

    def take_events(self):
        return {}

    def cancel(self, handles):
        raise AssertionError("nothing is cancelled")


def test_done_trials_are_skipped_without_ray_and_gain_new_feeds(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    ablations = REPO_ROOT / "ablations"
    scacb = fake_records(results, ablations / "scacb.yaml")
    executor = RecordingExecutor()
    opened = []

    @contextlib.contextmanager
    def no_ray(settings, cluster):
        opened.append(cluster)
        yield executor

    monkeypatch.setattr(api, "open_ray_executor", no_ray)
    code = cli.main(["run", str(ablations / "scacb.yaml"), "--profile", "smoke", "--results", str(results)])
    out = capsys.readouterr().out
    assert code == 0 and not opened and not executor.asked
    assert "nothing to run: all 4 trials are done" in out

    code = cli.main(["run", str(ablations / "dracb.yaml"), "--profile", "smoke", "--results", str(results)])
    out = capsys.readouterr().out
    assert code == 0 and len(opened) == 1
    base = next(trial for trial in scacb if trial.feeds[0].row == "SCACB")
    assert len(executor.asked) == 3 and base.trial_id not in {trial.trial_id for trial in executor.asked}
    record = json.loads(ResultsLayout(results).record(base.trial_id).read_text())
    assert record["feeds"] == [{"table": "table3", "row": "SCACB"}, {"table": "table4", "row": "DRACB"}]
    assert "added this spec's table rows to 1 existing record" in out
    assert "3 trials finished, 0 failed" in out
    for trial in executor.asked:  # written by the run's sinks, and named in the run state and the trial's log
        assert ResultsLayout(results).record(trial.trial_id).is_file()
        assert "[driver] done: no scores" in ResultsLayout(results).log(trial.trial_id).read_text()
    state = json.loads(ResultsLayout(results).run_state.read_text())
    assert {entry["state"] for entry in state["trials"].values()} == {"done"} and state["finished_at"]


def test_the_library_entry_point_returns_what_it_ran_and_skipped(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    recorded = {trial.feeds[0].row: trial for trial in fake_records(results, REPO_ROOT / "ablations" / "scacb.yaml")}
    ResultsLayout(results).record(recorded["OSA"].trial_id).unlink()
    executor = RecordingExecutor()
    monkeypatch.setattr(api, "open_ray_executor", lambda settings, cluster: contextlib.nullcontext(executor))
    spec = [trial for trial in load_spec(REPO_ROOT / "ablations" / "scacb.yaml") if trial.feed.row in ("SCACB", "OSA")]
    settings = RunSettings("smoke", results)
    result = api.run_grid(spec, settings, sinks=[])
    assert [trial.trial_id for trial in result.skipped] == [recorded["SCACB"].trial_id]
    assert [record.trial_id for record in result.finished] == [recorded["OSA"].trial_id]
    assert [trial.trial_id for trial in executor.asked] == [recorded["OSA"].trial_id] and not result.failures and not result.bad_input and result.wall_seconds > 0
    assert not ResultsLayout(results).record(result.finished[0].trial_id).exists()  # no sinks: nothing kept
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.finished = ()


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
            record = json.loads(ResultsLayout(results).record(trial.trial_id).read_text())
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
