"""The training patch stream in batches: the random draws of many samples at once, cut as uint8 on the CPU or on the
training device, and turned into float once per batch.

Sample k of seed s is the patch `TrainingPatches[(s, k)]` (harness/data/training.py); this module is its one
definition. The draws are numpy's, made exactly as they always were, so the stream is bit-identical to the one that
built the committed smoke reference:
- pass p = k // n over the n images visits them in the order `default_rng((s, p, 0)).permutation(n)`;
- `default_rng((s, k, 1))` then draws the LR patch's top and left corner and, when augmenting, three flip bits
  (horizontal, vertical, transpose: the 8 flips/rotations of a square).

What made the per-sample path slow was less those draws than the work around them: a pass's permutation rebuilt for
every sample, a strided flip-and-transpose copy, a float conversion and a collation per patch. Here a pass's order is
computed once per process (`_pass_order`), patches are cut as uint8 into one batch, and a batch is converted to float
once, where the model is (`to_unit_float`).

A batch (`PatchBatch`) comes in one of two forms, the same bytes in the end (tests/test_patch_stream.py):
- oriented on the CPU (`cut_batch`, numpy views of the decoded images, memory maps included): what a CPU run trains
  on, in its own process or in DataLoader workers (`PatchBatches`, each batch computed from its number alone);
- unoriented crops and their flip bits, which the device orients in a few batched operations (`orient`): what a GPU
  run takes. The host then only draws and copies contiguous rows of bytes (`crop_batch`), or, when the training set
  is resident on the card (`ResidentImages`), only draws and launches one copy per patch.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset


class TrainingPair(Protocol):
    """What a stream reads of a training pair (harness/data/training.py TrainingPair): aligned uint8 HxWx3 images."""

    @property
    def hr(self) -> np.ndarray: ...

    @property
    def lr(self) -> np.ndarray: ...

# A training set is resident on the device only when it takes at most this share of the memory free there: packed
# trials (several on one card) each hold their own copy, and the model, its activations and the optimizer need room.
RESIDENT_SHARE_OF_FREE_MEMORY = 0.25


@dataclass(frozen=True)
class PatchDraws:
    """The random draws of samples [start, start + len): which image, the LR patch's corner, and the flip bits."""

    image: np.ndarray  # int64 index into the training pairs
    top: np.ndarray  # int64, LR pixels
    left: np.ndarray  # int64, LR pixels
    flips: np.ndarray  # uint8 (n, 3): horizontal, vertical, transpose; zeros without augmentation

    def __len__(self) -> int:
        return len(self.image)


@functools.lru_cache(maxsize=8)
def _pass_order(seed: int, pass_number: int, count: int) -> np.ndarray:
    order = np.random.default_rng((seed, pass_number, 0)).permutation(count)
    order.flags.writeable = False
    return order


