"""Values people round (``generators/_heaps.py``); the conformance suite checks every
generator keeps them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthmed import infer_schema
from synthmed.generators._heaps import Heap, find_heaps, heap_values, heaps_note
from synthmed.schema import coerce_table


def _told(rng: np.random.Generator, true: np.ndarray, p: list[float]) -> np.ndarray:
    """``true`` as people tell it: to 1, 5 or 10 with chances ``p``."""
    told = rng.choice([1, 5, 10], len(true), p=p)
    return (np.round(true / told) * told).astype(int)


def _found(frame: pd.DataFrame) -> list[Heap]:
    schema = infer_schema(frame)
    return find_heaps(coerce_table(frame, schema), schema)


def test_found_where_values_heap_and_nowhere_else():
    rng = np.random.default_rng(0)
    n = 800
    true = rng.normal(160, 25, n)
    frame = pd.DataFrame({
        "told": _told(rng, true, [0.5, 0.25, 0.25]),
        "read": np.round(true).astype(int),  # a smooth spread of whole pounds
        "height": _told(rng, rng.normal(65, 1.5, n), [0.5, 0.25, 0.25]),  # too narrow
        "cigarettes": np.where(rng.random(n) < 0.5, 0, rng.integers(1, 40, n)),  # zeros
        "decimal": np.round(rng.normal(37, 0.4, n), 1)})
    found = _found(frame)
    assert [h.column for h in found] == ["told"]
    heap = found[0]
    assert heap.five == np.mean(frame["told"] % 5 == 0)
    assert heap.ten == np.mean(frame["told"] % 10 == 0)
    assert (heap.low, heap.high) == (frame["told"].min(), frame["told"].max())


def test_whole_degrees_heap_in_a_column_of_tenths():
    rng = np.random.default_rng(1)
    true = rng.normal(37.0, 1.0, 1000)
    whole = rng.random(1000) < 0.4
    frame = pd.DataFrame({"temp": np.where(whole, np.round(true), np.round(true, 1))})
    (heap,) = _found(frame)
    assert heap.unit == 0.1
    assert heap.ten == np.mean(np.round(frame["temp"] / 0.1) % 10 == 0)  # whole degrees


def test_drawn_values_rounded_to_the_training_shares():
    rng = np.random.default_rng(2)
    heap = Heap("w", 1.0, five=0.7, ten=0.45, low=90.0, high=250.0)
    drawn = pd.DataFrame({"w": np.clip(rng.normal(160, 25, 20_000), 90, 250),
                          "other": np.arange(20_000)})
    given = drawn.copy()
    out = heap_values(drawn, [heap], rng)
    pd.testing.assert_frame_equal(drawn, given)  # the frame given is not changed
    units = np.round(out["w"].to_numpy())
    assert abs(np.mean(units % 5 == 0) - 0.7) < 0.02
    assert abs(np.mean(units % 10 == 0) - 0.45) < 0.02
    moved = out["w"].to_numpy() != drawn["w"].to_numpy()
    # a value moves to its nearest multiple of 5 or 10: never further than 5
    assert np.abs(out["w"] - drawn["w"])[moved].max() <= 5
    assert out["w"].between(90, 250).all()
    pd.testing.assert_series_equal(out["other"], drawn["other"])


def test_only_fives_where_tens_were_not_tested():
    rng = np.random.default_rng(3)
    heap = Heap("w", 1.0, five=0.6, ten=None, low=1.0, high=40.0)
    drawn = pd.DataFrame({"w": rng.integers(1, 41, 10_000)})
    out = heap_values(drawn, [heap], rng)
    assert out["w"].dtype == drawn["w"].dtype
    assert abs(np.mean(out["w"] % 5 == 0) - 0.6) < 0.02
    assert (out["w"] != 0).all()


def test_enough_heaped_already_and_conditions_left_alone():
    rng = np.random.default_rng(4)
    heap = Heap("w", 1.0, five=0.2, ten=0.1, low=0.0, high=100.0)
    drawn = pd.DataFrame({"w": pd.array(np.r_[np.arange(1, 100), [np.nan]], dtype="Int64")})
    assert heap_values(drawn, [heap], rng) is drawn  # 19 % on fives: nothing to add
    strong = Heap("w", 1.0, five=0.9, ten=0.5, low=0.0, high=100.0)
    assert heap_values(drawn, [strong], rng, fixed=["w"]) is drawn
    out = heap_values(drawn, [strong], rng)
    assert out["w"].dtype == "Int64" and out["w"].isna().sum() == 1


def test_note_names_columns_and_multiples_only():
    note = heaps_note([Heap("weight", 1.0, 0.7, 0.4, 90, 250), Heap("temp", 0.1, 0.5, None,
                                                                     350, 400)])
    assert note is not None
    assert "'weight' (multiples of 5 and 10)" in note and "'temp' (multiples of 0.5)" in note
    assert heaps_note([]) is None
