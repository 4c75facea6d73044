"""Calibration: a few seconds' measurement of what one kind of trial costs on this device, for the grid's price
(harness/experiment/pricing.py).

A kind is a model config at a scale, with the trial's batch, patch and precision when it trains. For it we time:
- training steps (forward, L1 loss, backward, Adam) on random patches at the trial's batch, patch and precision, after
  one untimed step. On a CPU a step that would take long is measured at batch 1 and scaled by the batch (CPU
  convolutions cost in proportion to the pixels; a GPU step is always measured whole: it is launch-bound);
- one inference forward pass, per LR pixel, which prices evaluation, the visual crops and the MAC count;
- the training set's preparation for the bundled images (DIV2K's is read from its cache and negligible beside a
  paper-length training).

`python -m harness.training.calibration` reads kinds as JSON lines on stdin and writes results as JSON lines: the
pricing runs it as a child with the trials' own CPU kernel environment and threads, and runs as many children at
once as trials will share the device, so that packed trials are priced from their measured aggregate throughput.
"""

from __future__ import annotations

import base64
import functools
import json
import pickle
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from harness import registry
from harness.training.profiles import TrainSettings

CALIBRATION_FORMAT = 2  # 2: inference timed without autograd; older cache entries are not reused
STEP_SECONDS_BUDGET = 0.4  # timed training steps stop once this much has been spent (at least one step)
MAX_TIMED_STEPS = 4
WHOLE_BATCH_LIMIT_SECONDS = 1.0  # a CPU step estimated longer than this is measured at batch 1 and scaled
FORWARD_LR_SIDES = (32, 64)  # LR sides of the two inference passes timed: per-call cost and per-pixel slope
# Each size is timed up to FORWARD_REPEATS times, while less than FORWARD_SECONDS_BUDGET has been spent on it (at least
# once), and the median kept: the slope between two single calls swung 2x from one dry run to the next under load.
FORWARD_REPEATS = 3
FORWARD_SECONDS_BUDGET = 2.0


@dataclass(frozen=True)
class Kind:
    """What decides a trial's cost on a device (not its seed, not its table rows)."""

    model: str
    model_config: Any  # the model's frozen config dataclass (harness/registry.py)
    scale: int
    train: TrainSettings | None  # None for trials that train nothing

    def to_json(self) -> dict[str, Any]:
        """What keys the calibration cache."""
        return {"model": self.model, "model_config": asdict(self.model_config), "scale": self.scale,
                "train": asdict(self.train) if self.train is not None else None}


