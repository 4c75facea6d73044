"""Rules that find where the paper contradicts itself, and checks of the numbers its prose quotes against its tables."""

import itertools
import math
import statistics
from dataclasses import dataclass

from harness.conventions import METRIC_COLUMNS, PAPER_MACS_INPUT, SCALES
from harness.published.paper import UNITS, CellRef, Paper, PaperValue, TextClaim, table_title
from harness.reporting.findings import Finding
from harness.reporting.numbers import format_number


@dataclass(frozen=True)
class ClaimCheck:
    claim: TextClaim
    holds: bool
    evidence: tuple[str, ...]  # what the tables give, in words, one line per cell or comparison


def _resolve(paper: Paper, ref: CellRef) -> PaperValue:
    value = paper.lookup(ref)
    if value is None:
        raise ValueError(f"text claim refers to a cell the transcription lacks: {ref.describe()}")
    return value


def _half_unit(printed: str) -> float:
    """Half a unit of the last printed digit: the rounding error of a printed number."""
    digits = "".join(ch for ch in printed if ch.isdigit() or ch == ".")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return 0.5 * 10 ** -decimals


def _scaled_half_unit(value: PaperValue) -> float:
    return _half_unit(value.printed) * UNITS.get(value.column, 1)


def check_claim(paper: Paper, claim: TextClaim) -> ClaimCheck:
    if claim.kind == "value":
        values = [_resolve(paper, ref) for ref in claim.cells]
        wrong = [value for value in values
                 if value.value is None or not math.isclose(value.value, claim.claimed, rel_tol=1e-9)]
        evidence = tuple(f"{value.ref().describe()} = {value.printed}" for value in values)
        return ClaimCheck(claim, holds=not wrong, evidence=evidence)
    if claim.kind == "rank":
        checks = []
        for ref in claim.cells:
            value = _resolve(paper, ref)
            column = [other.value for other in paper.values_of(ref.table)
                      if other.column == ref.column and other.dataset == ref.dataset and other.scale == ref.scale
                      and other.value is not None]
            rank = 1 + sum(other > value.value for other in column)
            checks.append((rank == claim.rank, f"{ref.describe()} {value.printed} ranks {rank} of {len(column)}"))
        return ClaimCheck(claim, holds=all(ok for ok, _ in checks), evidence=tuple(text for _, text in checks))
    if claim.kind == "order":
        broken = []
        for higher_ref, lower_ref in claim.pairs:
            higher, lower = _resolve(paper, higher_ref), _resolve(paper, lower_ref)
            if not higher.value > lower.value:
                relation = "equals" if higher.value == lower.value else "is below"
                broken.append(f"{higher_ref.describe()} {higher.printed} {relation} "
                              f"{lower_ref.row} {lower.printed}")
        evidence = tuple(broken) if broken else (f"all {len(claim.pairs)} comparisons hold",)
        return ClaimCheck(claim, holds=not broken, evidence=evidence)
    readings = []
    for first_ref, second_ref in claim.pairs:
        first, second = _resolve(paper, first_ref), _resolve(paper, second_ref)
        if claim.kind == "difference":
            result = first.value - second.value
            tolerance = (_scaled_half_unit(first) + _scaled_half_unit(second)
                         + _half_unit(claim.printed) * UNITS.get(first.column, 1))
            shown = format_number(first.column, result) if first.column in ("params", "macs") else f"{result:.4g}"
            text = f"{first_ref.describe()} {first.printed} − {second_ref.row} {second.printed} = {shown}"
        else:
            result = first.value / second.value
            tolerance = _half_unit(claim.printed.rstrip("%")) / 100 + 0.01  # "about": one percent point of slack
            text = f"{first_ref.describe()} {first.printed} / {second_ref.row} {second.printed} = {result:.1%}"
        readings.append((abs(result - claim.claimed) <= tolerance, text))
    return ClaimCheck(claim, holds=all(ok for ok, _ in readings),
                      evidence=tuple(f"{text} ({'agrees' if ok else 'differs'})" for ok, text in readings))


def check_claims(paper: Paper) -> list[ClaimCheck]:
    return [check_claim(paper, claim) for claim in paper.claims]


