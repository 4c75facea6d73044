"""CARN (Ahn et al., ECCV 2018): cascading residual network, cascades inside each block and across blocks.

Table 5's 1,592K parameters (the same at every scale) are the multi-scale model the authors trained and released:
one body with three pixel-shuffle upsamplers (x2, x3 and x4), of which a forward pass uses the one of its scale.
Its count is 1,591,939 (body 816,451 + upsamplers 147,712 + 332,352 + 295,424), plus 24 frozen mean-shift
weights in the authors' code that are not counted here (the mean shift is a buffer). A single-scale model
(`multi_scale=false`) has 964,163 / 1,148,803 / 1,111,875 parameters at x2 / x3 / x4.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# The pixel-shuffle steps of each scale's upsampler (x4 is two x2 steps): the scales CARN can be built at are these.
UPSAMPLER_STEPS: dict[int, tuple[int, ...]] = {2: (2,), 3: (3,), 4: (2, 2)}
SCALES = tuple(UPSAMPLER_STEPS)
DIV2K_MEAN_RGB = (0.4488, 0.4371, 0.4040)  # subtracted at the input and added back at the output


@dataclass(frozen=True)
class CARNConfig:
    scale: int
    multi_scale: bool = True  # the published (1,592K) model carries the x2, x3 and x4 upsamplers
    channels: int = 64
    blocks: int = 3  # cascading blocks, each of `units` residual units
    units: int = 3

    def __post_init__(self) -> None:
        if self.scale not in SCALES or isinstance(self.scale, bool):
            raise ValueError(f"scale must be one of {SCALES}, got {self.scale!r}")
        if self.channels < 1:
            raise ValueError(f"channels must be positive, got {self.channels}")
        if self.blocks < 1 or self.units < 1:
            raise ValueError(f"blocks and units must be positive, got {self.blocks} and {self.units}")


class ResidualUnit(nn.Module):
    def __init__(self, *, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, features: Tensor) -> Tensor:
        return F.relu(self.conv2(F.relu(self.conv1(features))) + features)


class Cascade(nn.Module):
    """Units whose inputs are 1x1 fusions (conv + ReLU) of everything before them: CARN's local and global levels."""

    def __init__(self, *, units: list[nn.Module], channels: int) -> None:
        super().__init__()
        self.units = nn.ModuleList(units)
        self.fusions = nn.ModuleList(
            nn.Conv2d(channels * (index + 2), channels, 1) for index in range(len(units))
        )

    def forward(self, features: Tensor) -> Tensor:
        cascade = features
        for unit, fusion in zip(self.units, self.fusions):
            cascade = torch.cat([cascade, unit(features)], dim=1)
            features = F.relu(fusion(cascade))
        return features


class Upsampler(nn.Module):
    """Conv (to scale^2 times the channels) + ReLU + pixel shuffle; x4 is two x2 steps."""

    def __init__(self, *, channels: int, scale: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for step in UPSAMPLER_STEPS[scale]:
            layers += [nn.Conv2d(channels, channels * step * step, 3, padding=1), nn.ReLU(), nn.PixelShuffle(step)]
        self.body = nn.Sequential(*layers)

    def forward(self, features: Tensor) -> Tensor:
        return self.body(features)


class CARN(nn.Module):
    def __init__(self, *, scale: int, multi_scale: bool, channels: int, blocks: int, units: int) -> None:
        super().__init__()
        self.scale = scale
        self.register_buffer("mean_rgb", torch.tensor(DIV2K_MEAN_RGB).view(1, 3, 1, 1), persistent=False)
        self.entry = nn.Conv2d(3, channels, 3, padding=1)
        block_list: list[nn.Module] = [
            Cascade(units=[ResidualUnit(channels=channels) for _ in range(units)], channels=channels)
            for _ in range(blocks)
        ]
        self.body = Cascade(units=block_list, channels=channels)
        upsampler_scales = SCALES if multi_scale else (scale,)
        self.upsamplers = nn.ModuleDict(
            {f"x{each}": Upsampler(channels=channels, scale=each) for each in upsampler_scales}
        )
        self.exit = nn.Conv2d(channels, 3, 3, padding=1)

    def forward(self, lr: Tensor) -> Tensor:
        features = self.body(self.entry(lr - self.mean_rgb))
        return self.exit(self.upsamplers[f"x{self.scale}"](features)) + self.mean_rgb


def build_carn(config: CARNConfig) -> CARN:
    return CARN(scale=config.scale, multi_scale=config.multi_scale, channels=config.channels, blocks=config.blocks,
                units=config.units)
