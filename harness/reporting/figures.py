"""The report's figures, drawn with matplotlib's Agg backend into PNG bytes.

Each function returns a `Figure`, or None when the records hold nothing to draw (the report then says so).
"""

import io
import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from PIL import Image  # noqa: E402

from harness.errors import UserError  # noqa: E402
from harness.evaluation.metrics import psnr_y, rgb_to_y  # noqa: E402
from harness.published.paper import UNITS, TableColumn, load_paper, table_title  # noqa: E402
from harness.records import TrialRecord, Visual, results_file  # noqa: E402
from harness.reporting.tables import ReproductionTable  # noqa: E402

plt.rcParams.update({
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.dpi": 110,
})
PAPER_STYLE = {"color": "0.45", "marker": "o", "label": "paper"}
REPRODUCED_STYLE = {"color": "tab:red", "marker": "s", "label": "reproduced"}
MAX_VISUAL_PANELS = 8


def _text(text: object) -> str:
    """A name from a record or the paper as plain text: a "$" must not start mathtext."""
    return str(text).replace("$", r"\$")


@dataclass(frozen=True)
class Figure:
    name: str  # file stem
    title: str
    caption: str
    png: bytes
    panels: tuple[str, ...] = ()  # the titles of its panels, where they name what is compared (visual comparison)


