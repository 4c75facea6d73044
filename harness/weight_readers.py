"""The readers of weights files, one per format: `READERS` maps each format name the registry may give a release
(`Released.format`, harness/registry.py) to the function that reads such a file into a state dict of the registry's
model. Which reader reads a file is the registry's word (`registry.weights_format`), never the file's suffix.

- `pth`: a PyTorch state dict, what the harness's own training writes and what IMDN, EFDN and LatticeNet released.
  Read with `torch.load(weights_only=True)`: tensors and plain containers only, so a file carrying a pickled
  callable is refused and never executed. That holds for the legacy (pre-1.6, non-zip) pickle format too (IMDN,
  LatticeNet, CARN-M): torch's weights-only unpickler reads both.
- `pth-scale-in-name`: the same, for releases whose tensors have the same shapes at two scales (PAN x2 and x3): the
  scale in the file's name (`PANx3_...`) is checked against the one asked for.
- `carn-pth`: the CARN authors' state dict (`carn_m.pth`), its names (`b{i}.b1.body.{0,2,4}`, `b{i}.c{j}`, `c{j}`,
  `upsample.up{s}`, `sub_mean.shifter`) mapped onto baselines/carn.py's modules; an unknown name is kept as it is,
  so that it is reported as unknown to the model.
- `srcnn-mat`, `matconvnet`: MATLAB `.mat` files (SRCNN; MatConvNet's VDSR), read by `scipy.io.loadmat`. MATLAB
  stores arrays column-major, and loadmat returns them indexed as MATLAB indexes them, so `a[i, j]` of numpy is
  `a(i+1, j+1)` of MATLAB; reshapes that MATLAB did column-major use `order="F"`.
- `lapsrn-dagnn`, `ms-lapsrn-dagnn`: a MatConvNet DagNN saved by `net.saveobj()` (LapSRN, MS-LapSRN): a struct
  `net` with `layers` (name, type, inputs, outputs, params, block) and `params` (name, value), read by
  `read_dagnn`. loadmat drops MATLAB's trailing singleton dimensions (a 3x3x64x1 filter is stored 3x3x64); each filter
  gets back the shape its layer's `block.size` states.
- `caffemodel`: a binary protobuf `NetParameter` (IDN), read by the small wire-format decoder below (field numbers
  from Caffe's `caffe.proto`). Only layer names, types, blobs and the convolution parameters are read.

Nothing is unpickled and no Caffe or MATLAB is needed. Every problem with a file is one `UserError` line.
"""

import math
import pickle
import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from harness.errors import UserError
from harness.inputs import input_file

# (path, scale) -> state dict. The scale is for files that hold the same tensors at every scale (their name says it).
Reader = Callable[[Path, int], dict[str, Tensor]]


# --- protobuf wire format --------------------------------------------------------------------------------------------

class WireError(ValueError):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise WireError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint too long")


def fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of each field of one message; length-delimited values as bytes."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise WireError("truncated length-delimited field")
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = int.from_bytes(data[pos:pos + 4], "little"), pos + 4
        else:
            raise WireError(f"unsupported wire type {wire}")
        if pos > len(data) or number == 0:
            raise WireError("malformed field")
        out.append((number, wire, value))
    return out


def _packed_varints(value: int | bytes) -> list[int]:
    if isinstance(value, int):
        return [value]
    result, pos = [], 0
    while pos < len(value):
        number, pos = _varint(value, pos)
        result.append(number)
    return result


@dataclass
class CaffeLayer:
    name: str
    type: str
    blobs: list[np.ndarray] = field(default_factory=list)
    stride: list[int] = field(default_factory=list)  # convolution_param.stride, when the file holds it
    kernel_size: list[int] = field(default_factory=list)


# caffe.proto field numbers
_NET_LAYER, _NET_NAME = 100, 1
_LAYER_NAME, _LAYER_TYPE, _LAYER_BLOBS, _LAYER_CONV = 1, 2, 7, 106
_BLOB_NUM, _BLOB_CHANNELS, _BLOB_HEIGHT, _BLOB_WIDTH, _BLOB_DATA, _BLOB_SHAPE = 1, 2, 3, 4, 5, 7
_SHAPE_DIM = 1
_CONV_KERNEL, _CONV_STRIDE = 4, 6


