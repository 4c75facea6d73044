"""The library entry point: run a grid from Python (a notebook, a script) as `python -m harness run` does.

    result = run_grid("ablations/scacb.yaml", RunSettings(profile="smoke", results_dir=Path("results")))

`run_grid` validates the spec, holds the results folder's lock, skips the trials that have a record, runs the others
on Ray (harness/experiment/ray_executor.py) under the grid's policy (harness/experiment/grid_policy.py) and keeps
what happens in the sinks it is given (harness/experiment/grid_sinks.py; by default those of the command). It returns
a GridResult; bad input raises UserError (harness/errors.py) with a one-line message, and Ctrl-C KeyboardInterrupt
once the running trials are cancelled. docs/design.md, "Running a grid from Python", has a worked example.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from harness.errors import UserError
from harness.experiment.grid_policy import Failure, GridPlan, GridSink, Sinks, plan_trials, run_attempts
from harness.experiment.grid_sinks import CompileTimeKeeper, standard_sinks
from harness.experiment.lock import ResultsLock
from harness.experiment.pricing import GridPrice, local_placement, price_grid
from harness.experiment.ray_executor import ClusterOptions, local_slots, open_ray_executor
from harness.experiment.spec import SpecTrial, load_spec
from harness.experiment.trial import RunSettings, Trial, input_problems, resolve_trials
from harness.experiment.trial_records import add_feeds, is_done
from harness.records import TrialRecord, load_records
from harness.results_layout import ResultsLayout

SpecSource = Path | str | Sequence[SpecTrial]  # a spec file, or its trials as harness.experiment.spec loads them


@dataclass(frozen=True)
class GridResult:
    finished: tuple[TrialRecord, ...]  # the records this run wrote, in the order the trials finished
    failures: tuple[Failure, ...]  # trials that failed for good (bad input at once, crashes after their retries)
    skipped: tuple[Trial, ...]  # trials that had a record already, and were not run again
    wall_seconds: float

    @property
    def bad_input(self) -> bool:
        return any(failure.bad_input for failure in self.failures)


def spec_trials(spec: SpecSource) -> list[SpecTrial]:
    return load_spec(Path(spec)) if isinstance(spec, (str, Path)) else list(spec)


def plan_grid(spec: SpecSource, settings: RunSettings) -> GridPlan:
    """The spec's trials under `settings`, which of them are done, and what inputs are missing; runs nothing."""
    requested = spec_trials(spec)
    trials = resolve_trials(requested, settings)
    return plan_trials(len(requested), trials, lambda trial: is_done(settings.results_dir, trial),
                       input_problems(trials, settings))


def check_inputs(plan: GridPlan, *, cluster: bool) -> None:
    """Missing data or weights stop a local run; on a cluster the nodes need them, not this machine (each trial
    checks on its node)."""
    if plan.problems and not cluster:
        more = f" (and {len(plan.problems) - 1} more; --dry-run lists them)" if len(plan.problems) > 1 else ""
        raise UserError(plan.problems[0] + more)


def describe_plan(plan: GridPlan, name: str, profile: str) -> str:
    count = len(plan.trials)
    return (f"{name}: {count} trial{'s' if count != 1 else ''} ({plan.requested} requested, "
            f"{plan.requested - count} merged as duplicates), profile {profile}, {len(plan.done)} done")


def price_plan(plan: GridPlan, settings: RunSettings, cluster: ClusterOptions, *, force: bool = False,
               on_note: Callable[[str], None] = lambda line: None, recalibrate: bool = False) -> GridPrice:
    """The projection of the trials `plan` would run on this machine (harness/experiment/pricing.py), calibrating
    what the cache does not hold (everything with `recalibrate`); the records of the results folder price the steps
    of the kinds they trained."""
    import torch

    slots = local_slots(cluster, os.cpu_count() or 1, torch.cuda.device_count())
    placement = local_placement(cpus_per_trial=cluster.cpus_per_trial, gpus_per_trial=cluster.gpus_per_trial,
                                num_cpus=cluster.num_cpus, slots=slots)
    to_run = {trial.trial_id for trial in plan.to_run(force=force)}
    done = frozenset(trial.trial_id for trial in plan.trials if trial.trial_id not in to_run)
    records = load_records(settings.results_dir) if Path(settings.results_dir).is_dir() else []
    return price_grid(plan.trials, settings, placement, done=done, on_note=on_note, records=records,
                      recalibrate=recalibrate)


def run_grid(spec: SpecSource, settings: RunSettings, *, cluster: ClusterOptions = ClusterOptions(),
             retries: int = 1, force: bool = False, sinks: Sequence[GridSink] | None = None,
             wait: bool = False, name: str | None = None, price: bool = True,
             recalibrate: bool = False) -> GridResult:
    """Run every trial of `spec` that has no record in `settings.results_dir` (all of them with `force`, from
    scratch), each retried up to `retries` times after a crash. `wait`: when another run holds the results folder,
    wait for it to end instead of raising UserError. `name`: what messages and the run state call the spec (default:
    its file). `price`: project each trial's time and the grid's before running (a local run only: a cluster's
    devices are not this machine's), tell the sinks, and keep each projection in its record; `recalibrate`: measure
    every kind again for it, ignoring the calibration cache."""
    started = time.perf_counter()
    requested = spec_trials(spec)
    name = name or (str(spec) if isinstance(spec, (str, Path)) else "grid")
    layout = ResultsLayout(Path(settings.results_dir))
    chosen = standard_sinks(layout.root, profile=settings.profile, spec=name,
                            show_nodes=cluster.address is not None) if sinks is None else sinks
    # a compiled trial's compile time goes back into its calibration, whatever the caller keeps
    told = Sinks([*chosen, CompileTimeKeeper()])

    def say_waiting(holder: str) -> None:
        told.note(f"waiting: the results folder is in use by another run ({holder})")

    with ResultsLock(layout.root, wait=wait, on_wait=say_waiting):
        plan = plan_grid(requested, settings)
        told.note(describe_plan(plan, name, settings.profile))
        check_inputs(plan, cluster=cluster.address is not None)
        for problem in plan.problems:
            told.note(f"note: on this machine, {problem}; the nodes of the cluster must have it")
        updated = sum(add_feeds(layout.root, trial) for trial in plan.trials if trial.trial_id in plan.done)
        if updated:
            told.note(f"added this spec's table rows to {updated} existing record{'s' if updated != 1 else ''}")
        to_run = plan.to_run(force=force)
        if not to_run:
            told.note(f"nothing to run: all {len(plan.trials)} trials are done (records in {layout.trials}); "
                      "--force reruns them")
            return GridResult((), (), plan.skipped(force=force), time.perf_counter() - started)
        if price and cluster.address is None:
            try:
                grid_price = price_plan(plan, settings, cluster, force=force, on_note=told.note,
                                        recalibrate=recalibrate)
            except UserError as error:  # a failed calibration costs the projection, not the run
                told.note(f"not priced: {error}")
            else:
                for line in grid_price.lines():
                    told.note(line)
                told.priced(grid_price)
        with open_ray_executor(settings, cluster) as executor:
            # A forced rerun starts from scratch: the task deletes the trial's checkpoints, which this machine may
            # not see (a cluster's storage).
            policy = run_attempts(to_run, executor, told, retries=retries, fresh=plan.fresh(force=force))
    return GridResult(tuple(result.record for result in policy.finished), tuple(policy.failures),
                      plan.skipped(force=force), time.perf_counter() - started)
