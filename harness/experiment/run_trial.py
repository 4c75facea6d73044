"""Run one trial end to end, in this process: build, train or load weights, evaluate, count, crop, record.

Knows nothing of Ray (harness/experiment/ray_executor.py runs this in Ray tasks), and writes nothing into the results
folder: the record and the files it names come back in the TrialResult, for the caller to write (harness/records.py
write_record). A trial interrupted during training resumes from `<storage>/<trial_id>/last.pt`
(harness/experiment/storage.py; the default storage is `<results>/checkpoints`)."""

import functools
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from harness import records, registry
from harness.conventions import PAPER_MACS_INPUT
from harness.data.benchmark import BenchmarkSet, benchmark_from_images, open_benchmark
from harness.data.bundled import BUNDLED_EVAL, BUNDLED_SET, load_bundled
from harness.data.div2k import has_div2k
from harness.errors import UserError
from harness.evaluation.complexity import MacCount, count_macs, count_params
from harness.evaluation.evaluate import evaluate
from harness.evaluation.visuals import visual_crops
from harness.evaluation.weights import load_weights
from harness.experiment import storage
from harness.experiment.environment import environment
from harness.experiment.trial import RunSettings, Trial
from harness.experiment.trial_events import EventSink, TrialEvent, training_point
from harness.experiment.trial_records import build_record
from harness.inputs import INPUT_ERRNOS, os_error_line
from harness.plugins import load_plugins
from harness.records import Evaluation, Training, TrialRecord, Visual
from harness.training.execution import default_execution
from harness.training.loop import TrainingPoint, seed_everything, train
from harness.training.training_set import training_data

Progress = Callable[[str], None]  # receives a short status: "train 120/600 loss 0.0312", "eval Set5", ...


@dataclass(frozen=True)
class TrialResult:
    trial_id: str
    record: TrialRecord
    files: dict[str, bytes]  # files the record names, by path relative to the results folder (visual crops)
    seconds: float  # wall time of the whole trial in this run
    headline: str  # e.g. "Set5 31.20 dB / 0.8812, 298,000 params"

    def write(self, results_dir: Path) -> Path:
        """Write the record and its files into `results_dir`; the record's path."""
        return records.write_record(results_dir, self.record, self.files)


def run_trial(trial: Trial, settings: RunSettings, *, device: torch.device | str | None = None,
              on_progress: Progress | None = None, on_event: EventSink | None = None) -> TrialResult:
    """`on_progress` gets a short status now and then; `on_event` every line of the trial's log and its scalars
    (harness/experiment/trial_events.py), for the caller to write where it keeps them.

    A file-system error of the user's making (permission denied, disk full, a file where a folder belongs) is bad
    input, a UserError line that is not retried, like a check before the run would have said it (harness/inputs.py).
    """
    try:
        return _run_trial(trial, settings, device=device, on_progress=on_progress, on_event=on_event)
    except OSError as error:
        if error.errno not in INPUT_ERRNOS:
            raise
        raise UserError(os_error_line(error)) from None


def _run_trial(trial: Trial, settings: RunSettings, *, device: torch.device | str | None,
               on_progress: Progress | None, on_event: EventSink | None) -> TrialResult:
    started = time.perf_counter()
    report = on_progress or (lambda status: None)
    emit = on_event or (lambda event: None)
    config = trial.config
    load_plugins(settings.plugins)  # a plugin model's worker has not imported its plugin yet
    check_data_root(trial, settings)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    emit(TrialEvent(f"trial {trial.trial_id} ({trial.label}) feeding {trial.feeds_text}: starting on "
                    f"{socket.gethostname()}, device {device}"))
    model_config = config.model_config
    seed_everything(config.seed)  # before building: the initial weights come from this seed
    model = registry.build_model(config.model, model_config)

    training = None
    if config.mode == "train":
        training = _train(model, trial, settings, device, report, emit)
    elif config.weights is not None:
        emit(TrialEvent(f"loading weights {config.weights}"))
        load_weights(model, settings.weights_file(config.weights), model_name=config.model, scale=config.scale)
    step = training.iterations if training is not None else 0
    model.to(device).eval()

    metrics: dict[str, Evaluation] = {}
    visuals: dict[str, Visual] = {}
    files: dict[str, bytes] = {}
    for name in config.eval_sets:
        report(f"eval {name}")
        benchmark = load_eval_set(name, config.scale, settings)
        # every protocol registered for the model: the first gives psnr_y/ssim_y, the others ride along
        score = evaluate(model, benchmark, device=device, protocols=registry.entry(config.model).protocols,
                         label=f"trial {trial.trial_id} ({trial.label})")
        metrics[name] = score
        emit(TrialEvent(f"eval {name}: PSNR-Y {score.psnr_y:.4f} dB, SSIM-Y {score.ssim_y:.5f} ({score.protocol})",
                        scalars={f"eval/{name}/psnr_y": score.psnr_y, f"eval/{name}/ssim_y": score.ssim_y},
                        step=step))
        visual, crops = visual_crops(model, benchmark, trial_id=trial.trial_id, device=device)
        visuals[name] = visual
        files.update(crops)

    report("macs")
    mac_count = _count_macs(config.model, model_config, *PAPER_MACS_INPUT.lr_size(config.scale))
    params = count_params(model)
    macs_input = PAPER_MACS_INPUT.to_json(config.scale)
    seconds = time.perf_counter() - started
    emit(TrialEvent(f"params {params:,}, MACs {mac_count.macs:,}; finished in {seconds:.1f} s"))
    record = build_record(trial, metrics=metrics, params=params, macs=mac_count.macs, macs_input=macs_input,
                          macs_unsupported=mac_count.unsupported, training=training, visuals=visuals,
                          environment=environment(device), seconds=seconds)
    return TrialResult(trial.trial_id, record, files, seconds, _headline(metrics, params))


