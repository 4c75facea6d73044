"""Experiment specs (`ablations/*.yaml`): parsed, validated in full and expanded into trials before anything runs.

A spec names one paper table and the trials that fill its rows: a `base` trial, a `grid` of named axes and/or a list
of `variants` (their cross product), and `seeds`; or it `include`s other specs. The format is documented in
docs/specs.md. Every problem is one `UserError` line naming the file, the key path and what is allowed.
"""

import dataclasses
import itertools
import string
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Literal

import pydantic

from harness import registry
from harness.conventions import Scale
from harness.errors import UserError
from harness.experiment.strict_yaml import read_yaml, short
from harness.published.paper import load_paper
from harness.records import Feed

Mode = Literal["train", "evaluate", "complexity"]
EvalSet = Literal["Set5", "Set14", "B100", "Urban100", "Manga109"]
TRIAL_KEYS = ("model", "config", "scale", "mode", "epochs", "eval", "weights")
RELEASED = "released"  # `weights: released`: the authors' file the registry names for the model and scale
# Bounds on what a spec may expand to (the file's own limits are in strict_yaml.py). The paper's grid is 49 trials
# in a 5 KB file of depth 5.
MAX_TRIALS = 10_000
MAX_TEXT = 200  # characters of a model name, row, weights file name or config string
MAX_SEED = 2**63 - 1  # torch.manual_seed's largest



def _distinct(values: list[Any]) -> list[Any]:
    repeated = [value for index, value in enumerate(values) if value in values[:index]]
    if repeated:
        raise ValueError(f"{repeated[0]!r} is listed twice")
    return values


Distinct = pydantic.AfterValidator(_distinct)
NonEmptyList = Annotated[list, pydantic.Field(min_length=1), Distinct]
PositiveInt = Annotated[int, pydantic.Field(ge=1)]
Text = Annotated[str, pydantic.Field(max_length=MAX_TEXT)]
WeightsName = Annotated[str, pydantic.Field(min_length=1, max_length=MAX_TEXT, pattern=r"^[^/\\]+$")]  # no folders


class _Strict(pydantic.BaseModel):
    # strict: YAML already gives typed values, so "4" for a scale is a mistake, not something to coerce.
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True, strict=True)


class TrialFields(_Strict):
    """A trial's settings, every one optional: a variant's settings override the base's, its `config` is merged."""

    model: Text | None = None
    config: dict[Text, Any] = {}
    scale: Scale | None = None
    mode: Mode | None = None  # unset means "train"
    epochs: PositiveInt | None = None
    eval: Annotated[list[EvalSet], pydantic.Field(min_length=1), Distinct] | None = None
    weights: WeightsName | None = None


class Variant(TrialFields):
    row: Text | None = None


class Grid(_Strict):
    """Named axes; the trials are their cross product. `config` axes vary model config fields."""

    model: Annotated[list[Text], pydantic.Field(min_length=1), Distinct] | None = None
    scale: Annotated[list[Scale], pydantic.Field(min_length=1), Distinct] | None = None
    epochs: Annotated[list[PositiveInt], pydantic.Field(min_length=1), Distinct] | None = None
    config: dict[Text, NonEmptyList] = {}


def _paper_table(name: str) -> str:
    """A table the transcription describes (harness/published/paper_tables.json)."""
    tables = load_paper().tables
    if name not in tables:
        raise ValueError(f"not a table of the paper; tables: {', '.join(tables)}")
    return name


TableName = Annotated[str, pydantic.AfterValidator(_paper_table)]


class SpecFile(_Strict):
    include: list[Text] = []
    table: TableName | None = None
    row: Text | None = None
    # The rows this spec feeds are rows the paper lacks (a setting an ablation did not try): each must then differ
    # from every row the paper prints, and shows as "not in paper". Without it a row must be the paper's, unless the
    # table's transcription opens its rows to any name (`open_rows`: the methods of a comparison).
    new_rows: bool = False
    base: TrialFields = TrialFields()
    grid: Grid = Grid()
    variants: list[Variant] = []
    seeds: Annotated[list[Annotated[int, pydantic.Field(ge=0, le=MAX_SEED)]], pydantic.Field(min_length=1),
                     Distinct] = [0]


