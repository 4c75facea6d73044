"""Operations per training step: every ATen operation a forward and backward pass dispatches, views left out.

On a GPU each is at least one kernel launch, and eager PyTorch spends microseconds of CPU on each, so the count is
a floor on an eager step's time whatever the model's FLOPs (docs/benchmarks.md). Views (reshape, slice, transpose,
detach, ...) only alias memory and launch nothing, so they are not counted.
"""

from collections import Counter

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode


class OpCounter(TorchDispatchMode):
    """Counts, by name, every ATen operation dispatched while it is active, views left out."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 - torch's protocol
        if not func.is_view:
            self.ops[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def training_step_ops(model: nn.Module, lr: torch.Tensor, hr: torch.Tensor) -> Counter[str]:
    """ATen operations (by name, views left out) of one L1-loss forward and backward of `model` on (lr, hr).

    The optimizer's update is not counted: it does not depend on the model's structure beyond its parameter count,
    and fused or foreach optimizers make it a handful of launches."""
    counter = OpCounter()
    model.train()
    model.zero_grad(set_to_none=True)  # accumulating into existing gradients would add operations
    with counter:
        F.l1_loss(model(lr), hr).backward()
    model.zero_grad(set_to_none=True)
    return counter.ops


# Runtime calls that launch device work, as the profiler names them
_CUDA_LAUNCHES = ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernelEx", "cudaGraphLaunch",
                  "cudaMemcpyAsync", "cudaMemsetAsync")


def profiled_launches(step, device: torch.device) -> int:  # noqa: ANN001 - any callable running one step
    """Launches of one call of `step()`, compiled or not, as the profiler sees them.

    On CUDA: the runtime's kernel, graph and copy launches. On CPU: top-level ATen operations (views left out) plus
    the kernels inductor generated (it records them when `torch._inductor.config.cpp.enable_kernel_profile` was set
    before compiling). A compiled region counts its kernels, not the ATen operations it replaced."""
    views = {f"aten::{name}" for name in _VIEW_NAMES}
    with torch.profiler.profile() as profile:
        step()
    count = 0
    for event in profile.events():
        if device.type == "cuda":
            count += event.name in _CUDA_LAUNCHES
            continue
        is_kernel = "cpp_fused" in event.name or event.name.startswith("aten::")
        if not is_kernel or event.name in views:
            continue
        parent = event.cpu_parent
        while parent is not None and not (parent.name.startswith("aten::") or "cpp_fused" in parent.name):
            parent = parent.cpu_parent
        count += parent is None
    return count


_VIEW_NAMES = sorted({packet.__name__ for packet in (
    torch.ops.aten.view, torch.ops.aten._unsafe_view, torch.ops.aten.reshape, torch.ops.aten.slice,
    torch.ops.aten.select, torch.ops.aten.narrow, torch.ops.aten.expand, torch.ops.aten.permute,
    torch.ops.aten.transpose, torch.ops.aten.t, torch.ops.aten.detach, torch.ops.aten.alias,
    torch.ops.aten.unsqueeze, torch.ops.aten.squeeze, torch.ops.aten.as_strided, torch.ops.aten.split,
    torch.ops.aten.split_with_sizes, torch.ops.aten.chunk, torch.ops.aten.unbind, torch.ops.aten.diagonal,
    torch.ops.aten._reshape_alias, torch.ops.aten.flatten, torch.ops.aten.unflatten, torch.ops.aten.view_as)})
