"""How numbers are printed: in the paper's units and digits, reproduced values at one more digit, signed differences.

The one place that decides how a PSNR, SSIM, parameter count or Flops count looks, in the page, the LaTeX and the
findings.
"""

# column -> (divisor, unit, format as the paper prints it, reproduced at one more digit, a signed difference)
NUMBER_FORMATS = {
    "params": (1000, "K", "g", ".1f", "+.1f"),
    "macs": (1e9, "G", "g", ".2f", "+.2f"),
    "ssim_y": (1, "", ".4f", ".5f", "+.4f"),
    "psnr_y": (1, "", ".2f", ".3f", "+.2f"),
}


def format_in_style(column: str, value: float, style: int) -> str:
    """`value` of `column` in its unit; style 0 as printed in the paper, 1 reproduced, 2 a signed difference."""
    divisor, unit, *styles = NUMBER_FORMATS.get(column, NUMBER_FORMATS["psnr_y"])
    return f"{value / divisor:{styles[style]}}{unit}"


def format_number(column: str, value: float | int | None) -> str:
    return "--" if value is None else format_in_style(column, value, 0)



def format_diff(column: str, value: float) -> str:
    return "" if value is None or value != value else format_in_style(column, value, 2)


def format_value(column: str, value: float) -> str:
    """A reproduced value at one more digit than the paper prints, so a difference below the paper's rounding shows."""
    return "" if value is None or value != value else format_in_style(column, value, 1)
