"""Released models against their own published numbers (issue 20): every record of a model that a source in
harness/published/model_sources.py transcribes, beside each of that model's published cells at the record's scale
and sets: "published (source) | ours under each protocol | exact or by how much".

A cell is exact under a protocol when the measured value prints as the source prints it, at the source's own
precision (2 and 4 decimals for papers, 6 for PAN's logs); otherwise the row gives the difference. Both the
camera-ready and a correction are shown where a source corrects another (CARN-M's Urban100), each named.
"""

from dataclasses import dataclass

from harness.published.model_sources import PublishedCell, load_sources, published_cells
from harness.records import TrialRecord


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
        exact_psnr, exact_ssim = cell.cell.exact(result.psnr_y, result.ssim_y)
        values.append(ProtocolValue(result.protocol, result.psnr_y, result.ssim_y, exact_psnr, exact_ssim,
                                    result.psnr_y - published_psnr, result.ssim_y - published_ssim))
    # a correction replaces this cell only where it transcribes the same set
    replaced = corrected_by if corrected_by and cell.dataset in _corrected_sets(cell, corrected_by) else None
    return SourceComparison(cell.row.model or cell.row.label, cell.scale, cell.dataset, cell.source.key,
                            cell.source.title, replaced, cell.cell.psnr, cell.cell.ssim, tuple(values))


def _corrected_sets(cell: PublishedCell, correction: str) -> set[str]:
    row = load_sources()[correction].row(cell.row.model) if cell.row.model else None
    return set(row.cells.get(cell.scale, {})) if row else set()
