"""`harness run --address` on a real two-node Ray cluster that shares nothing with the driver but Ray.

The head runs no tasks; the worker node runs in a mount namespace of its own in which the checkout and the driver's
results folder are hidden under empty read-only folders (tests/cluster.py). So the code can only reach the worker
through Ray, and a task that wrote into the results folder would fail. Records must come home through Ray; with a
storage folder both nodes see, a worker node killed mid-training makes its trial resume elsewhere.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cluster import Cluster, unshare_problem
from conftest import REPO_ROOT
from tiny_grid import tiny_spec

from harness import records
from harness.experiment.spec import load_spec
from harness.experiment.trial import RunSettings, resolve_trials
from harness.results_layout import ResultsLayout

pytestmark = [pytest.mark.slow, pytest.mark.ray]  # a two-node Ray cluster and grids on it

SCACB = REPO_ROOT / "ablations" / "scacb.yaml"


@pytest.fixture(scope="module")
def data_root(shared_dir: Path) -> Path:
    return shared_dir / "benchmarks"


@pytest.fixture(scope="module")
def driver_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The driver's own folder: results live under it, and the worker node sees it empty and read-only."""
    return tmp_path_factory.mktemp("driver")


@pytest.fixture(scope="module")
def cluster(driver_dir: Path) -> Cluster:
    problem = unshare_problem()
    if problem is not None:
        message = f"the cluster tests need a worker node in a mount namespace of its own: {problem}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    cluster = Cluster(hidden=[driver_dir], worker_cpus=2)
    try:
        cluster.start_head()
        cluster.wait_for_head()
        cluster.start_worker()
        yield cluster
    finally:
        leftovers = cluster.stop()
    assert not cluster.processes(), "Ray processes of the test cluster survived"
    del leftovers  # the live cluster's processes, ended by stop()


def run(argv: list[str], cluster: Cluster | None, timeout: float) -> subprocess.CompletedProcess:
    """`python -m harness run ...` as a driver outside the cluster (the local default when `cluster` is None)."""
    command = [sys.executable, "-m", "harness", "run", *argv]
    if cluster is not None:
        command = cluster.inside(command)  # the cluster's network namespace: loopback only
    env = cluster.environment("driver") if cluster is not None else None
    return subprocess.run(command, cwd=REPO_ROOT, env=env, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout)


