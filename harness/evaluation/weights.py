"""Loading released or trained weights into a registry model, safely and with one-line errors.

Files are read with `torch.load(weights_only=True)`: tensors and plain containers only, so a checkpoint carrying a
pickled callable is refused and never executed. MATLAB `.mat` and Caffe `.caffemodel` files released by other
authors are converted to state dicts by `harness/evaluation/released.py` (no unpickling there either).
"""

import pickle
import zipfile
from pathlib import Path

import torch
from torch import Tensor, nn

from harness.errors import UserError
from harness.evaluation import released

NESTING_KEYS = ("state_dict", "params", "model")  # wrappers used by common training code around the state dict
DATA_PARALLEL_PREFIX = "module."  # left by nn.DataParallel / DistributedDataParallel
_LISTED = 3  # names quoted per kind of mismatch before "and N more"
# How torch's weights-only unpickler words a refused object (a global, class or call outside its allow-list), as
# opposed to a damaged stream ("Unsupported operand").
_REFUSAL_WORDS = ("global", "class", "reduce", "function")
_PREAMBLES = ("Weights only load failed", "(1)", "(2)", "Please file an issue", "Check the documentation")


def load_state_dict_file(path: Path) -> dict[str, Tensor]:
    """The state dict in `path`, unwrapped from a "state_dict"/"params"/"model" key and without "module." prefixes."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"weights file {path} not found")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        detail = _unpickler_detail(str(error))
        if any(word in detail.lower() for word in _REFUSAL_WORDS):
            raise UserError(f"weights file {path} refused: it holds pickled objects other than tensors, which are "
                            f"never loaded ({detail})") from error
        raise UserError(f"weights file {path} is corrupt or not a PyTorch file ({detail})") from error
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as error:
        raise UserError(f"weights file {path} is corrupt or not a PyTorch file ({_first_line(str(error))})") from error
    state = loaded
    while isinstance(state, dict) and not _is_tensor_dict(state):
        wrapped = [key for key in NESTING_KEYS if isinstance(state.get(key), dict)]
        if not wrapped:
            break
        state = state[wrapped[0]]
    if not _is_tensor_dict(state):
        raise UserError(f"weights file {path} holds no state dict (a mapping of names to tensors, possibly under "
                        f"one of {', '.join(NESTING_KEYS)})")
    stripped: dict[str, Tensor] = {}
    for key, tensor in state.items():
        name = _strip_prefix(key)
        if name in stripped:  # "module.x" beside "x": which one the authors meant is not ours to guess
            raise UserError(f"weights file {path} holds {name!r} twice (with and without a 'module.' prefix)")
        stripped[name] = tensor
    return stripped


def load_weights(model: nn.Module, path: Path, *, model_name: str, scale: int) -> None:
    """Load `path` into `model` in place; any missing, unexpected or misshapen tensor is a UserError."""
    path = Path(path)
    if path.suffix in released.FORMATS:
        state = released.read_released(path, scale=scale)
    else:
        state = load_state_dict_file(path)
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


def _is_tensor_dict(value: object) -> bool:
    return isinstance(value, dict) and bool(value) and all(
        isinstance(key, str) and isinstance(tensor, Tensor) for key, tensor in value.items())


def _strip_prefix(key: str) -> str:
    return key[len(DATA_PARALLEL_PREFIX):] if key.startswith(DATA_PARALLEL_PREFIX) else key


def _unpickler_detail(message: str) -> str:
    """The specific sentence of a weights-only unpickling error, without torch's generic preamble and advice."""
    for line in message.splitlines():
        line = line.split("WeightsUnpickler error:")[-1].strip()
        if line and not line.startswith(_PREAMBLES):
            return line.split(". ")[0].rstrip(".")
    return _first_line(message)


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "no details"


def _count(items: list[str], noun: str) -> str:
    return f"{len(items)} {noun}{'s' if len(items) != 1 else ''}"


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown if len(items) <= _LISTED else f"{shown}, and {len(items) - _LISTED} more"
