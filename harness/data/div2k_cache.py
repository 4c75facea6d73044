"""DIV2K decoded once into a cache that runs, results folders and packed trials share, and read back memory-mapped.

A cache entry is a folder holding one file of packed uint8 images (`images.u8`) and its index (`index.json`: names,
shapes, offsets). Its name carries a key: a hash of the cache format, of every source file's identity (resolved path,
size, modification time) and, for LR, of the scale and the LR method (the LR folder's files, or the harness's
MATLAB-exact bicubic). A changed source makes a new entry, never a stale hit. HR is stored uncropped, so one HR entry
serves every scale.

Entries are built under a lock (`<cache>/div2k/.lock`, fcntl.flock): a second process needing the same entry waits,
then finds it built, so the work is done once and no two processes write one file. An entry is written into a
temporary folder and renamed into place when whole: a reader never sees half of one, and a build killed half-way
leaves only a temporary folder, removed by the next build.

Memory: images stream through a few threads straight into the file (written, not memory-mapped, so its pages are the
OS's cache, not the process's), and glibc is told to give freed image buffers back at once instead of keeping them.
Read back, the file is memory-mapped read-only: every trial and DataLoader worker on the node shares its pages.
"""

import ctypes
import ctypes.util
import errno
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from harness.data.div2k import Div2kImage, Div2kLayout
from harness.data.images import crop_to_multiple, read_rgb
from harness.data.matlab import imresize_uint8
from harness.errors import UserError

CACHE_FORMAT = 1
LR_METHODS = {"folder": "the files of DIV2K_train_LR_bicubic/X<s>",
              "imresize": "MATLAB-exact bicubic imresize of the HR cropped to a multiple of the scale"}
PROGRESS_LINE_SECONDS = 20.0  # a plain progress line in the trial log (and on a piped console) at most this often
DATA_FILE, INDEX_FILE = "images.u8", "index.json"

Say = Callable[[str], None]


