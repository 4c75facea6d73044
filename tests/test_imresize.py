import math

import numpy as np
import pytest
import torch
from PIL import Image

from baselines.matlab_bicubic import resize_matrix
from harness.cli import main
from harness.data.images import crop_to_multiple, read_rgb
from harness.data.matlab import imresize_uint8


def matlab_contributions(in_length: int, out_length: int, scale: float) -> np.ndarray:
    """A direct, loop-by-loop transcription of MATLAB's `contributions` (imresize.m), as a dense matrix."""
    def cubic(x: float) -> float:
        ax = abs(x)
        if ax <= 1:
            return 1.5 * ax ** 3 - 2.5 * ax ** 2 + 1
        if ax <= 2:
            return -0.5 * ax ** 3 + 2.5 * ax ** 2 - 4 * ax + 2
        return 0.0

    width = 4 / scale if scale < 1 else 4
    matrix = np.zeros((out_length, in_length))
    mirror = list(range(1, in_length + 1)) + list(range(in_length, 0, -1))
    for x in range(1, out_length + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        taps = [left + k for k in range(math.ceil(width) + 2)]
        weights = [scale * cubic(scale * (u - j)) if scale < 1 else cubic(u - j) for j in taps]
        total = sum(weights)
        for j, w in zip(taps, weights):
            matrix[x - 1, mirror[(j - 1) % len(mirror)] - 1] += w / total
    return matrix


@pytest.mark.parametrize("in_length,scale", [(12, 1 / 2), (13, 1 / 3), (17, 1 / 4), (5, 2), (7, 3), (9, 4), (3, 4)])
def test_resize_matrix_matches_matlab_transcription(in_length, scale):
    out_length = math.ceil(in_length * scale)
    ours = resize_matrix(in_length, out_length, scale).numpy()
    np.testing.assert_allclose(ours, matlab_contributions(in_length, out_length, scale), atol=1e-12)


def test_uint8_resize_keeps_constant_images_constant():
    image = np.full((30, 21, 3), 77, dtype=np.uint8)
    for scale in (1 / 2, 1 / 3, 2, 3, 4):
        resized = imresize_uint8(image, scale)
        assert resized.shape == (math.ceil(30 * scale), math.ceil(21 * scale), 3)
        assert (resized == 77).all()


def test_uint8_resize_rounds_half_away_from_zero_and_saturates():
    # A step edge: the cubic kernel overshoots below 0 and above 255 next to it, which uint8 output saturates.
    image = np.full((8, 8), 10, dtype=np.uint8)
    image[:, 4:] = 250
    exact = resize_matrix(8, 16, 2).numpy()
    unclipped = exact @ image.astype(np.float64) @ exact.T
    assert unclipped.max() > 255.5 and unclipped.min() < -0.5
    expected = np.clip(np.floor(exact @ image.astype(np.float64) + 0.5), 0, 255)
    expected = np.clip(np.floor(expected @ exact.T + 0.5), 0, 255)
    up = imresize_uint8(image, 2)
    assert np.array_equal(up, expected.astype(np.uint8))
    assert up.max() == 255 and up.min() == 0


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_degrade_reproduces_matlab_lr_of_set5_bit_for_bit(shared_dir, tmp_path, scale):
    hr_dir = shared_dir / "benchmarks" / "Set5" / "HR"
    out = tmp_path / f"X{scale}"
    assert main(["degrade", "--hr", str(hr_dir), "--scale", str(scale), "--out", str(out)]) == 0
    reference_dir = shared_dir / "benchmarks" / "Set5" / "LR_bicubic" / f"X{scale}"
    references = sorted(reference_dir.glob("*.png"))
    assert len(references) == 5
    for reference in references:
        ours = np.asarray(Image.open(out / reference.name))
        theirs = read_rgb(reference)
        assert ours.shape == theirs.shape, reference.name
        assert np.array_equal(ours, theirs), f"{reference.name}: {(ours != theirs).sum()} pixels differ"


def test_degrade_crops_hr_to_a_multiple_of_the_scale():
    hr = np.random.default_rng(0).integers(0, 256, (50, 37, 3), dtype=np.uint8)
    from harness.data.benchmark import degrade

    lr = degrade(hr, 4)
    assert lr.shape == (12, 9, 3)
    assert np.array_equal(lr, imresize_uint8(crop_to_multiple(hr, 4), 1 / 4))


def test_imresize_runs_on_batched_float_tensors():
    from baselines.matlab_bicubic import imresize

    batch = torch.rand(2, 3, 10, 14) * 255
    out = imresize(batch, 2, quantize_uint8=False)
    assert out.shape == (2, 3, 20, 28)


def test_rounding_is_half_away_from_zero_not_half_to_even():
    from baselines.matlab_bicubic import round_half_away_from_zero_uint8

    values = torch.tensor([0.5, 1.5, 2.5, 254.5, 255.4, -0.5, -3.0, 300.0], dtype=torch.float64)
    assert round_half_away_from_zero_uint8(values).tolist() == [1, 2, 3, 255, 255, 0, 0, 255]


@pytest.mark.parametrize("shape", [(50, 37, 3), (13, 17), (5, 4, 3), (64, 48, 1)])
def test_tap_by_tap_resize_equals_the_dense_matrix_product(shape):
    # imresize_uint8 sums only the kernel's taps, in MATLAB's order; the dense product it replaced
    # (baselines.matlab_bicubic.imresize, benchmarks/imresize_speed.py) must give the same uint8 image.
    from baselines.matlab_bicubic import imresize

    image = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    channels_first = torch.from_numpy(image).permute(2, 0, 1) if image.ndim == 3 else torch.from_numpy(image)
    for scale in (1 / 2, 1 / 3, 1 / 4, 2, 3, 4):
        dense = imresize(channels_first, scale, quantize_uint8=True).to(torch.uint8)
        dense = (dense.permute(1, 2, 0) if image.ndim == 3 else dense).numpy()
        ours = imresize_uint8(image, scale)
        assert ours.shape == dense.shape and ours.dtype == np.uint8
        assert np.array_equal(ours, dense), (shape, scale)
