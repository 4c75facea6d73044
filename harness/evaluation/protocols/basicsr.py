"""The BasicSR (mmsr) test code as PAN's repository runs it (zhaohengyuan1/PAN `codes/test.py` with
`options/test/test_PANx*.yml`), transcribed as `basicsr-test`.

The quirks: LR from the pre-made PNGs, read with OpenCV as float32 / 255 (a one-channel file made BGR); the HR
`modcrop`ped to a multiple of the scale; the output through `tensor2img` (clamp to [0, 1], x 255 in float32, round
half to even, uint8); `scale` pixels cropped (`crop_border`) before the Y conversion; Y by `bgr2ycbcr(img / 255.,
only_y=True)` on float64: 16 + (65.481 R + 128.553 G + 24.966 B) / 255, not rounded; PSNR in float64 with peak 255;
SSIM with OpenCV's `filter2D` (11x11 Gaussian, sigma 1.5) and `[5:-5, 5:-5]`: the valid region, as Wang's. On
these images that is `common` up to floating point (tests/test_zoo.py pins both); what makes it its own protocol is
that PAN's logs are per image, to 6 decimals, and this is the code that wrote them.
"""

import numpy as np
import torch
from torch import nn

from baselines.bt601 import YCBCR_MATRIX
from harness.data.benchmark import ImagePair
from harness.evaluation.metrics import SSIM_K1, SSIM_K2, SSIM_SIGMA, psnr, ssim
from harness.conventions import SSIM_WINDOW
from harness.evaluation.protocols.base import PROTOCOLS, Protocol, run_rgb

BGR_Y_WEIGHTS = YCBCR_MATRIX[0][::-1]  # data/util.bgr2ycbcr(only_y=True): the BT.601 luma row, on BGR


def tensor2img(sr: np.ndarray) -> np.ndarray:
    """utils/util.tensor2img: clamp to [0, 1], x 255.0 (float32), round (half to even), uint8."""
    return np.round(np.clip(sr.astype(np.float32), 0, 1) * np.float32(255.0)).astype(np.uint8)


def bgr2ycbcr_y(rgb: np.ndarray) -> np.ndarray:
    """bgr2ycbcr(img / 255., only_y=True) * 255 of a uint8 RGB image: float64 Y on 0..255, not rounded."""
    bgr = rgb[..., ::-1].astype(np.float64) / 255.0 * 255.0
    return (bgr @ np.array(BGR_Y_WEIGHTS) / 255.0 + 16.0) / 255.0 * 255.0


def _score(model: nn.Module, pair: ImagePair, scale: int, device: torch.device) -> tuple[float, float]:
    sr = tensor2img(run_rgb(model, pair.lr, device))
    if sr.shape != pair.hr.shape:
        raise ValueError(f"{pair.name}: model output {sr.shape} but HR is {pair.hr.shape}")
    sr, hr = (image[scale:-scale, scale:-scale] for image in (sr, pair.hr))  # util.crop_border
    sr_y, hr_y = bgr2ycbcr_y(sr), bgr2ycbcr_y(hr)
    return psnr(sr_y, hr_y), ssim(sr_y, hr_y)


PROTOCOLS["basicsr-test"] = Protocol(
    name="basicsr-test",
    source="BasicSR/mmsr test code as PAN runs it: zhaohengyuan1/PAN codes/test.py, utils/util.py "
           "(tensor2img, crop_border, calculate_psnr, calculate_ssim), data/util.py (bgr2ycbcr, modcrop)",
    conventions={
        "lr": "the benchmark's LR files (`LR_bicubic/X<s>`), OpenCV-read as float32 / 255, RGB to the network",
        "network": "RGB in [0, 1], float32, the whole image",
        "sr_quantization": "tensor2img: clamp to [0, 1], x 255 in float32, round half to even, uint8",
        "hr_crop": "modcrop: HR cropped to a multiple of the scale",
        "crop_border": "s pixels from each side (crop_border: ~), before the Y conversion",
        "y_channel": "bgr2ycbcr(img / 255., only_y=True): 16 + (65.481 R + 128.553 G + 24.966 B) / 255 in float64, "
                     "not rounded",
        "psnr": "calculate_psnr: 20 log10(255 / rmse) in float64 on Y x 255",
        "ssim": f"calculate_ssim: cv2.filter2D with an {SSIM_WINDOW}x{SSIM_WINDOW} Gaussian (sigma {SSIM_SIGMA}), "
                f"[5:-5, 5:-5] (the valid region), K1 {SSIM_K1}, K2 {SSIM_K2}, float64",
        "grayscale": "a one-channel file is made BGR (cv2.COLOR_GRAY2BGR): replicated to three channels",
        "dataset_mean": "mean over images of the per-image values",
    },
    score=_score, luma_only=False)
