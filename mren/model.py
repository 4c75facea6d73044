"""MREN (section 3.1, Fig. 1): shallow 3x3 convolution, n MREBs, long skip, RBWA stages, 3x3 convolution plus
bicubic upsampling of the input."""

import torch
import torch.nn.functional as F
from torch import nn

from mren.blocks import MREB, RBWA, conv
from mren.config import RBWA_FACTORS, MRENConfig


def rbwa_factors(scale: int) -> tuple[float, ...]:
    """Upsampling factor of each RBWA stage at `scale` (mren/config.py RBWA_FACTORS)."""
    return RBWA_FACTORS[scale]


class MREN(nn.Module):
    """RGB in [0, 1], (N, 3, H, W) -> (N, 3, scale*H, scale*W) for any H, W."""

    def __init__(self, config: MRENConfig) -> None:
        super().__init__()
        self.scale = config.scale
        self.shallow = conv(3, config.channels, 3)
        self.blocks = nn.ModuleList(
            MREB(channels=config.channels, scacb_channels=config.scacb_channels,
                 distill_channels=config.distill_channels, wsilb_reduction=config.wsilb_reduction,
                 comm_weight=config.comm_weight, scacb=config.scacb, dracb=config.dracb)
            for _ in range(config.n_mreb))
        stages: list[RBWA] = []
        in_channels, out_channels = config.channels, config.rbwa_channels
        for factor in rbwa_factors(config.scale):
            stages.append(RBWA(in_channels=in_channels, out_channels=out_channels, factor=factor,
                               wsilb_reduction=config.wsilb_reduction))
            in_channels, out_channels = out_channels, out_channels // 2
        self.reconstruct = nn.ModuleList(stages)
        self.tail = conv(in_channels, 3, 3)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        shallow = self.shallow(lr)  # eq. (1)
        feature = shallow
        attention_map: torch.Tensor | None = None  # the attention chain runs through all MREBs
        for block in self.blocks:  # eq. (2)
            feature, attention_map = block(feature, attention_map)
        feature = feature + shallow  # eq. (3): the long skip F_n + F_0
        for stage in self.reconstruct:
            feature = stage(feature)
        bicubic = F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return self.tail(feature) + bicubic  # eq. (4)


def build_mren(config: MRENConfig) -> MREN:
    return MREN(config)
