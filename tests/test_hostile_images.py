"""Hostile and careless benchmark folders: every one is a one-line error naming the culprit, exit 2, no output; never a
set silently scored on fewer or other images, never a traceback."""

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT
from PIL import Image


def _png(path: Path, size: int = 40, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)


def _raw_png(path: Path, width: int, height: int, depth: int, color: int, pixels: bytes) -> None:
    """A PNG written by hand: Pillow writes neither 16-bit RGB nor a header that lies about its size."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels))
                     + chunk(b"IEND", b""))


def _sixteen_bit(path: Path, channels: int) -> None:
    size = 40
    rows = np.random.default_rng(1).integers(0, 65536, (size, size * channels), dtype=np.uint16)
    pixels = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in rows)
    _raw_png(path, size, size, 16, 2 if channels == 3 else 0, pixels)


def _make_set(root: Path) -> Path:
    folder = root / "Set"
    folder.mkdir()
    for index, name in enumerate(("alpha", "beta", "gamma")):
        _png(folder / f"{name}.png", seed=index)
    return folder


def _dangling_link(folder: Path) -> str:
    (folder / "delta.png").symlink_to(folder / "nowhere.png")
    return "delta.png"


def _link_loop(folder: Path) -> str:
    (folder / "loop.png").symlink_to(folder / "loop.png")
    return "loop.png"


def _folder(folder: Path) -> str:
    (folder / "sub.png").mkdir()
    return "sub.png"


def _fifo(folder: Path) -> str:
    os.mkfifo(folder / "pipe.png")
    return "pipe.png"


def _same_stem(folder: Path) -> str:
    Image.open(folder / "alpha.png").save(folder / "alpha.bmp")
    return "alpha"


def _rgb16(folder: Path) -> str:
    _sixteen_bit(folder / "deep.png", 3)
    return "deep.png"


def _gray16(folder: Path) -> str:
    _sixteen_bit(folder / "deepgray.png", 1)
    return "deepgray.png"


def _bomb(folder: Path) -> str:
    _raw_png(folder / "bomb.png", 200_000, 200_000, 8, 2, b"\x00" * 1000)
    return "bomb.png"


def _tiny(folder: Path) -> str:
    _png(folder / "tiny.png", size=12)
    return "tiny.png"


def _garbage(folder: Path) -> str:
    (folder / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    return "junk.png"


HOSTILE = [_dangling_link, _link_loop, _folder, _fifo, _same_stem, _rgb16, _gray16, _bomb, _tiny, _garbage]


def _eval(folder: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", "eval", "--model", "bicubic", "--data", str(folder),
                           "--scale", "2", "--out", str(out)], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("spoil", HOSTILE, ids=lambda spoil: spoil.__name__.strip("_"))
def test_a_spoiled_benchmark_folder_is_a_one_line_error(spoil, tmp_path: Path) -> None:
    folder = _make_set(tmp_path)
    culprit = spoil(folder)
    out = tmp_path / "score.json"
    process = _eval(folder, out)
    assert process.returncode == 2, process.stdout + process.stderr
    assert process.stderr.startswith("error: ") and process.stderr.count("\n") == 1, process.stderr
    assert "Traceback" not in process.stderr and culprit in process.stderr, process.stderr
    assert not out.exists()


def test_other_files_beside_the_images_are_ignored(tmp_path: Path) -> None:
    folder = _make_set(tmp_path)
    (folder / "README.txt").write_text("Set of three\n")
    (folder / ".DS_Store").write_bytes(b"\x00\x01")
    out = tmp_path / "score.json"
    process = _eval(folder, out)
    assert process.returncode == 0, process.stderr
    assert out.exists() and '"alpha"' in out.read_text() and "README" not in out.read_text()


def test_degrade_writes_all_images_or_none(tmp_path: Path) -> None:
    folder = _make_set(tmp_path)
    out = tmp_path / "lr"
    command = [sys.executable, "-m", "harness", "degrade", "--hr", str(folder), "--scale", "2", "--out", str(out)]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sorted(path.name for path in out.iterdir()) == ["alphax2.png", "betax2.png", "gammax2.png"]
    assert not list(tmp_path.glob(".lr.*"))  # the temporary folder is gone

    _garbage(folder)  # an unreadable image stops the command before anything is written
    fresh = tmp_path / "fresh"
    failed = subprocess.run([*command[:-1], str(fresh)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert failed.returncode == 2 and "junk.png" in failed.stderr and not fresh.exists()

    a_file = tmp_path / "file.txt"
    a_file.write_text("")
    failed = subprocess.run([*command[:-1], str(a_file)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert failed.returncode == 2 and "is a file" in failed.stderr and "Traceback" not in failed.stderr


def _imdn_weights(tmp_path: Path, change) -> Path:
    import torch

    from harness import registry

    state = registry.build_model("imdn", registry.make_config("imdn", 2)).state_dict()
    change(state)
    path = tmp_path / "imdn_x2.pth"
    torch.save(state, path)
    return path


@pytest.mark.parametrize("change, expected", [
    (lambda state: state[next(iter(state))].fill_(float("nan")), "NaN or infinite"),
    (lambda state: state[next(reversed(list(state)))].__setitem__(0, float("inf")), "NaN or infinite"),
    (lambda state: state.__setitem__(next(iter(state)), state[next(iter(state))].to(__import__("torch").int32)),
     "is int32, not floating point"),
    (lambda state: state.__setitem__(next(iter(state)), state[next(iter(state))].to(__import__("torch").complex64)),
     "is complex64, not floating point"),
    (lambda state: state.__setitem__("module." + next(iter(state)), state[next(iter(state))]), "twice"),
], ids=["nan", "inf", "integer", "complex", "duplicate-key"])
def test_weights_that_would_score_silently_wrong_are_refused(change, expected: str, tmp_path: Path) -> None:
    folder = _make_set(tmp_path)
    weights = _imdn_weights(tmp_path, change)
    out = tmp_path / "score.json"
    process = subprocess.run([sys.executable, "-m", "harness", "eval", "--model", "imdn", "--weights", str(weights),
                              "--data", str(folder), "--scale", "2", "--out", str(out)], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=120)
    assert process.returncode == 2, process.stdout + process.stderr
    assert process.stderr.startswith("error: ") and process.stderr.count("\n") == 1, process.stderr
    assert expected in process.stderr and "Traceback" not in process.stderr
    assert not out.exists()


def test_a_non_finite_output_is_an_error_naming_model_and_image(tmp_path: Path) -> None:
    """Finite weights can still overflow: the output is checked before it is quantized (NaN would become 0)."""
    import torch

    from harness.data.benchmark import open_benchmark
    from harness.errors import UserError
    from harness.evaluation.evaluate import evaluate

    class Overflowing(torch.nn.Module):
        def forward(self, lr: torch.Tensor) -> torch.Tensor:
            up = torch.nn.functional.interpolate(lr, scale_factor=2)
            return up * torch.where(lr.mean() > 0, float("inf"), 1.0)

    benchmark = open_benchmark(_make_set(tmp_path), 2)
    with pytest.raises(UserError, match="overflowing model: output on Set/alpha holds .* non-finite values"):
        evaluate(Overflowing(), benchmark, label="overflowing model")
