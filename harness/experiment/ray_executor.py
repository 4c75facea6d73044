"""The grid's executor on Ray (with harness/experiment/ray_session.py, the only code that imports Ray): each attempt
of a trial is a Ray task that calls `run_trial` and returns its TrialResult, or its exception.

It decides nothing: the policy (harness/experiment/grid_policy.py) says what to submit and what an outcome leads to,
and the sinks (harness/experiment/grid_sinks.py) write what comes back. Nothing here assumes that the driver and the
workers share a filesystem:
- the code reaches workers through the job's runtime environment (`py_modules`: harness, mren, baselines);
- a task returns its whole result (record and visual crops) or its exception, and the driver alone writes them;
- live progress, and every line and scalar of a trial's log, go through a small actor on the driver's node
  (`_ProgressBoard`), never through files;
- checkpoints go to the storage location (`--storage`), which is the results folder's `checkpoints/` on a local run.

Ray's own retries are off (`max_retries=0`): Ray cannot tell bad input from a crash, and an attempt the driver does
not see leaves no log line, traceback file or run-state entry (docs/cluster.md compares Ray Tune's handling).

This module imports neither torch nor the rest of the harness at the top: a worker imports it to run a task, and a
worker whose Python lacks the harness's dependencies must fail with one clear line.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
import re
import shutil
import signal
import socket
import sys
import threading
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Hashable, Iterator, Sequence

from harness.errors import UserError
from harness.experiment import ray_session
from harness.experiment.grid_policy import Attempt, TaskError
from harness.experiment.storage import is_uri
from harness.plugins import plugin_sources
from harness.training.profiles import cpu_kernel_environment

if TYPE_CHECKING:
    from harness.experiment.run_trial import TrialResult
    from harness.experiment.trial import RunSettings
    from harness.experiment.trial_events import TrialEvent

BOARD_TIMEOUT_SECONDS = 10.0  # for the board's log events; its statuses get one poll interval


@dataclass(frozen=True)
class ClusterOptions:
    address: str | None = None  # an existing Ray cluster; None starts a private local one
    num_cpus: int | None = None  # size of the local Ray (default: every core)
    cpus_per_trial: float = 1.0
    gpus_per_trial: float | None = None  # None: 1 when the cluster has GPUs, else 0


class WorkerEnvironmentError(RuntimeError):
    """A worker's Python cannot import what a trial needs (torch and the rest of the harness's dependencies)."""


@contextmanager
def open_ray_executor(settings: RunSettings, options: ClusterOptions) -> Iterator[RayExecutor]:
    """A Ray session (a cluster at `options.address`, or a private local Ray) and its executor; Ray is shut down at
    the end, on failure and on Ctrl-C. SIGTERM is Ctrl-C meanwhile (exit 130 from the command)."""
    ray = ray_session.import_ray(loopback=options.address is None or ray_session.is_loopback(options.address))
    main_thread = threading.current_thread() is threading.main_thread()
    previous_sigterm = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt) if main_thread else None
    temp_dir = None
    executor = None
    try:
        temp_dir = ray_session.start_ray(ray, address=options.address, num_cpus=options.num_cpus,
                                           env_vars=cpu_kernel_environment(settings.profile),
                                           extra_modules=plugin_sources(settings.plugins))
        executor = RayExecutor(ray, settings, options)
        yield executor
    finally:
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
        ray.shutdown()
        if temp_dir is not None and (executor is None or not executor.any_failed):  # kept: the workers' logs
            shutil.rmtree(temp_dir, ignore_errors=True)


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class RayExecutor:
    """Attempts as Ray tasks, as many at once as the cluster's nodes fit; their progress through the board."""

    def __init__(self, ray: ModuleType, settings: RunSettings, options: ClusterOptions) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self.ray = ray
        cluster = options.address is not None
        self.node_local = cluster and settings.storage is None
        self.task_settings = task_settings(settings, cluster=cluster)
        nodes = _node_resources(ray)
        self.resources = trial_resources(options, sum(node.get("GPU", 0.0) for node in nodes))
        self.capacity = _capacity(self.resources, nodes)
        self.remote = ray.remote(max_retries=0)(_trial_task).options(**self.resources)
        here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=True)
        self.board = ray.remote(num_cpus=0, max_restarts=0)(_ProgressBoard).options(scheduling_strategy=here).remote()
        self.trial_ids: dict[Hashable, str] = {}
        self.any_failed = False
        self.code_version: tuple[str | None, bool | None] | None = None

    @property
    def how(self) -> str:
        return f"{self.capacity} at a time ({describe_resources(self.resources)} each)"

    @property
    def notes(self) -> list[str]:
        return ["no --storage given: checkpoints stay on each worker node's local disk, so a trial interrupted there "
                "restarts from scratch on another node (docs/cluster.md)"] if self.node_local else []

    def submit(self, attempt: Attempt) -> Hashable:
        payload = pickle.dumps((attempt.trial, self.task_settings))
        handle = self.remote.remote(payload, self.board, self.node_local, attempt.fresh)
        self.trial_ids[handle] = attempt.trial.trial_id
        return handle

    def wait(self, handles: Sequence[Hashable], timeout: float) -> list[Hashable]:
        ready, _ = self.ray.wait(list(handles), num_returns=1, timeout=timeout)
        return ready

    def outcome(self, handle: Hashable) -> TrialResult | TaskError:
        self.board.forget.remote(self.trial_ids.pop(handle))
        try:
            result = self.ray.get(handle)
        except Exception as error:  # a task fails in many ways: its own exception, a crashed worker, a lost node
            self.any_failed = True
            cause = getattr(error, "cause", None) or error  # RayTaskError wraps the task's own exception
            if isinstance(cause, WorkerEnvironmentError):
                raise UserError(str(cause)) from None
            return TaskError(cause, one_line(cause), "".join(traceback.format_exception(error)))
        return self._with_driver_code_version(result)

    def statuses(self) -> dict[str, str]:
        try:
            return self.ray.get(self.board.snapshot.remote(), timeout=1.0)
        except Exception:  # progress is best effort: an overloaded or lost actor only leaves the bar stale
            return {}

    def take_events(self) -> dict[str, list[TrialEvent]]:
        try:
            return self.ray.get(self.board.take_events.remote(), timeout=BOARD_TIMEOUT_SECONDS)
        except Exception:  # best effort, like the bar: a lost board costs log lines, never a trial
            return {}

    def cancel(self, handles: Sequence[Hashable]) -> None:
        for handle in handles:
            self.ray.cancel(handle, force=True)

    def _with_driver_code_version(self, result: TrialResult) -> TrialResult:
        """The code a worker ran is the driver's, shipped through Ray: record the driver's git state."""
        from harness.experiment.environment import code_version

        if self.code_version is None:
            self.code_version = code_version()
        commit, dirty = self.code_version
        environment = result.record.environment.model_copy(update={"git_commit": commit, "git_dirty": dirty})
        return dataclasses.replace(result, record=result.record.model_copy(update={"environment": environment}))


