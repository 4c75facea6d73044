"""The prepared check for the first GPU: one command, at most about 8 minutes on one card, every figure issue 18 asks.

    python benchmarks/gpu_check.py [--out results/gpu_check] [--budget-s 480] [--data-root DIR]
    python benchmarks/gpu_check.py --small      # CPU, seconds-long sizes: the CI run that catches typos

It prints, and writes as gpu_check.md (a section docs/benchmarks.md can take) and gpu_check.json:
- the card, its driver, torch and CUDA versions;
- MREN x4 and x2 training steps per second at the paper's batch and patch (16 LR patches of 48x48 at x4, 96x96 at
  x2: 192x192 HR), for eager float32, bf16 autocast, bf16 + channels_last, compiled, compiled + CUDA graphs, with
  the compile time and the peak memory of each;
- the aggregate steps per second of 1, 2, 4 and 8 trials (processes) sharing the card;
- the training patch stream's patches per second against the appetite of the fastest step (batch x steps/s);
- the projected device-hours of ablations/paper.yaml (parsed from `run --dry-run`, when it prints a projection;
  the small mode prices the smoke Table 3);
- the smoke Table 3 run with `--gpus-per-trial 0.25`, its wall time and its table.

Each trial runs in its own process (`--worker`), so that its peak memory and compile caches are its own and a stuck
compile is cut by a timeout instead of eating the card's budget. Parts that would overrun --budget-s are skipped and
say so. In --small mode the sizes are tiny, compiling traces without generating code (backend "eager") and the
Table 3 run is only a dry run: the code paths are those of the GPU run.
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIGS = {  # label -> (execution, bf16, channels_last)
    "eager fp32": ("eager", False, False),
    "bf16": ("eager", True, False),
    "bf16 + channels_last": ("eager", True, True),
    "compiled": ("compiled", False, False),
    "compiled + CUDA graphs": ("compiled+cudagraphs", False, False),
}
PAPER_BATCH = 16
PAPER_HR_PATCH = 192
PACKING = (1, 2, 4, 8)


@dataclass
class Figures:
    machine: dict[str, str] = field(default_factory=dict)
    steps: list[dict] = field(default_factory=list)  # one per (scale, config)
    packing: list[dict] = field(default_factory=list)
    loader: dict = field(default_factory=dict)
    projection: dict = field(default_factory=dict)
    table3: dict = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


# --- one trial, in its own process ---

def worker(scale: int, config: str, batch: int, hr_patch: int, steps: int, device_name: str,
           backend: str, threads: int | None) -> dict:
    """Train MREN for warm-up and timed steps on one fixed batch; steps/s, compile seconds, peak memory."""
    import torch
    import torch.nn.functional as F

    if threads:
        torch.set_num_threads(threads)
    from harness import registry
    from harness.training.execution import prepare, step_begins

    execution, bf16, channels_last = CONFIGS[config]
    device = torch.device(device_name)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    model = registry.build_model("mren", registry.make_config("mren", scale)).to(device)
    lr_patch = hr_patch // scale
    lr = torch.rand(batch, 3, lr_patch, lr_patch, device=device)
    hr = torch.rand(batch, 3, hr_patch, hr_patch, device=device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        lr = lr.contiguous(memory_format=torch.channels_last)
    prepared = prepare(model, execution, device, backend=backend)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)

    def run(count: int) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        for _ in range(count):
            step_begins(prepared.execution)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
                sr = prepared.module(lr)
            loss = F.l1_loss(sr.float(), hr)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    first = run(1)
    run(2)  # the second step may still recompile (the optimizer's state appears after the first)
    seconds = run(steps)
    step = seconds / steps
    return {"scale": scale, "config": config, "execution": prepared.execution, "note": prepared.note,
            "steps_per_second": round(1 / step, 3), "compile_seconds": round(max(0.0, first - step), 1),
            "peak_memory_mib": round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
            if device.type == "cuda" else None}


def spawn_worker(args: argparse.Namespace, scale: int, config: str) -> subprocess.Popen:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", f"{scale}:{config}",
               "--batch", str(args.batch), "--hr-patch", str(args.hr_patch), "--steps", str(args.steps),
               "--device", args.device, "--backend", args.backend] + (["--threads", str(args.threads)]
                                                                       if args.threads else [])
    return subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})


def collect(process: subprocess.Popen, timeout: float) -> dict | str:
    """The worker's figures, or a one-line reason it gave none."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return f"timed out after {timeout:.0f} s"
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        last = (err.strip().splitlines() or ["no output"])[-1]
        return f"exit {process.returncode}: {last[:300]}"
    return json.loads(lines[-1])


