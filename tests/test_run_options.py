"""`run --set/--only/--seeds`, through the command line with --dry-run (no Ray): what changes, and one-line errors."""

import dataclasses
import importlib.util
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from harness import cli
from harness.experiment.spec import load_spec
from harness.experiment.trial import RunSettings, resolve_trials

SPEC = REPO_ROOT / "ablations" / "scacb.yaml"  # Table 3: four MREN x4 trials, rows OSA, OCA, SCNC, SCACB


def dry_run(capsys: pytest.CaptureFixture, tmp_path: Path, *options: str) -> tuple[int, str, str]:
    code = cli.main(["run", str(SPEC), "--profile", "smoke", "--results", str(tmp_path), "--dry-run", "--no-price",
                     *options])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def listed_ids(output: str) -> list[str]:
    """Trial ids of the --dry-run listing (the lines after its header)."""
    lines = output.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("id "))
    return [line.split()[0] for line in lines[start + 1:] if line.strip()]


def unchanged_trials(tmp_path: Path) -> list:
    return resolve_trials(load_spec(SPEC), RunSettings("smoke", tmp_path))


def test_set_changes_model_and_training_settings_and_the_trial_ids(capsys, tmp_path: Path) -> None:
    code, out, _ = dry_run(capsys, tmp_path, "--set", "n_mreb=5", "--set", "train.learning_rate=4e-4")
    assert code == 0
    ids = listed_ids(out)
    before = unchanged_trials(tmp_path)
    assert len(ids) == len(before) and not set(ids) & {trial.trial_id for trial in before}
    assert "n_mreb=5" in out  # the label names the changed model field
    # The ids are those of the spec's trials with the two values put in their configs: recorded, not just applied.
    expected = []
    for trial in before:
        config = dataclasses.replace(trial.config,
                                     model_config=dataclasses.replace(trial.config.model_config, n_mreb=5),
                                     train=dataclasses.replace(trial.config.train, learning_rate=4e-4))
        expected.append(config.trial_id)
    assert ids == expected


def test_set_scale_and_epochs_recompute_what_follows(capsys, tmp_path: Path) -> None:
    code, out, _ = dry_run(capsys, tmp_path, "--set", "scale=2", "--set", "train.epochs=3", "--only", "table3:OSA")
    assert code == 0
    [trial] = [trial for trial in unchanged_trials(tmp_path) if trial.feeds[0].row == "OSA"]
    train = dataclasses.replace(trial.config.train, epochs=3, iterations=3 * trial.config.train.iterations_per_epoch)
    config = dataclasses.replace(trial.config, scale=2, train=train,
                                 model_config=dataclasses.replace(trial.config.model_config, scale=2))
    assert listed_ids(out) == [config.trial_id]
    assert "mren x2" in out


@pytest.mark.parametrize("item, message", [
    ("n_mreeb=5", "--set n_mreeb: no model of this spec has a config field 'n_mreeb'; model fields: channels"),
    ("train.lr=1e-4", "--set train.lr: unknown training setting 'lr'; settable: train.augment"),
    ("train.iterations=5", "--set train.iterations: not settable; set train.epochs"),
    ("nokey", "--set 'nokey' is not KEY=VALUE"),
])
def test_set_unknown_key_is_one_line_naming_it(capsys, tmp_path: Path, item: str, message: str) -> None:
    code, out, err = dry_run(capsys, tmp_path, "--set", item)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {message}") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("item, message", [
    ("n_mreb=five", "--set n_mreb=five: model 'mren': bad value 'five' for 'n_mreb' (expected int)"),
    ("n_mreb=0", "--set n_mreb=0: model 'mren': n_mreb must be at least 1"),
    ("scacb=sideways", "--set scacb=sideways: model 'mren': bad value 'sideways' for 'scacb'"),
    ("train.learning_rate=-1", "--set train.learning_rate: learning_rate must be positive"),
    ("train.batch_size=many", "--set train.batch_size=many: bad value (expected int)"),
    ("scale=5", "--set scale=5: bad value (expected 2 | 3 | 4)"),
])
def test_set_bad_value_is_one_line_naming_it(capsys, tmp_path: Path, item: str, message: str) -> None:
    code, out, err = dry_run(capsys, tmp_path, "--set", item)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {message}") and err.count("\n") == 1


