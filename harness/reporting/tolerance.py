"""When a reproduced number counts as reproducing the paper: one verdict for the tables, the findings and the page."""

import math

from harness.reporting.numbers import format_number

# A reproduced number "does not reproduce" when it is further from the paper than this (or than twice its
# seed-to-seed standard deviation, if larger). PSNR and SSIM: twice the paper's rounding plus what one retraining
# typically moves; parameters: the rounding of a number printed in K; MACs: a relative margin.
MISMATCH_TOLERANCE = {"psnr_y": 0.05, "ssim_y": 0.001, "params": 500, "macs": 0.01}


def is_exact(column: str, value: float, paper_value: float) -> bool:
    """`value` printed as the paper prints `column` gives the paper's digits."""
    return format_number(column, value) == format_number(column, paper_value)


def tolerance_for(column: str, paper_value: float, std: float) -> float:
    """How far a reproduced number may sit from the paper's before it counts as not reproducing."""
    base = MISMATCH_TOLERANCE[column] * (abs(paper_value) if column == "macs" else 1)
    return max(base, 2 * std) if not math.isnan(std) else base


def miss_ratio(column: str, reproduced: float, paper_value: float, std: float) -> float:
    """The verdict: the distance from the paper's number in tolerances; above 1 it does not reproduce."""
    return abs(reproduced - paper_value) / tolerance_for(column, paper_value, std)