def _png(figure: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def table_figure(table: ReproductionTable) -> Figure | None:
    """The figure the transcription gives `table` (its `figure` entry), drawn as its kind is drawn: an ablation's
    PSNR against its rows, the other kinds' PSNR against what a method pays (`SIZE_COLUMN`). None where the table
    has no figure, or an ablation where no record feeds it."""
    if table.spec.figure is None:
        return None
    if table.spec.kind == "ablation":
        return ablation_curve(table)
    return tradeoff(table)


def _psnr_columns(table: ReproductionTable) -> list[TableColumn]:
    return [column for column in table.spec.columns if column.column == "psnr_y"]


def _row_positions(keys: list[str]) -> np.ndarray:
    """Where each row sits on the x axis: its number where every row is one (a swept count or weight), else its
    place in the table."""
    try:
        return np.array([float(key) for key in keys])
    except ValueError:
        return np.arange(len(keys), dtype=float)


def ablation_curve(table: ReproductionTable) -> Figure | None:
    """PSNR on the table's first PSNR column against the swept setting, one point per row: absolute on the left,
    relative to the full model on the right, where a training budget far below the paper's does not hide the shape.
    Rows a spec added (not in the paper) show their reproduced point only."""
    drawn = table.spec.figure
    column = _psnr_columns(table)[0]
    positions = _row_positions([str(row) for row in table.frame.index])
    order = np.argsort(positions, kind="stable")
    keys = [table.frame.index[index] for index in order]
    x = positions[order]
    psnr = table.frame.loc[keys, column.label]
    if psnr["reproduced"].isna().all():
        return None
    printed = psnr["paper"].notna().to_numpy()
    reproduced = psnr["reproduced"].notna().to_numpy()
    figure, (absolute, relative) = plt.subplots(1, 2, figsize=(9, 3.4))
    absolute.plot(x[printed], psnr["paper"][printed], **PAPER_STYLE)
    absolute.errorbar(x[reproduced], psnr["reproduced"][reproduced], yerr=psnr["std"][reproduced].fillna(0),
                      capsize=3, linestyle="--", **REPRODUCED_STYLE)
    absolute.set(xlabel=drawn.x_label, ylabel=f"{column.dataset} PSNR (dB)", title="PSNR")
    relative.axhline(0, color="0.8", linewidth=0.8)
    relative.plot(x[printed], psnr["paper_delta_ref"][printed], **PAPER_STYLE)
    relative.errorbar(x[reproduced], psnr["delta_ref"][reproduced], yerr=psnr["spread"][reproduced].fillna(0),
                      capsize=3, linestyle="--", **REPRODUCED_STYLE)
    relative.set(xlabel=drawn.x_label, ylabel=f"{column.dataset} PSNR − full model (dB)",
                 title=_text(f"Relative to the full model ({table.spec.reference_row})"))
    absolute.legend(frameon=False)
    for axis in (absolute, relative):
        axis.set_xticks(x)
        axis.set_xticklabels([_text(table.rows.loc[key, "label"]) for key in keys])
    added = [str(key) for key in keys if table.rows.loc[key, "status"] == "not in paper"]
    caption = ("Grey: the paper. Red: reproduced mean over seeds; error bars are the standard deviation over seeds "
               "(left) and the seed-to-seed spread of a difference (right)."
               + (f" Rows the paper lacks ({', '.join(added)}): reproduced only." if added else ""))
    return Figure(drawn.name, f"{drawn.title} ({table.spec.label})", caption, _png(figure))


def _pick_dataset(frame, rows, datasets: list[str]) -> str:
    counts = {dataset: int(frame.loc[rows, (f"PSNR({dataset})", "reproduced")].notna().sum()) for dataset in datasets}
    return max(datasets, key=lambda dataset: (counts[dataset], -datasets.index(dataset)))


# What a method pays, drawn against its PSNR, by the kind of table (the transcription's `kind`); how a caption names
# a point of which only that size was reproduced (a complexity-only trial).
SIZE_COLUMN = {"comparison": "params", "complexity": "macs"}
_SIZE_WORDS = {"params": "the parameter count", "macs": "the MACs (counted for the output size the records state)"}
_PREFIXES = {1e3: "K", 1e9: "G"}


def tradeoff(table: ReproductionTable) -> Figure:
    """The usual lightweight-SR scatter: PSNR against the table's size column, an arrow leading from a method's
    published point to its reproduced one. Rows repeated per scale: one panel per scale on the PSNR column the
    records fill most; otherwise one panel per PSNR column."""
    spec, frame, rows = table.spec, table.frame, table.rows
    size = next(column for column in spec.columns if column.column == SIZE_COLUMN[spec.kind])
    per_unit = UNITS[size.column]
    datasets = [column.dataset for column in _psnr_columns(table)]
    if spec.rows_by_scale:
        dataset = _pick_dataset(frame, list(frame.index), datasets)
        scales = sorted({scale for scale, _ in frame.index})
        panels = [(f"×{scale}", frame.loc[scale], rows.loc[scale, "label"], dataset) for scale in scales]
        title = f"{spec.figure.title} ({dataset}, {spec.label})"
    else:
        panels = [(dataset, frame, rows["label"], dataset) for dataset in datasets]
        title = f"{spec.figure.title} ({spec.label})"
    figure, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.2), squeeze=False)
    notes: list[str] = []
    for axis, (name, part, labels, dataset) in zip(axes[0], panels, strict=True):
        outside = _scatter(axis, part[size.label], part[f"PSNR({dataset})"], labels, scale_params=per_unit,
                           unit=_PREFIXES[per_unit])
        axis.set(title=name, xlabel=spec.figure.x_label, ylabel=f"{dataset} PSNR (dB)")
        notes += [f"{name} {point}" for point in outside]
    _figure_legend(figure)
    return Figure(spec.figure.name, title,
                  f"Grey dots: the paper's {spec.label}. Red squares: reproduced, with an arrow from the published "
                  f"point of the same method; hollow where only {_SIZE_WORDS[size.column]} was reproduced, placed at "
                  "the paper's PSNR. The axes zoom on the lightweight cluster"
                  + (f"; off the axes: {'; '.join(notes)}." if notes else "."), _png(figure),
                  tuple(name for name, *_ in panels))


