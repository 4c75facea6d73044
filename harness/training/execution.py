"""How a training step executes: eager PyTorch, `torch.compile`, or `torch.compile` with CUDA graphs.

The execution is a run setting, not part of a trial's identity: it changes the speed of a step, never what the step
computes beyond the last bits of float rounding (the smoke reference holds within its tolerance either way). So it is
kept out of the trial id and recorded with each training's numbers instead (records `Training.execution`).

Compilation is regional: each block of the model's repeated stacks (every module held in an `nn.ModuleList`, e.g.
MREN's six MREBs and its RBWA stages) is compiled on its own. Blocks of one class share one compiled graph, so
compiling MREN costs a few block compilations instead of one whole-model graph (docs/benchmarks.md measures both).
A model with no `nn.ModuleList` is compiled whole.

CUDA graphs (`torch.compile(mode="reduce-overhead")`) replay each compiled block's kernels as one launch; they need a CUDA
device and static shapes, which training patches have. Asked for on another device they are refused, the step runs
compiled without them, and the reason is recorded.
"""

import time
from dataclasses import dataclass
from typing import Literal, get_args

import torch
from torch import nn

Execution = Literal["eager", "compiled", "compiled+cudagraphs"]
EXECUTIONS: tuple[str, ...] = get_args(Execution)
AUTO = "auto"  # the default: `default_execution` decides per profile
EXECUTION_CHOICES = (AUTO, *EXECUTIONS)


def default_execution(requested: str, profile: str) -> Execution:
    """The execution of `requested`, with "auto" resolved by the rule below (docs/benchmarks.md measures it).

    - smoke: eager. Its trials are 90 steps of a few seconds, shorter than any compilation (tens of seconds for a
      small model, minutes for MREN), and their numbers feed CI's drift gate.
    - paper: compiled. Its trials are 900,000 or 3,000,000 steps, and compiled MREN steps are faster on this CPU
      by more than the compile time costs within the first few hundred steps. CUDA graphs stay opt-in
      (`compiled+cudagraphs`) until benchmarks/gpu_check.py has measured them on a card.
    """
    if requested == AUTO:
        return "eager" if profile == "smoke" else "compiled"
    if requested not in EXECUTIONS:
        raise ValueError(f"execution must be one of {', '.join(EXECUTION_CHOICES)}, got {requested!r}")
    return requested  # type: ignore[return-value]


@dataclass(frozen=True)
class PreparedModel:
    """The module to call in the training step, and what was actually applied."""

    module: nn.Module  # the model itself (eager) or a module whose blocks are compiled; same parameters either way
    execution: Execution  # what runs, after refusals
    note: str  # why the execution differs from the one asked for; "" when it does not


def prepare(model: nn.Module, execution: Execution, device: torch.device, *,
            backend: str = "inductor") -> PreparedModel:
    """Apply `execution` to `model` in place (its parameters and state dict are untouched).

    Compilation happens lazily, at the first step: the training's `compile_seconds` measures it. `backend` is
    torch.compile's; benchmarks/gpu_check.py's CPU mode passes "eager" to trace without generating code.
    """
    if execution not in EXECUTIONS:
        raise ValueError(f"execution must be one of {', '.join(EXECUTIONS)}, got {execution!r}")
    if execution == "eager":
        return PreparedModel(model, "eager", "")
    note = ""
    mode = None
    if execution == "compiled+cudagraphs":
        if torch.device(device).type == "cuda":
            mode = "reduce-overhead"  # inductor's CUDA graph trees: each compiled block replays as one launch
        else:
            execution = "compiled"
            note = f"CUDA graphs need a CUDA device, not {torch.device(device).type}: compiled without them"
    if compile_blocks(model, mode=mode, backend=backend) == 0:
        return PreparedModel(torch.compile(model, mode=mode, backend=backend), execution, note)
    return PreparedModel(model, execution, note)


def step_begins(execution: Execution) -> None:
    """Call before each training step: CUDA graph trees must know where a step starts to reuse their memory."""
    if execution == "compiled+cudagraphs":
        torch.compiler.cudagraph_mark_step_begin()


def release(model: nn.Module) -> None:
    """Undo `compile_blocks`: every block of `model` runs eagerly again (evaluation's varying sizes would recompile)."""
    for module in model.modules():
        if getattr(module, "_compiled_call_impl", None) is not None:
            module._compiled_call_impl = None


def compile_blocks(model: nn.Module, *, mode: str | None = None, backend: str = "inductor") -> int:
    """Compile, in place, every module held in one of `model`'s `nn.ModuleList`s; how many were compiled."""
    compiled = 0
    for child in model.children():
        if isinstance(child, nn.ModuleList):
            for block in child:  # the outermost lists only: a compiled block traces its own inner lists
                block.compile(mode=mode, backend=backend)
                compiled += 1
        else:
            compiled += compile_blocks(child, mode=mode, backend=backend)
    return compiled


class StepClock:
    """The first step of a compiled model pays the compilation: its time minus a later step's is the compile time."""

    def __init__(self) -> None:
        self.first_step: float | None = None
        self.steady_step: float | None = None
        self._started = 0.0

    def start(self) -> None:
        self._started = time.perf_counter()

    def stop(self, step: int) -> None:
        """Call after step `step` (0-based) has finished on the device; only steps 0 and 2 are kept."""
        elapsed = time.perf_counter() - self._started
        if step == 0:
            self.first_step = elapsed
        elif step == 2:  # step 1 may still recompile (e.g. the optimizer's state appears after the first step)
            self.steady_step = elapsed

    @property
    def compile_seconds(self) -> float | None:
        if self.first_step is None or self.steady_step is None:
            return None
        return max(0.0, self.first_step - self.steady_step)
