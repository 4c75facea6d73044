"""Trial records (`<results>/trials/<trial_id>.json`): the one definition of their format, and the only code that reads
or writes them.

A record is the harness's only notion of "done", and reports and the drift gate read nothing else. The scheduler,
the tables, `check`, the report and the tests all go through the models below; docs/records.md describes the JSON.

Reading is strict: a record of another format version, with a missing or unknown field, or whose file name,
`trial_id` and config hash disagree, is one `UserError` line naming the file, never a silent default.
"""

import hashlib
import json
import math
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import pydantic

from harness.atomic import write_bytes_atomic, write_json_atomic
from harness.errors import UserError
from harness.inputs import input_folder
from harness.results_layout import ResultsLayout

SCHEMA_VERSION = 1
TRIAL_ID_LENGTH = 12


def trial_id(config_json: dict[str, Any]) -> str:
    """First hex digits of the SHA-256 of the canonical JSON (sorted keys, no spaces) of a trial config."""
    canonical = json.dumps(config_json, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:TRIAL_ID_LENGTH]


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


def _a_number(value: float) -> float:
    if math.isnan(value):
        raise ValueError("NaN is not a score (a record damaged or written by other code; +inf is PSNR's word for "
                         "identical images)")
    return value


# A PSNR or SSIM: a number, never NaN, which every table would show as a blank cell without a reason.
Score = Annotated[float, pydantic.AfterValidator(_a_number)]


class ImageScore(_Strict):
    name: str
    psnr_y: Score
    ssim_y: Score


class Evaluation(_Strict):
    """One model on one benchmark set under one protocol (also what `harness eval --out` writes per set)."""

    dataset: str
    scale: int
    protocol: str  # harness/evaluation/protocols.py
    psnr_y: Score  # mean over images, dB
    ssim_y: Score
    images: list[ImageScore]
    conventions: dict[str, Any]  # how the numbers were measured (harness/evaluation/metrics.py)
    protocols: dict[str, "Evaluation"] = {}  # the same images under the model's other protocols; absent if none

    def under(self, protocol: str | None) -> "Evaluation | None":
        if protocol is None or protocol == self.protocol:
            return self
        return self.protocols.get(protocol)


class Feed(_Strict):
    table: str
    row: str


class Training(_Strict):
    iterations: int
    seconds: float  # summed over the run and the runs it resumed
    resumed_from_iteration: int | None  # the checkpoint's iteration when the run resumed one
    curve: list[tuple[int, float]]  # (iteration, mean L1 loss since the previous point)
    # measured in the run that finished the training (its own iterations over its own seconds); None in records
    # written before it was kept
    steps_per_second: float | None = None
    # How the steps ran (harness/training/execution.py): a run setting, not part of the trial id. Records written
    # before it existed ran eagerly.
    execution: Literal["eager", "compiled", "compiled+cudagraphs"] = "eager"
    execution_note: str = ""  # why it differs from the execution asked for (a refusal or a compile failure)
    compile_seconds: float | None = None  # first step minus a steady one; None when it ran fewer than 3 steps


class Visual(_Strict):
    """Crops of one image (harness/evaluation/visuals.py). With `candidates`, `file` and `hr_file` hold one crop per
    candidate window stacked top to bottom in that order, and the report picks the window; without (records written
    before candidates existed), they hold the crop of `box` alone (or the whole image)."""

    image: str
    box: tuple[int, int, int, int]  # top, left, height, width in HR pixels: the first candidate
    file: str  # the SR crop(s), relative to the results folder
    hr_file: str  # the HR crop(s), shared by every trial of the set
    candidates: list[tuple[int, int, int, int]] = []  # the windows, by decreasing HR variance
    bicubic_file: str | None = None  # MATLAB bicubic upscaling of the LR, cropped alike; shared per set and scale
    overview_file: str | None = None  # the whole HR image, downscaled, to show where the crop lies
    image_size: tuple[int, int] | None = None  # HR height, width: maps a box onto the overview


class Environment(_Strict):
    """Where the trial ran (harness/experiment/environment.py); never part of its identity."""

    device: str
    device_name: str
    torch_threads: int
    cpu_capability: str  # the kernels torch chose on this CPU
    kernel_overrides: dict[str, str]  # variables that changed that choice (docs/drift.md)
    cuda: str | None
    python: str
    platform: str
    hostname: str
    libraries: dict[str, str | None]
    torch: str
    git_commit: str | None  # the driver's checkout: the code every worker ran
    git_dirty: bool | None


class RecordedConfig(_Strict):
    """The resolved trial config as JSON, exactly what was hashed into the trial id (harness/experiment/trial.py
    TrialConfig is the typed form)."""

    model: str
    model_config_: dict[str, Any] = pydantic.Field(alias="model_config")
    scale: int
    mode: Literal["train", "evaluate", "complexity"]
    profile: str | None  # training profile; None for trials that train nothing
    train: dict[str, Any] | None  # resolved TrainSettings (harness/training/profiles.py)
    weights: str | None  # released weights file, for evaluation-only trials
    eval_sets: list[str]
    seed: int
    input_digests: dict[str, str]  # content of each eval set and weights file (harness/data/digest.py)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    @property
    def group_key(self) -> str:
        """The config without its seed: trials equal here are seeds of one experiment."""
        return json.dumps({key: value for key, value in self.to_json().items() if key != "seed"}, sort_keys=True)


