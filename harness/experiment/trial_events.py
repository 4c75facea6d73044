"""What a running trial tells the run's driver: log lines and scalars, as small picklable events.

A trial emits events where it runs (harness/experiment/run_trial.py); the grid's executor carries them to the driver
through Ray, and only the driver writes them into the results folder (harness/experiment/trial_logs.py), because on a
cluster a worker cannot see that folder. Nothing here imports Ray or torch.
"""

import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class TrialEvent:
    line: str  # one line of the trial's plain-text log
    scalars: dict[str, float] = field(default_factory=dict)  # TensorBoard tag -> value at `step`
    step: int | None = None  # training iteration the scalars belong to
    console: bool = False  # worth a line on the driver's console too (a resumption)
    time: float = field(default_factory=time.time)  # when it happened, on the trial's machine


EventSink = Callable[[TrialEvent], None]

# The scalars of a training point; `status` and the run-state file read the same names.
LOSS = "train/loss"
LEARNING_RATE = "train/learning_rate"
SPEED = "train/iterations_per_second"


def training_point(iteration: int, total: int, loss: float, learning_rate: float, speed: float) -> TrialEvent:
    return TrialEvent(line=f"iteration {iteration}/{total}  loss {loss:.6f}  lr {learning_rate:.3g}  "
                           f"{speed:.2f} it/s",
                      scalars={LOSS: loss, LEARNING_RATE: learning_rate, SPEED: speed}, step=iteration)
