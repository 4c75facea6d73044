"""The grid's policy, without Ray: what to run, which trials are done, when a failed attempt is retried.

A grid is run by three parts that know little of each other:
- this policy, which decides (pure Python, unit-tested with a fake executor: tests/test_grid_policy.py);
- an executor, which runs one attempt of a trial somewhere and hands back its TrialResult or its TaskError
  (harness/experiment/ray_executor.py: Ray tasks; the only grid code that imports Ray);
- sinks, which keep what happens (harness/experiment/grid_sinks.py: the records, the logs, the run state, the
  console), chosen by the caller (`python -m harness run`, or harness/api.py `run_grid`).

Which trials are done, and so where an interrupted grid resumes, is decided by the records alone (`is_done`); a
trial interrupted mid-training resumes from its checkpoint inside `run_trial`, so only a forced rerun starts fresh.
Bad input in a trial (a UserError: weights that do not fit, data missing on a node) fails the same way every time and
is never retried; anything else (the trial's own exception, a crashed worker, a lost node) is retried `retries`
times. Nothing here imports torch, Ray or the rest of the harness at the top: a Ray worker imports this module.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Hashable, Protocol, Sequence

from harness.errors import UserError

if TYPE_CHECKING:
    from harness.experiment.pricing import GridPrice
    from harness.experiment.run_trial import TrialResult
    from harness.experiment.trial import Trial
    from harness.experiment.trial_events import TrialEvent

POLL_SECONDS = 1.0  # how often the running trials' progress and log lines are taken while nothing finishes


@dataclass(frozen=True)
class GridPlan:
    """The trials of a spec under the run settings, and which of them have a record already."""

    requested: int  # spec trials before equal ones were merged
    trials: tuple[Trial, ...]
    done: frozenset[str]  # ids of the trials with a record of the same config
    problems: tuple[str, ...]  # missing data or weights, one line each (harness/experiment/trial.py)

    def to_run(self, *, force: bool) -> tuple[Trial, ...]:
        return tuple(trial for trial in self.trials if force or trial.trial_id not in self.done)

    def skipped(self, *, force: bool) -> tuple[Trial, ...]:
        return () if force else tuple(trial for trial in self.trials if trial.trial_id in self.done)

    def fresh(self, *, force: bool) -> frozenset[str]:
        """Trials rerun from scratch (their checkpoints deleted first): done ones, forced. Any other trial that has a
        checkpoint was interrupted, and resumes from it."""
        return self.done if force else frozenset()


def plan_trials(requested: int, trials: Sequence[Trial], is_done: Callable[[Trial], bool],
                problems: Sequence[str] = ()) -> GridPlan:
    return GridPlan(requested, tuple(trials), frozenset(trial.trial_id for trial in trials if is_done(trial)),
                    tuple(problems))


@dataclass(frozen=True)
class Attempt:
    trial: Trial
    number: int  # 1 for the first
    fresh: bool  # delete the trial's checkpoints before it starts


@dataclass(frozen=True)
class TaskError:
    """How an attempt failed, as the executor saw it."""

    cause: BaseException  # the trial's own exception, or the executor's (a crashed worker, a lost node)
    summary: str  # one line
    details: str  # the whole traceback


@dataclass(frozen=True)
class Failure:
    trial: Trial
    attempts: int
    error: str  # one line
    traceback: str | None  # of the last attempt; None for bad input, whose message is the whole story

    @property
    def bad_input(self) -> bool:
        return self.traceback is None


class Executor(Protocol):
    """Runs attempts somewhere (harness/experiment/ray_executor.py); a handle names a running attempt."""

    capacity: int  # attempts that fit at once
    how: str  # e.g. "2 at a time (1 CPU each)"
    notes: list[str]  # what the user should know about where trials run

    def submit(self, attempt: Attempt) -> Hashable: ...

    def wait(self, handles: Sequence[Hashable], timeout: float) -> list[Hashable]: ...  # the finished ones

    def outcome(self, handle: Hashable) -> TrialResult | TaskError: ...

    def statuses(self) -> dict[str, str]: ...  # trial id -> its last short status

    def take_events(self) -> dict[str, list[TrialEvent]]: ...  # trial id -> log events not taken yet

    def cancel(self, handles: Sequence[Hashable]) -> None: ...


class GridSink:
    """What a run tells those who keep it (harness/experiment/grid_sinks.py); each hook does nothing here."""

    def note(self, line: str) -> None: ...

    def priced(self, price: GridPrice) -> None: ...  # the projection made before the run (experiment/pricing.py)

    def started(self, trials: Sequence[Trial], how: str) -> None: ...  # how: "2 at a time (1 CPU each)"

    def submitted(self, attempt: Attempt) -> None: ...

    def events(self, trial_id: str, events: list[TrialEvent]) -> None: ...

    def progress(self, running: Sequence[Trial], statuses: dict[str, str], failed: int) -> None: ...

    def finished(self, trial: Trial, result: TrialResult) -> None: ...

    def failed(self, failure: Failure, *, retrying: bool) -> None: ...

    def interrupted(self, running: Sequence[Trial], finished: int) -> None: ...

    def close(self) -> None: ...


class GridPolicy:
    """The queue of attempts, the running ones, and what each outcome leads to."""

    def __init__(self, trials: Sequence[Trial], *, retries: int, fresh: frozenset[str] = frozenset()) -> None:
        self.retries = retries
        self.queue: deque[Attempt] = deque(Attempt(trial, 1, trial.trial_id in fresh) for trial in trials)
        self.running: dict[Hashable, Attempt] = {}
        self.finished: list[TrialResult] = []
        self.failures: list[Failure] = []

    @property
    def unfinished(self) -> bool:
        return bool(self.queue or self.running)

    @property
    def running_trials(self) -> list[Trial]:
        return [attempt.trial for attempt in self.running.values()]

    def next_attempt(self, capacity: int) -> Attempt | None:
        return self.queue.popleft() if self.queue and len(self.running) < capacity else None

    def started(self, handle: Hashable, attempt: Attempt) -> None:
        self.running[handle] = attempt

    def take(self, handle: Hashable) -> Attempt:
        return self.running.pop(handle)

    def succeeded(self, result: TrialResult) -> None:
        self.finished.append(result)

    def failed(self, attempt: Attempt, error: TaskError) -> tuple[Failure, bool]:
        """The failure of `attempt`, and whether the trial is queued again."""
        if isinstance(error.cause, UserError):
            failure = Failure(attempt.trial, attempt.number, " ".join(str(error.cause).split()), None)
        else:
            failure = Failure(attempt.trial, attempt.number, error.summary, error.details)
        if not failure.bad_input and attempt.number <= self.retries:
            self.queue.append(Attempt(attempt.trial, attempt.number + 1, fresh=False))  # resumes its checkpoint
            return failure, True
        self.failures.append(failure)
        return failure, False


class Sinks(GridSink):
    """Every sink, told in the caller's order: the records first, so a trial is on disk before anyone hears of it."""

    def __init__(self, sinks: Sequence[GridSink]) -> None:
        self.sinks = tuple(sinks)

    def note(self, line: str) -> None:
        for sink in self.sinks:
            sink.note(line)

    def priced(self, price: GridPrice) -> None:
        for sink in self.sinks:
            sink.priced(price)

    def started(self, trials: Sequence[Trial], how: str) -> None:
        for sink in self.sinks:
            sink.started(trials, how)

    def submitted(self, attempt: Attempt) -> None:
        for sink in self.sinks:
            sink.submitted(attempt)

    def events(self, trial_id: str, events: list[TrialEvent]) -> None:
        for sink in self.sinks:
            sink.events(trial_id, events)

    def progress(self, running: Sequence[Trial], statuses: dict[str, str], failed: int) -> None:
        for sink in self.sinks:
            sink.progress(running, statuses, failed)

    def finished(self, trial: Trial, result: TrialResult) -> None:
        for sink in self.sinks:
            sink.finished(trial, result)

    def failed(self, failure: Failure, *, retrying: bool) -> None:
        for sink in self.sinks:
            sink.failed(failure, retrying=retrying)

    def interrupted(self, running: Sequence[Trial], finished: int) -> None:
        for sink in self.sinks:
            sink.interrupted(running, finished)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


