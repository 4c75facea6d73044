"""The scripts in benchmarks/ are run by hand (and test_kernels runs one), so a moved harness name would break them
silently: every harness name they import, at the top or inside a function, must exist."""

import ast
import importlib

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


def run_script(name: str, *argv: str) -> str:
    import subprocess
    import sys

    process = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / name), *argv], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stderr
    return process.stdout


@pytest.mark.slow
def test_imresize_speed_runs_in_its_small_mode() -> None:
    out = run_script("imresize_speed.py", "--height", "40", "--width", "60", "--repeats", "1")
    assert "x4: dense" in out and "x2: dense" in out and out.count("identical output") == 2


@pytest.mark.slow
def test_div2k_startup_runs_in_its_small_mode() -> None:
    out = run_script("div2k_startup.py", "--images", "3", "--long-side", "256", "--threads", "1")
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
