"""Tiny tables built in code for tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_mixed_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """A small clinical-looking table with every column kind and missing values."""
    rng = np.random.default_rng(seed)
    age = rng.normal(60, 12, n).round(1)
    sex = rng.choice(["f", "m"], n)
    bili = np.exp(rng.normal(0.3 + 0.01 * (age - 60), 0.8, n)).round(2)
    bili[rng.random(n) < 0.1] = np.nan
    stage = rng.choice([1, 2, 3, 4], n, p=[0.1, 0.3, 0.4, 0.2])
    died = (rng.random(n) < 0.2 + 0.1 * (stage >= 3)).astype(bool)
    visits = rng.poisson(4, n)
    admitted = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    admitted = pd.Series(admitted).where(rng.random(n) > 0.05)
    ward = rng.choice([f"w{i:03d}" for i in range(40)], n)
    return pd.DataFrame(
        {
            "patient_id": [f"P{i:05d}" for i in range(n)],
            "age": age,
            "sex": sex,
            "bili": bili,
            "stage": stage,
            "died": died,
            "visits": visits,
            "admitted": admitted,
            "ward": ward,
            "site": "north",  # constant
        }
    )
