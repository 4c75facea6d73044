"""Loading released or trained weights into a registry model, with one-line errors.

The file is read by the reader of its format (harness/weight_readers.py), which the registry names
(`registry.weights_format`) unless the caller names it; then every tensor must fit the model: none missing, none
unknown, none of another shape, all floating point and finite. Nothing is loaded into the model unless all fit.
"""

from pathlib import Path

import torch
from torch import nn

from harness import registry
from harness.errors import UserError
from harness.weight_readers import READERS

_LISTED = 3  # names quoted per kind of mismatch before "and N more"


def load_weights(model: nn.Module, path: Path, *, model_name: str, scale: int, format: str | None = None) -> None:
    """Load `path` into `model` in place; any missing, unexpected or misshapen tensor is a UserError.

    `format`: a key of READERS, where the caller states it (`eval --weights-format`); by default the registry's
    (`registry.weights_format`).
    """
    path = Path(path)
    format = format or registry.weights_format(model_name, path.name)
    if format not in READERS:
        raise UserError(f"weights format {format!r} has no reader; formats: {', '.join(READERS)}")
    state = READERS[format](path, scale)
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    misshapen = [key for key in expected if key in state and state[key].shape != expected[key].shape]
    problems = []
    if misshapen:
        details = [f"{key}: {tuple(state[key].shape)} in file, {tuple(expected[key].shape)} in model"
                   for key in misshapen]
        problems.append(f"{_count(misshapen, 'tensor')} differ in shape ({_listing(details)})")
    if missing:
        problems.append(f"{_count(missing, 'tensor')} missing from the file ({_listing(missing)})")
    if unexpected:
        problems.append(f"{_count(unexpected, 'tensor')} in the file unknown to the model ({_listing(unexpected)})")
    if problems:
        raise UserError(f"weights {path.name} do not fit {model_name} at x{scale}: {'; '.join(problems)}")
    for key in getattr(model, "structural_buffers", ()):  # counts the weights do not show (MS-LapSRN's recursions)
        if not torch.equal(state[key].to(expected[key].dtype), expected[key]):
            raise UserError(f"weights {path.name} are for {key} {state[key].item()}, not {expected[key].item()} "
                            f"({model_name} at x{scale})")
    for key, tensor in expected.items():
        if not tensor.is_floating_point():
            continue  # integer buffers such as a batch-norm step counter
        loaded = state[key]
        if not loaded.is_floating_point():  # integers would be cast silently, complex numbers would lose a part
            raise UserError(f"weights {path.name}: {key} is {str(loaded.dtype).removeprefix('torch.')}, not floating "
                            "point")
        if not torch.isfinite(loaded).all():
            raise UserError(f"weights {path.name}: {key} holds NaN or infinite values")
    model.load_state_dict(state, strict=True)


def _count(items: list[str], noun: str) -> str:
    return f"{len(items)} {noun}{'s' if len(items) != 1 else ''}"


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown if len(items) <= _LISTED else f"{shown}, and {len(items) - _LISTED} more"
