"""The grid's price before it runs: each trial's iterations and projected time, the device-hours of the whole grid and
its wall time on the slots this machine has (`run --dry-run`, and the start of every run).

Projections come from measurement on the device the trials will use, never from an assumed speed: each distinct kind
of trial (model config, scale, and its training settings: harness/training/calibration.py) is calibrated for a few
seconds in child processes that run with the trials' own CPU kernel environment and threads. As many children run at
once as trials will share the device (all the slots on a CPU; the trials packed on one card with --gpus-per-trial
0.25), so a packed trial is priced from its measured throughput beside the others. Results are cached per user,
keyed by the device, torch's version, the threads, the sharing and the kind (`calibration_cache_dir`), as each kind
is measured: a second dry run prices at once. Configs that build the same modules with the same parameter shapes are
one kind (the cost of a forward pass does not read a weight's value).

Earlier trials of the same kind measured more than a calibration can: their records keep the training's steps per
second, taken over whole runs with the real data stream. When the results folder holds finished records of a kind,
run on this device (`_same_device`: device, its name, torch, host, threads and CPU kernel variables, as the trials
would run) with the execution a trial resolves to (eager or compiled: harness/training/execution.py), the mean of
their steady step times prices the trial's steps instead of the calibration's. Records do not say how many trials
shared the device when they ran: they are taken as measured under the sharing of this run.

A compiled trial (harness/training/execution.py: `auto` compiles the paper profile) also pays its compilation, at
its first steps: the mean `training.compile_seconds` of the records that priced its steps, else the compile time a
finished compiled trial of the kind wrote back into the calibration cache (`keep_compile_seconds`), else it is not
known, not included, and the summary says for how many kinds. Calibrations time eager steps only.

A calibration is only as good as the load it was measured under: each cache entry keeps the host's load average per
CPU and the time when it was measured. What slows a CPU-bound trial is contention, max(1, load per CPU): the share of
a core it gets. When the contention now and the entry's are more than STALE_CONTENTION_RATIO apart, the kind is
measured again (and a line says so); `run --recalibrate` measures every kind again. On a GPU the same rule holds: an
eager step there is launch-bound, paced by the host CPU, and a GPU calibration costs seconds.

A trial's projected time is its training steps times the measured step time, plus evaluation: a forward pass's
measured cost per call and per LR pixel over the images of its evaluation sets, once per protocol of the model, once
more for its visual crops and twice for its MAC count, plus the preparation of its training set. The wall time follows the grid's policy:
trials start in order as slots free up.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import json
import os
import pickle
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from harness import registry
from harness.atomic import write_json_atomic
from harness.conventions import PAPER_MACS_INPUT
from harness.data.bundled import BUNDLED_EVAL, BUNDLED_SET, load_bundled
from harness.data.images import list_images
from harness.errors import UserError
from harness.experiment.trial import RunSettings, Trial
from harness.records import Environment, Training, TrialRecord
from harness.training.calibration import CALIBRATION_FORMAT, Calibration, Kind
from harness.training.execution import default_execution
from harness.training.profiles import TrainSettings, cpu_kernel_environment

CACHE_VARIABLE = "MREN_CALIBRATION_CACHE"
# Evaluation runs one forward pass per image and protocol, one more for the visual crops, and the MAC count traces
# the model at PAPER_MACS_INPUT. That trace is one float32 pass, not two in the trial's precision: two over-price a
# float64 smoke trial's count, and offset what is not priced at all (the protocols' own preprocessing, the metrics,
# the crops' PNGs) and the per-pixel cost's growth beyond the calibration's 64x64. Pricing only the count right made
# the smoke grid's projection 0.69x its measured wall time, against 1.16x as it is (docs/benchmarks.md).
MAC_COUNT_FORWARDS = 2
VISUAL_FORWARDS = 1
# A cached calibration is measured again when max(1, load per CPU) now and when it was measured differ by more than
# this factor: a CPU-bound trial's speed follows its share of a core, and idle loads (below 1 per CPU) leave it whole.
STALE_CONTENTION_RATIO = 1.5


@dataclass(frozen=True)
class Placement:
    """Where trials run: the device type, trials at once, and how many of them share one device."""

    device: str  # "cpu" or "cuda"
    device_name: str  # e.g. "NVIDIA H200" or "x86_64, 2 CPUs"
    slots: int  # trials at once
    sharing: int  # trials sharing one device (all the slots on a CPU)
    threads: int  # torch CPU threads per trial
    share_of_device: float  # a trial's share in device-hours: its GPUs, or its CPUs on a CPU

    @property
    def unit(self) -> str:
        return "GPU-hours" if self.device == "cuda" else "CPU-hours"


@dataclass(frozen=True)
class TrialPrice:
    trial_id: str
    label: str
    iterations: int  # 0 for trials that train nothing
    train_seconds: float
    other_seconds: float  # evaluation, visual crops, MAC count, training set preparation
    done: bool
    compile_seconds: float = 0.0  # a compiled trial's compilation, when known

    @property
    def seconds(self) -> float:
        return self.train_seconds + self.compile_seconds + self.other_seconds

    @property
    def steps_per_second(self) -> float | None:
        return self.iterations / self.train_seconds if self.iterations and self.train_seconds > 0 else None


@dataclass(frozen=True)
class GridPrice:
    trials: tuple[TrialPrice, ...]
    placement: Placement
    calibration_seconds: float  # spent measuring now (0 when everything came from the cache)
    calibrated_kinds: int
    # training kinds (kind and execution) whose steps were priced from earlier records, and from calibrations
    steps_from_records: int = 0
    steps_from_calibrations: int = 0
    compile_unknown: int = 0  # compiled training kinds whose compile time nothing has measured yet (not included)
    cache_file: Path | None = None  # where the calibrations are cached
    kind_keys: dict[str, str] = field(default_factory=dict, compare=False)  # trial id -> its kind's cache key

    @property
    def to_run(self) -> tuple[TrialPrice, ...]:
        return tuple(price for price in self.trials if not price.done)

    @property
    def iterations(self) -> int:
        return sum(price.iterations for price in self.to_run)

    @property
    def device_hours(self) -> float:
        return sum(price.seconds for price in self.to_run) * self.placement.share_of_device / 3600

    @property
    def wall_seconds(self) -> float:
        """Trials start in order, each on the first slot that frees up (harness/experiment/grid_policy.py)."""
        slots = [0.0] * max(1, self.placement.slots)
        for price in self.to_run:
            earliest = min(range(len(slots)), key=slots.__getitem__)
            slots[earliest] += price.seconds
        return max(slots)

    def projection(self, trial_id: str) -> TrialPrice | None:
        return next((price for price in self.trials if price.trial_id == trial_id), None)

    def summary(self) -> str:
        place = self.placement
        measured = (f"calibrated {self.calibrated_kinds} kind{'s' if self.calibrated_kinds != 1 else ''} in "
                    f"{self.calibration_seconds:.0f} s" if self.calibrated_kinds else "calibrations from the cache")
        sources = ""
        if self.steps_from_records or self.steps_from_calibrations:
            sources = (f"; steps of {self.steps_from_records} training kind"
                       f"{'s' if self.steps_from_records != 1 else ''} from earlier records, "
                       f"{self.steps_from_calibrations} from calibrations")
        return (f"projected on {place.device_name} ({place.device}, {place.slots} at a time, {place.sharing} sharing "
                f"a device, {place.threads} thread{'s' if place.threads != 1 else ''} each): "
                f"{len(self.to_run)} trial{'s' if len(self.to_run) != 1 else ''} ahead, {self.iterations:,} training "
                f"iterations, "
                f"{self.device_hours:,.2f} {place.unit}, wall time {duration(self.wall_seconds)} ({measured}{sources})"
                + (f"; compile time not yet known for {self.compile_unknown} compiled kind"
                   f"{'s' if self.compile_unknown != 1 else ''}, not included" if self.compile_unknown else ""))

    def lines(self) -> list[str]:
        """A line per trial to run, then the summary."""
        rows = [f"  {price.trial_id}  {price.label:<40}  {price.iterations:>11,} it  {duration(price.seconds):>9}"
                + (f"  ({price.steps_per_second:.2f} it/s)" if price.steps_per_second else "")
                + (f"  (compile {duration(price.compile_seconds)})" if price.compile_seconds else "")
                for price in self.to_run]
        return [*rows, self.summary()]


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h{minutes:02d}m"
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


def kind_of(trial: Trial) -> Kind:
    config = trial.config
    return Kind(config.model, config.model_config, config.scale, config.train)


def calibration_cache_dir() -> Path:
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "mren-harness" / "calibration"


def price_grid(trials: Sequence[Trial], settings: RunSettings, placement: Placement, *, done: frozenset[str],
               cache_dir: Path | None = None, on_note: Callable[[str], None] = lambda line: None,
               records: Sequence[TrialRecord] = (), recalibrate: bool = False) -> GridPrice:
    """Price `trials` (those in `done` cost nothing), calibrating the kinds the cache does not hold, or holds from
    another load, or all of them with `recalibrate`. `records`: the finished trials of the results folder, whose
    measured speed prices the steps of trials of their kind."""
    import torch

    ahead = sum(1 for trial in trials if trial.trial_id not in done)
    # no more trials share a device than will run at all: a lone trial runs alone, and is measured alone
    placement = dataclasses.replace(placement, sharing=max(1, min(placement.sharing, ahead)))
    cache_file = (cache_dir or calibration_cache_dir()) / f"{_device_key(placement, torch.__version__)}.json"
    cache = _read_cache(cache_file)
    environment = cpu_kernel_environment(settings.profile)
    kinds = {kind_of(trial) for trial in trials if trial.trial_id not in done}
    keys = {kind: _kind_key(kind, placement, environment) for kind in kinds}
    # one kind per key: configs that build the same modules with the same parameter shapes cost the same
    representatives = {keys[kind]: kind for kind in sorted(kinds, key=lambda kind: json.dumps(kind.to_json()))}
    load = current_load_per_cpu()
    stale = sorted(key for key in representatives if key in cache
                   and (recalibrate or _is_stale(cache[key]["load_per_cpu"], load)))
    if stale:
        on_note(f"re-calibrating {len(stale)} cached kind{'s' if len(stale) != 1 else ''}: "
                + ("--recalibrate" if recalibrate else _stale_reason([cache[key] for key in stale], load)))
    missing = [representatives[key] for key in sorted(representatives) if key not in cache or key in stale]
    started = time.perf_counter()
    if missing:
        on_note(f"calibrating {len(missing)} kind{'s' if len(missing) != 1 else ''} of trial on {placement.device} "
                f"({placement.sharing} at once), cached in {cache_file.parent}")
        measured_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

        def keep(kind: Kind, calibration: Calibration) -> None:
            earlier = cache.get(keys[kind], {}).get("compile_seconds", {})  # no calibration measures compile time
            cache[keys[kind]] = dataclasses.replace(calibration, compile_seconds=earlier, load_per_cpu=round(load, 3),
                                                    measured_at=measured_at).to_json()
            try:  # after each kind: an interrupted calibration keeps what it measured
                write_json_atomic(cache_file, cache)
            except OSError:
                pass  # a cache that cannot be written only costs the next run the same calibration

        _calibrate(missing, settings, placement, environment, keep)
    measured = time.perf_counter() - started
    pixels = _EvalPixels(settings)
    unpriced = sorted({name for trial in trials if trial.trial_id not in done for name in trial.config.eval_sets
                       if not pixels.lr_pixels(name, 1)})
    if unpriced:
        on_note(f"not priced: evaluation on {', '.join(unpriced)} (not under the data root)")
    measured_runs = _measured_runs(records, placement, environment)
    from_records: set[tuple[str, str]] = set()
    from_calibrations: set[tuple[str, str]] = set()
    compile_unknown: set[tuple[str, str]] = set()
    prices = []
    for trial in trials:
        config = trial.config
        if trial.trial_id in done:
            prices.append(TrialPrice(trial.trial_id, trial.label, 0, 0.0, 0.0, True))
            continue
        calibration = Calibration(**cache[keys[kind_of(trial)]])
        iterations = config.train.iterations if config.train is not None else 0
        step_seconds, compile_seconds = calibration.step_seconds, 0.0
        if config.train is not None:
            trained = (keys[kind_of(trial)], execution_of(trial, settings, placement))
            runs = measured_runs.get(trained)
            if runs is not None:
                step_seconds = statistics.fmean(runs.step_seconds)
                from_records.add(trained)
            else:
                from_calibrations.add(trained)
            if trained[1] != "eager":
                if runs is not None and runs.compile_seconds:
                    compile_seconds = statistics.fmean(runs.compile_seconds)
                elif trained[1] in calibration.compile_seconds:
                    compile_seconds = calibration.compile_seconds[trained[1]]
                else:
                    compile_unknown.add(trained)
        protocols = len(registry.entry(config.model).protocols) if config.mode != "complexity" else 0
        eval_pixels = sum(pixels.lr_pixels(name, config.scale) for name in config.eval_sets)
        visual_pixels = max((pixels.largest_lr_pixels(name, config.scale) for name in config.eval_sets), default=0)
        mac_pixels = PAPER_MACS_INPUT.lr_size(config.scale)[0] * PAPER_MACS_INPUT.lr_size(config.scale)[1]
        forward_pixels = eval_pixels * protocols + visual_pixels * VISUAL_FORWARDS + mac_pixels * MAC_COUNT_FORWARDS
        calls = (sum(pixels.count(name) for name in config.eval_sets) * protocols
                 + (VISUAL_FORWARDS if config.eval_sets else 0) + MAC_COUNT_FORWARDS)
        other = (calibration.forward_seconds_per_lr_pixel * forward_pixels + calibration.forward_seconds_per_call * calls
                 + calibration.data_seconds)
        prices.append(TrialPrice(trial.trial_id, trial.label, iterations, iterations * step_seconds, other, False,
                                 compile_seconds))
    return GridPrice(tuple(prices), placement, measured, len(missing), len(from_records), len(from_calibrations),
                     len(compile_unknown), cache_file,
                     {trial.trial_id: keys[kind_of(trial)] for trial in trials if trial.trial_id not in done})


def keep_compile_seconds(price: GridPrice, trial_id: str, training: Training | None) -> None:
    """A finished compiled trial's compile time into its kind's calibration cache entry, for the next projection of
    that kind on this device (harness/experiment/grid_sinks.py CompileTimeKeeper calls it)."""
    key = price.kind_keys.get(trial_id)
    if (training is None or training.execution == "eager" or training.compile_seconds is None or key is None
            or price.cache_file is None):
        return
    cache = _read_cache(price.cache_file)
    if key not in cache:
        return
    cache[key]["compile_seconds"] = {**cache[key]["compile_seconds"], training.execution: training.compile_seconds}
    try:
        write_json_atomic(price.cache_file, cache)
    except OSError:
        pass  # the next projection only lacks this compile time


def current_load_per_cpu() -> float:
    """The host's 1-minute load average per CPU (0 where the platform has none)."""
    try:
        return os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:
        return 0.0


