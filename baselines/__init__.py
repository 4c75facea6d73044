"""Baseline models from Table 5 of the MREN paper, each in its own module; they import only torch.

The helpers here serve the networks that were published on the luma channel only (SRCNN, VDSR): the harness hands
every model RGB in [0, 1], so such a network runs on Y and the chroma is taken from the bicubic upsampling, as in
the original evaluation code of those papers.
"""

import torch
import torch.nn.functional as F
from torch import Tensor

from baselines.bt601 import YCBCR_MATRIX, YCBCR_OFFSET

# BT.601 (baselines/bt601.py) for values in [0, 1]: ycbcr = offset + matrix @ rgb.
_YCBCR_MATRIX = torch.tensor(YCBCR_MATRIX, dtype=torch.float64) / 255.0
_YCBCR_OFFSET = torch.tensor(YCBCR_OFFSET, dtype=torch.float64) / 255.0
_RGB_MATRIX = torch.linalg.inv(_YCBCR_MATRIX)
_RGB_BIAS = -_RGB_MATRIX @ _YCBCR_OFFSET


def rgb_to_ycbcr(rgb: Tensor) -> Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> (N, 3, H, W) Y, Cb, Cr in [0, 1] (Y in [16/255, 235/255])."""
    # A 1x1 convolution, so that MAC counters see the colour conversion as the (small) work it is.
    return F.conv2d(rgb, _YCBCR_MATRIX.to(rgb).view(3, 3, 1, 1), _YCBCR_OFFSET.to(rgb))


def ycbcr_to_rgb(ycbcr: Tensor) -> Tensor:
    """Inverse of `rgb_to_ycbcr`."""
    return F.conv2d(ycbcr, _RGB_MATRIX.to(ycbcr).view(3, 3, 1, 1), _RGB_BIAS.to(ycbcr))
