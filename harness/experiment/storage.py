"""Where training checkpoints live: a folder (local, or shared such as NFS) or a URI that fsspec opens.

The training loop (harness/training/loop.py) always reads and writes a local folder. For a folder location that folder
is `<location>/<trial_id>` itself. For a URI (`s3://bucket/prefix`, `gs://...`, `file:///...`, any filesystem fsspec
knows) the trial trains in a local temporary folder: `last.pt` is downloaded from `<location>/<trial_id>/` before
training, uploaded again each time the loop rewrites it, and `last.pt` and `final.pt` are uploaded at the end. So a
trial retried on another node resumes from its last checkpoint wherever the location is reachable from every node. Knows
nothing of Ray."""

import os
import shutil
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from harness.errors import UserError

CHECKPOINT_FILES = ("last.pt", "final.pt")
SYNC_SECONDS = 2.0  # how often a URI location is brought up to date with the local last.pt
NODE_LOCAL_ENV = "MREN_NODE_CHECKPOINTS"  # overrides the node-local checkpoint folder of a cluster run
NODE_CACHE_ENV = "MREN_NODE_CACHE"  # overrides the node-local data cache of a cluster run


def is_uri(location: str) -> bool:
    return "://" in location


def check_location(location: str) -> str:
    """`location` as the run will use it: a URI whose filesystem fsspec can open, or an absolute folder path."""
    if is_uri(location):
        protocol = location.split("://", 1)[0]
        try:
            import fsspec
            fsspec.get_filesystem_class(protocol)
        except ImportError as error:
            raise UserError(f"--storage {location}: the {protocol}:// filesystem needs a package that is not "
                            f"installed ({error})") from None
        except (ValueError, KeyError):
            raise UserError(f"--storage {location}: unknown filesystem {protocol}:// "
                            "(fsspec does not know it)") from None
        return location.rstrip("/")
    return str(Path(location).expanduser().absolute())


def node_local_location() -> str:
    """Checkpoints on this node's own disk: a cluster run without shared storage."""
    return os.environ.get(NODE_LOCAL_ENV) or str(Path(tempfile.gettempdir()) / "mren-checkpoints")


def node_local_cache() -> Path:
    """Decoded-data cache on this node's own disk: a cluster run never writes into the driver's results folder."""
    return Path(os.environ.get(NODE_CACHE_ENV) or Path(tempfile.gettempdir()) / "mren-cache")


def delete_checkpoints(location: str, trial_id: str) -> None:
    """Forget a trial's checkpoints (a run with --force starts it from scratch)."""
    if is_uri(location):
        filesystem, root = _open(location)
        path = f"{root}/{trial_id}"
        if filesystem.exists(path):
            filesystem.rm(path, recursive=True)
    else:
        shutil.rmtree(Path(location) / trial_id, ignore_errors=True)


@contextmanager
def checkpoint_folder(location: str, trial_id: str) -> Iterator[Path]:
    """A local folder for the training loop of `trial_id`, kept in step with `location`."""
    if not is_uri(location):
        yield Path(location) / trial_id
        return
    filesystem, root = _open(location)
    remote = f"{root}/{trial_id}"
    with tempfile.TemporaryDirectory(prefix=f"mren-{trial_id}-") as folder:
        local = Path(folder)
        if filesystem.exists(f"{remote}/last.pt"):
            filesystem.get(f"{remote}/last.pt", str(local / "last.pt"))
        syncer = _Syncer(filesystem, local, remote)
        syncer.start()
        try:
            yield local
        finally:
            syncer.stop()
        for name in CHECKPOINT_FILES:
            syncer.upload(name)


def _open(location: str):
    import fsspec
    try:
        filesystem, root = fsspec.core.url_to_fs(location)
    except (ImportError, ValueError) as error:
        raise UserError(f"--storage {location}: cannot open it ({error})") from None
    return filesystem, root.rstrip("/")


class _Syncer(threading.Thread):
    """Uploads the local last.pt whenever the training loop has replaced it (atomic renames: never half a file)."""

    def __init__(self, filesystem, local: Path, remote: str) -> None:
        super().__init__(daemon=True, name="checkpoint-sync")
        self.filesystem, self.local, self.remote = filesystem, local, remote
        self.stopping = threading.Event()
        self.uploaded: dict[str, int] = {}
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.stopping.wait(SYNC_SECONDS):
            self.upload("last.pt")

    def stop(self) -> None:
        self.stopping.set()
        self.join()

    def upload(self, name: str) -> None:
        path = self.local / name
        with self.lock:
            try:
                stamp = path.stat().st_mtime_ns
            except FileNotFoundError:
                return
            if self.uploaded.get(name) == stamp:
                return
            self.filesystem.makedirs(self.remote, exist_ok=True)
            # Upload beside the target, then move: a reader never sees half a checkpoint where moves are atomic.
            temporary = f"{self.remote}/.{name}.uploading"
            self.filesystem.put_file(str(path), temporary)
            self.filesystem.mv(temporary, f"{self.remote}/{name}")
            self.uploaded[name] = stamp
