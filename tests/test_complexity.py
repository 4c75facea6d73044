"""harness.evaluation.complexity and `python -m harness complexity`: fvcore's conventions against hand counts, and the
CLI."""

import json
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from harness.cli import main
from harness.evaluation.complexity import count_macs, count_params
from harness.registry import build_model, make_config


def test_single_convolution_macs_equal_the_hand_count() -> None:
    conv = nn.Conv2d(3, 24, 3, padding=1)  # the bias is not counted
    assert count_macs(conv, 11, 13).macs == 3 * 24 * 3 * 3 * 11 * 13


def test_depthwise_and_strided_convolutions() -> None:
    depthwise = nn.Sequential(nn.Conv2d(3, 8, 1, bias=False), nn.Conv2d(8, 8, 5, padding=2, groups=8))
    assert count_macs(depthwise, 10, 12).macs == 3 * 8 * 10 * 12 + 8 * 5 * 5 * 10 * 12
    strided = nn.Conv2d(3, 4, 3, stride=2)  # output 4 x 5
    assert count_macs(strided, 9, 11).macs == 3 * 4 * 3 * 3 * 4 * 5


class _Mixed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 1)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        features = self.conv(lr)
        features = F.gelu(features) * torch.sigmoid(features) + features
        features = torch.cat([features, features], dim=1)
        bilinear = F.interpolate(features, scale_factor=2, mode="bilinear", align_corners=False)
        bicubic = F.interpolate(lr, scale_factor=2, mode="bicubic", align_corners=False)
        return F.pixel_shuffle(bilinear, 2)[:, :3] + bicubic.repeat(1, 1, 2, 2)


def test_uncounted_operators_are_reported_and_bilinear_costs_four_per_output() -> None:
    count = count_macs(_Mixed(), 5, 7)
    conv = 3 * 12 * 5 * 7
    bilinear = 4 * 24 * 10 * 14
    assert count.macs == conv + bilinear
    assert count.lr_size == (5, 7)
    for operator in ("aten::gelu", "aten::sigmoid", "aten::mul", "aten::add", "aten::pixel_shuffle",
                     "aten::upsample_bicubic2d"):
        assert operator in count.unsupported
    assert "aten::cat" not in count.unsupported  # ignored silently by fvcore


def test_count_macs_restores_training_mode_and_count_params() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    model.train()
    count_macs(model, 8, 8)
    assert model.training
    assert count_params(model) == 3 * 4 * 9 + 4 + 4 + 4  # weights, bias, batch-norm affine; not running stats


def test_no_warning_escapes_when_warnings_are_errors() -> None:
    # A fresh interpreter, so that importing fvcore.nn happens under -W error.
    code = ("from torch import nn; from harness.evaluation.complexity import count_macs; "
            "print(count_macs(nn.Conv2d(3, 3, 3, padding=1), 4, 4).macs)")
    result = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(3 * 3 * 9 * 16)


def test_imdn_x2_at_720p_output_matches_the_published_158_8g() -> None:
    # MREN paper Table 6 (and the IMDN paper): 158.8G for IMDN x2 at a 1280x720 output.
    count = count_macs(build_model("imdn", make_config("imdn", 2)), 360, 640)
    assert round(count.macs / 1e9, 1) == 158.8


def test_cli_json_to_stdout(capsys: pytest.CaptureFixture) -> None:
    code = main(["complexity", "--model", "imdn", "--scale", "2", "--hr-size", "32x48", "--set", "blocks=2",
                 "--json", "-"])
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    model = build_model("imdn", make_config("imdn", 2, {"blocks": "2"}))
    assert record["model"] == "imdn" and record["scale"] == 2
    assert record["model_config"] == {"scale": 2, "channels": 64, "blocks": 2}
    assert record["params"] == count_params(model)
    assert record["macs"] == count_macs(model, 16, 24).macs
    assert record["macs_input"] == {"hr_height": 32, "hr_width": 48, "lr_height": 16, "lr_width": 24}
    assert record["macs_unsupported"]["aten::pixel_shuffle"] == 1


def test_cli_text_and_json_file(tmp_path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "out" / "srcnn.json"  # the retrained variant upsamples with torch's interpolate
    assert main(["complexity", "--model", "srcnn_mren", "--scale", "3", "--hr-size", "30x36", "--json", str(path)]) == 0
    text = capsys.readouterr().out
    assert "MACs" in text and "LR 12x10 (WxH) = HR 36x30 // 3" in text and "upsample_bicubic2d" in text
    assert json.loads(path.read_text())["macs_input"]["lr_height"] == 10


@pytest.mark.parametrize("arguments, expected", [
    (["--model", "imdn", "--scale", "2", "--set", "nonsense=1"], "has no config field 'nonsense'"),
    (["--model", "imdn", "--scale", "2", "--set", "blocks=many"], "bad value 'many' for 'blocks'"),
    (["--model", "imdn", "--scale", "2", "--set", "blocks"], "is not KEY=VALUE"),
    (["--model", "imdn", "--scale", "3", "--hr-size", "32x48"], "not divisible by the scale 3"),
    (["--model", "imdn", "--scale", "2", "--hr-size", "wide"], "is not HEIGHTxWIDTH"),
    (["--model", "carn", "--scale", "5"], "supports scales 2, 3, 4, not 5"),
    (["--model", "no_such_model", "--scale", "2"], "unknown model"),
])
def test_cli_bad_input_is_one_line_and_exit_2(arguments, expected, capsys: pytest.CaptureFixture) -> None:
    assert main(["complexity", *arguments]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0]
