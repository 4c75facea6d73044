"""IDN (Hui et al., CVPR 2018): information distillation network on the Y channel, as in the authors' Caffe deploy.

Transcribed from `test/IDN_x{s}_deploy.prototxt` of Zheng222/IDN-Caffe: two 3x3 convolutions (64), four enhancement
units, and a 17x17 deconvolution of stride `scale` (pad 8) to one channel, whose output is added to the MATLAB
bicubic upsampling of the LR luma. Every activation is a LeakyReLU of slope 0.05.

An enhancement unit (Caffe names conv{u}_1..6, down{u}): 3x3 convolutions 64->48, 48->32 (4 groups), 32->64; the
first 16 channels of that are concatenated to the unit input (64 + 16 = 80), the other 48 go on through 48->64,
64->48 (4 groups), 48->80; the two 80-channel tensors are summed and compressed by a 1x1 convolution to 64.

The deploy net's deconvolution (pad 8) outputs s*H - s + 1 rows, which the authors' script aligns with rows s..s*H
of the bicubic image (`mycrop`). Here the deconvolution is computed unpadded and cut to rows 1..s*H of that same
alignment, so the output has the full size; its rows s..s*H are the deploy net's output exactly.

552,769 parameters at every scale (Table 5 prints 579K / 588K / 600K).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines import rgb_to_ycbcr, ycbcr_to_rgb
from baselines.config_checks import require_scale
from baselines.matlab_bicubic import upsample as matlab_upsample

LEAKY_SLOPE = 0.05
DECONV_KERNEL = 17
DECONV_PAD = 8  # of the deploy prototxt


@dataclass(frozen=True)
class IDNConfig:
    scale: int
    channels: int = 64
    units: int = 4  # enhancement units
    slice_channels: int = 16  # of each unit's third convolution, concatenated to the unit input

    def __post_init__(self) -> None:
        require_scale(self.scale)
        if self.scale > DECONV_KERNEL // 2 + 1:
            raise ValueError(f"scale must be at most {DECONV_KERNEL // 2 + 1}, got {self.scale}")
        if self.channels != 64 or self.slice_channels != 16:
            # the widths 48/32/80 of the units are fixed by the authors' deploy prototxt around these two
            raise ValueError("IDN is defined for channels=64 and slice_channels=16 only")
        if self.units < 1:
            raise ValueError(f"units must be positive, got {self.units}")


class EnhancementUnit(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv_1 = nn.Conv2d(64, 48, 3, padding=1)
        self.conv_2 = nn.Conv2d(48, 32, 3, padding=1, groups=4)
        self.conv_3 = nn.Conv2d(32, 64, 3, padding=1)
        self.conv_4 = nn.Conv2d(48, 64, 3, padding=1)
        self.conv_5 = nn.Conv2d(64, 48, 3, padding=1, groups=4)
        self.conv_6 = nn.Conv2d(48, 80, 3, padding=1)
        self.down = nn.Conv2d(80, 64, 1)

    def forward(self, features: Tensor) -> Tensor:
        act = lambda x: F.leaky_relu(x, LEAKY_SLOPE)  # noqa: E731
        out = act(self.conv_3(act(self.conv_2(act(self.conv_1(features))))))
        kept, rest = out[:, :16], out[:, 16:]
        rest = act(self.conv_6(act(self.conv_5(act(self.conv_4(rest))))))
        return act(self.down(torch.cat([features, kept], dim=1) + rest))


class IDN(nn.Module):
    def __init__(self, *, scale: int, units: int) -> None:
        super().__init__()
        self.scale = scale
        self.conv1 = nn.Conv2d(1, 64, 3, padding=1)
        self.conv2 = nn.Conv2d(64, 64, 3, padding=1)
        self.units = nn.ModuleList(EnhancementUnit() for _ in range(units))
        self.upsample = nn.ConvTranspose2d(64, 1, DECONV_KERNEL, stride=scale, padding=0)

    def residual(self, y_lr: Tensor) -> Tensor:
        """The deconvolution output aligned with the s*H x s*W bicubic image."""
        features = F.leaky_relu(self.conv2(F.leaky_relu(self.conv1(y_lr), LEAKY_SLOPE)), LEAKY_SLOPE)
        for unit in self.units:
            features = unit(features)
        full = self.upsample(features)  # (H - 1) s + 17 rows; row DECONV_PAD is the deploy output's first row
        start = DECONV_PAD + 1 - self.scale  # the deploy output's first row is bicubic row s (1-based)
        height, width = y_lr.shape[-2:]
        return full[..., start:start + height * self.scale, start:start + width * self.scale]

    def luma(self, y_lr: Tensor, y_up: Tensor) -> Tensor:
        """SR luma: the network on the LR luma `y_lr` plus the bicubic-upsampled luma `y_up` (0..1)."""
        return self.residual(y_lr) + y_up

    def forward(self, lr: Tensor) -> Tensor:
        ycbcr_lr = rgb_to_ycbcr(lr)
        ycbcr_up = matlab_upsample(ycbcr_lr, self.scale)
        luma = self.luma(ycbcr_lr[:, :1], ycbcr_up[:, :1])
        return ycbcr_to_rgb(torch.cat([luma, ycbcr_up[:, 1:]], dim=1))


def build_idn(config: IDNConfig) -> IDN:
    return IDN(scale=config.scale, units=config.units)