@dataclass(frozen=True)
class Calibration:
    step_seconds: float  # one training step at the trial's batch (0 when it trains nothing)
    step_batch_measured: int  # the batch actually timed (1 when scaled up on a CPU)
    forward_seconds_per_lr_pixel: float  # inference, in the training precision (float32 for other trials)
    forward_seconds_per_call: float  # what an inference pass costs beyond its pixels
    data_seconds: float  # preparing the training set (bundled images only)
    measured_seconds: float  # what the calibration itself took
    concurrent: int  # copies measured at once (trials sharing the device)
    # A compiled trial's compile time by execution ("compiled", "compiled+cudagraphs"), written back by the driver
    # when a compiled trial of the kind finishes (harness/experiment/pricing.py): a calibration never compiles.
    compile_seconds: dict[str, float] = field(default_factory=dict)
    # The host's 1-minute load average per CPU just before the calibration started, and when (ISO 8601, UTC): a
    # calibration measured under another load is measured again (harness/experiment/pricing.py). None in entries
    # written before they were kept, which are measured again once.
    load_per_cpu: float | None = None
    measured_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def calibrate(kind: Kind, device: torch.device, *, concurrent: int = 1) -> Calibration:
    started = time.perf_counter()
    torch.manual_seed(0)
    model = registry.build_model(kind.model, kind.model_config)
    step_seconds, batch_measured, data_seconds = 0.0, 0, 0.0
    if kind.train is not None:
        step_seconds, batch_measured = _step_seconds(model, kind.train, kind.scale, device)
        data_seconds = _data_seconds(kind.train, kind.scale)
    # Evaluation runs in the training precision (the loop leaves the model there), else in float32.
    dtype = getattr(torch, kind.train.precision) if kind.train is not None else torch.float32
    per_pixel, per_call = _forward_costs(registry.build_model(kind.model, kind.model_config), device, dtype)
    return Calibration(step_seconds, batch_measured, per_pixel, per_call, data_seconds,
                       time.perf_counter() - started, concurrent)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _step_seconds(model: torch.nn.Module, settings: TrainSettings, scale: int,
                  device: torch.device) -> tuple[float, int]:
    dtype = getattr(torch, settings.precision)
    model.to(device, dtype).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    lr_side = settings.hr_patch // scale

    def steps(batch: int, count: int) -> float:
        lr = torch.rand(batch, 3, lr_side, lr_side, device=device, dtype=dtype)
        hr = torch.rand(batch, 3, settings.hr_patch, settings.hr_patch, device=device, dtype=dtype)
        _synchronize(device)
        start = time.perf_counter()
        for _ in range(count):
            loss = F.l1_loss(model(lr), hr)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        _synchronize(device)
        return (time.perf_counter() - start) / count

    batch = settings.batch_size
    if device.type == "cpu" and batch > 1:
        steps(1, 1)  # untimed: first calls allocate and pick kernels
        single = steps(1, 1)
        if single * batch > WHOLE_BATCH_LIMIT_SECONDS:
            return single * batch, 1
    first = steps(batch, 1)  # untimed
    count = max(1, min(MAX_TIMED_STEPS, int(STEP_SECONDS_BUDGET / max(first, 1e-6))))
    return steps(batch, count), batch


def _data_seconds(settings: TrainSettings, scale: int) -> float:
    if settings.data != "bundled":
        return 0.0
    return _bundled_seconds(scale, settings.hr_patch, settings.augment)


@functools.lru_cache(maxsize=None)
def _bundled_seconds(scale: int, hr_patch: int, augment: bool) -> float:
    from harness.data.training import bundled_training_data

    start = time.perf_counter()
    bundled_training_data(scale, hr_patch=hr_patch, augment=augment)
    return time.perf_counter() - start


@torch.no_grad()  # as evaluation runs (harness/evaluation/inference.py): autograd's saved activations cost 1.7x
def _forward_costs(model: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> tuple[float, float]:
    """(seconds per LR pixel, seconds per call) of inference, from two input sizes: one size alone would spread the
    per-call cost over its few pixels and over-price large evaluation images."""
    model.to(device, dtype).eval()
    seconds = []
    for side in FORWARD_LR_SIDES:
        lr = torch.rand(1, 3, side, side, device=device, dtype=dtype)
        model(lr)  # untimed
        calls: list[float] = []
        while len(calls) < FORWARD_REPEATS and (not calls or sum(calls) < FORWARD_SECONDS_BUDGET):
            _synchronize(device)
            start = time.perf_counter()
            model(lr)
            _synchronize(device)
            calls.append(time.perf_counter() - start)
        seconds.append(sorted(calls)[(len(calls) - 1) // 2])  # the (lower) median: one call under load is noise
    small, large = (side * side for side in FORWARD_LR_SIDES)
    per_pixel = max((seconds[1] - seconds[0]) / (large - small), seconds[1] / large / 4)  # noise never makes it 0
    return per_pixel, max(0.0, seconds[0] - per_pixel * small)


def main() -> None:
    """Child process: first line {"device", "threads", "concurrent", "plugins"} as JSON, then one pickled Kind per
    line (base64: config dataclasses do not survive JSON); one Calibration per line back, as JSON."""
    header = json.loads(sys.stdin.readline())
    if header.get("threads"):
        torch.set_num_threads(int(header["threads"]))
    from harness.plugins import load_plugins

    load_plugins(tuple(header.get("plugins", ())))
    device = torch.device(header["device"])
    for line in sys.stdin:
        if line.strip():
            kind = pickle.loads(base64.b64decode(line))
            print(json.dumps(calibrate(kind, device, concurrent=int(header["concurrent"])).to_json()), flush=True)


if __name__ == "__main__":
    main()