def _contention(load_per_cpu: float) -> float:
    return max(1.0, load_per_cpu)


def _is_stale(measured_load: float | None, load: float) -> bool:
    """Whether a calibration measured at `measured_load` per CPU misprices trials run at `load` (None: not kept)."""
    if measured_load is None:
        return True
    ratio = _contention(load) / _contention(measured_load)
    return max(ratio, 1 / ratio) > STALE_CONTENTION_RATIO


def _stale_reason(entries: list[dict], load: float) -> str:
    loads = [entry["load_per_cpu"] for entry in entries if entry["load_per_cpu"] is not None]
    times = sorted(entry["measured_at"] for entry in entries if entry["measured_at"])
    then = (f"measured at load {min(loads):.1f}" + (f"-{max(loads):.1f}" if max(loads) > min(loads) else "")
            + f" per CPU{f' (from {times[0]})' if times else ''}") if loads else ""
    unknown = len(entries) - len(loads)
    parts = [then] if then else []
    if unknown:
        parts.append(f"{unknown} without a recorded load")
    return (f"{'; '.join(parts)}; now {load:.1f} per CPU (contention max(1, load per CPU) more than "
            f"{STALE_CONTENTION_RATIO}x apart)" if loads else f"{'; '.join(parts)} (now {load:.1f} per CPU)")


