"""Synthetic results folders for the tests of tables, reports, export, check and runs: records valid under
harness/records.py and named by their real trial ids."""

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from harness import records
from harness.experiment.environment import environment
from harness.experiment.spec import load_spec
from harness.experiment.trial import RunSettings, resolve_trials
from harness.experiment.trial_records import build_record

CONVENTIONS = {
    "y_channel": "BT.601 as MATLAB rgb2ycbcr, Y = 16 + (65.481 R + 128.553 G + 24.966 B)/255, not rounded",
    "crop_border": 4,
    "sr_quantization": "clamp to [0,1], x255, round half to even, uint8",
    "psnr_peak": 255,
    "ssim": "Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, valid region",
    "hr_crop": "to a multiple of the scale",
    "lr_source": "MATLAB-exact bicubic imresize of the HR",
    "grayscale": "replicated to three channels",
    "dataset_mean": "mean over images",
}


IDS: dict[str, str] = {}  # handle given to write_record -> the trial id its config hashes to


def tid(handle: str) -> str:
    """The trial id of the record written under `handle`."""
    return IDS[handle]


def write_record(results: Path, handle: str, *, model: str = "mren", scale: int = 4, seed: int = 0,
                 feeds: list[tuple[str, str]] = (), metrics: dict[str, tuple[float, float]] | None = None,
                 params: int | None = 298000, macs: int | None = 23_800_000_000, model_config: dict | None = None,
                 profile: str | None = "smoke", weights: str | None = None, iterations: int = 60,
                 visuals: dict | None = None, mode: str | None = None,
                 protocols: dict[str, dict[str, tuple[float, float]]] | None = None) -> dict:
    """A synthetic record, valid under harness/records.py and named by its real trial id; `handle` finds it again
    (tid). Handles of one test must name different configs. `protocols`: set -> protocol -> (PSNR, SSIM) scored
    besides `common`."""
    metrics = {"Set5": (32.0, 0.89)} if metrics is None else metrics
    mode = mode or ("evaluate" if weights else "train")
    trains = mode == "train"
    config = {"model": model, "model_config": {"scale": scale, **(model_config or {})}, "scale": scale,
              "mode": mode, "profile": profile if trains else None,
              "train": {"iterations": iterations} if trains else None,
              "weights": weights, "eval_sets": list(metrics), "seed": seed, "input_digests": {}}
    trial_id = records.trial_id(config)
    IDS[handle] = trial_id
    record = {
        "schema_version": 1,
        "trial_id": trial_id,
        "status": "done",
        "config": config,
        "feeds": [{"table": table, "row": row} for table, row in feeds],
        "metrics": {name: {"dataset": name, "scale": scale, "protocol": "common", "psnr_y": psnr, "ssim_y": ssim,
                           "images": [{"name": "baby", "psnr_y": psnr, "ssim_y": ssim}],
                           "conventions": {**CONVENTIONS, "crop_border": scale},
                           **({"protocols": {protocol: {"dataset": name, "scale": scale, "protocol": protocol,
                                                        "psnr_y": p, "ssim_y": s,
                                                        "images": [{"name": "baby", "psnr_y": p, "ssim_y": s}],
                                                        "conventions": {}}
                                             for protocol, (p, s) in protocols[name].items()}}
                              if protocols and name in protocols else {})}
                    for name, (psnr, ssim) in metrics.items()},
        "params": params,
        "macs": macs,
        "macs_input": {"hr_height": 720, "hr_width": 1280, "lr_height": 720 // scale, "lr_width": 1280 // scale},
        "macs_unsupported": {"aten::mul": 36},
        "training": None if not trains else {
            "iterations": iterations, "seconds": 12.3, "resumed_from_iteration": None,
            "curve": [[step, 0.1 * math.exp(-step / 40) + 0.02 * seed] for step in range(10, iterations + 1, 10)]},
        "visuals": visuals or {},
        "seconds": 20.5,
        "environment": {"device": "cpu", "device_name": "Test CPU", "torch_threads": 1, "cpu_capability": "AVX512",
                        "kernel_overrides": {}, "cuda": None, "python": "3.11.7", "platform": "Linux",
                        "hostname": "test", "libraries": {"torch": "2.13.0", "numpy": "2.4.6"}, "torch": "2.13.0",
                        "git_commit": "abc1234", "git_dirty": False},
        "finished_at": f"2026-11-25T18:00:{seed:02d}+00:00",
    }
    records.write_record(results, records.TrialRecord.model_validate(record))
    return record


IMDN_X4 = {"Set5": (32.21, 0.8948), "Set14": (28.58, 0.7811), "B100": (27.56, 0.7353), "Urban100": (26.04, 0.7838)}


VISUAL_BOX = [8, 12, 24, 32]  # top, left, height, width


def write_visual(results: Path, name: str, shade: int, whole: bool = False) -> None:
    """A small test image: the crop itself, or (whole=True) a larger image the crop must be cut from."""
    height, width = (64, 80) if whole else VISUAL_BOX[2:]
    rows, columns = np.mgrid[0:height, 0:width]
    pixels = np.stack([(rows * 4 + shade) % 256, (columns * 3) % 256, np.full_like(rows, shade)], axis=-1)
    path = results / "visuals" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path)


