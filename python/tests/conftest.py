"""Shared by the tests: the package from this checkout (python/), the repository's
paths, and small data sets."""
import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))

# tests/python-test.sh names the library it built (BACKPROP_LIBRARY) and the program.
BUILD = os.environ.get("BACKPROP_BUILD", os.path.join(REPO, "build"))
PROGRAM = os.path.join(BUILD, "backprop")


@pytest.fixture
def program():
    if not os.access(PROGRAM, os.X_OK):
        pytest.skip("the backprop program is not built (%s)" % PROGRAM)
    return PROGRAM


@pytest.fixture
def blobs():
    """Three separable classes in 4 dimensions, float32 (a C-contiguous array)."""
    rng = np.random.RandomState(0)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], np.float32)
    y = rng.randint(0, 3, 300)
    X = (centers[y] + rng.normal(0, 0.5, (300, 4))).astype(np.float32)
    return X, y
