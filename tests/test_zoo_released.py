"""Released models beyond Table 5 (issue 20, part B): LapSRN and MS-LapSRN (MatConvNet DagNN), HPINet-M/S and
A2F-SD (PyTorch, A2F's a legacy pickle). Exact parameter counts against the files, the DagNN reader, one-line errors
for the wrong file, the metrics of their authors' protocols against independent definitions, and Set5 pinned under
`common` and each authors' protocol (LapSRN also against its published cells)."""

import json

import numpy as np
import pytest
import torch
from scipy.ndimage import correlate
from skimage.color import rgb2ycbcr
from skimage.metrics import structural_similarity

from baselines.lapsrn import FeatureUpsample, image_upsample
from harness import registry
from harness.errors import UserError
from harness.evaluation import protocols
from harness.evaluation.metrics import gaussian_window, ssim, ssim_matlab, ssim_skimage
from harness.evaluation.protocols.a2f import edsr_y
from harness.evaluation.protocols.hpinet import rounded_y
from harness.evaluation.weights import load_weights
from harness.weight_readers import READERS, read_dagnn
from model_checks import assert_wrong_weights_refused
from zoo_pins import SET5

# (model, scale) -> (file, config overrides): every released file at every harness scale it has
FILES = {
    ("lapsrn", 2): ("LapSRN_x2.mat", {}), ("lapsrn", 4): ("LapSRN_x4.mat", {}),
    ("ms_lapsrn", 2): ("MSLapSRN_D5R8.mat", {}), ("ms_lapsrn", 4): ("MSLapSRN_D5R8.mat", {}),
    ("a2f_sd", 2): ("A2F_SD_x2_model_best.pt", {}), ("a2f_sd", 3): ("A2F_SD_x3_model_best.pt", {}),
    ("a2f_sd", 4): ("A2F_SD_x4_model_best.pt", {}),
    ("hpinet_m", 2): ("HPINet-M-x2.pth", {}), ("hpinet_m", 3): ("HPINet-M-x3.pth", {}),
    ("hpinet_m", 4): ("HPINet-M-x4.pth", {}), ("hpinet_s", 4): ("HPINet-S-x4.pth", {}),
}
MS_LAPSRN_OTHERS = {2: "MSLapSRN_D5R2.mat", 5: "MSLapSRN_D5R5.mat"}  # recursions -> file (D5R8 is registered)
# As the authors' code counts them (sum of numel over the file's parameters): zoo/README.md's table
FILE_COUNTS = {"LapSRN_x2.mat": 407_441, "LapSRN_x4.mat": 814_242, "LapSRN_x8.mat": 667_123,
               "MSLapSRN_D5R2.mat": 222_801, "MSLapSRN_D5R5.mat": 222_801, "MSLapSRN_D5R8.mat": 222_801,
               "A2F_SD_x2_model_best.pt": 313_372, "A2F_SD_x3_model_best.pt": 315_997,
               "A2F_SD_x4_model_best.pt": 319_672, "HPINet-M-x2.pth": 782_539, "HPINet-M-x3.pth": 923_939,
               "HPINet-M-x4.pth": 895_659, "HPINet-S-x4.pth": 463_131}


def build(name: str, scale: int, overrides: dict | None = None):
    return registry.build_model(name, registry.make_config(name, scale, overrides, from_text=False))


def loaded(shared_dir, name: str, scale: int, file: str, overrides: dict | None = None):
    model = build(name, scale, overrides)
    load_weights(model, shared_dir / "weights" / file, model_name=name, scale=scale)
    return model


# --- files, counts, readers ------------------------------------------------------------------------------------------

def test_registry_names_each_release_its_scales_and_protocols() -> None:
    for (name, scale), (file, _) in FILES.items():
        released = registry.entry(name).released
        assert released is not None and released.file_for(scale) == file and scale in released.scales
        assert registry.entry(name).protocols[0] == "common"
        assert all(protocol in protocols.PROTOCOLS for protocol in registry.entry(name).protocols)
    assert {name for name, _ in FILES} == {"lapsrn", "ms_lapsrn", "a2f_sd", "hpinet_m", "hpinet_s"}
    assert registry.entry("lapsrn").released.scales == (2, 4)  # x8 is no harness scale; x3 has no file
    assert registry.entry("lapsrn").protocols == ("common", "lapsrn-cvpr17", "lapsrn-matlab")
    assert registry.entry("hpinet_m").protocols == ("common", "hpinet-test")
    assert registry.entry("a2f_sd").protocols == ("common", "a2f-validator")


