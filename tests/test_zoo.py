"""Released models beyond Table 5 (issue 20): LatticeNet, PAN and CARN-M. Their files load completely and hold
exactly the parameters the registry states; the wrong file is one line and exit 2; the authors' protocols do what
their code does; PAN's Set5 reproduces its authors' logs per image; LatticeNet's and CARN-M's Set5 values are pinned
against their published numbers (harness/published/model_sources.py), exact or by the measured gap."""

import dataclasses
import re

import numpy as np
import pytest
import torch
from torch import nn

from baselines.carn import CARN_M_DEPLOYED_PARAMS, carn_m_config, build_carn
from harness import registry
from harness.data.benchmark import open_benchmark
from harness.errors import UserError
from harness.evaluation import protocols
from harness.evaluation.evaluate import evaluate
from harness.evaluation.metrics import psnr_y, ssim_y
from harness.evaluation.protocols.basicsr import tensor2img
from harness.evaluation.protocols.carn import truncate_to_uint8
from harness.evaluation.protocols.edsr_style import edsr_psnr
from harness.evaluation.weights import load_weights
from harness.published.model_sources import current_cell, load_sources, published_cells
from harness.weight_readers import load_state_dict_file
from model_checks import assert_wrong_weights_refused

ZOO = ("latticenet", "pan", "carn_m")


def _released(shared_dir, name: str, scale: int):
    return shared_dir / "weights" / registry.entry(name).released.file_for(scale)


def _loaded(shared_dir, name: str, scale: int) -> nn.Module:
    model = registry.build_model(name, registry.make_config(name, scale))
    load_weights(model, _released(shared_dir, name, scale), model_name=name, scale=scale)
    return model


# --- registry, files, parameter counts -------------------------------------------------------------------------

def test_registry_entries_name_files_formats_and_protocols() -> None:
    expected = {"latticenet": ("LatticeNet_x{scale}.pt", "pth", ("common", "edsr-test", "edsr-test+x8")),
                "pan": ("PANx{scale}_DF2K.pth", "pth-scale-in-name", ("common", "basicsr-test")),
                "carn_m": ("carn_m.pth", "carn-pth", ("common", "carn-sample"))}
    for name, (file, format, names) in expected.items():
        entry = registry.entry(name)
        assert (entry.released.file, entry.released.format, entry.protocols) == (file, format, names)
        assert entry.released.scales == (2, 3, 4) and all(protocol in protocols.PROTOCOLS for protocol in names)


@pytest.mark.parametrize("name", ZOO)
def test_each_file_holds_exactly_the_registered_count_and_loads_completely(shared_dir, name: str) -> None:
    for scale in registry.entry(name).released.scales:
        in_file = sum(tensor.numel() for tensor in load_state_dict_file(_released(shared_dir, name, scale)).values())
        assert in_file == registry.entry(name).released.params[scale], (name, scale)
        model = registry.build_model(name, registry.make_config(name, scale))
        before = {key: value.clone() for key, value in model.state_dict().items()}
        load_weights(model, _released(shared_dir, name, scale), model_name=name, scale=scale)
        changed = [key for key, value in model.state_dict().items() if not torch.equal(before[key], value)]
        # CARN-M's frozen mean shifts are stored at the values the model starts from; everything else is learned
        assert set(model.state_dict()) - set(changed) <= {key for key in before if "_mean.shifter" in key}


def test_carn_m_counts_as_its_authors_count() -> None:
    for scale, deployed in CARN_M_DEPLOYED_PARAMS.items():
        multi = build_carn(carn_m_config(scale))
        single = build_carn(dataclasses.replace(carn_m_config(scale), multi_scale=False))
        trainable = sum(parameter.numel() for parameter in single.parameters() if parameter.requires_grad)
        assert trainable == deployed  # 257,027 / 303,427 / 294,147: requires_grad only, the frozen mean shifts out
        frozen = sum(parameter.numel() for parameter in multi.parameters() if not parameter.requires_grad)
        assert frozen == 24 and sum(parameter.numel() for parameter in multi.parameters()) == 414_811


