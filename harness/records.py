"""Trial records (`<results>/trials/<trial_id>.json`, format in docs/records.md): the harness's only notion of "done".

A trial with a readable record whose config matches is done; everything else is not. Records are written
atomically, so a reader never sees half of one.
"""

import datetime
import json
import os
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from harness.atomic import write_bytes_atomic, write_json_atomic
from harness.errors import UserError
from harness.trial import Trial

SCHEMA_VERSION = 1
TRIALS_DIR = "trials"
REPOSITORY = Path(__file__).resolve().parents[1]
# Versions recorded with every trial (read from package metadata, so nothing is imported for it).
LIBRARIES = ("torch", "numpy", "scipy", "pillow", "fvcore", "pydantic", "ray")
# Environment variables that change which CPU kernels torch, oneDNN and MKL run.
KERNEL_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS",
                    "MKL_CBWR", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def record_path(results_dir: Path, trial_id: str) -> Path:
    return Path(results_dir) / TRIALS_DIR / f"{trial_id}.json"


def read_record(path: Path) -> dict[str, Any] | None:
    """The record at `path`, or None when there is none; an unreadable one is a UserError naming it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(f"trial record {path} is not valid JSON ({error}); delete it to rerun the trial") from None
    if not isinstance(record, dict) or record.get("schema_version") != SCHEMA_VERSION:
        raise UserError(f"trial record {path} is not a schema-{SCHEMA_VERSION} trial record; delete it to rerun")
    return record


def is_done(results_dir: Path, trial: Trial) -> bool:
    record = read_record(record_path(results_dir, trial.trial_id))
    return record is not None and record.get("status") == "done" and record.get("config") == trial.config.to_json()


def add_feeds(results_dir: Path, trial: Trial) -> bool:
    """Add the trial's feeds missing from its existing record (a later spec may feed more tables); True if changed."""
    path = record_path(results_dir, trial.trial_id)
    record = read_record(path)
    if record is None:
        return False
    feeds = list(record.get("feeds", []))
    missing = [feed.to_json() for feed in trial.feeds if feed.to_json() not in feeds]
    if not missing:
        return False
    record["feeds"] = feeds + missing
    write_json_atomic(path, record)
    return True


def build_record(trial: Trial, *, metrics: dict[str, Any], params: int, macs: int, macs_input: dict[str, Any],
                 macs_unsupported: dict[str, int], training: dict[str, Any] | None, visuals: dict[str, Any],
                 environment: dict[str, Any], seconds: float) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "trial_id": trial.trial_id,
        "status": "done",
        "config": trial.config.to_json(),
        "feeds": [feed.to_json() for feed in trial.feeds],
        "metrics": metrics,
        "params": params,
        "macs": macs,
        "macs_input": macs_input,
        "macs_unsupported": macs_unsupported,
        "training": training,
        "visuals": visuals,
        "seconds": round(seconds, 3),
        "environment": environment,
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def write_record(results_dir: Path, record: dict[str, Any], files: dict[str, bytes] | None = None) -> Path:
    """Write the files a record names (visual crops; paths relative to `results_dir`), then the record itself, all
    atomically: a record is only ever seen with its files. Only the driver of a run calls this (docs/cluster.md)."""
    root = Path(results_dir).resolve()
    for name, data in (files or {}).items():
        target = (root / name).resolve()
        if root not in target.parents:
            raise ValueError(f"record file {name!r} lies outside the results folder")
        write_bytes_atomic(target, data)
    path = record_path(results_dir, record["trial_id"])
    write_json_atomic(path, record)
    return path


def environment(device: torch.device) -> dict[str, Any]:
    """Hardware, library versions and code version of the process running a trial (the code version is not hashed)."""
    commit, dirty = _git_state()
    return {
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name(),
        "torch_threads": torch.get_num_threads(),
        # The kernels torch picked on this CPU, and the variables that override that choice: what a number computed
        # in float32 may depend on (docs/drift.md).
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "kernel_overrides": {name: os.environ[name] for name in KERNEL_VARIABLES if name in os.environ},
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "libraries": {name: _version(name) for name in LIBRARIES},
        "torch": torch.__version__,
        "git_commit": commit,
        "git_dirty": dirty,
    }


def code_version() -> tuple[str | None, bool | None]:
    """(HEAD commit, dirty) of this checkout: the code every trial of a run executes, wherever it runs."""
    return _git_state()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git_state() -> tuple[str | None, bool | None]:
    """(HEAD commit, whether tracked files differ from it), or (None, None) outside a git checkout."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPOSITORY, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        changes = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPOSITORY,
                                 capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit or None, bool(changes.strip())


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
