"""Evaluate a model on a benchmark set under one or more protocols (harness/evaluation/protocols.py): Y-channel
PSNR/SSIM.

The first protocol gives the evaluation's headline numbers (`psnr_y`, `ssim_y`); the others ride along under
`protocols` in its JSON, each with its own per-image values and conventions, so that every number says which
protocol produced it."""

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from harness.data.benchmark import BenchmarkSet
from harness.errors import UserError
from harness.evaluation import protocols as protocol_registry
from harness.evaluation.inference import NonFiniteOutput


@dataclass(frozen=True)
class ImageScore:
    name: str
    psnr_y: float
    ssim_y: float


@dataclass(frozen=True)
class SetScore:
    dataset: str
    scale: int
    images: tuple[ImageScore, ...]
    conventions: dict[str, Any] = field(hash=False)
    protocol: str = "common"
    alternatives: dict[str, "SetScore"] = field(default_factory=dict, hash=False)  # other protocols, same images

    @property
    def psnr_y(self) -> float:
        return float(np.mean([image.psnr_y for image in self.images]))

    @property
    def ssim_y(self) -> float:
        return float(np.mean([image.ssim_y for image in self.images]))

    def to_json(self) -> dict[str, Any]:
        result = {
            "dataset": self.dataset,
            "scale": self.scale,
            "protocol": self.protocol,
            "psnr_y": self.psnr_y,
            "ssim_y": self.ssim_y,
            "images": [{"name": i.name, "psnr_y": i.psnr_y, "ssim_y": i.ssim_y} for i in self.images],
            "conventions": self.conventions,
        }
        if self.alternatives:
            result["protocols"] = {name: score.to_json() for name, score in self.alternatives.items()}
        return result


def conventions_for(benchmark: BenchmarkSet, protocol: str = "common") -> dict[str, Any]:
    chosen = protocol_registry.get(protocol)
    return {**chosen.conventions, "protocol": protocol, "crop_border": benchmark.scale,
            "lr_source": chosen.lr_source(benchmark.lr_source)}


def evaluate(model: nn.Module, benchmark: BenchmarkSet, *, device: torch.device | str = "cpu",
             progress: bool = False, protocols: Sequence[str] = ("common",), label: str = "model") -> SetScore:
    """Score `model` on `benchmark` under each of `protocols`; `label` names the model and its weights in errors."""
    if not protocols:
        raise ValueError("evaluate needs at least one protocol")
    device = torch.device(device)
    model.eval()
    scores = [_evaluate_one(model, benchmark, protocol_registry.get(name), device, progress, label)
              for name in protocols]
    return SetScore(scores[0].dataset, scores[0].scale, scores[0].images, scores[0].conventions, scores[0].protocol,
                    {score.protocol: score for score in scores[1:]})


def _evaluate_one(model: nn.Module, benchmark: BenchmarkSet, protocol: protocol_registry.Protocol,
                  device: torch.device, progress: bool, label: str) -> SetScore:
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
        scores.append(ImageScore(pair.name, psnr, ssim))
    return SetScore(benchmark.name, benchmark.scale, tuple(scores), conventions_for(benchmark, protocol.name),
                    protocol.name)
