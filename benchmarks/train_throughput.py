"""Training throughput: the harness's loop (`harness.training.loop.train`) against a bare PyTorch loop, side by side.

Both train the same model from the same initial weights with the same batch and patch size, L1 loss and Adam. The
bare loop reuses one batch of random tensors already on the device: no data loading, no loss bookkeeping, no
checkpoints. The harness loop draws real patches (the smoke profile's bundled images, or DIV2K with --data-root),
keeps its loss curve and writes its checkpoints. Each loop runs --repeats times, interleaved, and the best run of
each is kept, which damps the noise of a shared machine.

    python benchmarks/train_throughput.py [--model mren] [--scale 4] [--batch 16] [--hr-patch 48]
                                          [--iterations 20] [--device cpu|cuda] [--bf16] [--channels-last]
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
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

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
