"""Hostile and careless use of the commands (issue 11): unwritable outputs, an --address that is not Ray, resource
requests finer than Ray counts, bad input inside a trial, two runs on one results folder, SIGTERM, record paths that
lead out of the results folder, a device this machine lacks, a full disk.

Each case runs the command in a subprocess, as a user would, and asserts exit status 2 with one error line naming
the culprit, no traceback, and nothing new or changed on disk; or, for a legitimate input, the right result.
"""

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT
from factories import fake_records
from PIL import Image
from processes import processes_in_group
from tiny_grid import tiny_spec

from harness import atomic, records
from harness.errors import UserError
from harness.experiment.grid_policy import Attempt, GridPolicy, Sinks, TaskError
from harness.experiment.grid_sinks import standard_sinks
from harness.experiment.environment import environment
from harness.experiment.lock import ResultsLock
from harness.experiment.spec import load_spec
from harness.experiment.trial import RunSettings, resolve_trials
from harness.experiment.trial_records import build_record
from harness.records import Visual
from harness.results_layout import ResultsLayout

# A driver without a data root: smoke trials are scored on the bundled images and need no data.
ENV = {key: value for key, value in os.environ.items() if key not in ("MREN_DATA_ROOT", "MREN_WEIGHTS_DIR")}
BICUBIC_SPEC = textwrap.dedent("""\
    table: table5
    base: {scale: 4, mode: evaluate, eval: [Set5]}
    variants:
      - {row: Bicubic, model: bicubic}
    """)


def harness(*argv: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *argv], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout, env=ENV, start_new_session=True)


