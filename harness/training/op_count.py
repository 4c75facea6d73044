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


class _OpCounter(TorchDispatchMode):
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
    counter = _OpCounter()
    model.train()
    with counter:
        F.l1_loss(model(lr), hr).backward()
    model.zero_grad(set_to_none=True)
    return counter.ops