def draw_patches(lr_shapes: Sequence[tuple[int, int]], *, lr_patch: int, augment: bool, seed: int, start: int,
                 stop: int) -> PatchDraws:
    """The draws of samples `start`..`stop - 1` of `seed` over images whose LR sizes (height, width) are `lr_shapes`."""
    count = len(lr_shapes)
    size = stop - start
    image = np.empty(size, dtype=np.int64)
    top = np.empty(size, dtype=np.int64)
    left = np.empty(size, dtype=np.int64)
    flips = np.zeros((size, 3), dtype=np.uint8)
    for index, sample in enumerate(range(start, stop)):
        chosen = int(_pass_order(seed, sample // count, count)[sample % count])
        height, width = lr_shapes[chosen]
        rng = np.random.default_rng((seed, sample, 1))
        image[index] = chosen
        top[index] = rng.integers(0, height - lr_patch + 1)
        left[index] = rng.integers(0, width - lr_patch + 1)
        if augment:
            flips[index] = rng.integers(0, 2, size=3)
    return PatchDraws(image, top, left, flips)


def oriented(patch: np.ndarray, horizontal: int, vertical: int, transpose: int) -> np.ndarray:
    """A view of an HxWxC patch flipped left-right, then upside down, then transposed, as the bits say."""
    if horizontal:
        patch = patch[:, ::-1]
    if vertical:
        patch = patch[::-1]
    if transpose:
        patch = patch.transpose(1, 0, 2)
    return patch


def cut_batch(pairs: Sequence[TrainingPair], draws: PatchDraws, *, scale: int,
              lr_patch: int) -> tuple[np.ndarray, np.ndarray]:
    """The (lr, hr) patches of `draws` as uint8 arrays (n, 3, p/s, p/s) and (n, 3, p, p), cut from numpy images."""
    hr_patch = lr_patch * scale
    lr_batch = np.empty((len(draws), 3, lr_patch, lr_patch), dtype=np.uint8)
    hr_batch = np.empty((len(draws), 3, hr_patch, hr_patch), dtype=np.uint8)
    for index in range(len(draws)):
        pair = pairs[draws.image[index]]
        top, left = int(draws.top[index]), int(draws.left[index])
        bits = draws.flips[index]
        lr = pair.lr[top:top + lr_patch, left:left + lr_patch]
        hr = pair.hr[top * scale:top * scale + hr_patch, left * scale:left * scale + hr_patch]
        lr_batch[index] = oriented(lr, *bits).transpose(2, 0, 1)
        hr_batch[index] = oriented(hr, *bits).transpose(2, 0, 1)
    return lr_batch, hr_batch


def crop_batch(pairs: Sequence[TrainingPair], draws: PatchDraws, *, scale: int,
               lr_patch: int) -> tuple[np.ndarray, np.ndarray]:
    """The patches of `draws` before their flips, as uint8 arrays (n, p/s, p/s, 3) and (n, p, p, 3): rows of bytes
    copied as they lie in the images, for the device to orient (`orient`)."""
    hr_patch = lr_patch * scale
    lr_batch = np.empty((len(draws), lr_patch, lr_patch, 3), dtype=np.uint8)
    hr_batch = np.empty((len(draws), hr_patch, hr_patch, 3), dtype=np.uint8)
    for index in range(len(draws)):
        pair = pairs[draws.image[index]]
        top, left = int(draws.top[index]), int(draws.left[index])
        lr_batch[index] = pair.lr[top:top + lr_patch, left:left + lr_patch]
        hr_batch[index] = pair.hr[top * scale:top * scale + hr_patch, left * scale:left * scale + hr_patch]
    return lr_batch, hr_batch


def orient(crops: Tensor, flips: Tensor) -> Tensor:
    """Unoriented (n, h, w, 3) crops -> (n, 3, h, w), each flipped as its bits say (`oriented`), in six batched
    operations on the crops' device: cheap on a GPU (on a CPU, numpy's views in `cut_batch` are cheaper)."""
    patches = crops.permute(0, 3, 1, 2)
    horizontal, vertical, transpose = (flips[:, bit].bool().view(-1, 1, 1, 1) for bit in range(3))
    patches = torch.where(horizontal, patches.flip(3), patches)
    patches = torch.where(vertical, patches.flip(2), patches)
    return torch.where(transpose, patches.transpose(2, 3), patches)


@dataclass(frozen=True)
class PatchBatch:
    """uint8 patches of a batch: oriented (n, 3, h, w) when `flips` is None, else crops (n, h, w, 3) still to be
    oriented by their flip bits (n, 3) on the training device."""

    lr: Tensor
    hr: Tensor
    flips: Tensor | None = None

    def pin_memory(self) -> "PatchBatch":  # DataLoader(pin_memory=True) calls it
        flips = self.flips.pin_memory() if self.flips is not None else None
        return PatchBatch(self.lr.pin_memory(), self.hr.pin_memory(), flips)

    def to_unit_float(self, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """(lr, hr) in [0, 1] as `dtype` on `device`, oriented there if not yet."""
        lr, hr = self.lr.to(device, non_blocking=True), self.hr.to(device, non_blocking=True)
        if self.flips is not None:
            flips = self.flips.to(device, non_blocking=True)
            lr, hr = orient(lr, flips), orient(hr, flips)
        return to_unit_float(lr, device, dtype), to_unit_float(hr, device, dtype)


def to_unit_float(batch: Tensor, device: torch.device, dtype: torch.dtype) -> Tensor:
    """uint8 patches -> `dtype` in [0, 1] on `device`: the bytes travel, the conversion runs where the model is.
    Always x / 255 in float32 first, then `dtype`: the values the float32 per-patch path gave (smoke trains in
    float64 on float32-rounded patches, and its reference holds them)."""
    converted = batch.to(device, non_blocking=True).float().div_(255)  # one pass faster than torch.div's promotion
    return converted if converted.dtype == dtype else converted.to(dtype)


class PatchStream:
    """The stream of one training set, in batches: uint8 (lr, hr) pairs, the same whatever cuts them."""

    def __init__(self, pairs: Sequence[TrainingPair], *, scale: int, hr_patch: int, augment: bool) -> None:
        self.pairs = tuple(pairs)
        self.scale = scale
        self.lr_patch = hr_patch // scale
        self.augment = augment
        self.lr_shapes = tuple((int(pair.lr.shape[0]), int(pair.lr.shape[1])) for pair in self.pairs)

    def draws(self, seed: int, start: int, stop: int) -> PatchDraws:
        return draw_patches(self.lr_shapes, lr_patch=self.lr_patch, augment=self.augment, seed=seed, start=start,
                            stop=stop)

    def cut(self, seed: int, start: int, stop: int) -> PatchBatch:
        """Samples `start`..`stop - 1` cut and oriented on the CPU."""
        lr, hr = cut_batch(self.pairs, self.draws(seed, start, stop), scale=self.scale, lr_patch=self.lr_patch)
        return PatchBatch(torch.from_numpy(lr), torch.from_numpy(hr))

    def crop(self, seed: int, start: int, stop: int) -> PatchBatch:
        """Samples `start`..`stop - 1` cropped on the CPU, to be oriented on the device."""
        draws = self.draws(seed, start, stop)
        lr, hr = crop_batch(self.pairs, draws, scale=self.scale, lr_patch=self.lr_patch)
        return PatchBatch(torch.from_numpy(lr), torch.from_numpy(hr), torch.from_numpy(draws.flips))

    @property
    def nbytes(self) -> int:
        return sum(pair.hr.nbytes + pair.lr.nbytes for pair in self.pairs)


class PatchBatches(Dataset):
    """`batches[i]` -> batch i of a seed's stream (samples i*B .. i*B + B - 1), oriented on the CPU or, with
    `oriented=False`, left for the device to orient: what DataLoader workers compute, each batch from its number."""

    def __init__(self, stream: PatchStream, *, seed: int, batch_size: int, oriented: bool = True) -> None:
        self.stream, self.seed, self.batch_size, self.oriented = stream, seed, batch_size, oriented

    def __getitem__(self, batch: int) -> PatchBatch:
        start, stop = batch * self.batch_size, (batch + 1) * self.batch_size
        return self.stream.cut(self.seed, start, stop) if self.oriented else self.stream.crop(self.seed, start, stop)


class ResidentImages:
    """The training images copied once to `device` as uint8 tensors; patches are cut there."""

    def __init__(self, stream: PatchStream, device: torch.device) -> None:
        self.stream = stream
        self.device = torch.device(device)
        self.lr = [_to_device(pair.lr, self.device) for pair in stream.pairs]
        self.hr = [_to_device(pair.hr, self.device) for pair in stream.pairs]

    def crop(self, seed: int, start: int, stop: int) -> PatchBatch:
        """Samples `start`..`stop - 1` cropped on the device (one copy each), to be oriented there."""
        draws = self.stream.draws(seed, start, stop)
        scale, lr_patch = self.stream.scale, self.stream.lr_patch
        hr_patch = lr_patch * scale
        lr_batch = torch.empty((len(draws), lr_patch, lr_patch, 3), dtype=torch.uint8, device=self.device)
        hr_batch = torch.empty((len(draws), hr_patch, hr_patch, 3), dtype=torch.uint8, device=self.device)
        for index in range(len(draws)):
            chosen = int(draws.image[index])
            top, left = int(draws.top[index]), int(draws.left[index])
            lr_batch[index].copy_(self.lr[chosen][top:top + lr_patch, left:left + lr_patch])
            hr_batch[index].copy_(self.hr[chosen][top * scale:top * scale + hr_patch,
                                                  left * scale:left * scale + hr_patch])
        return PatchBatch(lr_batch, hr_batch, torch.from_numpy(draws.flips))


def _to_device(image: np.ndarray, device: torch.device) -> Tensor:
    # np.array copies: the image may be a read-only memory map, which torch.from_numpy refuses to wrap quietly.
    return torch.from_numpy(np.array(image, dtype=np.uint8, copy=True)).to(device)


def fits_on_device(stream: PatchStream, device: torch.device) -> bool:
    """Whether a CUDA device keeps this training set resident (the CPU path serves every other device)."""
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return False
    free, _ = torch.cuda.mem_get_info(device)
    return stream.nbytes <= RESIDENT_SHARE_OF_FREE_MEMORY * free


def resident_batches(images: ResidentImages, *, seed: int, batch_size: int, start_batch: int,
                     stop_batch: int) -> Iterator[PatchBatch]:
    for batch in range(start_batch, stop_batch):
        yield images.crop(seed, batch * batch_size, (batch + 1) * batch_size)
