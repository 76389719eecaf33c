"""Columns recorded only where a category says so, found at fit (generators/_gates); the
conformance suite checks every generator keeps them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthmed import infer_schema
from synthmed.generators import _gates
from synthmed.generators._twins import find_twins
from synthmed.schema import coerce_table


def _found(frame: pd.DataFrame, **roles: str) -> list[tuple[str, str, tuple]]:
    schema = infer_schema(frame, **roles)
    table = coerce_table(frame, schema)
    return [(g.column, g.source, g.recorded)
            for g in _gates.find_gates(table, schema, find_twins(table, schema))]


def _cohort(rng: np.random.Generator, n: int) -> pd.DataFrame:
    died = rng.random(n) < 0.3
    sex = rng.choice(["F", "M"], n)
    return pd.DataFrame({
        "age": rng.integers(20, 90, n), "sex": sex,
        "previous_pregnancies": np.where(sex == "F", rng.integers(0, 4, n), np.nan),
        "died": died, "death_year": np.where(died, rng.integers(1983, 1993, n), np.nan)})


def test_a_column_blank_by_design_is_found_with_the_levels_that_record_it():
    rng = np.random.default_rng(0)
    frame = _cohort(rng, 300)
    assert _found(frame) == [("previous_pregnancies", "sex", ("F",)),
                             ("death_year", "died", (True,))]
    # the target is tried first as a source, and is never gated itself
    assert _found(frame, target="died")[1] == ("death_year", "died", (True,))


def test_blanks_that_chance_or_a_small_level_explain_are_not_a_rule():
    rng = np.random.default_rng(1)
    n = 300
    frame = pd.DataFrame({"site": rng.choice(["a", "b", "c"], n),
                          "crp": np.where(rng.random(n) < 0.02, np.nan, rng.normal(5, 1, n))})
    assert _found(frame) == []  # six blanks all at one site by chance: none here
    few = pd.DataFrame({"arm": ["x"] * 40 + ["y"] * 3,
                        "dose": [1.0] * 40 + [np.nan] * 3})
    assert _found(few) == []  # a level of three rows: chance
    rare = pd.DataFrame({"arm": ["x", "y"] * 4, "dose": [1.0, np.nan] * 4})
    assert _found(rare) == []  # eight rows: chance gives that one time in 256


def test_columns_blank_on_the_same_rows_share_one_source_not_each_other():
    """pbc's trial measures are blank for the patients outside the trial: gated in a cycle,
    the blanks of either would win."""
    rng = np.random.default_rng(2)
    n = 300
    outside = rng.random(n) < 0.25
    frame = pd.DataFrame({
        "trt": np.where(outside, np.nan, rng.integers(1, 3, n)),
        "ascites": np.where(outside, np.nan, rng.integers(0, 2, n)),
        "alk_phos": np.where(outside, np.nan, rng.lognormal(7, 0.5, n).round()),
        "age": rng.integers(30, 80, n)})
    found = _found(frame)
    assert [(c, s) for c, s, _ in found] == [("trt", "ascites"), ("alk_phos", "ascites")]
    assert {float(v) for v in found[0][2]} == {0.0, 1.0}


def test_gates_blank_a_column_and_lend_values_within_a_level():
    gate = _gates.Gate("death_year", "died", (True,))
    drawn = pd.DataFrame({"died": [True, False, True, False, True],
                          "death_year": [1985.0, 1990.0, np.nan, np.nan, 1987.0]})
    rng = np.random.default_rng(0)
    closed = _gates.close_gates(drawn, [gate], rng)
    # blank for the living; the dead row drawn blank takes another dead row's year
    assert closed["death_year"].isna().tolist() == [False, True, False, True, False]
    assert closed.loc[2, "death_year"] in (1985.0, 1987.0)
    assert closed["died"].equals(drawn["died"])  # the level is never changed
    assert not _gates.ungated(closed, [gate]).any()
    # no drawn row of the level to lend a value: the row is to be drawn again
    alone = pd.DataFrame({"died": [True, False], "death_year": [np.nan, 1990.0]})
    assert _gates.ungated(_gates.close_gates(alone, [gate], rng), [gate]).tolist() == [
        True, False]
    # a condition on the gated column is kept as given
    assert _gates.close_gates(drawn, [gate], rng, fixed=["death_year"]).equals(drawn)
    assert not _gates.ungated(drawn, [gate], fixed=["death_year"]).any()


def test_a_gate_reads_its_levels_as_written_and_round_trips_its_meta():
    gate = _gates.Gate("yrdth", "death", (1.0, None))
    # 1, 1.0 and "1" are one level (a CSV round trip), and a blank source is a level
    source = pd.Series([1, 1.0, "1", 0, np.nan], dtype=object)
    assert gate.wanted(source).tolist() == [True, True, True, False, True]
    assert _gates.Gate.from_meta(gate.to_meta()) == gate
    assert "'yrdth' by 'death'" in _gates.gates_note([gate])
    assert _gates.gates_note([]) is None


def test_a_panel_recorded_on_the_same_rows_is_gated_by_one_of_its_columns():
    """hepatoCellular's immune-cell counts are recorded on the same 101 of 227 patients."""
    rng = np.random.default_rng(6)
    n = 200
    panel = rng.random(n) < 0.45
    frame = pd.DataFrame({"age": rng.integers(30, 80, n)})
    for name in ("cd4", "cd8", "cd68"):
        frame[name] = np.where(panel, rng.lognormal(3, 0.8, n).round(2), np.nan)
    frame["died"] = rng.random(n) < 0.4
    schema = infer_schema(frame, target="died")
    table = coerce_table(frame, schema)
    gates = _gates.find_gates(table, schema)
    assert [(g.column, g.source, g.presence) for g in gates] == [
        ("cd4", "cd8", True), ("cd68", "cd8", True)]
    drawn = pd.DataFrame({"cd8": [1.0, np.nan, 2.0], "cd4": [np.nan, 5.0, 7.0],
                          "cd68": [3.0, 4.0, np.nan]})
    closed = _gates.close_gates(drawn, gates, np.random.default_rng(0))
    assert closed.notna().eq(drawn["cd8"].notna(), axis=0).all().all()
    assert closed.loc[0, "cd4"] == 7.0 and closed.loc[2, "cd68"] == 3.0  # lent in the level
    assert _gates.Gate.from_meta(gates[0].to_meta()) == gates[0]
    assert "'cd4' by 'cd8' (recorded on the same rows)" in _gates.gates_note(gates)
