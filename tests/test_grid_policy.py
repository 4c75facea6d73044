"""The grid's policy without Ray: a fake executor plays the attempts, a recording sink hears what happens."""

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Hashable, Sequence

import pytest
from tiny_grid import tiny_spec

from harness.errors import UserError
from harness.experiment import grid_policy
from harness.experiment.grid_policy import Attempt, Failure, GridSink, Sinks, TaskError, plan_trials, run_attempts
from harness.experiment.spec import load_spec
from harness.experiment.trial import RunSettings, Trial, resolve_trials


@dataclass(frozen=True)
class FakeResult:
    """What the policy passes on from a finished attempt: it never looks inside."""

    trial_id: str


CRASH = TaskError(RuntimeError("worker died"), "RuntimeError: worker died", "Traceback: worker died")
BAD_INPUT = TaskError(UserError("weights IMDN_x4.pth do not fit\n imdn at x3"), "UserError", "Traceback: bad input")


class FakeExecutor:
    """Plays each trial's scripted outcomes, one per attempt (a result when the script runs out); one attempt
    finishes per wait, the oldest first. `interrupt_after`: Ctrl-C once that many attempts have finished."""

    how = "2 at a time (fake)"
    notes: list[str] = []

    def __init__(self, script: dict[str, list[TaskError]], capacity: int = 2, interrupt_after: int | None = None):
        self.script = script
        self.capacity = capacity
        self.interrupt_after = interrupt_after
        self.attempts: list[tuple[str, int, bool]] = []  # (trial id, attempt, fresh) as submitted
        self.running: dict[int, Attempt] = {}
        self.most_at_once = 0
        self.outcomes = 0
        self.cancelled: list[str] = []

    def submit(self, attempt: Attempt) -> Hashable:
        handle = len(self.attempts)
        self.attempts.append((attempt.trial.trial_id, attempt.number, attempt.fresh))
        self.running[handle] = attempt
        self.most_at_once = max(self.most_at_once, len(self.running))
        return handle

    def wait(self, handles: Sequence[Hashable], timeout: float) -> list[Hashable]:
        if self.interrupt_after is not None and self.outcomes >= self.interrupt_after:
            raise KeyboardInterrupt
        return [min(handles)]

    def outcome(self, handle: Hashable) -> FakeResult | TaskError:
        attempt = self.running.pop(handle)
        self.outcomes += 1
        errors = self.script.get(attempt.trial.trial_id, [])
        return errors[attempt.number - 1] if attempt.number <= len(errors) else FakeResult(attempt.trial.trial_id)

    def statuses(self) -> dict[str, str]:
        return {attempt.trial.trial_id: "train 1/2" for attempt in self.running.values()}

    def take_events(self) -> dict[str, list]:
        return {}

    def cancel(self, handles: Sequence[Hashable]) -> None:
        self.cancelled = [self.running[handle].trial.trial_id for handle in handles]


class RecordingSink(GridSink):
    def __init__(self) -> None:
        self.heard: list[tuple] = []
        self.records: set[str] = set()  # what a results writer would have written

    def finished(self, trial: Trial, result: FakeResult) -> None:
        self.records.add(result.trial_id)
        self.heard.append(("finished", trial.trial_id))

    def failed(self, failure: Failure, *, retrying: bool) -> None:
        self.heard.append(("failed", failure.trial.trial_id, failure.attempts, retrying))

    def interrupted(self, running: Sequence[Trial], finished: int) -> None:
        self.heard.append(("interrupted", tuple(trial.trial_id for trial in running), finished))

    def close(self) -> None:
        self.heard.append(("close",))


@pytest.fixture
def trials(tmp_path: Path) -> list[Trial]:
    """Four trials: the tiny grid's two rows, each with two seeds."""
    spec = tiny_spec(tmp_path)
    spec.write_text(spec.read_text() + "seeds: [0, 1]\n")
    found = resolve_trials(load_spec(spec), RunSettings("smoke", tmp_path / "results"))
    assert len(found) == 4
    return found


def run(trials: list[Trial], executor: FakeExecutor, retries: int = 1,
        fresh: frozenset[str] = frozenset()) -> tuple[grid_policy.GridPolicy, RecordingSink]:
    sink = RecordingSink()
    policy = run_attempts(trials, executor, Sinks([sink]), retries=retries, fresh=fresh)
    return policy, sink


