"""HPINet (Liu et al., AAAI 2023, "From Coarse to Fine: Hierarchical Pixel Integration for Lightweight Image
Super-Resolution"), written from the authors' definition (passerer/HPINet, branch `cc`, `HPINet.py`) for their
released `HPINet-{M,S}-x{s}.pth`.

RGB in [0, 1]. A 3x3 convolution makes `dim` features; each of `blocks` stages cuts them into overlapping square
patches (side `patch_sizes[i]`, stride side - 2), pairs every patch with its most similar other patch (cosine-like
score of the layer-normed patch means, itself excluded: the hard choice the authors make at inference), runs
`layers_per_block` transformer layers on each patch's pixels (the first cross-attends to the paired patch, the others
self-attend; pre-LayerNorm, single head), folds the patches back (overlaps averaged as the authors' code does) and
adds a 3x3 convolution of the result. Sub-pixel upsampling with leaky ReLU 0.1 (twice x2 for x4) and a 3x3
convolution predict a residual over bilinear upsampling (`align_corners=False`). The variants M and S differ only in
widths (config fields). Module names follow the released files' keys.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines.config_checks import require_scale


@dataclass(frozen=True)
class HPINetConfig:
    scale: int
    dim: int = 56  # M; S has 40
    blocks: int = 8
    layers_per_block: int = 3
    qk_dim: int = 32  # M; S has 24
    mlp_dim: int = 100  # M; S has 72
    heads: int = 1
    patch_sizes: tuple[int, ...] = (12, 16, 20, 24, 12, 16, 20, 24)

    def __post_init__(self) -> None:
        require_scale(self.scale)  # x4 is two x2 pixel shuffles, any other scale one (the registry says which)
        if len(self.patch_sizes) != self.blocks:
            raise ValueError(f"patch_sizes needs one side per block ({self.blocks}), got {len(self.patch_sizes)}")
        if min(self.patch_sizes) < 3:
            raise ValueError(f"patch sides must be at least 3 (the stride is side - 2), got {self.patch_sizes}")
        if min(self.dim, self.qk_dim, self.mlp_dim, self.heads, self.layers_per_block) < 1:
            raise ValueError("dim, qk_dim, mlp_dim, heads and layers_per_block must be positive")
        if self.qk_dim % self.heads or self.dim % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide dim and qk_dim")


def hpinet_s_config(scale: int) -> HPINetConfig:
    """HPINet-S: the authors' 'S' setting."""
    return HPINetConfig(scale=scale, dim=40, qk_dim=24, mlp_dim=72)


def patch_starts(length: int, step: int, side: int) -> list[int]:
    """Where the authors' patch_divide starts each patch along one axis: every `step`, the last one moved back to end
    at the border."""
    return [min(start, length - side) for start in range(0, length + step - side, step)]


def patch_halved(length: int, step: int, side: int) -> list[tuple[int, int]]:
    """The [begin, end) ranges along one axis that the authors' patch_reverse divides by 2 (their overlaps)."""
    ranges = []
    for start in range(step, length + step - side, step):
        begin = length - side if start + side > length else start
        ranges.append((begin, start + side - step))
    return ranges


def divide(x: Tensor, step: int, side: int) -> Tensor:
    """(B, C, H, W) -> (B, N, C, side, side) patches, row-major."""
    height, width = x.shape[-2:]
    if height == side and width == side:
        step = side
    patches = [x[:, :, top:top + side, left:left + side]
               for top in patch_starts(height, step, side) for left in patch_starts(width, step, side)]
    return torch.stack(patches, dim=1)


def reverse(patches: Tensor, like: Tensor, step: int, side: int) -> Tensor:
    """Patches summed back into an image shaped as `like`, the authors' overlaps halved (twice where they cross)."""
    height, width = like.shape[-2:]
    output = torch.zeros_like(like)
    index = 0
    for top in patch_starts(height, step, side):
        for left in patch_starts(width, step, side):
            output[:, :, top:top + side, left:left + side] += patches[:, index]
            index += 1
    for begin, end in patch_halved(height, step, side):
        output[:, :, begin:end, :] /= 2
    for begin, end in patch_halved(width, step, side):
        output[:, :, :, begin:end] /= 2
    return output


