"""The report's figures, drawn with matplotlib's Agg backend into PNG bytes (the visual comparison of crops is in
harness/reporting/visual_comparison.py).

Each function returns a `Figure`, or None when the records hold nothing to draw (the report then says so).
"""

import io
import textwrap
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from harness.published.paper import UNITS, TableColumn, load_paper  # noqa: E402
from harness.records import TrialRecord  # noqa: E402
from harness.reporting.tables import ReproductionTable  # noqa: E402

plt.rcParams.update({
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.dpi": 110,
})
PAPER_STYLE = {"color": "0.45", "marker": "o", "label": "paper"}
REPRODUCED_STYLE = {"color": "tab:red", "marker": "s", "label": "reproduced"}


def plain_text(text: object) -> str:
    """A name from a record or the paper as plain text: a "$" must not start mathtext."""
    return str(text).replace("$", r"\$")


@dataclass(frozen=True)
class Figure:
    name: str  # file stem
    title: str
    caption: str
    png: bytes
    panels: tuple[str, ...] = ()  # the titles of its panels, where they name what is compared (visual comparison)


def figure_png(figure: plt.Figure) -> bytes:
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
                 title=plain_text(f"Relative to the full model ({table.spec.reference_row})"))
    absolute.legend(frameon=False)
    for axis in (absolute, relative):
        axis.set_xticks(x)
        axis.set_xticklabels([plain_text(table.rows.loc[key, "label"]) for key in keys])
    added = [str(key) for key in keys if table.rows.loc[key, "status"] == "not in paper"]
    caption = ("Grey: the paper. Red: reproduced mean over seeds; error bars are the standard deviation over seeds "
               "(left) and the seed-to-seed spread of a difference (right)."
               + (f" Rows the paper lacks ({', '.join(added)}): reproduced only." if added else ""))
    return Figure(drawn.name, f"{drawn.title} ({table.spec.label})", caption, figure_png(figure))


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
                  + (f"; off the axes: {'; '.join(notes)}." if notes else "."), figure_png(figure),
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
    points = [(float(paper_x[key]), float(paper_y[key]), plain_text(labels[key]), "paper") for key in paper_x[shown].index]
    points += [(float(repro_x[key]), float(repro_y[key]), plain_text(labels[key]), "reproduced")
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
                      linestyle=("-", "--", ":", "-.")[seeds.index(seed) % 4], label=plain_text(text))
        title = f"{tables[name].label}: {tables[name].row_header}" if name in tables else "trials feeding no table"
        axis.set(title=plain_text(title), xlabel="iteration", ylabel="L1 loss", yscale="log")
        axis.grid(alpha=0.25, which="both")
        axis.legend(frameon=False, fontsize=6, ncol=2 if len(lines) > 6 else 1, loc="upper right")
    figure.tight_layout()
    return Figure("training_curves", "Training curves",
                  f"{len(curves)} trial{'s' * (len(curves) > 1)}, one panel per table they feed, one line per row "
                  "(line styles: seeds). The loss is the mean L1 loss since the previous point.", figure_png(figure))
