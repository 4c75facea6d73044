"""SRCNN (Dong et al., TPAMI 2016): three convolutions on the bicubic-upsampled image.

Table 5's 57K parameters are the 9-5-5 network with 64/32 filters on the Y channel (57,281 with biases), so the
default runs on Y and takes Cb/Cr from the bicubic upsampling. Convolutions are zero-padded to keep the size (the
original used unpadded convolutions and scored a smaller centre), so every output pixel is predicted.
"""

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines import rgb_to_ycbcr, ycbcr_to_rgb


@dataclass(frozen=True)
class SRCNNConfig:
    scale: int
    color: Literal["y", "rgb"] = "y"  # "y": the published network (57K); "rgb": all three channels mapped (69K)
    filters1: int = 64
    filters2: int = 32
    kernel1: int = 9  # 9-5-5: the largest setting of the paper, the one Table 5 quotes
    kernel2: int = 5
    kernel3: int = 5

    def __post_init__(self) -> None:
        if not isinstance(self.scale, int) or isinstance(self.scale, bool) or self.scale < 2:
            raise ValueError(f"scale must be an integer >= 2, got {self.scale!r}")
        if self.color not in ("y", "rgb"):
            raise ValueError(f"color must be 'y' or 'rgb', got {self.color!r}")
        for name in ("filters1", "filters2"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("kernel1", "kernel2", "kernel3"):
            kernel = getattr(self, name)
            if kernel < 1 or kernel % 2 == 0:
                raise ValueError(f"{name} must be a positive odd number (size-preserving padding), got {kernel}")


class SRCNN(nn.Module):
    def __init__(self, *, scale: int, color: Literal["y", "rgb"], filters1: int, filters2: int,
                 kernel1: int, kernel2: int, kernel3: int) -> None:
        super().__init__()
        self.scale = scale
        self.color = color
        channels = 1 if color == "y" else 3
        self.patch_extraction = nn.Conv2d(channels, filters1, kernel1, padding=kernel1 // 2)
        self.nonlinear_mapping = nn.Conv2d(filters1, filters2, kernel2, padding=kernel2 // 2)
        self.reconstruction = nn.Conv2d(filters2, channels, kernel3, padding=kernel3 // 2)

    def map(self, image: Tensor) -> Tensor:
        features = F.relu(self.patch_extraction(image))
        features = F.relu(self.nonlinear_mapping(features))
        return self.reconstruction(features)

    def forward(self, lr: Tensor) -> Tensor:
        height, width = lr.shape[-2:]
        upscaled = F.interpolate(lr, size=(height * self.scale, width * self.scale), mode="bicubic",
                                 align_corners=False)
        if self.color == "rgb":
            return self.map(upscaled)
        ycbcr = rgb_to_ycbcr(upscaled)
        luma = self.map(ycbcr[:, :1])
        return ycbcr_to_rgb(torch.cat([luma, ycbcr[:, 1:]], dim=1))


def build_srcnn(config: SRCNNConfig) -> SRCNN:
    return SRCNN(scale=config.scale, color=config.color, filters1=config.filters1, filters2=config.filters2,
                 kernel1=config.kernel1, kernel2=config.kernel2, kernel3=config.kernel3)