# --- the parts ---

def machine(device: str) -> dict[str, str]:
    import torch
    facts = {"torch": torch.__version__, "python": platform.python_version(), "device": device,
             "cuda": str(torch.version.cuda), "host cpus": str(os.cpu_count())}
    if device.startswith("cuda") and torch.cuda.is_available():
        facts["card"] = torch.cuda.get_device_name(0)
        facts["cards"] = str(torch.cuda.device_count())
        facts["memory GiB"] = f"{torch.cuda.get_device_properties(0).total_memory / 2**30:.0f}"
        facts["cudnn"] = str(torch.backends.cudnn.version())
        try:
            facts["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                             capture_output=True, text=True, timeout=20).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            facts["driver"] = "unknown (nvidia-smi failed)"
    else:
        facts["card"] = platform.processor() or platform.machine()
    return facts


def steps_part(args: argparse.Namespace, figures: Figures, deadline: float) -> None:
    for scale in args.scales:
        for config in CONFIGS:
            left = deadline - time.monotonic()
            if left < 20:
                figures.skipped.append(f"x{scale} {config}: budget spent")
                continue
            result = collect(spawn_worker(args, scale, config), timeout=min(left, args.trial_timeout))
            if isinstance(result, str):
                result = {"scale": scale, "config": config, "error": result}
            figures.steps.append(result)
            print(f"  x{scale} {config:<24}" + (f"{result['steps_per_second']:9.2f} steps/s  compile "
                  f"{result['compile_seconds']:6.1f} s  peak {result['peak_memory_mib']} MiB  {result['note']}"
                  if "error" not in result else f"  failed: {result['error']}"), flush=True)


def packing_part(args: argparse.Namespace, figures: Figures, deadline: float) -> None:
    """N eager fp32 x4 trials at once on the card: the aggregate steps/s (each process measures its own)."""
    scale = args.scales[0]
    for count in args.packing:
        left = deadline - time.monotonic()
        if left < 30:
            figures.skipped.append(f"packing {count}: budget spent")
            continue
        processes = [spawn_worker(args, scale, "eager fp32") for _ in range(count)]
        results = [collect(process, timeout=min(left, args.trial_timeout)) for process in processes]
        failed = [result for result in results if isinstance(result, str)]
        row = {"trials": count, "scale": scale, "config": "eager fp32"}
        if failed:
            row["error"] = failed[0]
        else:
            row["aggregate_steps_per_second"] = round(sum(r["steps_per_second"] for r in results), 3)
            row["per_trial_steps_per_second"] = [r["steps_per_second"] for r in results]
            row["peak_memory_mib"] = max((r["peak_memory_mib"] or 0) for r in results) or None
        figures.packing.append(row)
        print(f"  {count} trial(s) sharing: " + (f"{row['aggregate_steps_per_second']:.2f} steps/s in all"
                                                 if "error" not in row else f"failed: {row['error']}"), flush=True)


def loader_part(args: argparse.Namespace, figures: Figures) -> None:
    """Patches per CPU-second of the training patch stream, against the appetite of the fastest measured step."""
    best = max((row["steps_per_second"] for row in figures.steps if "steps_per_second" in row), default=None)
    appetite = None if best is None else round(best * args.batch, 1)
    # benchmarks/train_throughput.py's patch section measures the path a GPU run uses (batches cut and oriented on
    # the card, or the whole set resident there); the best of those paths is what feeds the card.
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    from train_throughput import patch_throughput
    scale = args.scales[0]
    rates = patch_throughput(device=args.device, small=args.small, batch=args.batch,
                             hr_patch=min(args.hr_patch, 48) if args.small else args.hr_patch, scales=(scale,),
                             repeats=1)[f"x{scale}"]
    gpu_paths = {label: rate for label, rate in rates.items() if label.startswith("new, GPU run")}
    source, measured = max(gpu_paths.items(), key=lambda item: item[1])
    measured = round(measured, 1)
    figures.loader = {"patches_per_second": measured, "source": source, "step_appetite": appetite,
                      "fed": None if appetite is None or not isinstance(measured, (int, float))
                      else measured >= appetite}
    print(f"  loader ({source}): {measured} patches/s; the fastest step eats {appetite} patches/s", flush=True)


def projection_part(args: argparse.Namespace, figures: Figures) -> None:
    """`run ablations/paper.yaml --profile paper --dry-run`, and whatever projection it prints. The small mode prices
    the smoke Table 3 instead, by the same code: calibrating every kind of the paper grid at the paper's batch and
    patch takes minutes on a CPU, which is not what a typo check is for."""
    spec, profile = ("ablations/scacb.yaml", "smoke") if args.small else ("ablations/paper.yaml", "paper")
    command = [sys.executable, "-m", "harness", "run", spec, "--profile", profile, "--dry-run",
               "--execution", args.best_execution]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stdout.splitlines() if re.search(r"(?:GPU|CPU|device).hours|projected", line, re.I)]
    hours = [float(number.replace(",", "")) for line in lines
             for number in re.findall(r"([\d,]+(?:\.\d+)?)\s*(?:GPU|CPU|device).hours", line, re.I)]
    figures.projection = {"command": " ".join(command[1:]), "exit": done.returncode, "lines": lines,
                          "device_hours": hours[-1] if hours else None}
    print("  " + ("\n  ".join(lines) if lines else "run --dry-run printed no projection (not in this version)"),
          flush=True)


