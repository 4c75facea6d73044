"""Y-channel PSNR and SSIM with the conventions of the SR literature, spelled out in each signature.

These reproduce the numbers of the MATLAB evaluation scripts used by EDSR, IMDN and the MREN paper:
Y of BT.601 as MATLAB's `rgb2ycbcr` on 0..255 RGB (not rounded), `crop_border` pixels removed from each side,
PSNR with peak 255, SSIM of Wang et al. 2004 with an 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03,
over the valid region of the filter.
"""

import numpy as np
from scipy.ndimage import correlate1d

from baselines.bt601 import YCBCR_MATRIX, YCBCR_OFFSET
from harness.conventions import SSIM_WINDOW
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
PEAK = 255.0
_Y_OFFSET, _Y_WEIGHTS = YCBCR_OFFSET[0], YCBCR_MATRIX[0]  # the luma row of BT.601 (baselines/bt601.py)

CONVENTIONS = {
    "y_channel": f"BT.601 as MATLAB rgb2ycbcr, Y = {_Y_OFFSET:g} + ({_Y_WEIGHTS[0]:g} R + {_Y_WEIGHTS[1]:g} G + "
                 f"{_Y_WEIGHTS[2]:g} B) / 255 on 0-255 RGB, not rounded",
    "sr_quantization": "network output clamped to [0, 1], scaled to 0-255, rounded half to even, uint8",
    "psnr_peak": PEAK,
    "ssim": f"Wang et al. 2004: {SSIM_WINDOW}x{SSIM_WINDOW} Gaussian window, sigma {SSIM_SIGMA}, "
            f"K1 {SSIM_K1}, K2 {SSIM_K2}, valid region, on Y in 0-255",
    "hr_crop": "HR cropped to a multiple of the scale",
    "grayscale": "replicated to three channels",
    "dataset_mean": "mean over images of the per-image values",
}


def rgb_to_y(image: np.ndarray) -> np.ndarray:
    """uint8 (or 0..255 float) HxWx3 RGB -> float64 HxW luma in [16, 235], as MATLAB's rgb2ycbcr."""
    rgb = image.astype(np.float64)
    return _Y_OFFSET + (_Y_WEIGHTS[0] * rgb[..., 0] + _Y_WEIGHTS[1] * rgb[..., 1] + _Y_WEIGHTS[2] * rgb[..., 2]) / 255.0


def _crop(image: np.ndarray, crop_border: int) -> np.ndarray:
    return image[crop_border:-crop_border, crop_border:-crop_border] if crop_border > 0 else image


def _check_pair(sr: np.ndarray, hr: np.ndarray) -> None:
    if sr.dtype != np.uint8 or hr.dtype != np.uint8:
        raise TypeError(f"metrics take uint8 images (quantize the SR output first), got {sr.dtype} and {hr.dtype}")
    if sr.shape != hr.shape:
        raise ValueError(f"SR {sr.shape} and HR {hr.shape} differ in shape")


def psnr_y(sr: np.ndarray, hr: np.ndarray, *, crop_border: int) -> float:
    """PSNR (dB, peak 255) between the Y channels of two uint8 RGB images, `crop_border` pixels cropped per side."""
    _check_pair(sr, hr)
    return psnr(_crop(rgb_to_y(sr), crop_border), _crop(rgb_to_y(hr), crop_border))


def ssim_y(sr: np.ndarray, hr: np.ndarray, *, crop_border: int) -> float:
    """SSIM between the Y channels of two uint8 RGB images, `crop_border` pixels cropped per side."""
    _check_pair(sr, hr)
    return ssim(_crop(rgb_to_y(sr), crop_border), _crop(rgb_to_y(hr), crop_border))


