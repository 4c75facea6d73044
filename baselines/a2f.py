"""A2F (Wang et al., ACCV 2020, "Lightweight Single-Image Super-Resolution Network with Attentive Auxiliary Feature
Learning"), written from the authors' definition (wxxxxxxh/A2F-SR, `Model_zoo/aaf.py`, `yaml/train_sd_x*.yaml`) for
their released A2F-SD files.

RGB in 0..255 inside, normalised as (x - 255 * DIV2K mean) / 127.5. A weight-normalised 3x3 head makes `features`
channels; each of `layers` blocks (weight-normalised conv to `block_features`, ReLU, conv back) is combined as
`a_i * previous + b_i * block(current)` plus `c_i` times a 1x1 fusion (then channel attention) of every earlier
state, concatenated: the "attentive auxiliary features". A weight-normalised conv and pixel shuffle make the output,
added to the same of the input (a skip branch). The learned scalars a, b, c start at `res_scale`. The variants of the
paper (S, SD, M, L) differ in these config fields; SD is the default. Weight normalisation is kept in its released
form (`weight_g`, `weight_v`: weight = g v / |v|, the norm over each output channel), so the parameter count is the
file's, as the authors count it.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines.config_checks import require_scale

RGB_MEAN = (0.4488, 0.4371, 0.4040)  # DIV2K, on 0..1 (the model subtracts it at 0..255)
HALF_RANGE = 127.5


@dataclass(frozen=True)
class A2FConfig:
    scale: int
    features: int = 16  # n_feats of A2F-SD
    block_features: int = 128
    layers: int = 8
    channel_attention: bool = True  # use_ca
    hard_sigmoid: bool = False  # use_hsigmoid
    res_scale: float = 1.0  # initial value of the learned scalars

    def __post_init__(self) -> None:
        require_scale(self.scale)
        if min(self.features, self.block_features, self.layers) < 1:
            raise ValueError("features, block_features and layers must be positive")


class WeightNormConv2d(nn.Module):
    """A convolution whose weight is g v / |v| (torch's legacy weight_norm with dim 0), stored as g and v."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.padding = kernel_size // 2
        self.weight_v = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        nn.init.kaiming_uniform_(self.weight_v, a=5 ** 0.5)
        self.weight_g = nn.Parameter(self.weight_v.detach().flatten(1).norm(dim=1).view(-1, 1, 1, 1).clone())
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor) -> Tensor:
        norm = self.weight_v.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
        return F.conv2d(x, self.weight_g * self.weight_v / norm, self.bias, padding=self.padding)


class LearnedScale(nn.Module):
    def __init__(self, *, initial: float) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor([initial]))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale


class HardSigmoid(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.relu6(x + 3) / 6


class ChannelAttention(nn.Module):
    def __init__(self, *, channels: int, hard_sigmoid: bool) -> None:
        super().__init__()
        self.conv_du = nn.Sequential(nn.Conv2d(channels, channels, 1), nn.ReLU(),
                                     nn.Conv2d(channels, channels, 1),
                                     HardSigmoid() if hard_sigmoid else nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        return x * self.conv_du(x.mean(dim=(-2, -1), keepdim=True))


class Block(nn.Module):
    def __init__(self, *, features: int, block_features: int) -> None:
        super().__init__()
        self.body = nn.Sequential(WeightNormConv2d(features, block_features, 3), nn.ReLU(),
                                  WeightNormConv2d(block_features, features, 3))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


def fusion(*, inputs: int, features: int, channel_attention: bool, hard_sigmoid: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(inputs, features, 1, bias=False)]
    if channel_attention:
        layers.append(ChannelAttention(channels=features, hard_sigmoid=hard_sigmoid))
    return nn.Sequential(*layers)


class A2F(nn.Module):
    def __init__(self, *, scale: int, features: int, block_features: int, layers: int, channel_attention: bool,
                 hard_sigmoid: bool, res_scale: float) -> None:
        super().__init__()
        outputs = 3 * scale * scale
        self.head = nn.Sequential(WeightNormConv2d(3, features, 3))
        self.body = nn.Sequential(*(Block(features=features, block_features=block_features) for _ in range(layers)))
        self.x_scale_list = nn.ModuleList(LearnedScale(initial=res_scale) for _ in range(layers))
        self.res_scale_list = nn.ModuleList(LearnedScale(initial=res_scale) for _ in range(layers))
        # "auxilary": the released files' spelling
        self.auxilary_scale_list = nn.ModuleList(LearnedScale(initial=res_scale) for _ in range(layers))
        self.fusion_conv_list = nn.ModuleList(
            fusion(inputs=features * (index + 1), features=features, channel_attention=channel_attention,
                   hard_sigmoid=hard_sigmoid) for index in range(layers))
        self.tail = nn.Sequential(WeightNormConv2d(features, outputs, 3), nn.PixelShuffle(scale))
        self.skip = nn.Sequential(WeightNormConv2d(3, outputs, 3), nn.PixelShuffle(scale))

    def forward(self, lr: Tensor) -> Tensor:
        mean = lr.new_tensor(RGB_MEAN).view(1, 3, 1, 1) * 255
        x = (lr * 255 - mean) / HALF_RANGE
        skip = self.skip(x)
        previous = current = self.head(x)
        states = [current]
        for index, block in enumerate(self.body):
            previous, current = current, block(current)
            current = self.x_scale_list[index](previous) + self.res_scale_list[index](current)
            current = current + self.auxilary_scale_list[index](self.fusion_conv_list[index](torch.cat(states, 1)))
            states.append(current)
        out = self.tail(current) + skip
        return (out * HALF_RANGE + mean) / 255


def build_a2f(config: A2FConfig) -> A2F:
    return A2F(scale=config.scale, features=config.features, block_features=config.block_features,
               layers=config.layers, channel_attention=config.channel_attention, hard_sigmoid=config.hard_sigmoid,
               res_scale=config.res_scale)
