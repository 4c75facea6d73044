"""The Ray executor: resources, a trial with bad input reported while the others go on, Ctrl-C, no leftovers (the
policy alone, without Ray: tests/test_grid_policy.py)."""

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from processes import processes_in_group

from harness.errors import UserError
from harness.experiment import ray_executor, ray_session
from harness.experiment.ray_executor import ClusterOptions, trial_resources
from harness.experiment.spec import load_spec
from harness.experiment.trial import RunSettings, resolve_trials
from harness.experiment.trial_records import is_done
from harness.results_layout import ResultsLayout



def test_a_trial_asks_for_a_gpu_when_there_are_gpus() -> None:
    assert trial_resources(ClusterOptions(cpus_per_trial=2), cluster_gpus=0) == {"num_cpus": 2, "num_gpus": 0}
    assert trial_resources(ClusterOptions(), cluster_gpus=1) == {"num_cpus": 1, "num_gpus": 1}
    assert trial_resources(ClusterOptions(gpus_per_trial=0.25), cluster_gpus=1)["num_gpus"] == 0.25


def test_capacity_counts_trials_that_fit_at_once() -> None:
    assert ray_executor._capacity({"num_cpus": 1, "num_gpus": 0}, [{"CPU": 2.0}]) == 2
    assert ray_executor._capacity({"num_cpus": 1, "num_gpus": 0.25}, [{"CPU": 16.0, "GPU": 1.0}]) == 4
    assert ray_executor._capacity({"num_cpus": 1, "num_gpus": 1}, [{"CPU": 16.0, "GPU": 2.0}]) == 2
    assert ray_executor._capacity({"num_cpus": 0.5, "num_gpus": 0.1}, [{"CPU": 1.0, "GPU": 0.3}]) == 2
    with pytest.raises(UserError, match="asks for 4 CPU"):
        ray_executor._capacity({"num_cpus": 4, "num_gpus": 0}, [{"CPU": 2.0}])


def test_capacity_is_counted_node_by_node() -> None:
    """Two nodes of 3 CPUs hold two 2-CPU trials, not three; a 4-CPU trial fits on neither."""
    nodes = [{"CPU": 0.0}, {"CPU": 3.0}, {"CPU": 3.0}]
    assert ray_executor._capacity({"num_cpus": 2, "num_gpus": 0}, nodes) == 2
    with pytest.raises(UserError, match="no node of the Ray cluster can ever fit it"):
        ray_executor._capacity({"num_cpus": 4, "num_gpus": 0}, nodes)
    with pytest.raises(UserError, match="at most 3 CPU and 0 GPU on one node"):
        ray_executor._capacity({"num_cpus": 1, "num_gpus": 1}, nodes)


def test_ray_folders_of_dead_drivers_are_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ray_session, "TEMP_PARENT", str(tmp_path))
    dead = tmp_path / f"{ray_session.TEMP_PREFIX}999999999-abc"  # beyond any pid_max: no such process
    alive = tmp_path / f"{ray_session.TEMP_PREFIX}{os.getpid()}-def"
    dead.mkdir()
    alive.mkdir()
    ray_session.remove_stale_temp_dirs()
    assert not dead.exists() and alive.exists()


def assert_no_processes_left(group: int) -> None:
    """Every Ray process a driver started in a session of its own is in that session."""
    deadline = time.monotonic() + 15
    while processes_in_group(group) and time.monotonic() < deadline:
        time.sleep(0.5)
    leftovers = processes_in_group(group)
    for pid in leftovers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not leftovers, "Ray processes left behind"


