"""`python -m harness eval`: score one model on one benchmark set (Y-channel PSNR/SSIM, per image and mean)."""

import argparse
import dataclasses
import sys
from pathlib import Path

import torch

from harness import models
from harness.atomic import write_json_atomic
from harness.checkpoint import load_weights
from harness.complexity import count_params
from harness.data.benchmark import open_benchmark
from harness.errors import UserError
from harness.evaluate import evaluate


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(name, help="evaluate a model on a benchmark set",
                                   description=__doc__)
    parser.add_argument("--model", required=True, help=f"model name ({', '.join(sorted(models.MODELS))})")
    parser.add_argument("--weights", type=Path, help="state dict (.pth) to load; required for learned models")
    parser.add_argument("--data", type=Path, required=True,
                        help="benchmark folder: <set>/HR (+ LR_bicubic/X<s>), <set>/GT + <set>/LQ, or HR images")
    parser.add_argument("--scale", type=int, required=True, choices=(2, 3, 4))
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="set a model config field (repeatable)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, help="write the result as JSON (written only when all succeeds)")


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise UserError(f"--set takes KEY=VALUE, got {pair!r}")
        overrides[key.strip()] = value.strip()
    return overrides


def main(args: argparse.Namespace) -> int:
    config = models.make_config(args.model, args.scale, parse_overrides(args.overrides))
    model = models.build_model(args.model, config)
    params = count_params(model)
    if args.weights is not None:
        load_weights(model, args.weights, model_name=args.model, scale=args.scale)
    elif params > 0:
        raise UserError(f"model {args.model!r} has {params:,} learned parameters: pass --weights FILE")
    benchmark = open_benchmark(args.data, args.scale)
    model.to(args.device)
    score = evaluate(model, benchmark, device=args.device, progress=sys.stderr.isatty())

    width = max(len(image.name) for image in score.images)
    print(f"{args.model} x{args.scale} on {benchmark.name} ({len(score.images)} images; LR: {benchmark.lr_source})")
    print(f"{'image':<{width}}  {'PSNR-Y':>8}  {'SSIM-Y':>7}")
    for image in score.images:
        print(f"{image.name:<{width}}  {image.psnr_y:8.2f}  {image.ssim_y:7.4f}")
    print(f"{'mean':<{width}}  {score.psnr_y:8.2f}  {score.ssim_y:7.4f}")
    print(f"conventions: Y (BT.601), {args.scale}-pixel border crop, uint8-quantized SR, SSIM 11x11 Gaussian sigma 1.5")

    if args.out is not None:
        result = {"model": args.model, "model_config": dataclasses.asdict(config),
                  "weights": str(args.weights) if args.weights else None, "params": params, **score.to_json()}
        write_json_atomic(args.out, result)
        print(f"wrote {args.out}")
    return 0
