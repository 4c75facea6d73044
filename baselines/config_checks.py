"""Checks the baseline configs share, so that each states its own rules in one line apiece."""

from typing import Any


def require_scale(scale: Any) -> None:
    """An integer upscaling factor of at least 2 (which ones a model is registered for: harness/registry.py)."""
    if not isinstance(scale, int) or isinstance(scale, bool) or scale < 2:
        raise ValueError(f"scale must be an integer >= 2, got {scale!r}")


def require_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be {' or '.join(repr(choice) for choice in choices)}, got {value!r}")
