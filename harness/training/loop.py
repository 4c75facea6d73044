"""The training loop: L1 loss, Adam, the learning rate halved every `lr_halving_iterations`, resumable checkpoints.

`checkpoint_dir/last.pt` is rewritten atomically every `checkpoint_every` iterations and at the end. It holds
everything the rest of the run depends on (weights, optimizer and scheduler state, the RNG states, the iteration,
the loss curve so far and the half-finished curve point), so a run that resumes from it ends with the same weights
as one that never stopped (bit-identical on CPU). The data stream needs no saved state: sample k of a seed is a
pure function of (seed, k) (see harness/data/training.py). `checkpoint_dir/final.pt` holds the final state dict.
"""

import dataclasses
import io
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from harness.atomic import write_bytes_atomic
from harness.data.patch_stream import PatchBatch, PatchBatches, ResidentImages, fits_on_device, resident_batches
from harness.data.training import TrainingPatches
from harness.errors import UserError
from harness.records import Training
from harness.training.execution import Execution, PreparedModel, StepClock, prepare, release, step_begins
from harness.training.profiles import TrainSettings

CHECKPOINT_FORMAT = 1
LAST = "last.pt"
FINAL = "final.pt"
# Settings that change the trained weights or the curve; the others may differ between a run and its resumption.
_IRRELEVANT_TO_RESULT = ("num_workers", "checkpoint_every")
_WARMUP_STEPS = 3  # steps of a compiled run that may (re)compile: a compiler failure in them falls back to eager


