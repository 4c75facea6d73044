"""Regression check: trial records against a reference file, metric by metric, with tolerances.

Reference format (written by `check --update`, see docs/reports.md):

    {
      "format": "mren-harness-check-reference",
      "version": 2,
      "tolerances": {"psnr_y": 0.02, "ssim_y": 0.0005, "params": 0, "macs_relative": 0.001},
      "made_with": {"cpu": ["..."], "cpu_capability": ["AVX512"], "torch_threads": [1], ...},
      "trials": {
        "<trial_id>": {"label": "mren ×4 (Table 1 6), profile smoke, seed 0", "scale": 4,
                       "config": {...}, "params": 298000, "macs": 23800000000,
                       "metrics": {"Set5": {"psnr_y": 32.2104, "ssim_y": 0.894812}}}
      }
    }

`made_with` says where the reference's numbers were computed. The smoke profile trains in float64 so that they do
not depend on it (docs/drift.md); `check` still says so when the results were made elsewhere.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic

from harness.atomic import write_text_atomic
from harness.errors import UserError
from harness.inputs import input_file
from harness.records import Environment, TrialRecord

REFERENCE_FORMAT = "mren-harness-check-reference"
REFERENCE_VERSION = 2
UNKNOWN = "unknown"  # an environment value a record does not carry
FLOAT_SLACK = 1e-9  # a difference equal to the tolerance, up to float rounding, passes


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


FiniteFloat = Annotated[float, pydantic.Field(allow_inf_nan=False)]


class Tolerances(_Strict):
    psnr_y: FiniteFloat = pydantic.Field(0.02, ge=0)  # dB
    ssim_y: FiniteFloat = pydantic.Field(0.0005, ge=0)
    params: int = pydantic.Field(0, ge=0)  # absolute: parameter counts are exact
    macs_relative: FiniteFloat = pydantic.Field(0.001, ge=0)  # fraction of the reference MACs


class ReferenceScores(_Strict):
    psnr_y: FiniteFloat
    ssim_y: FiniteFloat


class ReferenceMetrics(ReferenceScores):
    """One set's headline scores, and the same images under the model's other protocols (docs/protocols.md)."""

    protocols: dict[str, ReferenceScores] = {}


class ReferenceTrial(_Strict):
    label: str
    scale: int
    config: dict[str, Any] | None = None  # the trial config (version 2): names what changed when an id is missing
    params: int | None = None
    macs: int | None = None
    metrics: dict[str, ReferenceMetrics]


class MadeWith(_Strict):
    """Where a set of records was computed: each field lists the distinct values over the records."""

    cpu: list[str]
    cpu_capability: list[str]  # the kernels torch chose (AVX512, AVX2, DEFAULT)
    kernel_overrides: list[str]  # "ATEN_CPU_CAPABILITY=avx2 ..." or "none"
    torch_threads: list[int]
    torch: list[str]
    numpy: list[str]
    pillow: list[str]
    git_commit: list[str]


class Reference(_Strict):
    format: Literal["mren-harness-check-reference"] = REFERENCE_FORMAT
    version: Literal[1, 2] = REFERENCE_VERSION
    tolerances: Tolerances = Tolerances()
    made_with: MadeWith | None = None  # absent from version 1
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
    tolerance: str  # for a missing trial: why it is missing
    lookalike: str | None = None  # for a missing trial: a result trial of the same label with another config

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
    if not path.exists() and not path.is_symlink():
        raise UserError(f"reference file {path} does not exist (create it with --update)")
    input_file(path, "reference file")
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
    """A reference holding every record; a record with a non-finite value is a UserError naming it."""
    if not records:
        raise UserError("no finished trial records to make a reference from")
    trials = {}
    for record in sorted(records, key=lambda record: record.trial_id):
        try:
            trials[record.trial_id] = ReferenceTrial(
                label=record.label, scale=record.config.scale,
                config=record.config.to_json(), params=record.params, macs=record.macs,
                metrics={name: ReferenceMetrics(
                    psnr_y=evaluation.psnr_y, ssim_y=evaluation.ssim_y,
                    protocols={protocol: ReferenceScores(psnr_y=other.psnr_y, ssim_y=other.ssim_y)
                               for protocol, other in sorted(evaluation.protocols.items())})
                    for name, evaluation in sorted(record.metrics.items())})
        except pydantic.ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise UserError(f"trial record {record.path} cannot enter a reference: {where}: {problem['msg']}") from None
    return Reference(tolerances=tolerances, made_with=made_with(records), trials=trials)


def made_with(records: list[TrialRecord]) -> MadeWith:
    def distinct(read) -> list:
        return sorted({read(record.environment) for record in records}, key=str)

    def library(name: str):
        return lambda environment: environment.libraries.get(name) or UNKNOWN

    def overrides(environment: Environment) -> str:
        return " ".join(f"{name}={value}" for name, value in sorted(environment.kernel_overrides.items())) or "none"

    return MadeWith(
        cpu=distinct(lambda environment: environment.device_name),
        cpu_capability=distinct(lambda environment: environment.cpu_capability),
        kernel_overrides=distinct(overrides),
        torch_threads=distinct(lambda environment: environment.torch_threads),
        torch=distinct(lambda environment: environment.torch),
        numpy=distinct(library("numpy")),
        pillow=distinct(library("pillow")),
        git_commit=distinct(lambda environment: (environment.git_commit or UNKNOWN)[:12]),
    )


def environment_differences(reference: MadeWith | None, results: MadeWith) -> str | None:
    """One line saying how the results' environment differs from the reference's, or None when it does not."""
    if reference is None:
        return "the reference does not record where it was made (version 1); regenerate it with --update"
    changed = [f"{name} {_listed(getattr(results, name))} (reference: {_listed(getattr(reference, name))})"
               for name in MadeWith.model_fields if name != "git_commit"
               and getattr(results, name) != getattr(reference, name)]
    if not changed:
        return None
    return "made elsewhere than the reference: " + "; ".join(changed)


def _listed(values: list) -> str:
    return ", ".join(str(value) for value in values)


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
            lookalike, changes = _lookalike(expected, records, reference.trials)
            why = f"missing; {lookalike} has {', '.join(changes[:3])}" if lookalike else "missing from the results"
            drifts.append(Drift(trial_id, expected.label, "", expected.scale, "trial", None, None, why, lookalike))
            continue
        label, scale = record.label, record.config.scale
        checks: list[tuple[str, str, float | None, float | None, bool, str]] = []
        for dataset, metrics in expected.metrics.items():
            evaluation = record.metrics[dataset] if dataset in record.metrics else None
            # The headline protocol's scores, then each other protocol's, named as psnr_y[srcnn-demo].
            for protocol, scores in [(None, metrics), *metrics.protocols.items()]:
                scored = evaluation.under(protocol) if evaluation is not None and protocol else evaluation
                for metric, tolerance in (("psnr_y", tolerances.psnr_y), ("ssim_y", tolerances.ssim_y)):
                    wanted = getattr(scores, metric)
                    got = getattr(scored, metric) if scored is not None else None
                    within = got is not None and abs(got - wanted) <= tolerance + FLOAT_SLACK
                    name = f"{metric}[{protocol}]" if protocol else metric
                    checks.append((dataset, name, wanted, got, within, f"±{tolerance:g}"))
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


def _lookalike(expected: ReferenceTrial, records: list[TrialRecord],
               referenced: dict[str, Any]) -> tuple[str | None, list[str]]:
    """The result trial, absent from the reference, of the same model, scale and seed as a missing reference trial
    and with the fewest config differences, and those differences: what changed when a settings change gave
    trials new ids."""
    if expected.config is None:
        return None, []
    best: tuple[str | None, list[str]] = (None, [])
    for record in records:
        config = record.config.model_dump(mode="json", by_alias=True)
        if record.trial_id in referenced or any(config.get(key) != expected.config.get(key)
                                                for key in ("model", "scale", "seed")):
            continue
        changes = _config_changes(expected.config, config)
        if changes and (best[0] is None or len(changes) < len(best[1])):
            best = (record.trial_id, changes)
    return best


def _config_changes(before: dict[str, Any], after: dict[str, Any], prefix: str = "") -> list[str]:
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            changes.extend(_config_changes(old, new, f"{prefix}{key}."))
        elif old != new:
            changes.append(f"{prefix}{key} {old!r} -> {new!r}")
    return changes


def _number(metric: str, value: float | None) -> str:
    if value is None:
        return "missing"
    if metric in ("params", "macs"):
        return f"{value:,.0f}"
    return f"{value:.4f}" if metric.startswith("psnr_y") else f"{value:.6f}"


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
            shown = f"{difference:+.4f}" if drift.metric.startswith("psnr_y") else f"{difference:+.6f}"
        whole_trial = drift.metric == "trial"
        reference = "-" if whole_trial else _number(drift.metric, drift.reference)
        lines.append((drift.trial_id, drift.label, drift.dataset or "-", f"×{drift.scale}",
                      "-" if whole_trial else drift.metric, reference, _number(drift.metric, drift.result), shown,
                      drift.tolerance))
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
                     for line in lines)
