"""The MATLAB/Caffe test scripts released with SRCNN, VDSR and IDN, transcribed as protocols."""

import numpy as np
import torch
from torch import nn

from harness.data.benchmark import ImagePair
from harness.data.matlab import (imresize_double, imresize_single, modcrop, rgb2ycbcr_double, rgb2ycbcr_uint8, shave,
                                 to_uint8, ycbcr2rgb_double)
from harness.evaluation.metrics import psnr, ssim
from harness.evaluation.protocols.base import PROTOCOLS, Protocol, run_luma

# The authors' scripts test `size(im, 3)`: a one-channel (grey) file skips rgb2ycbcr and its grey values are Y.
# `common` replicates it to three channels instead (Y = 16 + 219/255 g). A grey image stored with three equal
# channels (Set14's `man`) is an RGB image to every protocol.
GRAYSCALE = ("a one-channel file is its own Y: the grey values, without rgb2ycbcr (the scripts' size(im, 3) == 1 "
             "branch); three equal channels are RGB")


def _rounded_luma(pair: ImagePair) -> np.ndarray:
    """`if size(im,3)>1, im = rgb2ycbcr(im); im = im(:, :, 1); end` on the uint8 image `imread` gives.

    RGB: Y rounded to uint8. A one-channel file (Set14's `bridge`) skips the branch: its grey values are the Y, not
    16 + 219/255 g (the benchmark reader replicated them to three channels; `pair.one_channel` says so).
    """
    return pair.hr[..., 0] if pair.one_channel else rgb2ycbcr_uint8(pair.hr)[..., 0]


def _single_precision_pipeline(model: nn.Module, pair: ImagePair, scale: int, device: torch.device,
                               network_dtype: torch.dtype) -> tuple[float, float]:
    """SRCNN's demo_SR.m and IDN's test_IDN.m: Y rounded to uint8, everything after it single precision."""
    luma = modcrop(_rounded_luma(pair), scale)
    ground_truth = luma.astype(np.float32) / np.float32(255)  # im_gnd = single(im_gnd)/255
    low = imresize_single(ground_truth, 1 / scale)  # im_l = imresize(im_gnd, 1/up_scale, 'bicubic')
    bicubic = imresize_single(low, scale)  # im_b = imresize(im_l, up_scale, 'bicubic')
    sr = run_luma(model, low, bicubic, network_dtype, device)
    if network_dtype == torch.float64:
        scaled = sr.astype(np.float64) * 255.0  # uint8(im_h * 255) of a double im_h
    else:
        scaled = sr.astype(np.float32) * np.float32(255)  # of a single im_h
    sr_uint8 = shave(to_uint8(scaled), scale)
    gt_uint8 = shave(to_uint8(ground_truth * np.float32(255)), scale)
    return psnr(sr_uint8, gt_uint8), ssim(sr_uint8, gt_uint8)


def _score_srcnn_demo(model: nn.Module, pair: ImagePair, scale: int, device: torch.device) -> tuple[float, float]:
    # SRCNN.m fills double arrays (conv1_data = zeros(...)) with imfilter results: the network runs in double.
    return _single_precision_pipeline(model, pair, scale, device, torch.float64)


def _score_idn_test(model: nn.Module, pair: ImagePair, scale: int, device: torch.device) -> tuple[float, float]:
    # Caffe runs in float32; im_h = result + mycrop(im_b) in single; myshave/shave leave the same pixels as shave(s).
    return _single_precision_pipeline(model, pair, scale, device, torch.float32)


_SINGLE_PIPELINE = {
    "y_channel": "MATLAB rgb2ycbcr of the uint8 HR, rounded to uint8",
    "lr": "imresize(single(Y)/255, 1/s, 'bicubic') in single precision, from the HR (the LR files are not used)",
    "bicubic": "imresize(im_l, s, 'bicubic') in single precision",
    "sr_quantization": "uint8(im_h * 255): rounded half away from zero, saturated; no clamp before",
    "ground_truth": "uint8(single(Y)/255 * 255), the rounded Y",
    "crop_border": "s pixels from each side (shave)",
    "psnr": "20 log10(255 / rmse) on the uint8 Y (compute_psnr.m)",
    "ssim": "ssim_index (Wang et al. 2004): 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, valid region, on "
            "the same uint8 Y",
    "dataset_mean": "mean over images of the per-image values",
    "grayscale": GRAYSCALE,
}

PROTOCOLS["srcnn-demo"] = Protocol(
    name="srcnn-demo",
    source="SRCNN authors' demo_SR.m + SRCNN.m (MATLAB; replicate-padded imfilter)",
    conventions={**_SINGLE_PIPELINE, "network": "on im_b, in double (SRCNN.m accumulates in double arrays)",
                 "ssim_note": "demo_SR.m prints PSNR only; SSIM is ssim_index on the same images"},
    score=_score_srcnn_demo, luma_only=True, uses_lr_files=False)

