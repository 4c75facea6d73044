"""Input locations checked where they are first named, and file-system errors said in words (docs/errors.md).

`input_folder` and `input_file` answer the three questions `Path.is_dir()` and `Path.is_file()` fold into one False:
does it exist, is it the right kind (a folder where a folder is expected, a file where a file is), and may this user
read it. `os_reason` is the one translation of an OSError into the words a message uses ("permission denied", "disk
full", "is a folder", ...); `harness/cli.py` uses it for any OSError that reaches the top, so a file-system error is
always one line naming the file, never a traceback.
"""

import errno
import os
from pathlib import Path

from harness.errors import UserError

# errno -> the words a message says. Anything else is said with the system's own text.
_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk full (quota exceeded)",
    errno.EFBIG: "file too large for this file system or limit",
    errno.EROFS: "read-only file system",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ENOENT: "does not exist",
    errno.ELOOP: "is a link loop",
    errno.ENAMETOOLONG: "name too long",
    errno.ENOMEM: "out of memory",
    errno.EIO: "input/output error (a failing disk or a lost network mount)",
}

# Errors that are the user's environment, the same on every attempt: bad input, never retried, never a traceback.
INPUT_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS,
                          errno.EISDIR, errno.ENOTDIR, errno.ENOENT, errno.ELOOP, errno.ENAMETOOLONG})


def os_reason(error: OSError) -> str:
    """The words for `error`'s errno ("permission denied", "disk full", ...), else the system's text."""
    if error.errno in _REASONS:
        return _REASONS[error.errno]
    return error.strerror or str(error) or type(error).__name__


def os_error_line(error: OSError) -> str:
    """One line for an OSError: the file it names and what went wrong."""
    names = [name for name in (error.filename, error.filename2) if name is not None]
    where = " -> ".join(os.fsdecode(name) for name in names)
    return f"{where}: {os_reason(error)}" if where else os_reason(error)


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return f"uid {os.geteuid()}"


def _kind_problem(path: Path, want_folder: bool) -> str | None:
    """Why `path` is not an existing entry of the wanted kind, in words; None when it is one (readable or not)."""
    try:
        stats = path.stat()
    except FileNotFoundError:
        return "is a broken link" if path.is_symlink() else "does not exist"
    except NotADirectoryError:
        return "cannot exist: a part of its path is a file, not a folder"
    except PermissionError:
        return f"cannot be reached: permission denied on a folder above it (for user {_user()})"
    except OSError as error:
        return os_reason(error)
    import stat

    if want_folder and not stat.S_ISDIR(stats.st_mode):
        return "is a file, not a folder" if stat.S_ISREG(stats.st_mode) else "is not a folder"
    if not want_folder and not stat.S_ISREG(stats.st_mode):
        return "is a folder, not a file" if stat.S_ISDIR(stats.st_mode) else "is not a regular file"
    return None


def input_folder(path: Path, what: str) -> Path:
    """`path` as a folder this user can list and read; else one UserError line, "`what` `path` <why>"."""
    path = Path(path)
    problem = _kind_problem(path, want_folder=True)
    if problem is None:
        try:
            with os.scandir(path):  # read permission: its names can be listed
                pass
            os.stat(os.path.join(path, "."))  # search permission: what it holds can be opened
        except OSError as error:
            problem = f"cannot be read: {os_reason(error)} (for user {_user()})"
    if problem is not None:
        raise UserError(f"{what} {path} {problem}")
    return path


def input_file(path: Path, what: str) -> Path:
    """`path` as a regular file this user can open for reading; else one UserError line, "`what` `path` <why>"."""
    path = Path(path)
    problem = _kind_problem(path, want_folder=False)
    if problem is None:
        try:
            with open(path, "rb"):
                pass
        except OSError as error:
            problem = f"cannot be read: {os_reason(error)} (for user {_user()})"
    if problem is not None:
        raise UserError(f"{what} {path} {problem}")
    return path


def folder_problem(path: Path, what: str) -> str | None:
    """`input_folder`'s line, or None where the folder is fine (for checks that collect problems)."""
    try:
        input_folder(path, what)
    except UserError as error:
        return str(error)
    return None


def file_problem(path: Path, what: str) -> str | None:
    try:
        input_file(path, what)
    except UserError as error:
        return str(error)
    return None