@pytest.mark.parametrize("file", sorted(FILE_COUNTS))
def test_the_files_hold_the_counts_the_registry_states(shared_dir, file: str) -> None:
    """Counted from the file by its reader (the MS-LapSRN recursion count, a structural integer, excluded)."""
    format = registry.weights_format("lapsrn" if file.startswith("LapSRN") else "ms_lapsrn", file) \
        if file.endswith(".mat") else "pth"
    if file == "LapSRN_x8.mat":  # not a registered release: its DagNN read directly
        import scipy.io

        dag = read_dagnn(scipy.io.loadmat(shared_dir / "weights" / file))
        count = sum(array.size for array in dag.params.values())
    else:
        state = READERS[format](shared_dir / "weights" / file, 8 if "x8" in file else _scale_of(file))
        count = sum(tensor.numel() for tensor in state.values() if tensor.is_floating_point())
    assert count == FILE_COUNTS[file]
    for (name, scale), (registered, _) in FILES.items():
        if registered == file:
            assert registry.entry(name).released.params[scale] == count


def _scale_of(file: str) -> int:
    return next((scale for (_, scale), (name, _) in FILES.items() if name == file), 2)


@pytest.mark.parametrize("name, scale", sorted(FILES))
def test_every_file_loads_completely_and_counts_as_released(shared_dir, name: str, scale: int) -> None:
    file, overrides = FILES[(name, scale)]
    model = build(name, scale, overrides)
    before = {key: value.clone() for key, value in model.state_dict().items() if value.is_floating_point()}
    load_weights(model, shared_dir / "weights" / file, model_name=name, scale=scale)
    assert all(not torch.equal(before[key], value) for key, value in model.state_dict().items()
               if value.is_floating_point())
    assert sum(parameter.numel() for parameter in model.parameters()) == registry.entry(name).released.params[scale]


@pytest.mark.parametrize("recursions, file", sorted(MS_LAPSRN_OTHERS.items()))
def test_ms_lapsrn_recursions_are_a_config_field(shared_dir, recursions: int, file: str) -> None:
    model = loaded(shared_dir, "ms_lapsrn", 4, file, {"recursions": recursions})
    assert int(model.recursion_count) == recursions
    assert sum(parameter.numel() for parameter in model.parameters()) == 222_801


@pytest.mark.parametrize("name, scale, file, words", [
    ("lapsrn", 2, "LapSRN_x4.mat", "are for x4"),
    ("lapsrn", 4, "MSLapSRN_D5R8.mat", "do not fit lapsrn at x4"),
    ("ms_lapsrn", 2, "MSLapSRN_D5R2.mat", "are for recursion_count 2, not 8"),
    ("ms_lapsrn", 2, "LapSRN_x2.mat", "do not fit ms_lapsrn at x2"),
    ("hpinet_m", 2, "HPINet-M-x4.pth", "do not fit hpinet_m at x2"),
    ("hpinet_s", 4, "HPINet-M-x4.pth", "do not fit hpinet_s at x4"),
    ("a2f_sd", 2, "A2F_SD_x3_model_best.pt", "do not fit a2f_sd at x2"),
    ("a2f_sd", 4, "HPINet-S-x4.pth", "do not fit a2f_sd at x4"),
])
def test_wrong_file_is_one_line_and_exit_2(shared_dir, tmp_path, capsys, name, scale, file, words) -> None:
    assert_wrong_weights_refused(shared_dir, tmp_path, capsys, name, scale, file, words)


def test_a_renamed_lapsrn_file_is_refused_by_its_pyramid_levels(shared_dir, tmp_path) -> None:
    renamed = tmp_path / "lapsrn_weights.mat"
    renamed.write_bytes((shared_dir / "weights" / "LapSRN_x4.mat").read_bytes())
    with pytest.raises(UserError, match=r"are for x4 \(2 pyramid levels\), not x2"):
        load_weights(build("lapsrn", 2), renamed, model_name="lapsrn", scale=2)


