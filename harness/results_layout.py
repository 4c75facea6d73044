"""The results folder's layout: the one place that names what lies in `--results`, for every reader and writer.

    <results>/
      trials/<trial_id>.json       records (harness/records.py): the harness's only notion of "done"
      visuals/<trial_id>/...       crops a record names (harness/evaluation/visuals.py)
      failures/<trial_id>.txt      the traceback of a trial's last failed attempt
      logs/<trial_id>.log          each trial's log, written by the driver (harness/experiment/trial_logs.py)
      tensorboard/<trial_id>/      each trial's scalars
      checkpoints/                 training checkpoints of a local run (`--storage` moves them)
      cache/                       decoded DIV2K when `--cache <results>/cache` asks (default: the per-user cache,
                                   shared across results folders: docs/training.md)
      report/                      `python -m harness report`'s default output
      run_state.json               the running grid's state, for `python -m harness status`
      run.lock                     held by the run that writes here (harness/experiment/lock.py)
"""

from dataclasses import dataclass
from pathlib import Path

# Each path's place under the results folder: the one spelling of every name in it.
_PLACES = {"trials": "trials", "visuals": "visuals", "failures": "failures", "logs": "logs",
           "tensorboard": "tensorboard", "checkpoints": "checkpoints", "cache": "cache", "report": "report",
           "run_state": "run_state.json", "lock": "run.lock"}


@dataclass(frozen=True, init=False)
class ResultsLayout:
    """`ResultsLayout(results).trials` and so on: the paths of a results folder (the module's docstring lists them)."""

    root: Path
    trials: Path
    visuals: Path
    failures: Path
    logs: Path
    tensorboard: Path
    checkpoints: Path
    cache: Path
    report: Path
    run_state: Path
    lock: Path

    def __init__(self, root: Path | str) -> None:
        root = Path(root)
        object.__setattr__(self, "root", root)
        for name, place in _PLACES.items():
            object.__setattr__(self, name, root / place)

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
