"""Released weights of SRCNN, VDSR, IDN and EFDN: exact parameter counts, the readers of their formats, one-line
errors for the wrong file, and the Set5 values they give under each protocol (pinned)."""

import dataclasses
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from harness import registry
from harness.cli import main
from harness.data.benchmark import ImagePair, open_benchmark
from harness.data.matlab import imresize_single, shave, to_uint8
from harness.errors import UserError
from harness.evaluation import protocols
from harness.evaluation.protocols import matlab_demos
from harness.evaluation.evaluate import evaluate
from harness.evaluation.metrics import psnr
from harness.weight_readers import READERS, matconvnet_vdsr_state_dict, read_caffemodel, srcnn_state_dict
from harness.evaluation.weights import load_weights
from model_checks import assert_wrong_weights_refused

WEIGHTS = {"srcnn": "SRCNN_x{scale}.mat", "vdsr": "VDSR_Official.mat", "idn": "IDN_x{scale}.caffemodel",
           "efdn": "EFDN_x{scale}.pth"}
SCALES = {"srcnn": (2, 3, 4), "vdsr": (2, 3, 4), "idn": (2, 3, 4), "efdn": (4,)}

# Set5, measured with these weights: (PSNR, SSIM) per protocol. The published values (MREN Table 5, from the
# methods' papers) are in PUBLISHED; a value "reproduces" when it prints as the paper prints it.
SET5 = {
    ("srcnn", 2): {"common": (36.6801, 0.95445), "srcnn-demo": (36.6564, 0.95416)},
    ("srcnn", 3): {"common": (32.7621, 0.90956), "srcnn-demo": (32.7488, 0.90902)},
    ("srcnn", 4): {"common": (30.4972, 0.86356), "srcnn-demo": (30.4840, 0.86279)},
    ("vdsr", 2): {"common": (37.5453, 0.95895), "vdsr-demo": (37.5583, 0.95912)},
    ("vdsr", 3): {"common": (33.6647, 0.92177), "vdsr-demo": (33.6703, 0.92191)},
    ("vdsr", 4): {"common": (31.3516, 0.88436), "vdsr-demo": (31.3542, 0.88426)},
    ("idn", 2): {"common": (37.8398, 0.96008), "idn-test": (37.8273, 0.95998)},
    ("idn", 3): {"common": (34.1193, 0.92558), "idn-test": (34.1128, 0.92530)},
    ("idn", 4): {"common": (31.8143, 0.89067), "idn-test": (31.8094, 0.89023)},
    ("efdn", 4): {"common": (32.0758, 0.89310)},
}
PUBLISHED_SET5 = {
    ("srcnn", 2): (36.66, 0.9542), ("srcnn", 3): (32.75, 0.9090), ("srcnn", 4): (30.48, 0.8628),
    ("vdsr", 2): (37.53, 0.9587), ("vdsr", 3): (33.66, 0.9213), ("vdsr", 4): (31.35, 0.8838),
    ("idn", 2): (37.83, 0.9600), ("idn", 3): (34.11, 0.9253), ("idn", 4): (31.82, 0.8903),
    ("efdn", 4): (32.08, 0.8931),
}
# (model, scale) -> (PSNR exact under, SSIM exact under): the protocols that print the paper's digits on Set5
EXACT_SET5 = {
    ("srcnn", 2): ({"srcnn-demo"}, {"srcnn-demo"}), ("srcnn", 3): ({"srcnn-demo"}, {"srcnn-demo"}),
    ("srcnn", 4): ({"srcnn-demo"}, {"srcnn-demo"}),
    ("vdsr", 2): (set(), set()), ("vdsr", 3): ({"common"}, set()), ("vdsr", 4): ({"common", "vdsr-demo"}, set()),
    ("idn", 2): ({"idn-test"}, {"idn-test"}), ("idn", 3): ({"idn-test"}, {"idn-test"}),
    ("idn", 4): (set(), set()),
    ("efdn", 4): ({"common"}, {"common"}),
}


