"""`python -m harness degrade`: write MATLAB-exact bicubic LR images `<name>x<S>.png` from a folder of HR images."""

import argparse
from pathlib import Path

from tqdm import tqdm

from harness import outputs
from harness.atomic import atomic_folder
from harness.conventions import SCALES
from harness.data.benchmark import check_downscalable, degrade
from harness.data.images import list_images, read_rgb, write_png
from harness.errors import UserError
from harness.inputs import input_folder


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(name, help="make LR images with MATLAB-exact bicubic imresize",
                                   description=__doc__)
    parser.add_argument("--hr", type=Path, required=True, help="folder of HR images")
    parser.add_argument("--scale", type=int, required=True, choices=SCALES)
    parser.add_argument("--out", type=Path, required=True, help="folder for the LR images")


def main(args: argparse.Namespace) -> int:
    input_folder(args.hr, "HR folder")
    outputs.check_output_folder(args.out, "--out")
    outputs.check_apart(args.out, "--out", {}, {"--hr": args.hr})
    hr_files = list_images(args.hr)
    if not hr_files:
        raise UserError(f"HR folder {args.hr} holds no images")
    # Read everything first, so that an unreadable file stops the command before anything is written.
    images = {file.stem: read_rgb(file) for file in hr_files}
    for file in hr_files:  # an image that would have an empty LR image is refused before anything is written
        check_downscalable(str(file), *images[file.stem].shape[1::-1], args.scale)
    # All the images or none: never a half-written folder. A write that fails (a full disk) is one line naming
    # --out (harness/atomic.py).
    with atomic_folder(args.out) as partial:
        for name, hr in tqdm(images.items(), desc=f"x{args.scale}", unit="img", leave=False,
                               disable=None):  # no bar when stderr is not a terminal
            write_png(partial / f"{name}x{args.scale}.png", degrade(hr, args.scale, name))
    print(f"wrote {len(images)} LR images (x{args.scale}, MATLAB bicubic) to {args.out}")
    return 0
