"""The worked examples of docs/design.md run as written: a model, an ablation axis with its own rows, an evaluation
protocol and a report table. Each test takes the fenced blocks of one section from the document itself, so an
example that no longer runs fails here."""

import dataclasses
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from conftest import REPO_ROOT
from factories import write_record, write_results

from harness import cli, records
from harness.data.benchmark import open_benchmark
from harness.evaluation import protocols
from harness.evaluation.evaluate import evaluate
from harness.experiment import spec as spec_module
from harness.experiment.spec import load_spec
from harness.records import Feed
from harness.registry import build_model, make_config
from harness.reporting import figures
from harness.reporting.latex import latex_table
from harness.reporting.tables import build_tables
from harness.reporting.views import table_view


DESIGN = REPO_ROOT / "docs" / "design.md"
_FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def examples(section: str) -> list[tuple[str, str]]:
    """(language, text) of each fenced block under the `## {section}` heading, in order."""
    text = DESIGN.read_text(encoding="utf-8")
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    return [(match.group(1), match.group(2)) for match in _FENCE.finditer(text[start:end if end > 0 else None])]


def write_example(folder: Path, text: str) -> Path:
    """The block written where its first line (`# path`) says, under `folder`."""
    name = re.match(r"# (\S+)", text).group(1).rstrip(":")
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_model_example_registers_and_passes_the_model_checks(tmp_path: Path) -> None:
    (module_language, module), (registration_language, registration) = examples("Adding a model (a new baseline)")
    assert module_language == registration_language == "python"
    module_file = write_example(tmp_path, module)
    # a fresh interpreter: the registration is the registry's own line, run in the registry's namespace, and the
    # module sits in a folder that extends the `baselines` package (the checkout stays as it is)
    program = textwrap.dedent("""\
        import sys

        import baselines
        baselines.__path__.append(sys.argv[1])
        from harness import registry
        exec(sys.argv[2], vars(registry))
        sys.path.insert(0, sys.argv[3])
        from model_checks import check_forward_and_backward
        for scale in registry.entry("espcn").scales:
            check_forward_and_backward(registry.build_model("espcn", registry.make_config("espcn", scale)), scale)
        print(registry.entry("espcn").scales, registry.make_config("espcn", 3))
        """)
    done = subprocess.run([sys.executable, "-c", program, str(module_file.parent), registration,
                           str(REPO_ROOT / "tests")], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(2, 3, 4) ESPCNConfig(scale=3, channels=64)"


def test_the_ablation_axis_example_adds_its_own_rows_to_the_papers_table(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture) -> None:
    [(language, text)] = examples("Adding an ablation axis")
    assert language == "yaml"
    spec = write_example(tmp_path, text)
    trials = load_spec(spec)
    assert [trial.feed for trial in trials] == [Feed(table="table3", row=f"reduction {width}") for width in (3, 6, 12)]
    assert [trial.model_config.wsilb_reduction for trial in trials] == [3, 6, 12]
    assert cli.main(["run", str(spec), "--profile", "smoke", "--dry-run", "--results",
                     str(tmp_path / "results")]) == 0
    assert capsys.readouterr().out.count("table3:reduction") == 3
    # in the report: the spec's row beside the paper's, which keep their printed values
    results = write_results(tmp_path / "records")
    write_record(results, "narrow", feeds=[("table3", "reduction 3")], metrics={"Set5": (32.0, 0.893)},
                 model_config={"wsilb_reduction": 3})
    paper = spec_module.load_paper()
    table = build_tables(paper, records.load_records(results))["table3"]
    assert table.rows.loc["reduction 3", "status"] == "not in paper"
    assert table.frame.loc["reduction 3", ("PSNR(Set5)", "reproduced")] == pytest.approx(32.0)
    assert table.frame.loc["SCACB", ("PSNR(Set5)", "paper")] == paper.value("table3", "SCACB", "psnr_y", "Set5").value


def test_the_protocol_example_scores_under_its_conventions(tmp_path: Path, request: pytest.FixtureRequest,
                                                           capsys: pytest.CaptureFixture) -> None:
    [(language, text)] = examples("Adding an evaluation protocol")
    assert language == "python"
    # The example's entry ends with the test: the registry gets its own entries back afterwards.
    saved = dict(protocols.PROTOCOLS)
    request.addfinalizer(lambda: (protocols.PROTOCOLS.clear(), protocols.PROTOCOLS.update(saved)))
    exec(text, {})
    benchmark = tmp_path / "set"
    (benchmark / "HR").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("one", "two"):
        Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)).save(benchmark / "HR" / f"{name}.png")
    bicubic = build_model("bicubic", make_config("bicubic", 4))
    score = evaluate(bicubic, open_benchmark(benchmark, 4), protocols=("common", "full-frame"))
    full_frame = score.protocols["full-frame"]
    assert full_frame.conventions["border"] == "not cropped: every pixel is scored"
    assert full_frame.psnr_y != pytest.approx(score.psnr_y, abs=1e-6)  # the border counts now
    out = tmp_path / "out.json"
    assert cli.main(["eval", "--model", "bicubic", "--protocol", "full-frame", "--data", str(benchmark), "--scale",
                     "4", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["psnr_y"] == pytest.approx(full_frame.psnr_y)
    assert "protocol full-frame" in capsys.readouterr().out


def test_the_report_table_example_is_a_table_of_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (entry_language, entry), (spec_language, spec_text) = examples("Adding a report table")
    assert (entry_language, spec_language) == ("json", "yaml")
    paper = spec_module.load_paper()
    transcription = sys.modules[type(paper).__module__]  # wherever the transcription's types live
    [(name, fields)] = json.loads("{" + entry + "}").items()
    added = transcription.PaperTable.model_validate({"name": name, **fields})
    extended = dataclasses.replace(paper, tables={**paper.tables, name: added})
    monkeypatch.setattr(spec_module, "load_paper", lambda: extended)
    trials = load_spec(write_example(tmp_path, spec_text))
    assert [trial.feed for trial in trials] == [Feed(table=name, row=row) for row in ("3", "6", "12")]

    results = write_results(tmp_path / "records")
    for width, psnr in ((3, 31.9), (6, 32.1)):
        write_record(results, f"width{width}", feeds=[(name, str(width))], metrics={"Set5": (psnr, 0.89)},
                     model_config={"wsilb_reduction": width})
    table = build_tables(extended, records.load_records(results))[name]
    assert list(table.rows["status"]) == ["reproduced", "reproduced", "not run"]
    assert table.frame.loc["3", ("PSNR(Set5)", "delta_ref")] == pytest.approx(-0.2)
    assert "Width of the WSILB-V bottleneck" in latex_table(table_view(table))
    drawn = figures.table_figure(table)
    assert drawn.name == "psnr_vs_wsilb_reduction" and drawn.title.endswith("(Table 7)")
