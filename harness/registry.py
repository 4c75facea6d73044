"""The model registry: one entry per model holding everything the harness knows about it.

An entry carries the builder and config type, the scales it supports, the row of the paper's comparison table it is
(whose printed parameter counts it must match), its released weights (file, format, scales and exact element
counts) and the evaluation protocols it is scored under. Adding a baseline is one module under baselines/ and one
`register(...)` line below; tests/test_models.py checks every registered model at every scale with no other edit.

Every model takes and returns RGB tensors in [0, 1] of shape (N, 3, H, W); the output is `scale` times larger.
Every config is a frozen dataclass with a `scale: int` field; its `__post_init__` raises ValueError on an
architecture that cannot be built. Study ranges (how many blocks an ablation sweeps) belong to the specs.
"""

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import pydantic
from torch import nn

from harness import memory
from harness.conventions import SCALES
from harness.errors import UserError
from harness.weight_readers import CHECKPOINT_FORMAT, READERS


@dataclass(frozen=True)
class Released:
    """Weights released by a model's authors: the file name (with `{scale}`), its format, its scales, and the number
    of parameter elements each file holds (counted once from the files in ../shared/weights)."""

    file: str  # e.g. "IDN_x{scale}.caffemodel"; in the weights folder (--weights-dir)
    format: str  # the reader of its files: a key of harness/weight_readers.py READERS ("pth", "caffemodel", ...)
    params: Mapping[int, int]  # scale -> parameter elements in the released file
    # The training set, where its authors trained on other data than the paper's DIV2K (a report finding: such a
    # file is compared as a file, not as a method); None where it is DIV2K or not recorded.
    other_training_set: str | None = None

    def __post_init__(self) -> None:
        if self.format not in READERS:
            raise ValueError(f"released weights {self.file}: format {self.format!r} has no reader; formats: "
                             f"{', '.join(READERS)}")

    @property
    def scales(self) -> tuple[int, ...]:
        return tuple(sorted(self.params))

    def file_for(self, scale: int) -> str:
        return self.file.format(scale=scale)


@dataclass(frozen=True)
class ModelEntry:
    name: str
    config_type: type
    default_config: Callable[[int], Any]  # scale -> the registered default config at that scale
    build: Callable[[Any], nn.Module]
    scales: tuple[int, ...]
    # The row of the paper's comparison table (Table 5) this model is, whose printed parameter counts its default
    # config must match within `params_tolerance` (relative: the paper prints counts rounded to K, and some widths
    # it does not state were fitted); None where the paper has no such row.
    paper_row: str | None = None
    params_tolerance: float = 0.01
    # Evaluation protocols (harness/evaluation/protocols.py) this model is scored under; the first is the default.
    protocols: tuple[str, ...] = ("common",)
    released: Released | None = None
    label: str | None = None  # how tables name it when it is not the authors' model, e.g. "retrained (MREN recipe)"


MODELS: dict[str, ModelEntry] = {}


def register(name: str, config_type: type, build: Callable[[Any], nn.Module],
             default_config: Callable[[int], Any] | None = None, *, scales: tuple[int, ...] = SCALES,
             paper_row: str | None = None, params_tolerance: float = 0.01, protocols: tuple[str, ...] = ("common",),
             released: Released | None = None, label: str | None = None) -> None:
    """Add a model. A plugin calls this too (docs/design.md, "Adding a model")."""
    if name in MODELS:
        raise ValueError(f"model {name!r} is registered twice")
    if released is not None and not set(released.scales) <= set(scales):
        raise ValueError(f"model {name!r}: released weights at scales {released.scales} it does not support")
    if released is not None:
        for scale in released.scales:
            other = _released_format(released.file_for(scale))
            if other not in (None, released.format):
                raise ValueError(f"model {name!r}: released file {released.file_for(scale)} is registered with "
                                 f"format {other!r} already")
    factory = default_config or (lambda scale: config_type(scale=scale))
    MODELS[name] = ModelEntry(name=name, config_type=config_type, default_config=factory, build=build,
                              scales=tuple(scales), paper_row=paper_row, params_tolerance=params_tolerance,
                              protocols=protocols, released=released, label=label)


def entry(name: str) -> ModelEntry:
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def config_fields(name: str) -> dict[str, Any]:
    """Field name -> annotated type, for the model's config (scale included)."""
    config_type = entry(name).config_type
    hints = typing.get_type_hints(config_type)
    return {f.name: hints[f.name] for f in dataclasses.fields(config_type) if f.init}


