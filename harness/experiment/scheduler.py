"""Ray glue (with harness/experiment/ray_session.py, the only code that imports Ray): run trials as Ray tasks, retry
failures, show progress.

Ray only places tasks. Which trials are done, and where an interrupted one resumes, is decided by the harness's own
records and checkpoints (harness/records.py, harness/experiment/storage.py), never by Ray state. Nothing here assumes
that the driver and the workers share a filesystem:
- the code reaches workers through the job's runtime environment (`py_modules`: harness, mren, baselines);
- a task returns its whole result (record and visual crops) or its exception; the driver alone writes records, and
  failure tracebacks, into the results folder;
- live progress, and every line and scalar of a trial's log, go through a small actor on the driver's node, never
  through files: the driver writes `<results>/logs/`, `<results>/tensorboard/` and `<results>/run_state.json`
  (harness/experiment/trial_logs.py, run_state.py);
- checkpoints go to the storage location (`--storage`), which is the results folder's `checkpoints/` on a local run.

The Ray session (a cluster at `--address`, or a private local Ray) comes from harness/experiment/ray_session.py and
is shut down at the end, on failure and on Ctrl-C.

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
import time
import traceback
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from harness.atomic import write_text_atomic
from harness.errors import UserError
from harness.experiment import ray_session
from harness.experiment.storage import is_uri
from harness.plugins import plugin_sources
from harness.training.profiles import cpu_kernel_environment

if TYPE_CHECKING:
    from harness.experiment.run_trial import TrialResult
    from harness.experiment.trial import RunSettings, Trial

FAILURES_DIR = "failures"  # <results>/failures/<trial_id>.txt: the traceback of a trial's last failed attempt
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class SchedulerOptions:
    address: str | None = None  # an existing Ray cluster; None starts a private local one
    num_cpus: int | None = None  # size of the local Ray (default: every core)
    cpus_per_trial: float = 1.0
    gpus_per_trial: float | None = None  # None: 1 when the cluster has GPUs, else 0
    retries: int = 1  # extra attempts for a failed trial
    fresh: frozenset[str] = frozenset()  # trial ids whose checkpoints are deleted before their first attempt
    wandb_project: str | None = None  # also log scalars to Weights & Biases (harness/experiment/trial_logs.py)


@dataclass(frozen=True)
class Failure:
    trial: Trial
    attempts: int
    error: str  # one line
    traceback_file: Path | None  # None for bad input: its message is the whole story
    bad_input: bool = False  # a UserError inside the trial: deterministic, so never retried


@dataclass(frozen=True)
class GridOutcome:
    finished: tuple[TrialResult, ...]
    failures: tuple[Failure, ...]
    wall_seconds: float


class WorkerEnvironmentError(RuntimeError):
    """A worker's Python cannot import what a trial needs (torch and the rest of the harness's dependencies)."""


def run_grid(trials: list[Trial], settings: RunSettings, options: SchedulerOptions, spec: str = "") -> GridOutcome:
    """Run `trials` (none of them done) as Ray tasks; Ctrl-C cancels the running ones and re-raises."""
    started = time.perf_counter()
    ray = ray_session.import_ray(loopback=options.address is None or ray_session.is_loopback(options.address))
    previous_sigterm = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    temp_dir = None
    driver = None
    try:
        temp_dir = ray_session.start_ray(ray, address=options.address, num_cpus=options.num_cpus,
                                           env_vars=cpu_kernel_environment(settings.profile),
                                           extra_modules=plugin_sources(settings.plugins))
        driver = _Driver(ray, trials, settings, options, spec)
        driver.run()
    except KeyboardInterrupt:
        if driver is not None:
            driver.cancel()
        raise
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)
        if driver is not None:
            driver.close()
        ray.shutdown()
        if temp_dir is not None and (driver is None or not driver.failures):
            shutil.rmtree(temp_dir, ignore_errors=True)
    return GridOutcome(tuple(driver.finished), tuple(driver.failures), time.perf_counter() - started)


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def trial_resources(options: SchedulerOptions, cluster_gpus: float) -> dict[str, float]:
    """What one trial asks Ray for: a GPU (or the given fraction) when there are GPUs, CPUs otherwise."""
    gpus = options.gpus_per_trial if options.gpus_per_trial is not None else (1.0 if cluster_gpus > 0 else 0.0)
    return {"num_cpus": options.cpus_per_trial, "num_gpus": gpus}


def describe_resources(resources: dict[str, float]) -> str:
    cpus = f"{resources['num_cpus']:g} CPU"
    return f"{resources['num_gpus']:g} GPU + {cpus}" if resources["num_gpus"] else cpus


def task_settings(settings: RunSettings, *, cluster: bool) -> RunSettings:
    """The settings a task gets. Local: absolute paths (a worker's working folder is not the driver's), storage and
    cache default to the results folder. Cluster: storage as given (None: each node's local disk, chosen on the
    node), no cache in the results folder."""
    def absolute(path: Path | None) -> Path | None:
        return None if path is None else Path(path).absolute()

    settings = dataclasses.replace(settings, results_dir=absolute(settings.results_dir),
                                   data_root=absolute(settings.data_root), weights_dir=absolute(settings.weights_dir))
    if cluster:
        return dataclasses.replace(settings, cache_dir=None)
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
        settings = dataclasses.replace(settings, storage=storage.node_local_location(),
                                       cache_dir=storage.node_local_cache())
    elif settings.cache_dir is None:
        settings = dataclasses.replace(settings, cache_dir=storage.node_local_cache())
    if fresh:
        storage.delete_checkpoints(settings.checkpoint_location, trial.trial_id)

    def on_progress(status: str) -> None:
        board.report.remote(trial.trial_id, status)  # fire and forget: progress never slows or fails a trial

    def on_event(event: Any) -> None:
        board.add_events.remote(trial.trial_id, [event])  # the driver writes the log (harness/experiment/trial_logs.py)

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


class _Driver:
    """Submits trials up to the cluster's capacity, collects results, retries failures, draws the progress bar."""

    def __init__(self, ray: ModuleType, trials: list[Trial], settings: RunSettings,
                 options: SchedulerOptions, spec: str = "") -> None:
        from tqdm import tqdm

        from harness.experiment.run_state import RunState
        from harness.experiment.trial_logs import TrialLogs

        self.ray = ray
        self.settings = settings
        self.options = options
        cluster = options.address is not None
        self.node_local = cluster and settings.storage is None
        self.task_settings = task_settings(settings, cluster=cluster)
        nodes = _node_resources(ray)
        self.resources = trial_resources(options, sum(node.get("GPU", 0.0) for node in nodes))
        self.capacity = _capacity(self.resources, nodes)
        self.remote = ray.remote(max_retries=0)(_trial_task).options(**self.resources)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=True)
        self.board = ray.remote(num_cpus=0, max_restarts=0)(_ProgressBoard).options(scheduling_strategy=here).remote()
        self.statuses: dict[str, str] = {}
        self.code_version = None
        self.queue: deque[tuple[Trial, int]] = deque((trial, 1) for trial in trials)
        self.running: dict[Any, tuple[Trial, int]] = {}  # object ref -> (trial, attempt)
        self.finished: list[TrialResult] = []
        self.failures: list[Failure] = []
        self.logs = TrialLogs(settings.results_dir, options.wandb_project)
        self.state = RunState(settings.results_dir, spec, trials)
        self.state.write(force=True)
        self.bar = tqdm(total=len(trials), unit="trial", desc="trials", dynamic_ncols=True, file=sys.stderr,
                        disable=None)
        self._say(f"running {len(trials)} trial{'s' if len(trials) != 1 else ''}, {self.capacity} at a time "
                  f"({describe_resources(self.resources)} each)")
        if self.node_local:
            self._say("no --storage given: checkpoints stay on each worker node's local disk, so a trial interrupted "
                      "there restarts from scratch on another node (docs/cluster.md)")

    def run(self) -> None:
        while self.queue or self.running:
            while self.queue and len(self.running) < self.capacity:
                trial, attempt = self.queue.popleft()
                payload = pickle.dumps((trial, self.task_settings))
                fresh = attempt == 1 and trial.trial_id in self.options.fresh
                ref = self.remote.remote(payload, self.board, self.node_local, fresh)
                self.running[ref] = (trial, attempt)
                self.logs.note(trial.trial_id, f"attempt {attempt} submitted (profile {self.settings.profile})")
                self.state.set(trial.trial_id, state="running", attempt=attempt,
                               log=str(self.logs.path(trial.trial_id)))
            ready, _ = self.ray.wait(list(self.running), num_returns=1, timeout=POLL_SECONDS)
            for ref in ready:
                self._collect(ref)
            self._refresh()

    def _collect(self, ref: Any) -> None:
        trial, attempt = self.running.pop(ref)
        self.board.forget.remote(trial.trial_id)
        self.statuses.pop(trial.trial_id, None)
        self._take_events()  # the task's last lines, before its outcome is logged
        try:
            result: TrialResult = self.ray.get(ref)
        except Exception as error:  # a task fails in many ways: its own exception, a crashed worker, a lost node
            self._failed(trial, attempt, error)
            return
        result = self._stamp_code_version(result)
        result.write(self.settings.results_dir)
        self.logs.note(trial.trial_id, f"done: {result.headline}; record "
                                       f"{self.settings.results_dir / 'trials' / (trial.trial_id + '.json')}")
        self.logs.close(trial.trial_id)
        self.state.set(trial.trial_id, state="done")
        self.state.write(force=True)
        self.finished.append(result)
        self.bar.update(1)
        node = result.record.environment.hostname
        self._say(f"done   {trial.trial_id}  {trial.label}  [{trial.feeds_text}]  {result.seconds:.1f} s"
                  f"{f' on {node}' if node and self.options.address else ''}  {result.headline}")

    def _stamp_code_version(self, result: TrialResult) -> TrialResult:
        """The code a worker ran is the driver's, shipped through Ray: record the driver's git state."""
        from harness.experiment.environment import code_version

        if self.code_version is None:
            self.code_version = code_version()
        commit, dirty = self.code_version
        environment = result.record.environment.model_copy(update={"git_commit": commit, "git_dirty": dirty})
        record = result.record.model_copy(update={"environment": environment})
        return dataclasses.replace(result, record=record)

    def _failed(self, trial: Trial, attempt: int, error: BaseException) -> None:
        cause = getattr(error, "cause", None) or error  # RayTaskError wraps the task's own exception
        if isinstance(cause, WorkerEnvironmentError):
            raise UserError(str(cause)) from None
        if isinstance(cause, UserError):
            self._bad_input(trial, attempt, cause)
            return
        message = _one_line(cause)
        failures_dir = self.settings.results_dir / FAILURES_DIR
        traceback_file = failures_dir / f"{trial.trial_id}.txt"
        details = "".join(traceback.format_exception(error))
        write_text_atomic(traceback_file, f"trial {trial.trial_id} ({trial.label}), attempt {attempt}\n{details}")
        log = self.logs.path(trial.trial_id)
        self.logs.note(trial.trial_id, f"attempt {attempt} failed: {message} (traceback: {traceback_file})")
        if attempt <= self.options.retries:
            self._say(f"failed {trial.trial_id}  {trial.label}  (attempt {attempt}): {message}; retrying "
                      f"(log: {log})")
            self.queue.append((trial, attempt + 1))
            self.state.set(trial.trial_id, state="queued", error=message)
            return
        self.failures.append(Failure(trial, attempt, message, traceback_file))
        self.bar.update(1)
        self.logs.close(trial.trial_id)
        self.state.set(trial.trial_id, state="failed", error=message, traceback=str(traceback_file), log=str(log))
        self.state.write(force=True)
        self._say(f"FAILED {trial.trial_id}  {trial.label}  after {attempt} attempt{'s' if attempt > 1 else ''}: "
                  f"{message} (log: {log}; traceback: {traceback_file})")

    def _bad_input(self, trial: Trial, attempt: int, error: UserError) -> None:
        """A UserError (weights that do not fit, a data folder missing on a node) fails the same way every time:
        fail the trial at once, without retries or a traceback file; the others go on."""
        message = " ".join(str(error).split())
        self.failures.append(Failure(trial, attempt, message, None, bad_input=True))
        self.bar.update(1)
        log = self.logs.path(trial.trial_id)
        self.logs.note(trial.trial_id, f"attempt {attempt} failed on bad input, not retried: {message}")
        self.logs.close(trial.trial_id)
        self.state.set(trial.trial_id, state="failed", error=message, log=str(log))
        self.state.write(force=True)
        self._say(f"FAILED {trial.trial_id}  {trial.label}  (bad input, not retried): {message} (log: {log})")

    def _refresh(self) -> None:
        try:
            self.statuses = self.ray.get(self.board.snapshot.remote(), timeout=POLL_SECONDS)
        except Exception:  # progress is best effort: an overloaded or lost actor only leaves the bar stale
            pass
        self._take_events()
        self.state.write()
        statuses = []
        for trial, _ in self.running.values():
            status = self.statuses.get(trial.trial_id)
            statuses.append(f"{trial.trial_id[:6]} {status}" if status else trial.trial_id[:6])
        self.bar.set_postfix_str(f"running {len(self.running)}, failed {len(self.failures)}"
                                 + (f" | {'; '.join(statuses)}" if statuses else ""), refresh=True)

    def _take_events(self) -> None:
        """Write the trials' log events gathered on the board; note training progress for `status`."""
        from harness.experiment import trial_events

        try:
            events = self.ray.get(self.board.take_events.remote(), timeout=10 * POLL_SECONDS)
        except Exception:  # best effort, like the bar: a lost board costs log lines, never a trial
            return
        trials = {trial.trial_id: trial for trial, _ in self.running.values()}
        for trial_id, batch in events.items():
            trial = trials.get(trial_id)
            config = trial.config.to_json() if trial is not None else None
            self.logs.write(trial_id, batch, config)
            for event in batch:
                if event.console:
                    self._say(f"{trial_id}  {event.line}")
                if trial_events.LOSS in event.scalars and trial is not None and trial.config.train is not None:
                    self.state.progress(trial_id, event.step, trial.config.train.iterations,
                                        event.scalars[trial_events.LOSS], event.scalars.get(trial_events.SPEED))

    def cancel(self) -> None:
        for ref in self.running:
            self.ray.cancel(ref, force=True)
        interrupted = ", ".join(trial.trial_id for trial, _ in self.running.values())
        self._say(f"interrupted: cancelled {len(self.running)} running trial(s)"
                  + (f" ({interrupted}); they resume from their checkpoints next time" if interrupted else "")
                  + f"; {len(self.finished)} finished record(s) kept")

    def close(self) -> None:
        self.bar.close()
        self.logs.close_all()
        self.state.finish()

    def _say(self, line: str) -> None:
        self.bar.write(line, file=sys.stdout)


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


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
    # Ray's advice to "Check raylet.out" / "python-core-worker-*.log files" names files a user cannot find: the
    # driver names the trial's log and traceback files instead.
    return _RAY_LOG_ADVICE.sub("", line).strip()


_RAY_LOG_ADVICE = re.compile(r"\s*[^.]*\b(raylet\.out|core-worker[^ ]*\.log)[^.]*\.?")
