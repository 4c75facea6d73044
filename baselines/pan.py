"""PAN (Zhao et al., ECCV Workshops 2020): pixel attention network, self-calibrated convolutions with pixel attention
(SCPA) and an upsampling path with pixel attention. As defined in `codes/models/archs/PAN_arch.py` of
zhaohengyuan1/PAN, in its current form: the image-level skip is a **bilinear** upsampling with
`align_corners=False`. (The first published code had `align_corners=True`; with these weights that gives about
29.4 dB on Set5 x4, as users reported, and the authors corrected it in October 2020. Their test logs of the released
files match the current form: ../shared/zoo/README.md.)

Module and parameter names follow the released `PANx{2,3,4}_DF2K.pth` (`conv_first`, `SCPA_trunk.{i}`,
`trunk_conv`, `upconv1`, `att1`, `HRconv1`, `upconv2`.., `conv_last`), so they load without renaming. RGB in
[0, 1] to RGB. 261,403 parameters at x2 and x3 (nearest-neighbour upsampling: the same tensors at both scales, so
only a file's name says which it is), 272,419 at x4 (two x2 steps).

SCPA: two 1x1 branches of half the channels (no bias), LeakyReLU 0.2; one a 3x3 convolution, the other pixel-
attention convolution (PAConv: a 3x3 convolution gated by sigmoid(1x1), then another 3x3), LeakyReLU; a 1x1
convolution of both, plus the input.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines.config_checks import require_scale

LEAKY_SLOPE = 0.2
# The nearest-neighbour steps of the upsampling path at each scale: x4 is two x2 steps, each with its own attention.
UPSAMPLING_STEPS: dict[int, tuple[int, ...]] = {2: (2,), 3: (3,), 4: (2, 2)}


@dataclass(frozen=True)
class PANConfig:
    scale: int
    channels: int = 40  # nf
    up_channels: int = 24  # unf: the upsampling path's width
    blocks: int = 16  # SCPA blocks

    def __post_init__(self) -> None:
        require_scale(self.scale)
        if self.scale not in UPSAMPLING_STEPS:
            raise ValueError(f"scale must be one of {tuple(UPSAMPLING_STEPS)}, got {self.scale}")
        if self.channels < 2 or self.channels % 2 != 0:
            raise ValueError(f"channels must be even (SCPA splits them in two), got {self.channels}")
        if self.up_channels < 1 or self.blocks < 1:
            raise ValueError(f"up_channels and blocks must be positive, got {self.up_channels} and {self.blocks}")


class PixelAttention(nn.Module):
    """x * sigmoid(1x1 conv(x))."""

    def __init__(self, *, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 1)

    def forward(self, features: Tensor) -> Tensor:
        return features * torch.sigmoid(self.conv(features))


class PAConv(nn.Module):
    """k4(k3(x) * sigmoid(k2(x))): a 3x3 convolution gated per pixel, then another 3x3 (k3, k4 without bias)."""

    def __init__(self, *, channels: int) -> None:
        super().__init__()
        self.k2 = nn.Conv2d(channels, channels, 1)
        self.k3 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.k4 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)

    def forward(self, features: Tensor) -> Tensor:
        return self.k4(self.k3(features) * torch.sigmoid(self.k2(features)))


class SCPA(nn.Module):
    def __init__(self, *, channels: int) -> None:
        super().__init__()
        half = channels // 2
        self.conv1_a = nn.Conv2d(channels, half, 1, bias=False)
        self.conv1_b = nn.Conv2d(channels, half, 1, bias=False)
        self.k1 = nn.Sequential(nn.Conv2d(half, half, 3, padding=1, bias=False))
        self.PAConv = PAConv(channels=half)
        self.conv3 = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, features: Tensor) -> Tensor:
        plain = F.leaky_relu(self.k1(F.leaky_relu(self.conv1_a(features), LEAKY_SLOPE)), LEAKY_SLOPE)
        attended = F.leaky_relu(self.PAConv(F.leaky_relu(self.conv1_b(features), LEAKY_SLOPE)), LEAKY_SLOPE)
        return self.conv3(torch.cat([plain, attended], dim=1)) + features


class PAN(nn.Module):
    def __init__(self, *, scale: int, channels: int, up_channels: int, blocks: int) -> None:
        super().__init__()
        self.scale = scale
        self.steps = UPSAMPLING_STEPS[scale]
        self.conv_first = nn.Conv2d(3, channels, 3, padding=1)
        self.SCPA_trunk = nn.Sequential(*(SCPA(channels=channels) for _ in range(blocks)))
        self.trunk_conv = nn.Conv2d(channels, channels, 3, padding=1)
        for index in range(1, len(self.steps) + 1):  # upconv{i}, att{i}, HRconv{i}: one set per step
            self.add_module(f"upconv{index}", nn.Conv2d(channels if index == 1 else up_channels, up_channels, 3,
                                                        padding=1))
            self.add_module(f"att{index}", PixelAttention(channels=up_channels))
            self.add_module(f"HRconv{index}", nn.Conv2d(up_channels, up_channels, 3, padding=1))
        self.conv_last = nn.Conv2d(up_channels, 3, 3, padding=1)

    def forward(self, lr: Tensor) -> Tensor:
        features = self.conv_first(lr)
        features = features + self.trunk_conv(self.SCPA_trunk(features))
        for index, step in enumerate(self.steps, start=1):
            features = getattr(self, f"upconv{index}")(F.interpolate(features, scale_factor=step, mode="nearest"))
            features = F.leaky_relu(getattr(self, f"att{index}")(features), LEAKY_SLOPE)
            features = F.leaky_relu(getattr(self, f"HRconv{index}")(features), LEAKY_SLOPE)
        skip = F.interpolate(lr, scale_factor=self.scale, mode="bilinear", align_corners=False)
        return self.conv_last(features) + skip


def build_pan(config: PANConfig) -> PAN:
    return PAN(scale=config.scale, channels=config.channels, up_channels=config.up_channels, blocks=config.blocks)
