"""MATLAB-exact bicubic downscaling of a DIV2K-sized image: the tap-by-tap resize (`harness.data.matlab.imresize_uint8`)
against the dense matrix product it replaced (`baselines.matlab_bicubic.imresize`, still the Bicubic model's resize),
side by side in one run.

Both give the same uint8 image (checked here on every run); the dense one multiplies every input row by a whole row of
the (out, in) weight matrix, the tap-by-tap one only by the 4/scale + 2 taps of the widened kernel. Each is timed
--repeats times, interleaved, and the best run of each is kept, which damps the noise of a shared machine.

    python benchmarks/imresize_speed.py [--height 1356] [--width 2040] [--scales 4,2] [--repeats 3] [--threads N]
"""

import argparse
import time

import numpy as np
import torch

from baselines.matlab_bicubic import imresize as dense_imresize
from harness.data.matlab import imresize_uint8


def dense_imresize_uint8(image: np.ndarray, scale: float) -> np.ndarray:
    """The previous `imresize_uint8`: one dense float64 matrix product per dimension."""
    tensor = torch.from_numpy(np.array(image)).permute(2, 0, 1)
    return dense_imresize(tensor, scale, quantize_uint8=True).permute(1, 2, 0).to(torch.uint8).numpy()


def best_seconds(function, image: np.ndarray, scale: float, repeats: int) -> tuple[float, np.ndarray]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function(image, scale)
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--height", type=int, default=1356)
    parser.add_argument("--width", type=int, default=2040)
    parser.add_argument("--scales", default="4,2", help="downscaling factors, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads of the dense product (default: torch's; the tap-by-tap resize uses one, "
                             "and a DIV2K build runs one image per thread)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    image = np.random.default_rng(0).integers(0, 256, (args.height, args.width, 3), dtype=np.uint8)
    print(f"{args.width}x{args.height} RGB, best of {args.repeats}, torch threads {torch.get_num_threads()}")
    for scale in (int(text) for text in args.scales.split(",")):
        dense_times, tap_times = [], []
        for _ in range(args.repeats):  # interleaved: both see the same load
            dense, dense_result = best_seconds(dense_imresize_uint8, image, 1 / scale, 1)
            taps, tap_result = best_seconds(imresize_uint8, image, 1 / scale, 1)
            if not np.array_equal(dense_result, tap_result):
                raise SystemExit(f"x{scale}: the two resizes differ in {(dense_result != tap_result).sum()} values")
            dense_times.append(dense)
            tap_times.append(taps)
        print(f"x{scale}: dense {min(dense_times):.3f} s, tap by tap {min(tap_times):.3f} s, "
              f"{min(dense_times) / min(tap_times):.1f}x faster, identical output")


if __name__ == "__main__":
    main()
