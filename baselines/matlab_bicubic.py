"""MATLAB's bicubic `imresize` weights, in torch alone, so that models can upsample as their authors' MATLAB did.

MATLAB's `imresize(img, scale)` with the default 'bicubic' method:
- uses the cubic kernel with a = -0.5 and, when shrinking, widens it by 1/scale (antialiasing);
- maps output pixel x (1-based) to input coordinate u = x / scale + 0.5 * (1 - 1 / scale);
- mirrors indices that fall outside the image (symmetric padding);
- resizes one dimension at a time, height first when both share one scale.
`harness/imresize.py` builds the uint8, double and single-precision versions of `imresize` on these weights.
"""

import math

import torch
from torch import Tensor


def cubic(x: Tensor) -> Tensor:
    absx = x.abs()
    absx2 = absx * absx
    absx3 = absx2 * absx
    near = (1.5 * absx3 - 2.5 * absx2 + 1) * (absx <= 1)
    far = (-0.5 * absx3 + 2.5 * absx2 - 4 * absx + 2) * ((absx > 1) & (absx <= 2))
    return near + far


def resize_taps(in_length: int, out_length: int, scale: float) -> tuple[Tensor, Tensor]:
    """MATLAB's contributions: (out_length, taps) float64 weights and the 0-based input index of each tap.

    Taps keep MATLAB's order (left to right); indices outside the image are mirrored (symmetric padding).
    """
    antialias = scale < 1
    kernel_width = 4.0 / scale if antialias else 4.0
    x = torch.arange(1, out_length + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    indices = left[:, None] + torch.arange(taps, dtype=torch.float64)[None, :]
    distance = u[:, None] - indices
    weights = scale * cubic(scale * distance) if antialias else cubic(distance)
    weights = weights / weights.sum(dim=1, keepdim=True)
    period = 2 * in_length
    zero_based = torch.remainder(indices.long() - 1, period)
    zero_based = torch.where(zero_based < in_length, zero_based, period - 1 - zero_based)
    # MATLAB drops the all-zero columns of the weight matrix; zero weights add nothing, so they may stay.
    return weights, zero_based


def resize_matrix(in_length: int, out_length: int, scale: float) -> Tensor:
    """(out_length, in_length) float64 matrix whose rows hold MATLAB's bicubic weights."""
    weights, zero_based = resize_taps(in_length, out_length, scale)
    matrix = torch.zeros(out_length, in_length, dtype=torch.float64)
    matrix.scatter_add_(1, zero_based, weights)
    return matrix


def upsample(image: Tensor, scale: int) -> Tensor:
    """MATLAB `imresize(image, scale, 'bicubic')` of (..., H, W) floats by an integer factor, unquantized.

    Computed in float64 and returned in the input's dtype; differentiable.
    """
    height, width = image.shape[-2:]
    rows = resize_matrix(height, height * scale, float(scale)).to(image.device)
    cols = resize_matrix(width, width * scale, float(scale)).to(image.device)
    resized = torch.matmul(torch.matmul(rows, image.to(torch.float64)), cols.T)
    return resized.to(image.dtype)
