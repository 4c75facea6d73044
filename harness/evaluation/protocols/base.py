"""The Protocol type, the registry of protocols by name, and what every protocol shares."""


import copy
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from harness.data.benchmark import ImagePair
from harness.errors import UserError
from harness.evaluation.inference import require_finite

Scorer = Callable[[nn.Module, ImagePair, int, torch.device], tuple[float, float]]


@dataclass(frozen=True)
class Protocol:
    name: str
    source: str  # what it transcribes
    conventions: dict[str, str]  # written into every evaluation it produced
    score: Scorer  # (model, pair, scale, device) -> (PSNR, SSIM) of one image
    luma_only: bool  # runs only models with a luma(y_lr, y_up) method
    uses_lr_files: bool = True  # False: makes its own LR from the HR, as its script does

    def lr_source(self, benchmark_lr_source: str) -> str:
        return benchmark_lr_source if self.uses_lr_files else f"made from the HR: {self.conventions['lr']}"


PROTOCOLS: dict[str, Protocol] = {}


def get(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise UserError(f"unknown protocol {name!r}; known protocols: {', '.join(sorted(PROTOCOLS))}")
    return PROTOCOLS[name]


def check_runs(protocol: Protocol, model: nn.Module, model_name: str) -> None:
    if protocol.luma_only and not hasattr(model, "luma"):
        raise UserError(f"protocol {protocol.name!r} runs networks on the luma channel only; {model_name!r} is not one")


@torch.no_grad()
def run_luma(model: nn.Module, y_lr: np.ndarray, y_up: np.ndarray, dtype: torch.dtype,
             device: torch.device) -> np.ndarray:
    """The model's luma network on HxW arrays (0..1), in `dtype`; returns the SR luma as a numpy array."""
    network = model if next(model.parameters()).dtype == dtype else copy.deepcopy(model).to(dtype)
    network.eval()

    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array)).to(device, dtype)[None, None]

    return require_finite(network.luma(tensor(y_lr), tensor(y_up))[0, 0].cpu().numpy())
