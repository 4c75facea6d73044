"""CARN (Ahn et al., ECCV 2018): cascading residual network, cascades inside each block and across blocks.

Table 5's 1,592K parameters (the same at every scale) are the multi-scale model the authors trained and released:
one body with three pixel-shuffle upsamplers (x2, x3 and x4), of which a forward pass uses the one of its scale.
Its count is 1,591,939 (body 816,451 + upsamplers 147,712 + 332,352 + 295,424), plus 24 frozen mean-shift
weights in the authors' code that are not counted here (the mean shift is a buffer). A single-scale model
(`multi_scale=false`) has 964,163 / 1,148,803 / 1,111,875 parameters at x2 / x3 / x4.

CARN-M (`carn_m_config`, the authors' `carn_m.py` with `--group 4`) is the same cascade with arguments: efficient
residual units (grouped 3x3 convolutions, then a 1x1; `efficient_units`), one unit whose weights every step of a
block shares (`shared_units`), grouped upsamplers (`groups`), and the authors' mean shifts as the frozen 1x1
convolutions their file holds (`mean_shift="frozen_conv"`). The released `carn_m.pth` is one multi-scale file:
414,811 values, 24 of them the frozen mean shifts. The authors count trainable parameters (the mean shifts are
frozen) of a deployed single-scale model: 257,027 / 303,427 / 294,147 at x2 / x3 / x4 (`CARN_M_DEPLOYED_PARAMS`).
"""

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines.config_checks import added_later

# The pixel-shuffle steps of each scale's upsampler (x4 is two x2 steps): the scales CARN can be built at are these.
UPSAMPLER_STEPS: dict[int, tuple[int, ...]] = {2: (2,), 3: (3,), 4: (2, 2)}
SCALES = tuple(UPSAMPLER_STEPS)
DIV2K_MEAN_RGB = (0.4488, 0.4371, 0.4040)  # subtracted at the input and added back at the output
MEAN_SHIFTS = ("constant", "frozen_conv")
# CARN-M's trainable parameters as a single-scale model at each scale, as its authors count (requires_grad only)
CARN_M_DEPLOYED_PARAMS = {2: 257_027, 3: 303_427, 4: 294_147}


@dataclass(frozen=True)
class CARNConfig:
    scale: int
    multi_scale: bool = True  # the published (1,592K) model carries the x2, x3 and x4 upsamplers
    channels: int = 64
    blocks: int = 3  # cascading blocks, each of `units` residual units
    units: int = 3  # steps of each block's cascade
    groups: int = added_later(1)  # of the units' 3x3 convolutions and of the upsamplers (CARN-M: 4)
    efficient_units: bool = added_later(False)  # CARN-M's units: grouped 3x3, ReLU, grouped 3x3, ReLU, 1x1
    shared_units: bool = added_later(False)  # CARN-M: one unit per block, its weights shared by every step
    # "constant": the DIV2K mean as a constant; "frozen_conv": the authors' MeanShift 1x1 convolutions, frozen
    # parameters (identity, -/+ mean) that their files hold
    mean_shift: Literal[MEAN_SHIFTS] = added_later("constant")

    def __post_init__(self) -> None:
        if self.scale not in SCALES or isinstance(self.scale, bool):
            raise ValueError(f"scale must be one of {SCALES}, got {self.scale!r}")
        if self.channels < 1:
            raise ValueError(f"channels must be positive, got {self.channels}")
        if self.blocks < 1 or self.units < 1:
            raise ValueError(f"blocks and units must be positive, got {self.blocks} and {self.units}")
        if self.groups < 1 or self.channels % self.groups != 0:
            raise ValueError(f"groups must divide channels ({self.channels}), got {self.groups}")
        if self.mean_shift not in MEAN_SHIFTS:
            raise ValueError(f"mean_shift must be one of {MEAN_SHIFTS}, got {self.mean_shift!r}")


def carn_m_config(scale: int) -> CARNConfig:
    """CARN-M as the authors trained and released it (`carn_m.py`, `--group 4`, multi-scale)."""
    return CARNConfig(scale=scale, groups=4, efficient_units=True, shared_units=True, mean_shift="frozen_conv")


