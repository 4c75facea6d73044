"""How much a smoke-trained score depends on the CPU kernels and thread count, in float32 and in float64.

Trains one model at the smoke budget and scores it on Set5, once per (precision, kernels, threads), each in a fresh
process (the kernel variables are read when torch loads), and prints the scores, their spread per precision and the
time each took. The kernel variants force what CPUs without AVX-512 (AVX2) or without AVX (SSE4.2) would run:

    python benchmarks/kernel_spread.py [--model mren] [--scale 4] [--data-root ../shared/benchmarks]

docs/drift.md holds the figures this printed and what the drift gate makes of them.
"""

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
from harness.training.profiles import REPRODUCIBLE_CPU_KERNELS  # noqa: E402

PINNED = REPRODUCIBLE_CPU_KERNELS  # what a smoke run sets in its workers
KERNELS = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "sse4.2": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
    # The smoke profile's pinned set, on this CPU as it is and with MKL limited to what an AVX2-only CPU offers.
    "pinned": PINNED,
    "pinned-avx2": {**PINNED, "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mren")
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--data-root", type=Path, default=REPO_ROOT.parent / "shared" / "benchmarks")
    parser.add_argument("--precisions", nargs="+", default=["float32", "float64"])
    parser.add_argument("--kernels", nargs="+", default=list(KERNELS), choices=list(KERNELS))
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one variant, print JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_train_and_score(args.model, args.scale, args.data_root, *args.one.split(":"))))
        return

    print(f"{args.model} x{args.scale}, smoke budget, Set5 from {args.data_root}")
    print(f"{'precision':<10}{'kernels':<9}{'threads':>8}{'PSNR (dB)':>18}{'SSIM':>16}{'train s':>9}{'eval s':>8}")
    for precision in args.precisions:
        scores = []
        for kernels in args.kernels:
            for threads in args.threads:
                command = [sys.executable, __file__, "--model", args.model, "--scale", str(args.scale),
                           "--data-root", str(args.data_root), "--one", f"{precision}:{threads}"]
                output = subprocess.run(command, env={**os.environ, **KERNELS[kernels]}, capture_output=True,
                                        text=True, check=True).stdout
                result = json.loads(output.strip().splitlines()[-1])
                scores.append(result)
                print(f"{precision:<10}{kernels:<9}{threads:>8}{result['psnr_y']:>18.12f}{result['ssim_y']:>16.12f}"
                      f"{result['train_seconds']:>9.1f}{result['eval_seconds']:>8.1f}  ({result['capability']})",
                      flush=True)
        psnrs = [score["psnr_y"] for score in scores]
        ssims = [score["ssim_y"] for score in scores]
        print(f"{precision:<10}spread    PSNR {max(psnrs) - min(psnrs):.3e} dB, SSIM {max(ssims) - min(ssims):.3e}")


def _train_and_score(model_name: str, scale: int, data_root: Path, precision: str, threads: str) -> dict:
    import torch

    from harness import registry
    from harness.data.benchmark import open_benchmark
    from harness.training.training_set import training_data
    from harness.evaluation.evaluate import evaluate
    from harness.training.loop import seed_everything, train
    from harness.training.profiles import training_settings

    torch.set_num_threads(int(threads))
    settings = dataclasses.replace(training_settings("smoke", epochs=900), precision=precision)
    seed_everything(0)
    model = registry.build_model(model_name, registry.make_config(model_name, scale))
    data = training_data(settings, scale)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as checkpoints:
        train(model, settings, data=data, seed=0, checkpoint_dir=Path(checkpoints), device="cpu")
    trained = time.perf_counter()
    score = evaluate(model, open_benchmark(data_root / "Set5", scale))
    return {"psnr_y": score.psnr_y, "ssim_y": score.ssim_y, "train_seconds": trained - started,
            "eval_seconds": time.perf_counter() - trained, "capability": torch.backends.cpu.get_cpu_capability()}


if __name__ == "__main__":
    main()
