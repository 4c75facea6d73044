"""Where a trial ran: hardware, the CPU kernels torch chose, library versions and the code version.

Recorded with every trial (`environment` in docs/records.md) and never hashed into its id.
"""

import os
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path

import torch

from harness.records import Environment

REPOSITORY = Path(__file__).resolve().parents[2]
# Versions recorded with every trial (read from package metadata, so nothing is imported for it).
LIBRARIES = ("torch", "numpy", "scipy", "pillow", "fvcore", "pydantic", "ray")
# Environment variables that change which CPU kernels torch, oneDNN and MKL run.
KERNEL_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS",
                    "MKL_CBWR", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def environment(device: torch.device) -> Environment:
    """Hardware, library versions and code version of the process running a trial (the code version is not hashed)."""
    commit, dirty = _git_state()
    return Environment.model_validate({
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
    })


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
