"""The grid's sinks: what keeps the outcome of a run, each told by the policy (harness/experiment/grid_policy.py).

- ResultsWriter: each finished trial's record and visual crops, and each crash's traceback (`failures/`). It is what
  makes a trial done, and so what a later run resumes from: leave it out and nothing is kept.
- TrialLogSink: each trial's log and TensorBoard scalars (harness/experiment/trial_logs.py).
- RunStateSink: `run_state.json`, for `python -m harness status` (harness/experiment/run_state.py).
- ConsoleSink: the progress bar and a line per event worth a look.
- CompileTimeKeeper: each finished compiled trial's compile time, into its kind's calibration cache
  (harness/experiment/pricing.py); every run adds it, whatever sinks its caller keeps.

`python -m harness run` uses them all (`standard_sinks`); a library caller (harness/api.py) may pass its own. Only
the driver writes into the results folder, whatever machine ran the trial.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from harness.atomic import write_text_atomic
from harness.experiment import trial_events
from harness.experiment.grid_policy import Attempt, Failure, GridSink
from harness.experiment.pricing import keep_compile_seconds
from harness.experiment.run_state import RunState
from harness.experiment.trial_logs import TrialLogs
from harness.results_layout import ResultsLayout

if TYPE_CHECKING:
    from harness.experiment.pricing import GridPrice
    from harness.experiment.run_trial import TrialResult
    from harness.experiment.trial import Trial
    from harness.experiment.trial_events import TrialEvent


class ResultsWriter(GridSink):
    """Records, their visual crops, and the traceback of each crashed attempt (the last one stays)."""

    def __init__(self, layout: ResultsLayout) -> None:
        self.layout = layout
        self.projected: dict[str, float] = {}

    def priced(self, price: GridPrice) -> None:
        self.projected = {trial.trial_id: round(trial.seconds, 1) for trial in price.to_run}

    def finished(self, trial: Trial, result: TrialResult) -> None:
        projected = self.projected.get(trial.trial_id)
        if projected is not None:
            result = dataclasses.replace(result, record=result.record.model_copy(
                update={"projected_seconds": projected}))
        result.write(self.layout.root)

    def failed(self, failure: Failure, *, retrying: bool) -> None:
        if failure.traceback is not None:
            trial = failure.trial
            write_text_atomic(self.layout.failure(trial.trial_id),
                              f"trial {trial.trial_id} ({trial.label}), attempt {failure.attempts}\n{failure.traceback}")


class TrialLogSink(GridSink):
    """`logs/<trial_id>.log` (the trial's lines and the driver's notes) and `tensorboard/<trial_id>/`."""

    def __init__(self, layout: ResultsLayout, profile: str, wandb_project: str | None = None) -> None:
        self.layout = layout
        self.profile = profile
        self.logs = TrialLogs(layout.root, wandb_project)
        self.trials: dict[str, Trial] = {}

    def started(self, trials: Sequence[Trial], how: str) -> None:
        self.trials = {trial.trial_id: trial for trial in trials}

    def submitted(self, attempt: Attempt) -> None:
        self.logs.note(attempt.trial.trial_id, f"attempt {attempt.number} submitted (profile {self.profile})")

    def events(self, trial_id: str, events: list[TrialEvent]) -> None:
        trial = self.trials.get(trial_id)
        self.logs.write(trial_id, events, trial.config.to_json() if trial is not None else None)

    def finished(self, trial: Trial, result: TrialResult) -> None:
        self.logs.note(trial.trial_id, f"done: {result.headline}; record {self.layout.record(trial.trial_id)}")
        self.logs.close(trial.trial_id)

    def failed(self, failure: Failure, *, retrying: bool) -> None:
        trial_id = failure.trial.trial_id
        if failure.bad_input:
            self.logs.note(trial_id, f"attempt {failure.attempts} failed on bad input, not retried: {failure.error}")
        else:
            self.logs.note(trial_id, f"attempt {failure.attempts} failed: {failure.error} "
                                     f"(traceback: {self.layout.failure(trial_id)})")
        if not retrying:
            self.logs.close(trial_id)

    def close(self) -> None:
        self.logs.close_all()


class RunStateSink(GridSink):
    """The run's state file: queued, running (attempt, iteration, loss, speed), done, failed."""

    def __init__(self, layout: ResultsLayout, spec: str) -> None:
        self.layout = layout
        self.spec = spec
        self.state: RunState | None = None
        self.iterations: dict[str, int] = {}  # of each training trial
        self.price: GridPrice | None = None

    def priced(self, price: GridPrice) -> None:
        self.price = price

    def started(self, trials: Sequence[Trial], how: str) -> None:
        self.iterations = {trial.trial_id: trial.config.train.iterations for trial in trials
                           if trial.config.train is not None}
        self.state = RunState(self.layout.root, self.spec, list(trials))
        if self.price is not None:
            self.state.data["projected_wall_seconds"] = round(self.price.wall_seconds, 1)
            for trial in trials:
                projection = self.price.projection(trial.trial_id)
                if projection is not None:
                    self.state.set(trial.trial_id, projected_seconds=round(projection.seconds, 1))
        self.state.write(force=True)

    def submitted(self, attempt: Attempt) -> None:
        trial_id = attempt.trial.trial_id
        self._state.set(trial_id, state="running", attempt=attempt.number, log=str(self.layout.log(trial_id)))

    def events(self, trial_id: str, events: list[TrialEvent]) -> None:
        total = self.iterations.get(trial_id)
        for event in events:
            if trial_events.LOSS in event.scalars and total is not None:
                self._state.progress(trial_id, event.step, total, event.scalars[trial_events.LOSS],
                                     event.scalars.get(trial_events.SPEED))

    def progress(self, running: Sequence[Trial], statuses: dict[str, str], failed: int) -> None:
        self._state.write()  # at most once a second

    def finished(self, trial: Trial, result: TrialResult) -> None:
        self._state.set(trial.trial_id, state="done")
        self._state.write(force=True)

    def failed(self, failure: Failure, *, retrying: bool) -> None:
        trial_id = failure.trial.trial_id
        if retrying:
            self._state.set(trial_id, state="queued", error=failure.error)
            return
        files: dict[str, Any] = {"log": str(self.layout.log(trial_id))}
        if not failure.bad_input:
            files["traceback"] = str(self.layout.failure(trial_id))
        self._state.set(trial_id, state="failed", error=failure.error, **files)
        self._state.write(force=True)

    def close(self) -> None:
        if self.state is not None:
            self.state.finish()

    @property
    def _state(self) -> RunState:
        assert self.state is not None, "the run has not started"
        return self.state