def test_carn_m_shares_one_unit_per_block() -> None:
    model = build_carn(carn_m_config(2))
    for block in model.body.units:
        assert len(block.units) == 1 and block.step_units == [0, 0, 0] and len(block.fusions) == 3
    assert len(build_carn(registry.make_config("carn", 2)).body.units[0].units) == 3  # CARN: three distinct units


def test_released_files_are_legacy_pickles_read_weights_only(shared_dir, tmp_path) -> None:
    import zipfile

    legacy = [name for name in ("LatticeNet_x2.pt", "carn_m.pth", "PANx2_DF2K.pth")
              if not zipfile.is_zipfile(shared_dir / "weights" / name)]
    assert len(legacy) == 3  # all three in the pre-1.6 format
    # a legacy pickle carrying a callable is refused, never executed
    hostile = tmp_path / "carn_m.pth"
    torch.save({"entry.weight": torch.zeros(1), "hook": print}, hostile, _use_new_zipfile_serialization=False)
    with pytest.raises(UserError, match="refused"):
        load_state_dict_file(hostile)


@pytest.mark.parametrize("name, scale, file, words", [
    ("pan", 2, "PANx3_DF2K.pth", "are for x3 (by their name)"),  # same shapes at x2 and x3: the name says it
    ("pan", 3, "PANx2_DF2K.pth", "are for x2 (by their name)"),
    ("latticenet", 2, "LatticeNet_x3.pt", "do not fit latticenet at x2"),
    ("latticenet", 4, "PANx4_DF2K.pth", "do not fit latticenet"),
    ("carn_m", 2, "LatticeNet_x2.pt", "do not fit carn_m"),
    ("pan", 4, "carn_m.pth", "do not fit pan"),
    ("carn", 2, "carn_m.pth", "do not fit carn"),  # CARN-M's file is not the (retrained) CARN's
])
def test_wrong_file_is_one_line_and_exit_2(shared_dir, tmp_path, capsys, name, scale, file, words) -> None:
    assert_wrong_weights_refused(shared_dir, tmp_path, capsys, name, scale, file, words)


# --- the protocols' quirks --------------------------------------------------------------------------------------

