"""`python -m harness list models|specs|sets`: what there is to run.

- models: every registered model (with `--plugin` modules and `mren_harness.models` entry points loaded), its scales
  and the released weights it reads;
- specs: the experiment specs in a folder (default ablations/), with the table each fills and its trial count;
- sets: the evaluation sets found under the data root (--data-root or MREN_DATA_ROOT), with their layout and size.
"""

import argparse
import dataclasses
import os
from pathlib import Path

from harness import plugins, registry
from harness.conventions import SCALES
from harness.data.images import list_images
from harness.errors import UserError
from harness.experiment.spec import load_spec, parse_spec_file

KINDS = ("models", "specs", "sets")


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(name, help="list registered models, experiment specs or evaluation sets",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--specs-dir", type=Path, default=Path("ablations"),
                        help="folder of specs for `list specs` (default: ablations)")
    root = os.environ.get("MREN_DATA_ROOT")
    parser.add_argument("--data-root", type=Path, default=Path(root) if root else None,
                        help="folder holding the evaluation sets, for `list sets` (default: $MREN_DATA_ROOT)")
    plugins.add_argument(parser)


def main(args: argparse.Namespace) -> int:
    plugins.load_plugins(args.plugins)
    lines = {"models": _models, "specs": _specs, "sets": _sets}[args.kind](args)
    print("\n".join(lines))
    return 0


def _models(args: argparse.Namespace) -> list[str]:
    rows = [("model", "scales", "released weights", "protocols", "note")]
    for name in sorted(registry.MODELS):
        entry = registry.MODELS[name]
        scales = [scale for scale in SCALES if _builds_at(entry, scale)]
        released = entry.released
        weights = (f"{released.file} ({released.format}; x{', x'.join(map(str, released.scales))})"
                   if released is not None else "none")
        trained_on = (f"weights trained on {released.other_training_set}"
                      if released is not None and released.other_training_set else "")
        note = "; ".join(part for part in (entry.label, trained_on) if part)
        rows.append((name, ", ".join(f"x{scale}" for scale in scales), weights, ", ".join(entry.protocols), note))
    return _columns(rows)


def _builds_at(entry: registry.ModelEntry, scale: int) -> bool:
    """A model supports a scale when its default config there passes the config's own checks."""
    try:
        config = entry.default_config(scale)
        dataclasses.replace(config)  # re-runs __post_init__ on configs whose factory bypassed it
    except (ValueError, TypeError):
        return False
    return True


def _specs(args: argparse.Namespace) -> list[str]:
    if not args.specs_dir.is_dir():
        raise UserError(f"specs folder {args.specs_dir} does not exist (--specs-dir)")
    rows = [("spec", "table", "trials", "includes")]
    for path in sorted(args.specs_dir.glob("*.yaml")):
        spec = parse_spec_file(path)
        trials = load_spec(path)  # validated in full, as `run` would: a broken spec is an error here too
        rows.append((str(path), spec.table or "-", str(len(trials)), ", ".join(spec.include) or "-"))
    return _columns(rows)


def _sets(args: argparse.Namespace) -> list[str]:
    root = args.data_root
    if root is None:
        raise UserError("list sets needs a data root: --data-root DIR or MREN_DATA_ROOT")
    if not root.is_dir():
        raise UserError(f"data root {root} is not a folder")
    rows = [("set", "layout", "HR images", "LR scales")]
    for folder in sorted(path for path in root.iterdir() if path.is_dir()):
        if (folder / "GT").is_dir() and (folder / "LQ").is_dir():
            layout, hr_dir, scales = "GT + LQ pairs", folder / "GT", "LQ"
        elif (folder / "HR").is_dir():
            lr = sorted(path.name for path in (folder / "LR_bicubic").glob("X*") if path.is_dir())
            layout, hr_dir, scales = "EDSR (HR, LR_bicubic)", folder / "HR", ", ".join(lr) or "made by bicubic"
        else:
            layout, hr_dir, scales = "HR images only", folder, "made by bicubic"
        count = len(list_images(hr_dir))
        if count:
            rows.append((folder.name, layout, str(count), scales))
    if len(rows) == 1:
        return [f"no evaluation sets under {root} (a set is a folder of images, HR/ + LR_bicubic/, or GT/ + LQ/)"]
    return _columns(rows)


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
