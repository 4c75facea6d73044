"""Watching a run: per-trial logs and TensorBoard scalars written by the driver, `status` from another terminal
during a running grid, the resumption and failure lines."""

import dataclasses
import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import REPO_ROOT
from processes import end_driver
from tiny_grid import tiny_spec

from harness.data.training import bundled_training_data
from harness.experiment import trial_events
from harness.experiment.ray_executor import one_line
from harness.experiment.spec import load_spec
from harness.experiment.trial import RunSettings, resolve_trials
from harness.experiment.trial_events import TrialEvent
from harness.experiment.trial_logs import TrialLogs
from harness.results_layout import ResultsLayout
from harness.training.loop import train
from harness.training.profiles import training_settings



def read_scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the TensorBoard event files of `folder`, read with the TFRecord framing and the Event proto."""
    from tensorboardX.proto.event_pb2 import Event

    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        position = 0
        while position < len(data):
            (length,) = struct.unpack("<Q", data[position:position + 8])
            event = Event.FromString(data[position + 12:position + 12 + length])
            position += 12 + length + 4  # length, its CRC, the record, its CRC
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars


def test_driver_writes_log_lines_and_tensorboard_scalars(tmp_path: Path) -> None:
    logs = TrialLogs(tmp_path)
    events = [TrialEvent("starting"),
              trial_events.training_point(10, 30, 0.25, 5e-4, 3.5),
              trial_events.training_point(20, 30, 0.125, 2.5e-4, 4.0)]
    logs.write("abc", events)
    logs.note("abc", "done")
    logs.close("abc")
    lines = ResultsLayout(tmp_path).log("abc").read_text().splitlines()
    assert [line.split("  ", 1)[1] for line in lines] == [
        "starting", "iteration 10/30 loss 0.250000 lr 0.0005 3.50 it/s",
        "iteration 20/30 loss 0.125000 lr 0.00025 4.00 it/s", "[driver] done"]
    scalars = read_scalars(ResultsLayout(tmp_path).tensorboard / "abc")
    assert scalars[trial_events.LOSS] == [(10, 0.25), (20, 0.125)]
    assert scalars[trial_events.LEARNING_RATE] == [(10, pytest.approx(5e-4)), (20, pytest.approx(2.5e-4))]
    assert scalars[trial_events.SPEED] == [(10, 3.5), (20, 4.0)]
    assert "wandb" not in sys.modules  # never imported unless asked for


def test_training_points_carry_the_optimizers_rate_and_resumption_names_the_checkpoint(tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        settings = dataclasses.replace(training_settings("smoke", epochs=1), epochs=6, iterations_per_epoch=1,
                                       iterations=6, hr_patch=24, lr_halving_iterations=2, checkpoint_every=3,
                                       log_every=2)
        data = bundled_training_data(2, hr_patch=24)
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3, padding=1), torch.nn.Upsample(scale_factor=2))
        points = []
        train(model, settings, data=data, seed=0, checkpoint_dir=tmp_path, device=torch.device("cpu"),
              on_point=points.append)
        assert [point.iteration for point in points] == [2, 4, 6]
        assert [point.learning_rate for point in points] == [settings.learning_rate / 2, settings.learning_rate / 4,
                                                             settings.learning_rate / 8]
        assert all(point.iterations_per_second > 0 for point in points)
        # A later run finds last.pt and says where it resumed from.
        resumed = []
        (tmp_path / "final.pt").unlink()
        train(model, settings, data=data, seed=0, checkpoint_dir=tmp_path, device=torch.device("cpu"),
              on_resume=lambda path, iteration: resumed.append((path, iteration)))
        assert resumed == [(tmp_path / "last.pt", 6)]
    finally:
        torch.set_num_threads(threads)


def test_a_failure_line_drops_rays_advice_about_its_own_logs() -> None:
    error = RuntimeError("The worker died unexpectedly while executing this task. Check python-core-worker-*.log "
                         "files for more information.")
    assert one_line(error) == "RuntimeError: The worker died unexpectedly while executing this task."
    assert "raylet.out" not in one_line(RuntimeError("A worker died. Check raylet.out for more information."))


def status(results: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "harness", "status", "--results", str(results)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
@pytest.mark.ray
def test_status_from_another_terminal_during_a_running_grid(tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path)
    results = tmp_path / "results"
    trials = resolve_trials(load_spec(spec), RunSettings("smoke", results))
    command = [sys.executable, "-m", "harness", "run", str(spec), "--profile", "smoke", "--results", str(results),
               "--num-cpus", "1"]  # one at a time: one trial runs while the other waits
    print("starting the grid", flush=True)
    driver = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    seen_running = seen_waiting = None
    try:
        deadline = time.monotonic() + 300
        while driver.poll() is None and time.monotonic() < deadline and seen_running is None:
            if ResultsLayout(results).run_state.exists():
                shown = status(results)
                if "iteration " in shown and "running: 1" in shown:
                    seen_running = shown
                if "not started: 1" in shown:
                    seen_waiting = shown
            time.sleep(0.5)
        output, _ = driver.communicate(timeout=400)
    finally:
        end_driver(driver)
    assert driver.returncode == 0, output
    assert seen_running is not None, "status never showed a running trial with its iteration"
    running = next(line for line in seen_running.splitlines() if "iteration " in line)
    assert "loss " in running and "ETA " in running or "evaluating" in running
    assert str(ResultsLayout(results).logs) in running  # names its log
    assert seen_waiting is not None and "not started: 1" in seen_waiting

    final = status(results)
    assert "done: 2" in final and "running: 0" in final and "failed: 0" in final
    for trial in trials:
        assert trial.trial_id in final
        log = ResultsLayout(results).log(trial.trial_id).read_text()
        assert f"iteration {trial.config.train.iterations}/{trial.config.train.iterations}" in log
        assert "[driver] done" in log and "eval bundled: PSNR-Y" in log
        record = json.loads(ResultsLayout(results).record(trial.trial_id).read_text())
        scalars = read_scalars(ResultsLayout(results).tensorboard / trial.trial_id)
        # The TensorBoard loss curve is the record's curve, point for point.
        assert scalars[trial_events.LOSS] == [(step, pytest.approx(loss, rel=1e-6))
                                              for step, loss in record["training"]["curve"]]
        assert scalars["eval/bundled/psnr_y"] == [(trial.config.train.iterations,
                                                   pytest.approx(record["metrics"]["bundled"]["psnr_y"], rel=1e-6))]
