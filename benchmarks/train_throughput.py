"""Training throughput: the harness's loop (`harness.training.loop.train`) against a bare PyTorch loop, side by side.

Both train the same model from the same initial weights with the same batch and patch size, L1 loss and Adam. The
bare loop reuses one batch of random tensors already on the device: no data loading, no loss bookkeeping, no
checkpoints. The harness loop draws real patches (the smoke profile's bundled images, or DIV2K with --data-root),
keeps its loss curve and writes its checkpoints. Each loop runs --repeats times, interleaved, and the best run of
each is kept, which damps the noise of a shared machine.

    python benchmarks/train_throughput.py [--model mren] [--scale 4] [--batch 16] [--hr-patch 48]
                                          [--iterations 20] [--device cpu|cuda] [--bf16] [--channels-last]
                                          [--sections loop,ops,compile,precision] [--small]

Further sections, each printed side by side in the same run:
- `ops`: operations per training step (ATen, views left out; harness/training/op_count.py) of every registered
  trainable model;
- `compile`: eager against compiled steps per second (harness/training/execution.py) of --model at the paper's
  batch and patch (16 x 3 x 48 x 48 LR patches at x4), with the compile time;
- `precision`: eager float32 against bf16 autocast and channels_last at the same batch and patch.
`--small` shrinks every section to seconds, and compiles with torch.compile's trace-only "eager" backend
(tests/test_benchmark_scripts.py runs it so).
"""

import argparse
import copy
import dataclasses
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from harness import registry
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
    synchronize(device)
    start = time.perf_counter()
    for _ in range(iterations):
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            sr = model(lr)
        loss = F.l1_loss(sr.float(), hr)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    synchronize(device)
    return time.perf_counter() - start


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


SECTIONS = ("loop", "ops", "compile", "precision")


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
    args = parser.parse_args()
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
