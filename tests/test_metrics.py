import numpy as np
import pytest
from skimage.metrics import structural_similarity

from harness.evaluation.metrics import gaussian_window, psnr_y, quantize, rgb_to_y, ssim, ssim_y


def random_pair(seed: int, shape=(40, 36, 3)):
    rng = np.random.default_rng(seed)
    hr = rng.integers(0, 256, shape, dtype=np.uint8)
    noise = rng.integers(-12, 13, shape)
    sr = np.clip(hr.astype(int) + noise, 0, 255).astype(np.uint8)
    return sr, hr


def test_y_channel_is_matlab_rgb2ycbcr():
    pixels = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [10, 200, 30]]], dtype=np.uint8)
    expected = 16 + (65.481 * pixels[..., 0] + 128.553 * pixels[..., 1] + 24.966 * pixels[..., 2]) / 255
    np.testing.assert_allclose(rgb_to_y(pixels), expected, rtol=0, atol=1e-12)
    assert rgb_to_y(pixels)[0, 0] == 16 and abs(rgb_to_y(pixels)[0, 1] - 235) < 1e-9


def test_psnr_y_matches_plain_formula_after_border_crop():
    sr, hr = random_pair(0)
    y_sr, y_hr = rgb_to_y(sr)[3:-3, 3:-3], rgb_to_y(hr)[3:-3, 3:-3]
    expected = 10 * np.log10(255 ** 2 / np.mean((y_sr - y_hr) ** 2))
    assert psnr_y(sr, hr, crop_border=3) == pytest.approx(expected, abs=1e-12)
    assert psnr_y(hr, hr, crop_border=3) == float("inf")


def test_ssim_matches_scikit_image_gaussian_ssim():
    sr, hr = random_pair(1, (64, 50, 3))
    y_sr, y_hr = rgb_to_y(sr), rgb_to_y(hr)
    theirs = structural_similarity(y_sr, y_hr, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                   data_range=255)
    assert ssim(y_sr, y_hr) == pytest.approx(theirs, abs=1e-9)
    assert ssim(y_hr, y_hr) == pytest.approx(1.0, abs=1e-12)


def test_ssim_window_is_normalized_11_tap_gaussian():
    window = gaussian_window()
    assert window.shape == (11,) and window.sum() == pytest.approx(1.0)
    assert window[5] == window.max() and window[0] == pytest.approx(window[10])


def test_border_crop_changes_the_score_only_through_the_border():
    sr, hr = random_pair(2)
    sr[:2] = 0  # damage only the top two rows
    assert psnr_y(sr, hr, crop_border=2) > psnr_y(sr, hr, crop_border=0)
    assert ssim_y(sr, hr, crop_border=2) > ssim_y(sr, hr, crop_border=0)


def test_metrics_refuse_unquantized_or_mismatched_images():
    sr, hr = random_pair(3)
    with pytest.raises(TypeError):
        psnr_y(sr.astype(np.float32), hr, crop_border=2)
    with pytest.raises(ValueError):
        ssim_y(sr[:-1], hr, crop_border=2)


def test_quantize_clamps_scales_and_rounds_half_to_even():
    values = np.array([-0.2, 0.0, 0.5 / 255, 1.5 / 255, 0.9999, 1.3], dtype=np.float32)
    assert quantize(values).tolist() == [0, 0, 0, 2, 255, 255]