def make_config(name: str, scale: int, overrides: Mapping[str, Any] | None = None, *,
                from_text: bool = True) -> Any:
    """The registered default config of `name` at `scale`, with `overrides` validated against field types.

    `from_text`: string values are parsed ("6" for an int field), as command-line `--set KEY=VALUE` gives them;
    without it every value must have its field's type already, as a YAML spec gives them.
    """
    fields = config_fields(name)
    scales = entry(name).scales
    if scale not in scales:
        raise UserError(f"model {name!r} supports scales {', '.join(map(str, scales))}, not {scale!r}")
    config = entry(name).default_config(scale)
    values: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if key == "scale":
            raise UserError(f"model {name!r}: set the scale with the scale option, not as a config field")
        if key not in fields:
            raise UserError(f"model {name!r} has no config field {key!r}; fields: {', '.join(sorted(fields))}")
        try:
            strict = not (from_text and isinstance(value, str))
            values[key] = pydantic.TypeAdapter(fields[key]).validate_python(value, strict=strict)
        except pydantic.ValidationError as error:
            allowed = _describe(fields[key])
            raise UserError(f"model {name!r}: bad value {value!r} for {key!r} (expected {allowed})") from error
    try:
        return dataclasses.replace(config, **values)
    except ValueError as error:
        raise UserError(f"model {name!r}: {error}") from error


def default_config_json(name: str, scale: int) -> dict[str, Any]:
    """The registered default config at `scale` as JSON, the form records hold (for labels naming what differs)."""
    return dataclasses.asdict(entry(name).default_config(scale))


def build_model(name: str, config: Any) -> nn.Module:
    """The model, once a dry build on the meta device shows that its weights fit in memory (harness/memory.py): a
    config that asks for terabytes is one line, not an allocator's traceback or a machine swapping."""
    dry = memory.meta_model(lambda: entry(name).build(config))
    if dry is not None:
        parameters = sum(tensor.numel() for tensor in dry.parameters())
        memory.require(memory.weight_bytes(dry), f"model {name} with this config ({parameters:,} parameters)")
    return entry(name).build(config)


def weights_format(name: str, file_name: str) -> str:
    """The format (a key of READERS) a weights file for model `name` is read as: that of the release the file is, by
    its name as the registry names released files (whichever model released it, so another model's file is read as
    what it is and then refused as unfit); else that of the model's own release; else "pth", a PyTorch state dict
    (what the harness's training writes). A caller that knows better names the format itself
    (`eval --weights-format`): a file's suffix never decides."""
    released = _released_format(file_name)
    if released is not None:
        return released
    own = MODELS[name].released if name in MODELS else None  # a model not registered (a test's) has no release
    return own.format if own is not None else CHECKPOINT_FORMAT


def _released_format(file_name: str) -> str | None:
    """The format of the registered release named `file_name`, None where no model released a file of that name."""
    for model in MODELS.values():
        released = model.released
        if released is not None and file_name in {released.file_for(scale) for scale in released.scales}:
            return released.format
    return None


def _describe(annotation: Any) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return " | ".join(repr(choice) for choice in typing.get_args(annotation))
    return getattr(annotation, "__name__", str(annotation))


# --- registrations: each model family adds its own lines below ---

from baselines.carn import CARNConfig, build_carn  # noqa: E402
from baselines.efdn import EFDNConfig, build_efdn  # noqa: E402
from baselines.idn import IDNConfig, build_idn  # noqa: E402
from baselines.imdn import IMDNConfig, build_imdn  # noqa: E402
from baselines.srcnn import SRCNNConfig, build_srcnn, srcnn_mren_config  # noqa: E402
from baselines.vdsr import VDSRConfig, build_vdsr, vdsr_mren_config  # noqa: E402


def _each_scale(count: int) -> dict[int, int]:
    return {scale: count for scale in SCALES}


# The authors' networks, for their released weights, scored under the common conventions and their own test script.
# Their parameter counts are the files' own; the paper's Table 5 misprints IDN's (579K), a finding of the report.
register("srcnn", SRCNNConfig, build_srcnn, protocols=("common", "srcnn-demo"),
         released=Released("SRCNN_x{scale}.mat", "srcnn-mat", _each_scale(57_281)))
register("vdsr", VDSRConfig, build_vdsr, protocols=("common", "vdsr-demo"),
         released=Released("VDSR_Official.mat", "matconvnet", _each_scale(665_921)))
register("idn", IDNConfig, build_idn, protocols=("common", "idn-test"),
         released=Released("IDN_x{scale}.caffemodel", "caffemodel", _each_scale(552_769)))
register("efdn", EFDNConfig, build_efdn, released=Released("EFDN_x{scale}.pth", "pth", {4: 276_192}))
register("imdn", IMDNConfig, build_imdn,
         released=Released("IMDN_x{scale}.pth", "pth", {2: 694_404, 3: 703_059, 4: 715_176}))
# The same networks retrained with MREN's recipe (no released weights behind them).
register("srcnn_mren", SRCNNConfig, build_srcnn, default_config=srcnn_mren_config, paper_row="SRCNN",
         label="retrained (MREN recipe)")