def _outliers(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Points far from the lightweight cluster (Tukey's fences, 1.5 IQR, on each axis): SRCNN's PSNR far below, a
    model many times larger. They are left off the zoomed axes and named in a note instead."""
    far = np.zeros(len(x), dtype=bool)
    if len(x) < 5:  # too few points to call any of them an outlier
        return far
    for values in (x, y):
        low, high = np.percentile(values, [25, 75])
        spread = 1.5 * (high - low)
        far |= (values < low - spread) | (values > high + spread)
    return far


def _zoom(axis, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fit the axes to the points that are not outliers; returns which points lie outside."""
    far = _outliers(x, y)
    near_x, near_y = x[~far], y[~far]
    if len(near_x):
        pad_x = 0.08 * max(float(np.ptp(near_x)), 1e-9)
        pad_y = 0.1 * max(float(np.ptp(near_y)), 0.05)
        axis.set_xlim(float(near_x.min()) - pad_x, float(near_x.max()) + pad_x)
        axis.set_ylim(float(near_y.min()) - pad_y, float(near_y.max()) + pad_y)
    return far


# Label positions tried in turn, as (dx, dy) in points and the alignment that keeps the text off its point.
_LABEL_OFFSETS = ((4, 3, "left", "bottom"), (4, -3, "left", "top"), (-4, 3, "right", "bottom"),
                  (-4, -3, "right", "top"), (0, 6, "center", "bottom"), (0, -6, "center", "top"),
                  (8, 9, "left", "bottom"), (-8, -9, "right", "top"), (8, -9, "left", "top"),
                  (-8, 9, "right", "bottom"))


def _place_labels(axis, labels: list[tuple[float, float, str, dict]]) -> None:
    """Annotate each (x, y, text, style) at the first offset whose text box overlaps no label placed before it
    (nor leaves the axes); where every offset overlaps, the least overlapping one. Greedy repelling: no extra
    dependency, and labels stay beside their own point."""
    renderer = axis.figure.canvas.get_renderer()
    inside = axis.get_window_extent(renderer)
    placed: list = []
    for x, y, text, style in labels:
        best, best_cost = None, None
        for dx, dy, horizontal, vertical in _LABEL_OFFSETS:
            note = axis.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=horizontal,
                                 va=vertical, **style)
            box = note.get_window_extent(renderer)
            cost = sum(_overlap(box, other) for other in placed)
            cost += box.width * box.height - _overlap(box, inside)  # the part outside the axes
            if best_cost is None or cost < best_cost:
                if best is not None:
                    best.remove()
                best, best_cost, best_box = note, cost, box
            else:
                note.remove()
            if cost == 0:
                break
        placed.append(best_box)


def _overlap(first, second) -> float:
    width = min(first.x1, second.x1) - max(first.x0, second.x0)
    height = min(first.y1, second.y1) - max(first.y0, second.y0)
    return max(width, 0) * max(height, 0)


def _scatter(axis, x_fields, y_fields, labels, scale_params: float, unit: str) -> list[str]:
    """Paper points (grey) and reproduced ones (red, with an arrow from the published point), zoomed on the
    lightweight cluster. Returns the points left outside the axes, in words."""
    paper_x, paper_y = x_fields["paper"] / scale_params, y_fields["paper"]
    shown = paper_x.notna() & paper_y.notna()
    repro_x, measured_y = x_fields["reproduced"] / scale_params, y_fields["reproduced"]
    # a complexity-only trial has no PSNR: drawn hollow at the paper's PSNR, so its size or cost still shows
    repro_y = measured_y.fillna(paper_y)
    mine = repro_x.notna() & repro_y.notna()
    full = mine & measured_y.notna()
    points = [(float(paper_x[key]), float(paper_y[key]), _text(labels[key]), "paper") for key in paper_x[shown].index]
    points += [(float(repro_x[key]), float(repro_y[key]), _text(labels[key]), "reproduced")
               for key in repro_x[mine].index]
    if not points:
        return []
    far = _zoom(axis, np.array([point[0] for point in points]), np.array([point[1] for point in points]))
    axis.scatter(paper_x[shown], paper_y[shown], s=18, color="0.55", zorder=2, label="paper")
    if full.any():
        axis.scatter(repro_x[full], repro_y[full], s=30, marker="s", color="tab:red", zorder=3, label="reproduced")
    if (mine & ~full).any():
        axis.scatter(repro_x[mine & ~full], repro_y[mine & ~full], s=30, marker="s", facecolors="none",
                     edgecolors="tab:red", zorder=3, label="reproduced size/cost, paper's PSNR")
    for key in repro_x[mine].index:
        if shown.get(key, False):
            axis.annotate("", xy=(repro_x[key], repro_y[key]), xytext=(paper_x[key], paper_y[key]),
                          arrowprops={"arrowstyle": "->", "color": "tab:red", "alpha": 0.5, "linewidth": 0.8})
    styles = {"paper": {"fontsize": 6.5, "color": "0.3"}, "reproduced": {"fontsize": 7, "color": "tab:red"}}
    inside = [(x, y, text, styles[kind]) for (x, y, text, kind), out in zip(points, far, strict=True) if not out]
    # reproduced labels first: they are the fewer and the more important, so they get the free spots
    _place_labels(axis, sorted(inside, key=lambda label: label[3] is styles["paper"]))
    axis.grid(alpha=0.25)
    outside = [f"{text} ({'reproduced, ' if kind == 'reproduced' else ''}{x:g}{unit}, {y:.2f} dB)"
               for (x, y, text, kind), out in zip(points, far, strict=True) if out]
    if outside:  # under the panel, wrapped to its width
        axis.text(0.0, -0.17, textwrap.fill("Off the axes: " + "; ".join(outside), 78), transform=axis.transAxes,
                  fontsize=6.5, color="0.35", va="top")
    return outside


def _figure_legend(figure: plt.Figure) -> None:
    """One legend above the panels, with every kind of point any panel draws (panels do not repeat it)."""
    handles: dict[str, object] = {}
    for axis in figure.axes:
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    figure.legend(list(handles.values()), list(handles), loc="lower center", bbox_to_anchor=(0.5, 1.0),
                  ncol=len(handles), frameon=False, fontsize=8)


def curve_panels(records: list[TrialRecord]) -> dict[str, list[tuple[str, TrialRecord]]]:
    """Table name -> (line label, record) for every record feeding it, tables in the paper's order ("other" for
    records feeding none). The label is the row, with the scale where the table's rows repeat per scale."""
    tables = load_paper().tables
    panels: dict[str, list[tuple[str, TrialRecord]]] = {}
    for record in records:
        fed = [(feed.table, feed.row) for feed in record.feeds] or [("other", record.config.model)]
        for table, row in fed:
            label = f"{row} ×{record.config.scale}" if table in tables and tables[table].rows_by_scale else row
            panels.setdefault(table, []).append((label, record))
    order = [name for name in tables if name in panels] + sorted(name for name in panels if name not in tables)
    return {name: panels[name] for name in order}


def training_curves(records: list[TrialRecord]) -> Figure | None:
    """The loss curves, one panel per paper table with one labelled line per row (seeds as line styles): a trial
    feeding several tables (the full model of every ablation table) appears in each."""
    curves = [record for record in records if record.training and record.training.curve]
    if not curves:
        return None
    tables = load_paper().tables
    panels = curve_panels(curves)
    order = list(panels)
    columns = min(len(order), 2)
    rows = -(-len(order) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 3.2 * rows), squeeze=False)
    for axis in axes.flat[len(order):]:
        axis.set_visible(False)
    for axis, name in zip(axes.flat, order):
        lines = sorted(panels[name], key=lambda item: (item[0], item[1].config.seed))
        seeds = sorted({record.config.seed for _, record in lines})
        colors = {label: plt.get_cmap("tab10" if len({label for label, _ in lines}) <= 10 else "tab20")(index)
                  for index, label in enumerate(dict.fromkeys(label for label, _ in lines))}
        for label, record in lines:
            steps, losses = zip(*record.training.curve, strict=True)
            seed = record.config.seed
            text = label + (f", seed {seed}" if len(seeds) > 1 else "")
            axis.plot(steps, losses, linewidth=1, color=colors[label],
                      linestyle=("-", "--", ":", "-.")[seeds.index(seed) % 4], label=_text(text))
        title = f"{tables[name].label}: {tables[name].row_header}" if name in tables else "trials feeding no table"
        axis.set(title=_text(title), xlabel="iteration", ylabel="L1 loss", yscale="log")
        axis.grid(alpha=0.25, which="both")
        axis.legend(frameon=False, fontsize=6, ncol=2 if len(lines) > 6 else 1, loc="upper right")
    figure.tight_layout()
    return Figure("training_curves", "Training curves",
                  f"{len(curves)} trial{'s' * (len(curves) > 1)}, one panel per table they feed, one line per row "
                  "(line styles: seeds). The loss is the mean L1 loss since the previous point.", _png(figure))


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
            notes.append(f"{dataset} ×{scale}: no HR crops {first.hr_file}")
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
                notes.append(f"{record.trial_id}: missing or malformed {visual.file}")
                continue
            methods.append(_Method(_short_name(record), crops))
        if len(methods) > MAX_VISUAL_PANELS:
            notes.append(f"{dataset} ×{scale}: {len(methods) - MAX_VISUAL_PANELS} more methods not shown")
            methods = methods[:MAX_VISUAL_PANELS]
        index = _most_different(hr, methods)
        panels = []
        overview = _visual_file(results_dir, first_record, first.overview_file) if first.overview_file else None
        if overview is not None and first.image_size and overview.is_file():
            panels.append(_Panel(f"{image_name} (whole)", _load(overview),
                                 _scaled_box(windows[index], first.image_size, overview)))
        panels.append(_Panel("HR", hr[index]))
        if bicubic is not None:
            panels.append(_Panel(f"Bicubic\n{_crop_psnr(bicubic[index], hr[index])}", bicubic[index]))
        panels += [_Panel(f"{method.name}\n{_crop_psnr(method.crops[index], hr[index])}", method.crops[index])
                   for method in methods]
        figures.append(_visual_figure(dataset, scale, image_name, windows[index], panels,
                                      len(windows) > 1 and len(methods) > 1))
    return figures, notes


