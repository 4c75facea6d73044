"""The model registry: one plain dict from a model name to its config type, default config and builder.

Every model takes and returns RGB tensors in [0, 1] of shape (N, 3, H, W); the output is `scale` times larger.
Every config is a frozen dataclass with a `scale: int` field; its `__post_init__` raises ValueError on bad values.
"""

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import pydantic
from torch import nn

from harness.errors import UserError


@dataclass(frozen=True)
class Released:
    """Weights released by a model's authors: the file name (with `{scale}`), its format and its scales."""

    file: str  # e.g. "IDN_x{scale}.caffemodel"; in the weights folder (--weights-dir)
    format: str  # a reader of harness/evaluation/released.py: "pth", "srcnn-mat", "matconvnet", "caffemodel"
    scales: tuple[int, ...] = (2, 3, 4)

    def file_for(self, scale: int) -> str:
        return self.file.format(scale=scale)


@dataclass(frozen=True)
class ModelEntry:
    config_type: type
    default_config: Callable[[int], Any]  # scale -> the registered default config at that scale
    build: Callable[[Any], nn.Module]
    # Evaluation protocols (harness/evaluation/protocols.py) this model is scored under; the first is the default.
    protocols: tuple[str, ...] = ("common",)
    released: Released | None = None
    label: str | None = None  # how tables name it when it is not the authors' model, e.g. "retrained (MREN recipe)"


MODELS: dict[str, ModelEntry] = {}


def register(name: str, config_type: type, build: Callable[[Any], nn.Module],
             default_config: Callable[[int], Any] | None = None, *, protocols: tuple[str, ...] = ("common",),
             released: Released | None = None, label: str | None = None) -> None:
    if name in MODELS:
        raise ValueError(f"model {name!r} is registered twice")
    factory = default_config or (lambda scale: config_type(scale=scale))
    MODELS[name] = ModelEntry(config_type=config_type, default_config=factory, build=build, protocols=protocols,
                              released=released, label=label)


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
    return entry(name).build(config)


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

# The authors' networks, for their released weights, scored under the common conventions and their own test script.
register("srcnn", SRCNNConfig, build_srcnn, protocols=("common", "srcnn-demo"),
         released=Released("SRCNN_x{scale}.mat", "srcnn-mat"))
register("vdsr", VDSRConfig, build_vdsr, protocols=("common", "vdsr-demo"),
         released=Released("VDSR_Official.mat", "matconvnet"))
register("idn", IDNConfig, build_idn, protocols=("common", "idn-test"),
         released=Released("IDN_x{scale}.caffemodel", "caffemodel"))
register("efdn", EFDNConfig, build_efdn, released=Released("EFDN_x{scale}.pth", "pth", scales=(4,)))
register("imdn", IMDNConfig, build_imdn, released=Released("IMDN_x{scale}.pth", "pth"))
# The same networks retrained with MREN's recipe (no released weights behind them).
register("srcnn_mren", SRCNNConfig, build_srcnn, default_config=srcnn_mren_config, label="retrained (MREN recipe)")
register("vdsr_mren", VDSRConfig, build_vdsr, default_config=vdsr_mren_config, label="retrained (MREN recipe)")
register("carn", CARNConfig, build_carn, label="retrained (MREN recipe)")

from baselines.bicubic import BicubicConfig, build_bicubic  # noqa: E402

register("bicubic", BicubicConfig, build_bicubic)

from mren import MRENConfig, build_mren, mren_l_config  # noqa: E402

register("mren", MRENConfig, build_mren)
register("mren_l", MRENConfig, build_mren, default_config=mren_l_config)