def psnr(x: np.ndarray, y: np.ndarray, *, peak: float = PEAK) -> float:
    mse = np.mean((x.astype(np.float64) - y.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(peak * peak / mse))


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    weights = np.exp(-(offsets ** 2) / (2 * sigma * sigma))
    return weights / weights.sum()


def _filter_valid(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Separable correlation with `window` on both axes, keeping only the region the window fully covers."""
    radius = len(window) // 2
    filtered = correlate1d(correlate1d(image, window, axis=0, mode="constant"), window, axis=1, mode="constant")
    return filtered[radius:-radius, radius:-radius]


def ssim(x: np.ndarray, y: np.ndarray, *, peak: float = PEAK) -> float:
    """Mean SSIM of two single-channel images on the 0..peak scale (Wang et al. 2004, Gaussian window, valid)."""
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    if min(x.shape) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {x.shape}")
    window = gaussian_window()
    c1 = (SSIM_K1 * peak) ** 2
    c2 = (SSIM_K2 * peak) ** 2
    mu_x = _filter_valid(x, window)
    mu_y = _filter_valid(y, window)
    sigma_x2 = _filter_valid(x * x, window) - mu_x ** 2
    sigma_y2 = _filter_valid(y * y, window) - mu_y ** 2
    sigma_xy = _filter_valid(x * y, window) - mu_x * mu_y
    ssim_map = (((2 * mu_x * mu_y + c1) * (2 * sigma_xy + c2))
                / ((mu_x ** 2 + mu_y ** 2 + c1) * (sigma_x2 + sigma_y2 + c2)))
    return float(ssim_map.mean())


def quantize(sr: np.ndarray) -> np.ndarray:
    """SR output in [0, 1] -> uint8: cast to float32, clamped, scaled by 255 in float32, rounded half to even.

    Float32 arithmetic on purpose, also for float64 outputs (smoke-trained models): it is what the reference
    evaluation scripts did with the network output.
    """
    return np.round(np.clip(sr.astype(np.float32), 0.0, 1.0) * np.float32(255.0)).astype(np.uint8)


# --- SSIM as other toolboxes define it (the authors' protocols; harness/evaluation/protocols/) -----------------------

# MATLAB's built-in `ssim(A, ref)` (Image Processing Toolbox, R2014a and later), as its documentation and code state
# it: Gaussian weighting of standard deviation `Radius` 1.5 over a filter of 2 * ceil(3 * 1.5) + 1 = 11 taps
# (imgaussfilt), 'replicate' padding and a 'same'-size map, so that the mean runs over the whole image, border
# included; C1 = (0.01 L)^2, C2 = (0.03 L)^2, C3 = C2 / 2 with exponents 1 (Wang's equation 13); L is the
# `DynamicRange`, diff(getrangefromclass(A)): 1 for double images.
MATLAB_SSIM_CONVENTIONS = ("MATLAB built-in ssim: Gaussian weights sigma 1.5, 11x11 (2*ceil(3*sigma)+1), replicate "
                           "padding, map the size of the image and averaged over all of it; K1 0.01, K2 0.03, "
                           "DynamicRange 1 on double images in [0, 1]")


def ssim_matlab(x: np.ndarray, y: np.ndarray, *, dynamic_range: float) -> float:
    """MATLAB's built-in `ssim` of two single-channel images whose values span `dynamic_range` (1 for double)."""
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    radius = int(np.ceil(3 * SSIM_SIGMA))
    window = gaussian_window(2 * radius + 1, SSIM_SIGMA)

    def blur(image: np.ndarray) -> np.ndarray:  # imgaussfilt(..., 'Padding', 'replicate'): scipy's "nearest"
        return correlate1d(correlate1d(image, window, axis=0, mode="nearest"), window, axis=1, mode="nearest")

    c1 = (SSIM_K1 * dynamic_range) ** 2
    c2 = (SSIM_K2 * dynamic_range) ** 2
    mu_x, mu_y = blur(x), blur(y)
    sigma_x2 = blur(x * x) - mu_x ** 2
    sigma_y2 = blur(y * y) - mu_y ** 2
    sigma_xy = blur(x * y) - mu_x * mu_y
    ssim_map = (((2 * mu_x * mu_y + c1) * (2 * sigma_xy + c2))
                / ((mu_x ** 2 + mu_y ** 2 + c1) * (sigma_x2 + sigma_y2 + c2)))
    return float(ssim_map.mean())


# scikit-image's `structural_similarity(..., gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`: a
# Gaussian of sigma 1.5 truncated at 3.5 sigma (radius int(3.5 * 1.5 + 0.5) = 5: 11 taps), scipy's gaussian_filter
# with 'reflect' padding, the map cropped by the radius before its mean (so the padding never counts: the valid region,
# as Wang's); C1 = (0.01 R)^2, C2 = (0.03 R)^2 with R the `data_range` (255 for uint8 images).
SKIMAGE_SSIM_TRUNCATE = 3.5
SKIMAGE_SSIM_CONVENTIONS = ("scikit-image structural_similarity: gaussian_weights, sigma 1.5 truncated at 3.5 sigma "
                            "(11 taps), use_sample_covariance=False, reflect padding, map cropped by 5 before the "
                            "mean; K1 0.01, K2 0.03, data_range 255 (uint8)")


def ssim_skimage(x: np.ndarray, y: np.ndarray, *, data_range: float) -> float:
    """scikit-image's Gaussian SSIM of two single-channel images (conventions above)."""
    from scipy.ndimage import gaussian_filter

    x = x.astype(np.float64)
    y = y.astype(np.float64)
    radius = int(SKIMAGE_SSIM_TRUNCATE * SSIM_SIGMA + 0.5)
    if min(x.shape) < 2 * radius + 1:
        raise ValueError(f"SSIM needs images of at least {2 * radius + 1} pixels a side, got {x.shape}")

    def blur(image: np.ndarray) -> np.ndarray:
        return gaussian_filter(image, sigma=SSIM_SIGMA, truncate=SKIMAGE_SSIM_TRUNCATE, mode="reflect")

    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    mu_x, mu_y = blur(x), blur(y)
    sigma_x2 = blur(x * x) - mu_x * mu_x
    sigma_y2 = blur(y * y) - mu_y * mu_y
    sigma_xy = blur(x * y) - mu_x * mu_y
    ssim_map = (((2 * mu_x * mu_y + c1) * (2 * sigma_xy + c2))
                / ((mu_x ** 2 + mu_y ** 2 + c1) * (sigma_x2 + sigma_y2 + c2)))
    return float(ssim_map[radius:-radius, radius:-radius].mean())