@functools.lru_cache(maxsize=64)
def _count_macs(model_name: str, model_config: Any, lr_height: int, lr_width: int) -> MacCount:
    """MACs of a fresh float32 copy of the architecture: they depend on the architecture and input size alone, and a
    worker that runs several trials of one architecture (Table 2's eleven) traces it once."""
    return count_macs(registry.build_model(model_name, model_config), lr_height, lr_width)


def check_data_root(trial: Trial, settings: RunSettings) -> None:
    """Fail first, in one line naming this node, when the data root the trial needs is not here."""
    config = trial.config
    needs = [name for name in config.eval_sets if name != BUNDLED_SET]
    if config.train is not None and config.train.data == "div2k":
        needs.append("DIV2K")
    if not needs or settings.data_root is None:
        return  # nothing needed, or no data root at all (input_problems tells the driver before a run)
    missing = [settings.data_root / name for name in needs
               if not (has_div2k(settings.data_root) if name == "DIV2K" else (settings.data_root / name).is_dir())]
    if missing:
        raise UserError(f"node {socket.gethostname()} has no {missing[0]} (--data-root {settings.data_root} must "
                        "exist on every node that runs trials)")


def _train(model: nn.Module, trial: Trial, settings: RunSettings, device: torch.device,
           report: Progress, emit: EventSink) -> Training:
    config = trial.config
    train_settings = config.train
    report("load training data")
    emit(TrialEvent(f"training: {train_settings.iterations} iterations, batch {train_settings.batch_size}, "
                    f"lr {train_settings.learning_rate:g}, {train_settings.precision}, data {train_settings.data}"))

    def say(line: str) -> None:  # the build's progress: the trial log, and a plain line on the driver's console
        emit(TrialEvent(line, console=True))

    # torch's thread count is the trial's CPUs (--cpus-per-trial: harness/experiment/ray_executor.py)
    data = training_data(train_settings, config.scale, data_root=settings.data_root,
                         cache_dir=settings.data_cache_dir, threads=torch.get_num_threads(), say=say, status=report)

    def on_iteration(iteration: int, total: int, loss: float) -> None:
        report(f"train {iteration}/{total} loss {loss:.4f}")

    def on_point(point: TrainingPoint) -> None:
        emit(training_point(point.iteration, point.total, point.loss, point.learning_rate,
                            point.iterations_per_second))

    with storage.checkpoint_folder(settings.checkpoint_location, trial.trial_id) as checkpoint_dir:
        def on_resume(path: Path, iteration: int) -> None:
            # The location in storage, not the local copy a URI storage is synced through
            where = f"{settings.checkpoint_location.rstrip('/')}/{trial.trial_id}/{path.name}"
            emit(TrialEvent(f"resumed from checkpoint {where} at iteration {iteration}", console=True))

        summary = train(model, train_settings, data=data, seed=config.seed, checkpoint_dir=checkpoint_dir,
                        device=device, on_progress=on_iteration, owner=trial.trial_id, on_point=on_point,
                        on_resume=on_resume, execution=default_execution(settings.execution, train_settings.profile))
    return summary


def load_eval_set(name: str, scale: int, settings: RunSettings) -> BenchmarkSet:
    if name == BUNDLED_SET:
        return benchmark_from_images(BUNDLED_SET, {image: load_bundled(image) for image in BUNDLED_EVAL}, scale)
    if settings.data_root is None:
        raise ValueError(f"evaluation set {name} needs a data root")  # input_problems reports this before a run
    return open_benchmark(settings.data_root / name, scale)


def _headline(metrics: dict[str, Evaluation], params: int) -> str:
    scores = [f"{name} {score.psnr_y:.2f} dB / {score.ssim_y:.4f}" for name, score in metrics.items()]
    return ", ".join([*scores, f"{params:,} params"])
