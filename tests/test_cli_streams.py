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


def test_a_closed_standard_output_is_no_traceback(tmp_path: Path) -> None:
    """`>&-` (or a daemon without a terminal): the command does its work, what it would print is dropped."""
    out = tmp_path / "Set5x2"
    command = (f"{sys.executable} -m harness list models >&- && "
               f"{sys.executable} -m harness degrade --hr {tmp_path / 'none'} --scale 2 --out {out} >&-")
    process = subprocess.run(["bash", "-c", command], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in process.stderr, process.stderr
    assert process.returncode == 2 and process.stderr.startswith("error:") and process.stderr.count("\n") == 1
    closed_both = subprocess.run(["bash", "-c", f"{sys.executable} -m harness list specs >&- 2>&-"], cwd=REPO_ROOT,
                                 capture_output=True, text=True, timeout=120)
    assert closed_both.returncode == 0
