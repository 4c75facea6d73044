"""VDSR (Kim et al., CVPR 2016): 20 3x3 convolutions of 64 channels learning the residual over bicubic upsampling.

Two variants of one network, chosen by config fields:
- the authors' network (`vdsr`, the defaults): the layers of the released MatConvNet model `VDSR_Official.mat`, with
  biases (665,921 parameters), on the Y of MATLAB's bicubic upsampling; one network serves x2, x3 and x4;
- the MREN-recipe variant (`vdsr_mren`): no biases (664,704, Table 5's 665K read as bias-free), torch's bicubic,
  retrained with MREN's recipe.
On RGB input, Y goes through the network and Cb/Cr come from the bicubic upsampling.
"""

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from baselines import rgb_to_ycbcr, ycbcr_to_rgb
from baselines.config_checks import require_choice, require_scale
from baselines.srcnn import bicubic_upsample


@dataclass(frozen=True)
class VDSRConfig:
    scale: int
    color: Literal["y", "rgb"] = "y"  # "y": the published network; "rgb": all three channels
    depth: int = 20  # convolution layers, first and last included
    channels: int = 64
    bias: bool = True  # the released MatConvNet model has biases (665,921 parameters)
    upsampling: Literal["matlab", "torch"] = "matlab"  # bicubic of MATLAB imresize, or torch's interpolate

    def __post_init__(self) -> None:
        require_scale(self.scale)
        require_choice("color", self.color, ("y", "rgb"))
        require_choice("upsampling", self.upsampling, ("matlab", "torch"))
        if self.depth < 2:
            raise ValueError(f"depth must be at least 2 (input and output layers), got {self.depth}")
        if self.channels < 1:
            raise ValueError(f"channels must be positive, got {self.channels}")


class VDSR(nn.Module):
    def __init__(self, *, scale: int, color: Literal["y", "rgb"], depth: int, channels: int, bias: bool,
                 upsampling: str = "torch") -> None:
        super().__init__()
        self.scale = scale
        self.color = color
        self.upsampling = upsampling
        image_channels = 1 if color == "y" else 3
        layers: list[nn.Module] = [nn.Conv2d(image_channels, channels, 3, padding=1, bias=bias), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(channels, channels, 3, padding=1, bias=bias), nn.ReLU()]
        layers.append(nn.Conv2d(channels, image_channels, 3, padding=1, bias=bias))
        self.residual = nn.Sequential(*layers)

    def luma(self, y_lr: Tensor, y_up: Tensor) -> Tensor:
        """SR luma from the bicubic-upsampled luma `y_up` ((N, 1, sH, sW), 0..1); `y_lr` is not used."""
        return y_up + self.residual(y_up)

    def forward(self, lr: Tensor) -> Tensor:
        upscaled = bicubic_upsample(lr, self.scale, self.upsampling)
        if self.color == "rgb":
            return upscaled + self.residual(upscaled)
        ycbcr = rgb_to_ycbcr(upscaled)
        luma = ycbcr[:, :1]
        luma = luma + self.residual(luma)
        return ycbcr_to_rgb(torch.cat([luma, ycbcr[:, 1:]], dim=1))


def build_vdsr(config: VDSRConfig) -> VDSR:
    return VDSR(scale=config.scale, color=config.color, depth=config.depth, channels=config.channels,
                bias=config.bias, upsampling=config.upsampling)


def vdsr_mren_config(scale: int) -> VDSRConfig:
    """The MREN-recipe variant: no biases and torch's bicubic, retrained (not the authors' weights)."""
    return VDSRConfig(scale=scale, bias=False, upsampling="torch")