def trial_resources(options: ClusterOptions, cluster_gpus: float) -> dict[str, float]:
    """What one trial asks Ray for: a GPU (or the given fraction) when there are GPUs, CPUs otherwise."""
    gpus = options.gpus_per_trial if options.gpus_per_trial is not None else (1.0 if cluster_gpus > 0 else 0.0)
    return {"num_cpus": options.cpus_per_trial, "num_gpus": gpus}


def local_slots(options: ClusterOptions, cpus: int, gpus: int) -> int:
    """Trials at once on one machine with `cpus` CPUs (or --num-cpus) and `gpus` GPUs, as a local Ray fits them."""
    resources = trial_resources(options, gpus)
    return max(1, _fits(resources, {"CPU": float(options.num_cpus or cpus), "GPU": float(gpus)}))


def describe_resources(resources: dict[str, float]) -> str:
    cpus = f"{resources['num_cpus']:g} CPU"
    return f"{resources['num_gpus']:g} GPU + {cpus}" if resources["num_gpus"] else cpus


def task_settings(settings: RunSettings, *, cluster: bool) -> RunSettings:
    """The settings a task gets. Local: absolute paths (a worker's working folder is not the driver's), storage
    defaults to the results folder, the cache to this machine's per-user cache. Cluster: storage and cache as given
    (None: each node's local disk, chosen on the node)."""
    def absolute(path: Path | None) -> Path | None:
        return None if path is None else Path(path).absolute()

    settings = dataclasses.replace(settings, results_dir=absolute(settings.results_dir),
                                   data_root=absolute(settings.data_root), weights_dir=absolute(settings.weights_dir))
    if cluster:
        return settings
    location = settings.checkpoint_location
    return dataclasses.replace(settings, storage=location if is_uri(location) else str(Path(location).absolute()),
                               cache_dir=absolute(settings.data_cache_dir))


