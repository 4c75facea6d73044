"""How numbers are printed: in the paper's units and digits, with one more digit only where asked for.

The one place that decides how a PSNR, SSIM, parameter count or Flops count looks, in the page, the LaTeX and the
findings. Reproduced values are shown at the paper's digits (PSNR 2 decimals, SSIM 4, parameters in whole K, Flops
in G with 1 decimal), so a reproduced number reads like the paper's beside it; `format_precise` adds one digit for
the page's tooltips and for findings where a difference below the paper's rounding is the point (which protocol
reproduces the printed digits). A value that rounds to zero never carries a sign: no "-0.00".
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class NumberFormat:
    divisor: float
    unit: str
    printed: str  # the paper's own numbers, exactly as transcribed (Flops print as "85G" or "124.6G")
    shown: str  # a reproduced number at the paper's digits
    precise: str  # one more digit than the paper prints
    signed: str  # a difference, at the paper's digits


NUMBER_FORMATS = {
    "params": NumberFormat(1000, "K", "g", ".0f", ".1f", "+.0f"),
    "macs": NumberFormat(1e9, "G", "g", ".1f", ".2f", "+.1f"),
    "ssim_y": NumberFormat(1, "", ".4f", ".4f", ".5f", "+.4f"),
    "psnr_y": NumberFormat(1, "", ".2f", ".2f", ".3f", "+.2f"),
}


def _format(column: str, value: float, style: str) -> str:
    number_format = NUMBER_FORMATS.get(column, NUMBER_FORMATS["psnr_y"])
    text = f"{value / number_format.divisor:{getattr(number_format, style)}}"
    if text.lstrip("+-").strip("0.") == "":  # rounds to zero: "0.00", never "-0.00" or "+0.00"
        text = text.lstrip("+-")
    return text + number_format.unit


def _missing(value: float | int | None) -> bool:
    return value is None or value != value


def format_number(column: str, value: float | int | None) -> str:
    """A number as the paper prints it; "--" where there is none (as the paper prints a missing value)."""
    return "--" if _missing(value) else _format(column, value, "printed")


def format_shown(column: str, value: float | None) -> str:
    """A reproduced number at the paper's digits; "" where there is none."""
    return "" if _missing(value) else _format(column, value, "shown")


def format_precise(column: str, value: float | None) -> str:
    """A reproduced number at one more digit than the paper prints; "" where there is none."""
    return "" if _missing(value) else _format(column, value, "precise")


def format_diff(column: str, value: float | None) -> str:
    """A signed difference at the paper's digits ("+0.12", "-0.03", "0.00"); "" where there is none."""
    return "" if _missing(value) else _format(column, value, "signed")
