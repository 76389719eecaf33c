"""Columns another column determines, found on a sample of a large table (generators/_twins)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthmed import infer_schema
from synthmed.generators import _twins
from synthmed.schema import coerce_table


def test_a_large_table_is_searched_on_a_sample_and_checked_on_every_row(monkeypatch):
    rng = np.random.default_rng(0)
    n = 2_000
    arm = rng.choice(["a", "b", "c"], n)
    site = rng.choice(["x", "y"], n)
    frame = pd.DataFrame({"arm": arm, "arm_code": pd.Series(arm).map({"a": 1, "b": 2, "c": 3}),
                          "site": site, "site_code": np.where(site == "x", 1, 2),
                          "age": rng.integers(20, 90, n)})
    outside = np.setdiff1d(np.arange(n), np.random.default_rng(0).choice(n, 200, replace=False))
    frame.loc[outside[0], "site_code"] = 1 if site[outside[0]] == "y" else 2  # one row breaks it
    schema = infer_schema(frame)
    checked: list[str] = []
    holds = _twins._holds

    def spy(twin, full):
        checked.append(twin.column)
        return holds(twin, full)

    monkeypatch.setattr(_twins, "SEARCH_ROWS", 200)
    monkeypatch.setattr(_twins, "_holds", spy)
    found = _twins.find_twins(coerce_table(frame, schema), schema)
    assert [t.column for t in found] == ["arm_code"]
    assert checked == ["arm_code", "site_code"]  # seen in the sample, refuted by every row
