"""Released models against their own published numbers (issue 20): every record of a model that a source in
harness/published/model_sources.py transcribes, beside each of that model's published cells at the record's scale
and sets: "published (source) | ours under each protocol | exact or by how much".

A cell is exact under a protocol when the measured value prints as the source prints it, at the source's own
precision (2 and 4 decimals for papers, 6 for PAN's logs); otherwise the row gives the difference. Both the
camera-ready and a correction are shown where a source corrects another (CARN-M's Urban100), each named.
"""

from dataclasses import dataclass

from harness import registry
from harness.evaluation import protocols
from harness.published.model_sources import PublishedCell, load_sources, published_cells
from harness.published.paper import Paper, load_paper
from harness.records import TrialRecord
from harness.reporting.findings import Finding
from harness.reporting.tolerance import MISMATCH_TOLERANCE


@dataclass(frozen=True)
class ProtocolValue:
    protocol: str
    psnr: float
    ssim: float
    exact_psnr: bool
    exact_ssim: bool
    psnr_difference: float  # ours - published
    ssim_difference: float


@dataclass(frozen=True)
class SourceComparison:
    model: str
    scale: int
    dataset: str
    source: str  # the source's key
    source_title: str
    corrected_by: str | None  # the key of a source that replaces this cell, if any
    published_psnr: str  # as printed
    published_ssim: str
    values: tuple[ProtocolValue, ...]  # one per protocol the record holds, the record's order

    @property
    def exact_under(self) -> tuple[str, ...]:
        return tuple(value.protocol for value in self.values if value.exact_psnr and value.exact_ssim)

    def closest(self) -> ProtocolValue:
        return min(self.values, key=lambda value: abs(value.psnr_difference))


def compare_with_sources(records: list[TrialRecord]) -> list[SourceComparison]:
    """One comparison per (record of a released model's file, set it scored, published cell of that set)."""
    comparisons = []
    for record in sorted(records, key=lambda record: (record.config.model, record.config.scale)):
        if record.config.weights is None:
            continue  # a trained model is not the authors' file
        cells = [cell for cell in published_cells(record.config.model) if cell.scale == record.config.scale]
        corrections = {cell.source.corrects: cell.source.key for cell in cells if cell.source.corrects}
        for cell in cells:
            evaluation = record.metrics.get(cell.dataset)
            if evaluation is None:
                continue
            results = [evaluation, *evaluation.protocols.values()]
            comparisons.append(_comparison(cell, results, corrections.get(cell.source.key)))
    return comparisons


def _comparison(cell: PublishedCell, results: list, corrected_by: str | None) -> SourceComparison:
    published_psnr, published_ssim = cell.cell.values
    values = []
    for result in results:
        exact_psnr, exact_ssim = cell.exact(result.psnr_y, result.ssim_y)
        values.append(ProtocolValue(result.protocol, result.psnr_y, result.ssim_y, exact_psnr, exact_ssim,
                                    result.psnr_y - published_psnr, result.ssim_y - published_ssim))
    # a correction replaces this cell only where it transcribes the same set
    replaced = corrected_by if corrected_by and cell.dataset in _corrected_sets(cell, corrected_by) else None
    return SourceComparison(cell.row.model or cell.row.label, cell.scale, cell.dataset, cell.source.key,
                            cell.source.title, replaced, cell.cell.psnr, cell.cell.ssim, tuple(values))


def _corrected_sets(cell: PublishedCell, correction: str) -> set[str]:
    row = load_sources()[correction].row(cell.row.model) if cell.row.model else None
    return set(row.cells.get(cell.scale, {})) if row else set()


# --- findings over the comparisons --------------------------------------------------------------------------------

def source_findings(comparisons: list[SourceComparison], records: list[TrialRecord]) -> list[Finding]:
    """What a reader must know about released models against their own sources: how many cells print as published
    and under which protocols, the cells no protocol brings within tolerance (with the likely cause a protocol states
    it had to assume), published numbers that need self-ensemble, parameter counts the files contradict, corrections
    of one source by another, and files trained on other data than the paper's."""
    findings: list[Finding] = []
    standing = [row for row in comparisons if row.corrected_by is None]
    if standing:
        findings.append(_exactness(standing))
        misses = [row for row in standing if not _within(row)]
        if misses:
            findings.append(_misses(misses))
        ensemble = [row for row in standing if _needs_self_ensemble(row)]
        if ensemble:
            findings.append(_self_ensemble(ensemble))
    findings.extend(_parameter_counts(records))
    findings.extend(_corrections(comparisons))
    findings.extend(_training_sets(records))
    return findings


def _within(row: SourceComparison, *, protocols: tuple[str, ...] | None = None) -> bool:
    return any(_value_within(value) for value in row.values if protocols is None or value.protocol in protocols)