def execution_of(trial: Trial, settings: RunSettings, placement: Placement) -> str:
    """How the trial's steps will run (harness/training/execution.py), as its record will say: CUDA graphs asked
    for off a CUDA device run compiled without them."""
    execution = default_execution(settings.execution, trial.config.train.profile)
    return "compiled" if execution == "compiled+cudagraphs" and placement.device != "cuda" else execution


@dataclass
class _Runs:
    """What the records of one kind and execution measured."""

    step_seconds: list[float]  # steady step times
    compile_seconds: list[float]  # compile times of the compiled runs that kept one


def _measured_runs(records: Sequence[TrialRecord], placement: Placement,
                   environment: dict[str, str]) -> dict[tuple[str, str], _Runs]:
    """What the records that trained on this device measured, by (kind key, execution). A record's speed is its
    last run's iterations over that run's seconds, which include the compilation of a compiled run: it is taken
    out (and priced on its own)."""
    import torch

    if not any(record.training is not None for record in records):
        return {}
    here = _this_device(placement.device)
    runs: dict[tuple[str, str], _Runs] = {}
    for record in records:
        training = record.training
        if training is None or not training.steps_per_second:
            continue
        if not _same_device(record.environment, placement, environment, here, torch.__version__):
            continue
        kind = _record_kind(record)
        if kind is None:
            continue
        trained = training.iterations - (training.resumed_from_iteration or 0)
        if trained <= 0:
            continue
        run_seconds = trained / training.steps_per_second
        step = max(run_seconds - (training.compile_seconds or 0.0), 0.0) / trained
        if step > 0:
            kept = runs.setdefault((_kind_key(kind, placement, environment), training.execution), _Runs([], []))
            kept.step_seconds.append(step)
            if training.compile_seconds is not None:
                kept.compile_seconds.append(training.compile_seconds)
    return runs