def build(name: str, scale: int):
    return registry.build_model(name, registry.make_config(name, scale))


def test_registry_names_released_files_formats_and_protocols() -> None:
    for name, pattern in WEIGHTS.items():
        entry = registry.entry(name)
        assert entry.released is not None and entry.released.file == pattern
        assert entry.protocols[0] == "common"
        assert all(protocol in protocols.PROTOCOLS for protocol in entry.protocols)
    assert registry.entry("idn").protocols == ("common", "idn-test")
    assert registry.entry("efdn").released.scales == (4,)
    assert registry.entry("srcnn_mren").released is None and "retrained" in registry.entry("srcnn_mren").label


@pytest.mark.parametrize("name", sorted(WEIGHTS))
def test_released_files_load_completely(shared_dir, name: str) -> None:
    for scale in SCALES[name]:
        model = build(name, scale)
        before = {key: value.clone() for key, value in model.state_dict().items()}
        load_weights(model, shared_dir / "weights" / WEIGHTS[name].format(scale=scale), model_name=name, scale=scale)
        assert all(not torch.equal(before[key], value) for key, value in model.state_dict().items())


@pytest.mark.parametrize("name, scale, file, words", [
    ("idn", 2, "IDN_x3.caffemodel", "are for x3"),
    ("srcnn", 4, "SRCNN_x2.mat", "are for x2"),
    ("efdn", 2, "EFDN_x4.pth", "do not fit efdn at x2: 2 tensors differ in shape"),
    ("idn", 2, "SRCNN_x2.mat", "do not fit idn"),
    ("vdsr", 2, "IDN_x2.caffemodel", "do not fit vdsr"),
    ("srcnn", 2, "VDSR_Official.mat", "do not fit srcnn"),
])
def test_wrong_weights_file_is_one_line_and_exit_2(shared_dir, tmp_path, capsys, name, scale, file, words) -> None:
    assert_wrong_weights_refused(shared_dir, tmp_path, capsys, name, scale, file, words)


