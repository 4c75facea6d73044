"""A model registered from outside the harness: import this module with `--plugin examples.plugin_model`.

    python -m harness run examples/plugin.yaml --profile smoke --plugin examples.plugin_model
    python -m harness complexity --model tiny_plugin --scale 4 --plugin examples.plugin_model

The whole contract (docs/plugins.md): a frozen config dataclass with a `scale: int` field whose __post_init__ raises
ValueError on bad values, a builder from that config to an nn.Module mapping RGB in [0, 1] of shape (N, 3, H, W) to
(N, 3, scale H, scale W), and one `register` call. The model itself imports only torch.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from harness.registry import MODELS, register


@dataclass(frozen=True)
class TinyConfig:
    scale: int
    channels: int = 16  # width of the hidden layer

    def __post_init__(self) -> None:
        if self.scale not in (2, 3, 4):
            raise ValueError(f"scale must be 2, 3 or 4, got {self.scale}")
        if not 1 <= self.channels <= 256:
            raise ValueError(f"channels must be in 1..256, got {self.channels}")


class TinySR(nn.Module):
    """Two convolutions and a pixel shuffle, added to a bilinear upsampling of the input."""

    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.scale = config.scale
        self.features = nn.Conv2d(3, config.channels, 3, padding=1)
        self.to_pixels = nn.Conv2d(config.channels, 3 * config.scale ** 2, 3, padding=1)
        self.shuffle = nn.PixelShuffle(config.scale)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        base = F.interpolate(lr, scale_factor=self.scale, mode="bilinear", align_corners=False)
        return base + self.shuffle(self.to_pixels(F.relu(self.features(lr))))


def build_tiny(config: TinyConfig) -> nn.Module:
    return TinySR(config)


if "tiny_plugin" not in MODELS:  # importing twice (a worker that already unpickled a config of it) registers once
    register("tiny_plugin", TinyConfig, build_tiny)
