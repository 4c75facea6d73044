"""`<results>/run_state.json`: a small file the driver of a run rewrites while it runs, for `python -m harness status`.

It holds what the records cannot: which trials the run has queued, which are running (attempt, iteration, loss,
speed) and which failed (the one-line error, the log and traceback files). The driver writes it atomically about once
a second; `status` reads it from another terminal, or another machine that sees the results folder. Done trials are
known from their records (harness/records.py), never from this file.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from harness.atomic import write_json_atomic
from harness.results_layout import ResultsLayout

FORMAT = 1
WRITE_EVERY_SECONDS = 1.0


def now_text() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class RunState:
    """The driver's view of its trials; `write()` puts it on disk (at most once per WRITE_EVERY_SECONDS)."""

    def __init__(self, results_dir: Path, spec: str, trials: list[Any]) -> None:
        self.path = ResultsLayout(Path(results_dir)).run_state
        self.data: dict[str, Any] = {
            "format": FORMAT, "spec": spec, "driver": {"host": socket.gethostname(), "pid": os.getpid()},
            "started_at": now_text(), "updated_at": now_text(), "finished_at": None,
            "trials": {trial.trial_id: {"label": trial.label, "feeds": trial.feeds_text, "state": "queued"}
                       for trial in trials},
        }
        self._written = 0.0

    def set(self, trial_id: str, **fields: Any) -> None:
        self.data["trials"][trial_id].update(fields)

    def progress(self, trial_id: str, iteration: int, total: int, loss: float | None, speed: float | None) -> None:
        self.set(trial_id, iteration=iteration, total=total, loss=loss, iterations_per_second=speed,
                 progress_at=now_text())

    def write(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._written < WRITE_EVERY_SECONDS:
            return
        self.data["updated_at"] = now_text()
        try:
            write_json_atomic(self.path, self.data)
        except OSError:
            pass  # the state file only informs `status`: a full disk must not stop the trials
        self._written = time.monotonic()

    def finish(self) -> None:
        self.data["finished_at"] = now_text()
        for entry in self.data["trials"].values():
            if entry["state"] == "running":  # cancelled by Ctrl-C: it resumes next time
                entry["state"] = "interrupted"
        self.write(force=True)


def read_run_state(results_dir: Path) -> dict[str, Any] | None:
    """The last state a driver wrote, or None; an unreadable file counts as none (it is rewritten every second)."""
    try:
        data = json.loads(ResultsLayout(Path(results_dir)).run_state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("trials"), dict):
        return None
    return data
