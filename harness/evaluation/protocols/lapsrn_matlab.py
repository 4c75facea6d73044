"""The MATLAB evaluation released with LapSRN and MS-LapSRN (phoenix104104/LapSRN), transcribed as a protocol.

`evaluate_LapSRN_dataset.m` / `evaluate_MSLapSRN_dataset.m` make the LR themselves from the HR in double precision
and never quantize it; `SR_LapSRN.m` / `SR_MSLapSRN.m` run the network on the Y of `rgb2ycbcr` of that double LR
and take Cb/Cr from `imresize(img_LR_ycbcr, s)`; `utils/evaluate_SR.m` quantizes both images with `im2uint8` and
scores Y with MATLAB's built-in `psnr` and `ssim` (not Wang's `ssim_index`).

Two versions of that evaluation differ on one-channel images, so they are two protocols:
- `lapsrn-matlab`: the repository as it stands (since October 2017, `utils/evaluate_SR.m`): a one-channel image is
  its own Y (`if size(img_GT, 3) > 1`).
- `lapsrn-cvpr17`: the script released with the CVPR 2017 models (`evaluate_LapSRN_dataset.m` of April 2017, commit
  11d1829), the code behind the paper's numbers. It calls `rgb2ycbcr` on every image without that branch, and MATLAB
  refuses `rgb2ycbcr` of an HxW image that is not a colormap, so every image of the test pack it ran on had three
  channels. A one-channel HR (Set14's `bridge` in some packs) is therefore read as the three equal channels such a
  pack holds. On a set with no one-channel image the two protocols give the same numbers.
"""

import dataclasses
import functools

import numpy as np
import torch
from torch import nn

from harness.data.benchmark import ImagePair
from harness.data.matlab import imresize_double, imresize_single, rgb2ycbcr_double, shave, to_uint8, ycbcr2rgb_double
from harness.evaluation.metrics import MATLAB_SSIM_CONVENTIONS, psnr, ssim_matlab
from harness.evaluation.protocols.base import PROTOCOLS, Protocol, run_luma
from harness.evaluation.protocols.matlab_demos import GRAYSCALE

DOUBLE_RANGE = 1.0  # diff(getrangefromclass(x)) of a double image: the peak of psnr and ssim's DynamicRange


def _im2uint8_double(image: np.ndarray) -> np.ndarray:
    """`im2double(im2uint8(x))` of a double image: clamped to [0, 1], x255 rounded, back to [0, 1]."""
    return to_uint8(np.asarray(image, dtype=np.float64) * 255.0).astype(np.float64) / 255.0


def _luma_for_scoring(image: np.ndarray, one_channel: bool) -> np.ndarray:
    return image if one_channel else rgb2ycbcr_double(image)[..., 0]


def _score_lapsrn_matlab(model: nn.Module, pair: ImagePair, scale: int, device: torch.device, *,
                         grey_as_rgb: bool) -> tuple[float, float]:
    if grey_as_rgb:  # the reader replicates a one-channel HR into three equal channels already
        pair = dataclasses.replace(pair, one_channel=False)
    ground_truth = pair.hr.astype(np.float64) / 255.0  # im2double(imread(...)), mod_crop'ed by the reader
    if pair.one_channel:
        ground_truth = ground_truth[..., 0]  # imread gives HxW: no rgb2ycbcr anywhere
    low = imresize_double(ground_truth, 1 / scale)  # imresize(img_GT, 1/s, 'bicubic') on double: never quantized
    low_ycbcr = low if pair.one_channel else rgb2ycbcr_double(low)
    high = imresize_double(low_ycbcr, scale)  # img_HR = imresize(img_LR, s): Cb/Cr (and a Y that is replaced)
    luma_low = (low_ycbcr if pair.one_channel else low_ycbcr[..., 0]).astype(np.float32)  # y = single(img_LR(:,:,1))
    luma_high = high if pair.one_channel else high[..., 0]
    sr = run_luma(model, luma_low, luma_high.astype(np.float32), torch.float32, device)  # MatConvNet: single
    if sr.shape != luma_high.shape:  # a scale that is not the network's: imresize(y, [rows, cols]) of a single y
        sr = imresize_single(sr, luma_high.shape[0] / sr.shape[0])
    if pair.one_channel:
        output = sr.astype(np.float64)
    else:
        high[..., 0] = sr.astype(np.float64)  # img_HR(:, :, 1) = double(y)
        output = ycbcr2rgb_double(high)
    sr_y = shave(_luma_for_scoring(_im2uint8_double(output), pair.one_channel), scale)
    gt_y = shave(_luma_for_scoring(_im2uint8_double(ground_truth), pair.one_channel), scale)
    return psnr(sr_y, gt_y, peak=DOUBLE_RANGE), ssim_matlab(sr_y, gt_y, dynamic_range=DOUBLE_RANGE)


_LAPSRN_MATLAB = {
    "lr": "imresize(im2double(HR), 1/s, 'bicubic') in double, from the HR (the LR files are not used), never "
          "quantized",
    "y_channel": "rgb2ycbcr of the double LR (not rounded); the network sees single(Y)",
    "network": "float32 (MatConvNet) on the LR Y; a scale the network does not have (x3 by x4) is resized to "
               "the target by imresize of the single output",
    "sr": "Y put into imresize(rgb2ycbcr(LR), s) (double), ycbcr2rgb (clipped to [0, 1])",
    "sr_quantization": "im2uint8 of SR and HR, then im2double (evaluate_SR.m)",
    "y_for_scoring": "rgb2ycbcr of those double images, not rounded, in [16/255, 235/255]",
    "crop_border": "s pixels from each side (shave_bd)",
    "psnr": "MATLAB built-in psnr, peak 1 on double images (= peak 255 on 0-255)",
    "ssim": MATLAB_SSIM_CONVENTIONS,
    "dataset_mean": "mean over images of the per-image values",
}
_SOURCE = "(phoenix104104/LapSRN)"

PROTOCOLS["lapsrn-matlab"] = Protocol(
    name="lapsrn-matlab",
    source="LapSRN authors' evaluate_LapSRN_dataset.m / evaluate_MSLapSRN_dataset.m + SR_LapSRN.m / SR_MSLapSRN.m + "
           f"utils/evaluate_SR.m, as the repository stands since October 2017 {_SOURCE}",
    conventions={**_LAPSRN_MATLAB, "grayscale": GRAYSCALE},
    score=functools.partial(_score_lapsrn_matlab, grey_as_rgb=False), luma_only=True, uses_lr_files=False)

PROTOCOLS["lapsrn-cvpr17"] = Protocol(
    name="lapsrn-cvpr17",
    source=f"LapSRN authors' evaluate_LapSRN_dataset.m + SR_LapSRN.m of April 2017 (commit 11d1829), the evaluation "
           f"released with the CVPR 2017 models {_SOURCE}",
    conventions={**_LAPSRN_MATLAB,
                 "sr_quantization": "im2double(im2uint8(SR)) in the script; the HR is uint8 already",
                 "grayscale": "a one-channel file is read as three equal channels: the script calls rgb2ycbcr on "
                              "every image, which MATLAB refuses for a one-channel one, so the authors' test pack "
                              "held every image in three channels"},
    score=functools.partial(_score_lapsrn_matlab, grey_as_rgb=True), luma_only=True, uses_lr_files=False)
