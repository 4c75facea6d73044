"""Benchmark sets as (HR, LR) uint8 pairs, from any of three folder layouts.

- EDSR layout: `<set>/HR/<name>.png`, and `<set>/LR_bicubic/X<s>/<name>x<s>.png` when present;
- BasicSR-style pairs: `<set>/GT/<name>.png` and `<set>/LQ/<name>.png` (or `<name>x<s>.png`);
- HR only: the images directly in `<set>/` (or `<set>/HR/` with no LR_bicubic folder).
Where a set has no LR for the scale, the LR is made with MATLAB-exact bicubic `imresize` of the HR.
HR is cropped to a multiple of the scale; grayscale is replicated to three channels, alpha dropped; a pair says
whether its HR file had one channel (`one_channel`), which the authors' test scripts treat differently
(harness/protocols.py).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
from PIL import Image

from harness.conventions import SCALES, SSIM_WINDOW
from harness.data.images import IMAGE_SUFFIXES, crop_to_multiple, image_size, list_images, read_rgb
from harness.data.matlab import imresize_uint8
from harness.errors import UserError
from harness.inputs import input_folder

GENERATED_LR = "MATLAB-exact bicubic imresize of the HR (uint8, antialiased)"
EDSR_LR_DIR = "LR_bicubic"  # the EDSR layout's LR folder: MATLAB imresize output, by that layout's convention


def lr_pixels(lr_source: str) -> str:
    """What decides the LR pixels described by `lr_source` (an evaluation's `lr_source` convention): two sources
    with the same answer give the same numbers. The EDSR layout's LR_bicubic files are MATLAB bicubic imresize output,
    which GENERATED_LR reproduces bit for bit (tests/test_imresize.py checks the shared sets' files), so both are
    MATLAB bicubic; any other folder (a BasicSR LQ folder, say) may hold anything."""
    if lr_source == GENERATED_LR or (lr_source.startswith("folder ") and f"/{EDSR_LR_DIR}/X" in lr_source):
        return "MATLAB bicubic imresize of the HR"
    return lr_source


@dataclass(frozen=True)
class ImagePair:
    name: str
    hr: np.ndarray  # uint8 HxWx3, cropped to a multiple of the scale
    lr: np.ndarray  # uint8 (H/s)x(W/s)x3
    one_channel: bool = False  # the HR file is grey with one channel (MATLAB's imread gives HxW), replicated here


@dataclass(frozen=True)
class BenchmarkSet:
    name: str
    scale: int
    lr_source: str
    pairs: tuple[ImagePair, ...]


def _check_scorable(set_name: str, image_name: str, width: int, height: int, scale: int) -> None:
    """SSIM needs an 11x11 window inside the HR once it is cropped to a multiple of `scale` and `scale` border pixels
    are cropped from each side. `width`, `height`: the file's own size, which the message gives."""
    smallest = SSIM_WINDOW + 2 * scale
    cropped_width, cropped_height = width - width % scale, height - height % scale
    if cropped_height < smallest or cropped_width < smallest:
        empty = " (its LR image would be empty)" if width < scale or height < scale else ""
        raise UserError(f"{set_name}/{image_name}: {width}x{height} at x{scale} is too small to score{empty}: at "
                        f"least {smallest}x{smallest} pixels after cropping to a multiple of {scale} (the "
                        f"{SSIM_WINDOW}x{SSIM_WINDOW} SSIM window after cropping {scale} border pixels)")


def check_downscalable(name: str, width: int, height: int, scale: int) -> None:
    """An image smaller than `scale` pixels on a side has an empty LR image at that scale: a UserError naming it."""
    if width < scale or height < scale:
        raise UserError(f"{name}: {width}x{height} at x{scale} gives an empty LR image "
                        f"({width // scale}x{height // scale} pixels); it needs at least {scale}x{scale} pixels")


def degrade(hr: np.ndarray, scale: int, name: str = "image") -> np.ndarray:
    check_downscalable(name, hr.shape[1], hr.shape[0], scale)
    return imresize_uint8(crop_to_multiple(hr, scale), 1 / scale)


def benchmark_from_images(name: str, images: Mapping[str, np.ndarray], scale: int) -> BenchmarkSet:
    """A set whose LR is made from in-memory HR images (uint8 HxWx3)."""
    pairs = []
    for image_name in sorted(images):
        _check_scorable(name, image_name, images[image_name].shape[1], images[image_name].shape[0], scale)
        hr = crop_to_multiple(images[image_name], scale)
        pairs.append(ImagePair(image_name, hr, imresize_uint8(hr, 1 / scale)))
    if not pairs:
        raise UserError(f"benchmark {name!r} has no images")
    return BenchmarkSet(name=name, scale=scale, lr_source=GENERATED_LR, pairs=tuple(pairs))


@dataclass(frozen=True)
class _Layout:
    path: Path  # the set's folder
    hr_files: tuple[Path, ...]
    lr_dir: Path | None  # None: the LR is made from the HR
    lr_source: str


def _layout(path: Path, scale: int) -> _Layout:
    """The set's layout and HR files, every folder checked readable (harness/inputs.py); nothing is decoded."""
    if scale not in SCALES:
        raise UserError(f"scale must be one of {', '.join(map(str, SCALES))}, got {scale}")
    path = input_folder(Path(path), "benchmark folder")
    if path.name in ("HR", "GT") and path.parent.is_dir():
        path = path.parent
    if _is_folder(path / "GT") and _is_folder(path / "LQ"):
        hr_dir, lr_dir, lr_source = path / "GT", path / "LQ", f"folder {path.name}/LQ"
    elif _is_folder(path / "HR"):
        hr_dir, lr_dir = path / "HR", path / EDSR_LR_DIR / f"X{scale}"
        lr_source = f"folder {path.name}/{EDSR_LR_DIR}/X{scale}"
        if not _is_folder(lr_dir):
            lr_dir, lr_source = None, GENERATED_LR
    else:
        hr_dir, lr_dir, lr_source = path, None, GENERATED_LR
    for folder in (hr_dir, lr_dir):
        if folder is not None and folder != path:
            input_folder(folder, "benchmark folder")
    hr_files = list_images(hr_dir)
    if not hr_files:
        raise UserError(f"benchmark folder {hr_dir} holds no images")
    if lr_dir is not None:
        list_images(lr_dir)  # its entries: a broken link or an unreadable file is named before anything is decoded
    return _Layout(path, tuple(hr_files), lr_dir, lr_source)


def _is_folder(path: Path) -> bool:
    """A folder, or an entry that stands where a layout's folder would and must be judged as one (a broken link, an
    unreadable folder): `input_folder` then says what is wrong with it."""
    return path.is_dir() or path.is_symlink()


def check_benchmark(path: Path, scale: int) -> None:
    """Everything open_benchmark would refuse that can be known without decoding: the layout, each folder's and
    file's kind and permissions, every image's header (format, size) and its LR partner. Seconds for a whole set,
    so that `run` says it before Ray starts."""
    layout = _layout(path, scale)
    for hr_file in layout.hr_files:
        width, height = image_size(hr_file)
        _check_scorable(layout.path.name, hr_file.name, width, height, scale)
        if layout.lr_dir is not None:
            image_size(_find_lr(layout.lr_dir, hr_file.stem, scale))


def open_benchmark(path: Path, scale: int) -> BenchmarkSet:
    """Load every pair of the set at `path` for `scale`; bad folders and mismatched sizes are UserErrors."""
    layout = _layout(path, scale)
    path, lr_dir, lr_source = layout.path, layout.lr_dir, layout.lr_source
    pairs = []
    for hr_file in layout.hr_files:
        full = read_rgb(hr_file)
        _check_scorable(path.name, hr_file.name, full.shape[1], full.shape[0], scale)
        hr = crop_to_multiple(full, scale)
        if lr_dir is None:
            lr = imresize_uint8(hr, 1 / scale)
        else:
            lr_file = _find_lr(lr_dir, hr_file.stem, scale)
            lr = read_rgb(lr_file)
            expected = (hr.shape[0] // scale, hr.shape[1] // scale)
            if lr.shape[:2] != expected:
                raise UserError(
                    f"{lr_file}: LR is {lr.shape[1]}x{lr.shape[0]} but its HR {hr_file.name} cropped to x{scale} "
                    f"needs {expected[1]}x{expected[0]} (wrong scale or mismatched pair)")
        pairs.append(ImagePair(hr_file.stem, hr, lr, one_channel=_one_channel(hr_file)))
    return BenchmarkSet(name=path.name, scale=scale, lr_source=lr_source, pairs=tuple(pairs))


def _one_channel(path: Path) -> bool:
    """Whether MATLAB's imread gives a HxW array for the file (grey, with or without alpha); read_rgb has read it."""
    with Image.open(path) as image:
        return image.mode in ("1", "L", "LA")


def _find_lr(lr_dir: Path, stem: str, scale: int) -> Path:
    for candidate_stem in (f"{stem}x{scale}", stem):
        for suffix in IMAGE_SUFFIXES:
            file = lr_dir / f"{candidate_stem}{suffix}"
            if file.is_file():
                return file
    raise UserError(f"{lr_dir}: no LR image for {stem} (expected {stem}x{scale}.png or {stem}.png)")
