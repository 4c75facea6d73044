"""Hostile inputs as a user who is not root meets them (issue 19): unreadable files and folders, images that become
empty after scaling, weights whose tensors are not dense, a disk that fills up, sizes far beyond memory, grids far
beyond any real use, an output that is also an input, damaged report inputs, a file where a folder belongs (or the
reverse), and closed standard streams.

Every command runs in a subprocess as the user `nobody` (uid and gid 65534, no supplementary groups), started with
`setpriv`, which also empties the inheritable and bounding capability sets: the process runs without
CAP_DAC_OVERRIDE, so permissions bind as they do for any user (a test process that is not root runs the commands as
itself). The test files live in a temporary folder of mode 0777 made for these tests (pytest's own are 0700, closed
to other users); the repository and its virtual environment must be readable by `nobody`, which the `nobody` fixture
checks first (on a machine where they are not, the tests skip with the reason; under CI=true they fail).

Each case asserts exit status 2 with one `error:` line naming the culprit and what is wrong, and no traceback; or,
for an input that can be handled, the right result.
"""

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT
from factories import fake_records
from PIL import Image

from harness import atomic, memory, registry
from harness.errors import UserError
from harness.weight_readers import load_state_dict_file

NOBODY = 65534
SPEC = textwrap.dedent("""\
    table: table5
    base: {scale: 4, mode: evaluate, eval: [Set5]}
    variants:
      - {row: Bicubic, model: bicubic}
    """)


AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--inh-caps=-all",
             "--bounding-set=-all"]


@pytest.fixture(scope="module")
def open_dir():
    """A temporary folder every user may enter, removed afterwards (modes restored first, so that rmtree can)."""
    folder = Path(tempfile.mkdtemp(prefix="hostile-inputs-"))
    os.chmod(folder, 0o777)
    yield folder
    for root, folders, files in os.walk(folder):
        for name in folders:
            os.chmod(os.path.join(root, name), 0o777)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def place(open_dir: Path, request: pytest.FixtureRequest) -> Path:
    """A fresh folder of mode 0777 inside open_dir for one test."""
    folder = open_dir / request.node.name.replace("/", "_").replace("[", "_").replace("]", "")[:80]
    folder.mkdir()
    os.chmod(folder, 0o777)
    return folder


