"""Visual crops for the report: the same HR region of one image per evaluation set, for every trial.

The region depends on the HR image alone (never on a model's output), so that every trial at every scale crops the
same pixels: the CROP_SIZE x CROP_SIZE window of largest luma variance among windows on a CROP_STRIDE grid. Windows
are searched only inside the HR cropped to a multiple of SHARED_MULTIPLE (divisible by every scale 2, 3, 4, 6, 8):
benchmarks crop the HR to a multiple of the scale, and that crop never reaches into this region.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from harness.data.benchmark import BenchmarkSet
from harness.data.images import png_bytes
from harness.evaluation.evaluate import super_resolve
from harness.evaluation.metrics import rgb_to_y

CROP_SIZE = 64
CROP_STRIDE = 16
SHARED_MULTIPLE = 24
VISUALS_DIR = "visuals"


@dataclass(frozen=True)
class Box:
    top: int
    left: int
    height: int
    width: int

    def crop(self, image: np.ndarray) -> np.ndarray:
        return image[self.top:self.top + self.height, self.left:self.left + self.width]

    def to_json(self) -> list[int]:
        return [self.top, self.left, self.height, self.width]


def choose_box(hr: np.ndarray, *, size: int = CROP_SIZE, stride: int = CROP_STRIDE,
               multiple: int = SHARED_MULTIPLE) -> Box:
    """The size x size window of largest Y variance with its corner on a stride grid; ties go to the first in row-major
    order. An image smaller than one window is cropped whole."""
    height = hr.shape[0] - hr.shape[0] % multiple
    width = hr.shape[1] - hr.shape[1] % multiple
    if height < size or width < size:
        return Box(0, 0, min(size, hr.shape[0]), min(size, hr.shape[1]))
    luma = rgb_to_y(hr[:height, :width])
    # Summed-area tables of Y and Y^2 give every window's variance at once.
    sums = np.pad(luma.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    squares = np.pad((luma ** 2).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    tops = np.arange(0, height - size + 1, stride)
    lefts = np.arange(0, width - size + 1, stride)

    def window_totals(table: np.ndarray) -> np.ndarray:
        return (table[np.ix_(tops + size, lefts + size)] - table[np.ix_(tops, lefts + size)]
                - table[np.ix_(tops + size, lefts)] + table[np.ix_(tops, lefts)])

    pixels = size * size
    mean = window_totals(sums) / pixels
    variance = window_totals(squares) / pixels - mean ** 2
    best = np.unravel_index(int(np.argmax(variance)), variance.shape)
    return Box(int(tops[best[0]]), int(lefts[best[1]]), size, size)


def visual_crops(model: nn.Module, benchmark: BenchmarkSet, *, trial_id: str,
                 device: torch.device | str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Crop the SR of the set's first image (by name) and its HR: the record's entry, and the PNG files it names
    (paths relative to the results folder, written there by whoever writes the record: harness/records.py)."""
    pair = min(benchmark.pairs, key=lambda candidate: candidate.name)
    box = choose_box(pair.hr)
    sr_file = f"{VISUALS_DIR}/{trial_id}_{benchmark.name}.png"
    hr_file = f"{VISUALS_DIR}/hr_{benchmark.name}_{pair.name}.png"
    files = {sr_file: png_bytes(np.ascontiguousarray(box.crop(super_resolve(model, pair.lr, device)))),
             hr_file: png_bytes(np.ascontiguousarray(box.crop(pair.hr)))}
    return {"image": pair.name, "box": box.to_json(), "file": sr_file, "hr_file": hr_file}, files
