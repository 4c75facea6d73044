"""DIV2K for training: the data root's layouts, the checks made from headers before anything is decoded, and the
shared cache built once under its lock (harness/data/div2k.py, data_root.py, div2k_cache.py)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT

from harness import cli
from harness.data.images import write_png
from harness.data.matlab import imresize_uint8
from harness.data.training import div2k_training_data
from harness.errors import UserError

SPEC = REPO_ROOT / "ablations" / "scacb.yaml"  # evaluates on Set5; --only table3:SCACB is one trial


def fake_root(root: Path, sizes: list[tuple[int, int]], *, lr_scale: int | None = None) -> Path:
    """A data root with a one-image Set5 (the checks before a run read its headers) and DIV2K images of
    (width, height) `sizes`; with `lr_scale`, DIV2K's LR folder for that scale too."""
    rng = np.random.default_rng(0)
    write_png(root / "Set5" / "HR" / "bird.png", rng.integers(0, 256, (48, 48, 3), dtype=np.uint8))
    for number, (width, height) in enumerate(sizes, start=1):
        hr = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        write_png(root / "DIV2K" / "DIV2K_train_HR" / f"{number:04d}.png", hr)
        if lr_scale is not None:
            cropped = hr[:height - height % lr_scale, :width - width % lr_scale]
            write_png(root / "DIV2K" / "DIV2K_train_LR_bicubic" / f"X{lr_scale}" / f"{number:04d}x{lr_scale}.png",
                      imresize_uint8(cropped, 1 / lr_scale))
    return root


