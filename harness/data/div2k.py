"""DIV2K's training split: where it is under a data root, and its layout checked from file headers alone.

The one definition of "DIV2K under a data root" (docs/training.md): the root holds `DIV2K/DIV2K_train_HR/`, or the
root is the `DIV2K` folder itself. `div2k_folder` decides it for the driver's checks, the trial's node check and the
build alike. `check_div2k` reads every HR (and LR) file's header, nothing decoded, so that a wrong size, a missing or
partial LR folder or a file that is not an image is one line in seconds, before minutes of decoding.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from harness.data.images import list_images, image_size
from harness.errors import UserError

DIV2K = "DIV2K"
HR_FOLDER = "DIV2K_train_HR"
LR_FOLDER = "DIV2K_train_LR_bicubic"
# Folders looked into when the data root is one or two levels off, and at most this many entries of each
_NEARBY_LEVELS = 2
_NEARBY_ENTRIES = 200


def div2k_folder(root: Path) -> Path | None:
    """The DIV2K folder of data root `root` (`root/DIV2K`, or `root` itself), or None when it has neither."""
    root = Path(root)
    if (root / DIV2K / HR_FOLDER).is_dir():
        return root / DIV2K
    if (root / HR_FOLDER).is_dir():
        return root
    return None


def has_div2k(root: Path) -> bool:
    return div2k_folder(root) is not None


def nearby_folders(root: Path) -> Iterator[Path]:
    """The folders one and two levels above `root`, then those one and two levels below (hidden ones skipped, at
    most a few hundred looked at per folder): where the data is when a data root is given one or two levels off."""
    root = Path(root).absolute()
    yield from list(root.parents)[:_NEARBY_LEVELS]
    level = [root]
    for _ in range(_NEARBY_LEVELS):
        below = []
        for folder in level:
            try:
                with os.scandir(folder) as entries:
                    for count, entry in enumerate(entries):
                        if count >= _NEARBY_ENTRIES:
                            break
                        if not entry.name.startswith(".") and entry.is_dir():
                            below.append(Path(entry.path))
            except OSError:
                continue
        below.sort()
        yield from below
        level = below


def found_nearby(root: Path, has: Callable[[Path], bool]) -> Path | None:
    """The nearest folder around `root` (`nearby_folders`) for which `has` holds, or None."""
    for folder in nearby_folders(root):
        try:
            if has(folder):
                return folder
        except OSError:
            continue
    return None


def locate_div2k(root: Path) -> Path:
    """The DIV2K folder of `root`; a UserError saying where DIV2K is when the root is one or two levels off."""
    folder = div2k_folder(root)
    if folder is not None:
        return folder
    raise UserError(f"DIV2K training images not found: {Path(root) / DIV2K / HR_FOLDER} is not a folder "
                    f"(the data root holds {DIV2K}/{HR_FOLDER}, or is the {DIV2K} folder itself)"
                    + nearby_hint(root, has_div2k, "DIV2K"))


def nearby_hint(root: Path, has: Callable[[Path], bool], what: str) -> str:
    """'; <what> is in X: give --data-root X' when a folder near `root` has it, else ''."""
    near = found_nearby(root, has)
    return f"; {what} is in {near}: give --data-root {near}" if near is not None else ""


@dataclass(frozen=True)
class Div2kImage:
    name: str  # the HR file's stem, e.g. 0001
    hr_file: Path
    hr_size: tuple[int, int]  # (width, height) of the file, uncropped
    lr_file: Path | None  # the LR folder's image, None when the harness makes the LR


@dataclass(frozen=True)
class Div2kLayout:
    folder: Path  # the DIV2K folder
    scale: int
    lr_dir: Path | None  # DIV2K_train_LR_bicubic/X<s>, None: LR made with MATLAB-exact bicubic
    images: tuple[Div2kImage, ...]

    @property
    def hr_dir(self) -> Path:
        return self.folder / HR_FOLDER

    @property
    def lr_method(self) -> str:
        return "folder" if self.lr_dir is not None else "imresize"


def check_div2k(root: Path, scale: int, *, hr_patch: int) -> Div2kLayout:
    """DIV2K under `root` for training at `scale` on `hr_patch` patches, checked from headers: every HR image is an
    image at least as large as the patch (once cropped to a multiple of the scale), and the LR folder, when there is
    one, has an image of the right size for every HR image. The first problem is a one-line UserError."""
    folder = locate_div2k(root)
    hr_dir = folder / HR_FOLDER
    hr_files = list_images(hr_dir)
    if not hr_files:
        raise UserError(f"DIV2K training folder {hr_dir} holds no images")
    lr_dir: Path | None = folder / LR_FOLDER / f"X{scale}"
    if not lr_dir.is_dir():
        lr_dir = None
    lr_files = {path.stem: path for path in list_images(lr_dir)} if lr_dir is not None else {}
    if lr_dir is not None:
        missing = [f"{hr.stem}x{scale}.png" for hr in hr_files if f"{hr.stem}x{scale}" not in lr_files]
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            raise UserError(f"{lr_dir} is partial: it has LR images for {len(hr_files) - len(missing)} of the "
                            f"{len(hr_files)} HR images ({missing[0]}{more} missing); complete it, or move the folder "
                            "away and the harness makes every LR with MATLAB-exact bicubic")
    images = []
    for hr_file in hr_files:
        width, height = image_size(hr_file)
        cropped = (width - width % scale, height - height % scale)
        if min(cropped) < hr_patch:
            raise UserError(f"{hr_file} is {width}x{height}, smaller than the {hr_patch}x{hr_patch} training patch"
                            f"{f' once cropped to a multiple of {scale}' if min(width, height) >= hr_patch else ''}; "
                            "remove it or use a smaller patch (--set train.hr_patch=...)")
        lr_file = lr_files.get(f"{hr_file.stem}x{scale}") if lr_dir is not None else None
        if lr_file is not None:
            lr_width, lr_height = image_size(lr_file)
            if (lr_width, lr_height) != (width // scale, height // scale):
                raise UserError(f"{lr_file} is {lr_width}x{lr_height}, but its HR {hr_file.name} ({width}x{height}) "
                                f"divided by {scale} is {width // scale}x{height // scale} (wrong scale or mismatched "
                                "pair)")
        images.append(Div2kImage(hr_file.stem, hr_file, (width, height), lr_file))
    return Div2kLayout(folder, scale, lr_dir, tuple(images))