def test_only_keeps_the_rows_asked_for(capsys, tmp_path: Path) -> None:
    code, out, _ = dry_run(capsys, tmp_path, "--only", "table3:OSA", "--only", "table3:SCACB")
    assert code == 0
    expected = [trial.trial_id for trial in unchanged_trials(tmp_path) if trial.feeds_text in ("table3:OSA",
                                                                                              "table3:SCACB")]
    assert len(expected) == 2 and listed_ids(out) == expected


@pytest.mark.parametrize("item, message", [
    ("table3:XYZ", "--only table3:XYZ: table3 has no row 'XYZ' in this spec; rows: 'OSA', 'OCA', 'SCNC', 'SCACB'"),
    ("table9:OSA", "--only table9:OSA: this spec feeds no table 'table9'; tables: table3"),
    ("OSA", "--only 'OSA' is not TABLE:ROW"),
])
def test_only_unknown_row_lists_the_choices(capsys, tmp_path: Path, item: str, message: str) -> None:
    code, _, err = dry_run(capsys, tmp_path, "--only", item)
    assert code == 2 and err.startswith(f"error: {message}") and err.count("\n") == 1


@pytest.mark.parametrize("seeds, expected", [("3", [0, 1, 2]), ("0,5,7", [0, 5, 7]), ("4", [0, 1, 2, 3])])
def test_seeds_replace_the_specs_seeds(capsys, tmp_path: Path, seeds: str, expected: list[int]) -> None:
    code, out, _ = dry_run(capsys, tmp_path, "--only", "table3:OCA", "--seeds", seeds)
    assert code == 0
    [trial] = [trial for trial in unchanged_trials(tmp_path) if trial.feeds_text == "table3:OCA"]
    assert listed_ids(out) == [dataclasses.replace(trial.config, seed=seed).trial_id for seed in expected]


@pytest.mark.parametrize("seeds", ["0", "x", "1,1", "-1", "2,"])
def test_bad_seeds_are_one_line(capsys, tmp_path: Path, seeds: str) -> None:
    code, _, err = dry_run(capsys, tmp_path, "--seeds", seeds)
    assert code == 2 and err.startswith("error: --seeds") and err.count("\n") == 1


def test_help_shows_the_options(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--set KEY=VALUE", "--only TABLE:ROW", "--seeds", "--plugin MODULE", "--wandb PROJECT"):
        assert option in out


@pytest.mark.skipif(importlib.util.find_spec("wandb") is not None, reason="wandb is installed here")
def test_wandb_without_the_package_is_one_line_before_anything_runs(capsys, tmp_path: Path) -> None:
    code = cli.main(["run", str(SPEC), "--profile", "smoke", "--results", str(tmp_path), "--wandb", "proj"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: --wandb needs the wandb package") and err.count("\n") == 1
    assert not (tmp_path / "trials").exists()


def test_recalibrate_reaches_the_projection_of_a_dry_run_and_is_refused_with_no_price(
        tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness import api
    from harness.experiment.pricing import GridPrice, Placement

    asked: dict = {}

    def price_grid(trials, settings, placement, **options) -> GridPrice:
        asked.update(options)
        return GridPrice((), Placement("cpu", "test CPU", 1, 1, 1, 1.0), 0.0, 0)

    monkeypatch.setattr(api, "price_grid", price_grid)
    code = cli.main(["run", str(SPEC), "--profile", "smoke", "--results", str(tmp_path), "--dry-run",
                     "--recalibrate"])
    assert code == 0 and asked["recalibrate"] is True
    code, out, err = dry_run(capsys, tmp_path, "--recalibrate")
    assert code == 2 and err.strip().splitlines() == ["error: --recalibrate measures the projection that --no-price "
                                                      "skips: give one of them"]
