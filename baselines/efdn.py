"""EFDN (Wang, NTIRE 2022 efficient SR challenge, team 01): the deploy form of the edge-enhanced feature
distillation network, as defined in `models/team01_efdn.py` of ofsoundof/NTIRE2022_ESR.

RGB in [0, 1] to RGB in [0, 1] (the output is clamped, as the authors' forward does). Module names follow the
released state dict (`head`, `cells.{i}`, `local_fuse.{i}`, `tail.0`), so `EFDN_x4.pth` loads without renaming.
276,192 parameters at x4.

A cell: a 1x1 convolution + PReLU, two 3x3 convolutions + PReLU (the re-parameterised edge blocks), four 1x1
branches halving the channels of the input and of each of those three outputs, a 1x1 fusion, enhanced spatial
attention (ESA), and a skip connection. The network: a 3x3 head, four cells with 1x1 fusions of cell pairs
(1+2, 2+3, 2+4), a global skip, a 3x3 convolution to 3 s^2 channels and a pixel shuffle.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines.config_checks import require_scale


@dataclass(frozen=True)
class EFDNConfig:
    scale: int
    channels: int = 48
    cells: int = 4  # fixed by the forward pass: cells 1+2, 2+3 and 2+4 are fused

    def __post_init__(self) -> None:
        require_scale(self.scale)
        if self.channels < 8 or self.channels % 4 != 0:
            raise ValueError(f"channels must be a multiple of 4 (ESA works on a quarter), got {self.channels}")
        if self.cells != 4:
            raise ValueError(f"EFDN has 4 cells, got {self.cells}")


class ConvPReLU(nn.Module):
    def __init__(self, channels: int, kernel: int, conv_name: str) -> None:
        super().__init__()
        self.conv_name = conv_name
        self.add_module(conv_name, nn.Conv2d(channels, channels, kernel, padding=kernel // 2))
        self.act = nn.PReLU(num_parameters=channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(getattr(self, self.conv_name)(x))


class ESA(nn.Module):
    """Enhanced spatial attention: a strided, max-pooled low-resolution branch gating the features."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        reduced = channels // 4
        self.conv1 = nn.Conv2d(channels, reduced, 1)
        self.conv_f = nn.Conv2d(reduced, reduced, 1)
        self.conv_max = nn.Conv2d(reduced, reduced, 3, padding=1)
        self.conv2 = nn.Conv2d(reduced, reduced, 3, stride=2)
        self.conv3 = nn.Conv2d(reduced, reduced, 3, padding=1)
        self.conv3_ = nn.Conv2d(reduced, reduced, 3, padding=1)
        self.conv4 = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        reduced = self.conv1(x)
        low = F.max_pool2d(self.conv2(reduced), kernel_size=7, stride=3)
        low = F.relu(self.conv3(F.relu(self.conv_max(low))))
        low = F.interpolate(self.conv3_(low), size=x.shape[-2:], mode="bilinear", align_corners=False)
        return x * torch.sigmoid(self.conv4(low + self.conv_f(reduced)))


class Cell(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = ConvPReLU(channels, 1, "conv1x1")
        self.conv2 = ConvPReLU(channels, 3, "rep_conv")
        self.conv3 = ConvPReLU(channels, 3, "rep_conv")
        self.fuse = nn.Conv2d(channels * 2, channels, 1)
        self.att = ESA(channels)
        self.branch = nn.ModuleList(nn.Conv2d(channels, channels // 2, 1) for _ in range(4))

    def forward(self, x: Tensor) -> Tensor:
        out1 = self.conv1(x)
        out2 = self.conv2(out1)
        out3 = self.conv3(out2)
        halves = [branch(t) for branch, t in zip(self.branch, (x, out1, out2, out3))]
        return self.att(self.fuse(torch.cat(halves, dim=1))) + x


class EFDN(nn.Module):
    def __init__(self, *, scale: int, channels: int) -> None:
        super().__init__()
        self.head = nn.Conv2d(3, channels, 3, padding=1)
        self.cells = nn.ModuleList(Cell(channels) for _ in range(4))
        self.local_fuse = nn.ModuleList(nn.Conv2d(channels * 2, channels, 1) for _ in range(3))
        self.tail = nn.Sequential(nn.Conv2d(channels, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale))

    def forward(self, lr: Tensor) -> Tensor:
        out0 = self.head(lr)
        out1 = self.cells[0](out0)
        out2 = self.cells[1](out1)
        out3 = self.cells[2](self.local_fuse[0](torch.cat([out1, out2], dim=1)))
        out4 = self.cells[3](self.local_fuse[1](torch.cat([out2, out3], dim=1)))
        fused = self.local_fuse[2](torch.cat([out2, out4], dim=1))
        return self.tail(fused + out0).clamp(0, 1)


def build_efdn(config: EFDNConfig) -> EFDN:
    return EFDN(scale=config.scale, channels=config.channels)
