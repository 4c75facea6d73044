"""Reading and writing images as uint8 RGB arrays, with the benchmark conventions (gray replicated, alpha dropped)."""

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from harness.atomic import atomic_path
from harness.errors import UserError
from harness.inputs import os_reason

IMAGE_SUFFIXES = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff")
# Pillow's own guard against decompression bombs only warns below twice its limit; a benchmark image is never this
# large (DIV2K's largest is 2040x2040, 4.2 MPixel), so anything beyond is refused before it is decoded.
MAX_IMAGE_PIXELS = 64 * 1024 * 1024
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
_READABLE_MODES = ("1", "L", "P", "RGB", "RGBA", "LA", "CMYK", "YCbCr")


def list_images(folder: Path) -> list[Path]:
    """The image files of `folder`, sorted by name. Files with other suffixes are ignored; an image entry that is not
    a readable regular file (a dangling or looping link, a folder, a FIFO) and two images of one stem (bird.png and
    bird.bmp) are UserErrors: a set silently scored on fewer images, or on the wrong one, is a wrong number."""
    try:
        entries = sorted(Path(folder).iterdir())
    except OSError as error:
        raise UserError(f"cannot list image folder {folder}: {os_reason(error)}") from None
    images: dict[str, Path] = {}
    for entry in entries:
        if entry.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        try:
            regular = entry.is_file()
        except OSError:  # a symlink loop
            regular = False
        if not regular:
            what = "a broken link" if entry.is_symlink() and not entry.exists() else "not a readable regular file"
            raise UserError(f"{entry}: {what}; remove it or fix it")
        try:
            with open(entry, "rb"):
                pass
        except OSError as error:  # as this user opens it: os.access would answer for the real user, not this one
            raise UserError(f"{entry}: cannot be read: {os_reason(error)}") from None
        other = images.setdefault(entry.stem, entry)
        if other != entry:
            raise UserError(f"{folder}: two images named {entry.stem!r} ({other.name} and {entry.name}); keep one")
    return sorted(images.values())


def to_rgb(array: np.ndarray) -> np.ndarray:
    """uint8 HxW, HxWx1, HxWx3 or HxWx4 -> uint8 HxWx3 (grayscale replicated, alpha dropped)."""
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ValueError(f"unsupported image shape {array.shape}")
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return np.ascontiguousarray(array[:, :, :3])


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file's header, nothing decoded; the header checks of read_rgb (size limit, 8-bit)
    apply, so a file this accepts fails read_rgb only for damage after its header."""
    try:
        with Image.open(path) as image:
            _check_header(path, image)
            return image.width, image.height
    except _READ_ERRORS as error:
        raise _unreadable(path, error) from None


def _check_header(path: Path, image: Image.Image) -> None:
    if image.width * image.height > MAX_IMAGE_PIXELS:
        raise UserError(f"{path}: {image.width}x{image.height} pixels is beyond the limit of "
                        f"{MAX_IMAGE_PIXELS:,} pixels")
    # Pillow opens 16-bit RGB PNGs as 8-bit RGB, dropping the low bits silently: refuse them by their header.
    if _sixteen_bit_png(image):
        raise UserError(f"{path}: 16-bit image (8-bit images only)")


_READ_ERRORS = (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError, SyntaxError)


def _unreadable(path: Path, error: BaseException) -> UserError:
    if isinstance(error, OSError) and error.errno is not None:  # the file system's error, not the decoder's
        return UserError(f"{path}: cannot read image: {os_reason(error)}")
    return UserError(f"{path}: cannot read image ({error.__class__.__name__}: {error})")


def read_rgb(path: Path) -> np.ndarray:
    """An image file as uint8 HxWx3 RGB; an unreadable, oversized or non-8-bit file is a UserError naming it."""
    try:
        with Image.open(path) as image:
            _check_header(path, image)
            image.load()
            if image.mode in _READABLE_MODES:
                mode = {"1": "L", "LA": "L", "CMYK": "RGB", "YCbCr": "RGB", "P": "RGBA"}.get(image.mode, image.mode)
                array = np.asarray(image.convert(mode))
            else:
                raise UserError(f"{path}: unsupported image mode {image.mode} (8-bit images only)")
    except _READ_ERRORS as error:
        raise _unreadable(path, error) from None
    return to_rgb(array)


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file from its header alone, nothing decoded (milliseconds for a DIV2K PNG); a file
    `read_rgb` would refuse by its header (not an image, oversized, 16-bit, an unsupported mode) is a UserError naming
    it. A file whose pixel data is damaged passes: only decoding finds that."""
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise UserError(f"{path}: {image.width}x{image.height} pixels is beyond the limit of "
                                f"{MAX_IMAGE_PIXELS:,} pixels")
            if _sixteen_bit_png(image):
                raise UserError(f"{path}: 16-bit image (8-bit images only)")
            if image.mode not in _READABLE_MODES:
                raise UserError(f"{path}: unsupported image mode {image.mode} (8-bit images only)")
            return image.width, image.height
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError, SyntaxError) as error:
        raise UserError(f"{path}: cannot read image ({error.__class__.__name__}: {error})") from None


def _sixteen_bit_png(image: Image.Image) -> bool:
    """True for a PNG whose IHDR says 16 bits per sample (byte 24 of the file: the bit depth)."""
    if image.format != "PNG" or image.fp is None:
        return False
    position = image.fp.tell()
    try:
        image.fp.seek(24)
        depth = image.fp.read(1)
    finally:
        image.fp.seek(position)
    return depth == b"\x10"


def write_png(path: Path, array: np.ndarray) -> None:
    """Write a uint8 image atomically (temporary file in the same folder, then rename)."""
    with atomic_path(path, suffix=".png") as temporary:
        Image.fromarray(array).save(temporary, format="PNG")


def png_bytes(array: np.ndarray) -> bytes:
    """A uint8 image encoded as PNG, in memory (a Ray task returns files to the driver this way)."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def crop_to_multiple(image: np.ndarray, scale: int) -> np.ndarray:
    height, width = image.shape[0] - image.shape[0] % scale, image.shape[1] - image.shape[1] % scale
    return image[:height, :width]
