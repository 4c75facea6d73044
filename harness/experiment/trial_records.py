"""A trial's record: built from a finished trial, and consulted to decide whether a trial is done.

A trial is done when its record exists with the same config; a record also names every table row the trial feeds,
and a later spec that feeds more rows adds them without rerunning anything.
"""

import datetime
from pathlib import Path

from harness import records
from harness.experiment.trial import Trial
from harness.records import Environment, Evaluation, RecordedConfig, Training, TrialRecord, Visual


def build_record(trial: Trial, *, metrics: dict[str, Evaluation], params: int, macs: int, macs_input: dict[str, int],
                 macs_unsupported: dict[str, int], training: Training | None, visuals: dict[str, Visual],
                 environment: Environment, seconds: float) -> TrialRecord:
    return TrialRecord(
        schema_version=records.SCHEMA_VERSION, trial_id=trial.trial_id, status="done",
        config=RecordedConfig.model_validate(trial.config.to_json()),
        feeds=list(trial.feeds), metrics=metrics, params=params,
        macs=macs, macs_input=macs_input, macs_unsupported=macs_unsupported, training=training, visuals=visuals,
        seconds=round(seconds, 3), environment=environment,
        finished_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))


def is_done(results_dir: Path, trial: Trial) -> bool:
    record = records.read_record(records.record_path(results_dir, trial.trial_id))
    return record is not None and record.config.to_json() == trial.config.to_json()


def add_feeds(results_dir: Path, trial: Trial) -> bool:
    """Add the trial's feeds missing from its existing record (a later spec may feed more tables); True if changed."""
    record = records.read_record(records.record_path(results_dir, trial.trial_id))
    if record is None:
        return False
    missing = [feed for feed in trial.feeds if feed not in record.feeds]
    if not missing:
        return False
    records.write_record(results_dir, record.model_copy(update={"feeds": record.feeds + missing}))
    return True
