"""A2F's scoring (wxxxxxxh/A2F-SR), transcribed as a protocol.

Its `test.py` computes no metric: it writes the SR of LR files as PNGs (`cutils.quantize`: x255, clamped, rounded).
The only scoring code in the repository is the validator that `train.py` runs during training
(`Data_zoo/common_utils.py calc_psnr(sr, hr, 4, rgb_range, benchmark=True)`): EDSR-style, the RGB difference of the
rounded SR and the HR, divided by 255, weighted 65.738 / 129.057 / 25.064 over 256 and summed (a Y difference
without the +16, which cancels), PSNR = -10 log10(MSE) (peak 1). It shaves **4** pixels at every scale (the scale
argument is the literal 4 in `train.py`), and computes no SSIM. The protocol behind the paper's table is not public;
this is the one its repository points to. SSIM, which the validator lacks, is `common`'s (Wang's, on BT.601 Y with
its +16 offset, which SSIM, unlike the PSNR of a difference, depends on) over the validator's 4-pixel crop, and the
conventions say so.
"""

import numpy as np
import torch
from torch import nn

from harness.data.benchmark import ImagePair
from harness.evaluation.inference import super_resolve
from harness.evaluation.metrics import CONVENTIONS, rgb_to_y, ssim
from harness.evaluation.protocols.base import PROTOCOLS, Protocol

EDSR_Y_WEIGHTS = (65.738, 129.057, 25.064)  # over 256: BT.601's 65.481 / 128.553 / 24.966 over 255, rescaled
EDSR_Y_DIVISOR = 256.0
VALIDATOR_SHAVE = 4  # train.py passes 4 as calc_psnr's scale, whatever the model's scale


def edsr_y(rgb: np.ndarray) -> np.ndarray:
    """The EDSR-style luma of 0..255 RGB on 0..1, without the offset: sum of weights x channel / 255 / 256."""
    values = rgb.astype(np.float64) / 255.0
    return sum(weight * values[..., channel] for channel, weight in enumerate(EDSR_Y_WEIGHTS)) / EDSR_Y_DIVISOR


def _score_a2f_validator(model: nn.Module, pair: ImagePair, scale: int, device: torch.device) -> tuple[float, float]:
    sr = super_resolve(model, pair.lr, device)  # cutils.quantize: clamp, x255, round half to even (torch.round)
    if sr.shape != pair.hr.shape:
        raise ValueError(f"{pair.name}: model output {sr.shape} but HR is {pair.hr.shape}")
    border = VALIDATOR_SHAVE
    sr_y = edsr_y(sr)[border:-border, border:-border]
    hr_y = edsr_y(pair.hr)[border:-border, border:-border]
    mse = float(np.mean((sr_y - hr_y) ** 2))
    psnr = float("inf") if mse == 0 else -10.0 * float(np.log10(mse))
    return psnr, ssim(rgb_to_y(sr)[border:-border, border:-border], rgb_to_y(pair.hr)[border:-border, border:-border])


PROTOCOLS["a2f-validator"] = Protocol(
    name="a2f-validator",
    source="A2F-SR train.py validation (Data_zoo/common_utils.py calc_psnr, benchmark=True); its test.py scores "
           "nothing",
    conventions={
        "lr": "the benchmark's LR files (cutils.imread_uint, RGB 0..255)",
        "sr_quantization": "cutils.quantize: x255/rgb_range, clamped to 0..255, rounded half to even",
        "y_channel": "EDSR-style: (65.738 R + 129.057 G + 25.064 B) / 256 of the RGB / 255, no +16 offset, not "
                     "rounded",
        "crop_border": "4 pixels from each side at every scale (train.py passes the literal 4 to calc_psnr)",
        "psnr": "-10 log10(MSE) on that Y in 0..1 (peak 1)",
        "ssim": "the validator computes none; reported: " + CONVENTIONS["ssim"] + ", on " + CONVENTIONS["y_channel"]
                + ", over the validator's 4-pixel crop",
        "hr_crop": CONVENTIONS["hr_crop"],
        "grayscale": "imread_uint: three equal channels (cv2.COLOR_GRAY2RGB), scored as RGB",
        "dataset_mean": "mean over images of the per-image values",
    },
    score=_score_a2f_validator, luma_only=False,
    assumed="the protocol behind the paper's table is not public: its repository's only PSNR code is this training-"
            "time validator, and it has no SSIM")
