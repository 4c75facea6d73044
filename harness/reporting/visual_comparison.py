"""The report's visual comparison: the same HR window of one image, cropped from each compared method's SR, beside
the HR, the bicubic upscaling and an overview of where the window lies (harness/evaluation/visuals.py stores the
crops with each record). Of the candidate windows, the one where the methods' errors differ most is shown."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.patches import Rectangle
from PIL import Image, UnidentifiedImageError

from harness.errors import UserError
from harness.evaluation.metrics import psnr_y, rgb_to_y
from harness.published.paper import load_paper, table_title
from harness.records import TrialRecord, Visual, results_file
from harness.reporting.figures import Figure, figure_png, plain_text, plt

MAX_VISUAL_PANELS = 8


@dataclass(frozen=True)
class _Panel:
    title: str
    image: np.ndarray
    box: tuple[int, int, int, int] | None = None  # drawn on the image (the overview): top, left, height, width


@dataclass(frozen=True)
class _Method:
    """One method's crops in a visual comparison."""
    name: str
    crops: list[np.ndarray]  # one per candidate window


def _model_order(record: TrialRecord) -> tuple:
    model = record.config.model.lower()
    return model != "bicubic", model.startswith("mren"), model, record.config.seed, record.trial_id


def _visual_file(results_dir: Path, record: TrialRecord, name: str) -> Path:
    """A crop a record names, refused (one line naming the record) when it or a link on its way leads out of the
    results folder: the report embeds no other file."""
    try:
        return results_file(results_dir, name)
    except UserError as error:
        raise UserError(f"trial record {record.path or record.trial_id}: {error}") from None


def _short_name(record: TrialRecord) -> str:
    """A column title: the row of the comparison table the trial feeds ("IMDN", "SRCNN (retrained)"), else the model
    and the first row it feeds."""
    tables = load_paper().tables
    rows = [feed.row for feed in record.feeds if feed.table in tables and tables[feed.table].kind == "comparison"]
    if rows:
        return rows[0]
    if record.feeds:
        return f"{record.config.model} ({table_title(record.feeds[0].table)} {record.feeds[0].row})"
    return record.config.model


def _windows(visual: Visual) -> tuple[tuple[int, int, int, int], ...]:
    return tuple(tuple(box) for box in visual.candidates) or (tuple(visual.box),)


def _crops(path: Path, windows: tuple[tuple[int, int, int, int], ...]) -> list[np.ndarray] | None:
    """The crops a visual file holds for `windows`: stacked top to bottom (records with candidates), or one crop
    (older records: the crop itself, or the whole image to cut it from)."""
    if not path.is_file():
        return None
    image = _load(path)
    if image is None:
        return None
    if len(windows) == 1:
        return [_crop(image, windows[0])]
    heights = [height for _, _, height, _ in windows]
    if image.shape[0] != sum(heights):
        return None
    return np.split(image, np.cumsum(heights)[:-1], axis=0)


def _most_different(hr: list[np.ndarray], methods: list[_Method]) -> int:
    """The candidate window where the methods differ most: the largest mean over pixels of the variance across
    methods of the signed Y error (SR - HR). A flat region, where every method is right, scores near zero."""
    if len(methods) < 2:
        return 0
    scores = []
    for index, reference in enumerate(hr):
        errors = np.stack([rgb_to_y(method.crops[index]) - rgb_to_y(reference) for method in methods])
        scores.append(float(errors.var(axis=0).mean()))
    return int(np.argmax(scores))


def _crop_psnr(crop: np.ndarray, hr: np.ndarray) -> str:
    value = psnr_y(crop, hr, crop_border=0)
    return "∞ dB" if not np.isfinite(value) else f"{value:.2f} dB"


