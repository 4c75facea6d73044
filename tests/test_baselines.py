"""Baselines of the MREN paper's Table 5: what tests/test_models.py does not check of every model (variants,
colour handling, IMDN fidelity)."""

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from baselines import rgb_to_ycbcr, ycbcr_to_rgb
from baselines.matlab_bicubic import upsample as matlab_upsample
from harness.evaluation.complexity import count_params
from harness.evaluation.weights import load_weights
from harness.registry import build_model, make_config

SCALES = (2, 3, 4)


@pytest.mark.parametrize("scale", SCALES)
def test_carn_single_scale_variant_drops_the_other_upsamplers(scale: int) -> None:
    single = count_params(build_model("carn", make_config("carn", scale, {"multi_scale": "false"})))
    assert single == {2: 964_163, 3: 1_148_803, 4: 1_111_875}[scale]


@pytest.mark.parametrize("name", ["srcnn", "vdsr"])
def test_rgb_variant_of_luma_networks(name: str) -> None:
    model = build_model(name, make_config(name, 2, {"color": "rgb"}))
    assert model(torch.rand(1, 3, 8, 9)).shape == (1, 3, 16, 18)


def test_ycbcr_round_trip_is_lossless() -> None:
    rgb = torch.rand(2, 3, 5, 6)
    torch.testing.assert_close(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb, atol=1e-6, rtol=0)
    white = rgb_to_ycbcr(torch.ones(1, 3, 1, 1)).flatten()  # MATLAB rgb2ycbcr: white is (235, 128, 128) / 255
    torch.testing.assert_close(white, torch.tensor([235.0, 128.0, 128.0]) / 255, atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", ["vdsr", "vdsr_mren"])
def test_vdsr_with_zero_residual_is_its_bicubic_input(name: str) -> None:
    # Running on Y and taking the chroma from the bicubic image must not change colours on its own. The authors'
    # network upsamples as MATLAB's imresize; the MREN-recipe variant as torch's interpolate.
    model = build_model(name, make_config(name, 2))
    with torch.no_grad():
        model.residual[-1].weight.zero_()
        if model.residual[-1].bias is not None:
            model.residual[-1].bias.zero_()
        lr = torch.rand(1, 3, 6, 7)
        sr = model(lr)
    if name == "vdsr":
        upscaled = matlab_upsample(lr, 2)
    else:
        upscaled = torch.nn.functional.interpolate(lr, scale_factor=2, mode="bicubic", align_corners=False)
    torch.testing.assert_close(sr, upscaled, atol=1e-5, rtol=0)


def test_matlab_upsample_in_models_is_matlab_imresize() -> None:
    image = torch.rand(1, 2, 5, 7, dtype=torch.float64)
    from baselines.matlab_bicubic import imresize

    torch.testing.assert_close(matlab_upsample(image, 3), imresize(image, 3, quantize_uint8=False), rtol=0, atol=1e-12)


def test_retrained_variants_differ_from_the_authors_networks_only_by_config() -> None:
    assert type(build_model("srcnn", make_config("srcnn", 2))) is type(build_model("srcnn_mren",
                                                                                     make_config("srcnn_mren", 2)))
    assert make_config("srcnn_mren", 2).padding == "zero" and make_config("srcnn", 2).padding == "replicate"
    assert make_config("vdsr_mren", 2).bias is False and make_config("vdsr", 2).bias is True


@pytest.mark.parametrize("name, bad", [
    ("srcnn", {"scale": 1}), ("srcnn", {"kernel1": 4}), ("srcnn", {"color": "lab"}),
    ("vdsr", {"depth": 1}), ("srcnn", {"padding": "reflect"}), ("vdsr", {"upsampling": "nearest"}),
    ("idn", {"channels": 32}), ("efdn", {"channels": 10}), ("carn", {"scale": 8}), ("imdn", {"channels": 60}),
    ("imdn", {"scale": 0}),
])
def test_config_validation_raises_value_error(name: str, bad: dict) -> None:
    config = make_config(name, 2)
    with pytest.raises(ValueError):
        dataclasses.replace(config, **bad)


def _psnr_y(sr: np.ndarray, hr: np.ndarray, border: int) -> float:
    weights = np.array([65.481, 128.553, 24.966]) / 255

    def luma(rgb: np.ndarray) -> np.ndarray:
        return 16 + rgb.astype(np.float64) @ weights

    error = (luma(sr) - luma(hr))[border:-border, border:-border]
    return float(10 * np.log10(255 ** 2 / np.mean(error ** 2)))


def test_imdn_released_x4_weights_reproduce_published_set5(shared_dir) -> None:
    # Published (IMDN paper, MREN Table 5): Set5 x4 PSNR-Y 32.21 dB, under the conventions of shared/README.md.
    scale = 4
    model = build_model("imdn", make_config("imdn", scale)).eval()
    load_weights(model, shared_dir / "weights" / f"IMDN_x{scale}.pth", model_name="imdn", scale=scale)
    scores = []
    for hr_path in sorted((shared_dir / "benchmarks" / "Set5" / "HR").glob("*.png")):
        lr_path = shared_dir / "benchmarks" / "Set5" / "LR_bicubic" / f"X{scale}" / f"{hr_path.stem}x{scale}.png"
        lr = np.array(Image.open(lr_path).convert("RGB"))
        hr = np.asarray(Image.open(hr_path).convert("RGB"))[: lr.shape[0] * scale, : lr.shape[1] * scale]
        with torch.no_grad():
            sr = model(torch.from_numpy(lr).permute(2, 0, 1)[None].float() / 255)
        sr_uint8 = torch.round(sr.clamp(0, 1) * 255)[0].permute(1, 2, 0).numpy()
        scores.append(_psnr_y(sr_uint8, hr, border=scale))
    assert round(float(np.mean(scores)), 2) == 32.21