# Set per process by the executor (Ray sets them to a task's CPUs): the threads are compared as torch_threads.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _this_device(device: str) -> tuple[str, str]:
    """(device name as records write it, host name) of this machine."""
    import torch

    from harness.experiment.environment import environment

    return environment(torch.device(device)).device_name, socket.gethostname()


def _same_device(recorded: Environment, placement: Placement, kernels: dict[str, str], here: tuple[str, str],
                 torch_version: str) -> bool:
    """Whether a record ran where the trials will: what keys the calibration cache (device, its name, torch), on
    this host, with the trials' threads and CPU kernel variables (what a calibration's kind key holds)."""
    from harness.experiment.environment import KERNEL_VARIABLES

    expected = {name: os.environ[name] for name in KERNEL_VARIABLES if name in os.environ} | kernels
    return (recorded.device == placement.device and (recorded.device_name, recorded.hostname) == here
            and recorded.torch == torch_version and recorded.torch_threads == placement.threads
            and _without_threads(recorded.kernel_overrides) == _without_threads(expected))


def _without_threads(variables: dict[str, str]) -> dict[str, str]:
    """Kernel variables less the thread counts, which `torch_threads` compares."""
    return {name: value for name, value in variables.items() if name not in _THREAD_VARIABLES}


def _record_kind(record: TrialRecord) -> Kind | None:
    """The kind of a record's trial, rebuilt from its config; None when this harness cannot rebuild it (a model of
    a plugin not loaded, settings of another version)."""
    config = record.config
    if config.train is None:
        return None
    try:
        model_config = registry.make_config(config.model, config.scale, {
            name: _tuples(value) for name, value in config.model_config_.items() if name != "scale"}, from_text=False)
        return Kind(config.model, model_config, config.scale, TrainSettings(**config.train))
    except (UserError, TypeError, ValueError):
        return None


