"""The smoke profile's pinned CPU kernels (harness/training/profiles.py REPRODUCIBLE_CPU_KERNELS) compute the same bits
whatever instruction set MKL would otherwise pick and whatever the thread count: the ground the drift gate stands on
(docs/drift.md). Each variant runs in a fresh process, since the variables are read when torch and MKL start."""

import os
import subprocess
import sys

import pytest

from harness.training.profiles import REPRODUCIBLE_CPU_KERNELS, cpu_kernel_environment

# Digest of a float64 matrix product and of a float64 convolution's forward and backward pass.
PROBE = """
import hashlib, sys, torch
torch.set_num_threads(int(sys.argv[1]))
torch.manual_seed(0)
a, b = torch.randn(257, 1031, dtype=torch.float64), torch.randn(1031, 263, dtype=torch.float64)
x = torch.randn(4, 24, 33, 35, dtype=torch.float64, requires_grad=True)
conv = torch.nn.Conv2d(24, 40, 3, padding=1).double()
y = conv(x)
y.square().mean().backward()
digest = hashlib.sha256()
for tensor in (a @ b, y.detach(), x.grad, conv.weight.grad):
    digest.update(tensor.numpy().tobytes())
print(digest.hexdigest())
"""


def _digest(extra: dict[str, str], threads: int) -> str:
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")}
    process = subprocess.run([sys.executable, "-c", PROBE, str(threads)], env={**environment, **extra},
                             capture_output=True, text=True, timeout=120, check=True)
    return process.stdout.strip()


def test_only_the_smoke_profile_pins_kernels() -> None:
    assert cpu_kernel_environment("smoke") == REPRODUCIBLE_CPU_KERNELS
    assert cpu_kernel_environment("paper") == {}


@pytest.mark.parametrize("threads", [1, 2])
def test_pinned_kernels_do_not_depend_on_the_instruction_set_or_threads(threads: int) -> None:
    pinned = _digest(REPRODUCIBLE_CPU_KERNELS, 1)
    assert _digest({**REPRODUCIBLE_CPU_KERNELS, "MKL_ENABLE_INSTRUCTIONS": "AVX2"}, threads) == pinned
    assert _digest(REPRODUCIBLE_CPU_KERNELS, threads) == pinned
