"""LapSRN (Lai et al., CVPR 2017) and MS-LapSRN (Lai et al., TPAMI 2018): Laplacian-pyramid networks on the luma
channel, from the authors' MatConvNet DagNN definitions (phoenix104104/LapSRN: the layers of the released
`LapSRN_x{2,4,8}.mat`, `init_MSLapSRN_model.m`).

Each pyramid level doubles the size: a feature branch (convolutions with leaky ReLU 0.2, then a 3x3 stride-2
transposed convolution) predicts a residual that is added to the level's image, upsampled by a learned 4x4 stride-2
transposed convolution. A x2^L network has L levels; the feature branch of each level starts from the features of the
level below. The authors test a scale that is not a power of two (x3) with the next larger network and MATLAB's
`imresize` of its output to the target size (`SR_LapSRN.m`); `forward` does the same with MATLAB's bicubic weights.

- `LapSRN`: every level has its own weights; a level is `depth` x (conv, leaky ReLU), the transposed convolution and
  a leaky ReLU; the input convolution is followed by a leaky ReLU.
- `MSLapSRN`: one set of weights shared by every level (and every scale): a level repeats a block of `depth`
  pre-activation convolutions (leaky ReLU, conv) `recursions` times, each repetition's output summed with the level's
  input ("SS" local residual), then leaky ReLU and the transposed convolution; no activation after either the input
  convolution or the transposed convolution.

MatConvNet's `ConvTranspose` with `upsample 2, crop [0 1 0 1]` (3x3 filter) gives a (2H+1)-row output of which the
last row and column are cropped; `crop 1` of the 4x4 image filter is torch's `padding=1`.
On RGB input (the `common` protocol) Y goes through the network and Cb/Cr are MATLAB-bicubic upsampled.
"""

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from baselines import rgb_to_ycbcr, ycbcr_to_rgb
from baselines.config_checks import require_scale
from baselines.matlab_bicubic import imresize
from baselines.srcnn import bicubic_upsample

LEAK = 0.2  # dagnn.ReLU('leak', 0.2) everywhere


def pyramid_levels(scale: int) -> int:
    """Levels of the network a scale is served by: log2 of the next power of two (x3 by the x4 network)."""
    return max(1, math.ceil(math.log2(scale)))


@dataclass(frozen=True)
class LapSRNConfig:
    scale: int
    depth: int = 10  # convolutions per level: 10 in LapSRN_x2/x4.mat, 5 in LapSRN_x8.mat
    channels: int = 64

    def __post_init__(self) -> None:
        require_scale(self.scale)
        if self.depth < 1 or self.channels < 1:
            raise ValueError(f"depth and channels must be positive, got {self.depth} and {self.channels}")


@dataclass(frozen=True)
class MSLapSRNConfig:
    scale: int
    depth: int = 5  # D: convolutions per recursive block (the released files are D5)
    recursions: int = 8  # R: repetitions of the block per level (released: R2, R5, R8)
    channels: int = 64

    def __post_init__(self) -> None:
        require_scale(self.scale)
        if min(self.depth, self.recursions, self.channels) < 1:
            raise ValueError(f"depth, recursions and channels must be positive, got {self.depth}, "
                             f"{self.recursions} and {self.channels}")


class FeatureUpsample(nn.Module):
    """MatConvNet ConvTranspose, 3x3, upsample 2, crop [0 1 0 1]: twice the size, aligned to the top left."""

    def __init__(self, *, channels: int) -> None:
        super().__init__()
        self.deconv = nn.ConvTranspose2d(channels, channels, 3, stride=2)

    def forward(self, features: Tensor) -> Tensor:
        return self.deconv(features)[..., :-1, :-1]


def image_upsample() -> nn.ConvTranspose2d:
    """The learned x2 upsampling of the image (4x4, upsample 2, crop 1, no bias)."""
    return nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1, bias=False)


def leaky() -> nn.LeakyReLU:
    return nn.LeakyReLU(LEAK)