def assert_one_error_line(process: subprocess.CompletedProcess, *culprits: str) -> str:
    output = process.stdout + process.stderr
    assert process.returncode == 2, output
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), process.stderr
    assert "Traceback" not in output, output
    for culprit in culprits:
        assert culprit in lines[0], lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under `folder` (hidden ones too) with its kind, size and modification time."""
    return {str(path.relative_to(folder)): (path.is_dir(), path.lstat().st_size, path.lstat().st_mtime_ns)
            for path in sorted(folder.rglob("*"))}


def bicubic_spec(folder: Path) -> Path:
    spec = folder / "bicubic.yaml"
    spec.write_text(BICUBIC_SPEC)
    return spec


def write_hr_folder(folder: Path, count: int, size: int, seed: int = 0) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"img{index}.png")
    return folder


# 1. Output locations are checked before anything runs.

def output_cases(tmp: Path) -> list[tuple[list[str], str]]:
    spec = bicubic_spec(tmp)
    a_file = tmp / "a_file"
    a_file.write_text("not a folder")
    (tmp / "results_with_file").mkdir()
    (tmp / "results_with_file" / "trials").write_text("not a folder")
    hr = write_hr_folder(tmp / "hr", 1, 24)
    (tmp / "a_folder").mkdir()
    return [
        (["run", str(spec), "--profile", "smoke", "--results", str(a_file)], str(a_file)),
        (["run", str(spec), "--profile", "smoke", "--results", str(a_file / "results")], str(a_file)),
        (["run", str(spec), "--profile", "smoke", "--results", str(tmp / "results_with_file")],
         str(tmp / "results_with_file" / "trials")),
        (["run", str(spec), "--profile", "smoke", "--results", str(tmp / "r"), "--storage", str(a_file)],
         str(a_file)),
        (["run", str(spec), "--profile", "smoke", "--results", str(tmp / "r"), "--storage", str(a_file / "ckpt")],
         str(a_file)),
        (["eval", "--model", "bicubic", "--data", str(hr), "--scale", "2", "--out", str(tmp / "a_folder")],
         str(tmp / "a_folder")),
        (["eval", "--model", "bicubic", "--data", str(hr), "--scale", "2", "--out", str(a_file / "x.json")],
         str(a_file)),
        (["report", "--results", str(tmp / "a_folder"), "--out", str(a_file)], str(a_file)),
        (["degrade", "--hr", str(hr), "--scale", "2", "--out", str(a_file)], str(a_file)),
        (["check", "--results", str(tmp / "a_folder"), "--reference", str(a_file / "ref.json"), "--update"],
         str(a_file)),
        (["complexity", "--model", "bicubic", "--scale", "2", "--json", str(tmp / "a_folder")],
         str(tmp / "a_folder")),
    ]


@pytest.mark.slow
def test_unwritable_output_locations_are_one_line_before_anything_runs(tmp_path: Path) -> None:
    cases = output_cases(tmp_path)
    before = snapshot(tmp_path)
    for argv, culprit in cases:
        assert_one_error_line(harness(*argv), culprit)
        assert snapshot(tmp_path) == before, f"{argv} changed files"


def test_eval_out_creates_missing_folders(tmp_path: Path) -> None:
    hr = write_hr_folder(tmp_path / "hr", 2, 24)
    out = tmp_path / "new" / "folders" / "bicubic.json"
    process = harness("eval", "--model", "bicubic", "--data", str(hr), "--scale", "2", "--out", str(out))
    assert process.returncode == 0, process.stderr
    written = json.loads(out.read_text())
    assert written["model"] == "bicubic" and len(written["images"]) == 2 and written["scale"] == 2


# 8. A device this machine lacks.

@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:1", "mps", "gpu0"])
def test_eval_on_a_device_this_machine_lacks_is_one_line(tmp_path: Path, device: str) -> None:
    hr = write_hr_folder(tmp_path / "hr", 1, 24)
    before = snapshot(tmp_path)
    process = harness("eval", "--model", "bicubic", "--data", str(hr), "--scale", "2", "--device", device,
                      "--out", str(tmp_path / "out.json"))
    assert_one_error_line(process, f"--device {device}")
    assert snapshot(tmp_path) == before


# 3. Resource requests.

@pytest.mark.parametrize("option, value", [
    ("--cpus-per-trial", "0.33333"), ("--gpus-per-trial", "0.00001"), ("--cpus-per-trial", "0"),
    ("--cpus-per-trial", "-1"), ("--gpus-per-trial", "nan"), ("--cpus-per-trial", "inf"),
    ("--cpus-per-trial", "1e300"), ("--cpus-per-trial", "4096"),
    *([("--gpus-per-trial", "0.5")] if not torch.cuda.is_available() else []),
])
def test_resource_requests_ray_cannot_book_exactly_are_one_line(tmp_path: Path, option: str, value: str) -> None:
    spec = bicubic_spec(tmp_path)
    before = snapshot(tmp_path)
    process = harness("run", str(spec), "--profile", "smoke", "--results", str(tmp_path / "results"), option, value)
    assert_one_error_line(process, option)
    assert snapshot(tmp_path) == before


# 2. An --address that does not answer as Ray.

class _Server(threading.Thread):
    """A TCP port that accepts connections and then stays silent, or answers as a web server would."""

    def __init__(self, reply: bytes | None) -> None:
        super().__init__(daemon=True)
        self.reply = reply
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []

    def run(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            if self.reply is not None:
                connection.recv(1024)
                connection.sendall(self.reply)
                connection.close()
            else:
                self.held.append(connection)  # accepted, never answered

    def close(self) -> None:
        self.listener.close()
        for connection in self.held:
            connection.close()


@pytest.mark.slow
@pytest.mark.parametrize("reply", [None, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"],
                         ids=["silent", "http"])
def test_an_address_that_is_not_ray_is_one_line_within_40_seconds(tmp_path: Path, reply: bytes | None) -> None:
    spec = bicubic_spec(tmp_path)
    before = snapshot(tmp_path)
    server = _Server(reply)
    server.start()
    try:
        started = time.monotonic()
        process = harness("run", str(spec), "--profile", "smoke", "--results", str(tmp_path / "results"),
                          "--address", f"127.0.0.1:{server.port}", timeout=60)
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert_one_error_line(process, f"127.0.0.1:{server.port}", "does not answer as Ray")
    assert elapsed < 40, elapsed
    assert snapshot(tmp_path) == before


# 5. One run at a time per results folder.

@pytest.mark.slow
def test_a_second_run_on_a_locked_folder_names_the_holder_and_readers_still_work(tmp_path: Path) -> None:
    spec = bicubic_spec(tmp_path)
    results = tmp_path / "results"
    fake_records(results, spec)
    with ResultsLock(results):
        before = snapshot(tmp_path)
        process = harness("run", str(spec), "--profile", "smoke", "--results", str(results))
        assert_one_error_line(process, str(results), f"pid {os.getpid()} on {socket.gethostname()}", "--wait")
        assert snapshot(tmp_path) == before
        report = harness("report", "--results", str(results), "--out", str(tmp_path / "report"))
        assert report.returncode == 0 and (tmp_path / "report" / "report.html").is_file(), report.stderr
    assert not ResultsLayout(results).lock.exists()  # released and removed


def test_wait_starts_when_the_holder_ends(tmp_path: Path) -> None:
    spec = bicubic_spec(tmp_path)
    results = tmp_path / "results"
    fake_records(results, spec)
    lock = ResultsLock(results)
    lock.acquire()
    driver = subprocess.Popen([sys.executable, "-m", "harness", "run", str(spec), "--profile", "smoke", "--results",
                               str(results), "--wait"], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=ENV, start_new_session=True)
    watchdog = threading.Timer(120, driver.kill)
    watchdog.start()
    try:
        first = driver.stdout.readline()
        assert first.startswith("waiting: the results folder is in use by another run (pid "), first
        time.sleep(1.0)
        assert driver.poll() is None, "it did not wait"
        lock.release()
        output, errors = driver.communicate(timeout=120)
    finally:
        watchdog.cancel()
        lock.release()
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 0, errors
    assert "nothing to run: all 1 trials are done" in output
    assert not ResultsLayout(results).lock.exists()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    results = tmp_path / "results"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from harness.experiment.lock import "
                               f"ResultsLock; ResultsLock({str(results)!r}).acquire(); print('held', flush=True); "
                               "time.sleep(600)"], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match=f"pid {holder.pid} on "):
            ResultsLock(results).acquire()
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert ResultsLayout(results).lock.exists()  # the text stays, the lock does not
    with ResultsLock(results):
        assert f"pid {os.getpid()} " in ResultsLayout(results).lock.read_text()


# 4. Bad input inside a trial is not retried; crashes are.

def settle(tmp_path: Path, retries: int, trial, attempt: int, error: BaseException) -> tuple[GridPolicy, bool]:
    """Decide about one failed attempt, as a run does, telling the run's own sinks (records, logs, run state)."""
    policy = GridPolicy([], retries=retries)
    sinks = Sinks(standard_sinks(tmp_path, profile="smoke", spec="spec.yaml"))
    sinks.started([trial], "1 at a time")
    failure, retrying = policy.failed(Attempt(trial, attempt, fresh=False), TaskError(error, str(error), "trace"))
    sinks.failed(failure, retrying=retrying)
    sinks.close()
    return policy, retrying