def test_corrupt_files_are_user_errors(tmp_path) -> None:
    for suffix in (".caffemodel", ".mat"):
        bad = tmp_path / f"IDN_x2{suffix}"
        bad.write_bytes(b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01garbage")
        with pytest.raises(UserError, match="corrupt"):
            load_weights(build("idn", 2), bad, model_name="idn", scale=2)


def test_a_released_format_without_a_reader_is_refused_at_registration() -> None:
    with pytest.raises(ValueError, match="format 'onnx' has no reader"):
        registry.Released("NET_x{scale}.onnx", "onnx", {4: 1})
    assert all(entry.released.format in READERS for entry in registry.MODELS.values() if entry.released)


def test_the_registry_names_the_reader_of_a_file_by_the_release_not_the_suffix() -> None:
    assert registry.weights_format("idn", "IDN_x3.caffemodel") == "caffemodel"
    assert registry.weights_format("idn", "SRCNN_x2.mat") == "srcnn-mat"  # another model's release: what it is
    assert registry.weights_format("vdsr", "VDSR_Official.mat") == "matconvnet"
    assert registry.weights_format("idn", "mine.pth") == "caffemodel"  # the model's own release format
    assert registry.weights_format("srcnn", "weights.caffemodel") == "srcnn-mat"
    assert registry.weights_format("mren", "IDN_x2.caffemodel") == "caffemodel"
    assert registry.weights_format("mren", "final.mat") == "pth"  # no release: a state dict, as training writes
    assert registry.weights_format("imdn", "IMDN_x4.pth") == "pth"


def test_a_renamed_release_loads_by_its_models_format(shared_dir, tmp_path) -> None:
    renamed = tmp_path / "idn_official_weights.pth"
    renamed.write_bytes((shared_dir / "weights" / "IDN_x2.caffemodel").read_bytes())
    model = build("idn", 2)
    load_weights(model, renamed, model_name="idn", scale=2)
    reference = build("idn", 2)
    load_weights(reference, shared_dir / "weights" / "IDN_x2.caffemodel", model_name="idn", scale=2)
    assert all(torch.equal(value, reference.state_dict()[key]) for key, value in model.state_dict().items())
    with pytest.raises(UserError, match="corrupt or not a PyTorch file"):
        load_weights(build("idn", 2), renamed, model_name="idn", scale=2, format="pth")


def test_a_mat_file_without_the_formats_layout_is_one_line(tmp_path) -> None:
    import scipy.io

    path = tmp_path / "SRCNN_like.mat"
    scipy.io.savemat(path, {"weights_conv1": np.zeros((81, 2))})  # the rest of SRCNN's arrays missing
    with pytest.raises(UserError, match="does not hold the srcnn-mat layout") as error:
        load_weights(build("srcnn", 2), path, model_name="srcnn", scale=2)
    assert "\n" not in str(error.value)


# --- the readers, on files built here ---------------------------------------------------------------------------

def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _blob(array: np.ndarray) -> bytes:
    shape = _field(1, b"".join(_varint(dim) for dim in array.shape))  # BlobShape.dim, packed
    return _field(7, shape) + _field(5, array.astype("<f4").tobytes())  # shape, packed data


def test_caffemodel_reader_decodes_layers_blobs_and_stride(tmp_path) -> None:
    weight = np.arange(2 * 3 * 1 * 1, dtype=np.float32).reshape(2, 3, 1, 1)
    conv_param = _varint(6 << 3 | 0) + _varint(3)  # stride: 3, unpacked
    layer = (_field(1, b"upsample") + _field(2, b"Deconvolution") + _field(7, _blob(weight))
             + _field(7, _blob(np.array([0.5], np.float32))) + _field(106, conv_param))
    path = tmp_path / "net.caffemodel"
    path.write_bytes(_field(1, b"IDN_x3") + _field(100, _field(1, b"data") + _field(2, b"Input")) + _field(100, layer))
    name, layers = read_caffemodel(path)
    assert name == "IDN_x3" and [layer.name for layer in layers] == ["data", "upsample"]
    assert layers[1].type == "Deconvolution" and layers[1].stride == [3]
    np.testing.assert_array_equal(layers[1].blobs[0], weight)
    assert layers[1].blobs[1].tolist() == [0.5]


def test_srcnn_mat_filters_are_reshaped_column_major() -> None:
    mat = {"weights_conv1": np.arange(81 * 2, dtype=np.float64).reshape(2, 81).T,  # column i = filter i
           "biases_conv1": np.zeros((2, 1)), "weights_conv2": np.zeros((2, 25, 3)), "biases_conv2": np.zeros((3, 1)),
           "weights_conv3": np.zeros((3, 25)), "biases_conv3": np.zeros((1, 1))}
    state = srcnn_state_dict(mat)
    kernel = state["patch_extraction.weight"]
    assert kernel.shape == (2, 1, 9, 9)
    # MATLAB reshape(col, 9, 9): element (r, c) (0-based) is col(r + 9 c)
    assert kernel[0, 0, 2, 1] == 2 + 9 * 1 and kernel[1, 0, 0, 3] == 81 + 27
    assert state["nonlinear_mapping.weight"].shape == (3, 2, 5, 5)
    assert state["reconstruction.weight"].shape == (1, 3, 5, 5)


def test_matconvnet_weights_are_transposed_to_torch_layout() -> None:
    first = np.arange(3 * 3 * 1 * 2, dtype=np.float32).reshape(3, 3, 1, 2)
    last = np.arange(3 * 3 * 2, dtype=np.float32).reshape(3, 3, 2)  # trailing Cout = 1 dropped, as MATLAB saves it
    weights = np.empty((1, 2), dtype=object)
    weights[0, 0], weights[0, 1] = first, last
    biases = np.empty((1, 2), dtype=object)
    biases[0, 0], biases[0, 1] = np.ones((2, 1)), np.ones((1, 1))
    model = np.empty((1, 1), dtype=[("weight", object), ("bias", object)])
    model[0, 0] = (weights, biases)
    state = matconvnet_vdsr_state_dict({"model": model})
    assert state["residual.0.weight"].shape == (2, 1, 3, 3) and state["residual.2.weight"].shape == (1, 2, 3, 3)
    assert state["residual.0.weight"][1, 0, 2, 0] == first[2, 0, 0, 1]  # [h, w, cin, cout] -> [cout, cin, h, w]
    assert state["residual.2.weight"][0, 1, 0, 2] == last[0, 2, 1]


@pytest.mark.parametrize("scale", (2, 3, 4))
def test_idn_output_is_the_deploy_deconvolution_aligned_with_the_bicubic(scale: int) -> None:
    torch.manual_seed(0)
    model = build("idn", scale).eval()
    y_lr = torch.rand(1, 1, 7, 9)
    with torch.no_grad():
        residual = model.residual(y_lr)
        features = y_lr
        features = F.leaky_relu(model.conv2(F.leaky_relu(model.conv1(features), 0.05)), 0.05)
        for unit in model.units:
            features = unit(features)
        deploy = F.conv_transpose2d(features, model.upsample.weight, model.upsample.bias, stride=scale, padding=8)
    assert residual.shape[-2:] == (7 * scale, 9 * scale)
    assert deploy.shape[-2:] == (7 * scale - scale + 1, 9 * scale - scale + 1)  # the deploy net's s H - s + 1
    # mycrop(im_b, s) drops the first s - 1 rows: the deploy output is rows s-1.. (0-based) of the full-size one
    torch.testing.assert_close(residual[..., scale - 1:, scale - 1:], deploy, rtol=0, atol=1e-6)


def test_luma_protocols_refuse_rgb_networks() -> None:
    with pytest.raises(UserError, match="luma channel"):
        protocols.check_runs(protocols.get("idn-test"), build("imdn", 2), "imdn")
    with pytest.raises(UserError, match="unknown protocol"):
        protocols.get("matlab")


# --- Set5 under every protocol, pinned --------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name, scale", sorted(SET5))
def test_set5_values_under_each_protocol(shared_dir, name: str, scale: int) -> None:
    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = build(name, scale)
    load_weights(model, shared_dir / "weights" / WEIGHTS[name].format(scale=scale), model_name=name, scale=scale)
    score = evaluate(model, open_benchmark(shared_dir / "benchmarks" / "Set5", scale),
                     protocols=registry.entry(name).protocols)
    results = {score.protocol: score, **score.protocols}
    assert set(results) == set(SET5[(name, scale)])
    paper_psnr, paper_ssim = PUBLISHED_SET5[(name, scale)]
    exact_psnr, exact_ssim = set(), set()
    for protocol, (pinned_psnr, pinned_ssim) in SET5[(name, scale)].items():
        result = results[protocol]
        assert result.psnr_y == pytest.approx(pinned_psnr, abs=1e-3), protocol
        assert result.ssim_y == pytest.approx(pinned_ssim, abs=2e-5), protocol
        assert result.conventions["protocol"] == protocol
        if f"{result.psnr_y:.2f}" == f"{paper_psnr:.2f}":
            exact_psnr.add(protocol)
        if f"{result.ssim_y:.4f}" == f"{paper_ssim:.4f}":
            exact_ssim.add(protocol)
        # every cell within 0.05 dB / 0.001 of the paper under some protocol
    assert any(abs(p - paper_psnr) <= 0.05 and abs(s - paper_ssim) <= 0.001 for p, s in SET5[(name, scale)].values())
    assert (exact_psnr, exact_ssim) == EXACT_SET5[(name, scale)]


@pytest.mark.slow
def test_efdn_reproduces_set14_under_common(shared_dir) -> None:
    model = build("efdn", 4)
    load_weights(model, shared_dir / "weights" / "EFDN_x4.pth", model_name="efdn", scale=4)
    score = evaluate(model, open_benchmark(shared_dir / "benchmarks" / "Set14", 4))
    assert score.protocol == "common" and len(score.images) == 14
    assert (f"{score.psnr_y:.2f}", f"{score.ssim_y:.4f}") == ("28.58", "0.7809")  # Table 5 (EFDN, NTIRE 2022)
    assert score.psnr_y == pytest.approx(28.5820, abs=1e-3)


def test_eval_command_scores_idn_under_its_authors_script(shared_dir, tmp_path, capsys) -> None:
    out = tmp_path / "idn.json"
    assert main(["eval", "--model", "idn", "--weights", str(shared_dir / "weights" / "IDN_x2.caffemodel"),
                 "--protocol", "idn-test", "--data", str(shared_dir / "benchmarks" / "Set5"), "--scale", "2",
                 "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["protocol"] == "idn-test" and result["conventions"]["protocol"] == "idn-test"
    assert (f"{result['psnr_y']:.2f}", f"{result['ssim_y']:.4f}") == ("37.83", "0.9600")
    assert result["params"] == 552_769
    assert "protocol idn-test" in capsys.readouterr().out


# --- Set14's grey `bridge`: the one-channel branch of the authors' scripts ------------------------------------------

# Set14 under the authors' protocols, measured with these weights. bridge.png is the set's one-channel file: the
# scripts take its grey values as Y (`if size(im,3)>1 ... rgb2ycbcr ... end`), where `common` uses 16 + 219/255 g.
SET14_IDN_TEST = {2: (33.2916, 0.91479), 3: (29.9884, 0.83553), 4: (28.2445, 0.77298)}
PUBLISHED_SET14 = {("idn", 2): (33.30, 0.9148), ("idn", 3): (29.99, 0.8354), ("idn", 4): (28.25, 0.7730)}
BRIDGE = {("srcnn", 2, "srcnn-demo"): (27.8333, 0.85109), ("srcnn", 2, "common"): (29.1618, 0.85818),
          ("idn", 4, "idn-test"): (23.9991, 0.61564), ("idn", 4, "common"): (25.4371, 0.64118)}


class _Bicubic(nn.Module):
    """A luma 'network' that returns the bicubic upsampling it is given: the score is the protocol's alone."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))

    def luma(self, y_lr: torch.Tensor, y_up: torch.Tensor) -> torch.Tensor:
        return y_up


def _grey_pairs(tmp_path, scale: int = 2) -> dict[str, ImagePair]:
    """The same grey noise stored with one channel and with three equal ones, values within 0.3..0.7."""
    grey = np.random.default_rng(0).integers(80, 180, size=(32, 36)).astype(np.uint8)
    (tmp_path / "HR").mkdir()
    Image.fromarray(grey, "L").save(tmp_path / "HR" / "one.png")
    Image.fromarray(np.repeat(grey[..., None], 3, axis=2), "RGB").save(tmp_path / "HR" / "three.png")
    return {pair.name: pair for pair in open_benchmark(tmp_path, scale).pairs}


def test_reader_marks_one_channel_files_and_replicates_them(tmp_path) -> None:
    pairs = _grey_pairs(tmp_path)
    assert pairs["one"].one_channel and not pairs["three"].one_channel
    np.testing.assert_array_equal(pairs["one"].hr, pairs["three"].hr)  # both reach the models as three channels
    np.testing.assert_array_equal(pairs["one"].lr, pairs["three"].lr)


def test_set14_has_one_one_channel_image(shared_dir) -> None:
    set14 = open_benchmark(shared_dir / "benchmarks" / "Set14", 2)
    assert [pair.name for pair in set14.pairs if pair.one_channel] == ["bridge"]  # `man` has three equal channels
    assert not any(pair.one_channel for pair in open_benchmark(shared_dir / "benchmarks" / "Set5", 2).pairs)


def test_single_precision_scripts_take_a_one_channel_image_as_its_own_y(tmp_path) -> None:
    pairs = _grey_pairs(tmp_path)
    grey = pairs["one"].hr[..., 0]
    np.testing.assert_array_equal(matlab_demos._rounded_luma(pairs["one"]), grey)
    np.testing.assert_array_equal(matlab_demos._rounded_luma(pairs["three"]),
                                  to_uint8(16 + 219 / 255 * grey.astype(np.float64)))
    # bicubic under srcnn-demo on the one-channel file: the script's pipeline on the grey values themselves
    ground_truth = grey.astype(np.float32) / np.float32(255)
    upsampled = imresize_single(imresize_single(ground_truth, 1 / 2), 2)
    expected = psnr(shave(to_uint8(upsampled.astype(np.float64) * 255.0), 2), shave(grey, 2))
    for name in ("srcnn-demo", "idn-test"):
        one, _ = protocols.get(name).score(_Bicubic(), pairs["one"], 2, torch.device("cpu"))
        three, _ = protocols.get(name).score(_Bicubic(), pairs["three"], 2, torch.device("cpu"))
        assert one == pytest.approx(expected, abs=1e-9), name
        assert three > one + 1.0, name  # Y = 16 + 219/255 g compresses the errors: about 20 log10(255/219) dB


def test_vdsr_demo_scores_a_one_channel_image_on_its_grey_values(tmp_path) -> None:
    pairs = _grey_pairs(tmp_path)
    vdsr_demo = protocols.get("vdsr-demo")
    one_psnr, one_ssim = vdsr_demo.score(_Bicubic(), pairs["one"], 2, torch.device("cpu"))
    three_psnr, three_ssim = vdsr_demo.score(_Bicubic(), pairs["three"], 2, torch.device("cpu"))
    # nothing is quantized and nothing clips (values within 0.3..0.7): the RGB path's Y is 16/255 + 219/255 of
    # the grey path's values, so its errors are 219/255 of them
    assert three_psnr - one_psnr == pytest.approx(20 * np.log10(255 / 219), abs=1e-6)
    assert one_ssim != pytest.approx(three_ssim, abs=1e-6)


@pytest.mark.slow
def test_idn_set14_under_idn_test(shared_dir) -> None:
    for scale, (expected_psnr, expected_ssim) in SET14_IDN_TEST.items():
        model = build("idn", scale)
        load_weights(model, shared_dir / "weights" / WEIGHTS["idn"].format(scale=scale), model_name="idn",
                     scale=scale)
        score = evaluate(model, open_benchmark(shared_dir / "benchmarks" / "Set14", scale), protocols=("idn-test",))
        assert score.psnr_y == pytest.approx(expected_psnr, abs=1e-3) and score.ssim_y == pytest.approx(
            expected_ssim, abs=2e-5), scale
        paper_psnr, paper_ssim = PUBLISHED_SET14[("idn", scale)]
        assert abs(score.psnr_y - paper_psnr) < 0.01 and abs(score.ssim_y - paper_ssim) < 0.0002, scale


@pytest.mark.parametrize("name, scale, protocol", sorted(BRIDGE))
def test_set14_bridge_under_each_protocol(shared_dir, name: str, scale: int, protocol: str) -> None:
    model = build(name, scale)
    load_weights(model, shared_dir / "weights" / WEIGHTS[name].format(scale=scale), model_name=name, scale=scale)
    set14 = open_benchmark(shared_dir / "benchmarks" / "Set14", scale)
    bridge = dataclasses.replace(set14, pairs=tuple(pair for pair in set14.pairs if pair.name == "bridge"))
    score = evaluate(model, bridge, protocols=(protocol,))
    expected_psnr, expected_ssim = BRIDGE[(name, scale, protocol)]
    assert score.psnr_y == pytest.approx(expected_psnr, abs=1e-3)
    assert score.ssim_y == pytest.approx(expected_ssim, abs=2e-5)
