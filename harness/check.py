"""Regression check: trial records against a reference file, metric by metric, with tolerances.

Reference format (written by `check --update`, see docs/reports.md):

    {
      "format": "mren-harness-check-reference",
      "version": 1,
      "tolerances": {"psnr_y": 0.02, "ssim_y": 0.0005, "params": 0, "macs_relative": 0.001},
      "trials": {
        "<trial_id>": {"label": "mren ×4 (Table 1 6), profile smoke, seed 0", "scale": 4,
                       "params": 298000, "macs": 23800000000,
                       "metrics": {"Set5": {"psnr_y": 32.2104, "ssim_y": 0.894812}}}
      }
    }
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pydantic

from harness.atomic import write_text_atomic
from harness.errors import UserError
from harness.tables import TrialRecord

REFERENCE_FORMAT = "mren-harness-check-reference"
FLOAT_SLACK = 1e-9  # a difference equal to the tolerance, up to float rounding, passes


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class Tolerances(_Strict):
    psnr_y: float = pydantic.Field(0.02, ge=0)  # dB
    ssim_y: float = pydantic.Field(0.0005, ge=0)
    params: int = pydantic.Field(0, ge=0)  # absolute: parameter counts are exact
    macs_relative: float = pydantic.Field(0.001, ge=0)  # fraction of the reference MACs


class ReferenceMetrics(_Strict):
    psnr_y: float
    ssim_y: float


class ReferenceTrial(_Strict):
    label: str
    scale: int
    params: int | None = None
    macs: int | None = None
    metrics: dict[str, ReferenceMetrics]


class Reference(_Strict):
    format: Literal["mren-harness-check-reference"] = REFERENCE_FORMAT
    version: Literal[1] = 1
    tolerances: Tolerances = Tolerances()
    trials: dict[str, ReferenceTrial]


@dataclass(frozen=True)
class Drift:
    trial_id: str
    label: str
    dataset: str  # "" for params and MACs
    scale: int
    metric: str  # psnr_y, ssim_y, params, macs, or "trial" when the whole trial is missing
    reference: float | None
    result: float | None
    tolerance: str

    @property
    def difference(self) -> float | None:
        return None if self.reference is None or self.result is None else self.result - self.reference


@dataclass(frozen=True)
class Comparison:
    drifts: list[Drift]
    compared: int  # values compared
    trials: int  # reference trials
    unreferenced: list[str]  # result trials the reference lacks


def load_reference(path: Path) -> Reference:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"reference file {path} does not exist (create it with --update)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"reference file {path} is not readable JSON: {error}") from error
    try:
        return Reference.model_validate(raw)
    except pydantic.ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "top level"
        raise UserError(f"reference file {path} is malformed at {where}: {problem['msg']}") from error


def reference_from_records(records: list[TrialRecord], tolerances: Tolerances) -> Reference:
    trials = {
        record.trial_id: ReferenceTrial(
            label=record.label, scale=record.config.scale, params=record.params, macs=record.macs,
            metrics={name: ReferenceMetrics(psnr_y=evaluation.psnr_y, ssim_y=evaluation.ssim_y)
                     for name, evaluation in sorted(record.metrics.items())})
        for record in sorted(records, key=lambda record: record.trial_id)}
    return Reference(tolerances=tolerances, trials=trials)


def write_reference(path: Path, reference: Reference) -> None:
    write_text_atomic(Path(path), json.dumps(reference.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n")


def compare(reference: Reference, records: list[TrialRecord]) -> Comparison:
    by_id = {record.trial_id: record for record in records}
    tolerances = reference.tolerances
    drifts: list[Drift] = []
    compared = 0
    for trial_id, expected in reference.trials.items():
        record = by_id.get(trial_id)
        if record is None:
            drifts.append(Drift(trial_id, expected.label, "", expected.scale, "trial", None, None,
                                "missing from the results"))
            continue
        label, scale = record.label, record.config.scale
        checks: list[tuple[str, str, float | None, float | None, bool, str]] = []
        for dataset, metrics in expected.metrics.items():
            evaluation = record.metrics[dataset] if dataset in record.metrics else None
            for metric, tolerance in (("psnr_y", tolerances.psnr_y), ("ssim_y", tolerances.ssim_y)):
                wanted = getattr(metrics, metric)
                got = getattr(evaluation, metric) if evaluation else None
                within = got is not None and abs(got - wanted) <= tolerance + FLOAT_SLACK
                checks.append((dataset, metric, wanted, got, within, f"±{tolerance:g}"))
        if expected.params is not None:
            within = record.params is not None and abs(record.params - expected.params) <= tolerances.params
            checks.append(("", "params", expected.params, record.params, within, f"±{tolerances.params}"))
        if expected.macs is not None:
            allowed = tolerances.macs_relative * abs(expected.macs)
            within = record.macs is not None and abs(record.macs - expected.macs) <= allowed + FLOAT_SLACK
            checks.append(("", "macs", expected.macs, record.macs, within, f"±{tolerances.macs_relative:.2%}"))
        for dataset, metric, wanted, got, within, tolerance in checks:
            compared += 1
            if not within:
                drifts.append(Drift(trial_id, label, dataset, scale, metric, wanted, got, tolerance))
    unreferenced = sorted(set(by_id) - set(reference.trials))
    return Comparison(drifts=drifts, compared=compared, trials=len(reference.trials), unreferenced=unreferenced)


def _number(metric: str, value: float | None) -> str:
    if value is None:
        return "missing"
    if metric in ("params", "macs"):
        return f"{value:,.0f}"
    return f"{value:.4f}" if metric == "psnr_y" else f"{value:.6f}"


def format_drifts(drifts: list[Drift]) -> str:
    """An aligned text table of what drifted and by how much."""
    header = ("trial", "label", "set", "scale", "metric", "reference", "result", "difference", "tolerance")
    lines = [header]
    for drift in drifts:
        difference = drift.difference
        if drift.metric == "trial":
            shown = "trial missing"
        elif difference is None:
            shown = "value missing"
        elif drift.metric in ("params", "macs"):
            shown = f"{difference:+,.0f}" + (f" ({difference / drift.reference:+.2%})" if drift.reference else "")
        else:
            shown = f"{difference:+.4f}" if drift.metric == "psnr_y" else f"{difference:+.6f}"
        whole_trial = drift.metric == "trial"
        reference = "-" if whole_trial else _number(drift.metric, drift.reference)
        lines.append((drift.trial_id, drift.label, drift.dataset or "-", f"×{drift.scale}",
                      "-" if whole_trial else drift.metric, reference, _number(drift.metric, drift.result), shown,
                      drift.tolerance))
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
                     for line in lines)
