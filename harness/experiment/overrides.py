"""Command-line changes to a spec's trials (`run --set/--only/--seeds`), applied to the validated spec trials.

`--set KEY=VALUE` changes:
- `scale=S`: every trial's scale (one of harness/conventions.py SCALES);
- `train.FIELD=VALUE`: a training setting (harness/training/profiles.py TrainSettings) of every trained trial;
- `FIELD=VALUE`: a model config field, in every trial whose model has that field.

Every value goes through the same checks as the spec's own (registry.make_config for model fields, TrainSettings'
checks for training settings), and ends up in the resolved trial config: an overridden trial has its own trial id and
never reuses a record of the unchanged one. `--only TABLE:ROW` keeps the trials feeding those rows; `--seeds` replaces
every trial's seeds.
"""

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

import pydantic

from harness import registry
from harness.conventions import SCALES
from harness.errors import UserError
from harness.experiment.spec import MAX_SEED, SpecTrial, check_trial_count
from harness.records import Feed
from harness.training.profiles import TrainSettings

TRAIN_PREFIX = "train."
# Training settings that a `--set train.FIELD` may not change: the profile is --profile, iterations follow from
# epochs x iterations_per_epoch.
_DERIVED_TRAIN_FIELDS = {"profile": "use --profile", "iterations": "set train.epochs (iterations = epochs x "
                                                                   "iterations_per_epoch)"}


@dataclass(frozen=True)
class Overrides:
    """`--set` items sorted into their three kinds; training overrides are typed already."""

    model: dict[str, str] = dataclasses.field(default_factory=dict)  # field -> text, typed per model
    train: tuple[tuple[str, Any], ...] = ()  # (TrainSettings field, typed value), hashable for RunSettings
    scale: int | None = None


def split_overrides(items: dict[str, str]) -> Overrides:
    """Sort `--set` items (parse_overrides' mapping) by kind, and type and check the training ones."""
    model: dict[str, str] = {}
    train: list[tuple[str, Any]] = []
    scale = None
    hints = typing.get_type_hints(TrainSettings)
    for key, text in items.items():
        if key == "scale":
            scale = _parse(f"--set scale={text}", int, text)
            if scale not in SCALES:
                raise UserError(f"--set scale={text}: bad value (expected {' | '.join(map(str, SCALES))})")
        elif key.startswith(TRAIN_PREFIX):
            name = key.removeprefix(TRAIN_PREFIX)
            if name in _DERIVED_TRAIN_FIELDS:
                raise UserError(f"--set {key}: not settable; {_DERIVED_TRAIN_FIELDS[name]}")
            settable = sorted(set(hints) - set(_DERIVED_TRAIN_FIELDS))
            if name not in hints:
                raise UserError(f"--set {key}: unknown training setting {name!r}; settable: "
                                f"{', '.join(TRAIN_PREFIX + field for field in settable)}")
            train.append((name, _parse(f"--set {key}={text}", hints[name], text)))
        else:
            model[key] = text
    return Overrides(model=model, train=tuple(train), scale=scale)


def _parse(item: str, annotation: Any, text: str) -> Any:
    try:
        return pydantic.TypeAdapter(annotation).validate_python(text, strict=False)
    except pydantic.ValidationError:
        raise UserError(f"{item}: bad value (expected {_describe(annotation)})") from None


def _describe(annotation: Any) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return " | ".join(repr(choice) for choice in typing.get_args(annotation))
    return getattr(annotation, "__name__", str(annotation))


def apply_train_overrides(settings: TrainSettings, overrides: tuple[tuple[str, Any], ...]) -> TrainSettings:
    """`settings` with the `--set train.*` values; iterations follow epochs and iterations_per_epoch."""
    if not overrides:
        return settings
    values = dict(overrides)
    epochs = values.get("epochs", settings.epochs)
    per_epoch = values.get("iterations_per_epoch", settings.iterations_per_epoch)
    try:
        return dataclasses.replace(settings, **values, iterations=epochs * per_epoch)
    except ValueError as error:  # TrainSettings' own checks: the same as for a profile's settings
        raise UserError(f"--set {', '.join(TRAIN_PREFIX + name for name, _ in overrides)}: {error}") from None


