"""The EDSR/RCAN test code (`main.py --test_only`, `trainer.py`, `utility.py`), as LatticeNet's repository
(ymff0592/super-resolution, `TestRCAN_scripts.sh`) runs it, transcribed as `edsr-test`, and `edsr-test+x8` with the
`--self_ensemble` flag its code has and its test script leaves off.

The quirks: the network sees 0..255 (`--rgb_range 255`); the output is `quantize`d (clamped to 0..255 and rounded,
half to even) but the PSNR is computed in float32 on the *difference* of the RGB images, weighted by EDSR's
65.738/129.057/25.064 over 256 (no offset, which would cancel anyway; these weights are MATLAB's x 256/255, so Y is
MATLAB's without rounding, scaled by 255/256 x 256/255 = 1 up to float32); `scale` pixels shaved. The repository has
no SSIM code (the paper's SSIM came from elsewhere): SSIM here is `common`'s, Wang's `ssim_index` on MATLAB's Y.
"""

import numpy as np
import torch
from torch import nn

from harness.data.benchmark import ImagePair
from harness.evaluation.metrics import CONVENTIONS, ssim_y
from harness.evaluation.protocols.base import PROTOCOLS, Protocol, run_rgb

EDSR_Y_WEIGHTS = (65.738, 129.057, 25.064)  # utility.calc_psnr's `convert`, applied to the difference, / 256


def edsr_psnr(sr: np.ndarray, hr: np.ndarray, *, shave: int) -> float:
    """utility.calc_psnr(benchmark): float32 difference / 255, weighted sum / 256, `shave` pixels, -10 log10(mse)."""
    diff = (torch.from_numpy(sr.astype(np.float32)) - torch.from_numpy(hr.astype(np.float32))) / 255.0
    convert = torch.tensor(EDSR_Y_WEIGHTS, dtype=torch.float32).view(1, 1, 3)
    luma = (diff * convert / 256).sum(dim=2)
    valid = luma[shave:-shave, shave:-shave] if shave > 0 else luma
    mse = float(valid.pow(2).mean())
    return float("inf") if mse == 0 else float(-10 * np.log10(mse))


def edsr_quantize(sr: np.ndarray) -> np.ndarray:
    """utility.quantize: the 0..255 output clamped and rounded (torch.round: half to even)."""
    return np.round(np.clip(sr.astype(np.float32) * np.float32(255), 0, 255)).astype(np.uint8)


def _score(model: nn.Module, pair: ImagePair, scale: int, device: torch.device, *,
           self_ensemble: bool) -> tuple[float, float]:
    sr = edsr_quantize(run_rgb(model, pair.lr, device, self_ensemble=self_ensemble))
    if sr.shape != pair.hr.shape:
        raise ValueError(f"{pair.name}: model output {sr.shape} but HR is {pair.hr.shape}")
    return edsr_psnr(sr, pair.hr, shave=scale), ssim_y(sr, pair.hr, crop_border=scale)


_EDSR_TEST = {
    "lr": "the benchmark's LR files (`LR_bicubic/X<s>`, read as uint8), RGB",
    "network": "RGB in 0..255 (--rgb_range 255), float32, the whole image (no --chop)",
    "sr_quantization": "utility.quantize: clamp to 0..255, round half to even (torch.round), on the 0..255 output",
    "y_channel": "of the RGB difference: (65.738 R + 129.057 G + 25.064 B) / 256 on (SR - HR) / 255, float32, "
                 "no offset, not rounded",
    "psnr": "-10 log10(mse) of that Y difference (peak 1 on /255 values), float32 mean",
    "ssim": f"not in the repository; {CONVENTIONS['ssim']} (common's), on MATLAB's Y, not rounded",
    "hr_crop": "HR cropped to a multiple of the scale",
    "crop_border": "s pixels from each side",
    "grayscale": "replicated to three channels (common.set_channel)",
    "dataset_mean": "mean over images of the per-image values",
}

PROTOCOLS["edsr-test"] = Protocol(
    name="edsr-test",
    source="EDSR/RCAN test code as LatticeNet runs it: ymff0592/super-resolution TestRCAN_scripts.sh -> main.py "
           "--test_only (trainer.test, utility.quantize, utility.calc_psnr)",
    conventions={**_EDSR_TEST, "self_ensemble": "none (the test script's setting)"},
    score=lambda model, pair, scale, device: _score(model, pair, scale, device, self_ensemble=False),
    luma_only=False)

PROTOCOLS["edsr-test+x8"] = Protocol(
    name="edsr-test+x8",
    source="as edsr-test, with --self_ensemble (model/__init__.py forward_x8)",
    conventions={**_EDSR_TEST, "self_ensemble": "x8: the mean of the float outputs for the LR flipped left-right, "
                 "up-down and transposed (all 8 combinations), each mapped back, before quantize; 8 forward passes"},
    score=lambda model, pair, scale, device: _score(model, pair, scale, device, self_ensemble=True),
    luma_only=False)