def test_a_crash_is_retried_and_the_retry_resumes(trials: list[Trial]) -> None:
    crashed = trials[0].trial_id
    executor = FakeExecutor({crashed: [CRASH]})
    policy, sink = run(trials, executor, retries=1)
    assert [attempt for attempt in executor.attempts if attempt[0] == crashed] == [(crashed, 1, False),
                                                                                   (crashed, 2, False)]
    assert ("failed", crashed, 1, True) in sink.heard
    assert not policy.failures and sink.records == {trial.trial_id for trial in trials}
    assert executor.most_at_once == 2 and len(executor.attempts) == 5
    assert sink.heard[-1] == ("close",)


def test_a_crash_fails_for_good_after_its_retries(trials: list[Trial]) -> None:
    crashed = trials[1].trial_id
    policy, sink = run(trials, FakeExecutor({crashed: [CRASH, CRASH, CRASH]}), retries=2)
    (failure,) = policy.failures
    assert failure.trial.trial_id == crashed and failure.attempts == 3 and not failure.bad_input
    assert failure.error == "RuntimeError: worker died" and failure.traceback == "Traceback: worker died"
    assert [entry for entry in sink.heard if entry[0] == "failed"] == [
        ("failed", crashed, 1, True), ("failed", crashed, 2, True), ("failed", crashed, 3, False)]
    assert len(policy.finished) == 3


def test_bad_input_is_never_retried(trials: list[Trial]) -> None:
    bad = trials[2].trial_id
    executor = FakeExecutor({bad: [BAD_INPUT]})
    policy, sink = run(trials, executor, retries=5)
    assert [attempt for attempt in executor.attempts if attempt[0] == bad] == [(bad, 1, False)]
    (failure,) = policy.failures
    assert failure.bad_input and failure.attempts == 1 and failure.traceback is None
    assert failure.error == "weights IMDN_x4.pth do not fit imdn at x3"  # one line
    assert ("failed", bad, 1, False) in sink.heard and len(policy.finished) == 3


def test_done_trials_are_skipped_and_only_a_forced_rerun_starts_fresh(trials: list[Trial]) -> None:
    done = {trials[0].trial_id, trials[3].trial_id}
    plan = plan_trials(6, trials, lambda trial: trial.trial_id in done)
    assert plan.requested == 6 and plan.done == done
    assert [trial.trial_id for trial in plan.to_run(force=False)] == [trials[1].trial_id, trials[2].trial_id]
    assert {trial.trial_id for trial in plan.skipped(force=False)} == done
    assert plan.fresh(force=False) == frozenset()
    assert plan.to_run(force=True) == tuple(trials) and not plan.skipped(force=True)

    forced = trials[0].trial_id
    executor = FakeExecutor({forced: [CRASH]})
    run(list(plan.to_run(force=True)), executor, fresh=plan.fresh(force=True))
    fresh = {(trial_id, number) for trial_id, number, is_fresh in executor.attempts if is_fresh}
    assert fresh == {(trial_id, 1) for trial_id in done}  # its retry resumes what the first attempt began


def test_an_interrupted_grid_resumes_where_it_stopped(trials: list[Trial]) -> None:
    executor = FakeExecutor({}, capacity=2, interrupt_after=1)
    sink = RecordingSink()
    with pytest.raises(KeyboardInterrupt):
        run_attempts(trials, executor, Sinks([sink]), retries=1)
    assert len(sink.records) == 1 and len(executor.cancelled) == 2
    assert sink.heard[-2] == ("interrupted", tuple(executor.cancelled), 1) and sink.heard[-1] == ("close",)

    plan = plan_trials(4, trials, lambda trial: trial.trial_id in sink.records)
    again = FakeExecutor({})
    policy, _ = run(list(plan.to_run(force=False)), again, fresh=plan.fresh(force=False))
    assert {attempt[0] for attempt in again.attempts} == {trial.trial_id for trial in trials} - sink.records
    assert not any(is_fresh for _, _, is_fresh in again.attempts)  # the cancelled ones resume their checkpoints
    assert len(policy.finished) == 3


def test_the_policy_imports_neither_ray_nor_torch_and_the_entry_point_starts_no_ray() -> None:
    code = ("import sys\n"
            "import harness.experiment.grid_policy\n"
            "assert not {'ray', 'torch'} & set(sys.modules), 'the policy imports Ray or torch'\n"
            "import harness.api\n"
            "assert 'ray' not in sys.modules, 'importing the entry point imports Ray'\n")
    subprocess.run([sys.executable, "-c", code], check=True)
