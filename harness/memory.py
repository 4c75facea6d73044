"""Memory a model would need, known before it is allocated, and refused up front when this machine lacks it.

A config override (`--set channels=100000`) or an input size (`complexity --hr-size 100000x100000`, a huge image)
can ask for terabytes. Allocated for real, that is a traceback from the allocator, or worse the machine swapping for
minutes before the kernel kills the process. Instead the model is built, and run, on PyTorch's `meta` device, which
records shapes without allocating anything, and the bytes are compared with the memory available.
"""

import os
from typing import Callable

import torch
from torch import nn

from harness.errors import UserError

# Feature maps alive at once during a forward pass, as multiples of the largest: the layer's input and output, and a
# residual or two held by the blocks around it. A floor, not a measurement: the check refuses only what cannot fit.
LIVE_FEATURE_MAPS = 3


def available_bytes(device: torch.device | str = "cpu") -> int:
    """Memory this process could still allocate on `device`: MemAvailable (or the cgroup's limit, if lower) on the
    CPU, free memory on a CUDA device."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return min(available, _cgroup_room())


def _cgroup_room() -> int:
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as limit_file:
            limit = limit_file.read().strip()
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as current_file:
            current = int(current_file.read().strip())
    except (OSError, ValueError):
        return 1 << 62
    return 1 << 62 if limit == "max" else max(int(limit) - current, 0)


def describe_bytes(count: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if count < 1024 or unit == "PiB":
            return f"{count:,.0f} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def require(needed: int, what: str, device: torch.device | str = "cpu") -> None:
    """A UserError line when `needed` bytes exceed what `device` has available."""
    available = available_bytes(device)
    if needed > available:
        raise UserError(f"{what} needs at least {describe_bytes(needed)} of memory; {torch.device(device)} has "
                        f"{describe_bytes(available)} available")


def meta_model(build: Callable[[], nn.Module]) -> nn.Module | None:
    """The model `build` makes, on the meta device (no memory); None when it cannot be built there (a builder that
    reads values, such as .item(), needs real tensors: such a model is then not checked)."""
    try:
        # The generator's state is kept: the real build after this one must draw the same initial weights.
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            return build()
    except Exception:  # any failure of the dry build leaves the real build to succeed or to say why
        return None


def weight_bytes(model: nn.Module) -> int:
    return sum(tensor.numel() * tensor.element_size() for tensor in (*model.parameters(), *model.buffers()))


def forward_bytes(model: nn.Module, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> int | None:
    """A floor on the memory one forward pass of `model` (already on the meta device) on an input of `shape` needs:
    LIVE_FEATURE_MAPS times its largest feature map, plus input and output. None when the model cannot run on meta
    tensors (one that leaves torch for numpy, say)."""
    largest = 0

    def record(module: nn.Module, inputs: object, output: object) -> None:
        nonlocal largest
        for tensor in output if isinstance(output, (tuple, list)) else (output,):
            if isinstance(tensor, torch.Tensor):
                largest = max(largest, tensor.numel() * tensor.element_size())

    handles = [module.register_forward_hook(record) for module in model.modules()]
    try:
        with torch.no_grad():
            output = model(torch.empty(shape, dtype=dtype, device="meta"))
    except Exception:  # not runnable on meta: unchecked, as above
        return None
    finally:
        for handle in handles:
            handle.remove()
    given = torch.Size(shape).numel() * torch.empty((), dtype=dtype).element_size()
    produced = output.numel() * output.element_size() if isinstance(output, torch.Tensor) else 0
    return LIVE_FEATURE_MAPS * largest + given + produced



def training_bytes(model: nn.Module, batch: int, lr_side: int, scale: int, dtype: torch.dtype) -> int:
    """A floor on the memory one training step of `model` (on the meta device) needs, without running it (a grid
    holds dozens of configs): the weights four times (weights, gradients, Adam's two moments), and per sample the LR
    patch, the HR patch, the output and its gradient. The feature maps autograd keeps come on top."""
    element = torch.empty((), dtype=dtype).element_size()
    lr_pixels, hr_pixels = lr_side * lr_side, (lr_side * scale) ** 2
    per_sample = 3 * (lr_pixels + 3 * hr_pixels) * element
    parameters = sum(tensor.numel() for tensor in (*model.parameters(), *model.buffers()))
    return 4 * parameters * element + batch * per_sample
