"""Shared fixtures: tiny mixed tables built in code, and bundled real data."""

from __future__ import annotations

import pandas as pd
import pytest

from _data import make_mixed_frame


@pytest.fixture
def mixed_frame() -> pd.DataFrame:
    return make_mixed_frame()


@pytest.fixture(scope="session")
def pbc():
    from synthmed import load_dataset

    return load_dataset("pbc")
