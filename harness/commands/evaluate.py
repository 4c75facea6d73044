"""`python -m harness eval`: score one model on one benchmark set (Y-channel PSNR/SSIM, per image and mean) under an
evaluation protocol: `common` (the default) or its authors' test script (`--protocol idn-test`, ...)."""

import argparse
import dataclasses
import sys
from pathlib import Path

import torch

from harness import outputs, plugins, registry
from harness.atomic import write_bytes_atomic, write_json_atomic
from harness.commands.options import parse_overrides
from harness.conventions import SCALES
from harness.data.benchmark import BenchmarkSet, open_benchmark
from harness.data.images import png_bytes
from harness.errors import UserError
from harness.evaluation import protocols
from harness.evaluation.complexity import count_params
from harness.evaluation.evaluate import evaluate
from harness.evaluation.inference import super_resolve
from harness.evaluation.weights import load_weights
from harness.weight_readers import READERS


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(name, help="evaluate a model on a benchmark set",
                                   description=__doc__)
    parser.add_argument("--model", required=True, help=f"model name ({', '.join(sorted(registry.MODELS))})")
    parser.add_argument("--weights", type=Path,
                        help="weights to load; required for learned models. Read as the registry says: a released "
                             "file by its registered name as its release's format, any other file as the model's "
                             "release format, or as a PyTorch state dict where the model has no release")
    parser.add_argument("--weights-format", choices=sorted(READERS), default=None,
                        help="read --weights as this format instead: e.g. pth for a state dict the harness trained "
                             "(final.pt) of a model whose release is a .mat or .caffemodel")
    parser.add_argument("--data", type=Path, required=True,
                        help="benchmark folder: <set>/HR (+ LR_bicubic/X<s>), <set>/GT + <set>/LQ, or HR images")
    parser.add_argument("--scale", type=int, required=True, choices=SCALES)
    parser.add_argument("--protocol", default="common",
                        help=f"evaluation protocol ({', '.join(sorted(protocols.PROTOCOLS))}; default common); "
                             "'all' scores under every protocol registered for the model")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="set a model config field (repeatable)")
    parser.add_argument("--device", default=None,
                        help="cpu, cuda or cuda:N (default: cuda when this machine has a CUDA GPU, else cpu)")
    parser.add_argument("--out", type=Path, help="write the result as JSON to this file (written only when all "
                                                 "succeeds; missing parent folders are created)")
    parser.add_argument("--save-images", type=Path, metavar="DIR",
                        help="also write each image's SR output as DIR/<image>.png (the model's RGB output, "
                             "quantized to uint8 as scored under the common protocol)")
    plugins.add_argument(parser)


def main(args: argparse.Namespace) -> int:
    plugins.load_plugins(args.plugins)
    device = check_device(args.device)
    inputs = {"--weights": args.weights} if args.weights is not None else {}
    if args.out is not None:
        outputs.check_output_file(args.out, "--out")  # before the evaluation takes its time
        outputs.check_apart(args.out, "--out", inputs, {"--data": args.data})
    if args.save_images is not None:
        outputs.check_output_folder(args.save_images, "--save-images")
        outputs.check_apart(args.save_images, "--save-images", inputs, {"--data": args.data})
    config = registry.make_config(args.model, args.scale, parse_overrides(args.overrides))
    chosen = list(registry.entry(args.model).protocols) if args.protocol == "all" else [args.protocol]
    model = registry.build_model(args.model, config)
    params = count_params(model)
    if args.weights is not None:
        load_weights(model, args.weights, model_name=args.model, scale=args.scale, format=args.weights_format)
    elif args.weights_format is not None:
        raise UserError("--weights-format without --weights: name the file to read")
    elif params > 0:
        raise UserError(f"model {args.model!r} has {params:,} learned parameters: pass --weights FILE")
    for name in chosen:
        protocols.check_runs(protocols.get(name), model, args.model)
    benchmark = open_benchmark(args.data, args.scale)
    model.to(device)
    label = f"{args.model}" + (f" with {args.weights}" if args.weights is not None else "")
    score = evaluate(model, benchmark, device=device, progress=sys.stderr.isatty(), protocols=chosen,
                     label=label)

    for shown in [score, *score.protocols.values()]:
        width = max(len(image.name) for image in shown.images)
        print(f"{args.model} x{args.scale} on {benchmark.name} ({len(shown.images)} images; LR: "
              f"{shown.conventions['lr_source']}), protocol {shown.protocol}")
        print(f"{'image':<{width}}  {'PSNR-Y':>8}  {'SSIM-Y':>7}")
        for image in shown.images:
            print(f"{image.name:<{width}}  {image.psnr_y:8.2f}  {image.ssim_y:7.4f}")
        print(f"{'mean':<{width}}  {shown.psnr_y:8.2f}  {shown.ssim_y:7.4f}")
        print(f"protocol {shown.protocol}: {protocols.get(shown.protocol).source}")

    if args.save_images is not None:
        written = save_images(model, benchmark, args.save_images, device)
        print(f"wrote {written} SR image{'s' if written != 1 else ''} to {args.save_images}")
    if args.out is not None:
        result = {"model": args.model, "model_config": dataclasses.asdict(config),
                  "weights": str(args.weights) if args.weights else None, "params": params,
                  **score.model_dump(mode="json", exclude=None if score.protocols else {"protocols"})}
        write_json_atomic(args.out, result)
        print(f"wrote {args.out}")
    return 0


def save_images(model: torch.nn.Module, benchmark: BenchmarkSet, folder: Path, device: torch.device) -> int:
    """The SR output of every image of `benchmark` as `folder/<image>.png`; how many were written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"--save-images {folder}: cannot create the folder ({error.strerror or error})") from None
    for pair in benchmark.pairs:
        write_bytes_atomic(folder / f"{pair.name}.png", png_bytes(super_resolve(model, pair.lr, device)))
    return len(benchmark.pairs)


def check_device(name: str | None) -> torch.device:
    """The --device to run on: cpu, or a CUDA device this machine has; anything else is one line."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise UserError(f"--device {name} is not a device: give cpu, cuda or cuda:N") from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise UserError(f"--device {name}: only cpu and cuda devices are supported")
    if not torch.cuda.is_available():
        raise UserError(f"--device {name}: this machine has no CUDA GPU (torch {torch.__version__} sees none); "
                        "use --device cpu")
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise UserError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    return device
