"""Evaluate a model on a benchmark set under one or more protocols (harness/evaluation/protocols.py): Y-channel
PSNR/SSIM.

The first protocol gives the evaluation's headline numbers (`psnr_y`, `ssim_y`); the others ride along under
`protocols` in its JSON, each with its own per-image values and conventions, so that every number says which
protocol produced it."""

import copy
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from harness import memory
from harness.data.benchmark import BenchmarkSet
from harness.errors import UserError
from harness.evaluation import protocols as protocol_registry
from harness.evaluation.inference import NonFiniteOutput, model_dtype
from harness.records import Evaluation, ImageScore


def conventions_for(benchmark: BenchmarkSet, protocol: str = "common") -> dict[str, Any]:
    chosen = protocol_registry.get(protocol)
    return {**chosen.conventions, "protocol": protocol, "crop_border": benchmark.scale,
            "lr_source": chosen.lr_source(benchmark.lr_source)}


def evaluate(model: nn.Module, benchmark: BenchmarkSet, *, device: torch.device | str = "cpu",
             progress: bool = False, protocols: Sequence[str] = ("common",), label: str = "model") -> Evaluation:
    """Score `model` on `benchmark` under each of `protocols`, as the record holds it: the first protocol's numbers at
    the top, the others under `protocols`. `label` names the model and its weights in errors."""
    if not protocols:
        raise ValueError("evaluate needs at least one protocol")
    device = torch.device(device)
    model.eval()
    check_memory(model, benchmark, device, label)
    scores = [_evaluate_one(model, benchmark, protocol_registry.get(name), device, progress, label)
              for name in protocols]
    headline, *others = scores
    return headline.model_copy(update={"protocols": {score.protocol: score for score in others}})


def check_memory(model: nn.Module, benchmark: BenchmarkSet, device: torch.device, label: str) -> None:
    """The largest image's forward pass must fit in `device`'s memory: a floor measured on the meta device
    (harness/memory.py), so that an image far beyond memory is one line before anything runs."""
    if not benchmark.pairs:
        return
    largest = max(benchmark.pairs, key=lambda pair: pair.lr.shape[0] * pair.lr.shape[1])
    height, width = largest.lr.shape[:2]
    needed = forward_bytes_of(model, height, width)
    if needed is not None:
        memory.require(needed, f"{label} on {benchmark.name}/{largest.name} ({width}x{height} LR at "
                               f"x{benchmark.scale})", device)


def forward_bytes_of(model: nn.Module, height: int, width: int) -> int | None:
    """memory.forward_bytes of a weightless copy of `model` on one height x width RGB image."""
    try:
        dry = copy.deepcopy(model).to("meta")
    except Exception:  # a model that cannot move to meta is not checked (harness/memory.py)
        return None
    return memory.forward_bytes(dry, (1, 3, height, width), model_dtype(model))


def _evaluate_one(model: nn.Module, benchmark: BenchmarkSet, protocol: protocol_registry.Protocol,
                  device: torch.device, progress: bool, label: str) -> Evaluation:
    scores = []
    pairs = tqdm(benchmark.pairs, desc=f"{benchmark.name} x{benchmark.scale} {protocol.name}", unit="img",
                 disable=not progress, leave=False)
    for pair in pairs:
        try:
            psnr, ssim = protocol.score(model, pair, benchmark.scale, device)
        except NonFiniteOutput as error:
            raise UserError(f"{label}: output on {benchmark.name}/{pair.name} holds {error}; no score is "
                            "recorded") from None
        except ValueError as error:
            raise ValueError(f"{benchmark.name}/{error}") from error
        scores.append(ImageScore(name=pair.name, psnr_y=psnr, ssim_y=ssim))
    # The set's figure is the mean over images (harness/evaluation/metrics.py CONVENTIONS "dataset_mean")
    return Evaluation(dataset=benchmark.name, scale=benchmark.scale, protocol=protocol.name,
                      psnr_y=float(np.mean([score.psnr_y for score in scores])),
                      ssim_y=float(np.mean([score.ssim_y for score in scores])), images=scores,
                      conventions=conventions_for(benchmark, protocol.name))
