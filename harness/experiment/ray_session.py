"""The Ray session of a run: connect to a cluster, or start a private local Ray and clean up after dead ones.

Without `--address` a private local Ray is started for the run, listening on the loopback interface only, with its
own temporary folder and ports (a driver killed with SIGKILL may leave processes of its own Ray behind; they never
collide with a new one, and the next run ends them). The job's runtime environment ships this checkout's packages to
every worker, so no node needs the driver's filesystem.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

from harness.errors import UserError

REPOSITORY = Path(__file__).resolve().parents[2]
PACKAGES = ("harness", "mren", "baselines")  # shipped to every worker through the runtime environment
CONNECT_TIMEOUT_SECONDS = 5.0
ANSWER_TIMEOUT_SECONDS = 30.0  # an --address that is not connected as Ray by then is an error
PROBE_TIMEOUT_SECONDS = 10.0  # for its first gRPC reply
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HTTP2_EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # length 0, type SETTINGS, no flags, stream 0
HTTP2_SETTINGS_TYPE = 0x4
TEMP_PARENT = "/tmp"
TEMP_PREFIX = "mren-ray-"  # + "<driver pid>-<random>": the local Ray's own folder (sessions, sockets, logs)


def import_ray(*, loopback: bool) -> ModuleType:
    if loopback and "ray" not in sys.modules:
        # Read once, when Ray is imported, and inherited by every Ray process started from here: without it Ray
        # replaces a loopback address by the machine's network address (so a local Ray's servers listen on all
        # interfaces, and a driver cannot reach a cluster bound to loopback). With it, everything stays on 127.0.0.1.
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray
    return ray


def is_loopback(address: str) -> bool:
    host = address.removeprefix("ray://").rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")


def _check_reachable(address: str) -> None:
    """Fail in seconds on a wrong address: Ray itself retries an unreachable cluster for minutes."""
    host, separator, port = address.removeprefix("ray://").rpartition(":")
    if not separator or not port.isdigit():
        return  # "auto" and other forms Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_SECONDS).close()
    except OSError as error:
        raise UserError(f"cannot reach the Ray cluster at {address} ({error})") from None


def runtime_env(env_vars: dict[str, str] | None = None, extra_modules: list[str] | None = None) -> dict[str, Any]:
    """The job's runtime environment: this checkout's packages, uploaded to the cluster and put on every worker's
    path, and `env_vars` set in every worker before it starts. Nothing of the driver's filesystem is needed on a
    worker; its Python must have the dependencies."""
    modules = [str(REPOSITORY / package) for package in PACKAGES]
    # `--plugin` modules (harness/plugins.py): their package folder or file, unless it is one of the above
    modules += [source for source in extra_modules or [] if Path(source).name not in PACKAGES]
    environment: dict[str, Any] = {"py_modules": modules,
                                   "excludes": ["__pycache__/", "*.pyc"]}
    if env_vars:
        environment["env_vars"] = dict(env_vars)
    return environment


def start_ray(ray: ModuleType, *, address: str | None, num_cpus: int | None, env_vars: dict[str, str],
              extra_modules: list[str] | None = None) -> Path | None:
    """Connect to `address`, or start a private local Ray; the local Ray's temporary folder is returned."""
    common = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR,
              "runtime_env": runtime_env(env_vars, extra_modules)}
    if address is not None:
        deadline = time.monotonic() + ANSWER_TIMEOUT_SECONDS
        _check_reachable(address)
        _check_answers_as_ray(address, deadline)
        try:
            with _our_sigterm_handler(), _watchdog(address, deadline):
                ray.init(address=address, **common)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise UserError(f"cannot connect to the Ray cluster at {address} ({error}; a cluster with token "
                            "authentication needs RAY_AUTH_MODE=token and its token)") from None
        return None
    import torch

    remove_stale_temp_dirs()
    # A short path: Ray's unix sockets live under it and socket paths are limited to about 100 characters.
    temp_dir = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=TEMP_PARENT))
    with _our_sigterm_handler():
        ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), num_gpus=torch.cuda.device_count(),
                 _node_ip_address="127.0.0.1", _temp_dir=str(temp_dir), **common)
    return temp_dir


@contextmanager
def _our_sigterm_handler() -> Iterator[None]:
    """Keep the driver's SIGTERM handler through ray.init, which replaces it (with one that exits at once, and its
    core's native one that dumps a stack and aborts): SIGTERM must stay a clean interrupt, exit status 130."""
    handler = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        if handler is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, handler)


def _check_answers_as_ray(address: str, deadline: float) -> None:
    """Fail in seconds on an address where something else listens (or nothing answers): Ray would retry it for
    ever. Ray's GCS and its client server speak gRPC, so they answer an HTTP/2 connection preface with a SETTINGS
    frame; an HTTP/1 server, a database or a silent port does not."""
    host, separator, port = address.removeprefix("ray://").rpartition(":")
    if not separator or not port.isdigit():
        return  # "auto" and other forms Ray resolves itself
    what = f"--address {address} does not answer as Ray"
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_SECONDS) as connection:
            connection.sendall(HTTP2_PREFACE + HTTP2_EMPTY_SETTINGS)
            reply = b""
            while len(reply) < 9:
                connection.settimeout(max(0.1, min(PROBE_TIMEOUT_SECONDS, deadline - time.monotonic())))
                chunk = connection.recv(9 - len(reply))
                if not chunk:
                    raise UserError(f"{what}: it closed the connection (is it Ray's GCS port, 6379 by default?)")
                reply += chunk
    except TimeoutError:
        raise UserError(f"{what}: no reply within {PROBE_TIMEOUT_SECONDS:g} s (is it Ray's GCS port, 6379 by "
                        "default?)") from None
    except OSError as error:
        raise UserError(f"{what} ({error.strerror or error})") from None
    if reply[3] != HTTP2_SETTINGS_TYPE:  # a frame header: 3 bytes of length, then the type
        raise UserError(f"{what}: it replied {reply[:9]!r}, not gRPC (is it Ray's GCS port, 6379 by default?)")


@contextmanager
def _watchdog(address: str, deadline: float) -> Iterator[None]:
    """Ray retries a cluster that accepted the connection but does not complete its handshake for minutes, inside
    native code no Python exception can interrupt: past the deadline, print the one error line and end the process
    (nothing has been written yet; the results folder's lock goes with the process)."""
    finished = threading.Event()

    def expire() -> None:
        if not finished.wait(max(0.0, deadline - time.monotonic())):
            print(f"error: --address {address} does not answer as Ray: no connection within "
                  f"{ANSWER_TIMEOUT_SECONDS:g} s", file=sys.stderr, flush=True)
            os._exit(2)

    watcher = threading.Thread(target=expire, name="ray-connect-watchdog", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        finished.set()


def remove_stale_temp_dirs() -> None:
    """Clean up after earlier runs whose driver is gone (killed with SIGKILL: nothing else leaves a folder behind):
    end the Ray processes it left (Ray's agents outlive their raylet for a minute or so) and delete its folder."""
    for folder in Path(TEMP_PARENT).glob(f"{TEMP_PREFIX}*-*"):
        owner = folder.name.removeprefix(TEMP_PREFIX).split("-", 1)[0]
        if owner.isdigit() and not _alive(int(owner)):
            for pid in _ray_processes_in_group(int(owner)):
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            shutil.rmtree(folder, ignore_errors=True)


def _ray_processes_in_group(group: int) -> list[int]:
    """Ray processes in process group `group`: a driver started from a shell leads its own group, and every Ray
    process it starts stays in it."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[2]) == group and b"ray" in command:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
