"""Published numbers of released models from their own sources (issue 20), beside the MREN paper's (`paper.py`).

Each source is one transcription file beside this module, with its provenance: a model's own paper as later papers
quote it (`latticenet_paper.json`), its authors' test logs (`pan_logs.json`), another paper's table
(`carn_camera_ready.json`, which also quotes LapSRN), or an authors' correction of their own table
(`carn_readme_urban100.json`, which `corrects` the camera-ready Urban100 column). A row names the registry model it
is (`model`; None for a row no registered model is, such as the authors' CARN, kept because MREN's Table 5 quotes
it). Numbers are kept as printed (strings), so that "exact" means "prints the same digits" and the precision of the
source is its own: 2 and 4 decimals for papers, 6 for PAN's logs. Adding a source is one JSON file and one line in
`SOURCE_FILES`.
"""

import functools
import json
from dataclasses import dataclass
from importlib import resources

import pydantic

from harness.conventions import SCALES

SOURCE_FILES = ("latticenet_paper.json", "pan_logs.json", "carn_camera_ready.json", "carn_readme_urban100.json")


class _Frozen(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class PrintedCell(_Frozen):
    psnr: str  # as printed: "37.53", "38.000670"
    ssim: str

    @property
    def values(self) -> tuple[float, float]:
        return float(self.psnr), float(self.ssim)

    def exact(self, psnr: float, ssim: float, *, decimals: dict[str, int] | None = None) -> tuple[bool, bool]:
        """Whether measured values print as this cell does, at the source's own precision, or at `decimals`
        (metric -> decimals) where the source pads a value printed with fewer (`SourceRow.original_decimals`)."""
        decimals = decimals or {}
        return (_prints_as(psnr, self.psnr, decimals.get("psnr")), _prints_as(ssim, self.ssim, decimals.get("ssim")))


class SourceRow(_Frozen):
    label: str  # as the source names it
    model: str | None  # the registry model it is, None where none is registered
    params: dict[int, str]  # scale -> the parameter count as printed
    cells: dict[int, dict[str, PrintedCell]]  # scale -> benchmark set -> (PSNR, SSIM) as printed
    # metric -> decimals of the original publication, where this source quotes it padded with zeros (CARN's table
    # prints LapSRN's 3-decimal SSIM 0.959 as 0.9590): "exact" is judged at the original's precision
    original_decimals: dict[str, int] = {}

    @pydantic.field_validator("cells", mode="before")
    @classmethod
    def _pairs(cls, cells: dict) -> dict:
        return {scale: {name: {"psnr": pair[0], "ssim": pair[1]} if isinstance(pair, list) else pair
                        for name, pair in sets.items()} for scale, sets in cells.items()}

    @pydantic.model_validator(mode="after")
    def _scales(self) -> "SourceRow":
        unknown = set(self.cells) - set(SCALES)
        if unknown:
            raise ValueError(f"row {self.label!r}: scales {sorted(unknown)} are not among {SCALES}")
        for metric, decimals in self.original_decimals.items():
            if metric not in ("psnr", "ssim"):
                raise ValueError(f"row {self.label!r}: original_decimals names {metric!r}, not psnr or ssim")
            for sets in self.cells.values():
                for name, cell in sets.items():
                    printed = getattr(cell, metric)
                    if _decimals(printed) < decimals or printed.split(".")[1][decimals:].strip("0"):
                        raise ValueError(f"row {self.label!r}: {name} {metric} {printed} is not a {decimals}-decimal "
                                         "value padded with zeros")
        return self


class ModelSource(_Frozen):
    key: str
    title: str
    provenance: str  # where it was printed or logged
    corrects: str | None  # the key of the source whose cells this one replaces, where it is a correction
    rows: tuple[SourceRow, ...]

    def row(self, model: str) -> SourceRow | None:
        return next((row for row in self.rows if row.model == model), None)


@dataclass(frozen=True)
class PublishedCell:
    """One published (PSNR, SSIM) of a registry model, with the source it comes from."""

    source: ModelSource
    row: SourceRow
    scale: int
    dataset: str
    cell: PrintedCell

    def exact(self, psnr: float, ssim: float) -> tuple[bool, bool]:
        """Whether measured values print as published, at the original publication's precision."""
        return self.cell.exact(psnr, ssim, decimals=self.row.original_decimals)


def _decimals(printed: str) -> int:
    return len(printed.split(".")[1]) if "." in printed else 0


def _prints_as(value: float, printed: str, decimals: int | None) -> bool:
    if decimals is None:
        return f"{value:.{_decimals(printed)}f}" == printed
    return f"{value:.{decimals}f}" == f"{float(printed):.{decimals}f}"


@functools.cache
def load_sources() -> dict[str, ModelSource]:
    sources: dict[str, ModelSource] = {}
    for file in SOURCE_FILES:
        raw = json.loads(resources.files("harness.published").joinpath(file).read_text(encoding="utf-8"))
        source = ModelSource.model_validate(raw)
        if source.key in sources:
            raise ValueError(f"{file}: source {source.key!r} is transcribed twice")
        sources[source.key] = source
    for source in sources.values():
        if source.corrects is not None and source.corrects not in sources:
            raise ValueError(f"source {source.key!r} corrects {source.corrects!r}, which is not transcribed")
    return sources


def published_cells(model: str) -> list[PublishedCell]:
    """Every published cell of `model`, from every source, in source order (a correction after what it corrects)."""
    cells = []
    for source in load_sources().values():
        row = source.row(model)
        if row is None:
            continue
        for scale, sets in sorted(row.cells.items()):
            cells.extend(PublishedCell(source, row, scale, dataset, cell) for dataset, cell in sets.items())
    return cells


def current_cell(model: str, scale: int, dataset: str) -> PublishedCell | None:
    """The cell that stands for `model` at (`scale`, `dataset`): a correction's where one corrects it."""
    cells = [cell for cell in published_cells(model) if cell.scale == scale and cell.dataset == dataset]
    corrected = {cell.source.corrects for cell in cells}
    standing = [cell for cell in cells if cell.source.key not in corrected]
    return standing[-1] if standing else None
