"""Spec parsing, validation and expansion; the ablation specs of the paper's tables. No training, no Ray."""

import hashlib
import json
import os
import textwrap
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from harness import cli
from harness.commands import run as run_command
from harness.errors import UserError
from harness.experiment.spec import load_spec
from harness.records import Feed
from harness.experiment.trial import RunSettings, resolve_trials
from harness.published.paper import load_paper

ABLATIONS = REPO_ROOT / "ablations"
BASE = "{model: mren, config: {n_mreb: 6}, scale: 4, epochs: 900, eval: [Set5]}"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the run command gets as far as the scheduler."""
    def refuse(*args, **kwargs):
        raise AssertionError("the scheduler was started")
    monkeypatch.setattr(run_command, "run_grid", refuse)


def run_cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["run", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def single_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


# --- malformed specs: one line naming file and key path, exit 2, before Ray ------------------------------------------

def test_a_spec_adds_rows_the_paper_lacks_when_it_says_so(tmp_path: Path) -> None:
    spec = write(tmp_path, "wider.yaml", """\
        table: table3
        row: "reduction {wsilb_reduction}"
        new_rows: true
        base: {model: mren, scale: 4, epochs: 900, eval: [Set5]}
        grid:
          config: {wsilb_reduction: [3, 12]}
        """)
    trials = load_spec(spec)
    assert [trial.feed for trial in trials] == [Feed(table="table3", row="reduction 3"), Feed(table="table3", row="reduction 12")]
    assert [trial.model_config.wsilb_reduction for trial in trials] == [3, 12]
    # the same spec without the declaration is refused: a row that is not the paper's may be a typo
    write(tmp_path, "undeclared.yaml", spec.read_text().replace("new_rows: true\n", ""))
    with pytest.raises(UserError, match="'reduction 3' is not a row of table3"):
        load_spec(tmp_path / "undeclared.yaml")


@pytest.mark.parametrize("body, expected", [
    (f"table: table3\nbase: {BASE}\nvariants:\n  - {{row: OSA, confg: {{scacb: osa}}}}\n",
     ["variants[0].confg", "unknown key", "allowed here:", "config"]),
    (f"table: table3\nbase: {BASE}\ncolour: red\nvariants: [{{row: OSA}}]\n",
     ["colour", "unknown key", "variants"]),
    ("table: table3\nbase: {model: mren, scale: '4', epochs: 900, eval: [Set5]}\nvariants: [{row: OSA}]\n",
     ["base.scale", "2, 3 or 4", "'4'"]),
    ("table: table3\nbase: {model: mren, scale: 5, epochs: 900, eval: [Set5]}\nvariants: [{row: OSA}]\n",
     ["base.scale", "2, 3 or 4"]),
    ("table: table3\nbase: {model: mren, scale: 4, epochs: 0, eval: [Set5]}\nvariants: [{row: OSA}]\n",
     ["base.epochs", "greater than or equal to 1"]),
    ("table: table3\nbase: {model: mren, scale: 4, epochs: 900, eval: [Set6]}\nvariants: [{row: OSA}]\n",
     ["base.eval[0]", "Set5"]),
    (f"table: table1\nrow: '{{n_mreb}}'\nbase: {BASE}\ngrid: {{config: {{n_mreb: [3, 0]}}}}\n",
     ["grid.config.n_mreb (value 0)", "n_mreb", "at least 1"]),
    (f"table: table3\nbase: {BASE}\nvariants: [{{row: OSA, config: {{scacb: sideways}}}}]\n",
     ["variants[0].config.scacb", "'osa'"]),
    (f"table: table3\nbase: {BASE}\nvariants: [{{row: OSA, config: {{n_mreb: six}}}}]\n",
     ["variants[0].config.n_mreb", "int"]),
    (f"table: table3\nbase: {BASE}\nvariants: [{{row: OSA, config: {{depth: 3}}}}]\n",
     ["variants[0].config.depth", "no config field 'depth'"]),
    (f"table: table3\nbase: {BASE}\nvariants: [{{row: OSA, model: mrne}}]\n",
     ["variants[0].model", "unknown model 'mrne'", "mren"]),
    (f"table: table3\nbase: {BASE}\nvariants: [{{row: Best}}]\n",
     ["variants[0].row", "'Best' is not a row of table3", "'SCACB'"]),
    (f"table: table3\nbase: {BASE}\nvariants: [{{row: Best}}]\n", ["new_rows: true"]),
    (f"table: table3\nnew_rows: true\nbase: {BASE}\nvariants: [{{row: OSA}}]\n",
     ["variants[0].row", "'OSA' is a row the paper prints in table3", "new_rows"]),
    (f"table: table1\nnew_rows: true\nrow: '{{n_mreb}}'\nbase: {BASE}\ngrid: {{config: {{n_mreb: [6, 10]}}}}\n",
     ["row", "'6' is a row the paper prints in table1"]),
    ("include: [other.yaml]\nnew_rows: true\n", ["new_rows", "only a spec with a table"]),
    ("table: table3\nnew_rows: yes please\n", ["new_rows", "boolean"]),
    (f"table: table9\nbase: {BASE}\nvariants: [{{row: OSA}}]\n", ["table:", "table1"]),
    ("table: table3\nbase: {model: mren, scale: 4, eval: [Set5]}\nvariants: [{row: OSA}]\n",
     ["variants[0].epochs", "missing"]),
    ("table: table5\nbase: {model: imdn, scale: 4, mode: evaluate, eval: [Set5]}\nvariants: [{row: IMDN}]\n",
     ["variants[0].weights", "learned parameters", "'released'"]),
    ("table: table5\nbase: {model: mren, scale: 4, mode: evaluate, eval: [Set5], weights: released}\n"
     "variants: [{row: MREN}]\n", ["base.weights", "no released weights"]),
    ("table: table5\nbase: {model: efdn, scale: 2, mode: evaluate, eval: [Set5], weights: released}\n"
     "variants: [{row: EFDN}]\n", ["base.weights", "scale 4 only, not 2"]),
    ("table: table5\nbase: {model: imdn, scale: 4, mode: evaluate, eval: [Set5], weights: 'x{sacle}.pth'}\n"
     "variants: [{row: IMDN}]\n", ["base.weights", "unknown placeholder {sacle}"]),
    (f"table: table3\nbase: {BASE}\nseeds: [0, 0]\nvariants: [{{row: OSA}}]\n", ["seeds", "listed twice"]),
    (f"table: table3\nbase: {BASE}\n", ["base.row", "missing"]),
    ("table: table3\nbase: {model: mren, scale: 4, epochs: 9, eval: [Set5]}\nbase: {scale: 2}\n",
     [":3:1:", "duplicate key 'base'"]),
    ("- table3\n", ["top level must be a mapping"]),
    ("", ["empty"]),
])
def test_malformed_spec_is_one_line_naming_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture, no_ray: None,
                                                         body: str, expected: list[str]) -> None:
    spec = write(tmp_path, "bad.yaml", body)
    code, _, err = run_cli(capsys, spec, "--profile", "smoke")
    line = single_error_line(err)
    assert code == 2
    assert str(spec) in line
    for fragment in expected:
        assert fragment in line, line


def test_python_object_tag_is_refused_with_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                         no_ray: None) -> None:
    marker = tmp_path / "executed"
    spec = write(tmp_path, "evil.yaml", f"""\
        table: table3
        base: !!python/object/apply:os.system ["touch {marker}"]
        """)
    code, _, err = run_cli(capsys, spec, "--profile", "smoke")
    line = single_error_line(err)
    assert code == 2
    assert f"{spec}:2:" in line and "!!python/object/apply:os.system" in line and "not allowed" in line
    assert not marker.exists()


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture, no_ray: None) -> None:
    spec = write(tmp_path, "broken.yaml", "table: table3\nbase: {model: mren, scale: 4\nvariants: []\n")
    code, _, err = run_cli(capsys, spec)
    line = single_error_line(err)
    assert code == 2 and f"{spec}:" in line and "YAML error" in line
    assert line.split(f"{spec}:")[1].split(":")[0].isdigit()


def test_missing_spec_and_missing_include(tmp_path: Path, capsys: pytest.CaptureFixture, no_ray: None) -> None:
    code, _, err = run_cli(capsys, tmp_path / "nope.yaml")
    assert code == 2 and "nope.yaml" in single_error_line(err) and "not found" in err

    spec = write(tmp_path, "all.yaml", "include: [scacb.yaml, gone.yaml]\n")
    write(tmp_path, "scacb.yaml", (ABLATIONS / "scacb.yaml").read_text())
    code, _, err = run_cli(capsys, spec, "--profile", "smoke", "--dry-run")
    line = single_error_line(err)
    assert code == 2 and str(spec) in line and "include[1]" in line and "'gone.yaml' not found" in line


def test_include_cycle_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "include: [b.yaml]\n")
    write(tmp_path, "b.yaml", "include: [a.yaml]\n")
    with pytest.raises(UserError, match="include cycle"):
        load_spec(tmp_path / "a.yaml")


def test_variant_and_grid_may_not_set_the_same_key(tmp_path: Path) -> None:
    spec = write(tmp_path, "s.yaml", """\
        table: table5
        base: {eval: [Set5], epochs: 10}
        grid: {scale: [2, 3]}
        variants: [{row: MREN, model: mren, scale: 4}]
        """)
    with pytest.raises(UserError, match=r"variants\[0\]\.scale: also a grid axis"):
        load_spec(spec)


# --- expansion and merging ------------------------------------------------------------------------------------------

def test_grid_times_variants_times_seeds_with_templates(tmp_path: Path) -> None:
    spec = write(tmp_path, "s.yaml", """\
        table: table5
        base: {eval: [Set5, Set14]}
        grid: {scale: [2, 3]}
        seeds: [0, 1]
        variants:
          - {row: Bicubic, model: bicubic, mode: evaluate}
          - {row: IMDN, model: imdn, mode: evaluate, weights: "IMDN_x{scale}.pth"}
        """)
    trials = load_spec(spec)
    assert len(trials) == 2 * 2 * 2
    imdn = [trial for trial in trials if trial.model == "imdn"]
    assert {(trial.scale, trial.weights, trial.seed) for trial in imdn} == {
        (2, "IMDN_x2.pth", 0), (2, "IMDN_x2.pth", 1), (3, "IMDN_x3.pth", 0), (3, "IMDN_x3.pth", 1)}
    assert all(trial.feed == Feed(table="table5", row="IMDN") and trial.eval_sets == ("Set5", "Set14") for trial in imdn)


def test_variant_config_merges_over_base_and_null_clears(tmp_path: Path) -> None:
    spec = write(tmp_path, "s.yaml", """\
        table: table5
        base: {model: mren, config: {n_mreb: 5, comm_weight: 0.3}, scale: 4, epochs: 900, eval: [Set5]}
        variants:
          - {row: MREN, config: {scacb: osa}}
          - {row: Bicubic, model: bicubic, mode: evaluate, config: null, epochs: null}
        """)
    with pytest.raises(UserError, match=r"variants\[1\]\.config"):
        load_spec(spec)  # config may not be null: a variant can only add fields to it
    spec.write_text(spec.read_text().replace("config: null, ", ""))
    with pytest.raises(UserError, match="model 'bicubic' has no config field 'n_mreb'"):
        load_spec(spec)
    spec.write_text(spec.read_text().replace("config: {n_mreb: 5, comm_weight: 0.3}, ", "").replace(
        "config: {scacb: osa}", "config: {scacb: osa, n_mreb: 5}"))
    mren, bicubic = load_spec(spec)
    assert (mren.model_config.n_mreb, mren.model_config.scacb, mren.model_config.comm_weight) == (5, "osa", 0.2)
    assert bicubic.mode == "evaluate" and bicubic.epochs is None


# --- the paper's specs ----------------------------------------------------------------------------------------------

def paper_trials(profile: str, data_root: Path | None = None, weights_dir: Path | None = None):
    settings = RunSettings(profile=profile, results_dir=Path("unused"), data_root=data_root, weights_dir=weights_dir)
    return resolve_trials(load_spec(ABLATIONS / "paper.yaml"), settings)


def test_paper_spec_covers_every_row_and_shares_the_ablation_base() -> None:
    trials = paper_trials("paper")
    feeds = [feed for trial in trials for feed in trial.feeds]
    assert len(feeds) == 59 and len(set(feeds)) == 6 + 11 + 4 + 4 + 11 + 3  # Table 5 rows repeat per scale
    for table in load_paper().names_of("ablation"):
        rows = load_paper().tables[table].row_keys
        assert sorted(feed.row for feed in feeds if feed.table == table) == sorted(rows)
    table5 = {(trial.config.scale, feed.row) for trial in trials for feed in trial.feeds if feed.table == "table5"}
    # SRCNN, VDSR, IDN, IMDN and EFDN from their authors' weights; SRCNN, VDSR and CARN retrained, labelled so
    methods = {"Bicubic", "SRCNN", "VDSR", "IDN", "IMDN", "SRCNN (retrained)", "VDSR (retrained)",
               "CARN (retrained)", "MREN", "MREN-L"}
    assert table5 == {(scale, method) for scale in (2, 3, 4) for method in methods} | {(4, "EFDN")}
    released = {trial.config.model: trial.config.weights for trial in trials
                if trial.config.mode == "evaluate" and trial.config.scale == 4 and trial.config.weights}
    assert released == {"srcnn": "SRCNN_x4.mat", "vdsr": "VDSR_Official.mat", "idn": "IDN_x4.caffemodel",
                        "imdn": "IMDN_x4.pth", "efdn": "EFDN_x4.pth"}
    base = [trial for trial in trials if len(trial.feeds) > 1]
    assert len(base) == 1
    assert {(feed.table, feed.row) for feed in base[0].feeds} == {
        ("table1", "6"), ("table2", "0.2"), ("table3", "SCACB"), ("table4", "DRACB")}
    config = base[0].config
    assert (config.model, config.scale, config.train.epochs, config.eval_sets) == ("mren", 4, 900, ("Set5",))
    assert {key: getattr(config.model_config, key) for key in ("n_mreb", "comm_weight", "scacb", "dracb")} == {
        "n_mreb": 6, "comm_weight": 0.2, "scacb": "full", "dracb": "full"}
    assert len(trials) == 59 - 3
    by_row = {(trial.feeds[0].table, trial.feeds[0].row, trial.config.scale): trial.config for trial in trials}
    assert by_row[("table5", "IMDN", 3)].weights == "IMDN_x3.pth" and by_row[("table5", "IMDN", 3)].train is None
    assert by_row[("table5", "MREN", 2)].train.epochs == 3000
    assert by_row[("table5", "Bicubic", 4)].mode == "evaluate" and by_row[("table5", "Bicubic", 4)].weights is None
    assert all(by_row[("table6", row, 2)].mode == "complexity" for row in ("IMDN", "MREN", "MREN-L"))
    assert by_row[("table6", "MREN", 2)].eval_sets == ()


def test_smoke_resolution_of_eval_sets(tmp_path: Path) -> None:
    (tmp_path / "Set5").mkdir()
    (tmp_path / "Set14").mkdir()
    trials = paper_trials("smoke", tmp_path)
    for trial in trials:
        config = trial.config
        if config.mode == "train":
            assert config.eval_sets == ("Set5",) and config.profile == "smoke"
        elif config.mode == "evaluate":
            assert config.eval_sets == ("Set5",) and config.profile is None  # Set14 too under the paper profile
    # Smoke ignores epochs, so Table 5's MREN x4 is the ablation base trial too.
    assert len(trials) == 59 - 4
    assert all(trial.config.eval_sets == ("bundled",) for trial in paper_trials("smoke") if trial.config.eval_sets)


def test_trial_id_is_the_hash_of_the_resolved_config_only() -> None:
    first, second = paper_trials("smoke")[:2], paper_trials("smoke")[:2]
    assert [trial.trial_id for trial in first] == [trial.trial_id for trial in second]
    assert first[0].trial_id != first[1].trial_id
    canonical = json.dumps(first[0].config.to_json(), sort_keys=True, separators=(",", ":"))
    assert first[0].trial_id == hashlib.sha256(canonical.encode()).hexdigest()[:12]
    trained = [{trial.trial_id for trial in paper_trials(profile) if trial.config.mode == "train"}
               for profile in ("paper", "smoke")]
    assert not trained[0] & trained[1]  # the profile's training settings are part of the identity
    complexity = [{trial.trial_id for trial in paper_trials(profile) if trial.config.mode == "complexity"}
                  for profile in ("paper", "smoke")]
    assert complexity[0] == complexity[1] and len(complexity[0]) == 3  # nothing profile-dependent in them


def test_dry_run_lists_every_trial_of_the_paper(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                no_ray: None) -> None:
    weights = tmp_path / "weights"
    weights.mkdir()
    formats = (("IMDN", "pth"), ("SRCNN", "mat"), ("IDN", "caffemodel"))
    released = [f"{name}_x{scale}.{suffix}" for name, suffix in formats for scale in (2, 3, 4)]
    released += ["VDSR_Official.mat", "EFDN_x4.pth"]
    for name in released:
        (weights / name).write_bytes(b"")  # only their presence is checked before a run
    # --no-price: the listing is what is checked here; pricing the grid would calibrate its ~40 kinds, minutes on a
    # cold cache (tests/test_pricing.py and the end-to-end test check the prices)
    code, out, err = run_cli(capsys, ABLATIONS / "paper.yaml", "--profile", "smoke", "--dry-run", "--no-price",
                             "--weights-dir", weights, "--results", tmp_path / "results")
    assert code == 0, err
    trials = paper_trials("smoke", weights_dir=weights)
    for trial in trials:
        line = next(line for line in out.splitlines() if line.startswith(trial.trial_id))
        assert trial.feeds_text in line and "1 CPU" in line and line.endswith("to run")
    assert f"{len(trials)} trials (59 requested, 4 merged as duplicates)" in out

    code, out, err = run_cli(capsys, ABLATIONS / "paper.yaml", "--profile", "smoke", "--dry-run", "--no-price",
                             "--results", tmp_path / "results")
    assert code == 2 and "problem: weights files EFDN_x4.pth, IDN_x2.caffemodel, IDN_x3.caffemodel" in out


def test_a_changed_input_makes_a_new_trial(tmp_path: Path) -> None:
    """A benchmark set or weights file that changed on disk is a new trial, never a done one with a stale number."""
    data, weights = tmp_path / "data", tmp_path / "weights"
    (data / "Set5" / "HR").mkdir(parents=True)
    (data / "Set5" / "HR" / "baby.png").write_bytes(b"one")
    weights.mkdir()
    for scale in (2, 3, 4):
        (weights / f"IMDN_x{scale}.pth").write_bytes(b"weights")

    def identities() -> dict[str, str]:
        return {trial.label: trial.trial_id for trial in paper_trials("smoke", data, weights)}

    before = identities()
    assert identities() == before
    (data / "Set5" / "HR" / "bird.png").write_bytes(b"two")
    after_image = identities()
    evaluated = [label for label, identity in before.items() if after_image[label] != identity]
    assert evaluated and all("complexity" not in label for label in evaluated)
    (weights / "IMDN_x3.pth").write_bytes(b"other weights")
    after_weights = identities()
    assert [label for label in before if after_weights[label] != after_image[label]] == ["imdn x3 evaluate IMDN_x3.pth"]


def test_missing_inputs_stop_the_run_before_ray(tmp_path: Path, capsys: pytest.CaptureFixture, no_ray: None) -> None:
    (tmp_path / "Set5").mkdir()
    code, _, err = run_cli(capsys, ABLATIONS / "scacb.yaml", "--data-root", tmp_path, "--results", tmp_path / "r")
    line = single_error_line(err)
    assert code == 2 and "DIV2K not found" in line

    code, _, err = run_cli(capsys, ABLATIONS / "sota.yaml", "--profile", "smoke", "--data-root", tmp_path,
                           "--weights-dir", tmp_path, "--results", tmp_path / "r")
    line = single_error_line(err)
    assert code == 2 and "weights file EFDN_x4.pth not found in the weights folder" in line and str(tmp_path) in line


# --- hostile specs: bounded, one line, exit 2, before Ray ---------------------------------------------------------

def _alias_bomb() -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 10)}]")
    return "\n".join(lines) + f"\ntable: table3\nbase: {BASE}\nvariants: [{{row: OSA, config: {{scacb: *a8}}}}]\n"


@pytest.mark.parametrize("body, expected", [
    (_alias_bomb(), ["limit of 100,000 values"]),
    ("table: table3\nbase: " + "[" * 20000 + "]" * 20000 + "\n", ["nested deeper", "limit of 32"]),
    ("table: table3\nbase: " + "{a: " * 40 + "1" + "}" * 40 + "\n", ["nested deeper", "limit of 32"]),
    ("? [a, b]\n: 1\ntable: table3\n", ["unhashable key"]),
    (f"table: table3\nbase: {BASE}\nvariants: [{{row: 'OSA}}'}}]\n", ["variants[0].row", "cannot fill", "brace"]),
    ("table: table5\nbase: {model: imdn, scale: 4, mode: evaluate, eval: [Set5], weights: 'IMDN_{scale.pth'}\n"
     "variants: [{row: IMDN}]\n", ["base.weights", "cannot fill"]),
    (f"table: table3\nbase: {BASE}\nseeds: [18446744073709551616]\nvariants: [{{row: OSA}}]\n",
     ["seeds[0]", "less than or equal to 9223372036854775807"]),
    (f"table: table3\nbase: {BASE}\nvariants: [{{row: OSA, config: {{n_mreb: '6'}}}}]\n",
     ["variants[0].config.n_mreb", "'6'"]),
    (f"table: table3\nbase: {BASE}\nvariants: [{{row: {'x' * 300}}}]\n", ["variants[0].row", "at most 200"]),
    (f"table: table1\nbase: {BASE}\n"
     f"grid: {{config: {{comm_weight: [{', '.join(str(i / 1000) for i in range(1000))}]}}}}"
     "\nseeds: [" + ", ".join(str(i) for i in range(11)) + "]\nrow: '6'\n", ["11,000 trials", "limit of 10,000"]),
])
def test_hostile_spec_is_one_line_error(body: str, expected: list[str], tmp_path: Path, capsys: pytest.CaptureFixture,
                                        no_ray: None) -> None:
    spec = write(tmp_path, "hostile.yaml", body)
    code, _, err = run_cli(capsys, spec, "--profile", "smoke", "--results", tmp_path / "results")
    line = single_error_line(err)
    assert code == 2, err
    for fragment in expected:
        assert fragment in line, (fragment, line)
    assert len(line) < 400
    assert not (tmp_path / "results").exists()


def test_spec_that_is_not_a_regular_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                    no_ray: None) -> None:
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)  # reading it would block forever
    code, _, err = run_cli(capsys, fifo, "--profile", "smoke", "--results", tmp_path / "results")
    assert code == 2 and "not a regular file" in single_error_line(err)
    code, _, err = run_cli(capsys, tmp_path, "--profile", "smoke", "--results", tmp_path / "results")
    assert code == 2 and "is a folder, not a file" in single_error_line(err)


def test_trial_ids_are_those_of_the_committed_reference(shared_dir: Path) -> None:
    """The smoke grid resolves to the trial ids and configs of results/reference/smoke.json: a refactor that moved
    or retyped the config would orphan every existing record and the drift gate's reference."""
    reference = json.loads((REPO_ROOT / "results" / "reference" / "smoke.json").read_text())["trials"]
    settings = RunSettings("smoke", Path("unused"), data_root=shared_dir / "benchmarks",
                           weights_dir=shared_dir / "weights")
    trials = resolve_trials(load_spec(REPO_ROOT / "ablations" / "paper.yaml"), settings)
    assert {trial.trial_id for trial in trials} == set(reference)
    for trial in trials:
        assert trial.config.to_json() == reference[trial.trial_id]["config"], trial.label
