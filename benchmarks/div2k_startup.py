"""DIV2K start-up, cold and warm cache: time to the first training iteration, the trial process's peak RSS, the cache.

Writes --images synthetic DIV2K-sized PNGs (2040 pixels on the long side, DIV2K-like heights, smooth content plus
noise, so that they compress roughly as photographs do) into a temporary folder, then runs the paper profile's start-up
twice, each in a fresh process as a trial does (harness.training.training_set.training_data, then the first batch of
harness.training.loop's loader: the data of iteration 1; the step itself is the model's business): first with an empty
cache (cold: every image decoded and downscaled, the cache written), then again (warm: the cache memory-mapped). Each
process reports its peak RSS (getrusage); the script prints both, the cache size, and whether the cold peak stays
within 2 GB of the warm one.

    python benchmarks/div2k_startup.py [--images 800] [--distinct N] [--scale 4] [--threads N] [--long-side 2040]
                                       [--keep DIR]

Small mode (tests/test_benchmark_scripts.py): --images 3 --long-side 256.
"""

import argparse
import functools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
ALLOWED_GAP_BYTES = 2 * 10 ** 9  # the acceptance bound: cold peak RSS at most 2 GB above the warm one
SHORT_SIDES = (1356, 1152, 1536, 1080, 1344, 1368)  # DIV2K's common heights for its 2040-wide images


@functools.lru_cache(maxsize=None)
def smooth_pattern(height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = [120 + 90 * np.sin(x / (37 + 11 * c) + y / (53 + 7 * c) + c) for c in range(3)]
    return np.stack(channels, axis=-1).astype(np.uint8)  # 30..210: room for the noise below


def synthetic_image(number: int, long_side: int) -> np.ndarray:
    """A smooth pattern (one per shape, shifted per image) plus uniform noise: cheap to make, and it compresses about
    as a photograph does."""
    rng = np.random.default_rng(number)
    short = max(192, SHORT_SIDES[number % len(SHORT_SIDES)] * long_side // 2040)
    height, width = (long_side, short) if number % 5 == 4 else (short, long_side)  # some portrait, as in DIV2K
    pattern = np.roll(smooth_pattern(height, width), shift=(number * 7, number * 13), axis=(0, 1))
    return pattern + rng.integers(0, 24, pattern.shape, dtype=np.uint8)


def write_image(arguments: tuple[Path, int, int]) -> None:
    from PIL import Image

    folder, number, long_side = arguments
    Image.fromarray(synthetic_image(number, long_side)).save(folder / f"{number:04d}.png", compress_level=1)


def make_data(root: Path, images: int, long_side: int, distinct: int) -> None:
    """Images 1..`images` that are not there yet; beyond `distinct`, hard links to the first ones (each is still
    decoded, downscaled and cached as an image of its own: only the PNG encoding is saved)."""
    folder = root / "DIV2K" / "DIV2K_train_HR"
    folder.mkdir(parents=True, exist_ok=True)
    made = min(images, distinct)
    todo = [(folder, number, long_side) for number in range(1, made + 1) if not (folder / f"{number:04d}.png").exists()]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(write_image, todo))
    for number in range(made + 1, images + 1):
        if not (folder / f"{number:04d}.png").exists():
            os.link(folder / f"{(number - 1) % made + 1:04d}.png", folder / f"{number:04d}.png")


def child(data_root: Path, cache: Path, scale: int, threads: int) -> None:
    """One trial's start-up in this process: the training set, then the first batch of the training loop's loader
    (the data of iteration 1; the step itself is the model's business and would dwarf the rest on a CPU)."""
    started = time.perf_counter()
    sys.path.insert(0, str(REPO_ROOT))
    import torch

    from harness.training.loop import _loader
    from harness.training.profiles import training_settings
    from harness.training.training_set import training_data

    torch.set_num_threads(threads)  # as the executor does for a trial with this many CPUs
    settings = training_settings("paper", epochs=1)
    data = training_data(settings, scale, data_root=data_root, cache_dir=cache, threads=threads,
                         say=lambda line: print(line, file=sys.stderr, flush=True))
    built = time.perf_counter()
    batch = next(iter(_loader(data, settings, 0, 0, torch.device("cpu"))))  # uint8, harness/data/patch_stream.py
    assert batch.hr.shape == (settings.batch_size, 3, settings.hr_patch, settings.hr_patch)
    first = [time.perf_counter()]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kilobytes
    print(json.dumps({"data_seconds": built - started, "first_iteration_seconds": first[0] - started,
                      "peak_rss": peak}))


def size(count: int) -> str:
    return f"{count / 1e9:.2f} GB" if abs(count) >= 1e8 else f"{count / 1e6:.1f} MB"


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def run_phase(name: str, data_root: Path, cache: Path, scale: int, threads: int) -> dict:
    started = time.perf_counter()
    process = subprocess.run([sys.executable, __file__, "--child", "--data-root", str(data_root), "--cache",
                              str(cache), "--scale", str(scale), "--threads", str(threads)], capture_output=True,
                             text=True)
    if process.returncode != 0:
        raise SystemExit(f"{name} start-up failed:\n{process.stderr}")
    result = json.loads(process.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - started
    result["cache_bytes"] = folder_bytes(cache)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=800)
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="the trial's CPUs: decoding threads (default: this machine's)")
    parser.add_argument("--long-side", type=int, default=2040)
    parser.add_argument("--keep", type=Path, default=None,
                        help="generate the images here (only those missing) and keep them")
    parser.add_argument("--distinct", type=int, default=None,
                        help="encode only this many distinct PNGs and hard-link the rest to them (default: all "
                             "distinct); PNG encoding is the slow part of making the data, not of the start-up")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.data_root, args.cache, args.scale, args.threads)
        return
    work = Path(tempfile.mkdtemp(prefix="div2k-startup-"))
    try:
        data_root = args.keep or work / "data"
        started = time.perf_counter()
        make_data(data_root, args.images, args.long_side, args.distinct or args.images)
        print(f"{args.images} synthetic PNGs, {min(args.images, args.distinct or args.images)} distinct "
              f"({size(folder_bytes(data_root))} counting links), ready in {time.perf_counter() - started:.0f} s")
        cache = work / "cache"
        print(f"{args.images} images, long side {args.long_side}, x{args.scale}, {args.threads} thread(s), "
              f"{os.cpu_count()} CPUs on this machine")
        results = {name: run_phase(name, data_root, cache, args.scale, args.threads)
                   for name in ("cold", "warm")}
        for name, result in results.items():
            print(f"{name}: first iteration's batch after {result['first_iteration_seconds']:.1f} s (training set "
                  f"ready after {result['data_seconds']:.1f} s), peak RSS {size(result['peak_rss'])}, cache "
                  f"{size(result['cache_bytes'])}")
        gap = results["cold"]["peak_rss"] - results["warm"]["peak_rss"]
        print(f"cold peak RSS - warm peak RSS = {'+' if gap >= 0 else '-'}{size(abs(gap))} "
              f"({'within' if gap <= ALLOWED_GAP_BYTES else 'BEYOND'} the 2 GB bound)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
