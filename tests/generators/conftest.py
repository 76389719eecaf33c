"""Fixtures shared by the generator-specific tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import synthmed


@pytest.fixture(scope="module")
def pbc_split() -> tuple[pd.DataFrame, pd.DataFrame, synthmed.schema.TableSchema]:
    """pbc shuffled once: 300 training rows, the other 118 as holdout, and the schema."""
    data = synthmed.load_dataset("pbc")
    order = np.random.default_rng(7).permutation(len(data.frame))
    frame = data.frame.iloc[order].reset_index(drop=True)
    return frame.iloc[:300].reset_index(drop=True), frame.iloc[300:], data.schema