def test_a_mat_file_without_a_dagnn_is_one_line(tmp_path) -> None:
    import scipy.io

    path = tmp_path / "notdag.mat"
    scipy.io.savemat(path, {"model": np.zeros((2, 2))})
    with pytest.raises(UserError, match="without a MatConvNet DagNN") as error:
        load_weights(build("lapsrn", 2), path, model_name="lapsrn", scale=2)
    assert "\n" not in str(error.value)


def test_the_dagnn_reader_restores_dropped_singleton_dimensions(shared_dir) -> None:
    import scipy.io

    dag = read_dagnn(scipy.io.loadmat(shared_dir / "weights" / "LapSRN_x2.mat"))
    layers = {layer.name: layer for layer in dag.layers}
    assert layers["level1_residual"].type == "dagnn.Conv" and layers["level1_residual"].size == (3, 3, 64, 1)
    assert dag.params["level1_residual_conv_f"].shape == (3, 3, 64, 1)  # loadmat gives 3x3x64
    assert dag.params["level1_img_up_f"].shape == (4, 4, 1, 1)
    assert layers["level1_upconv"].type == "dagnn.ConvTranspose" and layers["level1_output"].inputs == [
        "level1_img_up", "level1_residual"]


def _convt_matconvnet(x: np.ndarray, filters: np.ndarray, bias: np.ndarray, crop: tuple[int, int, int, int]):
    """vl_nnconvt by its definition, for one image: each input pixel scatters filter x value at 2 x its position;
    filters FH x FW x K x D; crop [top bottom left right]."""
    height, width, depth = x.shape
    fh, fw, outputs, _ = filters.shape
    out = np.zeros((2 * (height - 1) + fh, 2 * (width - 1) + fw, outputs))
    for i in range(height):
        for j in range(width):
            out[2 * i:2 * i + fh, 2 * j:2 * j + fw] += np.einsum("hwkd,d->hwk", filters, x[i, j])
    top, bottom, left, right = crop
    return out[top:out.shape[0] - bottom, left:out.shape[1] - right] + bias


def test_transposed_convolutions_follow_matconvnet_crop() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 6, 3))
    filters = rng.standard_normal((3, 3, 3, 3))  # FH x FW x K x D, K = D
    bias = rng.standard_normal(3)
    layer = FeatureUpsample(channels=3).double()
    layer.deconv.weight.data = torch.from_numpy(filters.transpose(3, 2, 0, 1).copy())  # the reader's transpose
    layer.deconv.bias.data = torch.from_numpy(bias)
    ours = layer(torch.from_numpy(x.transpose(2, 0, 1))[None])[0].permute(1, 2, 0).detach().numpy()
    np.testing.assert_allclose(ours, _convt_matconvnet(x, filters, bias, (0, 1, 0, 1)), atol=1e-10)
    image_filter = rng.standard_normal((4, 4, 1, 1))
    up = image_upsample().double()
    up.weight.data = torch.from_numpy(image_filter.transpose(3, 2, 0, 1).copy())
    y = x[..., :1]
    ours = up(torch.from_numpy(y.transpose(2, 0, 1))[None])[0].permute(1, 2, 0).detach().numpy()
    np.testing.assert_allclose(ours, _convt_matconvnet(y, image_filter, np.zeros(1), (1, 1, 1, 1)), atol=1e-10)


# --- the metrics of the authors' protocols ---------------------------------------------------------------------------

def _images(seed: int = 1, shape=(40, 37)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, shape)
    return x, np.clip(x + rng.normal(0, 0.05, shape), 0, 1)


def test_matlab_ssim_is_a_replicate_padded_same_size_gaussian_ssim() -> None:
    """Against MATLAB's documented algorithm written out independently: fspecial('gaussian', 11, 1.5) as a 2-D
    kernel, imfilter(..., 'replicate', 'same'), the map averaged over the whole image."""
    x, y = _images()
    kernel = np.outer(gaussian_window(11, 1.5), gaussian_window(11, 1.5))

    def blur(image):
        return correlate(image, kernel, mode="nearest")

    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
    expected = np.mean((2 * mx * my + c1) * (2 * cxy + c2) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2)))
    assert ssim_matlab(x, y, dynamic_range=1.0) == pytest.approx(expected, abs=1e-12)
    assert ssim_matlab(x, x, dynamic_range=1.0) == pytest.approx(1.0)
    # scale-free: 0..255 with DynamicRange 255 is the same number; Wang's valid-region SSIM is another
    assert ssim_matlab(255 * x, 255 * y, dynamic_range=255.0) == pytest.approx(expected, abs=1e-12)
    assert abs(ssim(255 * x, 255 * y) - expected) > 1e-4


