"""IMDN (Hui et al., ACM MM 2019): information multi-distillation blocks with contrast-aware channel attention.

Module and parameter names follow the authors' released checkpoints (`IMDN_x{2,3,4}.pth`: `fea_conv`, `IMDB1`..,
`c.0`, `LR_conv`, `upsampler.0`), so those load without renaming. Input and output are RGB in [0, 1], no mean shift:
the range the released weights were trained on. 694,404 / 703,059 / 715,176 parameters at x2 / x3 / x4.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines.config_checks import require_scale

LEAKY_SLOPE = 0.05  # of every LeakyReLU in IMDN


@dataclass(frozen=True)
class IMDNConfig:
    scale: int
    channels: int = 64
    blocks: int = 6  # IMDBs, named IMDB1.. in the released checkpoints

    def __post_init__(self) -> None:
        require_scale(self.scale)
        if self.channels < 16 or self.channels % 16 != 0:
            # a quarter is distilled per step and the attention reduces that many channels by 16
            raise ValueError(f"channels must be a positive multiple of 16, got {self.channels}")
        if self.blocks < 1:
            raise ValueError(f"blocks must be positive, got {self.blocks}")


class ContrastChannelAttention(nn.Module):
    """CCA: channel weights from the per-channel standard deviation plus mean, through a 1x1 bottleneck."""

    def __init__(self, *, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.conv_du = nn.Sequential(
            nn.Conv2d(channels, channels // reduction, 1),
            nn.ReLU(),
            nn.Conv2d(channels // reduction, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, features: Tensor) -> Tensor:
        mean = features.mean(dim=(2, 3), keepdim=True)
        # population standard deviation, as the released model computes it
        std = (features - mean).pow(2).mean(dim=(2, 3), keepdim=True).sqrt()
        return features * self.conv_du(std + mean)


class IMDB(nn.Module):
    """Three 3x3 steps that each keep a quarter of their channels (distilled) and refine the rest, then fuse."""

    def __init__(self, *, channels: int) -> None:
        super().__init__()
        self.distilled = channels // 4
        self.remaining = channels - self.distilled
        self.c1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.c2 = nn.Conv2d(self.remaining, channels, 3, padding=1)
        self.c3 = nn.Conv2d(self.remaining, channels, 3, padding=1)
        self.c4 = nn.Conv2d(self.remaining, self.distilled, 3, padding=1)
        self.c5 = nn.Conv2d(self.distilled * 4, channels, 1)
        self.cca = ContrastChannelAttention(channels=self.distilled * 4)

    def forward(self, features: Tensor) -> Tensor:
        split = (self.distilled, self.remaining)
        distilled1, remaining = F.leaky_relu(self.c1(features), LEAKY_SLOPE).split(split, dim=1)
        distilled2, remaining = F.leaky_relu(self.c2(remaining), LEAKY_SLOPE).split(split, dim=1)
        distilled3, remaining = F.leaky_relu(self.c3(remaining), LEAKY_SLOPE).split(split, dim=1)
        distilled4 = self.c4(remaining)  # no activation on the last step
        distilled = torch.cat([distilled1, distilled2, distilled3, distilled4], dim=1)
        return self.c5(self.cca(distilled)) + features


class IMDN(nn.Module):
    def __init__(self, *, scale: int, channels: int, blocks: int) -> None:
        super().__init__()
        self.fea_conv = nn.Conv2d(3, channels, 3, padding=1)
        self.block_names = [f"IMDB{index}" for index in range(1, blocks + 1)]
        for name in self.block_names:
            self.add_module(name, IMDB(channels=channels))
        self.c = nn.Sequential(nn.Conv2d(channels * blocks, channels, 1), nn.LeakyReLU(LEAKY_SLOPE))
        self.LR_conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.upsampler = nn.Sequential(nn.Conv2d(channels, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale))

    def forward(self, lr: Tensor) -> Tensor:
        shallow = self.fea_conv(lr)
        features = shallow
        block_outputs = []
        for name in self.block_names:
            features = getattr(self, name)(features)
            block_outputs.append(features)
        fused = self.c(torch.cat(block_outputs, dim=1))
        return self.upsampler(self.LR_conv(fused) + shallow)


def build_imdn(config: IMDNConfig) -> IMDN:
    return IMDN(scale=config.scale, channels=config.channels, blocks=config.blocks)
