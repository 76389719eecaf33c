"""Columns that never exceed another, found at fit (generators/_orders); the conformance
suite checks every generator keeps them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthmed import infer_schema
from synthmed.generators import _orders
from synthmed.schema import coerce_table


def _found(frame: pd.DataFrame) -> list[tuple[str, str, bool]]:
    schema = infer_schema(frame)
    return [(o.low, o.high, o.strict)
            for o in _orders.find_orders(coerce_table(frame, schema), schema)]


def test_an_order_is_found_where_chance_would_rarely_give_it():
    rng = np.random.default_rng(0)
    n = 200
    rtime = rng.exponential(400, n).round()
    frame = pd.DataFrame({
        "rtime": rtime, "dtime": rtime + rng.exponential(300, n).round(),  # relapse, death
        "sbp": rng.normal(130, 15, n).round(), "age": rng.normal(60, 10, n).round(),
        "weight": rng.normal(300, 20, n).round()})  # above every age: the ranges keep it
    assert _found(frame) == [("rtime", "dtime", False)]


def test_few_rows_or_gaps_do_not_make_an_order():
    rng = np.random.default_rng(1)
    x, y = rng.normal(0, 1, 8), rng.normal(0.5, 1, 8)
    few = pd.DataFrame({"a": np.minimum(x, y), "b": np.maximum(x, y)})
    assert _found(few) == []  # eight rows in order: chance gives that too often
    # two columns never recorded on the same row hold no order
    apart = pd.DataFrame({"a": [1.0, np.nan] * 30, "b": [np.nan, 0.5] * 30})
    assert _found(apart) == []


def test_an_order_is_checked_as_the_values_are_written():
    frame = pd.DataFrame({"start": [32.6, 5.0], "stop": [32.7, 8.0]})
    schema = infer_schema(pd.DataFrame({"start": [1.0, 2.0, 3.0], "stop": [1.5, 2.5, 3.5]}))
    order = [_orders.Order("start", "stop", strict=True)]
    # start is whole in the source: 32.6 is written 33, after a stop of 32.7
    assert _orders.disordered(frame, order).tolist() == [False, False]
    assert _orders.disordered(frame, order, schema).tolist() == [True, False]
    fixed = _orders.put_in_order(frame, order, schema)
    assert fixed["start"].tolist() == [32.7, 5.0] and fixed["stop"].tolist() == [32.6, 8.0]
    assert _orders.put_in_order(frame, order, schema, fixed=["start"]).equals(frame)


def test_a_large_table_is_searched_on_a_sample_and_checked_on_every_row(monkeypatch):
    rng = np.random.default_rng(2)
    n = 3_000
    start = rng.normal(10, 3, n).round(1)
    frame = pd.DataFrame({"start": start, "stop": start + rng.exponential(2, n).round(1) + 0.1})
    monkeypatch.setattr(_orders, "SEARCH_ROWS", 500)
    assert _found(frame) == [("start", "stop", True)]
    frame.loc[n - 1, "stop"] = frame.loc[n - 1, "start"] - 1.0  # beyond any sample
    assert _found(frame) == []


@pytest.mark.parametrize("strict", [True, False])
def test_an_order_round_trips_its_meta(strict):
    order = _orders.Order("admitted", "discharged", strict)
    assert _orders.Order.from_meta(order.to_meta()) == order
    assert "'admitted' " + ("<" if strict else "<=") in _orders.orders_note([order])