def apply_model_overrides(trials: list[SpecTrial], overrides: Overrides) -> list[SpecTrial]:
    """Each trial with the new scale and the model config fields its model has, each checked by its model's config.

    A field that no model of the spec has is an error (a typo would otherwise change nothing)."""
    if overrides.model:
        known = {field for trial in trials for field in registry.config_fields(trial.model)}
        for key in overrides.model:
            if key not in known:
                fields = sorted(known - {"scale"})
                raise UserError(f"--set {key}: no model of this spec has a config field {key!r}; model fields: "
                                f"{', '.join(fields)}; training settings: train.<field> (e.g. train.learning_rate); "
                                "and scale")
    changed = []
    for trial in trials:
        scale = overrides.scale if overrides.scale is not None else trial.scale
        fields = registry.config_fields(trial.model)
        current = {name: value for name, value in dataclasses.asdict(trial.model_config).items() if name != "scale"}
        mine = {key: text for key, text in overrides.model.items() if key in fields}
        if not mine and scale == trial.scale:
            changed.append(trial)
            continue
        if scale != trial.scale and trial.weights is not None:
            raise UserError(f"--set scale={scale}: a trial of this spec loads released weights {trial.weights} made "
                            f"for x{trial.scale}; change the scale in the spec (or --only other rows)")
        try:
            registry.make_config(trial.model, scale, mine)  # the text values alone, so an error names them
            config = registry.make_config(trial.model, scale, {**current, **mine}, from_text=True)
        except UserError as error:
            items = " ".join(f"{key}={text}" for key, text in mine.items()) or f"scale={scale}"
            raise UserError(f"--set {items}: {error}") from None
        changed.append(dataclasses.replace(trial, model_config=config, scale=scale))
    return changed


def parse_only(items: list[str]) -> list[Feed]:
    feeds = []
    for item in items:
        table, separator, row = item.partition(":")
        if not separator or not table.strip() or not row.strip():
            raise UserError(f"--only {item!r} is not TABLE:ROW, e.g. table3:OSA")
        feeds.append(Feed(table=table.strip(), row=row.strip()))
    return feeds


def select_rows(trials: list[SpecTrial], wanted: list[Feed]) -> list[SpecTrial]:
    """The trials feeding one of the `wanted` rows; an unknown table or row is an error listing the choices."""
    if not wanted:
        return trials
    tables: dict[str, list[str]] = {}
    for trial in trials:
        rows = tables.setdefault(trial.feed.table, [])
        if trial.feed.row not in rows:
            rows.append(trial.feed.row)
    for feed in wanted:
        if feed.table not in tables:
            raise UserError(f"--only {feed.table}:{feed.row}: this spec feeds no table {feed.table!r}; tables: "
                            f"{', '.join(tables)}")
        if feed.row not in tables[feed.table]:
            raise UserError(f"--only {feed.table}:{feed.row}: {feed.table} has no row {feed.row!r} in this spec; "
                            f"rows: {', '.join(repr(row) for row in tables[feed.table])}")
    return [trial for trial in trials if trial.feed in wanted]


def parse_seeds(text: str) -> list[int]:
    """`--seeds 3` means seeds 0, 1, 2; `--seeds 0,5,7` lists them."""
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() for part in parts):
        raise UserError(f"--seeds {text!r}: give a count (3 means 0,1,2) or a comma-separated list of seeds >= 0")
    numbers = [int(part) for part in parts]
    if len(parts) == 1 and "," not in text:
        if numbers[0] < 1:
            raise UserError(f"--seeds {text}: a count must be at least 1")
        check_trial_count(numbers[0], f"--seeds {text}")
        numbers = list(range(numbers[0]))
    if len(set(numbers)) != len(numbers):
        raise UserError(f"--seeds {text}: a seed is listed twice")
    if max(numbers) > MAX_SEED:
        raise UserError(f"--seeds {text}: seeds must be at most {MAX_SEED}")
    return numbers


def replace_seeds(trials: list[SpecTrial], seeds: list[int]) -> list[SpecTrial]:
    """Every distinct trial (its seed aside) once per seed, in spec order."""
    distinct: list[SpecTrial] = []
    for trial in trials:
        unseeded = dataclasses.replace(trial, seed=0)
        if unseeded not in distinct:
            distinct.append(unseeded)
    check_trial_count(len(distinct) * len(seeds), f"--seeds with {len(distinct)} distinct trials")
    return [dataclasses.replace(trial, seed=seed) for trial in distinct for seed in seeds]