def _blob(data: bytes) -> np.ndarray:
    legacy = {_BLOB_NUM: 1, _BLOB_CHANNELS: 1, _BLOB_HEIGHT: 1, _BLOB_WIDTH: 1}
    shape: list[int] | None = None
    chunks: list[np.ndarray] = []
    for number, wire, value in fields(data):
        if number == _BLOB_SHAPE and isinstance(value, bytes):
            shape = [dim for n, _, v in fields(value) if n == _SHAPE_DIM for dim in _packed_varints(v)]
        elif number == _BLOB_DATA:
            if wire == 2:
                chunks.append(np.frombuffer(value, dtype="<f4"))
            else:
                chunks.append(np.array([struct.unpack("<f", value.to_bytes(4, "little"))[0]], dtype=np.float32))
        elif number in legacy and wire == 0:
            legacy[number] = value
    values = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    if shape is None:
        shape = [legacy[_BLOB_NUM], legacy[_BLOB_CHANNELS], legacy[_BLOB_HEIGHT], legacy[_BLOB_WIDTH]]
    if int(np.prod(shape)) != values.size:
        raise WireError(f"blob of shape {shape} holds {values.size} values")
    return values.reshape(shape).astype(np.float32)


def read_caffemodel(path: Path) -> tuple[str, list[CaffeLayer]]:
    """The net name and its layers (in file order) with their blobs, from a binary `.caffemodel`."""
    data = Path(path).read_bytes()
    name = ""
    layers: list[CaffeLayer] = []
    for number, _, value in fields(data):
        if number == _NET_NAME and isinstance(value, bytes):
            name = value.decode("utf-8", "replace")
        elif number == _NET_LAYER and isinstance(value, bytes):
            layer = CaffeLayer(name="", type="")
            for n, _, v in fields(value):
                if n == _LAYER_NAME and isinstance(v, bytes):
                    layer.name = v.decode("utf-8", "replace")
                elif n == _LAYER_TYPE and isinstance(v, bytes):
                    layer.type = v.decode("utf-8", "replace")
                elif n == _LAYER_BLOBS and isinstance(v, bytes):
                    layer.blobs.append(_blob(v))
                elif n == _LAYER_CONV and isinstance(v, bytes):
                    for cn, _, cv in fields(v):
                        if cn == _CONV_STRIDE:
                            layer.stride.extend(_packed_varints(cv))
                        elif cn == _CONV_KERNEL:
                            layer.kernel_size.extend(_packed_varints(cv))
            layers.append(layer)
    if not layers:
        raise WireError("no layers (V2 'layer' field) found")
    return name, layers


# --- per-format state dicts ------------------------------------------------------------------------------------------

