"""Evaluate a model on a benchmark set: super-resolve each LR, quantize to uint8, score Y-channel PSNR/SSIM."""

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from harness.data.benchmark import BenchmarkSet
from harness.metrics import CONVENTIONS, psnr_y, quantize, ssim_y


@dataclass(frozen=True)
class ImageScore:
    name: str
    psnr_y: float
    ssim_y: float


@dataclass(frozen=True)
class SetScore:
    dataset: str
    scale: int
    images: tuple[ImageScore, ...]
    conventions: dict[str, Any] = field(hash=False)

    @property
    def psnr_y(self) -> float:
        return float(np.mean([image.psnr_y for image in self.images]))

    @property
    def ssim_y(self) -> float:
        return float(np.mean([image.ssim_y for image in self.images]))

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "scale": self.scale,
            "psnr_y": self.psnr_y,
            "ssim_y": self.ssim_y,
            "images": [{"name": i.name, "psnr_y": i.psnr_y, "ssim_y": i.ssim_y} for i in self.images],
            "conventions": self.conventions,
        }


def conventions_for(benchmark: BenchmarkSet) -> dict[str, Any]:
    return {**CONVENTIONS, "crop_border": benchmark.scale, "lr_source": benchmark.lr_source}


@torch.no_grad()
def super_resolve(model: nn.Module, lr: np.ndarray, device: torch.device | str = "cpu") -> np.ndarray:
    """uint8 HxWx3 LR -> uint8 (sH)x(sW)x3 SR, with the model in eval mode, in the precision of its weights."""
    model.eval()
    tensor = torch.from_numpy(np.array(lr)).permute(2, 0, 1)[None].to(device, model_dtype(model)) / 255.0
    sr = model(tensor)[0].permute(1, 2, 0).cpu().numpy()
    return quantize(sr)


def model_dtype(model: nn.Module) -> torch.dtype:
    """The floating-point dtype of the model's weights (float32 for a model without weights, such as bicubic)."""
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def evaluate(model: nn.Module, benchmark: BenchmarkSet, *, device: torch.device | str = "cpu",
             progress: bool = False) -> SetScore:
    scores = []
    pairs = tqdm(benchmark.pairs, desc=f"{benchmark.name} x{benchmark.scale}", unit="img", disable=not progress,
                 leave=False)
    for pair in pairs:
        sr = super_resolve(model, pair.lr, device)
        if sr.shape != pair.hr.shape:
            raise ValueError(f"{benchmark.name}/{pair.name}: model output {sr.shape} but HR is {pair.hr.shape}")
        scores.append(ImageScore(pair.name, psnr_y(sr, pair.hr, crop_border=benchmark.scale),
                                 ssim_y(sr, pair.hr, crop_border=benchmark.scale)))
    return SetScore(benchmark.name, benchmark.scale, tuple(scores), conventions_for(benchmark))
