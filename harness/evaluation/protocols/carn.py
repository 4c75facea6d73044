"""CARN's `carn/sample.py` (nmhkahn/CARN-pytorch) scored as its users score it, with SelfExSR's
`compute_difference.m`, transcribed as `carn-sample`.

`sample.py` computes no metric: it saves the SR and the HR as PNGs, and the maintainer points to MATLAB for scoring;
users score with SelfExSR's `quantitative/compute_difference.m` (jbhuang0604/SelfExSR). The quirks: the network gets
the whole LR as `ToTensor()` gives it (RGB / 255), `net(lr, scale)`; the PNG is `mul(255).clamp(0, 255).byte()`,
which **truncates** (a float 254.9 is 254); the HR goes through the same line, which leaves uint8 values as they
are. Then MATLAB: `rgb2ycbcr` of the uint8 image, so Y is **rounded** to uint8; `scale` pixels shaved; PSNR with peak
255 on the doubles of those Y; SSIM by `ssim_index` (Wang et al. 2004, valid region) on them.
"""

import numpy as np
import torch
from torch import nn

from harness.data.benchmark import ImagePair
from harness.data.matlab import rgb2ycbcr_uint8, shave
from harness.evaluation.metrics import CONVENTIONS, psnr, ssim
from harness.evaluation.protocols.base import PROTOCOLS, Protocol, run_rgb


def truncate_to_uint8(sr: np.ndarray) -> np.ndarray:
    """sample.py's save_image: `tensor.mul(255).clamp(0, 255).byte()` in float32: truncated toward zero."""
    return np.clip(sr.astype(np.float32) * np.float32(255), 0, 255).astype(np.uint8)


def _score(model: nn.Module, pair: ImagePair, scale: int, device: torch.device) -> tuple[float, float]:
    sr = truncate_to_uint8(run_rgb(model, pair.lr, device))
    if sr.shape != pair.hr.shape:
        raise ValueError(f"{pair.name}: model output {sr.shape} but HR is {pair.hr.shape}")
    sr_y, hr_y = (shave(rgb2ycbcr_uint8(image)[..., 0], scale).astype(np.float64) for image in (sr, pair.hr))
    return psnr(sr_y, hr_y), ssim(sr_y, hr_y)


PROTOCOLS["carn-sample"] = Protocol(
    name="carn-sample",
    source="CARN carn/sample.py (nmhkahn/CARN-pytorch; no metric code) + SelfExSR quantitative/compute_difference.m, "
           "the MATLAB scoring its users apply",
    conventions={
        "lr": "the benchmark's LR files, ToTensor (RGB / 255); the authors used their own benchmark pack",
        "network": "net(lr, scale) on the whole image, float32",
        "sr_quantization": "mul(255).clamp(0, 255).byte(): truncated toward zero, not rounded",
        "y_channel": "MATLAB rgb2ycbcr of the uint8 SR and HR: Y rounded to uint8",
        "crop_border": "s pixels from each side (shave)",
        "psnr": "10 log10(255^2 / mse) on double(Y)",
        "ssim": f"ssim_index: {CONVENTIONS['ssim']}, on the rounded Y",
        "hr_crop": "HR cropped to a multiple of the scale",
        "grayscale": "PIL convert('RGB'): replicated to three channels, then rgb2ycbcr like any RGB image",
        "dataset_mean": "mean over images of the per-image values",
    },
    score=_score, luma_only=False,
    assumed="the authors' repository has no metric code and scored its own benchmark LR pack with a MATLAB script "
            "that is not public: the scoring (SelfExSR's compute_difference.m) and the LR files are assumed")
