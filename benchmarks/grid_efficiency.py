"""Parallel efficiency of `python -m harness run` on this machine: the same grid one trial at a time and in parallel.

    python benchmarks/grid_efficiency.py [--spec ablations/scacb.yaml] [--cpus 2] [--data-root ../shared/benchmarks]

Each pass runs the spec's smoke trials (1 CPU each) in a fresh results folder through the real command, Ray
start-up included: first on a local Ray of 1 CPU (serial), then of `--cpus` CPUs. Printed: per pass the wall time
and the sum of the trials' own times (their records' `seconds`); the parallel pass's efficiency, sum of trial times
over (wall time x CPUs); and the speedup, serial wall over parallel wall.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def run_pass(spec: Path, cpus: int, data_root: Path | None, results: Path) -> tuple[float, list[float]]:
    command = [sys.executable, "-m", "harness", "run", str(spec), "--profile", "smoke", "--results", str(results),
               "--num-cpus", str(cpus), "--cpus-per-trial", "1"]
    if data_root is not None:
        command += ["--data-root", str(data_root)]
    started = time.perf_counter()
    subprocess.run(command, cwd=REPOSITORY, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    seconds = [json.loads(path.read_text())["seconds"] for path in sorted((results / "trials").glob("*.json"))]
    return wall, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", type=Path, default=REPOSITORY / "ablations" / "scacb.yaml")
    parser.add_argument("--cpus", type=int, default=os.cpu_count())
    parser.add_argument("--data-root", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="grid-efficiency-") as folder:
        passes = {}
        for label, cpus in (("serial", 1), ("parallel", args.cpus)):
            wall, seconds = run_pass(args.spec.resolve(), cpus, args.data_root, Path(folder) / label)
            passes[label] = (wall, seconds)
            print(f"{label:>8}: {len(seconds)} trials on {cpus} CPU{'s' if cpus > 1 else ''}: wall {wall:7.1f} s, "
                  f"sum of trial times {sum(seconds):7.1f} s (per trial: {', '.join(f'{s:.1f}' for s in seconds)})")
    serial_wall = passes["serial"][0]
    parallel_wall, parallel_seconds = passes["parallel"]
    efficiency = sum(parallel_seconds) / (parallel_wall * args.cpus)
    print(f"parallel efficiency (sum of trial times / (wall x {args.cpus} CPUs)): {efficiency:.2f}")
    print(f"speedup (serial wall / parallel wall): {serial_wall / parallel_wall:.2f} on {args.cpus} CPUs "
          f"(ideal {args.cpus})")


if __name__ == "__main__":
    main()
