"""MREN x4 inference on one 320x180 LR image on this machine's CPU, against the bare convolution work it does.

    .venv/bin/python benchmarks/mren_cpu_inference.py [--model mren] [--scale 4] [--lr-size 180x320] [--profile]

The ideal time is the model's fvcore MACs divided by the throughput this machine reaches on a plain dense 3x3
nn.Conv2d of known MACs (same threads, same LR size, the faster of the two memory formats), timed in the same run.
The printed ratio model time / ideal conv time says how far the model is from "only its MACs, at dense-conv
speed": the cost of element-wise operators, narrow, 1x1 and depthwise convolutions, concatenations and upsampling.
The model is timed in the default (NCHW) memory format and in channels_last, interleaved with the reference.
"""

import argparse
import copy
import os
import statistics
import sys
import time
from typing import Callable

import torch
from torch import nn

from harness.evaluation.complexity import count_macs, count_params
from harness.registry import build_model, make_config

MEMORY_FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}
ROUNDS = 2  # interleaved, so that drifting machine load hits the model and the reference alike


def median_seconds(run: Callable[[], object], *, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mren")
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--lr-size", default="180x320", metavar="HxW", help="LR height x width (default 180x320)")
    parser.add_argument("--conv-channels", type=int, default=64, help="width of the reference convolution")
    parser.add_argument("--repeats", type=int, default=3, help="timed model runs per round")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--profile", action="store_true", help="also print the operators that take the time")
    args = parser.parse_args()
    lr_height, lr_width = (int(part) for part in args.lr_size.lower().split("x"))
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    model = build_model(args.model, make_config(args.model, args.scale)).eval()
    params = count_params(model)
    macs = count_macs(model, lr_height, lr_width)
    channels = args.conv_channels
    conv = nn.Conv2d(channels, channels, 3, padding=1).eval()
    conv_macs = channels * channels * 9 * lr_height * lr_width
    # the reference is counted the way the model is (fvcore needs a 3-channel input, hence the 1x1 in front)
    assert count_macs(nn.Sequential(nn.Conv2d(3, channels, 1, bias=False), conv), lr_height, lr_width).macs \
        == conv_macs + 3 * channels * lr_height * lr_width

    lr = torch.rand(1, 3, lr_height, lr_width)
    features = torch.rand(1, channels, lr_height, lr_width)
    runs: dict[str, Callable[[], object]] = {}
    for name, memory_format in MEMORY_FORMATS.items():
        model_copy = copy.deepcopy(model).to(memory_format=memory_format)
        conv_copy = copy.deepcopy(conv).to(memory_format=memory_format)
        lr_copy = lr.contiguous(memory_format=memory_format)
        features_copy = features.contiguous(memory_format=memory_format)
        runs[f"model {name}"] = lambda m=model_copy, x=lr_copy: m(x)
        runs[f"conv {name}"] = lambda c=conv_copy, x=features_copy: c(x)
    seconds: dict[str, list[float]] = {key: [] for key in runs}
    with torch.inference_mode():
        for _ in range(ROUNDS):
            for key, run in runs.items():
                repeats = args.repeats * 4 if key.startswith("conv") else args.repeats
                seconds[key].append(median_seconds(run, repeats=repeats, warmup=1))
    best = {key: min(values) for key, values in seconds.items()}
    conv_format = min(MEMORY_FORMATS, key=lambda name: best[f"conv {name}"])
    throughput = conv_macs / best[f"conv {conv_format}"]
    ideal_seconds = macs.macs / throughput

    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"machine    torch {torch.__version__}, {args.threads} CPU threads, {os.cpu_count()} CPUs, "
          f"load average {load} (other work on the machine distorts the timings)")
    print(f"model      {args.model} x{args.scale}, {params:,} params, LR {lr_width}x{lr_height} (WxH) -> "
          f"SR {lr_width * args.scale}x{lr_height * args.scale}, batch 1, inference_mode")
    print(f"MACs       {macs.macs / 1e9:.3f} G (fvcore; not counted: "
          f"{', '.join(name.removeprefix('aten::') for name in macs.unsupported) or 'nothing'})")
    for name in MEMORY_FORMATS:
        conv_seconds = best[f"conv {name}"]
        print(f"conv ref   Conv2d({channels}, {channels}, 3) on 1x{channels}x{lr_height}x{lr_width}, {name}: "
              f"{conv_macs / 1e9:.3f} GMACs in {conv_seconds * 1e3:.1f} ms = {conv_macs / conv_seconds / 1e9:.1f} "
              f"GMAC/s")
    print(f"ideal time {ideal_seconds * 1e3:.0f} ms (model MACs at the faster reference, {conv_format})")
    for name in MEMORY_FORMATS:
        model_seconds = best[f"model {name}"]
        print(f"model time {model_seconds * 1e3:.0f} ms {name} (median of {args.repeats}, best of {ROUNDS} "
              f"interleaved rounds): ratio {model_seconds / ideal_seconds:.2f} (model time / ideal conv time)")
    if args.profile:
        with torch.inference_mode(), torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            model(lr)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
    return 0


if __name__ == "__main__":
    sys.exit(main())
