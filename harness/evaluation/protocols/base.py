"""The Protocol type, the registry of protocols by name, and what every protocol shares."""


import copy
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from harness.data.benchmark import ImagePair
from harness.errors import UserError
from harness.evaluation.inference import model_dtype, require_finite

Scorer = Callable[[nn.Module, ImagePair, int, torch.device], tuple[float, float]]


@dataclass(frozen=True)
class Protocol:
    name: str
    source: str  # what it transcribes
    conventions: dict[str, str]  # written into every evaluation it produced
    score: Scorer  # (model, pair, scale, device) -> (PSNR, SSIM) of one image
    luma_only: bool  # runs only models with a luma(y_lr, y_up) method
    uses_lr_files: bool = True  # False: makes its own LR from the HR, as its script does
    # What the transcription had to assume because the authors' code does not say it (no metric code, an LR pack
    # that is not public): the report names it as the likely cause where a published number does not reproduce.
    assumed: str | None = None

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


@torch.no_grad()
def run_rgb(model: nn.Module, lr: np.ndarray, device: torch.device, *, self_ensemble: bool = False) -> np.ndarray:
    """The RGB network on a uint8 HxWx3 LR (as /255, float32): its float32 (sH)x(sW)x3 output, not quantized.

    `self_ensemble`: EDSR's `forward_x8`: the output is the mean of the 8 outputs for the LR flipped left-right,
    flipped up-down and transposed (every combination), each mapped back; 8 forward passes.
    """
    model.eval()
    tensor = torch.from_numpy(np.array(lr)).permute(2, 0, 1)[None].to(device, model_dtype(model)) / 255.0
    if not self_ensemble:
        return require_finite(model(tensor)[0].permute(1, 2, 0).cpu().float().numpy())
    total = torch.zeros(())
    for transposed in (False, True):
        for flip_rows in (False, True):
            for flip_columns in (False, True):
                total = total + _undo(model(_transform(tensor, transposed, flip_rows, flip_columns)), transposed,
                                      flip_rows, flip_columns)
    return require_finite((total / 8)[0].permute(1, 2, 0).cpu().float().numpy())


def _transform(image: torch.Tensor, transposed: bool, flip_rows: bool, flip_columns: bool) -> torch.Tensor:
    if flip_columns:
        image = image.flip(-1)
    if flip_rows:
        image = image.flip(-2)
    return image.transpose(-2, -1) if transposed else image


def _undo(image: torch.Tensor, transposed: bool, flip_rows: bool, flip_columns: bool) -> torch.Tensor:
    if transposed:
        image = image.transpose(-2, -1)
    if flip_rows:
        image = image.flip(-2)
    return image.flip(-1) if flip_columns else image
