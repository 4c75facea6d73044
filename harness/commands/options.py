"""Command-line values shared by several commands, parsed once."""

from harness.errors import UserError


def parse_overrides(items: list[str]) -> dict[str, str]:
    """`--set KEY=VALUE` items as a mapping; the values stay text until the model's config converts and checks them."""
    overrides: dict[str, str] = {}
    for item in items:
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            raise UserError(f"--set {item!r} is not KEY=VALUE")
        if key.strip() in overrides:
            raise UserError(f"--set {key.strip()} is given twice")
        overrides[key.strip()] = value.strip()
    return overrides