@dataclass(frozen=True)
class SpecTrial:
    """One trial as the spec asks for it, before run settings (profile, data root) resolve its eval sets."""

    model: str
    model_config: Any  # the registry's frozen config dataclass, validated by registry.make_config
    scale: int
    mode: Mode
    epochs: int | None  # None unless mode is "train"
    eval_sets: tuple[str, ...]  # empty for complexity-only trials
    weights: str | None  # a file name in the weights folder, for evaluation-only trials
    seed: int
    feed: Feed


def load_spec(path: Path) -> list[SpecTrial]:
    """Every trial of the spec at `path` and of the specs it includes, in file order (duplicates kept)."""
    return _load(Path(path), stack=())


def check_trial_count(count: int, where: str) -> None:
    """A grid is counted before it is made: a million trials would take minutes (and gigabytes) just to list."""
    if count > MAX_TRIALS:
        raise UserError(f"{where}: expands to {count:,} trials, more than the limit of {MAX_TRIALS:,} per run; "
                        "split it into several specs or runs")


def _load(path: Path, stack: tuple[Path, ...]) -> list[SpecTrial]:
    resolved = path.resolve()
    if resolved in stack:
        chain = " -> ".join(str(p.name) for p in (*stack, resolved))
        raise UserError(f"{path}: include cycle ({chain})")
    spec = parse_spec_file(path)
    trials: list[SpecTrial] = []
    for index, name in enumerate(spec.include):
        included = path.parent / name
        if not included.is_file():
            raise UserError(f"{path}: include[{index}]: file {name!r} not found (looked for {included})")
        trials.extend(_load(included, (*stack, resolved)))
        check_trial_count(len(trials), str(path))
    if spec.table is not None:
        check_trial_count(len(trials) + expanded_count(spec), str(path))
        trials.extend(expand(spec, str(path)))
    return trials


def parse_spec_file(path: Path) -> SpecFile:
    data = read_yaml(path)
    if data is None:
        raise UserError(f"{path}: the spec is empty")
    if not isinstance(data, dict):
        raise UserError(f"{path}: the top level must be a mapping of keys (table, base, grid, variants, seeds, "
                        f"include), got a {type(data).__name__}")
    try:
        spec = SpecFile.model_validate(data)
    except pydantic.ValidationError as error:
        raise UserError(f"{path}: {_describe_validation_error(error)}") from None
    if spec.table is None and not spec.include:
        raise UserError(f"{path}: table: missing (a spec names the paper table it fills, or includes other specs)")
    if spec.table is None:
        for key in ("row", "new_rows", "base", "grid", "variants", "seeds"):
            if key in spec.model_fields_set:
                raise UserError(f"{path}: {key}: only a spec with a table may set it (this one only includes)")
    return spec


def _describe_validation_error(error: pydantic.ValidationError) -> str:
    problems = error.errors()
    first = problems[0]
    location = _key_path(first["loc"])
    more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
    if first["type"] == "extra_forbidden":
        allowed = _allowed_keys(first["loc"][:-1])
        return f"{location}: unknown key; allowed here: {', '.join(allowed)}{more}"
    if first["type"] == "missing":
        return f"{location}: required key missing{more}"
    return f"{location}: {first['msg']} (got {short(first['input'])}){more}"


def _key_path(location: tuple[Any, ...]) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def _allowed_keys(location: tuple[Any, ...]) -> list[str]:
    """Field names of the model at `location` inside a SpecFile, for "unknown key" messages."""
    annotation: Any = SpecFile
    for part in location:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
            annotation = annotation.model_fields[part].annotation
        else:
            arguments = typing.get_args(annotation)
            annotation = arguments[-1] if arguments else Any
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """`X | None` and `Annotated[X, ...]` -> X."""
    while True:
        origin = typing.get_origin(annotation)
        arguments = [a for a in typing.get_args(annotation) if a is not type(None)]
        if origin is Annotated or (origin in (typing.Union, types.UnionType) and len(arguments) == 1):
            annotation = arguments[0]
        else:
            return annotation


@dataclass(frozen=True)
class _Setting:
    value: Any
    origin: str  # key path it came from, e.g. "variants[2].config.scacb" or "grid.scale"


