"""Training throughput: the harness's loop (`harness.training.loop.train`) against a bare PyTorch loop, side by side.

Both train the same model from the same initial weights with the same batch and patch size, L1 loss and Adam. The
bare loop reuses one batch of random tensors already on the device: no data loading, no loss bookkeeping, no
checkpoints. The harness loop draws real patches (the smoke profile's bundled images, or DIV2K with --data-root),
keeps its loss curve and writes its checkpoints. Each loop runs --repeats times, interleaved, and the best run of
each is kept, which damps the noise of a shared machine.

    python benchmarks/train_throughput.py [--model mren] [--scale 4] [--batch 16] [--hr-patch 48]
                                          [--iterations 20] [--device cpu|cuda] [--bf16] [--channels-last]
                                          [--sections loop,ops,compile,precision,patches] [--small]
    python benchmarks/train_throughput.py --patches [--small] [--device cpu|cuda]   (= --sections patches)

Further sections, each printed side by side in the same run:
- `ops`: operations per training step (ATen, views left out; harness/training/op_count.py) of every registered
  trainable model;
- `compile`: eager against compiled steps per second (harness/training/execution.py) of --model at the paper's
  batch and patch (16 x 3 x 48 x 48 LR patches at x4), with the compile time;
- `precision`: eager float32 against bf16 autocast and channels_last at the same batch and patch.
- `patches`: the training patch stream alone (`patch_throughput`, also called by benchmarks/gpu_check.py):
  patches per CPU-second at batch 16, HR patch 192, x4 and x2, on a synthetic DIV2K-sized set made here (decoded
  images of 2040x1356, random bytes: sampling does not care what the pixels show). The old path, one float patch per
  sample through a DataLoader as the loop had it until issue 18, runs beside the new ones: whole uint8 batches cut on
  the CPU (in process and in DataLoader workers) and cut on the device from a resident copy of the set. CPU time
  counts the process and its finished workers.
`--small` shrinks every section to seconds, and compiles with torch.compile's trace-only "eager" backend
(tests/test_benchmark_scripts.py runs it so).
"""

import argparse
import copy
import dataclasses
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from harness import registry
from harness.data.patch_stream import PatchBatch, PatchBatches, ResidentImages
from harness.data.training import TrainingPair, TrainingPatches
from harness.training.execution import prepare
from harness.training.op_count import profiled_launches, training_step_ops
from harness.training.training_set import training_data
from harness.training.loop import seed_everything, train
from harness.training.profiles import training_settings


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bare_loop(model: torch.nn.Module, lr: torch.Tensor, hr: torch.Tensor, iterations: int, learning_rate: float,
              device: torch.device, bf16: bool) -> float:
    """Seconds for `iterations` plain training steps on one fixed batch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, betas=(0.9, 0.999))
    model.train()
    return _timed_steps(model, optimizer, lr, hr, iterations, device, bf16)


def trainable_models() -> list[str]:
    """Every registered model with parameters to train (bicubic has none)."""
    return [name for name in sorted(registry.MODELS)
            if any(True for _ in registry.build_model(name, registry.make_config(name, 4)).parameters())]


def ops_per_step_section(scale: int, batch: int, lr_patch: int) -> dict[str, int]:
    """Print and return the ATen operations (views left out) of one training step of every trainable model."""
    print(f"operations per training step (forward and backward, ATen, views left out), x{scale}, "
          f"batch {batch}, LR patch {lr_patch}")
    print(f"  {'model':<14}{'ops':>7}{'convs':>7}  most frequent")
    totals: dict[str, int] = {}
    for name in trainable_models():
        torch.manual_seed(0)
        model = registry.build_model(name, registry.make_config(name, scale))
        lr = torch.rand(batch, 3, lr_patch, lr_patch)
        hr = torch.rand(batch, 3, lr_patch * scale, lr_patch * scale)
        ops = training_step_ops(model, lr, hr)
        totals[name] = sum(ops.values())
        frequent = ", ".join(f"{op} {count}" for op, count in ops.most_common(4))
        print(f"  {name:<14}{totals[name]:7d}{ops['convolution']:7d}  {frequent}")
    return totals


def _timed_steps(model: torch.nn.Module, optimizer: torch.optim.Optimizer, lr: torch.Tensor, hr: torch.Tensor,
                 steps: int, device: torch.device, bf16: bool = False) -> float:
    """Seconds for `steps` training steps on one fixed batch."""
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            sr = model(lr)
        loss = F.l1_loss(sr.float(), hr)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    synchronize(device)
    return time.perf_counter() - start


@dataclasses.dataclass
class _Contender:
    label: str
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    lr: torch.Tensor
    bf16: bool = False
    first_step: float = 0.0  # seconds of the first step: compilation included
    best: float = float("inf")  # seconds per step, best window


def side_by_side(contenders: list[_Contender], hr: torch.Tensor, steps: int, repeats: int,
                 device: torch.device) -> None:
    """Time each contender's first step, then `repeats` interleaved windows of `steps` steps; keep the best."""
    for contender in contenders:
        contender.first_step = _timed_steps(contender.model, contender.optimizer, contender.lr, hr, 1, device,
                                            contender.bf16)
        _timed_steps(contender.model, contender.optimizer, contender.lr, hr, 1, device, contender.bf16)
    for _ in range(repeats):
        for contender in contenders:
            seconds = _timed_steps(contender.model, contender.optimizer, contender.lr, hr, steps, device,
                                   contender.bf16)
            contender.best = min(contender.best, seconds / steps)


