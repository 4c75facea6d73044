"""HPINet's `test.py` (passerer/HPINet, branch `cc`), transcribed as a protocol.

The network runs on the RGB LR files (`cv2.imread`, /255, float32); `utils.tensor2np` clamps its output, scales it
by 255 and rounds half to even to uint8 (what `common` does); both images are shaved by `scale`; Y is scikit-image's
`rgb2ycbcr` of the uint8 image (16 + (65.481 R + 128.553 G + 24.966 B) / 255, R in 0..1) **rounded** to uint8 by
`utils.quantize` (clip, `np.round`: half to even); PSNR and SSIM are scikit-image's (`compare_psnr`, `compare_ssim`
with Gaussian weights, sigma 1.5, `use_sample_covariance=False`) on those uint8 Y, data range 255 from the dtype.
`cv2.IMREAD_COLOR` reads a grey file as three equal channels: it is scored as RGB, as under `common`.
"""

import numpy as np
import torch
from torch import nn

from harness.data.benchmark import ImagePair
from harness.data.matlab import shave
from harness.evaluation.inference import super_resolve
from harness.evaluation.metrics import SKIMAGE_SSIM_CONVENTIONS, psnr, rgb_to_y, ssim_skimage
from harness.evaluation.protocols.base import PROTOCOLS, Protocol

UINT8_RANGE = 255.0


def rounded_y(rgb: np.ndarray) -> np.ndarray:
    """`utils.quantize(skimage.color.rgb2ycbcr(rgb)[:, :, 0])` of a uint8 RGB image: Y clipped and rounded half to even
    (numpy's round) to uint8."""
    return np.round(np.clip(rgb_to_y(rgb), 0, 255)).astype(np.uint8)


def _score_hpinet_test(model: nn.Module, pair: ImagePair, scale: int, device: torch.device) -> tuple[float, float]:
    sr = super_resolve(model, pair.lr, device)  # tensor2np: clamp, x255, round half to even, uint8
    if sr.shape != pair.hr.shape:
        raise ValueError(f"{pair.name}: model output {sr.shape} but HR is {pair.hr.shape}")
    sr_y, hr_y = rounded_y(shave(sr, scale)), rounded_y(shave(pair.hr, scale))
    return psnr(sr_y, hr_y, peak=UINT8_RANGE), ssim_skimage(sr_y, hr_y, data_range=UINT8_RANGE)


PROTOCOLS["hpinet-test"] = Protocol(
    name="hpinet-test",
    source="HPINet authors' test.py + utils.py (passerer/HPINet, branch cc)",
    conventions={
        "lr": "the benchmark's LR files (cv2.imread, RGB), /255 in float32",
        "sr_quantization": "utils.tensor2np: clamped to [0, 1], x255, rounded half to even, uint8",
        "crop_border": "s pixels from each side (utils.shave), before the colour conversion",
        "y_channel": "skimage.color.rgb2ycbcr of the uint8 RGB, Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255, "
                     "clipped and rounded half to even to uint8 (utils.quantize)",
        "psnr": "skimage compare_psnr on the uint8 Y, data range 255",
        "ssim": SKIMAGE_SSIM_CONVENTIONS,
        "hr_crop": "HR cropped to a multiple of the scale (utils.modcrop)",
        "grayscale": "cv2.IMREAD_COLOR: three equal channels, scored as RGB",
        "dataset_mean": "mean over images of the per-image values",
    },
    score=_score_hpinet_test, luma_only=False)