def run_command(data_root: Path, tmp_path: Path, *extra: str) -> tuple[int, str, str, float]:
    started = time.perf_counter()
    process = subprocess.run([sys.executable, "-m", "harness", "run", str(SPEC), "--profile", "paper", "--only",
                              "table3:SCACB", "--data-root", str(data_root), "--results", str(tmp_path / "results"),
                              "--cache", str(tmp_path / "cache"), *extra],
                             cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    return process.returncode, process.stdout, process.stderr, time.perf_counter() - started


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("case", ["small image", "one level too deep", "one level too high", "two levels too high",
                                  "partial LR folder"])
def test_bad_training_data_is_one_line_before_any_decoding(tmp_path: Path, case: str,
                                                           capsys: pytest.CaptureFixture) -> None:
    root = fake_root(tmp_path / "data" / "root", [(200, 196), (180, 150) if case == "small image" else (196, 200),
                                                  (204, 200)], lr_scale=4 if case == "partial LR folder" else None)
    given = {"one level too deep": root / "DIV2K" / "DIV2K_train_HR", "one level too high": root.parent,
             "two levels too high": root.parent.parent}.get(case, root)
    if case == "partial LR folder":
        (root / "DIV2K" / "DIV2K_train_LR_bicubic" / "X4" / "0002x4.png").unlink()
    if case == "two levels too high":  # in this process: the subprocess cases above show the whole command's time
        code, _, err = run_in_process(capsys, SPEC, "--only", "table3:SCACB", "--data-root", given, "--results",
                                      tmp_path / "results", "--cache", tmp_path / "cache")
        seconds = 0.0
    else:
        code, _, err, seconds = run_command(given, tmp_path)
    line = one_error_line(err)
    assert code == 2 and seconds < 30, (code, seconds)
    if case == "small image":  # the file and its real size, not the size after cropping
        assert "0002.png is 180x150" in line and "192x192" in line
    elif case == "partial LR folder":
        assert "X4 is partial" in line and "0002x4.png" in line and "2 of the 3" in line
        assert "move the folder away" in line  # what to do, said plainly
    elif case == "one level too deep":  # the DIV2K folder is a data root too, but Set5 is not in it
        assert "Set5" in line and f"give --data-root {root}" in line
    else:
        assert "DIV2K not found" in line and line.index("DIV2K") < line.index("Set5")  # DIV2K is not hidden
        assert f"give --data-root {root}" in line
    assert not (tmp_path / "cache").exists()  # nothing was decoded or cached
    # --dry-run finds the same problem
    code, out, _ = run_in_process(capsys, SPEC, "--only", "table3:SCACB", "--data-root", given, "--results",
                                  tmp_path / "results", "--dry-run")
    assert code == 2 and f"problem: {line.removeprefix('error: ')}" in out.splitlines()


def run_in_process(capsys: pytest.CaptureFixture, *argv: object) -> tuple[int, str, str]:
    code = cli.main(["run", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_div2k_folder_itself_is_a_data_root_for_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = fake_root(tmp_path / "root", [(200, 196)])
    (root / "Set5").rename(root / "DIV2K" / "Set5")
    code, out, err = run_in_process(capsys, SPEC, "--only", "table3:SCACB", "--data-root", root / "DIV2K", "--results",
                                    tmp_path / "results", "--dry-run")
    assert code == 0 and "problem" not in out, out + err


def test_a_data_root_that_is_a_benchmark_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    benchmark = tmp_path / "benchmarks" / "Set5"
    write_png(benchmark / "HR" / "bird.png", np.zeros((24, 24, 3), np.uint8))
    code, out, err = run_in_process(capsys, SPEC, "--profile", "smoke", "--only", "table3:SCACB", "--data-root",
                                    benchmark, "--results", tmp_path / "results")
    line = one_error_line(err)
    # the smoke profile would find no Set5 in it and score on the bundled images instead, without a word
    assert code == 2 and "is itself a benchmark folder" in line and str(benchmark.parent) in line


def test_a_damaged_image_is_named_by_the_build_at_its_turn(tmp_path: Path) -> None:
    root = fake_root(tmp_path / "root", [(64, 64), (64, 64), (64, 64)])
    damaged = root / "DIV2K" / "DIV2K_train_HR" / "0002.png"
    damaged.write_bytes(damaged.read_bytes()[:200])  # the header survives, the pixels do not
    said: list[str] = []
    with pytest.raises(UserError, match="0002.png: cannot read image"):
        div2k_training_data(root, 2, hr_patch=48, cache_dir=tmp_path / "cache", say=said.append)
    assert "building the cache" in said[0]
    # no entry is left half-written: only the lock file remains
    assert [entry.name for entry in (tmp_path / "cache" / "div2k").iterdir()] == [".lock"]


BUILD = """
import sys
from pathlib import Path
from harness.data.training import div2k_training_data
data = div2k_training_data(Path(sys.argv[1]), 4, hr_patch=48, cache_dir=Path(sys.argv[2]), threads=1,
                           say=lambda line: print(line, flush=True))
print("images", len(data))
"""


@pytest.mark.slow
def test_two_processes_needing_one_cache_build_it_once(tmp_path: Path) -> None:
    root = fake_root(tmp_path / "root", [(480, 360)] * 12)
    cache = tmp_path / "cache"
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    processes = [subprocess.Popen([sys.executable, "-c", BUILD, str(root), str(cache)], cwd=REPO_ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
                 for _ in range(2)]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    said = [out for out, _ in outputs]
    # one builds; the other waits for its lock (when they overlap) and finds the entries built
    assert sum("x4: building the cache" in out for out in said) == 1, said
    assert all("images 12" in out and "cache ready" in out for out in said)
    entries = sorted(entry.name for entry in (cache / "div2k").iterdir())
    assert [name.split("-")[0] for name in entries] == [".lock", "hr", "lr"]  # no temporary folder left


def test_the_build_tells_its_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.data import div2k_cache

    root = fake_root(tmp_path / "root", [(64, 64), (64, 48), (48, 64)])
    monkeypatch.setattr(div2k_cache, "PROGRESS_LINE_SECONDS", 0.0)  # a plain line per image instead of every 20 s
    said: list[str] = []
    statuses: list[str] = []
    div2k_training_data(root, 2, hr_patch=48, cache_dir=tmp_path / "cache", say=said.append, status=statuses.append)
    assert said[0].startswith("DIV2K x2: building the cache") and "3 images" in said[0]
    progress = [line for line in statuses if "images decoded and downscaled" in line]
    assert [line.split(": ")[1].split(" ")[0] for line in progress] == ["1/3", "2/3", "3/3"]
    assert all("images/s, ETA" in line and "written" in line for line in progress)
    assert said[1:-1] == progress[:-1]  # the log's plain lines: the same words
    assert said[-1].startswith("DIV2K x2: cache ready: 3 images") and "built in" in said[-1]
