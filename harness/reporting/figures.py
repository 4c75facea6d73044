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
from PIL import Image  # noqa: E402

from harness.errors import UserError  # noqa: E402
from harness.records import TrialRecord, Visual, results_file  # noqa: E402
from harness.reporting.paper import load_paper  # noqa: E402
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


def _png(figure: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def ablation_curve(table: ReproductionTable, name: str, title: str, x_label: str) -> Figure | None:
    """Set5 PSNR against the swept setting (Table 1: MREBs, Table 2: communication weight): absolute on the left,
    relative to the full model on the right, where a training budget far below the paper's does not hide the shape."""
    paper_rows = [row for row in table.frame.index if table.rows.loc[row, "status"] != "not in paper"]
    x = np.array([float(row) for row in paper_rows])
    psnr = table.frame.loc[paper_rows, "PSNR(Set5)"]
    if psnr["reproduced"].isna().all():
        return None
    figure, (absolute, relative) = plt.subplots(1, 2, figsize=(9, 3.4))
    absolute.plot(x, psnr["paper"], **PAPER_STYLE)
    reproduced = psnr["reproduced"].notna().to_numpy()
    absolute.errorbar(x[reproduced], psnr["reproduced"][reproduced], yerr=psnr["std"][reproduced].fillna(0),
                      capsize=3, linestyle="--", **REPRODUCED_STYLE)
    absolute.set(xlabel=x_label, ylabel="Set5 PSNR (dB)", title="PSNR")
    relative.axhline(0, color="0.8", linewidth=0.8)
    relative.plot(x, psnr["paper_delta_ref"], **PAPER_STYLE)
    relative.errorbar(x[reproduced], psnr["delta_ref"][reproduced], yerr=psnr["spread"][reproduced].fillna(0),
                      capsize=3, linestyle="--", **REPRODUCED_STYLE)
    relative.set(xlabel=x_label, ylabel="Set5 PSNR − full model (dB)",
                 title=_text(f"Relative to the full model ({table.spec.reference_row})"))
    absolute.legend(frameon=False)
    for axis in (absolute, relative):
        axis.set_xticks(x)
        axis.set_xticklabels([_text(table.rows.loc[row, "label"]) for row in paper_rows])
    caption = ("Grey: the paper. Red: reproduced mean over seeds; error bars are the standard deviation over seeds "
               "(left) and the seed-to-seed spread of a difference (right).")
    return Figure(name, title, caption, _png(figure))


def _pick_dataset(frame, rows, datasets: list[str]) -> str:
    counts = {dataset: int(frame.loc[rows, (f"PSNR({dataset})", "reproduced")].notna().sum()) for dataset in datasets}
    return max(datasets, key=lambda dataset: (counts[dataset], -datasets.index(dataset)))


def tradeoff_params(table5: ReproductionTable) -> Figure:
    """The usual lightweight-SR scatter: PSNR against parameters, one panel per scale; an arrow leads from a method's
    published point to its reproduced one."""
    frame, rows = table5.frame, table5.rows
    scales = sorted({scale for scale, _ in frame.index})
    dataset = _pick_dataset(frame, list(frame.index), ["Set5", "Set14", "B100", "Urban100"])
    figure, axes = plt.subplots(1, len(scales), figsize=(4.2 * len(scales), 3.8), squeeze=False)
    column = f"PSNR({dataset})"
    for axis, scale in zip(axes[0], scales, strict=True):
        part = frame.loc[scale]
        _scatter(axis, part["parameters"], part[column], rows.loc[scale, "label"], scale_params=1000)
        axis.set(title=f"×{scale}", xlabel=table5.spec.figure.x_label, ylabel=f"{dataset} PSNR (dB)")
    drawn = table5.spec.figure
    return Figure(drawn.name, f"{drawn.title} ({dataset}, {table5.spec.label})",
                  "Grey dots: the paper's Table 5. Red squares: reproduced, with an arrow from the published point "
                  "of the same method; hollow where only the parameter count was reproduced.", _png(figure))


def tradeoff_macs(table6: ReproductionTable) -> Figure:
    frame, rows = table6.frame, table6.rows
    datasets = ["Set14", "Urban100"]
    figure, axes = plt.subplots(1, 2, figsize=(8.6, 3.8), squeeze=False)
    for axis, dataset in zip(axes[0], datasets, strict=True):
        _scatter(axis, frame["Flops"], frame[f"PSNR({dataset})"], rows["label"], scale_params=1e9)
        axis.set(title=dataset, xlabel=table6.spec.figure.x_label, ylabel=f"{dataset} PSNR (dB)")
    return Figure(table6.spec.figure.name, f"{table6.spec.figure.title} ({table6.spec.label})",
                  "Grey dots: the paper's Table 6. Red squares: reproduced, with an arrow from the published point; "
                  "hollow where only MACs were reproduced (complexity-only trials), placed at the paper's PSNR. "
                  "MACs are counted for the output size the records state.", _png(figure))


def _scatter(axis, x_fields, y_fields, labels, scale_params: float) -> None:
    paper_x, paper_y = x_fields["paper"] / scale_params, y_fields["paper"]
    shown = paper_x.notna() & paper_y.notna()
    axis.scatter(paper_x[shown], paper_y[shown], s=18, color="0.55", zorder=2, label="paper")
    for key in paper_x[shown].index:
        axis.annotate(_text(labels[key]), (paper_x[key], paper_y[key]), fontsize=6.5, color="0.35",
                      xytext=(3, 2), textcoords="offset points")
    repro_x, measured_y = x_fields["reproduced"] / scale_params, y_fields["reproduced"]
    # a complexity-only trial has no PSNR: drawn hollow at the paper's PSNR, so its size or cost still shows
    repro_y = measured_y.fillna(paper_y)
    mine = repro_x.notna() & repro_y.notna()
    full = mine & measured_y.notna()
    if full.any():
        axis.scatter(repro_x[full], repro_y[full], s=30, marker="s", color="tab:red", zorder=3, label="reproduced")
    if (mine & ~full).any():
        axis.scatter(repro_x[mine & ~full], repro_y[mine & ~full], s=30, marker="s", facecolors="none",
                     edgecolors="tab:red", zorder=3, label="reproduced size/cost, paper's PSNR")
    for key in repro_x[mine].index:
        axis.annotate(_text(labels[key]), (repro_x[key], repro_y[key]), fontsize=7, color="tab:red",
                      xytext=(3, -9), textcoords="offset points")
        if shown.get(key, False):
            axis.annotate("", xy=(repro_x[key], repro_y[key]), xytext=(paper_x[key], paper_y[key]),
                          arrowprops={"arrowstyle": "->", "color": "tab:red", "alpha": 0.5, "linewidth": 0.8})
    axis.grid(alpha=0.25)
    axis.legend(frameon=False, fontsize=7, loc="best")


def training_curves(records: list[TrialRecord]) -> Figure | None:
    curves = [(record, record.training.curve) for record in records if record.training and record.training.curve]
    if not curves:
        return None
    figure, axis = plt.subplots(figsize=(8.6, 3.8))
    for record, curve in curves:
        steps, losses = zip(*curve, strict=True)
        axis.plot(steps, losses, linewidth=1, label=_text(record.label) if len(curves) <= 12 else None)
    axis.set(xlabel="iteration", ylabel="L1 loss (mean since the previous point)", yscale="log")
    axis.grid(alpha=0.25, which="both")
    if len(curves) <= 12:
        axis.legend(frameon=False, fontsize=6.5, loc="upper left", bbox_to_anchor=(1.01, 1))
    return Figure("training_curves", "Training curves",
                  f"{len(curves)} trial{'s' * (len(curves) > 1)}" + ("" if len(curves) <= 12 else
                                                                      " (too many for a legend)") + ".",
                  _png(figure))


@dataclass(frozen=True)
class _Panel:
    title: str
    image: np.ndarray


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


def visual_comparisons(results_dir: Path, records: list[TrialRecord]) -> tuple[list[Figure], list[str]]:
    """Figure 5 of the paper: one zoomed crop across methods, per benchmark set and scale. Returns the figures and
    notes on what was missing."""
    notes = []
    by_view: dict[tuple, list[tuple[TrialRecord, Visual]]] = {}
    for record in records:
        for dataset, visual in record.visuals.items():
            by_view.setdefault((dataset, record.config.scale, visual.image, tuple(visual.box)), []).append(
                (record, visual))
    chosen: dict[tuple, tuple] = {}
    for view, members in by_view.items():  # per set and scale, the image and box most trials show
        key = view[:2]
        if key not in chosen or len(members) > len(by_view[chosen[key]]):
            chosen[key] = view
    figures = []
    for (dataset, scale), view in sorted(chosen.items()):
        _, _, image_name, box = view
        members = sorted(by_view[view], key=lambda item: _model_order(item[0]))
        comparisons = [item for item in members if any(_compares(feed.table) for feed in item[0].feeds)] or members
        panels = []
        hr_owners = [(record, visual.hr_file) for record, visual in members if visual.hr_file]
        hr_name = hr_owners[0][1] if hr_owners else f"visuals/hr_{dataset}_{image_name}.png"
        hr_path = _visual_file(results_dir, hr_owners[0][0] if hr_owners else members[0][0], hr_name)
        if hr_path.is_file():
            panels.append(_Panel("HR", _crop(_load(hr_path), box)))
        else:
            notes.append(f"no HR crop {hr_name}")
        seen_groups = set()
        for record, visual in comparisons:
            if record.group_key in seen_groups:
                continue
            seen_groups.add(record.group_key)
            path = _visual_file(results_dir, record, visual.file)
            if not path.is_file():
                notes.append(f"{record.trial_id}: missing {visual.file}")
                continue
            panels.append(_Panel(_panel_title(record, dataset, image_name), _crop(_load(path), box)))
        if len(panels) > MAX_VISUAL_PANELS:
            notes.append(f"{dataset} ×{scale}: {len(panels) - MAX_VISUAL_PANELS} more crops not shown")
            panels = panels[:MAX_VISUAL_PANELS]
        if not panels:
            continue
        figure, axes = plt.subplots(1, len(panels), figsize=(2.1 * len(panels), 2.5), squeeze=False)
        for axis, panel in zip(axes[0], panels, strict=True):
            axis.imshow(panel.image, interpolation="nearest")
            axis.set_title(_text(panel.title), fontsize=7.5)
            axis.set_xticks([])
            axis.set_yticks([])
        top, left, height, width = box
        figures.append(Figure(f"visual_{dataset}_x{scale}", f"Visual comparison: {dataset} {image_name}, ×{scale}",
                              f"Crop of {height}×{width} HR pixels at ({top}, {left}), enlarged without smoothing.",
                              _png(figure)))
    return figures, notes


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


def _panel_title(record: TrialRecord, dataset: str, image_name: str) -> str:
    rows = sorted({feed.row for feed in record.feeds})
    title = record.config.model + (f"\n{textwrap.shorten(', '.join(rows), 34)}" if rows else "")
    if dataset in record.metrics:
        scores = [image for image in record.metrics[dataset].images if image.name == image_name]
        if scores:
            title += f"\n{scores[0].psnr_y:.2f} dB / {scores[0].ssim_y:.4f}"
    return title
