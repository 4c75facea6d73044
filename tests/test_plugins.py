"""Models from outside the harness (--plugin, docs/plugins.md), `list`, and `eval --save-images`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT
from PIL import Image
from processes import end_driver

from harness import cli, records
from harness.data.bundled import BUNDLED_EVAL, load_bundled
from harness.data.images import crop_to_multiple
from harness.evaluation.metrics import psnr_y

PLUGIN = "examples.plugin_model"


@pytest.mark.slow
@pytest.mark.ray
def test_plugin_model_trains_at_the_smoke_budget_through_run(tmp_path: Path) -> None:
    results = tmp_path / "results"
    command = [sys.executable, "-m", "harness", "run", "examples/plugin.yaml", "--profile", "smoke", "--results",
               str(results), "--plugin", PLUGIN, "--num-cpus", "1"]
    print("running examples/plugin.yaml", flush=True)
    driver = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        output, _ = driver.communicate(timeout=400)
    finally:
        end_driver(driver)
    assert driver.returncode == 0, output
    [record] = records.load_records(results)
    assert record.config.model == "tiny_plugin" and record.config.profile == "smoke"
    assert [(feed.table, feed.row) for feed in record.feeds] == [("table5", "TinyPlugin")]
    assert record.training.iterations == record.config.train["iterations"] and record.params > 0
    assert record.metrics["bundled"].psnr_y > 20


def test_without_its_plugin_the_spec_names_the_unknown_model(capsys, tmp_path: Path) -> None:
    code = cli.main(["run", str(REPO_ROOT / "examples" / "plugin.yaml"), "--profile", "smoke", "--results",
                     str(tmp_path), "--dry-run"])
    err = capsys.readouterr().err
    if code == 0:  # an earlier test of this process imported the plugin already: the registry keeps it
        assert "tiny_plugin" in sys.modules.get(PLUGIN, sys).__dict__.get("MODELS", {})
        return
    assert code == 2 and "unknown model 'tiny_plugin'" in err and err.count("\n") == 1


def test_a_missing_plugin_is_one_line(capsys) -> None:
    assert cli.main(["list", "models", "--plugin", "examples.no_such_plugin"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --plugin examples.no_such_plugin: no module") and err.count("\n") == 1


def test_list_models_includes_a_plugin_and_the_released_weights(capsys, monkeypatch) -> None:
    monkeypatch.chdir(REPO_ROOT)
    assert cli.main(["list", "models", "--plugin", PLUGIN]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line for line in lines[1:]}
    assert "tiny_plugin" in rows and "x2, x3, x4" in rows["tiny_plugin"]
    assert "IMDN_x{scale}.pth" in rows["imdn"] and "EFDN_x{scale}.pth (pth; x4)" in rows["efdn"]


def test_list_specs_counts_trials_and_list_sets_finds_sets(capsys, tmp_path: Path) -> None:
    assert cli.main(["list", "specs", "--specs-dir", str(REPO_ROOT / "ablations")]) == 0
    out = capsys.readouterr().out
    scacb = next(line for line in out.splitlines() if line.split()[0].endswith("/scacb.yaml"))
    assert scacb.split()[1:3] == ["table3", "4"]
    hr = tmp_path / "data" / "Mine" / "HR"
    hr.mkdir(parents=True)
    Image.fromarray(load_bundled(BUNDLED_EVAL[0])).save(hr / "one.png")
    (tmp_path / "data" / "empty").mkdir()
    assert cli.main(["list", "sets", "--data-root", str(tmp_path / "data")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].split()[0] == "Mine" and " 1 " in lines[1]


def test_eval_save_images_writes_the_scored_sr_images(capsys, tmp_path: Path) -> None:
    data = tmp_path / "set"
    data.mkdir()
    for name in BUNDLED_EVAL:
        Image.fromarray(load_bundled(name)).save(data / f"{name}.png")
    out = tmp_path / "sr"
    assert cli.main(["eval", "--model", "bicubic", "--data", str(data), "--scale", "3", "--save-images", str(out),
                     "--out", str(tmp_path / "scores.json")]) == 0
    scores = json.loads((tmp_path / "scores.json").read_text())
    written = sorted(path.stem for path in out.glob("*.png"))
    assert written == sorted(BUNDLED_EVAL)
    for image in scores["images"]:
        sr = np.asarray(Image.open(out / f"{image['name']}.png"))
        hr = crop_to_multiple(load_bundled(image["name"]), 3)
        assert sr.shape == hr.shape and sr.dtype == np.uint8
        # The saved image is the one that was scored: its PSNR is the printed one.
        assert abs(psnr_y(sr, hr, crop_border=3) - image["psnr_y"]) < 1e-9
