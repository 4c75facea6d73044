"""The evaluation path end to end: IMDN's released weights must give IMDN's published table to the printed digit."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from harness.cli import main

# IMDN paper (ACM MM 2019), Table 2, repeated in the MREN paper's Table 5: (PSNR, SSIM) on the Y channel.
PUBLISHED_IMDN = {
    ("Set5", 2): (38.00, 0.9605), ("Set5", 3): (34.36, 0.9270), ("Set5", 4): (32.21, 0.8948),
    ("Set14", 2): (33.63, 0.9177), ("Set14", 3): (30.32, 0.8417), ("Set14", 4): (28.58, 0.7811),
}


# Set14 (14 images, HR only, so bicubic-degraded first) takes several times as long as Set5.
@pytest.mark.parametrize("dataset,scale", [pytest.param(*key, marks=pytest.mark.slow) if key[0] == "Set14" else key
                                           for key in sorted(PUBLISHED_IMDN)])
def test_imdn_released_weights_reproduce_the_published_table(shared_dir, tmp_path, dataset, scale):
    out = tmp_path / "result.json"
    code = main(["eval", "--model", "imdn", "--weights", str(shared_dir / "weights" / f"IMDN_x{scale}.pth"),
                 "--data", str(shared_dir / "benchmarks" / dataset), "--scale", str(scale), "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    psnr, ssim = PUBLISHED_IMDN[(dataset, scale)]
    assert f"{result['psnr_y']:.2f}" == f"{psnr:.2f}"
    assert f"{result['ssim_y']:.4f}" == f"{ssim:.4f}"
    assert len(result["images"]) == {"Set5": 5, "Set14": 14}[dataset]
    assert np.mean([image["psnr_y"] for image in result["images"]]) == pytest.approx(result["psnr_y"])
    assert result["conventions"]["crop_border"] == scale
    # Set14 ships HR only: its LR must have come from the harness's own MATLAB-exact bicubic.
    assert ("LR_bicubic" in result["conventions"]["lr_source"]) == (dataset == "Set5")
    assert result["params"] == {2: 694_404, 3: 703_059, 4: 715_176}[scale]


def test_bicubic_baseline_needs_no_weights_and_scores_below_imdn(shared_dir, tmp_path):
    out = tmp_path / "bicubic.json"
    assert main(["eval", "--model", "bicubic", "--data", str(shared_dir / "benchmarks" / "Set5"), "--scale", "4",
                 "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert 27.5 < result["psnr_y"] < PUBLISHED_IMDN[("Set5", 4)][0]


# --- bad input: one line naming the culprit, exit code 2, no traceback, no output file ---

def make_set(root: Path, scale: int = 2, lr_size: tuple[int, int] | None = None) -> Path:
    rng = np.random.default_rng(0)
    (root / "HR").mkdir(parents=True)
    (root / "LR_bicubic" / f"X{scale}").mkdir(parents=True)
    hr = rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)
    Image.fromarray(hr).save(root / "HR" / "img.png")
    height, width = lr_size or (24 // scale, 20 // scale)
    Image.fromarray(hr[:height, :width]).save(root / "LR_bicubic" / f"X{scale}" / f"imgx{scale}.png")
    return root


def run_bad(capsys, argv: list[str], out: Path, culprit: str) -> None:
    code = main(argv + ["--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert culprit in lines[0]
    assert "Traceback" not in captured.err
    assert not out.exists()


def test_missing_folder(tmp_path, capsys):
    missing = tmp_path / "nope"
    run_bad(capsys, ["eval", "--model", "bicubic", "--data", str(missing), "--scale", "2"], tmp_path / "o.json",
            str(missing))


def test_empty_folder(tmp_path, capsys):
    empty = tmp_path / "Empty"
    empty.mkdir()
    run_bad(capsys, ["eval", "--model", "bicubic", "--data", str(empty), "--scale", "2"], tmp_path / "o.json",
            str(empty))


def test_hr_lr_size_mismatch(tmp_path, capsys):
    data = make_set(tmp_path / "Bad", lr_size=(11, 10))
    run_bad(capsys, ["eval", "--model", "bicubic", "--data", str(data), "--scale", "2"], tmp_path / "o.json",
            "imgx2.png")


def test_unreadable_image(tmp_path, capsys):
    data = make_set(tmp_path / "Corrupt")
    (data / "HR" / "broken.png").write_bytes(b"not a png at all")
    run_bad(capsys, ["eval", "--model", "bicubic", "--data", str(data), "--scale", "2"], tmp_path / "o.json",
            "broken.png")


def test_unknown_model(tmp_path, capsys):
    data = make_set(tmp_path / "Ok")
    run_bad(capsys, ["eval", "--model", "no_such_net", "--data", str(data), "--scale", "2"], tmp_path / "o.json",
            "no_such_net")


def test_weights_of_the_wrong_scale(shared_dir, tmp_path, capsys):
    run_bad(capsys, ["eval", "--model", "imdn", "--weights", str(shared_dir / "weights" / "IMDN_x2.pth"),
                     "--data", str(shared_dir / "benchmarks" / "Set5"), "--scale", "3"], tmp_path / "o.json",
            "IMDN_x2.pth")


def _saved_state_dict(model: str, path):
    """A state dict of a freshly built `model` x2 at `path`, and a small benchmark set beside it."""
    from harness import registry

    torch.save(registry.build_model(model, registry.make_config(model, 2)).state_dict(), path)
    return path, make_set(path.parent / "Ok")


def test_weights_of_another_architecture(tmp_path, capsys):
    weights, data = _saved_state_dict("srcnn", tmp_path / "srcnn.pth")
    run_bad(capsys, ["eval", "--model", "imdn", "--weights", str(weights), "--data", str(data), "--scale", "2"],
            tmp_path / "o.json", "srcnn.pth")


def test_missing_weights_file(tmp_path, capsys):
    data = make_set(tmp_path / "Ok")
    missing = tmp_path / "missing.pth"
    run_bad(capsys, ["eval", "--model", "imdn", "--weights", str(missing), "--data", str(data), "--scale", "2"],
            tmp_path / "o.json", "missing.pth")


def test_command_line_error_has_no_traceback(tmp_path):
    """The real entry point, in a fresh interpreter: exit code 2 and a single line on stderr."""
    process = subprocess.run([sys.executable, "-m", "harness", "eval", "--model", "bicubic", "--data",
                              str(tmp_path / "absent"), "--scale", "2"], capture_output=True, text=True)
    assert process.returncode == 2
    assert process.stderr.count("\n") == 1 and "absent" in process.stderr
    assert "Traceback" not in process.stderr


def test_paired_gt_lq_layout_and_hr_only_layout_agree(tmp_path, capsys):
    from harness.data.benchmark import open_benchmark
    from harness.data.matlab import imresize_uint8

    rng = np.random.default_rng(1)
    hr = rng.integers(0, 256, (33, 26, 3), dtype=np.uint8)  # not a multiple of 4: cropped to 32x24
    (tmp_path / "Paired" / "GT").mkdir(parents=True)
    (tmp_path / "Paired" / "LQ").mkdir(parents=True)
    (tmp_path / "HROnly").mkdir()
    Image.fromarray(hr).save(tmp_path / "Paired" / "GT" / "a.png")
    Image.fromarray(imresize_uint8(hr[:32, :24], 1 / 4)).save(tmp_path / "Paired" / "LQ" / "a.png")
    Image.fromarray(hr[:, :, 0]).save(tmp_path / "HROnly" / "gray.png")  # grayscale -> three channels
    paired = open_benchmark(tmp_path / "Paired", 4)
    hr_only = open_benchmark(tmp_path / "HROnly", 4)
    assert paired.pairs[0].hr.shape == (32, 24, 3) and paired.pairs[0].lr.shape == (8, 6, 3)
    assert hr_only.pairs[0].hr.shape == (32, 24, 3)
    assert (hr_only.pairs[0].hr[..., 0] == hr_only.pairs[0].hr[..., 2]).all()
    assert "imresize" in hr_only.lr_source and "LQ" in paired.lr_source


def test_a_state_dict_the_harness_trained_is_read_as_pth_when_told(tmp_path, capsys):
    """IDN's release is a .caffemodel, so a file for idn is read as one unless --weights-format says otherwise; the
    name `final.pt` (what training writes) is not looked at."""
    trained, data = _saved_state_dict("idn", tmp_path / "final.pt")
    run_bad(capsys, ["eval", "--model", "idn", "--weights", str(trained), "--data", str(data), "--scale", "2"],
            tmp_path / "o.json", "not a Caffe model")
    out = tmp_path / "told.json"
    assert main(["eval", "--model", "idn", "--weights", str(trained), "--weights-format", "pth", "--data", str(data),
                 "--scale", "2", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["weights"] == str(trained)


def test_weights_format_without_weights(tmp_path, capsys):
    data = make_set(tmp_path / "Ok")
    run_bad(capsys, ["eval", "--model", "bicubic", "--weights-format", "pth", "--data", str(data), "--scale", "2"],
            tmp_path / "o.json", "--weights-format")