class Attention(nn.Module):
    def __init__(self, *, dim: int, heads: int, qk_dim: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = qk_dim ** -0.5
        self.to_q = nn.Linear(dim, qk_dim, bias=False)
        self.to_k = nn.Linear(dim, qk_dim, bias=False)
        self.to_v = nn.Linear(dim, dim, bias=False)

    def _split(self, tokens: Tensor) -> Tensor:  # (B, N, H*D) -> (B, H, N, D)
        batch, count, width = tokens.shape
        return tokens.view(batch, count, self.heads, width // self.heads).transpose(1, 2)

    def forward(self, x: Tensor, support: Tensor | None = None) -> Tensor:
        """Self-attention, or cross-attention to `support` (keys and values from it)."""
        source = x if support is None else support
        q, k, v = self._split(self.to_q(x)), self._split(self.to_k(source)), self._split(self.to_v(source))
        weights = (torch.matmul(q, k.transpose(-1, -2)) * self.scale).softmax(-1)
        out = torch.matmul(weights, v).transpose(1, 2)
        return out.reshape(out.shape[0], out.shape[1], -1)


class PreNorm(nn.Module):
    """LayerNorm of the input only (a support passed to attention is not normalized, as in the authors' code)."""

    def __init__(self, *, dim: int, fn: nn.Module) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x: Tensor, **kwargs: Tensor | None) -> Tensor:
        return self.fn(self.norm(x), **kwargs)


class FeedForward(nn.Module):
    def __init__(self, *, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class PatchTransformer(nn.Module):
    """Transformer layers over each patch's pixels; the first cross-attends to the paired patch."""

    def __init__(self, *, dim: int, layers: int, qk_dim: int, mlp_dim: int, heads: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([PreNorm(dim=dim, fn=Attention(dim=dim, heads=heads, qk_dim=qk_dim)),
                           PreNorm(dim=dim, fn=FeedForward(dim=dim, hidden=mlp_dim))])
            for _ in range(layers))

    def forward(self, patches: Tensor, paired: Tensor) -> Tensor:
        batch, count, channels, height, width = patches.shape

        def tokens(t: Tensor) -> Tensor:  # (B, N, C, h, w) -> (B*N, h*w, C)
            return t.flatten(0, 1).flatten(2).transpose(1, 2)

        x, support = tokens(patches), tokens(paired)
        for index, (attention, feed_forward) in enumerate(self.layers):
            x = attention(x, support=support if index == 0 else None) + x
            x = feed_forward(x) + x
        return x.transpose(1, 2).reshape(batch, count, channels, height, width)


class Match(nn.Module):
    """For every patch, the most similar other patch (argmax of scaled dot products of layer-normed means)."""

    def __init__(self, *, dim: int) -> None:
        super().__init__()
        self.scale = dim ** -0.5
        self.norm = nn.LayerNorm(dim)

    def forward(self, patches: Tensor) -> Tensor:
        batch, count = patches.shape[:2]
        means = self.norm(patches.mean(dim=(-2, -1)))  # (B, N, C)
        scores = torch.matmul(means, means.transpose(-1, -2)) * self.scale
        scores = scores - 100 * torch.eye(count, device=scores.device, dtype=scores.dtype)  # never itself
        # the authors' inference choice (training used a Gumbel-softmax relaxation, not needed to run the weights)
        chosen = scores.argmax(dim=-1)  # (B, N)
        return torch.stack([patches[b, chosen[b]] for b in range(batch)])


class HPINet(nn.Module):
    def __init__(self, *, scale: int, dim: int, blocks: int, layers_per_block: int, qk_dim: int, mlp_dim: int,
                 heads: int, patch_sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.scale = scale
        self.patch_sizes = patch_sizes
        self.first_conv = nn.Conv2d(3, dim, 3, padding=1)
        self.cross_match = nn.ModuleList(Match(dim=dim) for _ in range(blocks))
        self.blocks = nn.ModuleList(PatchTransformer(dim=dim, layers=layers_per_block, qk_dim=qk_dim,
                                                     mlp_dim=mlp_dim, heads=heads) for _ in range(blocks))
        self.mid_convs = nn.ModuleList(nn.Conv2d(dim, dim, 3, padding=1) for _ in range(blocks))
        if scale == 4:
            self.upconv1 = nn.Conv2d(dim, dim * 4, 3, padding=1)
            self.upconv2 = nn.Conv2d(dim, dim * 4, 3, padding=1)
        else:
            self.upconv = nn.Conv2d(dim, dim * scale * scale, 3, padding=1)
        self.last_conv = nn.Conv2d(dim, 3, 3, padding=1)
        self.lrelu = nn.LeakyReLU(0.1)

    def forward(self, lr: Tensor) -> Tensor:
        base = F.interpolate(lr, scale_factor=self.scale, mode="bilinear", align_corners=False)
        x = self.first_conv(lr)
        for side, match, block, conv in zip(self.patch_sizes, self.cross_match, self.blocks, self.mid_convs):
            step = side - 2
            patches = divide(x, step, side)
            mixed = block(patches, match(patches))
            x = x + conv(reverse(mixed, x, step, side))
        if self.scale == 4:
            out = self.lrelu(F.pixel_shuffle(self.upconv1(x), 2))
            out = self.lrelu(F.pixel_shuffle(self.upconv2(out), 2))
        else:
            out = self.lrelu(F.pixel_shuffle(self.upconv(x), self.scale))
        return base + self.last_conv(out)


def build_hpinet(config: HPINetConfig) -> HPINet:
    return HPINet(scale=config.scale, dim=config.dim, blocks=config.blocks, layers_per_block=config.layers_per_block,
                  qk_dim=config.qk_dim, mlp_dim=config.mlp_dim, heads=config.heads, patch_sizes=config.patch_sizes)