def expanded_count(spec: SpecFile) -> int:
    """How many trials `expand` makes, without making them."""
    count = max(len(spec.variants), 1) * len(spec.seeds)
    for _, values in _grid_axes(spec.grid):
        count *= len(values)
    return count


def expand(spec: SpecFile, file: str) -> list[SpecTrial]:
    """The cross product variants x grid x seeds, each merged over the base and validated."""
    variants = [(f"variants[{index}]", variant) for index, variant in enumerate(spec.variants)] or [("base", None)]
    axes = _grid_axes(spec.grid)
    trials = []
    for (variant_path, variant), point, seed in itertools.product(
            variants, itertools.product(*[[(name, value) for value in values] for name, values in axes]),
            spec.seeds):
        settings, config = _merge(spec.base, variant_path, variant, dict(point), file)
        trials.append(_validate_trial(spec, settings, config, variant_path, variant, seed, file))
    return trials


def _grid_axes(grid: Grid) -> list[tuple[str, list[Any]]]:
    axes: list[tuple[str, list[Any]]] = []
    for key in ("model", "scale", "epochs"):
        values = getattr(grid, key)
        if values is not None:
            axes.append((key, values))
    axes.extend((f"config.{field}", values) for field, values in grid.config.items())
    return axes


def _merge(base: TrialFields, variant_path: str, variant: Variant | None, point: dict[str, Any],
           file: str) -> tuple[dict[str, _Setting], dict[str, _Setting]]:
    settings: dict[str, _Setting] = {}
    config: dict[str, _Setting] = {}
    layers: list[tuple[str, TrialFields]] = [("base", base)]
    if variant is not None:
        layers.append((variant_path, variant))
    for path, fields in layers:
        for key in fields.model_fields_set & set(TRIAL_KEYS) - {"config"}:
            settings[key] = _Setting(getattr(fields, key), f"{path}.{key}")
        for name, value in fields.config.items():
            config[name] = _Setting(value, f"{path}.config.{name}")
    for axis, value in point.items():
        target, name = (config, axis.removeprefix("config.")) if axis.startswith("config.") else (settings, axis)
        previous = target.get(name)
        if previous is not None and previous.origin.startswith("variants["):
            raise UserError(f"{file}: {previous.origin}: also a grid axis (grid.{axis}); set it in one place")
        target[name] = _Setting(value, f"grid.{axis} (value {value!r})")
    return settings, config


def _validate_trial(spec: SpecFile, settings: dict[str, _Setting], config: dict[str, _Setting], variant_path: str,
                    variant: Variant | None, seed: int, file: str) -> SpecTrial:
    def value(key: str) -> Any:
        setting = settings.get(key)
        return None if setting is None else setting.value

    def fail(key: str, problem: str) -> typing.NoReturn:
        where = settings[key].origin if key in settings else f"{variant_path}.{key}"
        raise UserError(f"{file}: {where}: {problem}")

    model = value("model")
    if model is None:
        fail("model", "missing (set model in base, a variant or the grid)")
    if model not in registry.MODELS:
        fail("model", f"unknown model {model!r}; known models: {', '.join(sorted(registry.MODELS))}")
    scale = value("scale")
    if scale is None:
        fail("scale", "missing (set scale in base, a variant or the grid: 2, 3 or 4)")
    mode = value("mode") or "train"
    epochs, eval_sets, weights = value("epochs"), value("eval"), value("weights")
    if mode == "train" and epochs is None:
        fail("epochs", "missing: a trained trial needs epochs (or set mode: evaluate / complexity)")
    if mode != "train" and epochs is not None:
        fail("epochs", f"only trained trials take epochs (this one has mode {mode!r}); set epochs: null")
    if mode != "evaluate" and weights is not None:
        fail("weights", f"only evaluation-only trials (mode: evaluate) load weights (this one has mode {mode!r})")
    if mode == "complexity" and eval_sets is not None:
        fail("eval", "complexity-only trials evaluate nothing; set eval: null")
    if mode != "complexity" and eval_sets is None:
        fail("eval", "missing: list the evaluation sets (Set5, Set14, B100, Urban100, Manga109)")

    model_config = _model_config(model, scale, config, file, variant_path)
    variables = {"model": model, "scale": scale, "mode": mode, "epochs": epochs, "seed": seed,
                 **{name: field for name, field in dataclasses.asdict(model_config).items() if name != "scale"}}
    if weights == RELEASED:
        weights = _released_file(model, scale, fail)
    elif weights is not None:
        weights = _format(weights, variables, settings["weights"].origin, file)
    if mode == "evaluate" and weights is None and _has_parameters(model, model_config):
        fail("weights", f"model {model!r} has learned parameters: an evaluation-only trial needs weights (a file "
                        f"name, or {RELEASED!r} for the authors' file the registry names)")
    row_template, row_origin = (variant.row, f"{variant_path}.row") if variant is not None and variant.row else (
        spec.row, "row")
    if row_template is None:
        raise UserError(f"{file}: {variant_path}.row: missing (name the {spec.table} row this trial fills, "
                        "or give a row template at the top level)")
    row = _format(row_template, variables, row_origin, file)
    _check_row(spec, row, row_origin, file)
    return SpecTrial(model=model, model_config=model_config, scale=scale, mode=mode, epochs=epochs,
                     eval_sets=tuple(eval_sets or ()), weights=weights, seed=seed, feed=Feed(table=spec.table, row=row))


