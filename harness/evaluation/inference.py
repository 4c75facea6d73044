"""Running a network on one image: uint8 LR in, uint8 SR out, and the refusal of non-finite output.

Both the plain evaluation (evaluate.py) and the authors' pipelines (protocols.py) run networks through here, so
neither imports the other.
"""

import numpy as np
import torch
from torch import nn

from harness.evaluation.metrics import quantize


@torch.no_grad()
def super_resolve(model: nn.Module, lr: np.ndarray, device: torch.device | str = "cpu") -> np.ndarray:
    """uint8 HxWx3 LR -> uint8 (sH)x(sW)x3 SR, with the model in eval mode, in the precision of its weights."""
    model.eval()
    tensor = torch.from_numpy(np.array(lr)).permute(2, 0, 1)[None].to(device, model_dtype(model)) / 255.0
    sr = model(tensor)[0].permute(1, 2, 0).cpu().numpy()
    return quantize(require_finite(sr))


class NonFiniteOutput(ValueError):
    """A network output holding NaN or inf: quantizing it would turn NaN into 0 and give a plausible score."""


def require_finite(output: np.ndarray) -> np.ndarray:
    if not np.isfinite(output).all():
        raise NonFiniteOutput(f"{np.count_nonzero(~np.isfinite(output)):,} non-finite values (NaN or inf)")
    return output


def model_dtype(model: nn.Module) -> torch.dtype:
    """The floating-point dtype of the model's weights (float32 for a model without weights, such as bicubic)."""
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32