PROTOCOLS["idn-test"] = Protocol(
    name="idn-test",
    source="IDN authors' test/test_IDN.m (Zheng222/IDN-Caffe)",
    conventions={**_SINGLE_PIPELINE, "network": "on im_l in float32 (Caffe); im_h = output + mycrop(im_b, s); "
                 "myshave(im_h, s) and shave(im_gnd, s) keep the same pixels"},
    score=_score_idn_test, luma_only=True, uses_lr_files=False)


def _score_vdsr_demo(model: nn.Module, pair: ImagePair, scale: int, device: torch.device) -> tuple[float, float]:
    if pair.one_channel:
        return _score_vdsr_demo_grey(model, pair, scale, device)
    hr = pair.hr
    low = pair.lr.astype(np.float64) / 255.0  # im_l = double(imresize(uint8 im_gt, 1/s)) / 255: the LR files
    ycbcr_low = rgb2ycbcr_double(low)
    luma_low = ycbcr_low[..., 0]
    upsampled = imresize_double(luma_low, scale).astype(np.float32)  # single(imresize(im_l_y, s, 'bicubic'))
    sr_luma = run_luma(model, luma_low, upsampled, torch.float32, device)
    sr_luma_255 = sr_luma.astype(np.float32) * np.float32(255)  # im_h_y = im_h_y * 255 (single)
    ycbcr_high = imresize_double(ycbcr_low, scale)
    ycbcr_high[..., 0] = (sr_luma_255 / np.float32(255)).astype(np.float64)
    sr_rgb = ycbcr2rgb_double(ycbcr_high) * 255.0  # double, neither rounded nor quantized
    # compute_psnr: rgb2ycbcr of 0..255 doubles, as if they were 0..1 (the offset becomes 16/255)
    sr_y = rgb2ycbcr_double(sr_rgb)[..., 0]
    gt_y = rgb2ycbcr_double(hr.astype(np.float64))[..., 0]
    sr_y, gt_y = shave(sr_y, scale), shave(gt_y, scale)
    return psnr(sr_y, gt_y), ssim(sr_y, gt_y)


def _score_vdsr_demo_grey(model: nn.Module, pair: ImagePair, scale: int,
                          device: torch.device) -> tuple[float, float]:
    """Demo_SR_Conv.m's `C == 1` branches: im_l_ycbcr = im_l (the grey LR is Y), im_h = im_h_y (the network's
    output x 255, neither clipped nor quantized), and compute_psnr skips rgb2ycbcr for one-channel images."""
    low = pair.lr[..., 0].astype(np.float64) / 255.0  # the grey LR, replicated by the reader
    upsampled = imresize_double(low, scale).astype(np.float32)
    sr_luma = run_luma(model, low, upsampled, torch.float32, device)
    sr = (sr_luma.astype(np.float32) * np.float32(255)).astype(np.float64)  # im_h = im_h_y * 255 (single)
    ground_truth = pair.hr[..., 0].astype(np.float64)  # double(im_gt), one channel
    sr, ground_truth = shave(sr, scale), shave(ground_truth, scale)
    return psnr(sr, ground_truth), ssim(sr, ground_truth)


PROTOCOLS["vdsr-demo"] = Protocol(
    name="vdsr-demo",
    source="caffe-vdsr Test/Demo_SR_Conv.m + utils/VDSR_Matconvnet.m (use_cascade = 0) + utils/compute_psnr.m",
    conventions={
        "lr": "imresize(uint8 HR, 1/s, 'bicubic'): the benchmark's LR files",
        "y_channel": "rgb2ycbcr of double(LR)/255, not rounded",
        "bicubic": "single(imresize(im_l_y, s, 'bicubic')), the resize in double",
        "network": "float32 (MatConvNet), Y + residual",
        "sr": "Y put back into imresize(im_l_ycbcr, s) (double), ycbcr2rgb (clipped to [0, 1]) * 255, "
              "neither rounded nor quantized",
        "ground_truth": "double(HR)",
        "y_for_scoring": "rgb2ycbcr of the 0..255 doubles of SR and HR (as if 0..1: offset 16/255), not rounded",
        "crop_border": "s pixels from each side",
        "psnr": "20 log10(255 / rmse)",
        "ssim": "ssim_index (Wang et al. 2004), 11x11 Gaussian, sigma 1.5, valid region, on those Y",
        "dataset_mean": "mean over images of the per-image values",
        "grayscale": GRAYSCALE,
    },
    score=_score_vdsr_demo, luma_only=True)
