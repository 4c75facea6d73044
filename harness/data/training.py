"""Training data: random aligned (LR, HR) patches from DIV2K or from the bundled scikit-image photographs.

Items are addressed by a key `(seed, sample)`, not by an image index: the patch for a key (which image, where,
which flip/rotation) is a pure function of the key (its draws: harness/data/patch_stream.py, which also cuts whole
batches of the stream for the training loop). The training loop asks for samples 0, 1, 2, ... of its seed,
so the data stream is identical however many workers load it, and resuming at iteration k needs no loader state:
it continues at sample k * batch_size. Images are visited in a fresh random order on every pass over the set, as a
shuffled DataLoader would.

Decoded images are held in memory (uint8). For DIV2K an optional on-disk cache stores them as .npy files, which are
then memory-mapped: start-up takes seconds instead of minutes of PNG decoding and bicubic downscaling, and worker
processes share the pages through the OS cache instead of each holding a copy.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from torch import Tensor
from torch.utils.data import Dataset

from harness.atomic import atomic_path
from harness.data.bundled import BUNDLED_TRAIN, load_bundled
from harness.data.images import crop_to_multiple, list_images, read_rgb
from harness.data.matlab import imresize_uint8
from harness.data.patch_stream import PatchStream
from harness.errors import UserError

SampleKey = tuple[int, int]  # (seed, sample number)


@dataclass(frozen=True)
class TrainingPair:
    name: str
    hr: np.ndarray  # uint8 HxWx3, cropped to a multiple of the scale (may be a read-only memory map)
    lr: np.ndarray  # uint8 (H/s)x(W/s)x3


class TrainingPatches(Dataset):
    """`data[(seed, sample)]` -> (lr, hr): float32 tensors in [0, 1], shapes (3, p/s, p/s) and (3, p, p)."""

    def __init__(self, pairs: Sequence[TrainingPair], *, scale: int, hr_patch: int, augment: bool,
                 description: str) -> None:
        if hr_patch % scale != 0:
            raise UserError(f"HR patch size {hr_patch} is not a multiple of the scale {scale}")
        if not pairs:
            raise UserError(f"{description}: no training images")
        for pair in pairs:
            if pair.hr.shape[0] < hr_patch or pair.hr.shape[1] < hr_patch:
                raise UserError(f"{description}: image {pair.name} ({pair.hr.shape[1]}x{pair.hr.shape[0]}) is "
                                f"smaller than the {hr_patch}x{hr_patch} training patch")
            if pair.lr.shape[:2] != (pair.hr.shape[0] // scale, pair.hr.shape[1] // scale):
                raise UserError(f"{description}: LR of {pair.name} is {pair.lr.shape[1]}x{pair.lr.shape[0]}, "
                                f"expected its HR {pair.hr.shape[1]}x{pair.hr.shape[0]} divided by {scale}")
        self.pairs = tuple(pairs)
        self.scale = scale
        self.hr_patch = hr_patch
        self.augment = augment
        self.description = description
        self.stream = PatchStream(self.pairs, scale=scale, hr_patch=hr_patch, augment=augment)

    def __len__(self) -> int:
        """Images per pass over the set (keys themselves are unbounded)."""
        return len(self.pairs)

    def __getitem__(self, key: SampleKey) -> tuple[Tensor, Tensor]:
        seed, sample = key
        batch = self.stream.cut(seed, sample, sample + 1)  # harness/data/patch_stream.py draws and cuts
        return batch.lr[0].float().div_(255), batch.hr[0].float().div_(255)


def bundled_training_data(scale: int, *, hr_patch: int, augment: bool = True) -> TrainingPatches:
    """BUNDLED_TRAIN with LR made by MATLAB-exact bicubic downscaling of the HR cropped to a multiple of `scale`."""
    pairs = []
    for name in BUNDLED_TRAIN:
        hr = crop_to_multiple(load_bundled(name), scale)
        pairs.append(TrainingPair(name, hr, imresize_uint8(hr, 1 / scale)))
    return TrainingPatches(pairs, scale=scale, hr_patch=hr_patch, augment=augment,
                           description="bundled training images")


def div2k_training_data(data_root: Path, scale: int, *, hr_patch: int, augment: bool = True,
                        cache_dir: Path | None = None, threads: int = 8) -> TrainingPatches:
    """DIV2K's training split in its standard layout under `data_root` (or `data_root` being the DIV2K folder).

    `<root>/DIV2K/DIV2K_train_HR/<name>.png` with `<root>/DIV2K/DIV2K_train_LR_bicubic/X<s>/<name>x<s>.png`; without
    that LR folder the LR is made from the HR with the harness's MATLAB-exact bicubic. Every image is decoded once,
    in `threads` threads, at construction; with `cache_dir` the decoded arrays are kept as .npy files there.
    """
    root = Path(data_root)
    div2k = root if (root / "DIV2K_train_HR").is_dir() else root / "DIV2K"
    hr_dir = div2k / "DIV2K_train_HR"
    if not hr_dir.is_dir():
        raise UserError(f"DIV2K training images not found: {hr_dir} is not a folder "
                        "(expected <data root>/DIV2K/DIV2K_train_HR/*.png)")
    hr_files = list_images(hr_dir)
    if not hr_files:
        raise UserError(f"DIV2K training folder {hr_dir} holds no images")
    lr_dir = div2k / "DIV2K_train_LR_bicubic" / f"X{scale}"
    if not lr_dir.is_dir():
        lr_dir = None
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / "div2k"
        (cache / "HR").mkdir(parents=True, exist_ok=True)
        (cache / _lr_cache_name(scale, lr_dir)).mkdir(parents=True, exist_ok=True)

    def load(hr_file: Path) -> TrainingPair:
        return _load_div2k_pair(hr_file, lr_dir, scale, cache)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        pairs = list(pool.map(load, hr_files))
    return TrainingPatches(pairs, scale=scale, hr_patch=hr_patch, augment=augment,
                           description=f"DIV2K training images in {hr_dir}")


def _lr_cache_name(scale: int, lr_dir: Path | None) -> str:
    # Kept apart: the folder's LR images and our own downscaling could differ.
    return f"LR_bicubic_X{scale}" if lr_dir is not None else f"LR_imresize_X{scale}"


def _load_div2k_pair(hr_file: Path, lr_dir: Path | None, scale: int, cache: Path | None) -> TrainingPair:
    name = hr_file.stem
    lr_source = None
    if lr_dir is not None:
        lr_source = lr_dir / f"{name}x{scale}.png"
        if not lr_source.is_file():
            raise UserError(f"{lr_dir}: no LR image for {name} (expected {lr_source.name})")
    if cache is None:
        hr = crop_to_multiple(read_rgb(hr_file), scale)
        lr = read_rgb(lr_source) if lr_source is not None else imresize_uint8(hr, 1 / scale)
        return TrainingPair(name, hr, lr)
    # The cached HR is uncropped so that it serves every scale.
    hr = crop_to_multiple(_cached(cache / "HR" / f"{name}.npy", hr_file, lambda: read_rgb(hr_file)), scale)
    lr_cache = cache / _lr_cache_name(scale, lr_dir) / f"{name}.npy"
    if lr_source is not None:
        lr = _cached(lr_cache, lr_source, lambda: read_rgb(lr_source))
    else:
        lr = _cached(lr_cache, hr_file, lambda: imresize_uint8(np.asarray(hr), 1 / scale))
    return TrainingPair(name, hr, lr)


def _cached(path: Path, source: Path, make: Callable[[], np.ndarray]) -> np.ndarray:
    """The array cached at `path` (memory-mapped), made and written atomically first if absent or older than
    `source`."""
    if not path.is_file() or path.stat().st_mtime_ns < source.stat().st_mtime_ns:
        array = make()
        with atomic_path(path, suffix=".npy") as temporary:
            np.save(temporary, array)
    try:
        return np.load(path, mmap_mode="r")
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: unreadable cache file ({error}); delete it to rebuild") from None
