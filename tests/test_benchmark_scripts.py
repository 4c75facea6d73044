"""The scripts in benchmarks/ are run by hand (and test_kernels runs one), so a moved harness name would break them
silently: every harness name they import, at the top or inside a function, must exist."""

import ast
import importlib
import json
import re
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

SCRIPTS = sorted((REPO_ROOT / "benchmarks").glob("*.py"))


def harness_imports(source: str) -> list[tuple[str, str | None]]:
    """(module, name) of every `from harness... import name` and (module, None) of every `import harness...`."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "harness":
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names if alias.name.split(".")[0] == "harness"]
    return found


def missing_names(source: str) -> list[str]:
    missing = []
    for module_name, name in harness_imports(source):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            missing.append(module_name)
            continue
        if name is not None and not hasattr(module, name):
            try:
                importlib.import_module(f"{module_name}.{name}")  # a submodule
            except ImportError:
                missing.append(f"{module_name}.{name}")
    return missing


def test_the_check_finds_a_moved_name() -> None:
    source = "def f():\n    from harness.data.training import training_data\n    from harness.records import Gone\n"
    assert missing_names(source) == ["harness.data.training.training_data", "harness.records.Gone"]
    assert missing_names("from harness.nowhere import x\n") == ["harness.nowhere"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_every_harness_name_a_benchmark_imports_exists(script) -> None:
    assert missing_names(script.read_text()) == []


def _run_script(script: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / script), *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_train_throughput_small_mode_prints_every_section() -> None:
    out = _run_script("train_throughput.py", "--small", "--threads", "1").stdout
    assert "harness / bare" in out
    ops = dict(re.findall(r"^  (\w+)\s+(\d+)\s+\d+  ", out, re.M))
    assert {"mren", "imdn", "carn"} <= set(ops) and "bicubic" not in ops  # every trainable model, no other
    assert int(ops["mren"]) > int(ops["imdn"]) > 0
    assert re.search(r"compiled / eager\s+\d+\.\d+", out)
    assert re.search(r"bf16 \+ channels_last\s+\d+\.\d+ steps/s", out)


@pytest.mark.slow
def test_gpu_check_small_mode_writes_its_figures(tmp_path) -> None:
    out = _run_script("gpu_check.py", "--small", "--out", str(tmp_path), "--budget-s", "3000").stdout
    figures = json.loads((tmp_path / "gpu_check.json").read_text())
    configs = [row["config"] for row in figures["steps"]]
    assert configs == ["eager fp32", "bf16", "bf16 + channels_last", "compiled", "compiled + CUDA graphs"]
    assert all(row.get("steps_per_second", 0) > 0 for row in figures["steps"]), figures["steps"]
    cudagraphs = figures["steps"][-1]
    assert cudagraphs["execution"] == "compiled" and "CUDA graphs need a CUDA device" in cudagraphs["note"]
    assert [row["trials"] for row in figures["packing"]] == [1, 2]
    assert all(row.get("aggregate_steps_per_second", 0) > 0 for row in figures["packing"]), figures["packing"]
    assert figures["loader"]["patches_per_second"] > 0 and figures["loader"]["step_appetite"] > 0
    projection = figures["projection"]  # the small mode prices the smoke Table 3 by the same code
    assert projection["exit"] == 0 and "scacb.yaml --profile smoke" in projection["command"], projection
    assert projection["device_hours"] is not None and projection["device_hours"] > 0, projection
    assert figures["table3"]["exit"] == 0 and "--dry-run" in figures["table3"]["command"]
    assert figures["skipped"] == []
    assert "| x4 | compiled + CUDA graphs |" in (tmp_path / "gpu_check.md").read_text()
    assert "figures in" in out


@pytest.mark.slow
def test_imresize_speed_runs_in_its_small_mode() -> None:
    out = _run_script("imresize_speed.py", "--height", "40", "--width", "60", "--repeats", "1").stdout
    assert "x4: dense" in out and "x2: dense" in out and out.count("identical output") == 2


@pytest.mark.slow
def test_div2k_startup_runs_in_its_small_mode() -> None:
    out = _run_script("div2k_startup.py", "--images", "3", "--long-side", "256", "--threads", "1").stdout
    for phase in ("cold", "warm"):
        assert f"{phase}: first iteration's batch after" in out and "peak RSS" in out and "cache" in out
    assert "within the 2 GB bound" in out


def test_patch_throughput_runs_in_its_small_mode() -> None:
    """benchmarks/train_throughput.py's patch stream section, which benchmarks/gpu_check.py also calls."""
    import io
    import sys
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    try:
        from train_throughput import patch_throughput
    finally:
        sys.path.remove(str(REPO_ROOT / "benchmarks"))
    out = io.StringIO()
    figures = patch_throughput(small=True, batches=2, repeats=1, workers=1, device="cpu", out=out)
    assert set(figures) == {"x4", "x2"}
    for rates in figures.values():
        assert "old: float per sample, in process" in rates and all(rate > 0 for rate in rates.values())
    assert "patches/CPU-s" in out.getvalue()