def consistency_findings(paper: Paper) -> list[Finding]:
    """Every place where the paper's numbers disagree with each other or with its prose, found by rules."""
    inferences = paper.inferred_scales
    inferred = ", ".join(f"Table {name[-1]} ×{inference.scale}" for name, inference in inferences.items())
    evidence = " ".join(inference.evidence + "." for inference in inferences.values())
    findings = [Finding("note", "inferred-scale", f"Tables {', '.join(name[-1] for name in inferences)} print no "
                        f"scale; inferred from their numbers: {inferred}", evidence)]
    for check in check_claims(paper):
        if not check.holds:
            claimed = f"rank {check.claim.rank}" if check.claim.kind == "rank" else check.claim.printed
            detail = f"Section {check.claim.where}. " + (f"Claimed {claimed}; the" if claimed else "The")
            findings.append(Finding("contradiction", "text-claim", f"The text says “{check.claim.quote}”",
                                    f"{detail} tables give:", check.evidence))
    findings += _same_cell_disagrees(paper)
    findings += _reference_rows(paper)
    findings += _params_across_scales(paper)
    findings += _duplicate_results(paper)
    findings += _rank_mismatch(paper)
    findings += _macs_per_parameter(paper)
    return findings


def _aliases(paper: Paper) -> list[tuple[PaperValue, CellRef]]:
    """Numbers of the unscaled tables paired with the comparison-table cell that must print the same: the ablations'
    full model has the final model's architecture (its parameters), the complexity table repeats the models and
    evaluations of the table it takes its scores from. The ablations' PSNR and SSIM come from shorter training and
    may differ (see `_reference_rows`)."""
    aliases = []
    for name, inference in paper.inferred_scales.items():
        spec = paper.tables[name]
        for value in paper.values_of(name):
            if spec.kind == "ablation" and value.row == spec.reference_row and value.column == "params":
                target, row = paper.comparison, spec.full_model or ""
            elif spec.scores_from is not None and value.column != "macs":
                target, row = spec.scores_from, value.row
            else:
                continue
            aliases.append((value, CellRef(table=target, row=row, column=value.column, dataset=value.dataset,
                                           scale=inference.scale)))
    return aliases


def _same_cell_disagrees(paper: Paper) -> list[Finding]:
    groups: dict[CellRef, list[PaperValue]] = {}
    for value, target in _aliases(paper):
        groups.setdefault(target, []).append(value)
    findings = []
    for target, values in groups.items():
        table5 = paper.lookup(target)
        printed = ([table5] if table5 else []) + values
        if len({value.value for value in printed}) > 1:
            where = "; ".join(f"{table_title(value.table)} row {value.row!r}: {value.printed}" for value in printed)
            findings.append(Finding("contradiction", "same-quantity",
                                    f"{target.describe()} is printed with different values", where))
    return findings


def _reference_rows(paper: Paper) -> list[Finding]:
    """The ablations' full model against the final model of Table 5, which is said to train longer."""
    epochs = paper.training_epochs
    equal = []
    for name in paper.names_of("ablation"):
        spec = paper.tables[name]
        scale = paper.inferred_scales[name].scale
        ablation = [paper.value(name, spec.reference_row or "", metric, "Set5") for metric in METRIC_COLUMNS]
        final = [paper.value(paper.comparison, spec.full_model or "", metric, "Set5", scale)
                 for metric in METRIC_COLUMNS]
        if ablation[0].value == final[0].value and epochs.ablation != epochs.final:
            equal.append((name, spec, scale, ablation, final))
    if not equal:
        return []
    _, spec, scale, ablation, final = equal[0]
    tables = ", ".join(table_title(name) for name, *_ in equal)
    return [Finding(
        "suspect", "ablation-equals-final",
        f"The ablations' full model has the final {spec.full_model}'s Set5 PSNR ({final[0].printed} dB, "
        f"{table_title(paper.comparison)} ×{scale}) although trained {epochs.ablation} instead of {epochs.final} "
        "epochs",
        f"{tables} print {ablation[0].printed} / {ablation[1].printed} for the full model; "
        f"{table_title(paper.comparison)} prints "
        f"{final[0].printed} / {final[1].printed}. The paper says: “{epochs.quote}”. Training "
        f"{epochs.final / epochs.ablation:.3g}× longer and landing on the same PSNR while SSIM moves is unlikely; "
        f"either the ablation rows reuse the final PSNR or the epoch counts are not what was run.")]


def _params_across_scales(paper: Paper) -> list[Finding]:
    """A fixed architecture's parameter count changes with the scale only through its upsampler: a count equal at two
    scales but different at the third fits no upsampler design."""
    findings = []
    comparison = paper.comparison
    for row in paper.tables[comparison].row_keys:
        counts = {scale: paper.lookup(CellRef(table=comparison, row=row, column="params", scale=scale))
                  for scale in SCALES}
        if any(value is None or value.value is None for value in counts.values()):
            continue
        distinct = {value.value for value in counts.values()}
        if len(distinct) == 2:
            listing = ", ".join(f"×{scale} {value.printed}" for scale, value in counts.items())
            findings.append(Finding(
                "suspect", "params-across-scales", f"{row}'s parameter count is equal at two scales but not the third",
                f"{table_title(comparison)}: {listing}. The scale changes only the upsampler, so a count is either "
                f"the same at all "
                f"scales or differs at each; one of these numbers is likely copied from another model."))
    return findings


