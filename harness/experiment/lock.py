"""The results folder's lock: one `run` at a time writes into a results folder.

The lock is `<results>/run.lock`, held with fcntl.flock for the life of the run and naming its holder (pid, host,
start time). The kernel releases a flock when its holder exits however it exits, so a run killed with SIGKILL never
leaves a stale lock, only a file whose text is no longer true. Readers (`report`, `check`) take no lock: records are
written atomically, so they see whole records of a run in progress.

flock is advisory and local to one machine's kernel: two hosts writing one NFS results folder are not excluded
(docs/cluster.md).
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import os
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import Callable

from harness.errors import UserError
from harness.results_layout import ResultsLayout

WAIT_POLL_SECONDS = 0.5


class ResultsLock:
    """`with ResultsLock(results): ...` holds the lock of `results` (created if missing) for the block."""

    def __init__(self, results_dir: Path, *, wait: bool = False,
                 on_wait: Callable[[str], None] | None = None) -> None:
        self.results_dir = Path(results_dir)
        self.path = ResultsLayout(self.results_dir).lock
        self.wait = wait
        self.on_wait = on_wait  # called once with the holder's description when --wait starts waiting
        self.descriptor: int | None = None
        self.created_folder = False

    def __enter__(self) -> ResultsLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.release()

    def acquire(self) -> None:
        if not self.results_dir.exists():
            try:
                self.results_dir.mkdir(parents=True)
                self.created_folder = True
            except FileExistsError:
                pass  # made by a run that started at the same moment: the lock decides between the two
            except OSError as error:
                raise UserError(f"results folder {self.results_dir} cannot be made ({error.strerror})") from None
        told = False
        while True:
            descriptor = self._open()
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                os.close(descriptor)
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise UserError(f"cannot lock {self.path} ({error.strerror})") from None
                holder = self.holder()
                if not self.wait:
                    raise UserError(f"results folder {self.results_dir} is in use by another run ({holder}); "
                                    "wait for it, or pass --wait to start when it ends") from None
                if not told and self.on_wait is not None:
                    self.on_wait(holder)
                told = True
                time.sleep(WAIT_POLL_SECONDS)
                continue
            # The previous holder deletes the file when it releases: a lock taken on a file that is no longer at
            # `path` excludes nobody, so take it again on the file that is there now.
            try:
                current = os.stat(self.path)
            except FileNotFoundError:
                os.close(descriptor)
                continue
            mine = os.fstat(descriptor)
            if (current.st_dev, current.st_ino) != (mine.st_dev, mine.st_ino):
                os.close(descriptor)
                continue
            self.descriptor = descriptor
            self._describe_holder()
            return

    def release(self) -> None:
        if self.descriptor is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still held: see acquire
        except OSError:
            pass
        os.close(self.descriptor)
        self.descriptor = None
        if self.created_folder:
            try:
                self.results_dir.rmdir()  # a run that stopped before writing anything leaves no empty folder
            except OSError:
                pass

    def holder(self) -> str:
        """The holder as its lock file describes it, e.g. "pid 4242 on host-a since 2025-01-01T10:00:00+00:00"."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            text = ""
        return " ".join(text.split())[:200] or "holder unknown"

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as error:
            raise UserError(f"cannot create the lock file {self.path} ({error.strerror})") from None

    def _describe_holder(self) -> None:
        started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        text = f"pid {os.getpid()} on {socket.gethostname()} since {started}\n".encode()
        try:
            os.ftruncate(self.descriptor, 0)
            os.pwrite(self.descriptor, text, 0)
        except OSError:
            pass  # the description is a courtesy (a full disk): the flock alone excludes
