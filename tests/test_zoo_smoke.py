"""The CI job for the released models beyond Table 5 (issue 20): `ablations/zoo.yaml` at the smoke budget (evaluation
only: every released file of LatticeNet, PAN and CARN-M on Set5, under every protocol of its registry entry) and its
drift check against its own committed reference, results/reference/zoo-smoke.json. A separate reference from
results/reference/smoke.json (tests/test_end_to_end.py), so that either can be regenerated alone:

    python -m harness run ablations/zoo.yaml --profile smoke --data-root ../shared/benchmarks \\
        --weights-dir ../shared/weights --results /tmp/zoo-smoke
    python -m harness check --results /tmp/zoo-smoke --reference results/reference/zoo-smoke.json --update

Nothing here trains: the numbers are float32 inference of released weights, which the reference's tolerances
(0.02 dB, 0.0005 SSIM) hold across CPUs by a wide margin.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from harness.records import load_records

pytestmark = [pytest.mark.slow, pytest.mark.ray]  # one grid run, which starts Ray

REFERENCE = REPO_ROOT / "results" / "reference" / "zoo-smoke.json"
SPEC = REPO_ROOT / "ablations" / "zoo.yaml"
MODELS = {"latticenet": ("common", "edsr-test", "edsr-test+x8"), "pan": ("common", "basicsr-test"),
          "carn_m": ("common", "carn-sample")}


@pytest.fixture(scope="module")
def zoo_results(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("zoo-smoke") / "results"
    command = [sys.executable, "-m", "harness", "run", str(SPEC), "--profile", "smoke", "--data-root",
               str(shared_dir / "benchmarks"), "--weights-dir", str(shared_dir / "weights"), "--results",
               str(results), "--cpus-per-trial", "1"]
    process = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=3600)
    assert process.returncode == 0, process.stdout[-4000:] + process.stderr[-4000:]
    return results


def test_every_released_file_is_scored_under_every_protocol(zoo_results: Path) -> None:
    records = load_records(zoo_results)
    assert sorted((record.config.model, record.config.scale) for record in records) == sorted(
        (model, scale) for model in MODELS for scale in (2, 3, 4))
    for record in records:
        assert record.config.mode == "evaluate" and record.training is None
        evaluation = record.metrics["Set5"]
        assert (evaluation.protocol, *evaluation.protocols) == MODELS[record.config.model]


def test_no_drift_against_the_committed_zoo_reference(zoo_results: Path) -> None:
    reference = json.loads(REFERENCE.read_text())
    assert len(reference["trials"]) == 9
    process = subprocess.run([sys.executable, "-m", "harness", "check", "--results", str(zoo_results),
                              "--reference", str(REFERENCE)], cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=600)
    assert process.returncode == 0, process.stdout + process.stderr
    assert process.stdout.startswith("no drift:")
