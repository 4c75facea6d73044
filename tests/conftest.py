import os
from pathlib import Path
from typing import Iterator

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"  # ../shared beside the repository root, read-only


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared (benchmarks, released weights, paper). Under CI its absence is a failure, not a skip."""
    if not (SHARED_DIR / "benchmarks").is_dir():
        message = f"reference data not found at {SHARED_DIR} (expected ../shared beside the repository root)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_DIR


@pytest.fixture(scope="session", autouse=True)
def own_calibration_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Grid runs price themselves from calibrations cached per user (harness/experiment/pricing.py). The tests use a
    cache of their own, made in this session: a user's cache, measured under another load, would make the tests'
    projections depend on what ran on this machine before."""
    from harness.experiment.pricing import CACHE_VARIABLE

    cache = tmp_path_factory.mktemp("calibration-cache")
    previous = os.environ.get(CACHE_VARIABLE)
    os.environ[CACHE_VARIABLE] = str(cache)
    yield cache
    if previous is None:
        os.environ.pop(CACHE_VARIABLE, None)
    else:
        os.environ[CACHE_VARIABLE] = previous


@pytest.fixture
def one_thread() -> Iterator[None]:
    """What a 1-CPU Ray task runs with; several threads on a loaded 2-core machine can be many times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