def visuals_of(results: Path, trial_id: str, shade: int) -> dict:
    write_visual(results, f"{trial_id}_Set5", shade, whole=shade % 2 == 1)
    return {"Set5": {"image": "baby", "box": VISUAL_BOX, "file": f"visuals/{trial_id}_Set5.png",
                     "hr_file": "visuals/hr_Set5_baby.png"}}


def write_results(results: Path) -> Path:
    """A small results folder: Table 1 rows 3 and 6 with two seeds each, a Table 3 ablation, published IMDN weights
    at ×4 (the published numbers, so the difference is 0.00), MREN at ×2 for Table 5 and a complexity-only MREN ×2
    for Table 6, MREN at ×4 for Table 5, a bicubic row the paper lacks, and visuals for Set5 at ×4."""
    write_visual(results, "hr_Set5_baby", 200)
    for seed, (ref, few) in enumerate([(32.10, 31.90), (32.14, 31.94)]):
        write_record(results, f"full{seed}", seed=seed, feeds=[("table1", "6"), ("table2", "0.2"), ("table3", "SCACB"),
                                                               ("table4", "DRACB")],
                     metrics={"Set5": (ref, 0.8930 + seed * 1e-4)}, model_config={"n_mreb": 6})
        write_record(results, f"three{seed}", seed=seed, feeds=[("table1", "3")],
                     metrics={"Set5": (few, 0.8900 + seed * 1e-4)}, params=196_000, model_config={"n_mreb": 3})
    write_record(results, "osa0", feeds=[("table3", "OSA")], metrics={"Set5": (32.05, 0.8925)}, params=245_000,
                 model_config={"scacb": "spatial_only"})
    write_record(results, "imdn4", model="imdn", weights="imdn_x4.pth", feeds=[("table5", "IMDN")], metrics=IMDN_X4,
                 params=715_000, macs=40_900_000_000, visuals=visuals_of(results, "imdn4", 120))
    write_record(results, "mren4", feeds=[("table5", "MREN")], profile="full", iterations=200,
                 metrics={name: (psnr - 0.1, ssim - 0.002) for name, (psnr, ssim) in IMDN_X4.items()},
                 visuals=visuals_of(results, "mren4", 161))
    write_record(results, "mren2", scale=2, feeds=[("table5", "MREN")],
                 metrics={"Set14": (33.50, 0.9170), "Urban100": (31.80, 0.9240)}, params=274_000,
                 macs=60_000_000_000)
    write_record(results, "mren2macs", scale=2, mode="complexity", feeds=[("table6", "MREN")], metrics={},
                 params=274_000, macs=60_000_000_000)
    write_record(results, "bicubic4", model="bicubic", weights="none", feeds=[("table5", "Bicubic")],
                 metrics={"Set5": (28.42, 0.8104)}, params=0, macs=0, visuals=visuals_of(results, "bicubic4", 40))
    return results


def fake_records(results: Path, spec: Path) -> list:
    """Records for every trial of `spec`, as if they had run (smoke profile, no data root)."""
    trials = resolve_trials(load_spec(spec), RunSettings("smoke", results))
    for trial in trials:
        records.write_record(results, build_record(
            trial, metrics={}, params=0, macs=0, macs_input={}, macs_unsupported={}, training=None, visuals={},
            environment=environment(torch.device("cpu")), seconds=0.0))
    return trials