class _Shift(nn.Module):
    """Nearest-neighbour x2 of the LR plus a gradient that is not flip-invariant: self-ensemble averages it out."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1))

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        up = torch.nn.functional.interpolate(lr, scale_factor=2, mode="nearest")
        ramp = torch.linspace(0, 0.2, up.shape[-1]).view(1, 1, 1, -1)
        return up * self.weight + ramp


def test_self_ensemble_averages_the_eight_flips_and_transposes() -> None:
    lr = np.random.default_rng(0).integers(0, 256, size=(6, 8, 3)).astype(np.uint8)
    plain = protocols.run_rgb(_Shift(), lr, torch.device("cpu"))
    ensemble = protocols.run_rgb(_Shift(), lr, torch.device("cpu"), self_ensemble=True)
    up = np.repeat(np.repeat(lr.astype(np.float32) / 255, 2, 0), 2, 1)
    np.testing.assert_allclose(plain - up, np.broadcast_to(np.linspace(0, 0.2, 16)[None, :, None], up.shape),
                               atol=1e-6)
    # the nearest upsampling commutes with flips and transposes; the ramp is mirrored in half of the 8 passes (a
    # ramp along columns, or along rows after a transpose), and a ramp and its mirror average to 0.1 everywhere
    np.testing.assert_allclose(ensemble, up + 0.1, atol=1e-6)


def test_edsr_psnr_is_the_y_psnr_of_the_difference() -> None:
    rng = np.random.default_rng(1)
    hr = rng.integers(0, 256, size=(20, 24, 3)).astype(np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-6, 7, size=hr.shape), 0, 255).astype(np.uint8)
    # EDSR's weights are MATLAB's x 256/255 and are divided by 256: the same Y difference up to float32
    assert edsr_psnr(sr, hr, shave=2) == pytest.approx(psnr_y(sr, hr, crop_border=2), abs=1e-4)


def test_carn_sample_truncates_where_the_others_round() -> None:
    output = np.array([0.0, 254.6 / 255, 100.5 / 255, 1.2, -0.1], dtype=np.float32)
    assert truncate_to_uint8(output).tolist() == [0, 254, 100, 255, 0]
    assert tensor2img(output).tolist() == [0, 255, 100, 255, 0]  # round half to even: 100.5 -> 100


def test_basicsr_test_is_common_up_to_floating_point(shared_dir) -> None:
    pair = open_benchmark(shared_dir / "benchmarks" / "Set5", 4).pairs[0]
    noisy = np.clip(pair.hr.astype(int) + np.random.default_rng(2).integers(-9, 10, size=pair.hr.shape), 0, 255)

    class _Fixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.unused = nn.Parameter(torch.zeros(1))

        def forward(self, lr: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(noisy.astype(np.float32) / 255).permute(2, 0, 1)[None]

    basicsr_psnr, basicsr_ssim = protocols.get("basicsr-test").score(_Fixed(), pair, 4, torch.device("cpu"))
    sr = noisy.astype(np.uint8)
    assert basicsr_psnr == pytest.approx(psnr_y(sr, pair.hr, crop_border=4), abs=1e-9)
    assert basicsr_ssim == pytest.approx(ssim_y(sr, pair.hr, crop_border=4), abs=1e-9)


def test_carn_sample_scores_rounded_y(shared_dir) -> None:
    pair = open_benchmark(shared_dir / "benchmarks" / "Set5", 2).pairs[0]

    class _Exact(nn.Module):  # returns the HR itself: every protocol's PSNR is infinite, whatever its Y
        def __init__(self) -> None:
            super().__init__()
            self.unused = nn.Parameter(torch.zeros(1))

        def forward(self, lr: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(pair.hr.astype(np.float32) / 255).permute(2, 0, 1)[None]

    psnr, ssim = protocols.get("carn-sample").score(_Exact(), pair, 2, torch.device("cpu"))
    assert psnr == float("inf") and ssim == pytest.approx(1.0)


# --- published sources ------------------------------------------------------------------------------------------

def test_sources_transcribe_published_json(shared_dir) -> None:
    import json

    published = json.loads((shared_dir / "zoo" / "published.json").read_text())
    checked = 0
    for name in ("latticenet", "pan", "carn_m", "lapsrn"):
        for cell in published_cells(name):
            if cell.source.corrects is not None:
                psnr, ssim = published[name]["urban100_corrected"][str(cell.scale)]
            else:
                psnr, ssim = published[name][str(cell.scale)][cell.dataset]
            assert cell.cell.values == (pytest.approx(psnr, abs=1e-9), pytest.approx(ssim, abs=1e-9)), cell
            checked += 1
    assert checked == 12 + 15 + 12 + 3 + 8


def test_mren_table5_quotes_carns_corrected_urban100() -> None:
    from harness.published.paper import load_paper

    paper = load_paper()
    sources = load_sources()
    for scale in (2, 3, 4):
        table5 = (paper.value("table5", "CARN", "psnr_y", "Urban100", scale).printed,
                  paper.value("table5", "CARN", "ssim_y", "Urban100", scale).printed)
        corrected = sources["carn-readme-urban100"].rows[1].cells[scale]["Urban100"]
        camera_ready = sources["carn-camera-ready"].rows[2].cells[scale]["Urban100"]
        assert table5 == (corrected.psnr, corrected.ssim)
        assert scale == 4 or table5 != (camera_ready.psnr, camera_ready.ssim)  # x4: the same in both tables
    assert current_cell("carn_m", 2, "Urban100").source.key == "carn-readme-urban100"
    assert current_cell("carn_m", 2, "Set5").source.key == "carn-camera-ready"


# --- Set5 against the published numbers ------------------------------------------------------------------------

def _pan_log(shared_dir, scale: int, dataset: str) -> dict[str, tuple[float, float]]:
    """image -> (PSNR_Y, SSIM_Y) of one set in the PAN authors' test log at `scale`."""
    (log,) = (shared_dir / "zoo" / "pan-logs").glob(f"test_PANx{scale}_*.log")
    section = log.read_text().split(f"Testing [{dataset}]...")[1].split("Testing [")[0]
    line = re.compile(r"INFO: (\S+)\s+- PSNR: .*PSNR_Y: ([\d.]+) dB; SSIM_Y: ([\d.]+)\.")
    return {match[1]: (float(match[2]), float(match[3])) for match in line.finditer(section)}


