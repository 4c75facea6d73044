"""The training patch stream in batches (harness/data/patch_stream.py): the same bytes as the per-sample stream has
always given (the committed smoke reference was trained on it), whatever cuts them (numpy on the CPU, the device's
batched orientation, a set resident on the device) and however many DataLoader workers do it."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from harness.data.patch_stream import PatchBatch, PatchBatches, ResidentImages, orient
from harness.data.training import TrainingPair, TrainingPatches, bundled_training_data

CPU = torch.device("cpu")


def reference_patch(data: TrainingPatches, seed: int, sample: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample `sample` of `seed` as the per-sample loader drew it before batches (written out independently)."""
    count = len(data.pairs)
    pair = data.pairs[np.random.default_rng((seed, sample // count, 0)).permutation(count)[sample % count]]
    rng = np.random.default_rng((seed, sample, 1))
    lr_patch = data.hr_patch // data.scale
    top = int(rng.integers(0, pair.lr.shape[0] - lr_patch + 1))
    left = int(rng.integers(0, pair.lr.shape[1] - lr_patch + 1))
    lr = pair.lr[top:top + lr_patch, left:left + lr_patch]
    hr = pair.hr[top * data.scale:(top + lr_patch) * data.scale, left * data.scale:(left + lr_patch) * data.scale]
    if data.augment:
        horizontal, vertical, transpose = rng.integers(0, 2, size=3)
        for flip, axis in ((horizontal, 1), (vertical, 0)):
            lr, hr = (np.flip(lr, axis), np.flip(hr, axis)) if flip else (lr, hr)
        if transpose:
            lr, hr = lr.transpose(1, 0, 2), hr.transpose(1, 0, 2)
    return lr.transpose(2, 0, 1), hr.transpose(2, 0, 1)


def small_set(scale: int, augment: bool = True) -> TrainingPatches:
    """Five images of different sizes (more than a batch's worth of passes fit in the samples used)."""
    rng = np.random.default_rng(1)
    pairs = []
    for index, (height, width) in enumerate([(36, 60), (48, 48), (60, 36), (72, 84), (40, 52)]):
        hr = rng.integers(0, 256, size=(height * scale, width * scale, 3), dtype=np.uint8)
        lr = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        pairs.append(TrainingPair(f"image{index}", hr, lr))
    return TrainingPatches(pairs, scale=scale, hr_patch=12 * scale, augment=augment, description="small set")


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("augment", [True, False])
def test_batches_hold_the_per_sample_stream_bit_for_bit(scale: int, augment: bool) -> None:
    data = small_set(scale, augment)
    for seed, start in ((0, 0), (7, 13)):  # 13: a batch that straddles two passes over the five images
        batch = data.stream.cut(seed, start, start + 16)
        for row, sample in enumerate(range(start, start + 16)):
            lr, hr = reference_patch(data, seed, sample)
            assert np.array_equal(batch.lr[row].numpy(), lr) and np.array_equal(batch.hr[row].numpy(), hr)
            lr_float, hr_float = data[(seed, sample)]  # the per-sample form the loop used to collate
            assert torch.equal(lr_float, torch.from_numpy(np.ascontiguousarray(lr)).float().div_(255))
            assert torch.equal(hr_float, torch.from_numpy(np.ascontiguousarray(hr)).float().div_(255))


def test_bundled_set_stream_is_unchanged() -> None:
    data = bundled_training_data(4, hr_patch=48)
    batch = data.stream.cut(3, 100, 108)
    for row, sample in enumerate(range(100, 108)):
        lr, hr = reference_patch(data, 3, sample)
        assert np.array_equal(batch.lr[row].numpy(), lr) and np.array_equal(batch.hr[row].numpy(), hr)


@pytest.mark.parametrize("scale", [2, 4])
def test_device_orientation_and_resident_set_cut_the_same_bytes(scale: int) -> None:
    data = small_set(scale)
    resident = ResidentImages(data.stream, CPU)
    for start in (0, 16, 32):
        cut = data.stream.cut(5, start, start + 16)
        cropped = data.stream.crop(5, start, start + 16)
        on_device = resident.crop(5, start, start + 16)
        assert cropped.flips is not None and cropped.flips.any()  # orientation is exercised
        for batch in (cropped, on_device):
            assert torch.equal(orient(batch.lr, batch.flips), cut.lr)
            assert torch.equal(orient(batch.hr, batch.flips), cut.hr)
            for converted, expected in zip(batch.to_unit_float(CPU, torch.float64), cut.to_unit_float(CPU, torch.float64)):
                assert converted.dtype == torch.float64 and torch.equal(converted, expected)


def test_float_conversion_rounds_in_float32_first() -> None:
    """Smoke trains in float64 on patches rounded to float32 first, as the per-sample path made them."""
    values = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    lr, _ = PatchBatch(values, values).to_unit_float(CPU, torch.float64)
    assert torch.equal(lr, (values.float() / 255).double())
    assert not torch.equal(lr, values.double() / 255)  # the two differ, so the test can tell them apart


@pytest.mark.parametrize("oriented", [True, False])
def test_worker_count_does_not_change_the_batches(oriented: bool) -> None:
    data = small_set(2)
    batches = PatchBatches(data.stream, seed=11, batch_size=4, oriented=oriented)
    streams = []
    for workers in (0, 1, 2):
        loader = DataLoader(batches, sampler=range(3, 9), batch_size=None, num_workers=workers,
                            multiprocessing_context="fork" if workers else None)
        streams.append([(batch.lr, batch.hr, batch.flips) for batch in loader])
    for other in streams[1:]:
        assert len(other) == len(streams[0]) == 6
        for (lr, hr, flips), (lr0, hr0, flips0) in zip(other, streams[0]):
            assert torch.equal(lr, lr0) and torch.equal(hr, hr0)
            assert (flips is None and flips0 is None) or torch.equal(flips, flips0)
