"""Trials resolved against the run settings: their identity (a hash of the resolved config) and their inputs.

A spec says what to run; the run settings (profile, data root, weights folder) decide the training settings and the
evaluation sets actually used. Trials whose resolved configs are equal are one trial: it runs once and feeds every
table row that asked for it.
"""

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from harness import memory, registry
from harness.data.benchmark import check_benchmark
from baselines.config_checks import identity_fields
from harness.data.bundled import BUNDLED_SET
from harness.data.data_root import data_root_problems
from harness.data.div2k_cache import default_cache_dir
from harness.data.digest import content_digest
from harness.errors import UserError
from harness.experiment.overrides import apply_train_overrides
from harness.experiment.spec import Feed, SpecTrial
from harness.inputs import file_problem, folder_problem
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
    cache_dir: Path | None = None  # decoded-data cache (`--cache`); None: the per-user cache of the machine
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
        return self.cache_dir if self.cache_dir is not None else default_cache_dir()

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
        return {"model": self.model, "model_config": identity_fields(self.model_config), "scale": self.scale,
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
    """Missing, unreadable or damaged data or weights that would stop `trials` from running, one line each (empty
    when all is there). Every evaluation set is checked as a trial would open it, short of decoding: its folders,
    every image's kind, permissions and header size (harness/data/benchmark.py check_benchmark), in seconds."""
    problems: list[str] = []
    damaged: list[str] = []  # sets that are there but would fail to open: said after what is missing
    root = settings.data_root
    root_problem = folder_problem(root, "data root") if root is not None else None
    if root_problem is not None:
        problems.append(root_problem)
    needed_sets = sorted({name for trial in trials for name in trial.config.eval_sets if name != BUNDLED_SET})
    div2k_needs = sorted({(trial.config.scale, trial.config.train.hr_patch) for trial in trials
                          if trial.config.train is not None and trial.config.train.data == "div2k"})
    if (needed_sets or div2k_needs) and root is None:
        problems.append(f"profile {settings.profile!r} needs a data root holding "
                        f"{', '.join(needed_sets + (['DIV2K'] if div2k_needs else []))} "
                        "(--data-root or MREN_DATA_ROOT)")
    elif root is not None and root_problem is None:
        problems.extend(data_root_problems(root, needed_sets, div2k_needs))
        for name in needed_sets:
            if not (root / name).is_dir():
                continue  # said by data_root_problems, with where the sets were found
            scales = sorted({trial.config.scale for trial in trials if name in trial.config.eval_sets})
            try:
                for scale in scales:
                    check_benchmark(root / name, scale)
            except UserError as error:
                damaged.append(f"evaluation set {name}: {error}")
    weights = sorted({trial.config.weights for trial in trials if trial.config.weights is not None})
    if weights and settings.weights_dir is None:
        problems.append(f"weights files {', '.join(weights)} needed but no weights folder given "
                        "(--weights-dir or MREN_WEIGHTS_DIR)")
    elif weights and (problem := folder_problem(settings.weights_dir, "weights folder")) is not None:
        problems.append(problem)
    elif weights:
        for name in weights:
            path = settings.weights_dir / name
            if not path.exists() and not path.is_symlink():
                problems.append(f"weights file {name} not found in the weights folder {settings.weights_dir}")
            elif (problem := file_problem(path, "weights file")) is not None:
                problems.append(problem)
    return problems + damaged + training_memory_problems(trials)


@functools.lru_cache(maxsize=256)
def _training_bytes(model: str, model_config: Any, batch: int, lr_side: int, precision: str) -> int | None:
    """memory.training_bytes of a trial's model; trials that differ in their seed alone are sized once."""
    dry = memory.meta_model(lambda: registry.entry(model).build(model_config))
    if dry is None:
        return None
    return memory.training_bytes(dry, batch, lr_side, model_config.scale, getattr(torch, precision))


def training_memory_problems(trials: list[Trial]) -> list[str]:
    """Trials whose training step cannot fit in this machine's memory (harness/memory.py), one line each: a batch or
    patch size far beyond memory is said before Ray starts, not as an allocator's traceback inside the trial."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    problems: list[str] = []
    for trial in trials:
        config, train = trial.config, trial.config.train
        if train is None:
            continue
        needed = _training_bytes(config.model, config.model_config, train.batch_size,
                                 max(train.hr_patch // config.scale, 1), train.precision)
        available = memory.available_bytes(device)
        if needed is not None and needed > available:
            problems.append(f"trial {trial.trial_id} ({trial.label}): a training step of batch {train.batch_size} "
                            f"on {train.hr_patch}x{train.hr_patch} HR patches needs at least "
                            f"{memory.describe_bytes(needed)} of memory; {device} has "
                            f"{memory.describe_bytes(available)} available")
    return problems
