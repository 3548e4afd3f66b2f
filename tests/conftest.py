"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")  # no screen in CI

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_mnist_dir() -> Path:
    """The four real MNIST files for development and CI; tests that need them skip without them."""
    candidates = [os.environ.get("MNIST_DIR"), REPO_ROOT.parent / "shared" / "data" / "mnist"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "train-images-idx3-ubyte.gz").is_file():
            return Path(candidate)
    pytest.skip("full MNIST files not available (set MNIST_DIR)")


NEEDS_FULL_MNIST = ("08_full_mnist_and_deeper.ipynb", "08_full_mnist_and_deeper_answers.ipynb")


def pytest_collection_modifyitems(config, items):
    """nbval compares the outputs of notebook 08 and of its answers notebook, which are computed on full MNIST:
    without the full data (MNIST_DIR, or a verified download in the cache) they cannot match, so skip them.
    CI always has the data (.ci/run sets MNIST_DIR), and there a skip would hide a failure."""
    from cnn_lib.data import full_mnist_available

    if full_mnist_available() or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason="needs full MNIST: set MNIST_DIR or run python -m cnn_lib.data --download")
    for item in items:
        if Path(str(item.fspath)).name in NEEDS_FULL_MNIST and "browser" not in item.keywords:
            item.add_marker(skip)
