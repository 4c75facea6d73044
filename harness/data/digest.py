"""Content digests of a trial's inputs (benchmark sets, released weights), hashed into its identity.

A trial is done when a record of its config exists; if the config named a benchmark set only by name, a set that
changed on disk (an image added, fixed or removed) would keep its old, wrong number forever. The digest covers every
regular file below a folder (relative path and bytes). It is computed once per process for a given file state:
files are re-read only when their size, modification time or inode change.
"""

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from harness.errors import UserError
from harness.inputs import os_error_line

DIGEST_PREFIX = "sha256:"
DIGEST_HEX = 16  # 64 bits: enough to tell versions of one input apart


def content_digest(path: Path) -> str:
    """"sha256:<16 hex>" of a file, or of a folder's files (relative paths and bytes, in sorted order). A file or
    folder this user cannot read is one UserError line: a digest that skipped it would name another input."""
    try:
        return _content_digest(Path(path))
    except OSError as error:
        raise UserError(f"cannot read input {os_error_line(error)}") from None


def _content_digest(path: Path) -> str:
    if path.is_dir():
        hasher = hashlib.sha256()
        for file in sorted(_files(path)):
            hasher.update(file.relative_to(path).as_posix().encode("utf-8") + b"\0")
            hasher.update(_file_digest(file).encode("ascii") + b"\0")
        return DIGEST_PREFIX + hasher.hexdigest()[:DIGEST_HEX]
    return DIGEST_PREFIX + _file_digest(path)[:DIGEST_HEX]


def _files(folder: Path) -> list[Path]:
    found = []
    for root, _, names in os.walk(folder, onerror=_raise):  # does not follow folder links; file links are read
        for name in names:
            file = Path(root) / name
            if file.is_file():
                found.append(file)
    return found


def _raise(error: OSError) -> None:
    raise error


def _file_digest(file: Path) -> str:
    status = file.stat()
    return _hash_file(str(file), status.st_size, status.st_mtime_ns, status.st_ino)


@lru_cache(maxsize=None)
def _hash_file(file: str, size: int, mtime_ns: int, inode: int) -> str:
    hasher = hashlib.sha256()
    with open(file, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()
