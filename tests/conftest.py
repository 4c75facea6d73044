import os
from pathlib import Path

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
