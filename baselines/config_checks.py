"""Checks the baseline configs share, so that each states its own rules in one line apiece."""

import dataclasses
from typing import Any

# Field metadata of a config option added after trials of the model existed: at its default (the old behaviour) it is
# left out of the trial's canonical JSON, so that adding an option changes no existing trial id or record
# (harness/experiment/trial.py TrialConfig.to_json).
ADDED_LATER = {"left_out_of_trial_id_at_default": True}


def added_later(default: Any) -> Any:
    """A config field with `default` that arrived after the model's first trials (see ADDED_LATER)."""
    return dataclasses.field(default=default, metadata=ADDED_LATER)


def identity_fields(config: Any) -> dict[str, Any]:
    """`dataclasses.asdict(config)` without the fields ADDED_LATER that hold their default."""
    values = dataclasses.asdict(config)
    for field in dataclasses.fields(config):
        if field.metadata.get("left_out_of_trial_id_at_default") and values[field.name] == field.default:
            del values[field.name]
    return values


def require_scale(scale: Any) -> None:
    """An integer upscaling factor of at least 2 (which ones a model is registered for: harness/registry.py)."""
    if not isinstance(scale, int) or isinstance(scale, bool) or scale < 2:
        raise ValueError(f"scale must be an integer >= 2, got {scale!r}")


def require_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be {' or '.join(repr(choice) for choice in choices)}, got {value!r}")