def _value_within(value: ProtocolValue) -> bool:
    return ((value.exact_psnr or abs(value.psnr_difference) <= MISMATCH_TOLERANCE["psnr_y"])
            and (value.exact_ssim or abs(value.ssim_difference) <= MISMATCH_TOLERANCE["ssim_y"]))


def _self_ensembled(protocol: str) -> bool:
    """Whether `protocol` averages the 8 flips and rotations (its recorded self_ensemble convention says so)."""
    known = protocols.PROTOCOLS.get(protocol)
    return known is not None and known.conventions.get("self_ensemble", "none").split(" ")[0] not in ("none", "")


def _needs_self_ensemble(row: SourceComparison) -> bool:
    single = tuple(value.protocol for value in row.values if not _self_ensembled(value.protocol))
    return _within(row) and not _within(row, protocols=single)


def _where(row: SourceComparison) -> str:
    return f"{row.model} ×{row.scale} {row.dataset}"


def _value_text(value: ProtocolValue) -> str:
    return (f"{value.protocol} {value.psnr:.4f} / {value.ssim:.5f} ({value.psnr_difference:+.4f} dB / "
            f"{value.ssim_difference:+.5f})")


def _exactness(rows: list[SourceComparison]) -> Finding:
    exact = [row for row in rows if row.exact_under]
    by_protocol: dict[str, int] = {}
    for row in rows:
        for protocol in row.exact_under:
            by_protocol[protocol] = by_protocol.get(protocol, 0) + 1
    within = sum(_within(row) for row in rows)
    counts = ", ".join(f"{count} under {protocol}" for protocol, count in sorted(by_protocol.items()))
    padded = sorted({f"{row.model} ({row.source}: {', '.join(f'{m.upper()} to {d} decimals' for m, d in pad)})"
                     for row in rows for pad in [_padded(row)] if pad})
    detail = (f"A cell is exact when ours prints the source's digits, at the source's precision; {within} of "
              f"{len(rows)} lie within {MISMATCH_TOLERANCE['psnr_y']} dB and {MISMATCH_TOLERANCE['ssim_y']} SSIM under "
              "at least one protocol."
              + (" The source's own zeros are not counted as digits where it pads an original printed with fewer "
                 "decimals:" if padded else ""))
    return Finding("note", "released-exact",
                   f"Released models: {len(exact)} of {len(rows)} published cells print exactly under some protocol"
                   + (f" ({counts})" if counts else ""), detail, tuple(padded))


def _padded(row: SourceComparison) -> tuple[tuple[str, int], ...]:
    """(metric, the original's decimals) where the row's source pads the original's numbers with zeros."""
    source_row = load_sources()[row.source].row(row.model)
    return tuple(sorted(source_row.original_decimals.items())) if source_row else ()


def _misses(rows: list[SourceComparison]) -> Finding:
    items = []
    for row in rows:
        closest = row.closest()
        causes = sorted({protocols.PROTOCOLS[value.protocol].assumed for value in row.values
                         if value.protocol in protocols.PROTOCOLS and protocols.PROTOCOLS[value.protocol].assumed})
        cause = f"; likely cause: {'; '.join(causes)}" if causes else ""
        items.append(f"{_where(row)}: published {row.published_psnr} / {row.published_ssim} ({row.source}); closest "
                     f"{_value_text(closest)}{cause}")
    return Finding("mismatch", "released-miss",
                   f"{len(rows)} published cell{'s' if len(rows) != 1 else ''} of released models that no protocol "
                   "brings within tolerance",
                   f"Scored under every protocol of the model's registry entry; none is within "
                   f"{MISMATCH_TOLERANCE['psnr_y']} dB and {MISMATCH_TOLERANCE['ssim_y']} SSIM of these:", tuple(items))


def _self_ensemble(rows: list[SourceComparison]) -> Finding:
    items = []
    for row in rows:
        single = [value for value in row.values if not _self_ensembled(value.protocol)]
        ensembled = [value for value in row.values if _self_ensembled(value.protocol)]
        best_single = min(single, key=lambda value: abs(value.psnr_difference)) if single else None
        items.append(f"{_where(row)}: published {row.published_psnr} / {row.published_ssim}; "
                     + "; ".join(_value_text(value) for value in ensembled)
                     + (f"; single pass at best {_value_text(best_single)}" if best_single else ""))
    return Finding("suspect", "self-ensemble",
                   f"{len(rows)} published cell{'s' if len(rows) != 1 else ''} of released models reproduce only with "
                   "x8 self-ensemble",
                   "These numbers need the 8 flips and rotations averaged (8 forward passes), which the authors' test "
                   "script leaves off; a table that puts them beside single-pass models compares unlike things:",
                   tuple(items))