def _tuples(value: Any) -> Any:
    """JSON's lists as the tuples frozen configs hold."""
    return tuple(_tuples(item) for item in value) if isinstance(value, list) else value


def _calibrate(kinds: list[Kind], settings: RunSettings, placement: Placement, environment: dict[str, str],
               keep: Callable[[Kind, Calibration], None]) -> None:
    """Each kind measured in `placement.sharing` children at once; `keep` gets the mean of their figures for each
    kind as soon as every child has measured it."""
    header = json.dumps({"device": placement.device, "threads": placement.threads, "concurrent": placement.sharing,
                         "plugins": list(settings.plugins)})
    lines = "".join(base64.b64encode(pickle.dumps(kind)).decode() + "\n" for kind in kinds)
    command = [sys.executable, "-m", "harness.training.calibration"]
    children = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env={**os.environ, **environment})
                for _ in range(max(1, placement.sharing))]
    results: list[list[Calibration]] = [[] for _ in children]
    errors: list[str] = ["" for _ in children]

    def read(index: int, child: subprocess.Popen) -> None:
        for line in child.stdout:
            if line.strip():
                results[index].append(Calibration(**json.loads(line)))
        errors[index] = child.stderr.read()

    readers = [threading.Thread(target=read, args=(index, child), daemon=True) for index, child in enumerate(children)]
    for reader, child in zip(readers, children):
        reader.start()
        child.stdin.write(header + "\n" + lines)
        child.stdin.close()
    kept = 0
    try:
        while kept < len(kinds):
            ready = min(len(result) for result in results)
            for index in range(kept, ready):
                keep(kinds[index], _mean([result[index] for result in results]))
            kept = ready
            if kept < len(kinds):
                if any(child.poll() not in (None, 0) for child in children):
                    break
                if all(child.poll() is not None for child in children) and not any(r.is_alive() for r in readers):
                    break
                time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None and kept < len(kinds):
                child.kill()
            child.wait()
        for reader in readers:
            reader.join(timeout=5)
    if kept < len(kinds):
        failed = next((error for error in errors if error.strip()), "")
        last = failed.strip().splitlines()[-1] if failed.strip() else "a calibration process ended early"
        raise UserError(f"calibrating the grid's trials on {placement.device} failed: {last}")