def _scaled_box(box: tuple[int, int, int, int], image_size: tuple[int, int], overview: Path) -> tuple:
    with Image.open(overview) as image:
        factor = image.height / image_size[0]
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
        axis.set_title(_text(panel.title), fontsize=8)
        if panel.box is not None:
            top, left, height, width = panel.box
            axis.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False, edgecolor="red",
                                     linewidth=2))
    top, left, height, width = box
    how = ("the candidate window where the methods' errors differ most (largest variance across methods of SR − HR)"
           if picked else "the window of largest HR variance")
    return Figure(f"visual_{dataset}_x{scale}", f"Visual comparison: {dataset} {image_name}, ×{scale}",
                  f"Crop of {height}×{width} HR pixels at ({top}, {left}), boxed in red on the whole image: {how}. "
                  "Enlarged without smoothing; each title gives the PSNR (Y) of the crop shown.", _png(figure),
                  tuple(panel.title for panel in panels))


def _compares(table: str) -> bool:
    """Whether `table` is one comparing methods: its trials make the visual comparison."""
    tables = load_paper().tables
    return table in tables and tables[table].kind == "comparison"


def _load(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Files may hold the crop itself or the whole image; crop the latter."""
    top, left, height, width = box
    if image.shape[0] > height or image.shape[1] > width:
        return image[top:top + height, left:left + width]
    return image
