"""Visual crops for the report: the same HR regions of one image per evaluation set, for every trial.

The paper's Figure 5 shows the crop where methods differ. Which crop that is depends on every method's output, but
each trial runs alone and the report reads records only. So each trial stores its output in CANDIDATES windows chosen
from the HR alone (never from a model's output), the same windows for every trial at every scale: the CROP_SIZE x
CROP_SIZE windows of largest luma variance, not overlapping, on a CROP_STRIDE grid. The report then picks, among
them, the window where the methods' errors differ most (harness/reporting/figures.py). A window is searched only
inside the HR cropped to a multiple of SHARED_MULTIPLE (divisible by every scale 2, 3, 4, 6, 8): benchmarks crop the
HR to a multiple of the scale, and that crop never reaches into these windows.

Files per trial and set (paths relative to the results folder; docs/reports.md gives the sizes): the SR crops of
the candidates stacked top to bottom. Shared by every trial of the set (and scale): the HR crops, the bicubic
upscaling's crops, and a small overview of the whole HR image on which the report draws the chosen box.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from harness.data.benchmark import BenchmarkSet
from harness.data.images import png_bytes
from harness.data.matlab import imresize_uint8
from harness.evaluation.inference import super_resolve
from harness.evaluation.metrics import rgb_to_y
from harness.records import Visual
from harness.results_layout import ResultsLayout

CROP_SIZE = 64
CROP_STRIDE = 16
SHARED_MULTIPLE = 24
CANDIDATES = 6  # windows stored per trial: 6 crops of 64x64 are about 50 KB of PNG
OVERVIEW_SIZE = 256  # the overview's longer side, pixels: enough to see where the crop lies
VISUALS_DIR = ResultsLayout(Path()).visuals.as_posix()  # as records name it: relative to the results folder


@dataclass(frozen=True)
class Box:
    top: int
    left: int
    height: int
    width: int

    def crop(self, image: np.ndarray) -> np.ndarray:
        return image[self.top:self.top + self.height, self.left:self.left + self.width]

    def overlaps(self, other: "Box") -> bool:
        return (self.top < other.top + other.height and other.top < self.top + self.height
                and self.left < other.left + other.width and other.left < self.left + self.width)

    def as_tuple(self) -> tuple[int, int, int, int]:
        """As a record's `Visual` holds a window: top, left, height, width."""
        return self.top, self.left, self.height, self.width


def candidate_boxes(hr: np.ndarray, *, count: int = CANDIDATES, size: int = CROP_SIZE, stride: int = CROP_STRIDE,
                    multiple: int = SHARED_MULTIPLE) -> list[Box]:
    """Up to `count` non-overlapping size x size windows with their corner on a stride grid, by decreasing Y
    variance; ties go to the first in row-major order. An image smaller than one window is cropped whole."""
    height = hr.shape[0] - hr.shape[0] % multiple
    width = hr.shape[1] - hr.shape[1] % multiple
    if height < size or width < size:
        return [Box(0, 0, min(size, hr.shape[0]), min(size, hr.shape[1]))]
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
    chosen: list[Box] = []
    for flat in np.argsort(-variance, axis=None, kind="stable"):  # stable: ties keep row-major order
        row, column = np.unravel_index(int(flat), variance.shape)
        box = Box(int(tops[row]), int(lefts[column]), size, size)
        if not any(box.overlaps(other) for other in chosen):
            chosen.append(box)
            if len(chosen) == count:
                break
    return chosen


def choose_box(hr: np.ndarray, **kwargs: int) -> Box:
    """The window of largest Y variance: the first candidate."""
    return candidate_boxes(hr, count=1, **kwargs)[0]


def stacked_crops(image: np.ndarray, boxes: list[Box]) -> np.ndarray:
    """The crops of `boxes`, top to bottom, in one image (every box has the same width)."""
    return np.ascontiguousarray(np.concatenate([box.crop(image) for box in boxes], axis=0))


def overview(hr: np.ndarray, size: int = OVERVIEW_SIZE) -> np.ndarray:
    """The whole HR image with its longer side at most `size`: only for showing where the crop lies."""
    factor = min(1.0, size / max(hr.shape[:2]))
    shape = (max(1, round(hr.shape[1] * factor)), max(1, round(hr.shape[0] * factor)))
    return np.asarray(Image.fromarray(hr).resize(shape, Image.Resampling.BOX))


def visual_crops(model: nn.Module, benchmark: BenchmarkSet, *, trial_id: str,
                 device: torch.device | str) -> tuple[Visual, dict[str, bytes]]:
    """Crop the SR of the set's first image (by name), its HR and its bicubic upscaling at the candidate windows:
    the record's entry, and the PNG files it names (written by whoever writes the record: harness/records.py)."""
    pair = min(benchmark.pairs, key=lambda candidate: candidate.name)
    boxes = candidate_boxes(pair.hr)
    stem = f"{benchmark.name}_{pair.name}"
    sr_file = f"{VISUALS_DIR}/{trial_id}_{benchmark.name}.png"
    hr_file = f"{VISUALS_DIR}/hr_{stem}_candidates.png"
    bicubic_file = f"{VISUALS_DIR}/bicubic_{stem}_x{benchmark.scale}_candidates.png"
    overview_file = f"{VISUALS_DIR}/overview_{stem}.png"
    bicubic = imresize_uint8(pair.lr, benchmark.scale)
    files = {sr_file: png_bytes(stacked_crops(super_resolve(model, pair.lr, device), boxes)),
             hr_file: png_bytes(stacked_crops(pair.hr, boxes)),
             bicubic_file: png_bytes(stacked_crops(bicubic, boxes)),
             overview_file: png_bytes(np.ascontiguousarray(overview(pair.hr)))}
    visual = Visual(image=pair.name, box=boxes[0].as_tuple(), file=sr_file, hr_file=hr_file,
                    candidates=[box.as_tuple() for box in boxes], bicubic_file=bicubic_file,
                    overview_file=overview_file, image_size=(int(pair.hr.shape[0]), int(pair.hr.shape[1])))
    return visual, files