@pytest.fixture(scope="module")
def nobody(open_dir: Path):
    """Run `python -m harness ...` as nobody; skipped (failed under CI=true) where that user cannot run it."""
    prefix = AS_NOBODY if os.geteuid() == 0 else []  # a user who is not root runs the commands as itself
    if prefix and shutil.which("setpriv") is None:
        probe = subprocess.CompletedProcess([], 1, "", "setpriv(1) is not installed")
    else:
        probe = subprocess.run([*prefix, sys.executable, "-c", "import harness.cli"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        message = (f"user nobody cannot import the harness from {REPO_ROOT} with {sys.executable} (the repository "
                   f"and its venv must be readable by other users): {probe.stderr.strip()[-300:]}")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    env = {key: value for key, value in os.environ.items() if key not in ("MREN_DATA_ROOT", "MREN_WEIGHTS_DIR")}
    env["MPLCONFIGDIR"] = str(open_dir / "matplotlib")  # nobody cannot write root's ~/.config
    env["HOME"] = str(open_dir)

    def harness(*argv: object, timeout: float = 180, closed_stdout: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run([*prefix, sys.executable, "-m", "harness", *map(str, argv)], cwd=REPO_ROOT, text=True,
                              stdout=None if closed_stdout else subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, env=env, preexec_fn=(lambda: os.close(1)) if closed_stdout else None)

    return harness


def one_error_line(process: subprocess.CompletedProcess, *words: str) -> str:
    output = (process.stdout or "") + process.stderr
    assert process.returncode == 2, output
    assert "Traceback" not in output, output
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), process.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def image_folder(folder: Path, count: int = 2, size: int = 40, seed: int = 0) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"img{index}.png")
    os.system(f"chmod -R a+rwX {folder}")
    return folder


def spec_file(folder: Path) -> Path:
    spec = folder / "bicubic.yaml"
    spec.write_text(SPEC)
    os.chmod(spec, 0o644)
    return spec


def imdn_weights(path: Path, change=lambda state: None) -> Path:
    state = registry.build_model("imdn", registry.make_config("imdn", 2)).state_dict()
    change(state)
    torch.save(state, path)
    os.chmod(path, 0o644)
    return path


def data_root(folder: Path) -> Path:
    """A data root holding a copy of a small HR-only Set5 (five noise images)."""
    image_folder(folder / "Set5", count=5, size=48)
    os.system(f"chmod -R a+rwX {folder}")
    return folder


# 1. Unreadable files and folders.

def _unreadable_cases(place: Path) -> list[tuple[list, tuple[str, ...]]]:
    closed = image_folder(place / "closed")
    os.chmod(closed, 0o000)
    unsearchable = image_folder(place / "unsearchable")
    os.chmod(unsearchable, 0o644)
    one_image = image_folder(place / "one_image")
    os.chmod(one_image / "img1.png", 0o000)
    good = image_folder(place / "good")
    weights = imdn_weights(place / "imdn_x2.pth")
    os.chmod(weights, 0o000)
    spec = spec_file(place)
    secret_spec = place / "secret.yaml"
    secret_spec.write_text(SPEC)
    os.chmod(secret_spec, 0o000)
    results = place / "results"
    fake_records(results, spec)
    os.system(f"chmod -R a+rwX {results}")
    os.chmod(results / "trials", 0o000)
    reference = place / "reference.json"
    reference.write_text("{}")
    os.chmod(reference, 0o000)
    readable_results = place / "readable_results"
    fake_records(readable_results, spec)
    os.system(f"chmod -R a+rwX {readable_results}")
    return [
        (["eval", "--model", "bicubic", "--data", closed, "--scale", "2"], (str(closed), "permission denied")),
        (["eval", "--model", "bicubic", "--data", unsearchable, "--scale", "2"],
         (str(unsearchable), "permission denied")),
        (["eval", "--model", "bicubic", "--data", one_image, "--scale", "2"],
         (str(one_image / "img1.png"), "permission denied")),
        (["eval", "--model", "imdn", "--weights", weights, "--data", good, "--scale", "2"],
         (str(weights), "permission denied")),
        (["run", secret_spec, "--profile", "smoke", "--results", place / "r", "--dry-run"],
         (str(secret_spec), "permission denied")),
        (["report", "--results", results, "--out", place / "report"], (str(results / "trials"), "permission denied")),
        (["status", "--results", results], (str(results / "trials"), "permission denied")),
        (["export", "--results", results], (str(results / "trials"), "permission denied")),
        (["check", "--results", readable_results, "--reference", reference], (str(reference), "permission denied")),
    ]


@pytest.mark.slow
def test_unreadable_files_and_folders_are_one_line_saying_permission_denied(place: Path, nobody) -> None:
    for argv, words in _unreadable_cases(place):
        line = one_error_line(nobody(*argv), *words)
        assert "does not exist" not in line and "corrupt" not in line, line


@pytest.mark.slow
def test_an_unreadable_image_in_a_data_root_set_is_found_before_ray_starts(place: Path, nobody) -> None:
    root = data_root(place / "data")
    os.chmod(root / "Set5" / "img3.png", 0o000)
    (root / "Set5" / "img4.png").unlink()
    (root / "Set5" / "img4.png").symlink_to(place / "nowhere.png")
    spec = spec_file(place)
    started = time.monotonic()
    process = nobody("run", spec, "--profile", "paper", "--data-root", root, "--results", place / "results")
    line = one_error_line(process, "Set5")
    assert "img3.png" in line or "img4.png" in line, line
    assert time.monotonic() - started < 60
    assert not (place / "results" / "trials").exists()  # stopped before any trial ran
    os.chmod(root / "Set5" / "img3.png", 0o644)
    one_error_line(nobody("run", spec, "--profile", "paper", "--data-root", root, "--results", place / "results"),
                   str(root / "Set5" / "img4.png"), "broken link")


# 2. Images that become empty after scaling.

@pytest.mark.slow
def test_an_image_smaller_than_the_scale_is_one_line_with_its_own_size(place: Path, nobody) -> None:
    folder = place / "tiny"
    folder.mkdir()
    Image.fromarray(np.zeros((3, 2, 3), dtype=np.uint8)).save(folder / "sliver.png")  # 2 wide, 3 high
    os.system(f"chmod -R a+rwX {folder}")
    one_error_line(nobody("degrade", "--hr", folder, "--scale", "4", "--out", place / "lr"),
                   "sliver.png", "2x3 at x4", "empty LR image")
    assert not (place / "lr").exists()
    one_error_line(nobody("eval", "--model", "bicubic", "--data", folder, "--scale", "4"),
                   "sliver.png", "2x3 at x4", "empty")


# 3. Tensors that are not dense.

@pytest.mark.parametrize("change, words", [
    (lambda state: state.__setitem__("fea_conv.bias", state["fea_conv.bias"].to_sparse()), ("sparse_coo",)),
    (lambda state: state.__setitem__("fea_conv.bias", torch.empty(state["fea_conv.bias"].shape, device="meta")),
     ("meta tensor",)),
], ids=["sparse", "meta"])
def test_weights_that_are_not_dense_arrays_are_one_line(place: Path, nobody, change, words) -> None:
    weights = imdn_weights(place / "imdn_x2.pth", change)
    folder = image_folder(place / "set")
    one_error_line(nobody("eval", "--model", "imdn", "--weights", weights, "--data", folder, "--scale", "2",
                          "--out", place / "score.json"), str(weights), "fea_conv.bias", *words)
    assert not (place / "score.json").exists()


def test_strided_and_overlapping_tensor_views_read_as_their_values(tmp_path: Path) -> None:
    state = registry.build_model("imdn", registry.make_config("imdn", 2)).state_dict()
    weight, bias = "fea_conv.weight", "fea_conv.bias"
    views = dict(state)
    views[weight] = state[weight].transpose(0, 1).contiguous().transpose(0, 1)  # a strided view
    views[bias] = torch.full((1,), 0.25).expand(state[bias].shape)  # overlapping: stride 0
    assert not views[weight].is_contiguous() and views[bias].stride() == (0,)
    torch.save(views, tmp_path / "views.pth")
    nested = dict(views)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "nested tensors are a prototype": the point of the case
        nested[bias] = torch.nested.nested_tensor([state[bias]])
    torch.save(nested, tmp_path / "nested.pth")

    read = load_state_dict_file(tmp_path / "views.pth")
    assert torch.equal(read[weight], state[weight]) and read[weight].is_contiguous()
    assert torch.equal(read[bias], torch.full(state[bias].shape, 0.25)) and read[bias].is_contiguous()
    with pytest.raises(UserError, match="fea_conv.bias is a nested tensor"):
        load_state_dict_file(tmp_path / "nested.pth")


# 4. A full disk.

@pytest.fixture
def small_disk(place: Path):
    """A 1.5 MiB tmpfs every user may write (mode 1777), unmounted afterwards."""
    folder = place / "disk"
    folder.mkdir()
    reason = None
    if os.geteuid() != 0 or shutil.which("mount") is None:
        reason = "mounting a tmpfs needs root and mount(8)"
    else:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1536k,mode=1777", "tmpfs", str(folder)],
                                 capture_output=True, text=True)
        if mounted.returncode != 0:
            reason = f"cannot mount a tmpfs: {mounted.stderr.strip()}"
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the full-disk tests need a small tmpfs under CI: {reason}")
        pytest.skip(reason)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.slow