@pytest.mark.slow
@pytest.mark.parametrize("scale", (2, 3, 4))
def test_pan_reproduces_its_logs_per_image_on_set5(shared_dir, scale: int) -> None:
    logged = _pan_log(shared_dir, scale, "Set5")
    assert len(logged) == 5
    score = evaluate(_loaded(shared_dir, "pan", scale), open_benchmark(shared_dir / "benchmarks" / "Set5", scale),
                     protocols=("basicsr-test",))
    assert {image.name for image in score.images} == set(logged)
    for image in score.images:
        assert image.psnr_y == pytest.approx(logged[image.name][0], abs=1e-4), image.name
        assert image.ssim_y == pytest.approx(logged[image.name][1], abs=1e-5), image.name
    published = current_cell("pan", scale, "Set5").cell  # the logs' set mean, 6 decimals
    assert abs(score.psnr_y - published.values[0]) < 1e-4 and abs(score.ssim_y - published.values[1]) < 1e-5


def test_the_design_docs_source_example_is_a_valid_transcription() -> None:
    """docs/design.md "Adding a released model with its own published numbers": its JSON block, as written, is a
    source the loader accepts, whose cells compare with measured values at the printed precision."""
    import json

    from harness.published.model_sources import ModelSource
    from test_design_examples import examples

    [(language, text)] = examples("Adding a released model with its own published numbers")
    assert language == "json"
    source = ModelSource.model_validate(json.loads(text))
    cell = source.row("espcn").cells[3]["Set5"]
    assert cell.exact(33.1349, 0.91904) == (True, True) and cell.exact(33.1351, 0.9189) == (False, False)


def test_report_lays_released_models_beside_their_own_sources(tmp_path) -> None:
    from factories import write_record

    from harness.records import load_records
    from harness.reporting.model_sources import compare_with_sources
    from harness.reporting.report import build_report

    results = tmp_path / "results"
    write_record(results, "carn_m", model="carn_m", scale=2, weights="carn_m.pth", feeds=[("table5", "CARN-M")],
                 metrics={"Set5": (37.534, 0.95831), "Urban100": (31.0, 0.92)})
    write_record(results, "trained", model="latticenet", scale=2, metrics={"Set5": (38.15, 0.961)})
    comparisons = compare_with_sources(load_records(results))
    assert [(row.model, row.dataset, row.source) for row in comparisons] == [
        ("carn_m", "Set5", "carn-camera-ready"), ("carn_m", "Urban100", "carn-camera-ready"),
        ("carn_m", "Urban100", "carn-readme-urban100")]  # the trained LatticeNet is not the authors' file
    set5, camera_ready, corrected = comparisons
    assert set5.exact_under == ("common",) and set5.corrected_by is None
    assert camera_ready.corrected_by == "carn-readme-urban100" and corrected.corrected_by is None
    assert corrected.values[0].psnr_difference == pytest.approx(31.0 - 31.23)
    html = build_report(results).html
    assert 'id="source-comparisons"' in html and "carn-readme-urban100" in html