def table3_part(args: argparse.Namespace, figures: Figures, deadline: float) -> None:
    """The smoke Table 3 with four trials to a card; in --small mode only its dry run."""
    left = deadline - time.monotonic()
    if left < 60 and not args.small:
        figures.skipped.append("table3: budget spent")
        return
    with tempfile.TemporaryDirectory() as results:
        command = [sys.executable, "-m", "harness", "run", "ablations/scacb.yaml", "--profile", "smoke",
                   "--results", results]
        # a CPU has no card to share: the small mode only checks the command line, as a dry run
        command += ["--dry-run"] if args.small else ["--gpus-per-trial", "0.25"]
        start = time.monotonic()
        try:
            done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=max(left, 60))
            output, code = done.stdout + done.stderr, done.returncode
        except subprocess.TimeoutExpired:
            output, code = "timed out", None
        shown = [part for part in command[1:] if part not in ("--results", results)]
        figures.table3 = {"command": " ".join(shown), "exit": code,
                          "wall_seconds": round(time.monotonic() - start, 1), "output_tail": output[-3000:]}
    print(f"  smoke Table 3, --gpus-per-trial 0.25: exit {code} in {figures.table3['wall_seconds']} s", flush=True)


def markdown(figures: Figures, args: argparse.Namespace) -> str:
    facts = ", ".join(f"{key} {value}" for key, value in figures.machine.items())
    lines = [f"### GPU check: `benchmarks/gpu_check.py{' --small' if args.small else ''}`", "", facts, "",
             f"MREN training steps, batch {args.batch}, HR patch {args.hr_patch}:", "",
             "| scale | setting | steps/s | compile s | peak MiB | note |", "| --- | --- | --- | --- | --- | --- |"]
    for row in figures.steps:
        if "error" in row:
            lines.append(f"| x{row['scale']} | {row['config']} | failed | | | {row['error']} |")
        else:
            lines.append(f"| x{row['scale']} | {row['config']} | {row['steps_per_second']} | "
                         f"{row['compile_seconds']} | {row['peak_memory_mib']} | {row['note']} |")
    lines += ["", "| trials sharing the card | aggregate steps/s | per trial |", "| --- | --- | --- |"]
    for row in figures.packing:
        lines.append(f"| {row['trials']} | {row.get('aggregate_steps_per_second', row.get('error'))} | "
                     f"{row.get('per_trial_steps_per_second', '')} |")
    loader = figures.loader
    lines += ["", f"Loader ({loader.get('source')}): {loader.get('patches_per_second')} patches/s against a step "
                  f"appetite of {loader.get('step_appetite')} patches/s.",
              "", f"Projection (`{figures.projection.get('command')}`): "
                  + ("; ".join(figures.projection.get("lines", [])) or "none printed"),
              "", f"Smoke Table 3 (`{figures.table3.get('command')}`): exit {figures.table3.get('exit')}, "
                  f"{figures.table3.get('wall_seconds')} s."]
    if figures.skipped:
        lines += ["", "Skipped: " + "; ".join(figures.skipped)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "results" / "gpu_check")
    parser.add_argument("--budget-s", type=float, default=480, help="wall-time budget of the whole check")
    parser.add_argument("--trial-timeout", type=float, default=240, help="most seconds for one trial's process")
    parser.add_argument("--data-root", type=Path, default=None, help="measure the loader on DIV2K from here")
    parser.add_argument("--small", action="store_true", help="CPU, tiny sizes, trace-only compile: seconds")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # "scale:config": run one trial, print its JSON
    parser.add_argument("--batch", type=int, default=PAPER_BATCH)
    parser.add_argument("--hr-patch", type=int, default=PAPER_HR_PATCH)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per trial")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--backend", default="inductor", help="torch.compile backend")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads of each trial process")
    args = parser.parse_args()
    if args.worker:
        scale, config = args.worker.split(":", 1)
        print(json.dumps(worker(int(scale), config, args.batch, args.hr_patch, args.steps, args.device,
                                args.backend, args.threads)))
        return
    if args.small:
        args.device, args.backend, args.batch, args.hr_patch, args.steps, args.threads = "cpu", "eager", 1, 24, 1, 1
        args.scales, args.packing = (4,), (1, 2)
    else:
        args.scales, args.packing = (4, 2), PACKING
    import torch
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("no CUDA device here; --small runs the CPU mode")
    deadline = time.monotonic() + args.budget_s
    figures = Figures(machine=machine(args.device))
    print("machine: " + ", ".join(f"{key} {value}" for key, value in figures.machine.items()), flush=True)
    print(f"MREN steps, batch {args.batch}, HR patch {args.hr_patch}:", flush=True)
    steps_part(args, figures, deadline - (150 if not args.small else 0))  # leave time for the rest
    measured = [row for row in figures.steps if "steps_per_second" in row and row["scale"] == args.scales[0]]
    best = max(measured, key=lambda row: row["steps_per_second"], default=None)
    args.best_execution = best["execution"] if best else "eager"
    print("packing:", flush=True)
    packing_part(args, figures, deadline - 90)
    print("loader:", flush=True)
    loader_part(args, figures)
    print(f"projection (best execution {args.best_execution}):", flush=True)
    projection_part(args, figures)
    print("table 3:", flush=True)
    table3_part(args, figures, deadline)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.json").write_text(json.dumps(asdict(figures), indent=1) + "\n")
    (args.out / "gpu_check.md").write_text(markdown(figures, args))
    print(f"figures in {args.out / 'gpu_check.md'} and {args.out / 'gpu_check.json'}")


if __name__ == "__main__":
    main()
