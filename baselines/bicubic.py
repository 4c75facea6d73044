"""Bicubic upsampling exactly as MATLAB `imresize` does it on uint8 images: the reference every SR table starts from."""

from dataclasses import dataclass

import torch
from torch import nn

from baselines.config_checks import require_scale
from baselines.matlab_bicubic import imresize


@dataclass(frozen=True)
class BicubicConfig:
    scale: int = 4

    def __post_init__(self) -> None:
        require_scale(self.scale)


class Bicubic(nn.Module):
    def __init__(self, *, scale: int) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        # The input is a uint8 image divided by 255: recover the integers, resize as MATLAB, map back.
        lr_uint8 = torch.round(lr.clamp(0, 1) * 255)
        sr_uint8 = imresize(lr_uint8, self.scale, quantize_uint8=True)
        return (sr_uint8 / 255).to(lr.dtype)


def build_bicubic(config: BicubicConfig) -> Bicubic:
    return Bicubic(scale=config.scale)