@pytest.fixture(scope="module")
def grid_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two trials of a tiny MREN (tests/tiny_grid.py): what the cluster must carry is the same for any model."""
    return tiny_spec(tmp_path_factory.mktemp("tiny"))


def run_locally(spec: Path, data_root: Path, results: Path) -> dict[str, dict]:
    """`spec` run locally (no --address): the records every cluster run of it must reproduce."""
    done = run([str(spec), "--profile", "smoke", "--data-root", str(data_root), "--results", str(results)],
               None, timeout=600)
    assert done.returncode == 0, done.stdout
    return {path.stem: json.loads(path.read_text()) for path in ResultsLayout(results).trials.glob("*.json")}


@pytest.fixture(scope="module")
def local_records(tmp_path_factory: pytest.TempPathFactory, data_root: Path, grid_spec: Path) -> dict[str, dict]:
    return run_locally(grid_spec, data_root, tmp_path_factory.mktemp("local") / "results")


def test_no_node_can_fit_a_trial_is_one_clear_error(cluster: Cluster, driver_dir: Path, data_root: Path) -> None:
    common = [str(SCACB), "--profile", "smoke", "--data-root", str(data_root), "--results",
              str(driver_dir / "never"), "--address", cluster.address]
    for extra, culprit in ((["--gpus-per-trial", "1"], "asks for 1 GPU + 1 CPU"),
                           (["--cpus-per-trial", "3"], "asks for 3 CPU")):
        started = time.monotonic()
        done = run([*common, *extra], cluster, timeout=120)
        seconds = time.monotonic() - started
        errors = [line for line in done.stdout.splitlines() if line.startswith("error:")]
        assert done.returncode == 2, done.stdout
        assert len(errors) == 1 and culprit in errors[0] and "no node of the Ray cluster" in errors[0], done.stdout
        assert "Traceback" not in done.stdout
        assert seconds < 30, f"took {seconds:.0f} s"
        print(f"{' '.join(extra)}: exit 2 in {seconds:.1f} s: {errors[0]}")
    assert not ResultsLayout(driver_dir / "never").trials.exists()


def test_grid_runs_on_a_cluster_that_shares_nothing(cluster: Cluster, driver_dir: Path, data_root: Path,
                                                    grid_spec: Path, local_records: dict[str, dict]) -> None:
    results = driver_dir / "results"
    argv = [str(grid_spec), "--profile", "smoke", "--data-root", str(data_root), "--results", str(results),
            "--address", cluster.address]
    started = time.monotonic()
    done = run(argv, cluster, timeout=600)
    assert done.returncode == 0, done.stdout
    assert "2 trials finished, 0 failed" in done.stdout
    print(f"cluster run: {len(list(ResultsLayout(results).trials.glob('*.json')))} records in "
          f"{time.monotonic() - started:.0f} s")
    assert "no --storage given" in done.stdout  # said once: checkpoints stay on the worker's own disk
    found = {path.stem: json.loads(path.read_text()) for path in ResultsLayout(results).trials.glob("*.json")}
    assert sorted(found) == sorted(local_records)
    for trial_id, record in found.items():
        assert record["metrics"] == local_records[trial_id]["metrics"], trial_id
        assert record["training"]["curve"] == local_records[trial_id]["training"]["curve"], trial_id
        assert (results / record["visuals"]["Set5"]["file"]).is_file()  # crops came home with the record
    # Only the driver wrote here (records, crops, the logs and run state it kept from the events the tasks sent);
    # checkpoints went to the worker node's disk, not into the results folder, and the run's lock is gone.
    assert sorted(path.name for path in results.iterdir()) == ["logs", "run_state.json", "tensorboard", "trials",
                                                               "visuals"]

    again = run(argv, cluster, timeout=300)
    assert again.returncode == 0 and "nothing to run: all 2 trials are done" in again.stdout, again.stdout


def test_a_worker_node_killed_mid_training_resumes_from_shared_storage(
        cluster: Cluster, driver_dir: Path, data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    storage = tmp_path_factory.mktemp("storage")  # a folder both nodes see, like NFS
    spec = tmp_path_factory.mktemp("spec") / "scacb_row.yaml"
    # the full MREN, whose smoke training lasts long enough to be killed between two checkpoints
    spec.write_text(SCACB.read_text().split("variants:")[0] + "variants:\n  - {row: SCACB, config: {scacb: full}}\n")
    local_records = run_locally(spec, data_root, tmp_path_factory.mktemp("local-scacb") / "results")
    results = driver_dir / "results-storage"
    (trial,) = resolve_trials(load_spec(spec), RunSettings("smoke", results, data_root=data_root))
    argv = [str(spec), "--profile", "smoke", "--data-root", str(data_root), "--results", str(results),
            "--address", cluster.address, "--storage", str(storage), "--retries", "1"]
    driver = subprocess.Popen(cluster.inside([sys.executable, "-m", "harness", "run", *argv]), cwd=REPO_ROOT,
                              env=cluster.environment("driver"), text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not (storage / trial.trial_id / "last.pt").exists():
            assert driver.poll() is None, driver.stdout.read()
            assert time.monotonic() < deadline, "no checkpoint reached the storage folder in time"
            time.sleep(0.2)
        assert not (storage / trial.trial_id / "final.pt").exists(), "training finished before the kill"
        cluster.kill("worker0")  # every process of the worker node, at once
        assert not cluster.processes("worker0")
        cluster.start_worker()  # a new node takes its place
        output, _ = driver.communicate(timeout=600)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.communicate()
    assert driver.returncode == 0, output
    assert "(attempt 1)" in output and "retrying" in output and "1 trial finished, 0 failed" in output, output
    record = json.loads(records.record_path(results, trial.trial_id).read_text())
    resumed = record["training"]["resumed_from_iteration"]
    assert resumed is not None and resumed > 0 and resumed % trial.config.train.checkpoint_every == 0
    assert record["metrics"] == local_records[trial.trial_id]["metrics"]
    assert record["training"]["curve"] == local_records[trial.trial_id]["training"]["curve"]
    assert (results / "failures" / f"{trial.trial_id}.txt").is_file()  # attempt 1's traceback, written by the driver
    print(f"resumed from iteration {resumed} of {trial.config.train.iterations} after the worker node was killed; "
          f"attempt 1 failed with: {next(line for line in output.splitlines() if '(attempt 1)' in line)}")

    again = run(argv, cluster, timeout=300)
    assert again.returncode == 0 and "nothing to run" in again.stdout, again.stdout