def test_skimage_ssim_matches_scikit_image() -> None:
    x, y = _images(2)
    x8, y8 = (x * 255).round().astype(np.uint8), (y * 255).round().astype(np.uint8)
    oracle = structural_similarity(x8, y8, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                   data_range=255)
    assert ssim_skimage(x8, y8, data_range=255.0) == pytest.approx(oracle, abs=1e-12)


def test_hpinet_y_is_scikit_image_rgb2ycbcr_rounded() -> None:
    rgb = np.random.default_rng(3).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    oracle = rgb2ycbcr(rgb)[..., 0].clip(0, 255).round().astype(np.uint8)
    np.testing.assert_array_equal(rounded_y(rgb), oracle)


def test_a2f_validator_y_is_bt601_rescaled_to_256() -> None:
    """65.738 / 129.057 / 25.064 over 256 are BT.601's 65.481 / 128.553 / 24.966 over 255 to the printed digits."""
    rgb = np.random.default_rng(4).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    bt601 = (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0 / 255.0
    np.testing.assert_allclose(edsr_y(rgb), bt601, atol=2e-5)


# --- Set5 under every protocol, pinned --------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [2, 4])
def test_lapsrn_set5_prints_its_published_cells_under_its_authors_evaluation(shared_dir, scale: int) -> None:
    """LapSRN's published Set5 (its paper as quoted in CARN's camera-ready table, ../shared/zoo/published.json),
    PSNR to 2 decimals and SSIM to 3: the pinned values under its authors' evaluation print them."""
    published = json.loads((shared_dir / "zoo" / "published.json").read_text())["lapsrn"]
    published_psnr, published_ssim = published[str(scale)]["Set5"]
    # the Set5 means the smoke grid's records are checked against (tests/test_zoo_smoke.py)
    psnr, ssim_value = SET5[("lapsrn", scale, f"LapSRN_x{scale}.mat")]["lapsrn-matlab"]
    assert (f"{psnr:.2f}", f"{ssim_value:.3f}") == (f"{published_psnr:.2f}", f"{published_ssim:.3f}")
    common_psnr, _ = SET5[("lapsrn", scale, f"LapSRN_x{scale}.mat")]["common"]
    assert f"{common_psnr:.2f}" != f"{published_psnr:.2f}"  # the common conventions do not print them


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_a2f_files_are_legacy_pickles_read_weights_only(shared_dir, scale: int) -> None:
    """A2F's files predate torch 1.6's zip format; the `pth` reader loads them with weights_only=True, tensors only."""
    import zipfile

    path = shared_dir / "weights" / f"A2F_SD_x{scale}_model_best.pt"
    assert not zipfile.is_zipfile(path)
    state = READERS["pth"](path, scale)
    assert all(isinstance(tensor, torch.Tensor) for tensor in state.values())
    assert any(key.endswith("weight_g") for key in state) and any(key.endswith("weight_v") for key in state)


def test_lapsrn_cvpr17_reads_a_one_channel_image_as_three_equal_channels() -> None:
    """The April 2017 script calls rgb2ycbcr on every image, so its pack held grey images in three channels;
    today's evaluate_SR.m scores a one-channel image on its grey values. On an RGB image the two agree."""
    from harness.data.benchmark import ImagePair
    from harness.evaluation.protocols import get

    torch.manual_seed(0)
    model = build("lapsrn", 2).eval()
    rows, columns = np.mgrid[0:24, 0:20]
    grey = ((rows * 7 + columns * 5) % 256).astype(np.uint8)
    hr = np.repeat(grey[..., None], 3, axis=-1)
    as_grey = ImagePair("bridge", hr, hr[::2, ::2], one_channel=True)
    as_rgb = ImagePair("bridge", hr, hr[::2, ::2], one_channel=False)
    device = torch.device("cpu")
    cvpr17, today = get("lapsrn-cvpr17").score, get("lapsrn-matlab").score
    assert cvpr17(model, as_grey, 2, device) == cvpr17(model, as_rgb, 2, device) == today(model, as_rgb, 2, device)
    assert today(model, as_grey, 2, device) != today(model, as_rgb, 2, device)