def _mean(figures: list[Calibration]) -> Calibration:
    return Calibration(
        step_seconds=sum(f.step_seconds for f in figures) / len(figures),
        step_batch_measured=figures[0].step_batch_measured,
        forward_seconds_per_lr_pixel=sum(f.forward_seconds_per_lr_pixel for f in figures) / len(figures),
        forward_seconds_per_call=sum(f.forward_seconds_per_call for f in figures) / len(figures),
        data_seconds=sum(f.data_seconds for f in figures) / len(figures),
        measured_seconds=max(f.measured_seconds for f in figures), concurrent=len(figures))


def _device_key(placement: Placement, torch_version: str) -> str:
    text = json.dumps([CALIBRATION_FORMAT, placement.device, placement.device_name, torch_version,
                       platform.machine()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _kind_key(kind: Kind, placement: Placement, environment: dict[str, str]) -> str:
    """What a kind costs depends on its modules and their parameter shapes, not on other config values (Table 2's
    communication weights are one kind); and on the training settings, threads, sharing and kernels."""
    train = kind.to_json()["train"]
    text = json.dumps([kind.model, kind.scale, _structure(kind.model, kind.model_config), train, placement.threads,
                       placement.sharing, sorted(environment.items())], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@functools.lru_cache(maxsize=256)
def _structure(model: str, model_config: Any) -> tuple:
    built = registry.build_model(model, model_config)
    return (tuple((name, type(module).__name__) for name, module in built.named_modules()),
            tuple((name, tuple(parameter.shape)) for name, parameter in built.named_parameters()))


def _read_cache(path: Path) -> dict[str, dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    fields = Calibration.__dataclass_fields__
    required = {name for name, spec in fields.items()
                if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING}
    defaults = Calibration(**{name: 0 for name in required}).to_json()
    # entries written before a field with a default existed read with that default
    return {key: {**defaults, **value} for key, value in data.items()
            if isinstance(value, dict) and required <= set(value) <= set(fields)}


class _EvalPixels:
    """LR pixels of each evaluation set at a scale, from the images' headers (nothing is decoded but the bundled
    images, which are small)."""

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self.sizes: dict[str, list[tuple[int, int]]] = {}

    def _sizes(self, name: str) -> list[tuple[int, int]]:
        if name not in self.sizes:
            self.sizes[name] = _image_sizes(name, self.settings)
        return self.sizes[name]

    def lr_pixels(self, name: str, scale: int) -> int:
        return sum((height // scale) * (width // scale) for height, width in self._sizes(name))

    def count(self, name: str) -> int:
        return len(self._sizes(name))

    def largest_lr_pixels(self, name: str, scale: int) -> int:
        return max(((height // scale) * (width // scale) for height, width in self._sizes(name)), default=0)


def _image_sizes(name: str, settings: RunSettings) -> list[tuple[int, int]]:
    if name == BUNDLED_SET:
        return [tuple(load_bundled(image).shape[:2]) for image in BUNDLED_EVAL]
    if settings.data_root is None or not (settings.data_root / name).is_dir():
        return []  # missing: the plan's problems say so
    from PIL import Image

    folder = settings.data_root / name
    folder = folder / "HR" if (folder / "HR").is_dir() else folder
    sizes = []
    for path in list_images(folder):
        try:
            with Image.open(path) as image:
                width, height = image.size
        except OSError:
            continue  # unreadable: evaluation names it
        sizes.append((height, width))
    return sizes


def local_placement(*, cpus_per_trial: float, gpus_per_trial: float | None, num_cpus: int | None,
                    slots: int) -> Placement:
    """Where this machine runs the trials, given the run's resource options and the slots they leave."""
    import torch

    gpus = gpus_per_trial if gpus_per_trial is not None else (1.0 if torch.cuda.is_available() else 0.0)
    threads = max(1, int(cpus_per_trial))
    if gpus > 0 and torch.cuda.is_available():
        sharing = max(1, min(slots, int(round(1 / gpus, 6)))) if gpus < 1 else 1
        return Placement("cuda", torch.cuda.get_device_name(0), slots, sharing, threads, gpus)
    cpus = num_cpus or os.cpu_count() or 1
    return Placement("cpu", f"{platform.machine() or 'CPU'}, {cpus} CPUs", slots, max(1, slots), threads,
                     cpus_per_trial)