class LapSRNLevel(nn.Module):
    def __init__(self, *, depth: int, channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(depth):
            layers += [nn.Conv2d(channels, channels, 3, padding=1), leaky()]
        self.body = nn.Sequential(*layers)
        self.upsample = FeatureUpsample(channels=channels)
        self.activation = leaky()
        self.residual = nn.Conv2d(channels, 1, 3, padding=1)
        self.image_up = image_upsample()

    def forward(self, features: Tensor, image: Tensor) -> tuple[Tensor, Tensor]:
        features = self.activation(self.upsample(self.body(features)))
        return features, self.image_up(image) + self.residual(features)


class _LumaPyramid(nn.Module):
    """What both networks share: the RGB wrapper and the resize of a non-power-of-two scale."""

    scale: int

    def pyramid(self, y_lr: Tensor) -> Tensor:
        raise NotImplementedError

    def luma(self, y_lr: Tensor, y_up: Tensor) -> Tensor:
        """SR luma from the LR luma `y_lr` ((N, 1, H, W), 0..1), the pyramid's last output; `y_up` is not used.
        At a scale that is not a power of two the output is the larger pyramid's (the protocol resizes it)."""
        return self.pyramid(y_lr)

    def forward(self, lr: Tensor) -> Tensor:
        ycbcr = rgb_to_ycbcr(lr)
        luma = self.pyramid(ycbcr[:, :1])
        height, width = lr.shape[-2] * self.scale, lr.shape[-1] * self.scale
        if luma.shape[-2:] != (height, width):  # SR_LapSRN.m: imresize(y, [size(img_HR, 1), size(img_HR, 2)])
            luma = imresize(luma, height / luma.shape[-2], quantize_uint8=False).to(luma.dtype)
        chroma = bicubic_upsample(ycbcr[:, 1:], self.scale, "matlab")
        return ycbcr_to_rgb(torch.cat([luma, chroma], dim=1))


class LapSRN(_LumaPyramid):
    def __init__(self, *, scale: int, depth: int, channels: int) -> None:
        super().__init__()
        self.scale = scale
        self.input_conv = nn.Conv2d(1, channels, 3, padding=1)
        self.input_activation = leaky()
        self.levels = nn.ModuleList(LapSRNLevel(depth=depth, channels=channels)
                                    for _ in range(pyramid_levels(scale)))

    def pyramid(self, y_lr: Tensor) -> Tensor:
        features = self.input_activation(self.input_conv(y_lr))
        image = y_lr
        for level in self.levels:
            features, image = level(features, image)
        return image


class MSLapSRN(_LumaPyramid):
    structural_buffers = ("recursion_count",)

    def __init__(self, *, scale: int, depth: int, recursions: int, channels: int) -> None:
        super().__init__()
        self.scale = scale
        self.levels = pyramid_levels(scale)
        self.recursions = recursions
        # R is not visible in the shared weights: a persistent integer buffer, so that a file of another R (its
        # DagNN unrolls R) is refused when loaded (harness/evaluation/weights.py, `structural_buffers`)
        self.register_buffer("recursion_count", torch.tensor(recursions))
        self.input_conv = nn.Conv2d(1, channels, 3, padding=1)
        block: list[nn.Module] = []
        for _ in range(depth):
            block += [leaky(), nn.Conv2d(channels, channels, 3, padding=1)]
        self.block = nn.Sequential(*block)  # shared by every recursion and level
        self.activation = leaky()
        self.upsample = FeatureUpsample(channels=channels)
        self.residual = nn.Conv2d(channels, 1, 3, padding=1)
        self.image_up = image_upsample()

    def pyramid(self, y_lr: Tensor) -> Tensor:
        features = self.input_conv(y_lr)
        image = y_lr
        for _ in range(self.levels):
            level_input = features
            for _ in range(self.recursions):
                features = self.block(features) + level_input
            features = self.upsample(self.activation(features))
            image = self.image_up(image) + self.residual(features)
        return image


def build_lapsrn(config: LapSRNConfig) -> LapSRN:
    return LapSRN(scale=config.scale, depth=config.depth, channels=config.channels)


def build_ms_lapsrn(config: MSLapSRNConfig) -> MSLapSRN:
    return MSLapSRN(scale=config.scale, depth=config.depth, recursions=config.recursions, channels=config.channels)