class ResidualUnit(nn.Module):
    """relu(x + conv2(relu(conv1(x)))); the efficient unit of CARN-M: relu(x + pointwise(relu(conv2(relu(conv1(x))))))
    with grouped 3x3 convolutions."""

    def __init__(self, *, channels: int, groups: int = 1, efficient: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, groups=groups)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, groups=groups)
        self.pointwise = nn.Conv2d(channels, channels, 1) if efficient else None

    def forward(self, features: Tensor) -> Tensor:
        residual = self.conv2(F.relu(self.conv1(features)))
        if self.pointwise is not None:
            residual = self.pointwise(F.relu(residual))
        return F.relu(residual + features)


class Cascade(nn.Module):
    """Units whose inputs are 1x1 fusions (conv + ReLU) of everything before them: CARN's local and global levels.

    `units[i]` runs at step i. CARN-M passes the same unit at every step (shared weights): it is held once."""

    def __init__(self, *, units: list[nn.Module], channels: int) -> None:
        super().__init__()
        distinct = list({id(unit): unit for unit in units}.values())
        self.units = nn.ModuleList(distinct)
        self.step_units = [next(i for i, unit in enumerate(distinct) if unit is step) for step in units]
        self.fusions = nn.ModuleList(
            nn.Conv2d(channels * (index + 2), channels, 1) for index in range(len(units))
        )

    def forward(self, features: Tensor) -> Tensor:
        cascade = features
        for unit_index, fusion in zip(self.step_units, self.fusions):
            cascade = torch.cat([cascade, self.units[unit_index](features)], dim=1)
            features = F.relu(fusion(cascade))
        return features


class Upsampler(nn.Module):
    """Conv (to scale^2 times the channels) + ReLU + pixel shuffle; x4 is two x2 steps."""

    def __init__(self, *, channels: int, scale: int, groups: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for step in UPSAMPLER_STEPS[scale]:
            layers += [nn.Conv2d(channels, channels * step * step, 3, padding=1, groups=groups), nn.ReLU(),
                       nn.PixelShuffle(step)]
        self.body = nn.Sequential(*layers)

    def forward(self, features: Tensor) -> Tensor:
        return self.body(features)


class MeanShift(nn.Module):
    """x + sign * DIV2K mean: a constant (buffer), or the authors' frozen 1x1 convolution (`shifter`, parameters)."""

    def __init__(self, *, sign: float, frozen_conv: bool) -> None:
        super().__init__()
        shift = sign * torch.tensor(DIV2K_MEAN_RGB)
        self.register_buffer("shift", shift.view(1, 3, 1, 1), persistent=False)
        self.shifter = None
        if frozen_conv:
            self.shifter = nn.Conv2d(3, 3, 1)
            with torch.no_grad():
                self.shifter.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
                self.shifter.bias.copy_(shift)
            self.shifter.requires_grad_(False)

    def forward(self, image: Tensor) -> Tensor:
        return image + self.shift if self.shifter is None else self.shifter(image)


class CARN(nn.Module):
    def __init__(self, *, scale: int, multi_scale: bool, channels: int, blocks: int, units: int, groups: int,
                 efficient_units: bool, shared_units: bool, mean_shift: str) -> None:
        super().__init__()
        self.scale = scale
        self.sub_mean = MeanShift(sign=-1.0, frozen_conv=mean_shift == "frozen_conv")
        self.add_mean = MeanShift(sign=1.0, frozen_conv=mean_shift == "frozen_conv")
        self.entry = nn.Conv2d(3, channels, 3, padding=1)

        def block_units() -> list[nn.Module]:
            if shared_units:
                return [ResidualUnit(channels=channels, groups=groups, efficient=efficient_units)] * units
            return [ResidualUnit(channels=channels, groups=groups, efficient=efficient_units) for _ in range(units)]

        block_list: list[nn.Module] = [Cascade(units=block_units(), channels=channels) for _ in range(blocks)]
        self.body = Cascade(units=block_list, channels=channels)
        upsampler_scales = SCALES if multi_scale else (scale,)
        self.upsamplers = nn.ModuleDict(
            {f"x{each}": Upsampler(channels=channels, scale=each, groups=groups) for each in upsampler_scales}
        )
        self.exit = nn.Conv2d(channels, 3, 3, padding=1)

    def forward(self, lr: Tensor) -> Tensor:
        features = self.body(self.entry(self.sub_mean(lr)))
        return self.add_mean(self.exit(self.upsamplers[f"x{self.scale}"](features)))


def build_carn(config: CARNConfig) -> CARN:
    return CARN(scale=config.scale, multi_scale=config.multi_scale, channels=config.channels, blocks=config.blocks,
                units=config.units, groups=config.groups, efficient_units=config.efficient_units,
                shared_units=config.shared_units, mean_shift=config.mean_shift)