register("vdsr_mren", VDSRConfig, build_vdsr, default_config=vdsr_mren_config, paper_row="VDSR",
         label="retrained (MREN recipe)")
register("carn", CARNConfig, build_carn, paper_row="CARN", label="retrained (MREN recipe)")

# Released lightweight models beyond Table 5 (issue 20), each scored under `common` and its authors' protocol(s)
# against its own published numbers (harness/published/model_sources.py). Counts are the files' own: LatticeNet's
# include its 24 trained mean-shift values, CARN-M's its 24 frozen ones (baselines/latticenet.py, carn.py).
from baselines.carn import carn_m_config  # noqa: E402
from baselines.latticenet import LatticeNetConfig, build_latticenet  # noqa: E402
from baselines.pan import PANConfig, build_pan  # noqa: E402

register("latticenet", LatticeNetConfig, build_latticenet, protocols=("common", "edsr-test", "edsr-test+x8"),
         released=Released("LatticeNet_x{scale}.pt", "pth", {2: 756_196, 3: 764_851, 4: 776_968}))
register("pan", PANConfig, build_pan, protocols=("common", "basicsr-test"),
         released=Released("PANx{scale}_DF2K.pth", "pth-scale-in-name", {2: 261_403, 3: 261_403, 4: 272_419},
                           other_training_set="DF2K (DIV2K + Flickr2K)"))
register("carn_m", CARNConfig, build_carn, default_config=carn_m_config, protocols=("common", "carn-sample"),
         released=Released("carn_m.pth", "carn-pth", _each_scale(414_811)))

from baselines.bicubic import BicubicConfig, build_bicubic  # noqa: E402

register("bicubic", BicubicConfig, build_bicubic)

from mren import MRENConfig, build_mren, mren_l_config  # noqa: E402

# Widths the paper does not state were fitted to its counts (docs/architecture.md): within 2%.
register("mren", MRENConfig, build_mren, paper_row="MREN", params_tolerance=0.02)
register("mren_l", MRENConfig, build_mren, default_config=mren_l_config, paper_row="MREN-L", params_tolerance=0.02)

from baselines.lapsrn import LapSRNConfig, MSLapSRNConfig, build_lapsrn, build_ms_lapsrn  # noqa: E402

# LapSRN and MS-LapSRN (MatConvNet DagNN releases, Y channel). LapSRN_x8.mat (667,123: depth 5 per level, three
# levels) is not registered: x8 is not a scale of the harness (conventions.SCALES, the benchmarks' LR folders); x3 is
# the authors' x4 network resized (SR_LapSRN.m), with no file of its own. MS-LapSRN's three files are one network with
# R = 2, 5, 8 recursions (a config field; `--set recursions=2` with MSLapSRN_D5R2.mat): 222,801 shared parameters each,
# one file for every scale; the registered release is D5R8, the paper's MS-LapSRN.
register("lapsrn", LapSRNConfig, build_lapsrn, protocols=("common", "lapsrn-cvpr17", "lapsrn-matlab"),
         released=Released("LapSRN_x{scale}.mat", "lapsrn-dagnn", {2: 407_441, 4: 814_242},
                           other_training_set="291 images (Yang's 91 + BSD200)"))
register("ms_lapsrn", MSLapSRNConfig, build_ms_lapsrn, protocols=("common", "lapsrn-matlab"),
         released=Released("MSLapSRN_D5R8.mat", "ms-lapsrn-dagnn", {2: 222_801, 4: 222_801},
                           other_training_set="291 images (Yang's 91 + BSD200)"))

from baselines.hpinet import HPINetConfig, build_hpinet, hpinet_s_config  # noqa: E402

# HPINet-M and -S (passerer/HPINet, branch cc): one class, the variant's widths are config fields. Files with
# "module." keys, read by the `pth` reader. HPINet-L is not released in ../shared/weights.
register("hpinet_m", HPINetConfig, build_hpinet, protocols=("common", "hpinet-test"),
         released=Released("HPINet-M-x{scale}.pth", "pth", {2: 782_539, 3: 923_939, 4: 895_659}))
register("hpinet_s", HPINetConfig, build_hpinet, default_config=hpinet_s_config, protocols=("common", "hpinet-test"),
         released=Released("HPINet-S-x{scale}.pth", "pth", {4: 463_131}))

from baselines.a2f import A2FConfig, build_a2f  # noqa: E402

# A2F-SD (wxxxxxxh/A2F-SR, ACCV 2020): legacy-pickle state dicts in weight-norm form, counted as the file holds them.
register("a2f_sd", A2FConfig, build_a2f, protocols=("common", "a2f-validator"),
         released=Released("A2F_SD_x{scale}_model_best.pt", "pth", {2: 313_372, 3: 315_997, 4: 319_672}))
