"""The CI job: the whole paper grid at the smoke budget, its report, and the drift check against the committed
smoke reference (results/reference/smoke.json). Regenerate the reference deliberately with

    python -m harness run ablations/paper.yaml --profile smoke --data-root ../shared/benchmarks \
        --weights-dir ../shared/weights --results /tmp/smoke
    python -m harness check --results /tmp/smoke --reference results/reference/smoke.json --update
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.paper import load_paper
from harness.tables import build_tables, load_records

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE = REPO_ROOT / "results" / "reference" / "smoke.json"


@pytest.fixture(scope="module")
def smoke_results(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("smoke") / "results"
    command = [sys.executable, "-m", "harness", "run", "ablations/paper.yaml", "--profile", "smoke",
               "--data-root", str(shared_dir / "benchmarks"), "--weights-dir", str(shared_dir / "weights"),
               "--results", str(results)]
    process = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=3600)
    assert process.returncode == 0, process.stdout[-4000:] + process.stderr[-4000:]
    return results


def test_every_trial_of_tables_1_to_6_has_a_record(smoke_results: Path, shared_dir: Path) -> None:
    listing = subprocess.run([sys.executable, "-m", "harness", "run", "ablations/paper.yaml", "--profile", "smoke",
                              "--dry-run", "--data-root", str(shared_dir / "benchmarks"),
                              "--weights-dir", str(shared_dir / "weights"), "--results", str(smoke_results)],
                             cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert listing.returncode == 0, listing.stderr
    records = load_records(smoke_results)
    assert len(records) >= 40
    assert "to run" not in listing.stdout  # every listed trial is done
    fed = {feed.table for record in records for feed in record.feeds}
    assert fed == {f"table{n}" for n in range(1, 7)}


def test_report_renders_tables_figures_and_latex(smoke_results: Path) -> None:
    out = smoke_results / "report"
    assert main(["report", "--results", str(smoke_results), "--out", str(out)]) == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert sorted(p.name for p in (out / "latex").glob("*.tex")) == [f"table{n}.tex" for n in range(1, 7)]
    assert len(list((out / "figures").glob("*.png"))) >= 5
    for n in range(1, 7):
        assert f'data-table="table{n}"' in html


def test_imdn_released_weights_show_zero_difference_in_table_5(smoke_results: Path) -> None:
    table5 = build_tables(load_paper(), load_records(smoke_results))["table5"].frame
    for scale in (2, 3, 4):
        row = table5.loc[(scale, "IMDN")]
        for dataset in ("Set5", "Set14"):
            assert f"{row[(f'PSNR({dataset})', 'diff')]:+.2f}" in ("+0.00", "-0.00"), (scale, dataset)
            assert f"{row[(f'SSIM({dataset})', 'diff')]:+.4f}" in ("+0.0000", "-0.0000"), (scale, dataset)


def test_no_drift_against_the_committed_smoke_reference(smoke_results: Path, capsys: pytest.CaptureFixture) -> None:
    reference = json.loads(REFERENCE.read_text())
    assert len(reference["trials"]) >= 40
    code = main(["check", "--results", str(smoke_results), "--reference", str(REFERENCE)])
    assert code == 0, capsys.readouterr().out