class TrialRecord(_Strict):
    schema_version: Literal[1]
    trial_id: str
    status: Literal["done"]  # only finished trials are written
    config: RecordedConfig
    feeds: list[Feed]  # every table row it fills; grows when a later spec feeds more rows
    metrics: dict[str, Evaluation]  # by set; {} for complexity-only trials
    params: int
    macs: int  # fvcore: one fused multiply-add = 1, one forward pass at `macs_input`
    macs_input: dict[str, int]  # harness/conventions.py MacsInput.to_json
    macs_unsupported: dict[str, int]  # operators fvcore does not count, with calls
    training: Training | None  # None unless the trial trained
    visuals: dict[str, Visual]  # by set
    seconds: float  # wall time of the run that finished the trial
    # what the run projected for the trial before it started (harness/experiment/pricing.py); None when it was not
    # priced (a cluster run, records of older versions)
    projected_seconds: float | None = None
    environment: Environment
    finished_at: str  # ISO 8601, UTC

    _path: Path | None = pydantic.PrivateAttr(default=None)

    @property
    def path(self) -> Path | None:
        """The file it was read from (None for a record not read from disk)."""
        return self._path

    @property
    def group_key(self) -> str:
        return self.config.group_key

    @property
    def label(self) -> str:
        return trial_label(self.config.to_json())

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=False)


def trial_label(config: dict[str, Any], defaults: dict[str, Any] | None = None, *, with_seed: bool = True) -> str:
    """The one readable name of a trial, e.g. "mren x4 scacb=osa smoke seed=1": model, scale, mode unless training,
    the model settings that differ from `defaults` (the registered defaults when not given), released weights or the
    training profile, and the seed unless 0."""
    if defaults is None:
        from harness import registry  # the registry imports every model; only labels without defaults need it

        # a record of a model this harness does not register (a plugin not loaded here) shows all its settings
        known = config["model"] in registry.MODELS
        defaults = registry.default_config_json(config["model"], config["scale"]) if known else {}
    parts = [config["model"], f"x{config['scale']}"]
    if config["mode"] != "train":
        parts.append(config["mode"])
    parts += [f"{name}={value}" for name, value in config["model_config"].items()
              if name != "scale" and defaults.get(name) != value]
    if config["weights"]:
        parts.append(config["weights"])
    if config["profile"]:
        parts.append(config["profile"])
    if with_seed and config["seed"] != 0:
        parts.append(f"seed={config['seed']}")
    return " ".join(parts)


def record_path(results_dir: Path, trial_id: str) -> Path:
    return ResultsLayout(Path(results_dir)).record(trial_id)


def read_record(path: Path) -> TrialRecord | None:
    """The record at `path`, or None when there is none. Anything else that is not a record of this format, in
    agreement with its own name and config, is a UserError naming the file."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"trial record {path} is not readable JSON ({error}); delete it to rerun the trial") from None
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if version != SCHEMA_VERSION:
        raise UserError(f"trial record {path} has format version {version!r}; this harness reads version "
                        f"{SCHEMA_VERSION} (delete it to rerun the trial)")
    try:
        record = TrialRecord.model_validate(raw)
    except pydantic.ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        raise UserError(f"trial record {path} (version {version}) is malformed at {where}: {problem['msg']}") from None
    hashed = trial_id(raw["config"])
    if record.trial_id != hashed or path.stem != record.trial_id:
        raise UserError(f"trial record {path} does not agree with itself: file name {path.stem}, trial_id "
                        f"{record.trial_id}, config hash {hashed} (a record copied or edited by hand?)")
    for dataset, visual in record.visuals.items():
        for name in (visual.file, visual.hr_file, visual.bicubic_file, visual.overview_file):
            if name is not None and not is_inside_results(name):
                raise UserError(f"trial record {path}: visuals.{dataset} names {name!r}, outside the results folder "
                                "(a record edited by hand?)")
    record._path = path
    return record


def is_inside_results(name: str) -> bool:
    """Whether `name`, a path a record gives relative to its results folder, stays inside it as written: relative,
    without '..' (links inside the folder are judged where the file is opened: results_file)."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return bool(parts) and not PurePosixPath(name).is_absolute() and ".." not in parts and ":" not in parts[0]


def results_file(results_dir: Path, name: str) -> Path:
    """The file a record names (relative to the results folder), resolved; a UserError when it, or a link on the way,
    leads out of the folder: a report embeds only the results' own files."""
    root = Path(results_dir).resolve()
    target = (root / name).resolve()
    if not is_inside_results(name) or root not in target.parents:
        raise UserError(f"{name} leads outside the results folder {results_dir}; a report embeds only files inside it")
    return target


def load_records(results_dir: Path) -> list[TrialRecord]:
    """Every trial record under `<results_dir>/trials/`, sorted by trial id."""
    results_dir = input_folder(Path(results_dir), "results folder")
    trials = ResultsLayout(results_dir).trials
    if trials.exists() or trials.is_symlink():  # an unreadable trials/ is not an empty one
        input_folder(trials, "records folder")
    records = [read_record(path) for path in sorted(trials.glob("*.json"))]
    return sorted((record for record in records if record is not None), key=lambda record: record.trial_id)


def write_record(results_dir: Path, record: TrialRecord, files: dict[str, bytes] | None = None) -> Path:
    """Write the files a record names (visual crops; paths relative to `results_dir`), then the record itself, all
    atomically: a record is only ever seen with its files. Only the driver of a run calls this (docs/cluster.md)."""
    root = Path(results_dir).resolve()
    for name, data in (files or {}).items():
        target = (root / name).resolve()
        if root not in target.parents or not is_inside_results(name):
            raise ValueError(f"record file {name!r} lies outside the results folder")
        write_bytes_atomic(target, data)
    path = record_path(results_dir, record.trial_id)
    write_json_atomic(path, record.to_json())
    return path
