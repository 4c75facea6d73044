"""Reading and writing images as uint8 RGB arrays, with the benchmark conventions (gray replicated, alpha dropped)."""

import io
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from harness.errors import UserError

IMAGE_SUFFIXES = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff")


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def to_rgb(array: np.ndarray) -> np.ndarray:
    """uint8 HxW, HxWx1, HxWx3 or HxWx4 -> uint8 HxWx3 (grayscale replicated, alpha dropped)."""
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ValueError(f"unsupported image shape {array.shape}")
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return np.ascontiguousarray(array[:, :, :3])


def read_rgb(path: Path) -> np.ndarray:
    """An image file as uint8 HxWx3 RGB; an unreadable or non-8-bit file is a UserError naming it."""
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("1", "L", "P", "RGB", "RGBA", "LA", "CMYK", "YCbCr"):
                mode = {"1": "L", "LA": "L", "CMYK": "RGB", "YCbCr": "RGB", "P": "RGBA"}.get(image.mode, image.mode)
                array = np.asarray(image.convert(mode))
            else:
                raise UserError(f"{path}: unsupported image mode {image.mode} (8-bit images only)")
    except (OSError, UnidentifiedImageError, ValueError) as error:
        raise UserError(f"{path}: cannot read image ({error.__class__.__name__}: {error})") from None
    return to_rgb(array)


def write_png(path: Path, array: np.ndarray) -> None:
    """Write a uint8 image atomically (temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png")
    os.close(descriptor)
    try:
        Image.fromarray(array).save(temporary, format="PNG")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def png_bytes(array: np.ndarray) -> bytes:
    """A uint8 image encoded as PNG, in memory (a Ray task returns files to the driver this way)."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def crop_to_multiple(image: np.ndarray, scale: int) -> np.ndarray:
    height, width = image.shape[0] - image.shape[0] % scale, image.shape[1] - image.shape[1] % scale
    return image[:height, :width]
