"""Write files so that a reader never sees half of one: a temporary file in the same folder, then a rename.

A write that fails for want of space or permission (a full disk, a read-only folder) removes its temporary file and
becomes one UserError line naming the destination: nothing half-written is left, and no traceback is shown.
"""

import errno
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from harness.errors import UserError
from harness.inputs import os_reason

# Errors of the destination's file system, whichever file operation meets them first; other OSErrors (an input that
# cannot be read inside the block) pass through unchanged.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM})


@contextmanager
def atomic_path(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside `path` to write to; rename it over `path` on success, remove it on failure.

    `suffix` matters to writers that pick a format from the name (np.save appends .npy to other names).
    """
    path = Path(path)
    with _write_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
        os.close(descriptor)
    temporary = Path(name)
    try:
        with _write_errors(path):
            os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; results are meant to be shared
            yield temporary
            os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_folder(path: Path) -> Iterator[Path]:
    """Yield a temporary folder beside `path` to fill; on success its files are renamed into `path` (created if
    needed), on failure (a full disk, Ctrl-C) it is removed and `path` is as it was. Renames within one file system
    need no space, so `path` never holds half of the output."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"cannot write {path}: it is a file, not a folder")
    with _write_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial"))
    try:
        with _write_errors(path):
            yield temporary
            path.mkdir(exist_ok=True)
            for entry in sorted(temporary.iterdir()):
                os.replace(entry, path / entry.name)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


class WriteError(UserError):
    """A destination that cannot be written: a full disk, a read-only or foreign folder. `reason` says it in the
    words of harness/inputs.py ("disk full", "permission denied"), then the system's own text."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot write {path} ({reason}); nothing was written there")
        self.path = path
        self.reason = reason


@contextmanager
def _write_errors(path: Path) -> Iterator[None]:
    """An OSError of the destination's file system as one WriteError line naming `path` (for a file written into an
    atomic_folder's temporary folder, the folder's destination: the temporary name means nothing to a user)."""
    try:
        yield
    except WriteError as error:
        if error.path == path:
            raise
        raise WriteError(path, error.reason) from None
    except OSError as error:
        if error.errno not in WRITE_ERRNOS:
            raise
        raise WriteError(path, _reason(error)) from None


def _reason(error: OSError) -> str:
    words, system = os_reason(error), error.strerror or str(error)
    return words if words.lower() == system.lower() else f"{words}: {system}"


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
