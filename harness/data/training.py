"""Training data: random aligned (LR, HR) patches from DIV2K or from the bundled scikit-image photographs.

Items are addressed by a key `(seed, sample)`, not by an image index: the patch for a key (which image, where,
which flip/rotation) is a pure function of the key (its draws: harness/data/patch_stream.py, which also cuts whole
batches of the stream for the training loop). The training loop asks for samples 0, 1, 2, ... of its seed,
so the data stream is identical however many workers load it, and resuming at iteration k needs no loader state:
it continues at sample k * batch_size. Images are visited in a fresh random order on every pass over the set, as a
shuffled DataLoader would.

Decoded images are held in memory (uint8). For DIV2K an on-disk cache shared across runs stores them packed, and they
are memory-mapped from it (harness/data/div2k_cache.py): start-up takes seconds instead of minutes of PNG decoding and
bicubic downscaling, and trials and worker processes share the pages through the OS cache instead of each holding a
copy.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from torch import Tensor
from torch.utils.data import Dataset

from harness.data.bundled import BUNDLED_TRAIN, load_bundled
from harness.data.div2k import check_div2k
from harness.data.div2k_cache import load_div2k
from harness.data.images import crop_to_multiple
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
                        cache_dir: Path | None = None, threads: int = 1, say: Callable[[str], None] = lambda line: None,
                        status: Callable[[str], None] = lambda line: None) -> TrainingPatches:
    """DIV2K's training split in its standard layout under `data_root` (or `data_root` being the DIV2K folder).

    `<root>/DIV2K/DIV2K_train_HR/<name>.png` with `<root>/DIV2K/DIV2K_train_LR_bicubic/X<s>/<name>x<s>.png`; without
    that LR folder the LR is made from the HR with the harness's MATLAB-exact bicubic. The layout is checked from the
    files' headers first (harness/data/div2k.py); then every image is decoded once, in `threads` threads, and with
    `cache_dir` kept in the shared cache there (harness/data/div2k_cache.py). `say` gets the build's progress lines,
    `status` a short status per image.
    """
    layout = check_div2k(data_root, scale, hr_patch=hr_patch)
    arrays = load_div2k(layout, cache_dir=cache_dir, threads=threads, say=say, status=status)
    pairs = [TrainingPair(name, crop_to_multiple(hr, scale), lr)
             for name, hr, lr in zip(arrays.names, arrays.hr, arrays.lr)]
    return TrainingPatches(pairs, scale=scale, hr_patch=hr_patch, augment=augment,
                           description=f"DIV2K training images in {layout.hr_dir}")
