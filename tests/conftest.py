"""Shared fixtures: real example data and the shared instrument-file folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Qt must never try to open a display in tests.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

CASES = Path(__file__).resolve().parents[2] / "shared" / "cases"


@pytest.fixture(scope="session")
def coffee():
    from specgan_gui.io.examples import load_example

    return load_example("coffee")


@pytest.fixture(scope="session")
def fermentation():
    from specgan_gui.io.examples import load_example

    return load_example("fermentation")


@pytest.fixture
def cases_dir():
    if not CASES.is_dir():
        pytest.skip(f"real instrument files not found at {CASES}")
    return CASES
