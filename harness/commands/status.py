"""`python -m harness status [--results DIR]`: what a run has done, is doing and has left, from another terminal.

It reads only the results folder: trial records (done), the run-state file the driver of a run rewrites every second
(running, failed, not started: harness/experiment/run_state.py) and the trials' logs. It starts no Ray and touches
nothing, so it works while a run is going, and from any machine that sees the results folder.
"""

import argparse
import datetime
from pathlib import Path
from typing import Any

from harness import records
from harness.inputs import input_folder
from harness.experiment.run_state import read_run_state
from harness.results_layout import ResultsLayout

# A driver rewrites the state file every second; one silent for this long has stopped (killed, or its machine lost).
STALE_SECONDS = 120


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(name, help="done, running, failed and not-started trials of the latest run",
                                   description=__doc__)
    parser.add_argument("--results", type=Path, default=Path("results"), help="results folder (default: results)")


def main(args: argparse.Namespace) -> int:
    input_folder(args.results, "results folder")
    done = {record.trial_id: record for record in records.load_records(args.results)}
    state = read_run_state(args.results)
    if state is None:
        print(f"{args.results}: {len(done)} trial record{'s' if len(done) != 1 else ''}; no run state "
              f"({ResultsLayout(args.results).run_state}: no run has started here, or it is unreadable)")
        for record in done.values():
            print(f"  done         {record.trial_id}  {records.trial_label(record.config.to_json())}")
        return 0

    age = _seconds_since(state["updated_at"])
    if state.get("finished_at"):
        run = f"finished {state['finished_at']}"
    elif age is not None and age > STALE_SECONDS:
        run = f"NOT RUNNING: its driver last wrote {age:.0f} s ago (killed?); rerun the spec to resume"
    else:
        run = f"running (driver pid {state['driver'].get('pid')} on {state['driver'].get('host')})"
    print(f"{state.get('spec') or 'run'} started {state['started_at']}: {run}")
    if state.get("projected_wall_seconds") is not None:
        elapsed = _elapsed(state)
        print(f"projected wall time {_duration(state['projected_wall_seconds'])}"
              + (f", elapsed {_duration(elapsed)}" if elapsed is not None else ""))

    groups: dict[str, list[str]] = {"done": [], "running": [], "failed": [], "not started": []}
    for trial_id, entry in state["trials"].items():
        name = f"{trial_id}  {entry.get('label', '')}  [{entry.get('feeds', '')}]"
        if trial_id in done:
            groups["done"].append(f"{name}  {_headline(done[trial_id])}  {_took(done[trial_id])}")
        elif entry.get("state") == "running":
            groups["running"].append(f"{name}  {_progress(entry)}")
        elif entry.get("state") == "failed":
            groups["failed"].append(f"{name}  {entry.get('error', '')}  (log: {entry.get('log')}; traceback: "
                                    f"{entry.get('traceback')})")
        else:
            note = " (interrupted: resumes from its checkpoint)" if entry.get("state") == "interrupted" else ""
            groups["not started" if not entry.get("iteration") else "running"].append(name + note)
    others = sorted(set(done) - set(state["trials"]))
    for kind, lines in groups.items():
        print(f"{kind}: {len(lines)}")
        for line in lines:
            print(f"  {line}")
    if others:
        print(f"also {len(others)} record{'s' if len(others) != 1 else ''} of earlier runs in {args.results}")
    return 0


def _progress(entry: dict[str, Any]) -> str:
    iteration, total = entry.get("iteration"), entry.get("total")
    if iteration is None or total is None:
        return f"attempt {entry.get('attempt', 1)}, starting (log: {entry.get('log')})"
    text = f"iteration {iteration}/{total}"
    if entry.get("loss") is not None:
        text += f", loss {entry['loss']:.5f}"
    speed = entry.get("iterations_per_second")
    if speed:
        remaining = (total - iteration) / speed  # training only: evaluation and MACs come after
        text += f", {speed:.2f} it/s, ETA {_duration(remaining)}" if iteration < total else ", evaluating"
    if entry.get("projected_seconds") is not None:
        text += f", projected {_duration(entry['projected_seconds'])} in all"
    return text + f" (log: {entry.get('log')})"


def _took(record: records.TrialRecord) -> str:
    """Actual against projected time (the projection is in records of priced runs)."""
    text = f"took {_duration(record.seconds)}"
    if record.projected_seconds:
        text += f", projected {_duration(record.projected_seconds)} ({record.seconds / record.projected_seconds:.2f}x)"
    if record.training is not None and record.training.steps_per_second:
        text += f", {record.training.steps_per_second:.2f} it/s"
    return text


def _elapsed(state: dict[str, Any]) -> float | None:
    if state.get("finished_at"):
        start, end = _seconds_since(state["started_at"]), _seconds_since(state["finished_at"])
        return start - end if start is not None and end is not None else None
    return _seconds_since(state["started_at"])


def _headline(record: records.TrialRecord) -> str:
    scores = [f"{name} {score.psnr_y:.2f} dB" for name, score in record.metrics.items()]
    return ", ".join([*scores, f"{record.params:,} params"])


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def _seconds_since(moment: str) -> float | None:
    try:
        then = datetime.datetime.fromisoformat(moment)
    except (TypeError, ValueError):
        return None
    return (datetime.datetime.now(datetime.timezone.utc) - then).total_seconds()