def compile_section(model_name: str, scale: int, batch: int, lr_patch: int, steps: int, repeats: int,
                    device: torch.device, backend: str = "inductor") -> dict[str, float]:
    """Eager against compiled steps per second of one model, side by side; returns steps/s and compile seconds.
    `backend` "eager" (the --small mode) traces without generating code: it checks the path, not the speed."""
    import torch._inductor.config
    torch._inductor.config.cpp.enable_kernel_profile = True  # so the profiler sees each generated CPU kernel
    torch.manual_seed(0)
    initial = registry.build_model(model_name, registry.make_config(model_name, scale)).to(device)
    lr = torch.rand(batch, 3, lr_patch, lr_patch, device=device)
    hr = torch.rand(batch, 3, lr_patch * scale, lr_patch * scale, device=device)
    contenders = []
    for execution in ("eager", "compiled"):
        prepared = prepare(copy.deepcopy(initial), execution, device, backend=backend)
        optimizer = torch.optim.Adam(prepared.module.parameters(), lr=5e-4)
        contenders.append(_Contender(execution, prepared.module, optimizer, lr))
    side_by_side(contenders, hr, steps, repeats, device)
    eager, compiled = contenders
    compile_seconds = max(0.0, compiled.first_step - compiled.best)
    launches = [profiled_launches(lambda: F.l1_loss(contender.model(contender.lr), hr).backward(), device)
                for contender in contenders]
    print(f"{model_name} x{scale} training step, batch {batch}, LR patch {lr_patch}, device {device}, "
          f"{torch.get_num_threads()} threads, best of {repeats} windows of {steps} steps")
    for contender in contenders:
        print(f"  {contender.label:<34}{1 / contender.best:8.3f} steps/s   first step {contender.first_step:7.1f} s")
    print(f"  {'compiled / eager':<34}{eager.best / compiled.best:8.3f}")
    print(f"  {'launches per step (profiled)':<34}{launches[0]:8d} eager, {launches[1]} compiled: "
          f"{1 - launches[1] / launches[0]:.0%} fewer")
    print(f"  {'compile time (first step - step)':<34}{compile_seconds:8.1f} s")
    return {"eager": 1 / eager.best, "compiled": 1 / compiled.best, "compile_seconds": compile_seconds,
            "eager_launches": launches[0], "compiled_launches": launches[1]}