def test_sr_images_onto_a_disk_that_fills_up_say_disk_full_and_leave_nothing(place: Path, small_disk: Path,
                                                                           nobody) -> None:
    folder = image_folder(place / "hr", count=3, size=640)  # three 640x640 SR outputs of noise: over 1.5 MiB
    process = nobody("eval", "--model", "bicubic", "--data", folder, "--scale", "2", "--save-images",
                     small_disk / "sr")
    one_error_line(process, "cannot write", str(small_disk / "sr"), "disk full")
    leftovers = [path.name for path in (small_disk / "sr").iterdir()] if (small_disk / "sr").exists() else []
    assert not [name for name in leftovers if name.startswith(".")], leftovers  # no temporary file is left


def test_a_checkpoint_onto_a_full_disk_says_disk_full_and_leaves_nothing(small_disk: Path) -> None:
    from harness.training.loop import _save_atomic

    checkpoint = {"model": {"weight": torch.zeros(1 << 20)}}  # 4 MiB, over the disk
    with pytest.raises(atomic.WriteError, match=r"cannot write .*last\.pt \(disk full: No space left on device\)"):
        _save_atomic(checkpoint, small_disk / "last.pt")
    assert not list(small_disk.iterdir())


# 5. Sizes far beyond memory.

@pytest.mark.slow
def test_sizes_far_beyond_memory_are_refused_up_front(place: Path, nobody) -> None:
    started = time.monotonic()
    one_error_line(nobody("complexity", "--model", "imdn", "--scale", "2", "--hr-size", "100000x100000"),
                   "50000x50000 LR", "needs at least", "TiB of memory")
    one_error_line(nobody("complexity", "--model", "imdn", "--scale", "2", "--set", "channels=1000000"),
                   "model imdn", "parameters", "needs at least", "of memory")
    assert time.monotonic() - started < 90


