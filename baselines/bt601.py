"""ITU-R BT.601 as MATLAB's `rgb2ycbcr` defines it: the one copy of its coefficients.

Plain Python numbers, no torch or numpy, so that every user builds its own form from them: the models' tensors
(baselines/__init__.py), the MATLAB emulation's arrays (harness/data/matlab.py), and the metrics' luma and the
conventions text written into records (harness/evaluation/metrics.py).

For RGB on 0..255: (Y, Cb, Cr) = YCBCR_OFFSET + YCBCR_MATRIX @ rgb / 255, so Y lies in [16, 235].
"""

YCBCR_MATRIX = (
    (65.481, 128.553, 24.966),
    (-37.797, -74.203, 112.0),
    (112.0, -93.786, -18.214),
)
YCBCR_OFFSET = (16.0, 128.0, 128.0)
