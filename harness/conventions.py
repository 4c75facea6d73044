"""Conventions every layer shares, each defined once: the scales, the scored metric columns, SSIM's window, and the
input size a MACs ("Flops") count refers to (for trials, the `complexity` command and the tables).

The scales are those of the paper's tables and of every benchmark's `LR_bicubic/X<s>` folders; a model may support
fewer (its registry entry says which). The metric columns are the Y-channel PSNR and SSIM of every record and table.

Lightweight SR counts operations for one 1280x720 (width x height) HR output, IMDN's convention, which the MREN
paper's Table 6 follows. The LR input is the HR size divided by the scale, rounded down (1280x720 at x3 is traced
at LR 426x240). The metric conventions live with the metric functions (harness/evaluation/metrics.py).
"""

from dataclasses import dataclass
from typing import Literal

SCALES = (2, 3, 4)
Scale = Literal[SCALES]  # the same scales as a type, for validated specs
METRIC_COLUMNS = ("psnr_y", "ssim_y")  # what a record scores per image and per set, and what tables rank
# The side of SSIM's Gaussian window (harness/evaluation/metrics.py): the data layer refuses images too small for it
SSIM_WINDOW = 11


@dataclass(frozen=True)
class MacsInput:
    hr_height: int
    hr_width: int

    def lr_size(self, scale: int) -> tuple[int, int]:
        """(height, width) of the LR input traced at `scale`."""
        return self.hr_height // scale, self.hr_width // scale

    def to_json(self, scale: int) -> dict[str, int]:
        """The `macs_input` of a record (docs/records.md): HR and LR sizes."""
        lr_height, lr_width = self.lr_size(scale)
        return {"hr_height": self.hr_height, "hr_width": self.hr_width, "lr_height": lr_height, "lr_width": lr_width}

    @property
    def hr_pixels(self) -> int:
        return self.hr_height * self.hr_width

    def __str__(self) -> str:
        return f"{self.hr_width}x{self.hr_height} HR output"


PAPER_MACS_INPUT = MacsInput(hr_height=720, hr_width=1280)