def test_an_evaluation_beyond_memory_is_one_line_before_it_runs(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.data.benchmark import open_benchmark
    from harness.evaluation.evaluate import evaluate

    model = registry.build_model("imdn", registry.make_config("imdn", 2))
    benchmark = open_benchmark(image_folder(tmp_path / "set", count=2, size=40), 2)
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": 1 << 17)  # a machine with 128 KiB free
    with pytest.raises(UserError, match=r"imdn on set/img\d \(20x20 LR at x2\) needs at least .* of memory; cpu "
                                        r"has 128\.0 KiB available"):
        evaluate(model, benchmark, label="imdn")


# 6. Grids far beyond any real use.

@pytest.mark.slow
def test_a_grid_far_beyond_any_real_use_is_one_line_in_seconds(place: Path, nobody) -> None:
    spec = spec_file(place)
    huge = place / "huge.yaml"
    huge.write_text(SPEC + "grid: {scale: [2, 3, 4]}\nseeds: [" + ", ".join(map(str, range(4000))) + "]\n")
    os.chmod(huge, 0o644)
    started = time.monotonic()
    one_error_line(nobody("run", spec, "--profile", "smoke", "--dry-run", "--seeds", "1500000",
                          "--results", place / "r"), "--seeds 1500000", "1,500,000 trials", "limit of 10,000")
    one_error_line(nobody("run", huge, "--profile", "smoke", "--dry-run", "--results", place / "r"),
                   str(huge), "12,000 trials", "limit of 10,000")
    assert time.monotonic() - started < 60  # seconds: the import of torch, not the grid


# 7. An output that is also an input.

@pytest.mark.slow
def test_an_output_that_is_also_an_input_is_refused(place: Path, nobody) -> None:
    hr = image_folder(place / "hr")
    spec = spec_file(place)
    results = place / "results"
    fake_records(results, spec)
    root = data_root(place / "data")
    os.system(f"chmod -R a+rwX {place}")
    before = {path: path.stat().st_mtime_ns for path in place.rglob("*")}
    cases = [
        (["degrade", "--hr", hr, "--scale", "2", "--out", hr], ("--out", str(hr), "also the input --hr")),
        (["eval", "--model", "bicubic", "--data", hr, "--scale", "2", "--save-images", hr],
         ("--save-images", "also the input --data")),
        (["eval", "--model", "bicubic", "--data", hr, "--scale", "2", "--out", hr / "img0.png"],
         ("--out", "inside the input --data")),
        (["run", spec, "--profile", "smoke", "--data-root", root, "--results", root], ("also the input --data-root",)),
        (["run", spec, "--profile", "smoke", "--data-root", root, "--results", root / "Set5"],
         ("also the input data folder Set5",)),
        (["report", "--results", results, "--out", results], ("report --out", "also the input --results")),
        (["export", "--results", results, "--out", results / "trials" / "all.csv"],
         ("inside the input records folder",)),
        (["check", "--results", results, "--reference", results / "trials" / "ref.json", "--update"],
         ("--reference", "inside the input records folder")),
    ]
    for argv, words in cases:
        one_error_line(nobody(*argv), *words)
    assert {path: path.stat().st_mtime_ns for path in place.rglob("*")} == before  # nothing written anywhere


# 8. Damaged report inputs.

@pytest.mark.slow
def test_a_nan_score_in_a_record_is_one_line_naming_it(place: Path, nobody) -> None:
    results = place / "results"
    trial = fake_records(results, spec_file(place))[0]
    record_file = results / "trials" / f"{trial.trial_id}.json"
    raw = json.loads(record_file.read_text())
    score = {"name": "img0", "psnr_y": math.nan, "ssim_y": 0.5}
    raw["metrics"] = {"Set5": {"dataset": "Set5", "scale": 4, "protocol": "common", "psnr_y": math.nan,
                               "ssim_y": 0.5, "images": [score], "conventions": {}}}
    record_file.write_text(json.dumps(raw))  # json writes NaN as the bare word NaN
    os.system(f"chmod -R a+rwX {results}")
    for argv in (["report", "--results", results, "--out", place / "report"], ["export", "--results", results]):
        one_error_line(nobody(*argv), str(record_file), "metrics.Set5.psnr_y", "NaN is not a score")


def test_an_undecodable_crop_costs_its_panel_with_a_note(tmp_path: Path) -> None:
    from harness.reporting import visual_comparison

    crop = tmp_path / "crop.png"
    crop.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)  # a PNG signature, then nothing decodable
    assert visual_comparison._crops(crop, ((0, 0, 8, 8),)) is None  # so the caller notes it, as for a missing one
    assert visual_comparison._load(crop) is None