def _printed_count(printed: str) -> tuple[float, float] | None:
    """A printed parameter count and half a unit of its last digit: "813K" is 813,000 +- 500 (812,500 to 813,500),
    "1.2M" 1,200,000 +- 50,000; None where it is not a number."""
    text = printed.strip().upper().replace(",", "")
    unit = {"K": 1e3, "M": 1e6}.get(text[-1:], 1.0)
    number = text.rstrip("KM")
    try:
        value = float(number) * unit
    except ValueError:
        return None
    decimals = len(number.split(".")[1]) if "." in number else 0
    return value, unit * 10 ** -decimals / 2


def _parameter_counts(records: list[TrialRecord]) -> list[Finding]:
    contradicted: dict[tuple[str, int, str, str], tuple[set[int], set[str]]] = {}  # -> (scales, sources)
    for record in records:
        if record.config.weights is None or record.params is None:
            continue
        for source in load_sources().values():
            row = source.row(record.config.model)
            printed = row.params.get(record.config.scale) if row else None
            count = _printed_count(printed) if printed else None
            if count is None or abs(record.params - count[0]) <= count[1]:
                continue
            scales, sources = contradicted.setdefault(
                (record.config.model, record.params, record.config.weights, printed), (set(), set()))
            scales.add(record.config.scale)
            sources.add(source.key)
    if not contradicted:
        return []
    items = []
    for (model, params, weights, printed), (scales, sources) in sorted(contradicted.items()):
        released = _released(model)
        in_file = {released.params.get(scale) for scale in scales} if released is not None else set()
        whole = (f" (the file holds {next(iter(in_file)):,})" if len(in_file) == 1 and None not in in_file
                 and params not in in_file else "")
        items.append(f"{model} {', '.join(f'×{scale}' for scale in sorted(scales))}: {params:,} in {weights}{whole}; "
                     f"{', '.join(sorted(sources))} print{'s' if len(sources) == 1 else ''} {printed}")
    return [Finding("mismatch", "released-parameter-count",
                    "Printed parameter counts that the released files contradict",
                    "Counted element by element in the authors' released files (the model as the harness builds it "
                    "for that scale), against the count each source prints, beyond its rounding:", tuple(items))]


def _corrections(comparisons: list[SourceComparison]) -> list[Finding]:
    shown = {row.model for row in comparisons}
    paper = load_paper()
    items = []
    for source in load_sources().values():
        if source.corrects is None:
            continue
        original = load_sources()[source.corrects]
        for row in source.rows:
            before = original.row(row.model) if row.model else next(
                (other for other in original.rows if other.label == row.label), None)
            if before is None or (row.model not in shown and not _in_table5(paper, row.label)):
                continue
            for scale, sets in sorted(row.cells.items()):
                for dataset, cell in sets.items():
                    old = before.cells.get(scale, {}).get(dataset)
                    if old is None or (old.psnr, old.ssim) == (cell.psnr, cell.ssim):
                        continue
                    quoted = _table5_quote(paper, row.label, scale, dataset)
                    which = ("" if quoted is None else
                             f"; MREN's Table 5 quotes {quoted[0]} / {quoted[1]}, the "
                             + ("correction" if quoted == (cell.psnr, cell.ssim) else
                                "original" if quoted == (old.psnr, old.ssim) else "neither"))
                    items.append(f"{row.label} ×{scale} {dataset}: {original.key} {old.psnr} / {old.ssim}, corrected "
                                 f"by {source.key} to {cell.psnr} / {cell.ssim}{which}")
    if not items:
        return []
    return [Finding("note", "corrected-source",
                    "Published numbers their authors later corrected",
                    "Both versions are shown in the table of released models; the correction stands for comparisons:",
                    tuple(items))]


def _in_table5(paper: Paper, label: str) -> bool:
    return any(value.row == label for value in paper.values_of("table5"))


def _table5_quote(paper: Paper, label: str, scale: int, dataset: str) -> tuple[str, str] | None:
    """What MREN's Table 5 prints for `label` at (`scale`, `dataset`), if it has that row and cell."""
    try:
        return (paper.value("table5", label, "psnr_y", dataset, scale).printed,
                paper.value("table5", label, "ssim_y", dataset, scale).printed)
    except KeyError:
        return None


def _training_sets(records: list[TrialRecord]) -> list[Finding]:
    items = {}
    for record in records:
        released = _released(record.config.model)
        if record.config.weights is None or released is None or released.other_training_set is None:
            continue
        items[record.config.model] = f"{record.config.model}: {released.other_training_set}"
    if not items:
        return []
    return [Finding("note", "training-set",
                    "Released files trained on other data than the paper's DIV2K",
                    "Their numbers check the files, not the methods: beside models trained on DIV2K alone they are "
                    "not a like-for-like comparison:", tuple(items[key] for key in sorted(items)))]


def _released(model: str) -> registry.Released | None:
    """The registry's released files of `model`; None for an unregistered model (a plugin's, not loaded)."""
    entry = registry.MODELS.get(model)
    return entry.released if entry is not None else None
