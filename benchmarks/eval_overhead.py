"""Evaluation overhead and metric speed, measured side by side in one run.

1. `harness eval` (the CLI, in-process) on Set5 and Set14 against the bare model forward on the same LR tensors.
2. The harness's PSNR/SSIM against scikit-image's `structural_similarity` and a plain numpy PSNR on the same
   images, checking that the values agree.

    python benchmarks/eval_overhead.py [--data-root ../shared/benchmarks] [--weights-dir ../shared/weights]
"""

import argparse
import contextlib
import io
import time
from pathlib import Path

import numpy as np
import torch
from skimage.metrics import structural_similarity

from harness import registry
from harness.cli import main as harness_main
from harness.data.benchmark import open_benchmark
from harness.evaluation.inference import super_resolve
from harness.evaluation.metrics import psnr_y, rgb_to_y, ssim_y
from harness.evaluation.weights import load_weights

REPO = Path(__file__).resolve().parents[1]


def timed(function, repeats: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "benchmarks")
    parser.add_argument("--weights-dir", type=Path, default=REPO.parent / "shared" / "weights")
    parser.add_argument("--scale", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    scale, sets = args.scale, ("Set5", "Set14")
    weights = args.weights_dir / f"IMDN_x{scale}.pth"

    model = registry.build_model("imdn", registry.make_config("imdn", scale))
    load_weights(model, weights, model_name="imdn", scale=scale)
    model.eval()
    benchmarks = [open_benchmark(args.data_root / name, scale) for name in sets]
    tensors = [torch.from_numpy(np.array(p.lr)).permute(2, 0, 1)[None].float() / 255
               for b in benchmarks for p in b.pairs]

    def bare_forward() -> None:
        with torch.no_grad():
            for tensor in tensors:
                model(tensor)

    def harness_eval() -> None:
        for name in sets:
            with contextlib.redirect_stdout(io.StringIO()):
                harness_main(["eval", "--model", "imdn", "--weights", str(weights), "--data",
                              str(args.data_root / name), "--scale", str(scale)])

    bare_forward()  # warm-up: first-call allocations and thread pools
    bare = timed(bare_forward)
    full = timed(harness_eval)
    print(f"IMDN x{scale} on {' + '.join(sets)} ({len(tensors)} images, {torch.get_num_threads()} threads)")
    print(f"  bare model forward      {bare:8.2f} s")
    print(f"  harness eval (CLI)      {full:8.2f} s   (loading, degradation, metrics, table)")
    print(f"  overhead ratio          {full / bare:8.2f} x")

    pairs = [(super_resolve(model, p.lr), p.hr) for b in benchmarks for p in b.pairs]

    def ours() -> list[tuple[float, float]]:
        return [(psnr_y(sr, hr, crop_border=scale), ssim_y(sr, hr, crop_border=scale)) for sr, hr in pairs]

    def reference() -> list[tuple[float, float]]:
        values = []
        for sr, hr in pairs:
            y_sr = rgb_to_y(sr)[scale:-scale, scale:-scale]
            y_hr = rgb_to_y(hr)[scale:-scale, scale:-scale]
            psnr = 10 * np.log10(255.0 ** 2 / np.mean((y_sr - y_hr) ** 2))
            ssim = structural_similarity(y_sr, y_hr, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                         data_range=255)
            values.append((psnr, ssim))
        return values

    ours_values, reference_values = ours(), reference()
    largest = np.abs(np.array(ours_values) - np.array(reference_values)).max(axis=0)
    ours_time, reference_time = timed(ours, 3), timed(reference, 3)
    print(f"metrics on the same {len(pairs)} SR/HR pairs")
    print(f"  harness psnr_y + ssim_y           {ours_time * 1000:8.1f} ms")
    print(f"  numpy PSNR + skimage SSIM         {reference_time * 1000:8.1f} ms")
    print(f"  speed ratio (reference / harness) {reference_time / ours_time:8.2f} x")
    print(f"  largest difference                PSNR {largest[0]:.2e} dB, SSIM {largest[1]:.2e}")


if __name__ == "__main__":
    main()
