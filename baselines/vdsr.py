"""VDSR (Kim et al., CVPR 2016): 20 3x3 convolutions of 64 channels learning the residual over bicubic upsampling.

Table 5's 665K parameters are the Y-channel network without biases (664,704; with biases it would be 665,921), so
the default runs on Y and takes Cb/Cr from the bicubic upsampling.
"""

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines import rgb_to_ycbcr, ycbcr_to_rgb


@dataclass(frozen=True)
class VDSRConfig:
    scale: int
    color: Literal["y", "rgb"] = "y"  # "y": the published network (665K); "rgb": all three channels (667K)
    depth: int = 20  # convolution layers, first and last included
    channels: int = 64
    bias: bool = False  # the 665K of Table 5 is the bias-free count

    def __post_init__(self) -> None:
        if not isinstance(self.scale, int) or isinstance(self.scale, bool) or self.scale < 2:
            raise ValueError(f"scale must be an integer >= 2, got {self.scale!r}")
        if self.color not in ("y", "rgb"):
            raise ValueError(f"color must be 'y' or 'rgb', got {self.color!r}")
        if self.depth < 2:
            raise ValueError(f"depth must be at least 2 (input and output layers), got {self.depth}")
        if self.channels < 1:
            raise ValueError(f"channels must be positive, got {self.channels}")


class VDSR(nn.Module):
    def __init__(self, *, scale: int, color: Literal["y", "rgb"], depth: int, channels: int, bias: bool) -> None:
        super().__init__()
        self.scale = scale
        self.color = color
        image_channels = 1 if color == "y" else 3
        layers: list[nn.Module] = [nn.Conv2d(image_channels, channels, 3, padding=1, bias=bias), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(channels, channels, 3, padding=1, bias=bias), nn.ReLU()]
        layers.append(nn.Conv2d(channels, image_channels, 3, padding=1, bias=bias))
        self.residual = nn.Sequential(*layers)

    def forward(self, lr: Tensor) -> Tensor:
        height, width = lr.shape[-2:]
        upscaled = F.interpolate(lr, size=(height * self.scale, width * self.scale), mode="bicubic",
                                 align_corners=False)
        if self.color == "rgb":
            return upscaled + self.residual(upscaled)
        ycbcr = rgb_to_ycbcr(upscaled)
        luma = ycbcr[:, :1]
        luma = luma + self.residual(luma)
        return ycbcr_to_rgb(torch.cat([luma, ycbcr[:, 1:]], dim=1))


def build_vdsr(config: VDSRConfig) -> VDSR:
    return VDSR(scale=config.scale, color=config.color, depth=config.depth, channels=config.channels,
                bias=config.bias)
