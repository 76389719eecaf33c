"""Columns computed from others, found at fit (generators/_formulas); the conformance suite
checks every generator keeps them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthmed import infer_schema
from synthmed.generators import _formulas
from synthmed.generators._twins import find_twins
from synthmed.schema import coerce_table


def _found(frame: pd.DataFrame, **roles: str) -> list[str]:
    schema = infer_schema(frame, **roles)
    table = coerce_table(frame, schema)
    formulas = _formulas.find_formulas(table, schema, find_twins(table, schema))
    return [f.describe() for f in formulas]


def _body(rng: np.random.Generator, n: int) -> pd.DataFrame:
    weight = rng.normal(75, 12, n).round(1)
    height = rng.normal(1.72, 0.09, n).round(2)
    return pd.DataFrame({"weight": weight, "height": height,
                         "bmi": (weight / height ** 2).round(1)})


def test_differences_products_sums_and_conversions_are_found_with_simple_coefficients():
    rng = np.random.default_rng(0)
    n = 300
    frame = _body(rng, n)
    frame["wt_later"] = (frame["weight"] + rng.normal(1, 4, n)).round(1)
    frame["wt_change"] = (frame["wt_later"] - frame["weight"]).round(1)
    # a score and its parts, each part read as a category (few values)
    eye, verbal, motor = rng.integers(1, 5, n), rng.integers(1, 6, n), rng.integers(1, 7, n)
    frame = frame.assign(eye=eye, verbal=verbal, motor=motor, gcs=eye + verbal + motor)
    # a conversion (each value on a row or two: a code with its values would be a twin)
    celsius = rng.normal(37, 0.7, n).round(2)
    frame = frame.assign(temp_c=celsius, temp_f=(celsius * 1.8 + 32).round(3))
    admitted = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 300, n), "D")
    days = rng.integers(1, 40, n)
    frame = frame.assign(admitted=admitted, discharged=admitted + pd.to_timedelta(days, "D"),
                         los=days)
    found = _found(frame)
    # each relation solved for the column whose term spreads widest: the later weight
    # (its spread is the weight's and the change's), not the change; the stay's two dates
    # spread alike, so either may be written
    assert found[:4] == [
        "'bmi' = 'weight' * 'height'^-2", "'wt_later' = 'wt_change' + 'weight'",
        "'gcs' = 'eye' + 'verbal' + 'motor'", "'temp_f' = 1.8 * 'temp_c' + 32"]
    assert found[4:] in (["'admitted' = - 'los' + 'discharged'"],
                         ["'discharged' = 'los' + 'admitted'"])


def test_chance_agreements_and_near_sums_are_not_formulas():
    rng = np.random.default_rng(1)
    n = 2000
    # counts that are mostly zero: babies - parking spaces = cancellations on most rows
    babies = np.where(rng.random(n) < 0.02, 1, 0)
    parking = np.where(rng.random(n) < 0.02, 1, 0)
    counts = pd.DataFrame({"babies": babies, "parking": parking,
                           "cancellations": np.where(rng.random(n) < 0.01, 1, 0) + babies
                           * (1 - parking), "nights": rng.integers(1, 9, n)})
    assert _found(counts) == []
    # a total weighed on its own: within half a gram of the parts' sum, not equal to it
    left, right = rng.normal(180, 90, 60).round(1), rng.normal(180, 90, 60).round(1)
    organs = pd.DataFrame({"left": left, "right": right,
                           "stomach": rng.normal(780, 530, 60).round(1).clip(100),
                           "kidney": (left + right + rng.uniform(-0.5, 0.5, 60)).round(1)})
    assert _found(organs) == []
    # too few rows to tell
    small = _body(rng, 12)
    assert _found(small) == []


def test_an_entry_error_on_a_few_rows_is_tolerated_and_more_are_not():
    rng = np.random.default_rng(2)
    n = 460
    entry = rng.integers(750, 1100, n)
    time = rng.integers(1, 140, n)
    frame = pd.DataFrame({"ageentry": entry, "age": entry + time, "time": time})
    frame.loc[0, "time"] += 100  # KMsurv's channing: two rows in 462 disagree
    frame.loc[1, "time"] -= 2
    assert _found(frame) == ["'age' = 'time' + 'ageentry'"]
    frame.loc[2:5, "time"] += 7  # six rows in 460: 1.3 %
    assert _found(frame) == []


def test_the_target_a_sensitive_column_and_a_copied_column_are_never_written():
    rng = np.random.default_rng(3)
    frame = _body(rng, 200)
    # the widest term here is the BMI's; as the target it is not written, the weight is
    assert _found(frame) == ["'bmi' = 'weight' * 'height'^-2"]
    assert _found(frame, target="bmi") == ["'weight' = 'bmi' * 'height'^2"]
    frame["weight_copy"] = frame["weight"]  # a twin: written from weight, no one's source
    frame["bmi_band"] = np.where(frame["bmi"] < 25, "normal", "high")  # bands of bmi
    # bmi and weight are other columns' sources: never written (the height is)
    assert _found(frame) == ["'height' = 'bmi'^-0.5 * 'weight'^0.5"]
    assert _found(frame.drop(columns=["height", "bmi_band"])) == []


def test_a_column_on_a_grid_is_not_the_one_written():
    """NHEFS's 1982 weight is whole pounds in kg: computed from the 1971 weight and the
    change, it would be moved to its grid and off the relation."""
    rng = np.random.default_rng(7)
    n = 300
    before = rng.normal(75, 12, n).round(2)
    # the widest term (the 1971 weight and the change add up), on a grid of whole pounds
    after = (((before + rng.normal(1, 4, n)) / 0.45359237).round() * 0.45359237).round(8)
    frame = pd.DataFrame({"wt71": before, "wt82": after, "wt82_71": after - before})
    assert infer_schema(frame).column("wt82").step is not None
    # the 1982 weight spreads widest, but the next widest, the 1971 weight, is written
    assert _found(frame) == ["'wt71' = - 'wt82_71' + 'wt82'"]


def test_a_formula_is_written_from_the_sources_as_they_are_recorded():
    rng = np.random.default_rng(4)
    a, b = rng.normal(5, 2, 50).round(1), rng.normal(50, 20, 50).round()
    schema = infer_schema(pd.DataFrame({"a": a, "b": b, "c": a - b}))
    formula = _formulas.Formula("c", ("a", "b"), (1.0, -1.0), 0.0)
    drawn = pd.DataFrame({"a": [1.54, np.nan, 3.0], "b": [0.96, 2.0, 1.0],
                          "c": [9.0, 7.0, 9.0]})
    out = _formulas.write_formulas(drawn, [formula], schema)
    # 1.54 is written 1.5 and 0.96 is written 1: c follows the written values
    assert out["c"].tolist() == [0.5, 7.0, 2.0]  # a missing source leaves the draw
    assert _formulas.write_formulas(drawn, [formula], schema, fixed=["c"]).equals(drawn)


def test_a_formula_round_trips_its_meta_and_says_itself():
    bmi = _formulas.Formula("bmi", ("weight", "height"), (1.0, -2.0), float(np.log(1e4)),
                            log=True)
    assert _formulas.Formula.from_meta(bmi.to_meta()) == bmi
    note = _formulas.formulas_note([bmi])
    assert "'bmi' = 10000 * 'weight' * 'height'^-2" in note
    assert _formulas.formulas_note([]) is None


def test_a_large_table_is_searched_on_a_sample_and_checked_on_every_row(monkeypatch):
    rng = np.random.default_rng(5)
    frame = _body(rng, 3000)
    monkeypatch.setattr(_formulas, "CHECK_ROWS", 500)
    assert _found(frame) == ["'bmi' = 'weight' * 'height'^-2"]
    # 1.3 % of the rows wrong, none of them in the sample searched (the search's own draw)
    searched = np.random.default_rng(0).choice(3000, 500, replace=False)
    wrong = np.setdiff1d(np.arange(3000), searched)[:40]
    frame.loc[wrong, "bmi"] += 3.0
    assert _found(frame) == []