class ConsoleSink(GridSink):
    """A progress bar on stderr (when it is a terminal) and a line on stdout per note, result and failure."""

    def __init__(self, layout: ResultsLayout, *, show_nodes: bool = False) -> None:
        self.layout = layout
        self.show_nodes = show_nodes  # name the node each trial ran on (a cluster run)
        self.bar: Any = None

    def note(self, line: str) -> None:
        from tqdm import tqdm

        tqdm.write(line, file=sys.stdout)  # above the bar, if there is one
        sys.stdout.flush()  # a pipe (`ray job logs`, a test) sees each line when it happens

    def started(self, trials: Sequence[Trial], how: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=len(trials), unit="trial", desc="trials", dynamic_ncols=True, file=sys.stderr,
                        disable=None)
        self.note(f"running {len(trials)} trial{'s' if len(trials) != 1 else ''}, {how}")

    def events(self, trial_id: str, events: list[TrialEvent]) -> None:
        for event in events:
            if event.console:
                self.note(f"{trial_id}  {event.line}")

    def progress(self, running: Sequence[Trial], statuses: dict[str, str], failed: int) -> None:
        shown = [f"{trial.trial_id[:6]} {statuses[trial.trial_id]}" if statuses.get(trial.trial_id)
                 else trial.trial_id[:6] for trial in running]
        self.bar.set_postfix_str(f"running {len(running)}, failed {failed}"
                                 + (f" | {'; '.join(shown)}" if shown else ""), refresh=True)

    def finished(self, trial: Trial, result: TrialResult) -> None:
        self.bar.update(1)
        node = result.record.environment.hostname
        self.note(f"done   {trial.trial_id}  {trial.label}  [{trial.feeds_text}]  {result.seconds:.1f} s"
                  f"{f' on {node}' if node and self.show_nodes else ''}  {result.headline}")

    def failed(self, failure: Failure, *, retrying: bool) -> None:
        trial = failure.trial
        log = self.layout.log(trial.trial_id)
        if retrying:
            self.note(f"failed {trial.trial_id}  {trial.label}  (attempt {failure.attempts}): {failure.error}; "
                      f"retrying (log: {log})")
            return
        self.bar.update(1)
        if failure.bad_input:
            self.note(f"FAILED {trial.trial_id}  {trial.label}  (bad input, not retried): {failure.error} "
                      f"(log: {log})")
        else:
            self.note(f"FAILED {trial.trial_id}  {trial.label}  after {failure.attempts} "
                      f"attempt{'s' if failure.attempts > 1 else ''}: {failure.error} (log: {log}; traceback: "
                      f"{self.layout.failure(trial.trial_id)})")

    def interrupted(self, running: Sequence[Trial], finished: int) -> None:
        ids = ", ".join(trial.trial_id for trial in running)
        self.note(f"interrupted: cancelled {len(running)} running trial(s)"
                  + (f" ({ids}); they resume from their checkpoints next time" if ids else "")
                  + f"; {finished} finished record(s) kept")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class CompileTimeKeeper(GridSink):
    """Writes each finished compiled trial's compile time into its kind's calibration cache entry, for the next
    projection of that kind on this device."""

    def __init__(self) -> None:
        self.price: GridPrice | None = None

    def priced(self, price: GridPrice) -> None:
        self.price = price

    def finished(self, trial: Trial, result: TrialResult) -> None:
        if self.price is not None:
            keep_compile_seconds(self.price, trial.trial_id, result.record.training)


def standard_sinks(results_dir: Path, *, profile: str, spec: str = "", wandb_project: str | None = None,
                   show_nodes: bool = False) -> list[GridSink]:
    """What `python -m harness run` keeps: records first, so a trial is on disk before it is logged as done."""
    layout = ResultsLayout(Path(results_dir))
    return [ResultsWriter(layout), TrialLogSink(layout, profile, wandb_project), RunStateSink(layout, spec),
            ConsoleSink(layout, show_nodes=show_nodes)]