def _duplicate_results(paper: Paper) -> list[Finding]:
    """Two rows printing the same PSNR and SSIM on a set. Across unrelated methods in a crowded column that can be
    chance; between variants of one model (names sharing a stem, e.g. MREN and MREN-L, from the same authors) of
    different size, a copied row is the likelier explanation."""
    findings = []
    comparison = paper.comparison
    results: dict[tuple, list[str]] = {}
    for value in paper.values_of(comparison):
        if value.column == "psnr_y":
            ssim = paper.value(comparison, value.row, "ssim_y", value.dataset, value.scale)
            results.setdefault((value.scale, value.dataset, value.printed, ssim.printed), []).append(value.row)
    for (scale, dataset, psnr, ssim), rows in results.items():
        if len(rows) < 2:
            continue
        variants = any(a != b and b.startswith(a) for a in rows for b in rows)
        params = ", ".join(f"{row} {paper.value(comparison, row, 'params', None, scale).printed}" for row in rows)
        findings.append(Finding(
            "suspect" if variants else "note", "duplicate-result",
            f"{' and '.join(rows)} print the same ×{scale} {dataset} result ({psnr} / {ssim})",
            f"{table_title(comparison)} ×{scale} {dataset}, parameters {params}. "
            + ("Variants of one model of different size matching to the last digit in both PSNR and SSIM suggests "
               "a copied row." if variants else "Possibly chance in a crowded column.")))
    return findings


def _rank_mismatch(paper: Paper) -> list[Finding]:
    """PSNR and SSIM rank methods alike; a method whose two ranks sit half a table apart has a mistyped number."""
    findings = []
    comparison = paper.comparison
    datasets = dict.fromkeys(column.dataset for column in paper.tables[comparison].columns if column.dataset)
    for scale, dataset in itertools.product(SCALES, datasets):
        pairs = {}
        for value in paper.values_of(comparison):
            if value.scale == scale and value.dataset == dataset and value.column == "psnr_y":
                pairs[value.row] = (value, paper.value(comparison, value.row, "ssim_y", dataset, scale))
        for row, (psnr, ssim) in pairs.items():
            psnr_rank = _average_rank(psnr.value, [other.value for other, _ in pairs.values()])
            ssim_rank = _average_rank(ssim.value, [other.value for _, other in pairs.values()])
            if abs(psnr_rank - ssim_rank) >= len(pairs) / 2:
                findings.append(Finding(
                    "suspect", "psnr-ssim-rank", f"{row} ×{scale} {dataset}: PSNR and SSIM disagree on its rank",
                    f"PSNR {psnr.printed} ranks {psnr_rank:g} of {len(pairs)}, SSIM {ssim.printed} ranks "
                    f"{ssim_rank:g}; one of the two is probably mistyped (line {psnr.line})."))
    return findings


def _average_rank(value: float, column: list[float]) -> float:
    above = sum(other > value for other in column)
    ties = sum(other == value for other in column)
    return above + (ties + 1) / 2


def _macs_per_parameter(paper: Paper) -> list[Finding]:
    """A network whose layers run at the LR resolution costs about params × LR pixels MACs, so MACs per parameter
    is nearly the same across the lightweight models of one table; a far outlier was counted differently."""
    findings = []
    for name in paper.names_of("complexity"):
        findings += _macs_outliers(paper, name)
    return findings


def _macs_outliers(paper: Paper, name: str) -> list[Finding]:
    ratios = {}
    for value in paper.values_of(name):
        if value.column == "macs":
            params = paper.value(name, value.row, "params")
            ratios[value.row] = (value.value / params.value, value, params)
    if not ratios:
        return []
    typical = statistics.median(ratio for ratio, _, _ in ratios.values())
    scale = paper.inferred_scales[name].scale
    findings = []
    for row, (ratio, macs, params) in ratios.items():
        if ratio < typical / 2 or ratio > typical * 2:
            lr_pixels = ", ".join(f"×{s} {PAPER_MACS_INPUT.hr_pixels // (s * s):,}" for s in SCALES)
            findings.append(Finding(
                "suspect", "macs-per-parameter", f"{row}'s Flops are {ratio / typical:.2f}× what its size predicts",
                f"{table_title(name)}: {macs.printed} / {params.printed} = {ratio:,.0f} MACs per parameter against a "
                f"median of "
                f"{typical:,.0f} for the table's methods. At about params × LR pixels, with a {PAPER_MACS_INPUT} the "
                f"LR image has {lr_pixels} pixels; the table is otherwise ×{scale}."))
    return findings
