"""MATLAB-compatible bicubic `imresize`, bit-exact on uint8 images.

MATLAB's `imresize(img, scale)` with the default 'bicubic' method:
- uses the cubic kernel with a = -0.5 and, when shrinking, widens it by 1/scale (antialiasing);
- maps output pixel x (1-based) to input coordinate u = x / scale + 0.5 * (1 - 1 / scale);
- mirrors indices that fall outside the image (symmetric padding);
- resizes one dimension at a time, the dimension with the smaller scale first (height on a tie);
- for uint8 input, rounds each pass half away from zero and saturates to 0..255, so the intermediate is uint8.

The weights live in `baselines/matlab_bicubic.py` (torch only), so that models upsample with the same code.
"""

import math

import numpy as np
import torch

from baselines.matlab_bicubic import cubic, resize_matrix, resize_taps  # noqa: F401  (re-exported)


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


def imresize_uint8(image: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB `imresize(image, scale)` on a uint8 HxW or HxWxC array, returning uint8."""
    if image.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got {image.dtype}")
    tensor = torch.from_numpy(np.array(image))
    channels_last = tensor.ndim == 3
    if channels_last:
        tensor = tensor.permute(2, 0, 1)
    resized = imresize(tensor, scale, quantize_uint8=True)
    if channels_last:
        resized = resized.permute(1, 2, 0)
    return resized.to(torch.uint8).numpy()
