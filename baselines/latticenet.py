"""LatticeNet (Luo et al., ECCV 2020): lattice blocks, two butterfly-shaped residual units weighted by combination
coefficients, fused backwards by a chain of 1x1 "backward feature fusion" (TDM) steps. As defined in
`model/latticenet.py` of ymff0592/super-resolution (an EDSR/RCAN code base).

Module and parameter names follow the released `LatticeNet_x{2,3,4}.pt` (`sub_mean`, `conv1`, `conv2`,
`body_unit{i}`, `T_tdm{i}`, `L_tdm{i}`, `tail.0`, `tail.1`, `add_mean`), so they load without renaming. The authors'
network works on RGB in 0..255 (EDSR's `rgb_range 255`); this one takes and returns RGB in [0, 1] and scales by 255
around it. Its mean shifts are ordinary 1x1 convolutions: the code meant to freeze them (`self.requires_grad =
False` on the module, which freezes nothing), so they were trained, and the files hold trained values (24 of the
756,196 / 764,851 / 776,968 parameters at x2 / x3 / x4).

A lattice block: `conv_block0` (three 3x3 convolutions, each followed by LeakyReLU 0.05, channels C -> C-d -> C-d
-> C) gives a feature F; two combination coefficients (CC: sigmoid bottlenecks of the channel mean and of the
channel standard deviation, averaged) cross it with the input, P1 = x + a1 F and Q1 = F + b1 x; a second such unit
on P1 gives G, then P2 = G + a2 Q1, Q2 = Q1 + b2 G, and a 1x1 convolution compresses [P2, Q2].
"""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from baselines.config_checks import require_scale

LEAKY_SLOPE = 0.05
RGB_RANGE = 255.0  # the authors' networks see 0..255 (EDSR's --rgb_range 255)
DIV2K_MEAN_RGB = (0.4488, 0.4371, 0.4040)  # the mean shifts' initial biases, times RGB_RANGE


@dataclass(frozen=True)
class LatticeNetConfig:
    scale: int
    channels: int = 64
    reduced: int = 16  # nDiff: the butterfly units' middle convolutions have channels - reduced
    blocks: int = 4  # lattice blocks; blocks - 1 backward-fusion steps join them
    reduction: int = 16  # of the combination coefficients' bottlenecks

    def __post_init__(self) -> None:
        require_scale(self.scale)
        if self.channels < 2 or self.channels % 2 != 0:
            raise ValueError(f"channels must be even (each fusion step halves them), got {self.channels}")
        if not 0 <= self.reduced < self.channels:
            raise ValueError(f"reduced must lie in [0, channels), got {self.reduced}")
        if self.blocks < 2:
            raise ValueError(f"blocks must be at least 2, got {self.blocks}")
        if self.reduction < 1 or self.channels // self.reduction < 1:
            raise ValueError(f"reduction must leave a channel in the bottleneck, got {self.reduction}")


def mean_shift(sign: float) -> nn.Conv2d:
    """EDSR's MeanShift: a 1x1 convolution initialised to the identity and sign x 255 x the DIV2K mean."""
    conv = nn.Conv2d(3, 3, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
        conv.bias.copy_(sign * RGB_RANGE * torch.tensor(DIV2K_MEAN_RGB))
    return conv


class CombinationCoefficient(nn.Module):
    """Per-channel weights: the mean of sigmoid(bottleneck(channel mean)) and sigmoid(bottleneck(channel std)).
    The standard deviation is torch.std's, with Bessel's correction (N - 1), as the authors' code computes it."""

    def __init__(self, *, channels: int, reduction: int) -> None:
        super().__init__()
        self.conv_mean = self._bottleneck(channels, reduction)
        self.conv_std = self._bottleneck(channels, reduction)

    @staticmethod
    def _bottleneck(channels: int, reduction: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(channels, channels // reduction, 1), nn.ReLU(),
                             nn.Conv2d(channels // reduction, channels, 1), nn.Sigmoid())

    def forward(self, features: Tensor) -> Tensor:
        mean = features.mean(dim=(2, 3), keepdim=True)
        std = features.flatten(2).std(dim=2).view_as(mean)
        return (self.conv_mean(mean) + self.conv_std(std)) / 2.0


class LatticeBlock(nn.Module):
    def __init__(self, *, channels: int, reduced: int, reduction: int) -> None:
        super().__init__()
        self.conv_block0 = self._butterfly_unit(channels, reduced)
        self.fea_ca1 = CombinationCoefficient(channels=channels, reduction=reduction)
        self.x_ca1 = CombinationCoefficient(channels=channels, reduction=reduction)
        self.conv_block1 = self._butterfly_unit(channels, reduced)
        self.fea_ca2 = CombinationCoefficient(channels=channels, reduction=reduction)
        self.x_ca2 = CombinationCoefficient(channels=channels, reduction=reduction)
        self.compress = nn.Conv2d(2 * channels, channels, 1)

    @staticmethod
    def _butterfly_unit(channels: int, reduced: int) -> nn.Sequential:
        middle = channels - reduced
        return nn.Sequential(
            nn.Conv2d(channels, middle, 3, padding=1), nn.LeakyReLU(LEAKY_SLOPE),
            nn.Conv2d(middle, middle, 3, padding=1), nn.LeakyReLU(LEAKY_SLOPE),
            nn.Conv2d(middle, channels, 3, padding=1), nn.LeakyReLU(LEAKY_SLOPE),
        )

    def forward(self, x: Tensor) -> Tensor:
        first = self.conv_block0(x)
        p1 = x + self.fea_ca1(first) * first
        q1 = first + self.x_ca1(x) * x
        second = self.conv_block1(p1)
        p2 = second + self.fea_ca2(q1) * q1
        q2 = q1 + self.x_ca2(second) * second
        return self.compress(torch.cat((p2, q2), dim=1))


def _halving_1x1(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels, channels // 2, 1), nn.ReLU())


class LatticeNet(nn.Module):
    def __init__(self, *, scale: int, channels: int, reduced: int, blocks: int, reduction: int) -> None:
        super().__init__()
        self.blocks = blocks
        self.sub_mean = mean_shift(-1.0)
        self.conv1 = nn.Conv2d(3, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        for index in range(1, blocks + 1):
            self.add_module(f"body_unit{index}",
                            LatticeBlock(channels=channels, reduced=reduced, reduction=reduction))
        for step in range(1, blocks):  # T: the fused features so far; L: the next-earlier block's output
            self.add_module(f"T_tdm{step}", _halving_1x1(channels))
            self.add_module(f"L_tdm{step}", _halving_1x1(channels))
        self.tail = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1),
                                  nn.Conv2d(channels, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale))
        self.add_mean = mean_shift(1.0)

    def forward(self, lr: Tensor) -> Tensor:
        shallow = self.conv2(self.conv1(self.sub_mean(lr * RGB_RANGE)))
        outputs = [shallow]
        for index in range(1, self.blocks + 1):
            outputs.append(getattr(self, f"body_unit{index}")(outputs[-1]))
        fused = outputs[-1]  # the last block's output, then backwards: blocks - 1, ..., 1
        for step in range(1, self.blocks):
            fused = torch.cat((getattr(self, f"T_tdm{step}")(fused),
                               getattr(self, f"L_tdm{step}")(outputs[self.blocks - step])), dim=1)
        return self.add_mean(self.tail(fused + shallow)) / RGB_RANGE


def build_latticenet(config: LatticeNetConfig) -> LatticeNet:
    return LatticeNet(scale=config.scale, channels=config.channels, reduced=config.reduced, blocks=config.blocks,
                      reduction=config.reduction)
