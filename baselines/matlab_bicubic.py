"""MATLAB's bicubic `imresize` weights, in torch alone, so that models can upsample as their authors' MATLAB did.

MATLAB's `imresize(img, scale)` with the default 'bicubic' method:
- uses the cubic kernel with a = -0.5 and, when shrinking, widens it by 1/scale (antialiasing);
- maps output pixel x (1-based) to input coordinate u = x / scale + 0.5 * (1 - 1 / scale);
- mirrors indices that fall outside the image (symmetric padding);
- resizes one dimension at a time, height first when both share one scale.

`imresize` below is MATLAB's resize on uint8 values (or unrounded, for double); `harness/data/matlab.py` wraps it
for numpy arrays and adds the single-precision version.
"""

import functools
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


def _cubic_scalar(x: float) -> float:
    x = abs(x)
    if x <= 1:
        return 1.5 * x ** 3 - 2.5 * x ** 2 + 1
    if x <= 2:
        return -0.5 * x ** 3 + 2.5 * x ** 2 - 4 * x + 2
    return 0.0


@functools.lru_cache(maxsize=64)
def _upscale_taps(in_length: int, scale: int) -> tuple[tuple[tuple[float, ...], ...], tuple[tuple[int, ...], ...]]:
    """`resize_taps` for an integer upscaling, in plain Python (so that tracers see constants, not their making)."""
    weights, indices = [], []
    for x in range(1, in_length * scale + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - 2)
        row = [_cubic_scalar(u - (left + tap)) for tap in range(6)]
        total = sum(row)
        weights.append(tuple(w / total for w in row))
        mirrored = []
        for tap in range(6):
            index = (left + tap - 1) % (2 * in_length)
            mirrored.append(index if index < in_length else 2 * in_length - 1 - index)
        indices.append(tuple(mirrored))
    return tuple(weights), tuple(indices)


def upsample(image: Tensor, scale: int) -> Tensor:
    """MATLAB `imresize(image, scale, 'bicubic')` of (..., H, W) floats by an integer factor, unquantized.

    Height first, then width, each output pixel the weighted sum of its six taps (MATLAB's order); computed in float64
    and returned in the input's dtype; differentiable.
    """
    result = image.to(torch.float64)
    for dim in (-2, -1):
        weights, indices = _upscale_taps(result.shape[dim], scale)
        weights_t = torch.tensor(weights, dtype=torch.float64, device=image.device)
        indices_t = torch.tensor(indices, dtype=torch.long, device=image.device)
        shape = [1] * result.ndim
        shape[dim] = -1
        total = None
        for tap in range(weights_t.shape[1]):
            term = result.index_select(dim, indices_t[:, tap]) * weights_t[:, tap].reshape(shape)
            total = term if total is None else total + term
        result = total
    return result.to(image.dtype)


def round_half_away_from_zero_uint8(x: torch.Tensor) -> torch.Tensor:
    # floor(x + 0.5) is half away from zero for x >= 0; for x < 0 both roundings saturate to 0 anyway.
    return torch.floor(x + 0.5).clamp_(0, 255)


def imresize(image: torch.Tensor, scale: float, *, quantize_uint8: bool = True) -> torch.Tensor:
    """Resize the last two dimensions (H, W) of `image` by `scale` as MATLAB does.

    With `quantize_uint8` the values are on the 0..255 scale and every pass is rounded and saturated as MATLAB
    does for uint8 images; the result is float64 holding integers.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    image = image.to(torch.float64)
    height, width = image.shape[-2:]
    out_height, out_width = math.ceil(height * scale), math.ceil(width * scale)
    # Height first: both dimensions share one scale, and MATLAB sorts dimensions stably by scale.
    rows = resize_matrix(height, out_height, scale).to(image.device)
    image = torch.matmul(rows, image)
    if quantize_uint8:
        image = round_half_away_from_zero_uint8(image)
    cols = resize_matrix(width, out_width, scale).to(image.device)
    image = torch.matmul(image, cols.T)
    if quantize_uint8:
        image = round_half_away_from_zero_uint8(image)
    return image