@dataclass(frozen=True)
class TrainingPoint:
    """What `train` tells its `on_point` callback at every curve point (logs, TensorBoard, `status`)."""

    iteration: int
    total: int
    loss: float  # mean L1 loss since the previous point
    learning_rate: float  # the optimizer's rate for the next iteration
    iterations_per_second: float  # since the previous point (or the start of this run)


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy and Python's `random`; call it before building the model too."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def train(model: nn.Module, settings: TrainSettings, *, data: TrainingPatches, seed: int, checkpoint_dir: Path,
          device: torch.device, bf16: bool = False, channels_last: bool = False,
          on_progress: Callable[[int, int, float], None] | None = None, owner: str = "",
          on_point: Callable[[TrainingPoint], None] | None = None,
          on_resume: Callable[[Path, int], None] | None = None, execution: Execution = "eager") -> Training:
    """Train `model` in place for `settings.iterations` iterations, resuming from `checkpoint_dir/last.pt` if present.

    The model is moved to `device` and to `settings.precision`, and stays there: evaluate it in that precision.

    `data` is the training set; the loop takes samples k = iteration * batch size onwards of its stream for `seed`
    (harness/data/patch_stream.py), in whole batches.
    `on_progress(iteration, total, mean_loss)` is called at every curve point. The model is left in eval mode.
    `owner` (a trial id) is written into every checkpoint; a checkpoint of another owner is refused.
    `on_point` gets the same curve points with the learning rate and speed; `on_resume(checkpoint, iteration)` is
    called once when training continues from a checkpoint.
    `execution` (harness/training/execution.py) changes how steps run, not what they compute: it is recorded in the
    returned Training with the compile time; a model that fails to compile trains eagerly, and the note says why.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UserError(f"training seed must be a non-negative integer, got {seed!r}")
    device = torch.device(device)
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed patch size: the fastest kernels are found once
    dtype = getattr(torch, settings.precision)
    model.to(device, dtype)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate, betas=(0.9, 0.999))
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=settings.lr_halving_iterations, gamma=0.5)

    state = _Progress()
    last_path = checkpoint_dir / LAST
    resumed_from = None
    if last_path.exists():
        checkpoint = _load_checkpoint(last_path, settings, seed, owner)
        try:
            model.load_state_dict(checkpoint["model"])
            optimizer.load_state_dict(checkpoint["optimizer"])
        except (RuntimeError, ValueError, KeyError) as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UserError(f"{last_path}: checkpoint does not fit this model ({first_line})") from None
        scheduler.load_state_dict(checkpoint["scheduler"])
        _set_rng_states(checkpoint["rng"])
        state = _Progress.from_checkpoint(checkpoint, device)
        resumed_from = state.iteration
        if on_resume is not None:
            on_resume(last_path, resumed_from)
    else:
        seed_everything(seed)

    model.train()
    prepared = prepare(model, execution, device)
    clock = StepClock()
    started = time.perf_counter()
    last_point = (started, state.iteration)  # for iterations per second between curve points
    if state.iteration < settings.iterations:
        batches = _loader(data, settings, seed, state.iteration, device)
        for step, batch in enumerate(batches):
            lr, hr = batch.to_unit_float(device, dtype)
            if channels_last:
                lr = lr.contiguous(memory_format=torch.channels_last)
            clock.start()
            if step < _WARMUP_STEPS and prepared.execution != "eager":
                loss, prepared = _guarded_compiled_step(model, prepared, optimizer, lr, hr, dtype, bf16, device)
            else:
                step_begins(prepared.execution)
                loss = _step(prepared.module, optimizer, lr, hr, dtype, bf16, device)
            if step in (0, 2):
                _synchronize(device)
                clock.stop(step)
            scheduler.step()
            # Summed on the device: reading the loss every iteration would stall a GPU.
            state.loss_sum += loss.detach().double()
            state.loss_count += 1
            state.iteration += 1
            point = None
            if state.iteration % settings.log_every == 0 or state.iteration == settings.iterations:
                point = state.close_point()
            if state.iteration % settings.checkpoint_every == 0 or state.iteration == settings.iterations:
                seconds = state.seconds + time.perf_counter() - started
                _save_atomic(_checkpoint(model, optimizer, scheduler, settings, seed, owner, state, seconds),
                             last_path)
            if point is not None and on_progress is not None:
                on_progress(state.iteration, settings.iterations, point)
            if point is not None and on_point is not None:
                now = time.perf_counter()
                speed = (state.iteration - last_point[1]) / max(now - last_point[0], 1e-9)
                last_point = (now, state.iteration)
                on_point(TrainingPoint(state.iteration, settings.iterations, point,
                                       optimizer.param_groups[0]["lr"], speed))
    this_run = time.perf_counter() - started
    state.seconds += this_run
    trained_here = settings.iterations - (resumed_from or 0)
    release(model)  # evaluation runs eagerly: its image sizes vary, and each new size would recompile
    model.eval()
    final = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    _save_atomic(final, checkpoint_dir / FINAL)
    # The record's own `training` entry (docs/records.md): there is no other type for a finished training
    compile_seconds = clock.compile_seconds if prepared.execution != "eager" else None
    return Training(iterations=settings.iterations, seconds=round(state.seconds, 3), resumed_from_iteration=resumed_from,
                    curve=list(state.curve),
                    steps_per_second=round(trained_here / this_run, 4) if trained_here > 0 and this_run > 0 else None,
                    execution=prepared.execution, execution_note=prepared.note,
                    compile_seconds=None if compile_seconds is None else round(compile_seconds, 3))


def _step(module: nn.Module, optimizer: torch.optim.Optimizer, lr: torch.Tensor, hr: torch.Tensor,
          dtype: torch.dtype, bf16: bool, device: torch.device) -> torch.Tensor:
    """One training step; the loss, left on the device."""
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
        sr = module(lr)
    loss = F.l1_loss(sr.to(dtype), hr)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss


def _guarded_compiled_step(model: nn.Module, prepared: PreparedModel, optimizer: torch.optim.Optimizer,
                           lr: torch.Tensor, hr: torch.Tensor, dtype: torch.dtype, bf16: bool,
                           device: torch.device) -> tuple[torch.Tensor, PreparedModel]:
    """The first steps compile (and may recompile). A compiler failure (inductor still has bugs, e.g.
    replication_pad2d's backward in torch 2.13) must not fail the trial: the model is released and the step rerun
    eagerly before the optimizer applies it; when it is the first step, the result is that of an eager run."""
    try:
        step_begins(prepared.execution)
        return _step(prepared.module, optimizer, lr, hr, dtype, bf16, device), prepared
    except Exception as error:  # noqa: BLE001 - any compiler or compiled-kernel failure
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        release(model)
        optimizer.zero_grad(set_to_none=True)
        fallback = PreparedModel(model, "eager", f"{prepared.execution} failed at a first step "
                                                 f"({type(error).__name__}: {first_line[:200]}): trained eagerly")
        return _step(model, optimizer, lr, hr, dtype, bf16, device), fallback


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class _Progress:
    iteration: int = 0
    curve: list[tuple[int, float]] = dataclasses.field(default_factory=list)
    loss_sum: torch.Tensor | float = 0.0  # since the last curve point
    loss_count: int = 0
    seconds: float = 0.0

    def close_point(self) -> float:
        mean = float(self.loss_sum) / self.loss_count
        if not math.isfinite(mean):
            raise RuntimeError(f"training diverged: mean L1 loss is {mean} at iteration {self.iteration}")
        self.curve.append((self.iteration, mean))
        self.loss_sum, self.loss_count = 0.0, 0
        return mean

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any], device: torch.device) -> "_Progress":
        return cls(iteration=checkpoint["iteration"],
                   curve=[(int(iteration), float(loss)) for iteration, loss in checkpoint["curve"]],
                   loss_sum=checkpoint["loss_sum"].to(device), loss_count=checkpoint["loss_count"],
                   seconds=checkpoint["seconds"])


def data_workers(most: int, cpus: int) -> int:
    """DataLoader worker processes for a trial with `cpus` CPUs (torch's thread count, which the executor sets to the
    trial's --cpus-per-trial): one CPU stays with the training process, the others load, up to the profile's
    `num_workers`. One CPU: loading happens in the training process. The stream is the same for any count."""
    return max(0, min(most, cpus - 1))


def _loader(data: TrainingPatches, settings: TrainSettings, seed: int, start_iteration: int,
             device: torch.device) -> Iterable[PatchBatch]:
    """Batches start_iteration.. of the seed's stream as uint8: cut on a CUDA device that holds the set (the host
    only draws), else on the CPU; a CPU run's in DataLoader workers (`data_workers`) or in this process. Another device
    orients the crops itself, and its host crops in this process: a crop is a copy of contiguous rows, cheaper than
    shipping the batch from a worker (about 15,000 against 3,000 patches per CPU-second, docs/benchmarks.md), and
    the device's queued work overlaps it. The stream position is all the data state a resumption needs; the bytes
    are the same either way."""
    stream = data.stream
    if fits_on_device(stream, device):
        return resident_batches(ResidentImages(stream, device), seed=seed, batch_size=settings.batch_size,
                                start_batch=start_iteration, stop_batch=settings.iterations)
    on_cpu = device.type == "cpu"  # other devices orient the crops themselves, in batched operations
    workers = data_workers(settings.num_workers, torch.get_num_threads()) if on_cpu else 0
    # Forked workers share the decoded images copy-on-write; spawned ones would each unpickle a copy.
    context = "fork" if workers > 0 and sys.platform == "linux" else None
    return DataLoader(PatchBatches(stream, seed=seed, batch_size=settings.batch_size, oriented=on_cpu),
                      sampler=range(start_iteration, settings.iterations), batch_size=None, num_workers=workers,
                      pin_memory=device.type == "cuda", multiprocessing_context=context,
                      prefetch_factor=4 if workers > 0 else None)


def _checkpoint(model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, settings: TrainSettings,
                seed: int, owner: str, state: _Progress, seconds: float) -> dict[str, Any]:
    return {
        "format": CHECKPOINT_FORMAT,
        "owner": owner,
        "settings": dataclasses.asdict(settings),
        "seed": seed,
        "iteration": state.iteration,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": _rng_states(),
        "curve": [[iteration, loss] for iteration, loss in state.curve],
        "loss_sum": torch.as_tensor(state.loss_sum, dtype=torch.float64).cpu(),
        "loss_count": state.loss_count,
        "seconds": seconds,
    }


def _rng_states() -> dict[str, Any]:
    """Every RNG state as tensors and plain lists, so that torch.load(weights_only=True) can read it back."""
    _, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    version, python_state, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)},
        "python": {"version": version, "state": list(python_state), "gauss_next": gauss_next},
    }


def _set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])
    numpy_state = states["numpy"]
    np.random.set_state(("MT19937", numpy_state["keys"].numpy().astype(np.uint32), numpy_state["position"],
                         numpy_state["has_gauss"], numpy_state["cached_gaussian"]))
    python_state = states["python"]
    random.setstate((python_state["version"], tuple(python_state["state"]), python_state["gauss_next"]))


# What a checkpoint must hold, and of which type: a damaged or hand-made one is refused by name, never a KeyError.
_CHECKPOINT_FIELDS = {"owner": str, "settings": dict, "seed": int, "iteration": int, "model": dict, "optimizer": dict,
                      "scheduler": dict, "rng": dict, "curve": list, "loss_sum": torch.Tensor, "loss_count": int,
                      "seconds": float}
_RNG_FIELDS = ("torch", "cuda", "numpy", "python")


def _load_checkpoint(path: Path, settings: TrainSettings, seed: int, owner: str) -> dict[str, Any]:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # corrupt or foreign files fail in many ways inside the unpickler
        raise UserError(f"{path}: unreadable checkpoint ({type(error).__name__}); delete it to start over") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"{path}: not a training checkpoint of this harness (format {CHECKPOINT_FORMAT})")
    damaged = [name for name, kind in _CHECKPOINT_FIELDS.items() if not isinstance(checkpoint.get(name), kind)]
    if isinstance(checkpoint.get("rng"), dict):
        damaged += [f"rng.{name}" for name in _RNG_FIELDS if name not in checkpoint["rng"]]
    if damaged:
        raise UserError(f"{path}: damaged checkpoint ({', '.join(damaged)} missing or of the wrong type); delete it "
                        "to start over")
    if checkpoint["owner"] != owner:
        raise UserError(f"{path}: checkpoint of trial {checkpoint['owner'] or '(none)'}, not of trial "
                        f"{owner or '(none)'}; delete it to start over")
    expected = _result_settings(dataclasses.asdict(settings))
    if _result_settings(checkpoint["settings"]) != expected or checkpoint["seed"] != seed:
        raise UserError(f"{path}: checkpoint belongs to another training (settings or seed differ); "
                        "delete it or use another checkpoint folder")
    if not 0 <= checkpoint["iteration"] <= settings.iterations:
        raise UserError(f"{path}: checkpoint claims iteration {checkpoint['iteration']}, outside "
                        f"0..{settings.iterations}; delete it to start over")
    return checkpoint


def _result_settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in settings.items() if key not in _IRRELEVANT_TO_RESULT}


def _save_atomic(obj: Any, path: Path) -> None:
    # Serialized in memory, then written by Python: torch's own writer turns a full disk into "unexpected pos 576 vs
    # 534", even through a Python file; Python's write raises the OSError (ENOSPC) that atomic.py says as "disk full".
    # A checkpoint is a few megabytes.
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes_atomic(path, buffer.getbuffer())
