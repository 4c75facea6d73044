"""The results folder's layout: the one place that names what lies in `--results`, for every reader and writer.

    <results>/
      trials/<trial_id>.json       records (harness/records.py): the harness's only notion of "done"
      visuals/<trial_id>/...       crops a record names (harness/evaluation/visuals.py)
      failures/<trial_id>.txt      the traceback of a trial's last failed attempt
      logs/<trial_id>.log          each trial's log, written by the driver (harness/experiment/trial_logs.py)
      tensorboard/<trial_id>/      each trial's scalars
      checkpoints/                 training checkpoints of a local run (`--storage` moves them)
      cache/                       decoded training data (`--cache-dir` moves it)
      report/                      `python -m harness report`'s default output
      run_state.json               the running grid's state, for `python -m harness status`
      run.lock                     held by the run that writes here (harness/experiment/lock.py)
"""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ResultsLayout:
    root: Path

    @property
    def trials(self) -> Path:
        return self.root / "trials"

    @property
    def visuals(self) -> Path:
        return self.root / "visuals"

    @property
    def failures(self) -> Path:
        return self.root / "failures"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def report(self) -> Path:
        return self.root / "report"

    @property
    def run_state(self) -> Path:
        return self.root / "run_state.json"

    @property
    def lock(self) -> Path:
        return self.root / "run.lock"

    @property
    def written_folders(self) -> tuple[Path, ...]:
        """The folders a run writes into, each checked for writability before a run starts."""
        return (self.trials, self.visuals, self.failures, self.logs, self.tensorboard, self.checkpoints, self.cache)

    def record(self, trial_id: str) -> Path:
        return self.trials / f"{trial_id}.json"

    def failure(self, trial_id: str) -> Path:
        return self.failures / f"{trial_id}.txt"

    def log(self, trial_id: str) -> Path:
        return self.logs / f"{trial_id}.log"