def default_cache_dir() -> Path:
    """The per-user cache folder on this machine: `$MREN_CACHE`, else `$XDG_CACHE_HOME/mren-harness`, else
    `~/.cache/mren-harness` (docs/training.md says why not the results folder)."""
    if os.environ.get("MREN_CACHE"):
        return Path(os.environ["MREN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mren-harness"


@dataclass(frozen=True)
class Div2kArrays:
    names: tuple[str, ...]
    hr: tuple[np.ndarray, ...]  # uint8 HxWx3, uncropped (read-only memory maps when cached)
    lr: tuple[np.ndarray, ...]  # uint8 (H/s)x(W/s)x3
    built: bool  # whether this call decoded images (False: every entry came from the cache)


def load_div2k(layout: Div2kLayout, *, cache_dir: Path | None, threads: int, say: Say = lambda line: None,
               status: Say = lambda line: None) -> Div2kArrays:
    """Every image of `layout`, HR and LR; with `cache_dir`, from (or first into) the shared cache there. `say` gets
    plain lines worth a log (start, every PROGRESS_LINE_SECONDS, "cache ready"); `status` a short status per image."""
    what = f"DIV2K x{layout.scale}"
    if cache_dir is None:
        hr, lr = [], []
        for image, pair in _decoded(layout, threads, need_hr=True, need_lr=True, hr_source=None, say=say,
                                    status=status, what=what):
            hr.append(pair[0])
            lr.append(pair[1])
        return Div2kArrays(tuple(image.name for image in layout.images), tuple(hr), tuple(lr), built=True)
    root = Path(cache_dir) / "div2k"
    hr_entry = root / f"hr-{_key('hr', [_identity(image.hr_file) for image in layout.images])}"
    lr_sources = [_identity(image.lr_file if image.lr_file is not None else image.hr_file) for image in layout.images]
    lr_entry = root / f"lr-x{layout.scale}-{layout.lr_method}-{_key('lr', layout.scale, layout.lr_method, lr_sources)}"
    built = False
    if not (_complete(hr_entry) and _complete(lr_entry)):
        with _BuildLock(root, say, what):
            built = _build(layout, hr_entry, lr_entry, threads=threads, say=say, status=status, what=what)
    hr_arrays, lr_arrays = _open_entry(hr_entry, layout), _open_entry(lr_entry, layout)
    size = _entry_bytes(hr_entry) + _entry_bytes(lr_entry)
    if not built:
        say(f"{what}: cache ready: {len(layout.images)} images, {_gigabytes(size)} found in {root} (LR: "
            f"{LR_METHODS[layout.lr_method]})")
    return Div2kArrays(tuple(image.name for image in layout.images), hr_arrays, lr_arrays, built=built)


def _identity(path: Path) -> list:
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps([CACHE_FORMAT, *parts]).encode()).hexdigest()[:20]


def _complete(entry: Path) -> bool:
    return (entry / INDEX_FILE).is_file() and (entry / DATA_FILE).is_file()


def _entry_bytes(entry: Path) -> int:
    return (entry / DATA_FILE).stat().st_size


def _gigabytes(size: int) -> str:
    return f"{size / 1e9:.2f} GB" if size >= 1e8 else f"{size / 1e6:.1f} MB"


def _open_entry(entry: Path, layout: Div2kLayout) -> tuple[np.ndarray, ...]:
    try:
        index = json.loads((entry / INDEX_FILE).read_text())
        data = np.memmap(entry / DATA_FILE, dtype=np.uint8, mode="r")
        if index["names"] != [image.name for image in layout.images] or data.size != index["bytes"]:
            raise ValueError("index and data do not match")
        return tuple(data[offset:offset + int(np.prod(shape))].reshape(shape)
                     for offset, shape in zip(index["offsets"], index["shapes"]))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UserError(f"{entry}: unreadable cache entry ({error}); delete the folder to rebuild it") from None


class _BuildLock:
    """An exclusive flock on `<root>/.lock` for one process's build; a waiting process says so once."""

    def __init__(self, root: Path, say: Say, what: str) -> None:
        self.root, self.say, self.what = root, say, what
        self.descriptor: int | None = None

    def __enter__(self) -> "_BuildLock":
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.descriptor = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as error:
            raise UserError(f"cache folder {self.root} cannot be used ({error.strerror}); give another with --cache") \
                from None
        try:
            fcntl.flock(self.descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            self.say(f"{self.what}: waiting for another process building the cache in {self.root}")
            fcntl.flock(self.descriptor, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exception: object) -> None:
        if self.descriptor is not None:
            fcntl.flock(self.descriptor, fcntl.LOCK_UN)
            os.close(self.descriptor)


def _build(layout: Div2kLayout, hr_entry: Path, lr_entry: Path, *, threads: int, say: Say, status: Say,
           what: str) -> bool:
    """Build whichever of the two entries is missing (the lock is held); False when another process built both."""
    need_hr, need_lr = not _complete(hr_entry), not _complete(lr_entry)
    if not (need_hr or need_lr):
        return False
    for stale in hr_entry.parent.glob(".*.partial"):  # a build killed half-way; nobody else builds under the lock
        shutil.rmtree(stale, ignore_errors=True)
    # An HR entry already there feeds a new scale's LR without decoding a PNG again.
    hr_source = None if need_hr else _open_entry(hr_entry, layout)
    outputs = []
    if need_hr:
        outputs.append(_EntryWriter(hr_entry, [_hr_shape(image) for image in layout.images], layout))
    if need_lr:
        outputs.append(_EntryWriter(lr_entry, [_lr_shape(image, layout.scale) for image in layout.images], layout))
    total = sum(writer.total for writer in outputs)
    say(f"{what}: building the cache in {hr_entry.parent}: {len(layout.images)} images, {_gigabytes(total)} to write "
        f"({'HR and ' if need_hr else ''}LR: {LR_METHODS[layout.lr_method]}), {threads} thread"
        f"{'s' if threads != 1 else ''}")
    started = time.perf_counter()
    _set_mmap_threshold(1 << 20)
    try:
        for _, (hr, lr) in _decoded(layout, threads, need_hr=need_hr, need_lr=need_lr, hr_source=hr_source, say=say,
                                    status=status, what=what, written=lambda: sum(w.written for w in outputs),
                                    total_bytes=total):
            arrays = ([hr] if need_hr else []) + ([lr] if need_lr else [])
            for writer, array in zip(outputs, arrays):
                writer.write(array)
        status(f"{what}: writing the cache index")
        for writer in outputs:
            writer.finish()
    finally:
        for writer in outputs:
            writer.discard()
        _set_mmap_threshold(_TRAINING_MMAP_THRESHOLD)
    seconds = time.perf_counter() - started
    size = _entry_bytes(hr_entry) + _entry_bytes(lr_entry)
    say(f"{what}: cache ready: {len(layout.images)} images, {_gigabytes(size)} in {hr_entry.parent}, built in "
        f"{_duration(seconds)}")
    return True


def _hr_shape(image: Div2kImage) -> tuple[int, int, int]:
    return image.hr_size[1], image.hr_size[0], 3


def _lr_shape(image: Div2kImage, scale: int) -> tuple[int, int, int]:
    return image.hr_size[1] // scale, image.hr_size[0] // scale, 3


class _EntryWriter:
    """Streams arrays of known shapes into a temporary entry folder; `finish` renames it into place."""

    def __init__(self, entry: Path, shapes: list[tuple[int, int, int]], layout: Div2kLayout) -> None:
        self.entry, self.shapes, self.layout = entry, shapes, layout
        self.offsets = list(np.cumsum([0] + [int(np.prod(shape)) for shape in shapes])[:-1].tolist())
        self.total = sum(int(np.prod(shape)) for shape in shapes)
        self.count = 0
        self.written = 0
        self.temporary = entry.parent / f".{entry.name}.{os.getpid()}.partial"
        try:
            self.temporary.mkdir(parents=True)
            self.file = open(self.temporary / DATA_FILE, "wb")
        except OSError as error:
            raise UserError(f"cannot write the cache in {entry.parent} ({error.strerror}); give another folder with "
                            "--cache") from None

    def write(self, array: np.ndarray) -> None:
        expected = self.shapes[self.count]
        if array.shape != expected:
            image = self.layout.images[self.count]
            raise UserError(f"{image.hr_file}: decoded to {array.shape[1]}x{array.shape[0]}, but its header said "
                            f"{expected[1]}x{expected[0]} (did the file change during the build?)")
        self._io(lambda: self.file.write(memoryview(np.ascontiguousarray(array)).cast("B")))
        self.count += 1
        self.written += array.nbytes

    def finish(self) -> None:
        def close_and_index() -> None:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            index = {"format": CACHE_FORMAT, "names": [image.name for image in self.layout.images],
                     "shapes": [list(shape) for shape in self.shapes], "offsets": self.offsets, "bytes": self.total}
            (self.temporary / INDEX_FILE).write_text(json.dumps(index))
            os.replace(self.temporary, self.entry)
        self._io(close_and_index)

    def discard(self) -> None:
        if not self.file.closed:
            self.file.close()
        shutil.rmtree(self.temporary, ignore_errors=True)

    def _io(self, operation: Callable[[], object]) -> None:
        try:
            operation()
        except OSError as error:
            reason = "disk full" if error.errno in (errno.ENOSPC, errno.EDQUOT) else error.strerror
            raise UserError(f"cannot write the cache in {self.entry.parent} ({reason}); free space or give another "
                            "folder with --cache") from None


def _decoded(layout: Div2kLayout, threads: int, *, need_hr: bool, need_lr: bool,
             hr_source: tuple[np.ndarray, ...] | None, say: Say, status: Say, what: str,
             written: Callable[[], int] = lambda: 0,
             total_bytes: int = 0) -> Iterator[tuple[Div2kImage, tuple[np.ndarray | None, np.ndarray | None]]]:
    """(image, (hr, lr)) in the layout's order, made by `threads` threads with a few images in flight at most, so
    that memory holds a handful of decoded images whatever the set's size. A file that cannot be decoded is a
    UserError naming it when its turn comes."""
    scale = layout.scale
    count = len(layout.images)
    verb = "decoded and downscaled" if layout.lr_method == "imresize" and need_lr else "decoded"

    def work(position: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        image = layout.images[position]
        hr = read_rgb(image.hr_file) if hr_source is None else hr_source[position]
        lr = None
        if need_lr:
            if image.lr_file is not None:
                lr = read_rgb(image.lr_file)
            else:
                lr = imresize_uint8(np.asarray(crop_to_multiple(hr, scale)), 1 / scale)
        return (hr if need_hr else None), lr

    started = last_line = time.perf_counter()
    workers = max(1, threads)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future] = deque()
        submitted = 0
        for done in range(1, count + 1):
            while submitted < count and len(pending) < 2 * workers:
                pending.append(pool.submit(work, submitted))
                submitted += 1
            try:
                pair = pending.popleft().result()
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
            yield layout.images[done - 1], pair
            now = time.perf_counter()
            rate = done / max(now - started, 1e-9)
            eta = _duration((count - done) / rate)
            cache = f", cache {_gigabytes(written())} of {_gigabytes(total_bytes)} written" if total_bytes else ""
            line = f"{what}: {done}/{count} images {verb}, {rate:.2f} images/s, ETA {eta}{cache}"
            status(line)
            if now - last_line >= PROGRESS_LINE_SECONDS and done < count:
                say(line)
                last_line = now


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


_M_MMAP_THRESHOLD = -3
# After the build: the ceiling glibc's own sliding threshold reaches on 64-bit systems, so that training's large,
# short-lived tensors come from the heap again instead of an mmap and a page fault each.
_TRAINING_MMAP_THRESHOLD = 32 << 20


def _set_mmap_threshold(threshold: int) -> None:
    """glibc keeps freed buffers for reuse, and a build frees thousands of multi-megabyte images: during the build,
    buffers of 1 MiB and more are served from mmap, so that each goes back to the system when freed (the effect of
    MALLOC_MMAP_THRESHOLD_=1048576, set from inside the process), and what the heap kept is trimmed at each change. A
    no-op without glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, threshold)
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass
