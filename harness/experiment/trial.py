"""Trials resolved against the run settings: their identity (a hash of the resolved config) and their inputs.

A spec says what to run; the run settings (profile, data root, weights folder) decide the training settings and the
evaluation sets actually used. Trials whose resolved configs are equal are one trial: it runs once and feeds every
table row that asked for it.
"""

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data.bundled import BUNDLED_SET
from harness.data.digest import content_digest
from harness.errors import UserError
from harness.experiment.overrides import apply_train_overrides
from harness.experiment.spec import Feed, SpecTrial
from harness.records import trial_id, trial_label
from harness.results_layout import ResultsLayout
from harness.training.profiles import SMOKE_EVAL, TrainSettings, training_settings


@dataclass(frozen=True)
class RunSettings:
    """Where the data, the released weights and the results are, and which training profile to use: never in specs."""

    profile: str
    results_dir: Path
    data_root: Path | None = None
    weights_dir: Path | None = None
    # checkpoints: a folder or a URI (harness/experiment/storage.py); None: <results>/checkpoints
    storage: str | None = None
    cache_dir: Path | None = None  # decoded-data cache; None: <results>/cache
    # `run --set train.FIELD=VALUE` (harness/experiment/overrides.py): they land in each trial's TrainSettings, so in
    # its config and id
    train_overrides: tuple[tuple[str, Any], ...] = ()
    plugins: tuple[str, ...] = ()  # `--plugin` modules registering models; imported again where a trial runs
    # `run --execution` (harness/training/execution.py): how training steps run. Not in the trial id: it changes
    # speed, not results; each record's `training.execution` says what ran.
    execution: str = "auto"

    @property
    def checkpoint_location(self) -> str:
        return self.storage if self.storage is not None else str(ResultsLayout(self.results_dir).checkpoints)

    @property
    def data_cache_dir(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else ResultsLayout(self.results_dir).cache

    def weights_file(self, name: str) -> Path:
        if self.weights_dir is None:
            raise UserError(f"weights file {name} needed but no weights folder given "
                            "(--weights-dir or MREN_WEIGHTS_DIR)")
        return self.weights_dir / name


@dataclass(frozen=True)
class TrialConfig:
    """Everything that decides a trial's result; its canonical JSON is hashed into the trial id."""

    model: str
    model_config: Any  # the model's frozen config dataclass (harness/registry.py), defaults included
    scale: int
    mode: str  # "train" | "evaluate" | "complexity"
    profile: str | None  # training profile; None for trials that train nothing
    train: TrainSettings | None  # None for trials that train nothing
    weights: str | None  # released weights file name, for evaluation-only trials
    eval_sets: tuple[str, ...]
    seed: int
    # Content digest of each input file or folder (eval sets, released weights) by name: an input that changed on
    # disk makes a new trial, never a done one with a stale number. "missing" where it is absent.
    input_digests: dict[str, str] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The canonical JSON form: what is hashed into the trial id and written into the record."""
        train = dataclasses.asdict(self.train) if self.train is not None else None
        return {"model": self.model, "model_config": dataclasses.asdict(self.model_config), "scale": self.scale,
                "mode": self.mode, "profile": self.profile, "train": train, "weights": self.weights,
                "eval_sets": list(self.eval_sets), "seed": self.seed, "input_digests": self.input_digests}

    @property
    def trial_id(self) -> str:
        return trial_id(self.to_json())


@dataclass(frozen=True)
class Trial:
    config: TrialConfig
    feeds: tuple[Feed, ...]  # every table row it fills
    trial_id: str

    @property
    def label(self) -> str:
        """e.g. "mren x4 scacb=osa" (harness/records.py trial_label)."""
        return trial_label(self.config.to_json())

    @property
    def feeds_text(self) -> str:
        return ", ".join(f"{feed.table}:{feed.row}" for feed in self.feeds)


def resolve_trials(spec_trials: list[SpecTrial], settings: RunSettings) -> list[Trial]:
    """Resolve each spec trial under `settings` and merge equal ones (first occurrence keeps its place)."""
    merged: dict[str, Trial] = {}
    for spec_trial in spec_trials:
        config = resolve_config(spec_trial, settings)
        identity = config.trial_id
        previous = merged.get(identity)
        if previous is None:
            merged[identity] = Trial(config, (spec_trial.feed,), identity)
        elif spec_trial.feed not in previous.feeds:
            merged[identity] = dataclasses.replace(previous, feeds=previous.feeds + (spec_trial.feed,))
    return list(merged.values())


def resolve_config(spec_trial: SpecTrial, settings: RunSettings) -> TrialConfig:
    trains = spec_trial.mode == "train"
    train = training_settings(settings.profile, epochs=spec_trial.epochs) if trains else None
    if train is not None:
        train = apply_train_overrides(train, settings.train_overrides)
    eval_sets = resolve_eval_sets(spec_trial, settings)
    return TrialConfig(model=spec_trial.model, model_config=spec_trial.model_config,
                       scale=spec_trial.scale, mode=spec_trial.mode, profile=settings.profile if trains else None,
                       train=train, weights=spec_trial.weights, eval_sets=eval_sets, seed=spec_trial.seed,
                       input_digests=_input_digests(eval_sets, spec_trial.weights, settings))


def _input_digests(eval_sets: tuple[str, ...], weights: str | None, settings: RunSettings) -> dict[str, str]:
    inputs = {name: settings.data_root / name if settings.data_root is not None else None
              for name in eval_sets if name != BUNDLED_SET}
    if weights is not None:
        inputs[weights] = settings.weights_dir / weights if settings.weights_dir is not None else None
    return {name: content_digest(path) if path is not None and path.exists() else "missing"
            for name, path in sorted(inputs.items())}


def resolve_eval_sets(spec_trial: SpecTrial, settings: RunSettings) -> tuple[str, ...]:
    """The paper profile scores every spec set. Smoke scores every trial on Set5 if the data root has it, else on the
    bundled held-out images: the larger sets would multiply the cost of CI's grid (VDSR's released weights under two
    protocols take four minutes on Set14 and half a minute on Set5 on two CPU cores) and add nothing it checks."""
    if spec_trial.mode == "complexity" or settings.profile != "smoke":
        return spec_trial.eval_sets
    return (SMOKE_EVAL,) if _provides(settings, SMOKE_EVAL) else (BUNDLED_SET,)


def _provides(settings: RunSettings, eval_set: str) -> bool:
    return settings.data_root is not None and (settings.data_root / eval_set).is_dir()


def input_problems(trials: list[Trial], settings: RunSettings) -> list[str]:
    """Missing data or weights that would stop `trials` from running, one line each (empty when all is there)."""
    problems: list[str] = []
    root = settings.data_root
    if root is not None and not root.is_dir():
        problems.append(f"data root {root} is not a folder")
    needed_sets = sorted({name for trial in trials for name in trial.config.eval_sets if name != BUNDLED_SET})
    trains_on_div2k = any(trial.config.train is not None and trial.config.train.data == "div2k"
                          for trial in trials)
    if (needed_sets or trains_on_div2k) and root is None:
        problems.append(f"profile {settings.profile!r} needs a data root holding "
                        f"{', '.join(needed_sets + (['DIV2K'] if trains_on_div2k else []))} "
                        "(--data-root or MREN_DATA_ROOT)")
    elif root is not None and root.is_dir():
        problems.extend(f"evaluation set {name} not found: {root / name} is not a folder"
                        for name in needed_sets if not (root / name).is_dir())
        if trains_on_div2k and not (root / "DIV2K" / "DIV2K_train_HR").is_dir():
            problems.append(f"DIV2K not found: {root / 'DIV2K' / 'DIV2K_train_HR'} is not a folder")
    weights = sorted({trial.config.weights for trial in trials if trial.config.weights is not None})
    if weights and settings.weights_dir is None:
        problems.append(f"weights files {', '.join(weights)} needed but no weights folder given "
                        "(--weights-dir or MREN_WEIGHTS_DIR)")
    elif weights:
        problems.extend(f"weights file {name} not found in the weights folder {settings.weights_dir}"
                        for name in weights if not (settings.weights_dir / name).is_file())
    return problems
