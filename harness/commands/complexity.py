"""`python -m harness complexity`: parameters and MACs of a registered model at a declared input size.

The input convention is explicit: an HR output size (height x width; by default the paper's, harness/conventions.py)
and LR = HR // scale, the size the model is traced at. A given --hr-size must divide by the scale; the default is
floored, as the literature's counts are.
"""

import argparse
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from harness import memory, outputs, plugins
from harness.atomic import write_json_atomic
from harness.commands.options import parse_overrides
from harness.conventions import PAPER_MACS_INPUT, MacsInput
from harness.errors import UserError
from harness.evaluation.complexity import MacCount, count_macs, count_params
from harness.evaluation.evaluate import forward_bytes_of
from harness.registry import build_model, make_config


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(name, help="parameters and MACs of a model at a declared input size",
                                   description=__doc__)
    parser.add_argument("--model", required=True, help="registered model name, e.g. imdn")
    parser.add_argument("--scale", type=int, required=True, help="upscaling factor")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a model config field (repeatable)")
    parser.add_argument("--hr-size", metavar="HxW",
                        help="HR output height x width, divisible by the scale (default "
                             f"{PAPER_MACS_INPUT.hr_height}x{PAPER_MACS_INPUT.hr_width}, floored to the scale)")
    parser.add_argument("--json", metavar="FILE", help="also write the result as JSON to FILE ('-': stdout only)")
    plugins.add_argument(parser)


def main(args: argparse.Namespace) -> int:
    plugins.load_plugins(args.plugins)
    overrides = parse_overrides(args.set)
    try:
        config = make_config(args.model, args.scale, overrides)
    except ValueError as error:  # the config's own validation, e.g. an unsupported scale
        raise UserError(f"model {args.model!r}: {error}") from error
    if args.hr_size is None:
        macs_input = PAPER_MACS_INPUT
    else:
        macs_input = MacsInput(*parse_size(args.hr_size))
        if macs_input.hr_height % args.scale or macs_input.hr_width % args.scale:
            raise UserError(f"--hr-size {args.hr_size} is not divisible by the scale {args.scale}")
    lr_height, lr_width = macs_input.lr_size(args.scale)
    if lr_height < 1 or lr_width < 1:
        raise UserError(f"--hr-size {args.hr_size} leaves no LR pixel at x{args.scale}")

    if args.json and args.json != "-":
        outputs.check_output_file(Path(args.json), "--json")  # before the count takes its time
    model = build_model(args.model, config)
    params = count_params(model)
    needed = forward_bytes_of(model, lr_height, lr_width)
    if needed is not None:  # the count runs the model on a real input of this size
        memory.require(needed, f"{args.model} on a {lr_width}x{lr_height} LR input (--hr-size "
                               f"{macs_input.hr_height}x{macs_input.hr_width})")
    count = count_macs(model, lr_height, lr_width)
    record = {
        "model": args.model,
        "scale": args.scale,
        "model_config": dataclasses.asdict(config),
        "params": params,
        "macs": count.macs,
        "macs_input": macs_input.to_json(args.scale),  # as in trial records (docs/records.md)
        "macs_unsupported": count.unsupported,
        "conventions": {
            "macs": "fvcore FlopCountAnalysis total: one fused multiply-add counts one; biases and the operators "
                    "in unsupported_ops are not counted",
            "input": "one image, LR = HR // scale",
        },
    }
    if args.json == "-":
        print(json.dumps(record, indent=2))
        return 0
    print(describe(args.model, params, count, record))
    if args.json:
        write_json_atomic(Path(args.json), record)
    return 0


def parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match or int(match[1]) < 1 or int(match[2]) < 1:
        raise UserError(f"--hr-size {text!r} is not HEIGHTxWIDTH with positive integers, e.g. 720x1280")
    return int(match[1]), int(match[2])


def describe(model_name: str, params: int, count: MacCount, record: dict[str, Any]) -> str:
    size = record["macs_input"]
    scale = record["scale"]
    lines = [
        f"model {model_name} x{record['scale']}  {json.dumps(record['model_config'])}",
        f"params {params:,} ({params / 1e3:.1f} K)",
        f"MACs {count.macs / 1e9:.2f} G  (fvcore: one multiply-add = 1; biases not counted)",
        f"input LR {size['lr_width']}x{size['lr_height']} (WxH) = HR {size['hr_width']}x{size['hr_height']} "
        f"// {scale}, one image; output {size['lr_width'] * scale}x{size['lr_height'] * scale}",
    ]
    if count.unsupported:
        listed = ", ".join(f"{name.removeprefix('aten::')} x{calls}" for name, calls in count.unsupported.items())
        lines.append(f"not counted (no fvcore handle): {listed}")
    else:
        lines.append("not counted: nothing (fvcore counted every operator)")
    return "\n".join(lines)
