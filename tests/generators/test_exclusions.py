"""Pairs of categories never recorded together, found at fit (generators/_exclusions); the
conformance suite checks every generator keeps them apart."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthmed import infer_schema
from synthmed.generators import _exclusions
from synthmed.generators._gates import find_gates
from synthmed.generators._twins import find_twins
from synthmed.schema import coerce_table


def _found(frame: pd.DataFrame, **roles: str) -> list[tuple[str, str, tuple]]:
    schema = infer_schema(frame, **roles)
    table = coerce_table(frame, schema)
    twins = find_twins(table, schema)
    gates = find_gates(table, schema, twins)
    return [(e.anchor, e.column, e.pairs)
            for e in _exclusions.find_exclusions(table, schema, twins, gates)]


def _smokers(rng: np.random.Generator, n: int) -> pd.DataFrame:
    smoke = rng.choice(["never", "now", "once"], n, p=[0.45, 0.4, 0.15])
    amount = np.where(smoke == "never", "none",
                      rng.choice(["1-4", "5-9", "10-19", "20+"], n))
    return pd.DataFrame({"age": rng.integers(18, 45, n), "smoke": smoke,
                         "per_day": amount, "sex": rng.choice(["F", "M"], n),
                         "died": rng.random(n) < 0.2})


def test_empty_cells_that_chance_would_fill_are_found_with_an_anchor():
    rng = np.random.default_rng(0)
    pairs = _found(_smokers(rng, 400))
    # the column of fewer levels is the anchor; every cell of a never-smoker who smokes,
    # and of a smoker who smokes none
    assert [(a, c) for a, c, _ in pairs] == [("smoke", "per_day")]
    assert set(pairs[0][2]) == {("never", v) for v in ("1-4", "5-9", "10-19", "20+")} | {
        ("now", "none"), ("once", "none")}
    # the target anchors a pair it is in: no never-smoker died
    frame = _smokers(rng, 400)
    frame["died"] = (frame["smoke"] != "never") & (rng.random(400) < 0.5)
    assert ("died", "smoke") in [(a, c) for a, c, _ in _found(frame, target="died")]


def test_rare_combinations_are_not_a_rule():
    """An empty cell that independence fills with a few rows is chance (a rare stage with a
    rare treatment), and two independent columns have no empty cell."""
    rng = np.random.default_rng(1)
    n = 300
    frame = pd.DataFrame({"stage": rng.choice(["I", "II", "III", "IV"], n,
                                              p=[0.5, 0.3, 0.17, 0.03]),
                          "drug": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]),
                          "sex": rng.choice(["F", "M"], n)})
    assert _found(frame) == []


def test_mending_lends_an_allowed_value_of_the_same_anchor_level():
    rule = _exclusions.Exclusion("smoke", "per_day", (("never", "5-9"), ("now", "none")))
    frame = pd.DataFrame({"smoke": ["never", "never", "now", "now", "now"],
                          "per_day": ["5-9", "none", "none", "5-9", "20+"]})
    out = _exclusions.mend_exclusions(frame, [rule], np.random.default_rng(0))
    assert out["per_day"].tolist()[:2] == ["none", "none"]
    assert out["per_day"][2] in ("5-9", "20+") and out["smoke"].equals(frame["smoke"])
    assert not _exclusions.excluded(out, [rule]).any()
    # a level no drawn row can lend to is left for a redraw; a condition is left as given
    alone = pd.DataFrame({"smoke": ["never"], "per_day": ["5-9"]})
    assert _exclusions.excluded(
        _exclusions.mend_exclusions(alone, [rule], np.random.default_rng(0)), [rule]).all()
    given = _exclusions.mend_exclusions(frame, [rule], np.random.default_rng(0),
                                        fixed=("per_day",))
    assert given["per_day"].equals(frame["per_day"])
    assert given["smoke"].tolist()[:3] == ["now", "never", "never"]
    assert _exclusions.Exclusion.from_meta(rule.to_meta()) == rule
