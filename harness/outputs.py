"""Output locations checked before any work starts: a folder or file the command will write must be writable there,
so that a long evaluation or a Ray run never ends in a crash at its first write (docs/errors.md).

Nothing is created or touched by these checks: a missing folder is judged by its nearest existing ancestor.
"""

import os
from pathlib import Path

from harness.errors import UserError

MIN_FREE_BYTES = 1 << 20  # below this a folder is treated as full: a record or a figure is tens of kilobytes


def check_output_folder(path: Path, what: str) -> None:
    """`path` is, or can be made as, a folder this process can write into; else a UserError naming `what` and it."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise UserError(f"{what} {path} is {'a file' if path.exists() else 'a broken link'}, not a folder")
        _probe(path, what, path)
        return
    _probe(_existing_ancestor(path, what), what, path)


def check_output_file(path: Path, what: str) -> None:
    """`path` can be written as a file (its missing parent folders are created when it is written)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{what} {path} is a folder; give a file name inside it, such as {path / 'result.json'}")
    if path.exists() and not path.is_file():
        raise UserError(f"{what} {path} is not a regular file")
    check_output_folder(path.parent, f"{what} {path}: its folder")


def _existing_ancestor(path: Path, what: str) -> Path:
    """The nearest ancestor of `path` that exists; it must be a folder, or `path` can never be made."""
    for ancestor in Path(os.path.abspath(path)).parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise UserError(f"{what} {path} cannot be made: {ancestor} is a file, not a folder")
            return ancestor
    raise UserError(f"{what} {path} cannot be made")  # unreachable: "/" exists


def _probe(folder: Path, what: str, path: Path) -> None:
    # access(2) answers for this process's user and for a read-only mount (EROFS), and, unlike a trial file, leaves
    # the folder's modification time alone.
    effective = os.access in os.supports_effective_ids
    try:
        stats = os.statvfs(folder)
    except OSError as error:
        raise UserError(f"{what} {path} is not writable ({error.strerror or error})") from None
    if stats.f_flag & os.ST_RDONLY:
        raise UserError(f"{what} {path} is not writable ({folder} is on a read-only file system)")
    if not os.access(folder, os.W_OK | os.X_OK, effective_ids=effective):
        raise UserError(f"{what} {path} is not writable (no write permission on {folder})")
    free = stats.f_bavail * stats.f_frsize
    if free < MIN_FREE_BYTES:
        raise UserError(f"{what} {path}: disk full ({free:,} bytes free on {folder})")


def check_apart(output: Path, what: str, inputs: dict[str, Path], scanned: dict[str, Path] | None = None) -> None:
    """An output that is also an input is refused before anything is written: `output` must not be any of `inputs`
    (a file or folder the command reads: --hr, --weights, the results folder a report reads), and must not lie inside
    any of `scanned` (folders whose every entry is read: a benchmark set, trials/), where a file written would become
    an input of the next run. Paths are compared after resolving links, so a link to an input is that input."""
    where = Path(os.path.realpath(output))
    for name, path in {**inputs, **(scanned or {})}.items():
        if where == Path(os.path.realpath(path)):
            raise UserError(f"{what} {output} is also the input {name} {path}: write the output somewhere else")
    for name, path in (scanned or {}).items():
        if Path(os.path.realpath(path)) in where.parents:
            raise UserError(f"{what} {output} is inside the input {name} {path}, which is read entry by entry: write "
                            "the output somewhere else")