def _check_row(spec: SpecFile, row: str, origin: str, file: str) -> None:
    """A row is one the paper prints, or, declared by `new_rows: true`, one it lacks; a table with open rows takes
    any name. So a misspelt paper row is an error unless the spec says it adds rows."""
    table = load_paper().tables[spec.table]
    printed = table.row_keys
    if spec.new_rows and row in printed:
        raise UserError(f"{file}: {origin}: {row!r} is a row the paper prints in {spec.table}, but the spec sets "
                        "new_rows: true (rows the paper lacks); feed it from a spec without new_rows")
    if not spec.new_rows and not table.open_rows and row not in printed:
        raise UserError(f"{file}: {origin}: {row!r} is not a row of {spec.table}; rows: "
                        f"{', '.join(repr(r) for r in printed)} (a row the paper lacks needs new_rows: true)")


def _released_file(model: str, scale: int, fail: Callable[[str, str], typing.NoReturn]) -> str:
    """`weights: released`: the file the model's authors released for `scale`, as the registry names it."""
    released = registry.entry(model).released
    if released is None:
        fail("weights", f"model {model!r} has no released weights in the registry; name a file instead")
    if scale not in released.scales:
        fail("weights", f"model {model!r} has released weights at scale {', '.join(map(str, released.scales))} "
                        f"only, not {scale}")
    return released.file_for(scale)


def _model_config(model: str, scale: int, config: dict[str, _Setting], file: str, variant_path: str) -> Any:
    """registry.make_config, with a failure traced back to the key that caused it."""
    for name, setting in config.items():
        try:
            registry.make_config(model, scale, {name: setting.value}, from_text=False)
        except UserError as error:
            raise UserError(f"{file}: {setting.origin}: {error}") from None
    try:
        return registry.make_config(model, scale, {name: setting.value for name, setting in config.items()},
                                  from_text=False)
    except UserError as error:
        keys = ", ".join(setting.origin for setting in config.values()) or f"{variant_path}.config"
        raise UserError(f"{file}: {keys}: {error}") from None


def _format(template: str, variables: dict[str, Any], origin: str, file: str) -> str:
    try:
        names = [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
    except ValueError as error:  # an unbalanced brace
        raise UserError(f"{file}: {origin}: cannot fill {template!r} ({error}; write {{{{ and }}}} for a literal "
                        "brace)") from None
    unknown = [name for name in names if name not in variables]
    if unknown or any(name == "" for name in names):
        raise UserError(f"{file}: {origin}: unknown placeholder {{{(unknown or [''])[0]}}} in {template!r}; "
                        f"placeholders: {', '.join('{' + name + '}' for name in variables)}")
    try:
        return template.format(**variables)
    except (ValueError, IndexError, AttributeError) as error:
        raise UserError(f"{file}: {origin}: cannot fill {template!r} ({error})") from None


def _has_parameters(model: str, model_config: Any) -> bool:
    return any(True for _ in registry.build_model(model, model_config).parameters())