def _trial_task(payload: bytes, board: Any, node_local: bool, fresh: bool) -> TrialResult:
    """Body of a Ray task: check the worker's Python, pick threads, device and checkpoint folder, run run_trial."""
    node = socket.gethostname()
    try:
        import torch

        from harness.experiment import storage
        from harness.experiment.run_trial import run_trial
        trial, settings = pickle.loads(payload)
    except ImportError as error:
        raise WorkerEnvironmentError(
            f"the Python of Ray node {node} ({sys.executable}) cannot import {error.name or error}: install the "
            "harness's dependencies (torch, ...) in the cluster's Python environment (docs/cluster.md)") from None
    import ray

    assigned = ray.get_runtime_context().get_assigned_resources()
    # A reused worker keeps the thread count of its first task unless it is set again here.
    torch.set_num_threads(max(1, int(assigned.get("CPU", 1))))
    device = "cuda" if ray.get_gpu_ids() and torch.cuda.is_available() else "cpu"
    if node_local:
        settings = dataclasses.replace(settings, storage=storage.node_local_location())
    if settings.cache_dir is None:
        settings = dataclasses.replace(settings, cache_dir=storage.node_local_cache())
    if fresh:
        storage.delete_checkpoints(settings.checkpoint_location, trial.trial_id)

    def on_progress(status: str) -> None:
        board.report.remote(trial.trial_id, status)  # fire and forget: progress never slows or fails a trial

    def on_event(event: Any) -> None:
        board.add_events.remote(trial.trial_id, [event])  # the driver writes the log (grid_sinks.py)

    on_progress(f"starting on {node}")
    try:
        return run_trial(trial, settings, device=device, on_progress=on_progress, on_event=on_event)
    finally:
        # An actor runs one caller's calls in order: once this one returns, every event above is on the board, so
        # the driver has the whole log when it collects the result.
        try:
            ray.get(board.add_events.remote(trial.trial_id, []), timeout=30)
        except Exception:
            pass  # a lost board costs log lines, never the trial


class _ProgressBoard:
    """Actor on the driver's node: each running trial's last status (iteration and loss, evaluation, MACs)."""

    def __init__(self) -> None:
        self.statuses: dict[str, str] = {}
        self.events: dict[str, list[Any]] = {}  # log events not yet taken by the driver

    def report(self, trial_id: str, status: str) -> None:
        self.statuses[trial_id] = status

    def add_events(self, trial_id: str, events: list[Any]) -> None:
        if events:
            self.events.setdefault(trial_id, []).extend(events)

    def take_events(self) -> dict[str, list[Any]]:
        events, self.events = self.events, {}
        return events

    def forget(self, trial_id: str) -> None:
        self.statuses.pop(trial_id, None)

    def snapshot(self) -> dict[str, str]:
        return dict(self.statuses)


def _node_resources(ray: ModuleType) -> list[dict[str, float]]:
    return [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]


def _fits(resources: dict[str, float], node: dict[str, float]) -> int:
    """How many trials fit on one node at once (a trial never spans nodes)."""
    fits = []
    if resources["num_cpus"] > 0:
        fits.append(math.floor(round(node.get("CPU", 0.0) / resources["num_cpus"], 6)))
    if resources["num_gpus"] > 0:
        fits.append(math.floor(round(node.get("GPU", 0.0) / resources["num_gpus"], 6)))
    return min(fits) if fits else 1


def _capacity(resources: dict[str, float], nodes: list[dict[str, float]]) -> int:
    """How many trials fit on the cluster at once, node by node; a UserError when no node can ever fit one."""
    capacity = sum(_fits(resources, node) for node in nodes)
    if capacity < 1:
        cpus = max((node.get("CPU", 0.0) for node in nodes), default=0.0)
        gpus = max((node.get("GPU", 0.0) for node in nodes), default=0.0)
        raise UserError(f"a trial asks for {describe_resources(resources)} but no node of the Ray cluster can ever "
                        f"fit it ({len(nodes)} node{'s' if len(nodes) != 1 else ''}, at most {cpus:g} CPU and "
                        f"{gpus:g} GPU on one node): lower --cpus-per-trial or --gpus-per-trial")
    return capacity


def one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
    # Ray's advice to "Check raylet.out" / "python-core-worker-*.log files" names files a user cannot find: the
    # driver names the trial's log and traceback files instead.
    return _RAY_LOG_ADVICE.sub("", line).strip()


_RAY_LOG_ADVICE = re.compile(r"\s*[^.]*\b(raylet\.out|core-worker[^ ]*\.log)[^.]*\.?")