def visual_comparisons(results_dir: Path, records: list[TrialRecord]) -> tuple[list[Figure], list[str]]:
    """Figure 5 of the paper: per benchmark set and scale, the whole image with the chosen crop boxed, then the crop
    of the HR, of bicubic upscaling and of each method, each titled with its name and the crop's PSNR. The crop is
    the candidate window (stored by every trial, harness/evaluation/visuals.py) where the methods differ most.
    Returns the figures and notes on what was missing."""
    notes: list[str] = []
    by_view: dict[tuple, list[tuple[TrialRecord, Visual]]] = {}
    for record in records:
        for dataset, visual in record.visuals.items():
            for name in (visual.file, visual.hr_file, visual.bicubic_file, visual.overview_file):
                if name is not None:
                    _visual_file(results_dir, record, name)  # whether drawn or not: a record leading out is refused
            by_view.setdefault((dataset, record.config.scale, visual.image, _windows(visual)), []).append(
                (record, visual))
    chosen: dict[tuple, tuple] = {}
    for view, members in by_view.items():  # per set and scale, the image and windows most trials show
        key = view[:2]
        if key not in chosen or len(members) > len(by_view[chosen[key]]):
            chosen[key] = view
    figures = []
    for (dataset, scale), view in sorted(chosen.items()):
        _, _, image_name, windows = view
        members = sorted(by_view[view], key=lambda item: _model_order(item[0]))
        comparisons = [item for item in members if any(_compares(feed.table) for feed in item[0].feeds)] or members
        first_record, first = members[0]
        hr = _crops(_visual_file(results_dir, first_record, first.hr_file), windows)
        if hr is None:
            notes.append(f"{dataset} ×{scale}: no HR crops: {first.hr_file} is missing, cannot be decoded as an "
                         "image, or does not hold the record's crops")
            continue
        bicubic = (_crops(_visual_file(results_dir, first_record, first.bicubic_file), windows)
                   if first.bicubic_file else None)
        methods: list[_Method] = []
        seen_groups = set()
        for record, visual in comparisons:
            if record.group_key in seen_groups or (bicubic is not None and record.config.model == "bicubic"):
                continue  # seeds of one experiment look alike; bicubic has its own column
            seen_groups.add(record.group_key)
            crops = _crops(_visual_file(results_dir, record, visual.file), windows)
            if crops is None:
                notes.append(f"{record.trial_id}: {visual.file} is missing, cannot be decoded as an image, or does "
                             "not hold the record's crops; not shown")
                continue
            methods.append(_Method(_short_name(record), crops))
        if len(methods) > MAX_VISUAL_PANELS:
            notes.append(f"{dataset} ×{scale}: {len(methods) - MAX_VISUAL_PANELS} more methods not shown")
            methods = methods[:MAX_VISUAL_PANELS]
        index = _most_different(hr, methods)
        panels = []
        overview = _visual_file(results_dir, first_record, first.overview_file) if first.overview_file else None
        whole = _load(overview) if overview is not None and first.image_size and overview.is_file() else None
        if whole is not None:
            panels.append(_Panel(f"{image_name} (whole)", whole, _scaled_box(windows[index], first.image_size, whole)))
        elif overview is not None and overview.is_file():
            notes.append(f"{dataset} ×{scale}: {first.overview_file} cannot be decoded as an image; the whole image "
                         "is not shown")
        panels.append(_Panel("HR", hr[index]))
        if bicubic is not None:
            panels.append(_Panel(f"Bicubic\n{_crop_psnr(bicubic[index], hr[index])}", bicubic[index]))
        panels += [_Panel(f"{method.name}\n{_crop_psnr(method.crops[index], hr[index])}", method.crops[index])
                   for method in methods]
        figures.append(_visual_figure(dataset, scale, image_name, windows[index], panels,
                                      len(windows) > 1 and len(methods) > 1))
    return figures, notes


def _scaled_box(box: tuple[int, int, int, int], image_size: tuple[int, int], overview: np.ndarray) -> tuple:
    factor = overview.shape[0] / image_size[0]
    return tuple(value * factor for value in box)


def _visual_figure(dataset: str, scale: int, image_name: str, box: tuple[int, int, int, int], panels: list[_Panel],
                   picked: bool) -> Figure:
    columns = min(len(panels), 6)
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(1.9 * columns, 2.25 * rows), squeeze=False)
    for axis in axes.flat:
        axis.set_axis_off()
    for axis, panel in zip(axes.flat, panels):
        axis.imshow(panel.image, interpolation="nearest")
        axis.set_title(plain_text(panel.title), fontsize=8)
        if panel.box is not None:
            top, left, height, width = panel.box
            axis.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False, edgecolor="red",
                                     linewidth=2))
    top, left, height, width = box
    how = ("the candidate window where the methods' errors differ most (largest variance across methods of SR − HR)"
           if picked else "the window of largest HR variance")
    return Figure(f"visual_{dataset}_x{scale}", f"Visual comparison: {dataset} {image_name}, ×{scale}",
                  f"Crop of {height}×{width} HR pixels at ({top}, {left}), boxed in red on the whole image: {how}. "
                  "Enlarged without smoothing; each title gives the PSNR (Y) of the crop shown.", figure_png(figure),
                  tuple(panel.title for panel in panels))


def _compares(table: str) -> bool:
    """Whether `table` is one comparing methods: its trials make the visual comparison."""
    tables = load_paper().tables
    return table in tables and tables[table].kind == "comparison"


def _load(path: Path) -> np.ndarray | None:
    """The image at `path` as RGB; None where it cannot be decoded (a damaged crop costs its panel, with a note)."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except OSError as error:
        if error.errno is not None:  # the file system's error (permission denied): one line, harness/cli.py
            raise
        return None  # the decoder's (a truncated or damaged file)
    except (UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def _crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Files may hold the crop itself or the whole image; crop the latter."""
    top, left, height, width = box
    if image.shape[0] > height or image.shape[1] > width:
        return image[top:top + height, left:left + width]
    return image