def precision_section(model_name: str, scale: int, batch: int, lr_patch: int, steps: int, repeats: int,
                      device: torch.device) -> dict[str, float]:
    """Eager float32 against bf16 autocast, channels_last, and both, side by side; returns steps/s by label."""
    torch.manual_seed(0)
    initial = registry.build_model(model_name, registry.make_config(model_name, scale)).to(device)
    lr = torch.rand(batch, 3, lr_patch, lr_patch, device=device)
    hr = torch.rand(batch, 3, lr_patch * scale, lr_patch * scale, device=device)
    contenders = []
    for label, bf16, channels_last in (("float32", False, False), ("bf16 autocast", True, False),
                                       ("float32 channels_last", False, True),
                                       ("bf16 + channels_last", True, True)):
        model = copy.deepcopy(initial)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        contender_lr = lr.contiguous(memory_format=torch.channels_last) if channels_last else lr
        optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
        contenders.append(_Contender(label, model, optimizer, contender_lr, bf16))
    side_by_side(contenders, hr, steps, repeats, device)
    print(f"{model_name} x{scale} eager training step, batch {batch}, LR patch {lr_patch}, device {device}, "
          f"{torch.get_num_threads()} threads, best of {repeats} windows of {steps} steps")
    base = contenders[0].best
    for contender in contenders:
        print(f"  {contender.label:<34}{1 / contender.best:8.3f} steps/s   {base / contender.best:6.2f} x float32")
    return {contender.label: 1 / contender.best for contender in contenders}