def test_report_findings_name_misses_self_ensemble_counts_corrections_and_training_sets(tmp_path) -> None:
    """The findings of the released-models section come from the comparisons, whatever the model: a cell no protocol
    brings within tolerance (with the cause its protocol had to assume), a cell only self-ensemble reproduces, a
    printed parameter count beyond its rounding, a source's correction and what MREN's Table 5 quotes, and files
    trained on other data."""
    from factories import write_record

    from harness.records import load_records
    from harness.reporting.model_sources import compare_with_sources, source_findings

    results = tmp_path / "results"
    # CARN-M x2 Set5 published 37.53 / 0.9583: common 0.20 dB high, carn-sample 0.10 dB low -> a miss
    write_record(results, "carn_m", model="carn_m", scale=2, weights="carn_m.pth", params=414_811,
                 metrics={"Set5": (37.73, 0.9595)}, protocols={"Set5": {"carn-sample": (37.43, 0.9583)}})
    # LatticeNet x3 Set5 published 34.53 / 0.9281: only the x8 protocol within tolerance
    write_record(results, "lattice", model="latticenet", scale=3, weights="LatticeNet_x3.pt", params=764_851,
                 metrics={"Set5": (34.40, 0.9272)},
                 protocols={"Set5": {"edsr-test": (34.40, 0.9272), "edsr-test+x8": (34.5264, 0.92812)}})
    # LapSRN x2 Set5 published 37.52 / 0.9590, padded from 0.959: exact at 3 decimals under lapsrn-cvpr17
    write_record(results, "lapsrn", model="lapsrn", scale=2, weights="LapSRN_x2.mat", params=407_441,
                 metrics={"Set5": (37.48, 0.9586)}, protocols={"Set5": {"lapsrn-cvpr17": (37.5167, 0.95907)}})
    records = load_records(results)
    findings = {finding.rule: finding for finding in source_findings(compare_with_sources(records), records)}

    exact = findings["released-exact"]
    assert exact.title.startswith("Released models: 2 of 3 published cells print exactly under some protocol")
    assert "1 under edsr-test+x8" in exact.title and "1 under lapsrn-cvpr17" in exact.title
    assert "2 of 3 lie within 0.05 dB" in exact.detail
    assert exact.items == ("lapsrn (carn-camera-ready: SSIM to 3 decimals)",)

    (miss,) = findings["released-miss"].items
    assert miss.startswith("carn_m ×2 Set5: published 37.53 / 0.9583 (carn-camera-ready); closest carn-sample "
                           "37.4300 / 0.95830 (-0.1000 dB")
    assert "likely cause: the authors' repository has no metric code" in miss

    (ensemble,) = findings["self-ensemble"].items
    assert ensemble.startswith("latticenet ×3 Set5") and "single pass at best common 34.4000" in ensemble

    counts = findings["released-parameter-count"].items
    assert counts == ("carn_m ×2: 414,811 in carn_m.pth; carn-camera-ready, carn-readme-urban100 print 412K",
                      "lapsrn ×2: 407,441 in LapSRN_x2.mat; carn-camera-ready prints 813K")  # LatticeNet: none printed

    corrections = findings["corrected-source"].items
    assert "CARN-M ×2 Urban100: carn-camera-ready 30.83 / 0.9233, corrected by carn-readme-urban100 to 31.23 / " \
           "0.9193" in corrections
    assert any(item.startswith("CARN ×2 Urban100") and item.endswith("MREN's Table 5 quotes 31.92 / 0.9256, the "
                                                                     "correction") for item in corrections)
    assert findings["training-set"].items == ("lapsrn: 291 images (Yang's 91 + BSD200)",)


def test_a_padding_claim_that_the_printed_digits_contradict_is_refused() -> None:
    from harness.published.model_sources import SourceRow

    row = {"label": "X", "model": None, "params": {}, "cells": {2: {"Set5": ["37.52", "0.9591"]}}}
    assert SourceRow.model_validate({**row, "original_decimals": {"ssim": 4}})
    with pytest.raises(ValueError, match="0.9591 is not a 3-decimal value padded with zeros"):
        SourceRow.model_validate({**row, "original_decimals": {"ssim": 3}})
