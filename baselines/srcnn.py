"""SRCNN (Dong et al., TPAMI 2016): three convolutions on the bicubic-upsampled image.

Table 5's 57K parameters are the 9-5-5 network with 64/32 filters on the Y channel (57,281 with biases). Two
variants of one network, chosen by config fields:
- the authors' network (`srcnn`, the defaults): the released `SRCNN_x{2,3,4}.mat` run as the authors' `SRCNN.m` runs
  them, each convolution MATLAB `imfilter(..., 'same', 'replicate')` (replicate padding) on the Y of MATLAB's bicubic
  upsampling;
- the MREN-recipe variant (`srcnn_mren`): zero-padded convolutions on torch's bicubic upsampling, retrained with
  MREN's recipe; it cannot reproduce the authors' numbers and is labelled as retrained.
On RGB input, Y goes through the network and Cb/Cr come from the bicubic upsampling.
"""

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines import rgb_to_ycbcr, ycbcr_to_rgb
from baselines.config_checks import require_choice, require_scale
from baselines.matlab_bicubic import upsample as matlab_upsample


@dataclass(frozen=True)
class SRCNNConfig:
    scale: int
    color: Literal["y", "rgb"] = "y"  # "y": the published network (57K); "rgb": all three channels mapped (69K)
    filters1: int = 64
    filters2: int = 32
    kernel1: int = 9  # 9-5-5: the largest setting of the paper, the one Table 5 quotes
    kernel2: int = 5
    kernel3: int = 5
    padding: Literal["replicate", "zero"] = "replicate"  # "replicate": MATLAB imfilter as in the authors' SRCNN.m
    upsampling: Literal["matlab", "torch"] = "matlab"  # bicubic of MATLAB imresize, or torch's interpolate

    def __post_init__(self) -> None:
        require_scale(self.scale)
        require_choice("color", self.color, ("y", "rgb"))
        require_choice("padding", self.padding, ("replicate", "zero"))
        require_choice("upsampling", self.upsampling, ("matlab", "torch"))
        for name in ("filters1", "filters2"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("kernel1", "kernel2", "kernel3"):
            kernel = getattr(self, name)
            if kernel < 1 or kernel % 2 == 0:
                raise ValueError(f"{name} must be a positive odd number (size-preserving padding), got {kernel}")


def bicubic_upsample(image: Tensor, scale: int, upsampling: str) -> Tensor:
    if upsampling == "matlab":
        return matlab_upsample(image, scale)
    height, width = image.shape[-2:]
    return F.interpolate(image, size=(height * scale, width * scale), mode="bicubic", align_corners=False)


class SRCNN(nn.Module):
    def __init__(self, *, scale: int, color: Literal["y", "rgb"], filters1: int, filters2: int,
                 kernel1: int, kernel2: int, kernel3: int, padding: str = "zero", upsampling: str = "torch") -> None:
        super().__init__()
        self.scale = scale
        self.color = color
        self.upsampling = upsampling
        channels = 1 if color == "y" else 3
        mode = "replicate" if padding == "replicate" else "zeros"
        self.patch_extraction = nn.Conv2d(channels, filters1, kernel1, padding=kernel1 // 2, padding_mode=mode)
        self.nonlinear_mapping = nn.Conv2d(filters1, filters2, kernel2, padding=kernel2 // 2, padding_mode=mode)
        self.reconstruction = nn.Conv2d(filters2, channels, kernel3, padding=kernel3 // 2, padding_mode=mode)

    def map(self, image: Tensor) -> Tensor:
        features = F.relu(self.patch_extraction(image))
        features = F.relu(self.nonlinear_mapping(features))
        return self.reconstruction(features)

    def luma(self, y_lr: Tensor, y_up: Tensor) -> Tensor:
        """SR luma from the bicubic-upsampled luma `y_up` ((N, 1, sH, sW), 0..1); `y_lr` is not used."""
        return self.map(y_up)

    def forward(self, lr: Tensor) -> Tensor:
        upscaled = bicubic_upsample(lr, self.scale, self.upsampling)
        if self.color == "rgb":
            return self.map(upscaled)
        ycbcr = rgb_to_ycbcr(upscaled)
        luma = self.map(ycbcr[:, :1])
        return ycbcr_to_rgb(torch.cat([luma, ycbcr[:, 1:]], dim=1))


def build_srcnn(config: SRCNNConfig) -> SRCNN:
    return SRCNN(scale=config.scale, color=config.color, filters1=config.filters1, filters2=config.filters2,
                 kernel1=config.kernel1, kernel2=config.kernel2, kernel3=config.kernel3, padding=config.padding,
                 upsampling=config.upsampling)


def srcnn_mren_config(scale: int) -> SRCNNConfig:
    """The MREN-recipe variant: zero padding and torch's bicubic, retrained (not the authors' weights)."""
    return SRCNNConfig(scale=scale, padding="zero", upsampling="torch")
