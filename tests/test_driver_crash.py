"""A driver killed after a task finished but before it wrote the record loses no training: the rerun resumes the
trial from its stored checkpoint (the final one) and writes the same numbers an uninterrupted run writes."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from processes import kill_group
from tiny_grid import TINY_MREN

pytestmark = [pytest.mark.slow, pytest.mark.ray]  # a real grid, killed and run again


# Loaded through PYTHONPATH by every Python process of the killed run; only the driver ever writes a record, so only
# the driver dies, at the moment it is about to write the first one: after its task has finished and returned.
DIE_BEFORE_WRITING = """\
import os
import signal

try:
    import harness.records
except ImportError:  # a Python of Ray's own that does not see the checkout
    pass
else:
    def _die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    harness.records.write_record = _die
"""


def _spec(folder: Path) -> Path:
    path = folder / "one.yaml"
    path.write_text(textwrap.dedent(f"""\
        table: table3
        row: SCACB
        base: {{model: mren, config: {TINY_MREN}, scale: 4, epochs: 900, eval: [Set5]}}
        """))
    return path


def _run(spec: Path, results: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "harness", "run", str(spec), "--profile", "smoke", "--results", str(results),
               "--cpus-per-trial", "1"]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True, env={**os.environ, **(env or {})})
    try:
        output, _ = process.communicate(timeout=600)
    finally:
        kill_group(process.pid)  # what a SIGKILLed driver's own Ray leaves behind
    return subprocess.CompletedProcess(command, process.returncode, output)


def _record(results: Path) -> dict:
    (path,) = results.glob("trials/*.json")
    return json.loads(path.read_text())


def test_driver_killed_before_writing_a_finished_record_loses_no_training(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(DIE_BEFORE_WRITING)
    results = tmp_path / "results"
    killed = _run(spec, results, env={"PYTHONPATH": os.pathsep.join([str(hook), str(REPO_ROOT)])})
    assert killed.returncode == -signal.SIGKILL, killed.stdout[-3000:]
    assert not list(results.glob("trials/*.json")), "the driver died before writing, so no record may exist"
    assert list(results.glob("checkpoints/*/last.pt")), "the finished trial's checkpoint must stay in storage"

    rerun = _run(spec, results)
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    resumed = _record(results)
    iterations = resumed["training"]["iterations"]
    assert resumed["training"]["resumed_from_iteration"] == iterations  # nothing trained twice

    uninterrupted = tmp_path / "uninterrupted"
    assert _run(spec, uninterrupted).returncode == 0
    expected = _record(uninterrupted)
    assert resumed["trial_id"] == expected["trial_id"]
    assert resumed["metrics"] == expected["metrics"]
