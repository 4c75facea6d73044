"""`common`: the EDSR/IMDN/MREN conventions every model is scored under."""

import torch
from torch import nn

from harness.data.benchmark import ImagePair
from harness.evaluation.inference import super_resolve
from harness.evaluation.metrics import CONVENTIONS, psnr_y, ssim_y
from harness.evaluation.protocols.base import PROTOCOLS, Protocol

def _score_common(model: nn.Module, pair: ImagePair, scale: int, device: torch.device) -> tuple[float, float]:

    sr = super_resolve(model, pair.lr, device)
    if sr.shape != pair.hr.shape:
        raise ValueError(f"{pair.name}: model output {sr.shape} but HR is {pair.hr.shape}")
    return psnr_y(sr, pair.hr, crop_border=scale), ssim_y(sr, pair.hr, crop_border=scale)


PROTOCOLS["common"] = Protocol(
    name="common",
    source="EDSR/IMDN evaluation conventions, ../shared/README.md",
    conventions={**CONVENTIONS, "sr": "the model maps RGB LR (the benchmark's LR files) to RGB SR; a luma network "
                 "runs on the Y of MATLAB's bicubic upsampling and takes Cb/Cr from it"},
    score=_score_common, luma_only=False)