def test_bad_input_in_a_trial_fails_once_and_a_crash_is_retried(tmp_path: Path) -> None:
    trial = resolve_trials(load_spec(bicubic_spec(tmp_path)), RunSettings("smoke", tmp_path))[0]
    layout = ResultsLayout(tmp_path)
    policy, retrying = settle(tmp_path, 2, trial, 1, UserError("weights IMDN_x4.pth do not fit imdn at x3"))
    assert not retrying and not policy.queue and len(policy.failures) == 1
    assert policy.failures[0].bad_input and policy.failures[0].attempts == 1
    assert policy.failures[0].error == "weights IMDN_x4.pth do not fit imdn at x3"
    assert not layout.failures.exists()  # no traceback file for bad input
    assert json.loads(layout.run_state.read_text())["trials"][trial.trial_id]["state"] == "failed"  # for `status`

    policy, retrying = settle(tmp_path, 2, trial, 1, RuntimeError("worker died"))
    assert retrying and [(attempt.trial, attempt.number) for attempt in policy.queue] == [(trial, 2)]
    assert not policy.failures and layout.failure(trial.trial_id).is_file()
    policy, retrying = settle(tmp_path, 2, trial, 3, MemoryError("out of memory"))  # the last attempt allowed
    assert not retrying and not policy.queue, "queued again after its last attempt"
    assert len(policy.failures) == 1 and not policy.failures[0].bad_input and policy.failures[0].attempts == 3


# 6. SIGTERM.

