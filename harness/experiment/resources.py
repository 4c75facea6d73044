"""Resource requests (`--cpus-per-trial`, `--gpus-per-trial`) checked before Ray starts.

Ray counts resources in fixed point, in units of 1/10,000 (ray._raylet.RESOURCE_UNIT_SCALING): it refuses a
fraction below one unit, and rounds others to a unit. So 0.33333 CPU would be booked as 0.3333, and three such trials
would not fill one CPU the way the numbers say. A request is therefore accepted only when it is exactly a whole
number of units; anything else is one line before Ray starts, never Ray's own error from inside the run.
"""

import math
import os

from harness.errors import UserError

RAY_RESOURCE_UNIT = 1e-4  # the precision of a Ray resource quantity
MAX_QUANTITY = 1e6  # more than any node has; also keeps the unit arithmetic below exact


def check_resources(cpus: float, gpus: float | None, *, local: bool, num_cpus: int | None) -> None:
    """A UserError naming the option when a request is not finite, not positive (CPUs) or negative (GPUs), finer than
    Ray's precision, or, on a local run, more than this machine has."""
    _check_quantity("--cpus-per-trial", cpus, zero_allowed=False)
    if gpus is not None:
        _check_quantity("--gpus-per-trial", gpus, zero_allowed=True)
    if not local:
        return  # a cluster's nodes are counted once Ray is up (harness/experiment/ray_executor.py _capacity)
    machine_cpus = num_cpus or os.cpu_count() or 1
    if cpus > machine_cpus:
        raise UserError(f"--cpus-per-trial {cpus:g}: the local Ray has {machine_cpus} CPU(s), so no trial could "
                        "ever start")
    if gpus:
        import torch  # only here: the check needs CUDA's device count, and torch is slow to import

        if not torch.cuda.is_available():
            raise UserError(f"--gpus-per-trial {gpus:g}: this machine has no CUDA GPU (torch {torch.__version__} "
                            "sees none); leave the option out to run on CPUs")
        if gpus > torch.cuda.device_count():
            raise UserError(f"--gpus-per-trial {gpus:g}: this machine has {torch.cuda.device_count()} GPU(s)")


def _check_quantity(option: str, value: float, *, zero_allowed: bool) -> None:
    if not math.isfinite(value):
        raise UserError(f"{option} must be a finite number, got {value}")
    if value < 0 or (value == 0 and not zero_allowed):
        raise UserError(f"{option} must be {'0 or more' if zero_allowed else 'positive'}, got {value:g}")
    if value > MAX_QUANTITY:
        raise UserError(f"{option} {value:g} is more than any Ray node has (at most {MAX_QUANTITY:g})")
    units = value / RAY_RESOURCE_UNIT
    if abs(units - round(units)) > 1e-6 * max(1.0, units):
        nearest = round(units) * RAY_RESOURCE_UNIT
        hint = f"such as {nearest:.4f}" if nearest > 0 else f"at least {RAY_RESOURCE_UNIT:g}"
        raise UserError(f"{option} {value!r} is finer than Ray's resource precision of {RAY_RESOURCE_UNIT:g}: give a "
                        f"multiple of {RAY_RESOURCE_UNIT:g} ({hint})")
