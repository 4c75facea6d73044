"""The example of docs/design.md, "Running a grid from Python", runs as written: on a two-trial grid."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from processes import kill_group
from tiny_grid import tiny_spec

from harness.records import load_records
from harness.results_layout import ResultsLayout


SECTION = "## Running a grid from Python"


def example() -> str:
    design = (REPO_ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    section = design.split(SECTION, 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    return block


@pytest.mark.slow
@pytest.mark.ray
def test_the_design_docs_python_example_runs_as_written(tmp_path: Path) -> None:
    code = example()
    spec = re.search(r'run_grid\("([^"]+)"', code).group(1)
    (tmp_path / spec).parent.mkdir(parents=True)
    tiny_spec(tmp_path).rename(tmp_path / spec)  # the spec the example names, made tiny
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MREN_")}
    process = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=environment, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=600)
    finally:
        kill_group(process.pid)
    assert process.returncode == 0, output
    assert "2 finished, 0 failed, 0 already done" in output
    results = re.search(r'results_dir=Path\("([^"]+)"\)', code).group(1)
    written = load_records(tmp_path / results)
    assert len(written) == 2 and all(record.trial_id in output for record in written)
    assert ResultsLayout(tmp_path / results).run_state.is_file()  # the command's sinks, by default
