"""The MATLAB functions the authors' test scripts call, as those scripts see them, on numpy arrays.

Images are HxW or HxWxC arrays indexed as MATLAB indexes them (rows first). Each function states the class it takes
and returns, because MATLAB's result depends on it:
- `rgb2ycbcr` on uint8 rounds to uint8; on double it does not round, and it assumes values in [0, 1] (scripts that
  pass 0..255 doubles get Y = 16/255 + (65.481 R + 128.553 G + 24.966 B) / 255);
- `imresize` on double computes in double; on single in single (float32 products and sums, tap by tap);
- `uint8()` rounds half away from zero and saturates to 0..255 (NaN becomes 0);
- `modcrop` crops to a multiple of the scale from the bottom/right; `shave` removes a border from each side.
"""

import math

import numpy as np
import torch

from baselines.bt601 import YCBCR_MATRIX, YCBCR_OFFSET
from baselines.matlab_bicubic import imresize as _imresize
from baselines.matlab_bicubic import resize_taps

_RGB_TO_YCBCR = np.array(YCBCR_MATRIX)
_OFFSET = np.array(YCBCR_OFFSET)


def to_uint8(values: np.ndarray) -> np.ndarray:
    """MATLAB `uint8(x)` of a floating-point array: round half away from zero, saturate, NaN to 0."""
    values = np.asarray(values, dtype=np.float64)
    rounded = np.where(values >= 0, np.floor(values + 0.5), np.ceil(values - 0.5))
    return np.nan_to_num(np.clip(rounded, 0, 255), nan=0.0).astype(np.uint8)


def rgb2ycbcr_uint8(rgb: np.ndarray) -> np.ndarray:
    """MATLAB `rgb2ycbcr` of a uint8 HxWx3 image: each channel computed in double and rounded to uint8."""
    if rgb.dtype != np.uint8:
        raise TypeError(f"expected uint8, got {rgb.dtype}")
    values = rgb.astype(np.float64) @ (_RGB_TO_YCBCR / 255.0).T + _OFFSET
    return to_uint8(values)


def rgb2ycbcr_double(rgb: np.ndarray) -> np.ndarray:
    """MATLAB `rgb2ycbcr` of a double HxWx3 image (meant for [0, 1]): ycbcr = T/255 rgb + offset/255, unrounded."""
    return np.asarray(rgb, dtype=np.float64) @ (_RGB_TO_YCBCR / 255.0).T + _OFFSET / 255.0


def ycbcr2rgb_double(ycbcr: np.ndarray) -> np.ndarray:
    """MATLAB `ycbcr2rgb` of a double HxWx3 image in [0, 1]: rgb = 255 inv(T) (ycbcr - offset/255), clipped to
    [0, 1]."""
    inverse = np.linalg.inv(_RGB_TO_YCBCR)
    rgb = (np.asarray(ycbcr, dtype=np.float64) - _OFFSET / 255.0) @ (255.0 * inverse).T
    return np.clip(rgb, 0.0, 1.0)


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB `modcrop`: the top-left part whose height and width are multiples of `scale`."""
    height, width = image.shape[0] - image.shape[0] % scale, image.shape[1] - image.shape[1] % scale
    return image[:height, :width]


def shave(image: np.ndarray, border: int) -> np.ndarray:
    """`shave(I, [b, b])` of the SR test scripts: `b` rows and columns removed from each side."""
    return image[border:image.shape[0] - border, border:image.shape[1] - border] if border > 0 else image


def _channels_first(image: np.ndarray) -> tuple[torch.Tensor, bool]:
    tensor = torch.from_numpy(np.array(image))
    if tensor.ndim == 3:
        return tensor.permute(2, 0, 1), True
    return tensor, False


def imresize_double(image: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB `imresize(image, scale, 'bicubic')` of a double image: unquantized, in double."""
    tensor, channels_last = _channels_first(np.asarray(image, dtype=np.float64))
    resized = _imresize(tensor, scale, quantize_uint8=False)
    return (resized.permute(1, 2, 0) if channels_last else resized).numpy()


def _resize_dim_single(image: np.ndarray, axis: int, out_length: int, scale: float) -> np.ndarray:
    weights, indices = resize_taps(image.shape[axis], out_length, scale)
    weights32 = weights.numpy().astype(np.float32)
    indices_np = indices.numpy()
    moved = np.moveaxis(image, axis, 0)
    out = np.zeros((out_length,) + moved.shape[1:], dtype=np.float32)
    expand = (slice(None),) + (None,) * (moved.ndim - 1)
    for tap in range(weights32.shape[1]):  # left to right, each product and sum rounded to single
        out = out + weights32[:, tap][expand] * moved[indices_np[:, tap]]
    return np.moveaxis(out, 0, axis)


def imresize_single(image: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB `imresize(image, scale, 'bicubic')` of a single image: weights from double, arithmetic in single.

    Height first, then width (MATLAB's order when both dimensions share one scale).
    """
    image = np.asarray(image, dtype=np.float32)
    out_height = int(np.ceil(image.shape[0] * scale))
    out_width = int(np.ceil(image.shape[1] * scale))
    resized = _resize_dim_single(image, 0, out_height, scale)
    return _resize_dim_single(resized, 1, out_width, scale)


def _taps_along_first_axis(image: np.ndarray, out_length: int, scale: float, *, quantize: bool) -> np.ndarray:
    """One MATLAB resize pass along axis 0 of a uint8 or float64 (L, M) array, in float64: each output row is the
    sum, tap by tap from left to right (MATLAB's order), of weight times input row; rounded half away from zero and
    saturated to 0..255 when `quantize`. Only the bicubic kernel's taps are touched (4/scale + 2 of them when
    shrinking), where a dense (out, L) matrix product multiplies every input row by mostly zero weights. Row by row,
    so that the row being summed stays in the CPU's cache."""
    weights, indices = resize_taps(image.shape[0], out_length, scale)
    weights_list, indices_list = weights.tolist(), indices.tolist()
    out = np.zeros((out_length, image.shape[1]), dtype=np.float64)
    term = np.empty(image.shape[1], dtype=np.float64)
    for row, row_weights, row_indices in zip(out, weights_list, indices_list):
        for weight, index in zip(row_weights, row_indices):
            if weight == 0.0:  # an edge tap of the widened kernel: adding +0 leaves the sum as it is
                continue
            np.multiply(image[index], weight, out=term, dtype=np.float64)
            row += term
    if quantize:
        np.floor(out + 0.5, out=out)
        np.clip(out, 0, 255, out=out)
    return out


def imresize_uint8(image: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB `imresize(image, scale)` on a uint8 HxW or HxWxC array, returning uint8.

    Height first, then width, each pass summing its taps in MATLAB's order and rounding to uint8 as MATLAB does.
    The same numbers as `baselines.matlab_bicubic.imresize` (a dense matrix product per pass), several times faster
    (benchmarks/imresize_speed.py).
    """
    if image.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got {image.dtype}")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    height, width = image.shape[:2]
    rest = image.shape[2:]
    out_height, out_width = math.ceil(height * scale), math.ceil(width * scale)
    flat = image.reshape(height, -1)  # uint8: each product is made in float64 without a float64 copy of the image
    rows = _taps_along_first_axis(flat, out_height, scale, quantize=True).reshape((out_height, width) + rest)
    columns = np.ascontiguousarray(np.moveaxis(rows, 1, 0)).reshape(width, -1)
    resized = _taps_along_first_axis(columns, out_width, scale, quantize=True)
    resized = np.moveaxis(resized.reshape((out_width, out_height) + rest), 0, 1)
    return np.ascontiguousarray(resized.astype(np.uint8))
