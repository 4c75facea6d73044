"""The MATLAB functions of the authors' test scripts (harness/data/matlab.py), each against values MATLAB gives."""

import numpy as np
import pytest
import torch

from harness.data.matlab import (imresize_double, imresize_single, imresize_uint8, modcrop, rgb2ycbcr_double,
                                 rgb2ycbcr_uint8, shave, to_uint8, ycbcr2rgb_double)


def test_uint8_rounds_half_away_from_zero_and_saturates() -> None:
    values = np.array([0.5, 1.5, 2.5, 2.4999, -0.4, -0.6, 254.5, 300.0, -7.0, np.nan])
    assert to_uint8(values).tolist() == [1, 2, 3, 2, 0, 0, 255, 255, 0, 0]
    assert to_uint8(values).dtype == np.uint8


def test_rgb2ycbcr_on_uint8_rounds() -> None:
    rgb = np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0], [10, 200, 30]]], dtype=np.uint8)
    ycbcr = rgb2ycbcr_uint8(rgb)
    assert ycbcr.dtype == np.uint8
    # MATLAB: rgb2ycbcr(uint8([255 255 255])) = [235 128 128], black [16 128 128], red [81 90 240]
    assert ycbcr[0, 0].tolist() == [235, 128, 128]
    assert ycbcr[0, 1].tolist() == [16, 128, 128]
    assert ycbcr[0, 2].tolist() == [81, 90, 240]
    exact_y = 16 + (65.481 * 10 + 128.553 * 200 + 24.966 * 30) / 255  # 132.3...: rounded, not truncated
    assert ycbcr[0, 3, 0] == int(np.floor(exact_y + 0.5))


def test_rgb2ycbcr_on_double_does_not_round_and_assumes_unit_range() -> None:
    rgb = np.array([[[10, 200, 30]]], dtype=np.float64) / 255
    y = rgb2ycbcr_double(rgb)[0, 0, 0]
    assert y == pytest.approx((16 + (65.481 * 10 + 128.553 * 200 + 24.966 * 30) / 255) / 255, abs=1e-15)
    # A script that passes 0..255 doubles gets Y = 16/255 + (65.481 R + ...) / 255, as MATLAB does.
    on_255 = rgb2ycbcr_double(rgb * 255)[0, 0, 0]
    assert on_255 == pytest.approx(16 / 255 + (65.481 * 10 + 128.553 * 200 + 24.966 * 30) / 255, abs=1e-12)


def test_ycbcr2rgb_inverts_and_clips() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.random((4, 5, 3))
    np.testing.assert_allclose(ycbcr2rgb_double(rgb2ycbcr_double(rgb)), rgb, atol=1e-12)
    outside = ycbcr2rgb_double(np.array([[[1.0, 0.5, 1.0]]]))  # far beyond the RGB cube
    assert outside.min() >= 0.0 and outside.max() <= 1.0


def test_modcrop_and_shave() -> None:
    image = np.arange(7 * 10).reshape(7, 10)
    assert modcrop(image, 3).shape == (6, 9)
    np.testing.assert_array_equal(modcrop(image, 3), image[:6, :9])
    np.testing.assert_array_equal(shave(image, 2), image[2:5, 2:8])
    np.testing.assert_array_equal(shave(image, 0), image)


def test_imresize_double_is_the_uint8_resize_without_rounding() -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (12, 18), dtype=np.uint8)
    resized = imresize_double(image.astype(np.float64), 1 / 3)
    assert resized.shape == (4, 6) and resized.dtype == np.float64
    # rounding each pass (uint8) differs from the unrounded double result by less than a grey level
    assert np.abs(resized - imresize_uint8(image, 1 / 3).astype(np.float64)).max() < 1.0
    assert not np.allclose(resized, np.round(resized))  # and it is not rounded
    upscaled = imresize_double(np.full((5, 6), 0.25), 4)  # weights sum to one: a constant stays constant
    np.testing.assert_allclose(upscaled, 0.25, atol=1e-15)
    assert upscaled.shape == (20, 24)


def test_imresize_single_computes_in_single_precision() -> None:
    rng = np.random.default_rng(2)
    image = rng.random((15, 21)).astype(np.float32)
    for scale in (1 / 3, 2, 3, 4):
        single = imresize_single(image, scale)
        double = imresize_double(image.astype(np.float64), scale)
        assert single.dtype == np.float32 and single.shape == double.shape
        error = np.abs(single.astype(np.float64) - double)
        assert 0 < error.max() < 1e-6  # float32 rounding, nothing more
    # the same arithmetic as a tap-by-tap float32 sum along each dimension (height first)
    from baselines.matlab_bicubic import resize_taps

    weights, indices = resize_taps(15, 30, 2.0)
    expected_rows = np.zeros((30, 21), np.float32)
    for tap in range(weights.shape[1]):
        expected_rows = expected_rows + weights[:, tap].numpy().astype(np.float32)[:, None] * image[indices[:, tap]]
    weights, indices = resize_taps(21, 42, 2.0)
    expected = np.zeros((30, 42), np.float32)
    for tap in range(weights.shape[1]):
        expected = expected + weights[:, tap].numpy().astype(np.float32)[None, :] * expected_rows[:, indices[:, tap]]
    np.testing.assert_array_equal(imresize_single(image, 2), expected)


def test_imresize_of_multichannel_images_resizes_each_channel() -> None:
    rng = np.random.default_rng(3)
    image = rng.random((8, 6, 3))
    resized = imresize_double(image, 2)
    assert resized.shape == (16, 12, 3)
    np.testing.assert_allclose(resized[..., 1], imresize_double(image[..., 1], 2), atol=1e-15)
    assert torch.is_tensor(torch.from_numpy(resized))