class LegacyPatches(Dataset):
    """The per-sample stream as it was before issue 18 (same draws, same bytes): a pass's permutation rebuilt for
    every sample, and one float tensor per patch, collated by the DataLoader."""

    def __init__(self, patches: TrainingPatches) -> None:
        self.patches = patches

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        seed, sample = key
        data = self.patches
        count = len(data.pairs)
        order = np.random.default_rng((seed, sample // count, 0)).permutation(count)
        pair = data.pairs[order[sample % count]]
        rng = np.random.default_rng((seed, sample, 1))
        lr_patch = data.hr_patch // data.scale
        top = int(rng.integers(0, pair.lr.shape[0] - lr_patch + 1))
        left = int(rng.integers(0, pair.lr.shape[1] - lr_patch + 1))
        lr = pair.lr[top:top + lr_patch, left:left + lr_patch]
        hr = pair.hr[top * data.scale:(top + lr_patch) * data.scale, left * data.scale:(left + lr_patch) * data.scale]
        if data.augment:
            bits = rng.integers(0, 2, size=3)
            lr, hr = _legacy_dihedral(lr, *bits), _legacy_dihedral(hr, *bits)
        return _legacy_tensor(lr), _legacy_tensor(hr)


def _legacy_dihedral(patch: np.ndarray, horizontal: int, vertical: int, transpose: int) -> np.ndarray:
    if horizontal:
        patch = patch[:, ::-1]
    if vertical:
        patch = patch[::-1]
    return patch.transpose(1, 0, 2) if transpose else patch


def _legacy_tensor(patch: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(patch.transpose(2, 0, 1))).float().div_(255)


def synthetic_div2k(scale: int, *, images: int, height: int = 1356, width: int = 2040,
                    hr_patch: int = 192) -> TrainingPatches:
    """`images` decoded DIV2K-sized pairs of random bytes (the LR is a subsampling: only its size matters here)."""
    rng = np.random.default_rng(0)
    pairs = []
    for index in range(images):
        hr = rng.integers(0, 256, size=(height - height % scale, width - width % scale, 3), dtype=np.uint8)
        pairs.append(TrainingPair(f"synthetic{index:04d}", hr, np.ascontiguousarray(hr[::scale, ::scale])))
    return TrainingPatches(pairs, scale=scale, hr_patch=hr_patch, augment=True, description="synthetic DIV2K")


def _cpu_seconds() -> float:
    """This process and its finished children (DataLoader workers, once joined)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _patches_per_cpu_second(batches: Callable[[], Iterable[PatchBatch | list[torch.Tensor]]],
                            device: torch.device | None, dtype: torch.dtype, count: int) -> float:
    """Patches per CPU-second of a batch source, each batch converted to `dtype` on `device` as the loop does (not at
    all with no device: the host's share when a card does it)."""
    start = _cpu_seconds()
    delivered = 0
    for batch in batches():
        if isinstance(batch, PatchBatch):
            hr = batch.to_unit_float(device, dtype)[1] if device is not None else batch.hr
        else:  # the old path's collated float batch
            hr = batch[1].to(device, dtype) if device is not None else batch[1]
        delivered += hr.shape[0]
    if device is not None:
        synchronize(device)
    assert delivered == count, (delivered, count)
    return count / max(_cpu_seconds() - start, 1e-9)


def patch_throughput(*, device: torch.device | str | None = None, small: bool = False, batch: int = 16,
                     hr_patch: int = 192, scales: tuple[int, ...] = (4, 2), workers: int = 2,
                     batches: int | None = None, repeats: int = 2, threads: int | None = 1,
                     out=sys.stdout) -> dict[str, dict[str, float]]:
    """Print, and return by scale and path, training patches per CPU-second: the old per-sample path against the new
    batch paths, side by side. `small`: a few small images and batches, to check the script in seconds. `threads`:
    torch's CPU threads while measuring (one by default: idle threads spinning on a loaded machine count as CPU time
    without cutting a patch)."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _patch_throughput(device, small, batch, hr_patch, scales, workers, batches, repeats, out)
    finally:
        torch.set_num_threads(previous_threads)


def _patch_throughput(device: torch.device, small: bool, batch: int, hr_patch: int, scales: tuple[int, ...],
                      workers: int, batches: int | None, repeats: int, out) -> dict[str, dict[str, float]]:
    images, height, width = (4, 400, 300) if small else (24, 1356, 2040)
    hr_patch = min(hr_patch, 96) if small else hr_patch
    batches = batches or (4 if small else 60)
    count = batches * batch
    seed = 0
    cpu = torch.device("cpu")
    figures: dict[str, dict[str, float]] = {}
    print(f"training patches per CPU-second: batch {batch}, HR patch {hr_patch}, {images} synthetic "
          f"{width}x{height} images, {batches} batches per path, training device {device}, float32, "
          f"{torch.get_num_threads()} torch threads, best of {repeats}", file=out)
    for scale in scales:
        data = synthetic_div2k(scale, images=images, height=height, width=width, hr_patch=hr_patch)
        legacy = LegacyPatches(data)
        keys = [(seed, sample) for sample in range(count)]
        new = PatchBatches(data.stream, seed=seed, batch_size=batch)
        crops = PatchBatches(data.stream, seed=seed, batch_size=batch, oriented=False)
        context = "fork" if sys.platform == "linux" else None

        def loader(dataset: Dataset, **options) -> Callable[[], DataLoader]:
            return lambda: DataLoader(dataset, **options)

        old_keys = {"batch_size": batch, "sampler": keys}
        new_keys = {"batch_size": None, "sampler": range(batches)}
        in_workers = {"num_workers": workers, "multiprocessing_context": context}
        # (label, batches, where they become float): None means on the card, which is not the host's time
        paths: list[tuple[str, Callable[[], Iterable], torch.device | None]] = [
            ("old: float per sample, in process", loader(legacy, **old_keys), cpu),
            (f"old: float per sample, {workers} workers", loader(legacy, **old_keys, **in_workers), cpu),
            ("new, CPU run: uint8 batches, in process", loader(new, **new_keys), cpu),
            (f"new, CPU run: uint8 batches, {workers} workers", loader(new, **new_keys, **in_workers), cpu),
        ]
        if device.type == "cpu":
            paths += [
                ("new, GPU run, host share: uint8 crops, in process", loader(crops, **new_keys), None),
                (f"new, GPU run, host share: uint8 crops, {workers} workers",
                 loader(crops, **new_keys, **in_workers), None),
            ]
        else:
            resident = ResidentImages(data.stream, device)
            paths += [
                (f"new, GPU run: uint8 crops, oriented on {device.type}", loader(crops, **new_keys), device),
                (f"new, GPU run: set resident on {device.type}", lambda: (
                    resident.crop(seed, index * batch, (index + 1) * batch) for index in range(batches)), device),
            ]
        rates: dict[str, list[float]] = {label: [] for label, _, _ in paths}
        for _ in range(repeats):  # interleaved, best kept: a shared machine's noise only ever slows a path down
            for label, source, where in paths:
                rates[label].append(_patches_per_cpu_second(source, where, torch.float32, count))
        figures[f"x{scale}"] = {label: max(values) for label, values in rates.items()}
        print(f"  x{scale}", file=out)
        for label, rate in figures[f"x{scale}"].items():
            print(f"    {label:<54}{rate:10,.0f} patches/CPU-s", file=out)
        old = figures[f"x{scale}"]["old: float per sample, in process"]
        for label, rate in figures[f"x{scale}"].items():
            if label.startswith("new"):
                print(f"    {label + ' / old in process':<64}{rate / old:6.2f}x", file=out)
    return figures


SECTIONS = ("loop", "ops", "compile", "precision", "patches")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mren")
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--hr-patch", type=int, default=48)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3, help="untimed bare iterations first")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers of the harness loop")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--data-root", type=Path, default=None, help="train the harness loop on DIV2K from here")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated, of {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--paper-lr-patch", type=int, default=48,
                        help="LR patch of the compile and precision sections (the paper's 192 HR at x4)")
    parser.add_argument("--paper-batch", type=int, default=16, help="batch of the compile and precision sections")
    parser.add_argument("--steps", type=int, default=3, help="steps per timed window of compile and precision")
    parser.add_argument("--small", action="store_true", help="tiny sizes, trace-only compile: a seconds-long run")
    parser.add_argument("--patches", action="store_true", help="the patch stream section alone (--sections patches)")
    args = parser.parse_args()
    if args.patches:
        args.sections = "patches"
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sections = [name.strip() for name in args.sections.split(",") if name.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {', '.join(unknown)}; sections: {', '.join(SECTIONS)}")
    if args.small:
        args.iterations, args.repeats, args.warmup, args.batch, args.hr_patch = 2, 1, 1, 2, 24
        args.paper_batch, args.paper_lr_patch, args.steps = 2, 8, 1
    if "loop" in sections:
        loop_section(args, device)
    if "ops" in sections:
        ops_per_step_section(args.scale, 1 if args.small else 2, 24)  # the count does not depend on sizes
    if "compile" in sections:
        compile_section(args.model, args.scale, args.paper_batch, args.paper_lr_patch, args.steps, args.repeats,
                        device, backend="eager" if args.small else "inductor")
    if "precision" in sections:
        precision_section(args.model, args.scale, args.paper_batch, args.paper_lr_patch, args.steps, args.repeats,
                          device)
    if "patches" in sections:
        patch_throughput(device=device, small=args.small)


def loop_section(args: argparse.Namespace, device: torch.device) -> None:
    """The harness's loop against a bare PyTorch loop."""
    smoke = training_settings("smoke", epochs=1)
    settings = dataclasses.replace(
        smoke, epochs=1, iterations_per_epoch=args.iterations, iterations=args.iterations,
        batch_size=args.batch, hr_patch=args.hr_patch, checkpoint_every=args.iterations,
        log_every=max(1, args.iterations // 4), num_workers=args.workers,
        data="div2k" if args.data_root else "bundled")
    data = training_data(settings, args.scale, data_root=args.data_root)

    seed_everything(0)
    initial = registry.build_model(args.model, registry.make_config(args.model, args.scale))
    lr_patch = args.hr_patch // args.scale
    lr = torch.rand(args.batch, 3, lr_patch, lr_patch, device=device)
    hr = torch.rand(args.batch, 3, args.hr_patch, args.hr_patch, device=device)
    if args.channels_last:
        lr = lr.contiguous(memory_format=torch.channels_last)

    def fresh() -> torch.nn.Module:
        model = copy.deepcopy(initial).to(device)
        return model.to(memory_format=torch.channels_last) if args.channels_last else model

    bare_loop(fresh(), lr, hr, args.warmup, settings.learning_rate, device, args.bf16)
    bare_times, harness_times = [], []
    for _ in range(args.repeats):
        bare_times.append(bare_loop(fresh(), lr, hr, args.iterations, settings.learning_rate, device, args.bf16))
        with tempfile.TemporaryDirectory() as folder:
            summary = train(fresh(), settings, data=data, seed=0, checkpoint_dir=Path(folder), device=device,
                            bf16=args.bf16, channels_last=args.channels_last)
        harness_times.append(summary.seconds)

    bare_rate = args.iterations / min(bare_times)
    harness_rate = args.iterations / min(harness_times)
    print(f"{args.model} x{args.scale} training, batch {args.batch}, HR patch {args.hr_patch}, "
          f"{args.iterations} iterations, device {device}, {torch.get_num_threads()} threads, "
          f"bf16 {args.bf16}, channels_last {args.channels_last}, best of {args.repeats}")
    harness_label = f"harness loop ({settings.data} data, {args.workers} workers)"
    print(f"  {'bare PyTorch loop (one fixed batch)':<44}{bare_rate:8.3f} it/s")
    print(f"  {harness_label:<44}{harness_rate:8.3f} it/s")
    print(f"  {'harness / bare':<44}{harness_rate / bare_rate:8.3f}")


if __name__ == "__main__":
    main()