def run_attempts(trials: Sequence[Trial], executor: Executor, sinks: GridSink, *, retries: int,
                 fresh: frozenset[str] = frozenset()) -> GridPolicy:
    """Run `trials` on `executor` until each is finished or has failed for good; the policy holds the outcomes.
    Ctrl-C (and SIGTERM, made one by the caller) cancels the running attempts and re-raises."""
    policy = GridPolicy(trials, retries=retries, fresh=fresh)
    try:
        sinks.started(trials, executor.how)
        for line in executor.notes:
            sinks.note(line)
        while policy.unfinished:
            while (attempt := policy.next_attempt(executor.capacity)) is not None:
                policy.started(executor.submit(attempt), attempt)
                sinks.submitted(attempt)
            for handle in executor.wait(list(policy.running), POLL_SECONDS):
                attempt = policy.take(handle)
                _deliver_events(executor, sinks)  # the task's last lines, before its outcome
                _settle(policy, attempt, executor.outcome(handle), sinks)
            _deliver_events(executor, sinks)
            sinks.progress(policy.running_trials, executor.statuses(), len(policy.failures))
    except KeyboardInterrupt:
        executor.cancel(list(policy.running))
        sinks.interrupted(policy.running_trials, len(policy.finished))
        raise
    finally:
        sinks.close()
    return policy


def _settle(policy: GridPolicy, attempt: Attempt, outcome: TrialResult | TaskError, sinks: GridSink) -> None:
    if isinstance(outcome, TaskError):
        failure, retrying = policy.failed(attempt, outcome)
        sinks.failed(failure, retrying=retrying)
    else:
        sinks.finished(attempt.trial, outcome)  # the record is written before the trial counts as finished
        policy.succeeded(outcome)


def _deliver_events(executor: Executor, sinks: GridSink) -> None:
    for trial_id, events in executor.take_events().items():
        sinks.events(trial_id, events)