# 9. A file where a folder belongs, or the reverse.

@pytest.mark.slow
def test_a_file_where_a_folder_belongs_or_the_reverse_says_which(place: Path, nobody) -> None:
    a_file = place / "a_file"
    a_file.write_text("not a folder")
    a_folder = place / "a_folder"
    a_folder.mkdir()
    results = place / "results"
    fake_records(results, spec_file(place))
    os.system(f"chmod -R a+rwX {place}")
    for command in (["report"], ["status"], ["export"], ["check", "--reference", place / "ref.json"]):
        one_error_line(nobody(*command, "--results", a_file), str(a_file), "is a file, not a folder")
    one_error_line(nobody("check", "--results", results, "--reference", a_folder), str(a_folder),
                   "is a folder, not a file")
    one_error_line(nobody("eval", "--model", "bicubic", "--data", a_file, "--scale", "2"), str(a_file),
                   "is a file, not a folder")
    one_error_line(nobody("eval", "--model", "imdn", "--weights", a_folder, "--data", a_folder, "--scale", "2"),
                   str(a_folder), "is a folder, not a file")
    one_error_line(nobody("degrade", "--hr", a_file, "--scale", "2", "--out", place / "lr"), str(a_file),
                   "is a file, not a folder")
    one_error_line(nobody("run", REPO_ROOT / "ablations" / "sota.yaml", "--profile", "smoke", "--weights-dir", a_file,
                          "--results", place / "r"), "weights folder", str(a_file), "is a file, not a folder")


# 10. Closed standard output, for every command.

@pytest.mark.slow
def test_every_command_with_standard_output_closed_ends_without_a_traceback(place: Path, nobody) -> None:
    from harness.cli import COMMANDS

    hr = image_folder(place / "hr", count=1, size=24)
    spec = spec_file(place)
    results = place / "results"
    fake_records(results, spec)
    os.system(f"chmod -R a+rwX {place}")
    invocations = {
        "eval": ["--model", "bicubic", "--data", hr, "--scale", "2"],
        "degrade": ["--hr", hr, "--scale", "2", "--out", place / "lr"],
        "complexity": ["--model", "bicubic", "--scale", "2"],
        "run": [spec, "--profile", "smoke", "--results", results, "--dry-run"],
        "report": ["--results", results, "--out", place / "report"],
        "check": ["--results", results, "--reference", place / "reference.json", "--update"],
        "status": ["--results", results],
        "export": ["--results", results],
        "list": ["models"],
    }
    assert set(invocations) == set(COMMANDS), "a new command needs its case here"
    for name, argv in invocations.items():
        process = nobody(name, *argv, closed_stdout=True)
        assert process.returncode == 0 and "Traceback" not in process.stderr, (name, process.stderr)