@pytest.mark.slow
@pytest.mark.ray
def test_sigterm_mid_run_is_a_clean_interrupt(tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path)
    results = tmp_path / "results"
    driver = subprocess.Popen([sys.executable, "-m", "harness", "run", str(spec), "--profile", "smoke",
                               "--results", str(results)], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=ENV, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not list(results.glob("checkpoints/*/last.pt")):  # training, with Ray's handlers long installed
            assert driver.poll() is None and time.monotonic() < deadline, "no trial started training"
            time.sleep(0.2)
        os.kill(driver.pid, signal.SIGTERM)  # the driver alone, as `kill PID` or a batch scheduler does
        output, _ = driver.communicate(timeout=90)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 130, output
    assert "interrupted: cancelled" in output and "Traceback" not in output, output
    assert "*** SIG" not in output and "Stack trace" not in output, output  # no native stack dump
    assert not ResultsLayout(results).lock.exists()
    deadline = time.monotonic() + 20
    while processes_in_group(driver.pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    leftovers = processes_in_group(driver.pid)
    for pid in leftovers:
        os.kill(pid, signal.SIGKILL)
    assert not leftovers, "processes of the run survived SIGTERM"


# 7. Records whose visuals lead out of the results folder.

def record_with_visual(results: Path, spec: Path, file: str) -> Path:
    trial = resolve_trials(load_spec(spec), RunSettings("smoke", results))[0]
    visual = Visual(image="img0", box=(0, 0, 8, 8), file=file, hr_file="visuals/hr_bundled_img0.png")
    record = build_record(trial, metrics={}, params=0, macs=0, macs_input={}, macs_unsupported={}, training=None,
                          visuals={"bundled": visual}, environment=environment(torch.device("cpu")), seconds=0.0)
    return records.write_record(results, record)


@pytest.mark.parametrize("escape", ["dotdot", "absolute", "link"])
def test_a_record_whose_visuals_lead_outside_is_refused(tmp_path: Path, escape: str) -> None:
    results = tmp_path / "results"
    secret = tmp_path / "secret.png"
    Image.fromarray(np.zeros((16, 16, 3), dtype=np.uint8)).save(secret)
    file = {"dotdot": "visuals/../../secret.png", "absolute": str(secret), "link": "visuals/crop.png"}[escape]
    path = record_with_visual(results, bicubic_spec(tmp_path), file)
    if escape == "link":
        (results / "visuals").mkdir(exist_ok=True)
        (results / "visuals" / "crop.png").symlink_to(secret)
    before = snapshot(tmp_path)
    report = harness("report", "--results", str(results), "--out", str(tmp_path / "report"))
    assert_one_error_line(report, str(path.name), "outside the results folder")
    assert snapshot(tmp_path) == before
    if escape != "link":  # every reader refuses it, not only the report
        check = harness("check", "--results", str(results), "--reference", str(tmp_path / "ref.json"), "--update")
        assert_one_error_line(check, str(path), "outside the results folder")
        assert snapshot(tmp_path) == before


# 9. A full disk.

def test_a_failed_record_write_is_one_line_and_leaves_nothing(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    trial = resolve_trials(load_spec(bicubic_spec(tmp_path)), RunSettings("smoke", tmp_path / "results"))[0]
    record = build_record(trial, metrics={}, params=0, macs=0, macs_input={}, macs_unsupported={}, training=None,
                          visuals={}, environment=environment(torch.device("cpu")), seconds=0.0)
    (tmp_path / "results" / "trials").mkdir(parents=True)

    def full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    crop = (tmp_path / "results" / "visuals" / "crop.png").resolve()
    with pytest.raises(atomic.WriteError, match=f"cannot write {crop} \\(disk full: No space left on device\\)"):
        records.write_record(tmp_path / "results", record, {"visuals/crop.png": b"png"})
    record_file = records.record_path(tmp_path / "results", trial.trial_id)
    with pytest.raises(atomic.WriteError, match=f"cannot write {record_file} \\(disk full: No space left on device\\)"):
        records.write_record(tmp_path / "results", record)
    assert not list((tmp_path / "results").rglob("*.*"))  # neither the crop, the record nor a temporary file


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 1.5 MiB tmpfs (as root), unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1536k", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def fill(folder: Path) -> None:
    with open(folder / "filler", "wb", buffering=0) as file:  # unbuffered: closing it has nothing left to fail
        try:
            while True:
                file.write(b"\0" * 4096)
        except OSError:
            pass


def test_degrade_onto_a_disk_that_fills_up_writes_nothing(tmp_path: Path, small_disk: Path) -> None:
    hr = write_hr_folder(tmp_path / "hr", 4, 768)  # four x2 LR images of noise: about 1.8 MB of PNG, over 1.5 MiB
    before = snapshot(small_disk)
    process = harness("degrade", "--hr", str(hr), "--scale", "2", "--out", str(small_disk / "lr"))
    assert_one_error_line(process, f"cannot write {small_disk / 'lr'}", "No space left")
    assert snapshot(small_disk) == before


@pytest.mark.slow
def test_full_disk_outputs_are_one_line_before_anything_runs(tmp_path: Path, small_disk: Path) -> None:
    fill(small_disk)
    spec = bicubic_spec(tmp_path)
    results = tmp_path / "results"
    fake_records(results, spec)
    before = snapshot(small_disk)
    cases = [
        (["run", str(spec), "--profile", "smoke", "--results", str(small_disk / "results")], "disk full"),
        (["report", "--results", str(results), "--out", str(small_disk / "report")], "disk full"),
        (["check", "--results", str(results), "--reference", str(small_disk / "ref.json"), "--update"], "disk full"),
    ]
    for argv, problem in cases:
        assert_one_error_line(harness(*argv), str(small_disk), problem)
        assert snapshot(small_disk) == before


def test_a_read_only_results_folder_is_one_line(tmp_path: Path, small_disk: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    process = harness("run", str(bicubic_spec(tmp_path)), "--profile", "smoke", "--results",
                      str(small_disk / "results"))
    assert_one_error_line(process, str(small_disk / "results"), "not writable")
