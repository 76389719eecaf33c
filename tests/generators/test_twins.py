"""Columns another column determines, found on a sample of a large table (generators/_twins)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

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


def _near_copies(n: int, alone: int, differ: int = 0) -> pd.DataFrame:
    """``hdl`` and ``chol`` equal wherever both are recorded (as in the whole nafld2 export),
    ``chol`` left out on ``alone`` rows where ``hdl`` is recorded, different on ``differ``."""
    rng = np.random.default_rng(1)
    hdl = np.where(rng.random(n) < 0.8, rng.normal(50, 12, n).round(0), np.nan)
    chol = hdl.copy()
    recorded = np.flatnonzero(np.isfinite(hdl))
    chol[recorded[:alone]] = np.nan
    chol[recorded[alone:alone + differ]] += 1
    return pd.DataFrame({"hdl": hdl, "chol": chol, "age": rng.integers(20, 90, n)})


def test_a_copy_missing_on_a_few_rows_is_still_written_from_its_source(tmp_path):
    from synthmed.generators import get_generator, load_generator

    frame = _near_copies(3_000, alone=2)
    schema = infer_schema(frame)
    found = _twins.find_twins(coerce_table(frame, schema), schema)
    assert found == [_twins.Twin("chol", "hdl", unmatched=2)]
    assert "2 training rows recorded only one" in _twins.twins_note(found)
    gen = get_generator("gaussian_copula").fit(frame, schema=schema, random_state=0)
    synth = gen.sample(1_000, random_state=0)
    assert synth["chol"].equals(synth["hdl"]) and synth["hdl"].isna().any()
    again = load_generator(gen.save(tmp_path / "m"))
    assert again.twins_ == gen.twins_
    pd.testing.assert_frame_equal(again.sample(1_000, random_state=0), synth)


@pytest.mark.parametrize(("n", "alone", "differ"), [
    (3_000, 0, 1),   # one recorded pair of different values: two facts
    (3_000, 5, 0),   # recorded apart on more than 0.1 % of the rows
    (800, 1, 0),     # too few rows for one to differ by chance of the export
])
def test_columns_that_differ_are_not_near_copies(n, alone, differ):
    frame = _near_copies(n, alone, differ)
    schema = infer_schema(frame)
    assert _twins.find_twins(coerce_table(frame, schema), schema) == []


def test_a_near_copy_in_a_large_table_is_checked_on_every_row(monkeypatch):
    frame = _near_copies(12_000, alone=3)  # 9,600 recorded: up to 9 may differ
    schema = infer_schema(frame)
    monkeypatch.setattr(_twins, "SEARCH_ROWS", 5_000)
    found = _twins.find_twins(coerce_table(frame, schema), schema)
    assert found == [_twins.Twin("chol", "hdl", unmatched=3)]  # the whole table's count
    frame.loc[frame["hdl"].last_valid_index(), "chol"] = -1.0  # beyond the sample
    assert _twins.find_twins(coerce_table(frame, schema), schema) == []


def _ward_flag(wards: int, rows_per_ward: int) -> pd.DataFrame:
    """A ward coded as a number and a flag set on every row of one ward (its ICU; a middle
    code, so not bands of the number)."""
    ward = np.repeat(np.arange(wards) * 3 + 10, rows_per_ward)
    return pd.DataFrame({"ward": ward, "icu": (ward == 16).astype(int),
                         "age": np.random.default_rng(2).integers(20, 90, len(ward))})


@pytest.mark.parametrize(("rows", "found"), [
    (10, False),  # 24 wards of 10 rows: the ten flagged rows fall in one ward about once in
                  # 20,000 draws
    (20, True),   # once in 10^9 draws: the ward sets it
])
def test_a_number_code_determines_a_column_only_beyond_chance(rows, found):
    frame = _ward_flag(24, rows)
    schema = infer_schema(frame)
    twins = _twins.find_twins(coerce_table(frame, schema), schema)
    assert [(t.column, t.source, t.kind) for t in twins] == (
        [("icu", "ward", "lookup")] if found else [])
    if found:  # a drawn ward between two codes takes the nearest's flag, as it is written
        drawn = twins[0].write(pd.Series([16.0, 17.4, 17.6, 14.6, np.nan]))
        assert drawn.iloc[:4].tolist() == [1, 1, 0, 1] and np.isnan(drawn.iloc[4])


def test_a_code_of_few_rows_or_an_entity_is_no_lookup_source():
    """Codes on two rows each say nothing (any column is constant within them), and a long
    table's patient id determines every static column without being a code to draw."""
    frame = _ward_flag(60, 2)
    schema = infer_schema(frame)
    assert _twins.find_twins(coerce_table(frame, schema), schema) == []
    frame = _ward_flag(24, 10)
    schema = infer_schema(frame)
    schema = replace(schema, columns=tuple(
        replace(c, roles=frozenset({"entity_id"})) if c.name == "ward" else c
        for c in schema.columns))
    assert _twins.find_twins(coerce_table(frame, schema), schema) == []