def run_driver(argv: list[str], timeout: float) -> tuple[int, str, int]:
    """(exit status, output, process group) of `python -m harness run ...` in a session of its own."""
    driver = subprocess.Popen([sys.executable, "-m", "harness", "run", *argv], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output, _ = driver.communicate(timeout=timeout)
    return driver.returncode, output, driver.pid


@pytest.mark.slow
@pytest.mark.ray
def test_a_trial_with_bad_input_fails_once_with_one_line_and_the_others_finish(tmp_path: Path) -> None:
    """Corrupt weights fail the same way every time: no retry, no traceback file, exit 2 and one error line (retries
    of crashes: tests/test_hostile_runs.py)."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent("""\
        table: table5
        base: {scale: 4, mode: evaluate, eval: [Set5]}
        variants:
          - {row: IMDN, model: imdn, weights: corrupt.pth}
          - {row: Bicubic, model: bicubic}
        """))
    (tmp_path / "corrupt.pth").write_bytes(b"not a checkpoint")
    results = tmp_path / "results"
    code, output, group = run_driver([str(spec), "--profile", "smoke", "--weights-dir", str(tmp_path),
                                      "--results", str(results), "--retries", "1"], timeout=240)
    assert code == 2, output
    imdn, bicubic = resolve_trials(load_spec(spec), RunSettings("smoke", results, weights_dir=tmp_path))
    assert "retrying" not in output and f"FAILED {imdn.trial_id}" in output and "not retried" in output
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and imdn.trial_id in errors[0]
    assert "corrupt.pth is corrupt or not a PyTorch file" in errors[0]
    assert "Traceback" not in output
    assert "1 trial finished, 1 failed" in output
    assert is_done(results, bicubic) and not is_done(results, imdn)
    assert not ResultsLayout(results).failures.exists()
    assert_no_processes_left(group)


@pytest.mark.slow
@pytest.mark.ray
def test_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("table: table3\nbase: {model: mren, scale: 4, epochs: 900, eval: [Set5]}\n"
                    "variants: [{row: OSA, config: {scacb: osa}}]\n")
    results = tmp_path / "results"
    # A terminal's foreground process has Ctrl-C at its default and unblocked. A child inherits an ignored or
    # blocked SIGINT from the process that starts it (here pytest, which earlier tests' libraries may have left so,
    # as a non-interactive shell leaves a background job), so the driver is started with SIGINT restored.
    restored = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT}); "
                "os.execv(sys.executable, [sys.executable, '-m', 'harness', *sys.argv[1:]])")
    driver = subprocess.Popen([sys.executable, "-c", restored, "run", str(spec), "--profile", "smoke",
                               "--results", str(results)], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(results.glob("checkpoints/*/last.pt")):  # mid-training, past its first checkpoint
        assert driver.poll() is None and time.monotonic() < deadline, "the trial never started"
        time.sleep(0.2)
    os.killpg(driver.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    output, _ = driver.communicate(timeout=60)
    assert driver.returncode == 130, output
    assert "interrupted: cancelled 1 running trial(s)" in output
    assert_no_processes_left(driver.pid)


def test_a_worker_without_the_dependencies_fails_the_run_with_one_line() -> None:
    payload = b"cno_such_module_here\nThing\n."  # unpickling imports a module this Python lacks, as torch would be
    with pytest.raises(ray_executor.WorkerEnvironmentError, match="cannot import no_such_module_here: install"):
        ray_executor._trial_task(payload, board=None, node_local=False, fresh=False)


def test_tasks_get_absolute_paths_and_no_results_folder_on_a_cluster(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MREN_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    settings = RunSettings("smoke", Path("results"), data_root=Path("data"))
    local = ray_executor.task_settings(settings, cluster=False)
    assert local.storage == str(tmp_path / "results" / "checkpoints")
    # the per-user cache of the machine, shared across results folders (docs/training.md)
    assert local.data_cache_dir == tmp_path / "user-cache" / "mren-harness" and local.data_root == tmp_path / "data"
    given = ray_executor.task_settings(dataclasses.replace(settings, cache_dir=Path("shared-cache")), cluster=False)
    assert given.data_cache_dir == tmp_path / "shared-cache"
    remote = ray_executor.task_settings(settings, cluster=True)
    assert remote.storage is None and remote.cache_dir is None  # chosen on the node: its own disk
