"""The command line on odd streams: a reader that goes away (`| head`), a terminal that cannot show "×"."""

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT

SEEDS = ", ".join(str(seed) for seed in range(3000))
SPEC = f"""table: table3
base: {{model: mren, config: {{n_mreb: 6}}, scale: 4, epochs: 900, eval: [Set5]}}
variants: [{{row: OSA, config: {{scacb: osa}}}}]
seeds: [{SEEDS}]
"""


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    spec = tmp_path / "many.yaml"
    spec.write_text(SPEC)
    command = f"{sys.executable} -m harness run {spec} --profile smoke --dry-run --results {tmp_path / 'r'} | head -1"
    process = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=300)
    assert process.stdout.startswith(str(spec)) and process.stdout.count("\n") == 1
    assert "Traceback" not in process.stderr and "BrokenPipe" not in process.stderr, process.stderr
    assert process.returncode == 141


def test_an_ascii_terminal_gets_escapes_not_a_crash(tmp_path: Path) -> None:
    process = subprocess.run([sys.executable, "-m", "harness", "check", "--results", str(tmp_path / "results×"),
                              "--reference", str(tmp_path / "reference.json")], cwd=REPO_ROOT, capture_output=True,
                             env={**os.environ, "PYTHONIOENCODING": "ascii", "LC_ALL": "C"}, timeout=120)
    assert process.returncode == 2, process.stderr
    assert b"Traceback" not in process.stderr and b"\\xd7" in process.stderr
