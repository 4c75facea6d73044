"""The driver's side of a trial's log: `<results>/logs/<trial_id>.log` and `<results>/tensorboard/<trial_id>/`.

Trials run where Ray puts them, and on a cluster they cannot see the results folder, so they never write logs
themselves: their events (harness/experiment/trial_events.py) reach the driver through the grid executor's progress
actor (harness/experiment/ray_executor.py), and this class, in the driver (harness/experiment/grid_sinks.py), appends
each line to the trial's log and each scalar to its TensorBoard event file (tensorboardX: a small writer without
TensorFlow or TensorBoard). Weights & Biases is used only when a run asks for it (`run --wandb PROJECT`), and imported
only then.
"""

from __future__ import annotations

import datetime
import importlib.util
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.experiment.trial_events import TrialEvent
from harness.results_layout import ResultsLayout



def check_wandb() -> None:
    """Fail before anything runs when `--wandb` is asked for and the package is missing."""
    if importlib.util.find_spec("wandb") is None:
        raise UserError("--wandb needs the wandb package, which is not installed (pip install wandb); "
                        "or run without --wandb")


class TrialLogs:
    """Open log files and TensorBoard writers of the trials that are running; written only by the driver."""

    def __init__(self, results_dir: Path, wandb_project: str | None = None) -> None:
        self.layout = ResultsLayout(Path(results_dir))
        self.wandb_project = wandb_project
        self._writers: dict[str, Any] = {}  # trial id -> tensorboardX SummaryWriter
        self._wandb_runs: dict[str, Any] = {}

    def path(self, trial_id: str) -> Path:
        return self.layout.log(trial_id)

    def note(self, trial_id: str, line: str) -> None:
        """A line from the driver itself (attempt started, failed, done)."""
        self._append(trial_id, [(datetime.datetime.now().astimezone(), f"[driver] {line}")])

    def write(self, trial_id: str, events: list[TrialEvent], config: dict[str, Any] | None = None) -> None:
        if not events:
            return
        self._append(trial_id, [(datetime.datetime.fromtimestamp(event.time).astimezone(), event.line)
                                for event in events])
        scalars = [event for event in events if event.scalars and event.step is not None]
        if not scalars:
            return
        writer = self._writer(trial_id)
        for event in scalars:
            for tag, value in event.scalars.items():
                writer.add_scalar(tag, value, global_step=event.step, walltime=event.time)
        writer.flush()  # `tensorboard --logdir` and `status` see the points while the trial runs
        run = self._wandb_run(trial_id, config)
        if run is not None:
            for event in scalars:
                run.log(dict(event.scalars), step=event.step)

    def close(self, trial_id: str) -> None:
        writer = self._writers.pop(trial_id, None)
        if writer is not None:
            writer.close()
        run = self._wandb_runs.pop(trial_id, None)
        if run is not None:
            run.finish()

    def close_all(self) -> None:
        for trial_id in list(self._writers) + list(self._wandb_runs):
            self.close(trial_id)

    def _append(self, trial_id: str, lines: list[tuple[datetime.datetime, str]]) -> None:
        path = self.path(trial_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            for moment, line in lines:
                log.write(f"{moment.isoformat(timespec='seconds')}  {' '.join(line.split())}\n")

    def _writer(self, trial_id: str) -> Any:
        if trial_id not in self._writers:
            from tensorboardX import SummaryWriter  # imported on the first scalar: `status` and tests need none

            self._writers[trial_id] = SummaryWriter(logdir=str(self.layout.tensorboard / trial_id))
        return self._writers[trial_id]

    def _wandb_run(self, trial_id: str, config: dict[str, Any] | None) -> Any:
        if self.wandb_project is None:
            return None
        if trial_id not in self._wandb_runs:
            import wandb  # only with --wandb: never a requirement

            self._wandb_runs[trial_id] = wandb.init(project=self.wandb_project, name=trial_id, config=config or {},
                                                    reinit="create_new")
        return self._wandb_runs[trial_id]