def _tensor(array: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def srcnn_state_dict(mat: dict) -> dict[str, Tensor]:
    """SRCNN.m's layout: weights_conv1 (k1^2 x n1), weights_conv2 (n1 x k2^2 x n2), weights_conv3 (n2 x k3^2).

    Each filter is `reshape(column, k, k)` in MATLAB (column-major) and applied by `imfilter` (correlation) with the
    first index down the rows: in numpy `column.reshape(k, k, order="F")` is torch's (kh, kw) kernel.
    """
    w1, w2, w3 = mat["weights_conv1"], mat["weights_conv2"], mat["weights_conv3"]
    k1, k2, k3 = (int(round(np.sqrt(n))) for n in (w1.shape[0], w2.shape[1], w3.shape[1]))
    conv1 = np.stack([w1[:, i].reshape(k1, k1, order="F") for i in range(w1.shape[1])])[:, None]
    conv2 = np.stack([np.stack([w2[j, :, i].reshape(k2, k2, order="F") for j in range(w2.shape[0])])
                      for i in range(w2.shape[2])])
    conv3 = np.stack([w3[i, :].reshape(k3, k3, order="F") for i in range(w3.shape[0])])[None]
    return {
        "patch_extraction.weight": _tensor(conv1), "patch_extraction.bias": _tensor(mat["biases_conv1"].ravel()),
        "nonlinear_mapping.weight": _tensor(conv2), "nonlinear_mapping.bias": _tensor(mat["biases_conv2"].ravel()),
        "reconstruction.weight": _tensor(conv3), "reconstruction.bias": _tensor(mat["biases_conv3"].ravel()),
    }


def matconvnet_vdsr_state_dict(mat: dict) -> dict[str, Tensor]:
    """MatConvNet's `model.weight{i}` (kh x kw x Cin x Cout, trailing singleton dims dropped) and `model.bias{i}`.

    vl_nnconv correlates with the first index down the rows, so torch's (Cout, Cin, kh, kw) is a transpose.
    """
    model = mat["model"]
    weights, biases = model["weight"][0, 0].ravel(), model["bias"][0, 0].ravel()
    state: dict[str, Tensor] = {}
    for index, (weight, bias) in enumerate(zip(weights, biases)):
        weight = np.asarray(weight)
        weight = weight.reshape(weight.shape + (1,) * (4 - weight.ndim))
        state[f"residual.{2 * index}.weight"] = _tensor(weight.transpose(3, 2, 0, 1))
        state[f"residual.{2 * index}.bias"] = _tensor(np.asarray(bias).ravel())
    return state


_IDN_CONV = re.compile(r"conv(\d+)_(\d)$")
_IDN_DOWN = re.compile(r"down(\d+)$")


def idn_state_dict(layers: list[CaffeLayer], *, scale: int, path: Path) -> dict[str, Tensor]:
    """IDN's deploy layer names (conv1, conv2, conv{u+3}_{1..6}, down{u+1}, upsample) to the registry's module names."""
    state: dict[str, Tensor] = {}
    for layer in layers:
        if not layer.blobs:
            continue
        if layer.name in ("conv1", "conv2", "upsample"):
            prefix = layer.name
        elif match := _IDN_CONV.match(layer.name):
            prefix = f"units.{int(match.group(1)) - 3}.conv_{match.group(2)}"
        elif match := _IDN_DOWN.match(layer.name):
            prefix = f"units.{int(match.group(1)) - 1}.down"
        else:
            prefix = layer.name  # reported as unknown to the model
        if layer.name == "upsample" and layer.stride and layer.stride[0] != scale:
            raise UserError(f"weights {path.name} are for x{layer.stride[0]} (deconvolution stride "
                            f"{layer.stride[0]}), not x{scale}")
        state[f"{prefix}.weight"] = _tensor(layer.blobs[0])
        if len(layer.blobs) > 1:
            state[f"{prefix}.bias"] = _tensor(layer.blobs[1].ravel())
    return state


def _existing(path: Path) -> Path:
    return input_file(Path(path), "weights file")


def _read_mat(path: Path, scale: int, format: str) -> dict:
    path = _existing(path)
    check_scale_in_name(path, scale)
    import scipy.io  # only where a MATLAB file is read

    try:
        return scipy.io.loadmat(path)
    except Exception as error:  # scipy raises ValueError, TypeError, MatReadError... on damaged files
        raise UserError(f"weights file {path} is corrupt or not a MATLAB file ({_first_line(str(error))}; read as "
                        f"{format})") from error


def _converted(path: Path, format: str, convert: Callable[[dict], dict[str, Tensor]], mat: dict) -> dict[str, Tensor]:
    """`convert(mat)`, with a file whose arrays are not laid out as the format's are as one line."""
    try:
        return convert(mat)
    except (KeyError, IndexError, ValueError, TypeError) as error:
        raise UserError(f"weights file {path} does not hold the {format} layout ({type(error).__name__}: "
                        f"{_first_line(str(error))})") from error


def read_srcnn_mat(path: Path, scale: int) -> dict[str, Tensor]:
    """SRCNN's released `.mat` (format `srcnn-mat`)."""
    mat = _read_mat(path, scale, "srcnn-mat")
    if "weights_conv1" not in mat:
        raise UserError(f"weights file {path} is a MATLAB file without SRCNN's weights_conv1..3 (read as srcnn-mat)")
    return _converted(path, "srcnn-mat", srcnn_state_dict, mat)


def read_matconvnet(path: Path, scale: int) -> dict[str, Tensor]:
    """A MatConvNet `.mat` holding `model.weight` and `model.bias` (VDSR's official file; format `matconvnet`)."""
    mat = _read_mat(path, scale, "matconvnet")
    if "model" not in mat:
        raise UserError(f"weights file {path} is a MATLAB file without MatConvNet's model.weight/model.bias (read "
                        "as matconvnet)")
    return _converted(path, "matconvnet", matconvnet_vdsr_state_dict, mat)


# --- MatConvNet DagNN ------------------------------------------------------------------------------------------------

@dataclass
class DagLayer:
    name: str
    type: str  # "dagnn.Conv", "dagnn.ConvTranspose", "dagnn.ReLU", "dagnn.Sum", ...
    inputs: list[str]
    outputs: list[str]
    params: list[str]
    size: tuple[int, ...] | None  # block.size of a (transposed) convolution: FH x FW x FD x K (K x FD transposed)


@dataclass
class DagNN:
    layers: list[DagLayer]
    params: dict[str, np.ndarray]  # by name, filters in the shape their layer states


def _strings(cell: np.ndarray) -> list[str]:
    return [str(item[0]) if np.asarray(item).size else "" for item in np.asarray(cell, dtype=object).ravel()]


def read_dagnn(mat: dict) -> DagNN:
    """The layers and named parameters of a DagNN struct `net` as `scipy.io.loadmat` returns it."""
    net = mat["net"]
    records = net["layers"][0, 0].ravel()
    layers = []
    for record in records:
        block = record["block"]
        size = None
        if block.size and block[0, 0] is not None and block[0, 0].dtype.names and "size" in block[0, 0].dtype.names:
            size = tuple(int(dim) for dim in np.asarray(block[0, 0]["size"]).ravel())
        layers.append(DagLayer(name=str(record["name"][0]), type=str(record["type"][0]),
                               inputs=_strings(record["inputs"]), outputs=_strings(record["outputs"]),
                               params=_strings(record["params"]) if record["params"].size else [], size=size))
    params = {str(record["name"][0]): np.asarray(record["value"], dtype=np.float32)
              for record in net["params"][0, 0].ravel()}
    for layer in layers:  # filters back to the 4 dimensions of their layer (MATLAB dropped trailing ones)
        if layer.size is not None and layer.params:
            filters = params[layer.params[0]]
            if filters.size != int(np.prod(layer.size)):
                raise ValueError(f"{layer.params[0]} holds {filters.size} values, its layer states {layer.size}")
            params[layer.params[0]] = filters.reshape(filters.shape + (1,) * (len(layer.size) - filters.ndim))
    return DagNN(layers=layers, params=params)


def _torch_filters(filters: np.ndarray) -> Tensor:
    """MatConvNet FH x FW x FD x K (Conv; ConvTranspose: FH x FW x K x FD) -> torch's (K, FD, kh, kw) for Conv2d and
    (FD, K, kh, kw) for ConvTranspose2d: one transpose serves both."""
    return _tensor(filters.transpose(3, 2, 0, 1))


def _dagnn_conv(state: dict[str, Tensor], module: str, dag: DagNN, prefix: str) -> None:
    state[f"{module}.weight"] = _torch_filters(dag.params[f"{prefix}_f"])
    if f"{prefix}_b" in dag.params:
        state[f"{module}.bias"] = _tensor(dag.params[f"{prefix}_b"].ravel())


_LAPSRN_LEVEL = re.compile(r"level(\d+)_")
_LAPSRN_CONV = re.compile(r"level(\d+)_conv(\d+)_f$")


def lapsrn_state_dict(dag: DagNN, *, scale: int, path: Path) -> dict[str, Tensor]:
    """LapSRN's DagNN (`LapSRN_x{2,4,8}.mat`): `level{k}` counts down from the coarsest level (the file's deepest
    k) to level1, the output; the registry's `levels.{i}` count up from the LR."""
    file_levels = max((int(match.group(1)) for name in dag.params if (match := _LAPSRN_LEVEL.match(name))), default=0)
    if file_levels and file_levels != math.ceil(math.log2(scale)):
        raise UserError(f"weights {path.name} are for x{2 ** file_levels} ({file_levels} pyramid levels), not "
                        f"x{scale}")
    state: dict[str, Tensor] = {}
    _dagnn_conv(state, "input_conv", dag, "input_conv")
    for name in dag.params:
        if match := _LAPSRN_CONV.match(name):
            level, conv = int(match.group(1)), int(match.group(2))
            _dagnn_conv(state, f"levels.{file_levels - level}.body.{2 * (conv - 1)}", dag, name[:-2])
    for level in range(1, file_levels + 1):
        module = f"levels.{file_levels - level}"
        _dagnn_conv(state, f"{module}.upsample.deconv", dag, f"level{level}_upconv")
        _dagnn_conv(state, f"{module}.residual", dag, f"level{level}_residual_conv")
        _dagnn_conv(state, f"{module}.image_up", dag, f"level{level}_img_up")
    return state


MS_LAPSRN_RECURSIONS_KEY = "recursion_count"  # the buffer of baselines/lapsrn.py MSLapSRN
_MS_LAPSRN_RECURSION = re.compile(r"x(\d+)SR_level1_R(\d+)_conv1$")
_MS_LAPSRN_CONV = re.compile(r"conv(\d+)_f$")


def ms_lapsrn_recursions(dag: DagNN) -> int:
    """R of an MS-LapSRN DagNN: the recursions of its first level, which its layers unroll (its weights are shared,
    so the parameters do not say it)."""
    return len({match.group(2) for layer in dag.layers if (match := _MS_LAPSRN_RECURSION.match(layer.name))})


def ms_lapsrn_state_dict(dag: DagNN) -> dict[str, Tensor]:
    """MS-LapSRN's shared parameters (`MSLapSRN_D{D}R{R}.mat`): one set for every level and scale."""
    state: dict[str, Tensor] = {}
    _dagnn_conv(state, "input_conv", dag, "input_conv")
    for name in dag.params:
        if match := _MS_LAPSRN_CONV.match(name):
            _dagnn_conv(state, f"block.{2 * (int(match.group(1)) - 1) + 1}", dag, name[:-2])
    _dagnn_conv(state, "upsample.deconv", dag, "upconv")
    _dagnn_conv(state, "residual", dag, "residual_conv")
    _dagnn_conv(state, "image_up", dag, "img_up")
    # R is a structural number, not a weight: carried as a 0-d integer tensor, which the model checks against its own
    state[MS_LAPSRN_RECURSIONS_KEY] = torch.tensor(ms_lapsrn_recursions(dag))
    return state



def _read_dagnn_file(path: Path, scale: int, format: str) -> DagNN:
    mat = _read_mat(path, scale, format)
    if "net" not in mat:
        raise UserError(f"weights file {path} is a MATLAB file without a MatConvNet DagNN struct 'net' (read as "
                        f"{format})")
    try:
        return read_dagnn(mat)
    except (KeyError, IndexError, ValueError, TypeError) as error:
        raise UserError(f"weights file {path} does not hold a MatConvNet DagNN ({type(error).__name__}: "
                        f"{_first_line(str(error))}; read as {format})") from error


def read_lapsrn_dagnn(path: Path, scale: int) -> dict[str, Tensor]:
    """LapSRN's released DagNN `.mat` (format `lapsrn-dagnn`)."""
    path = Path(path)
    dag = _read_dagnn_file(path, scale, "lapsrn-dagnn")
    return _converted(path, "lapsrn-dagnn", lambda _: lapsrn_state_dict(dag, scale=scale, path=path), {})


def read_ms_lapsrn_dagnn(path: Path, scale: int) -> dict[str, Tensor]:
    """MS-LapSRN's released DagNN `.mat` (format `ms-lapsrn-dagnn`); one file serves x2, x4 and x8."""
    path = Path(path)
    dag = _read_dagnn_file(path, scale, "ms-lapsrn-dagnn")
    return _converted(path, "ms-lapsrn-dagnn", lambda _: ms_lapsrn_state_dict(dag), {})


def read_idn_caffemodel(path: Path, scale: int) -> dict[str, Tensor]:
    """IDN's released `.caffemodel` (format `caffemodel`)."""
    path = _existing(path)
    check_scale_in_name(path, scale)
    try:
        _, layers = read_caffemodel(path)
    except (WireError, ValueError, UnicodeDecodeError) as error:
        raise UserError(f"weights file {path} is corrupt or not a Caffe model ({error}; read as caffemodel)") from error
    return idn_state_dict(layers, scale=scale, path=path)


def check_scale_in_name(path: Path, scale: int) -> None:
    """A file named for another scale (`..._x3.mat`) is refused: SRCNN's and IDN's files have the same tensors at
    every scale, so their name is the only place that says it."""
    # `_x3`, `-x3.`, or `x3` right after a capital (PAN's `PANx3_DF2K.pth`)
    match = re.search(r"(?:^|[_\-.]|(?<=[A-Z]))[xX](\d)(?:[_\-.]|$)", path.name)
    if match and int(match.group(1)) != scale:
        raise UserError(f"weights {path.name} are for x{match.group(1)} (by their name), not x{scale}")


# --- PyTorch state dicts ---------------------------------------------------------------------------------------------

NESTING_KEYS = ("state_dict", "params", "model")  # wrappers used by common training code around the state dict
DATA_PARALLEL_PREFIX = "module."  # left by nn.DataParallel / DistributedDataParallel
# How torch's weights-only unpickler words a refused object (a global, class or call outside its allow-list), as
# opposed to a damaged stream ("Unsupported operand").
_REFUSAL_WORDS = ("global", "class", "reduce", "function")
_PREAMBLES = ("Weights only load failed", "(1)", "(2)", "Please file an issue", "Check the documentation")


def load_state_dict_file(path: Path) -> dict[str, Tensor]:
    """The state dict in `path`, unwrapped from a "state_dict"/"params"/"model" key and without "module." prefixes."""
    path = _existing(path)
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
        stripped[name] = _dense(tensor, path, key)
    return stripped


def _dense(tensor: Tensor, path: Path, key: str) -> Tensor:
    """`tensor` as a dense, contiguous CPU tensor of its own; a layout that holds no plain array of values (sparse,
    nested, meta: shapes without data) is one line naming it. A strided or overlapping view of a storage (a
    transposed or expanded tensor, saved as such) holds its values and is read as them."""
    if tensor.is_meta:
        raise UserError(f"weights file {path}: {key} is a meta tensor (a shape without values); save the real "
                        "weights")
    if tensor.is_nested:
        raise UserError(f"weights file {path}: {key} is a nested tensor, not an array of weights")
    if tensor.layout != torch.strided:
        layout = str(tensor.layout).removeprefix("torch.")
        raise UserError(f"weights file {path}: {key} is a {layout} tensor; weights are dense tensors (save "
                        f"tensor.to_dense())")
    return tensor.contiguous()


def read_pth(path: Path, scale: int) -> dict[str, Tensor]:
    """A PyTorch state dict (format `pth`); its tensors' shapes say the scale, checked against the model."""
    return load_state_dict_file(path)


def read_pth_scale_in_name(path: Path, scale: int) -> dict[str, Tensor]:
    """A PyTorch state dict whose shapes do not say the scale (format `pth-scale-in-name`): its name must."""
    check_scale_in_name(_existing(path), scale)
    return load_state_dict_file(path)


# The CARN authors' module names (carn/model/carn_m.py, carn.py) -> baselines/carn.py's. Block i's shared unit is
# `b{i}.b1`, its fusions `b{i}.c{j}`; the body's fusions are `c{j}`; `upsample.up{s}` is the x{s} upsampler.
_CARN_NAMES = (
    (re.compile(r"^(sub_mean|add_mean)\.shifter\.(weight|bias)$"), r"\1.shifter.\2"),
    (re.compile(r"^b(\d)\.b(\d)\.body\.0\.(weight|bias)$"), lambda m: _carn_unit(m, "conv1")),
    (re.compile(r"^b(\d)\.b(\d)\.body\.2\.(weight|bias)$"), lambda m: _carn_unit(m, "conv2")),
    (re.compile(r"^b(\d)\.b(\d)\.body\.4\.(weight|bias)$"), lambda m: _carn_unit(m, "pointwise")),
    (re.compile(r"^b(\d)\.c(\d)\.body\.0\.(weight|bias)$"),
     lambda m: f"body.units.{int(m[1]) - 1}.fusions.{int(m[2]) - 1}.{m[3]}"),
    (re.compile(r"^c(\d)\.body\.0\.(weight|bias)$"), lambda m: f"body.fusions.{int(m[1]) - 1}.{m[2]}"),
    (re.compile(r"^upsample\.up(\d)\.body\.(\d+)\.(weight|bias)$"), r"upsamplers.x\1.body.\2.\3"),
)


def _carn_unit(match: re.Match, conv: str) -> str:
    return f"body.units.{int(match[1]) - 1}.units.{int(match[2]) - 1}.{conv}.{match[3]}"


def carn_state_dict(state: dict[str, Tensor]) -> dict[str, Tensor]:
    renamed: dict[str, Tensor] = {}
    for key, tensor in state.items():
        name = key
        for pattern, replacement in _CARN_NAMES:
            if pattern.match(key):
                name = pattern.sub(replacement, key)
                break
        renamed[name] = tensor
    return renamed


def read_carn_pth(path: Path, scale: int) -> dict[str, Tensor]:
    """The CARN authors' state dict (format `carn-pth`), renamed to baselines/carn.py's modules."""
    return carn_state_dict(load_state_dict_file(path))


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


# --- the table the registry names formats from ---------------------------------------------------------------------

CHECKPOINT_FORMAT = "pth"  # what the harness's training writes (final.pt): read so unless the registry says otherwise
READERS: dict[str, Reader] = {
    CHECKPOINT_FORMAT: read_pth,
    "srcnn-mat": read_srcnn_mat,
    "matconvnet": read_matconvnet,
    "caffemodel": read_idn_caffemodel,
    "pth-scale-in-name": read_pth_scale_in_name,
    "carn-pth": read_carn_pth,
    "lapsrn-dagnn": read_lapsrn_dagnn,
    "ms-lapsrn-dagnn": read_ms_lapsrn_dagnn,
}
