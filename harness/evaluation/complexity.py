"""Model complexity: parameter counts and multiply-accumulate counts (fvcore), as pure functions.

fvcore counts one fused multiply-add as one operation, so its totals are MACs (papers often print them as "FLOPs").
Its conventions, checked against hand counts (tests/test_complexity.py): a convolution costs
C_in/groups * C_out * k^2 * H_out * W_out (depthwise: C_out * k^2 * H * W), biases are not counted, bilinear
upsampling costs 4 per output element. Element-wise operators (activations, sigmoid, mul, add), pixel shuffle and
bicubic upsampling are not counted: they are reported in `MacCount.unsupported`; `cat` is ignored silently.
"""

import copy
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass(frozen=True)
class MacCount:
    macs: int  # fused multiply-adds of one forward pass, as fvcore counts them
    unsupported: dict[str, int] = field(default_factory=dict)  # operator -> calls fvcore could not count
    lr_size: tuple[int, int] = (0, 0)  # (height, width) of the input the count was traced at


def count_params(model: nn.Module) -> int:
    """Every parameter element, trainable or frozen; buffers (running stats, constants) are not parameters."""
    return sum(parameter.numel() for parameter in model.parameters())


def count_macs(model: nn.Module, lr_height: int, lr_width: int) -> MacCount:
    """MACs of one forward pass of `model` (in eval mode) on a 1x3x`lr_height`x`lr_width` input."""
    if lr_height < 1 or lr_width < 1:
        raise ValueError(f"input size must be positive, got {lr_height}x{lr_width}")
    flop_count_analysis = _import_fvcore()
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    if parameter is not None and parameter.dtype != torch.float32:
        # The count does not depend on the precision, and a float64 forward pass (smoke-trained models) takes
        # twice as long on a CPU.
        model = copy.deepcopy(model).float()
    lr = torch.rand(1, 3, lr_height, lr_width, device=device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), _quiet_fvcore():
            analysis = flop_count_analysis(model, lr)
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            analysis.tracer_warnings("none")
            macs = int(analysis.total())
            unsupported = dict(sorted(analysis.unsupported_ops().items()))
    finally:
        model.train(was_training)
    return MacCount(macs=macs, unsupported=unsupported, lr_size=(lr_height, lr_width))


def _import_fvcore():  # -> type[fvcore.nn.FlopCountAnalysis]
    # fvcore.nn imports code decorated with torch.jit.script, deprecated in recent torch: a DeprecationWarning at
    # import, an ImportError when warnings are errors.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from fvcore.nn import FlopCountAnalysis
    return FlopCountAnalysis


@contextmanager
def _quiet_fvcore() -> Iterator[None]:
    """fvcore logs skipped operators and tracing emits warnings; the caller reports unsupported operators itself."""
    logger = logging.getLogger("fvcore")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            yield
    finally:
        logger.setLevel(level)
