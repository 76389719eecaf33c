"""Sampling in chunks and streaming to Parquet / CSV: same rows and dtypes, reproducible, atomic.

The conformance suite checks that every table generator samples in chunks like it samples a
table; here are the writer's guarantees, checked on one fast generator.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from _data import make_mixed_frame
from synthmed import get_generator, infer_schema
from synthmed.exceptions import NotFittedError, ParameterError
from synthmed.generators.base import row_hashes, sorted_contains
from synthmed.generators.streaming import sample_to_csv, sample_to_parquet


def _source() -> pd.DataFrame:
    """Every column kind, plus a nullable integer column and a category column."""
    frame = make_mixed_frame(400, seed=3).drop(columns=["site"])
    visits = frame["visits"].astype("Int64")
    visits[np.random.default_rng(0).random(len(frame)) < 0.05] = pd.NA
    frame["visits"] = visits
    frame["ward"] = frame["ward"].astype("category")
    return frame


@pytest.fixture(scope="module")
def gen():
    frame = _source()
    return get_generator("gaussian_copula").fit(frame, schema=infer_schema(frame, target="died"))


def _assert_same_values(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Same columns, missing cells and values (a category's order may differ)."""
    assert list(got.columns) == list(want.columns) and len(got) == len(want)
    for col in want.columns:
        missing = want[col].isna().to_numpy()
        np.testing.assert_array_equal(got[col].isna().to_numpy(), missing, err_msg=col)
        np.testing.assert_array_equal(got[col].astype(object).to_numpy()[~missing],
                                      want[col].astype(object).to_numpy()[~missing],
                                      err_msg=col)


def test_parquet_holds_the_chunks_with_the_dtypes_of_sample(gen, tmp_path):
    path = sample_to_parquet(gen, tmp_path / "s.parquet", 1000, chunk_rows=150, random_state=4)
    assert pq.ParquetFile(path).metadata.num_row_groups == 7  # 6 x 150 + 100
    back = pd.read_parquet(path)
    chunks = list(gen.sample_chunks(1000, chunk_rows=150, random_state=4))
    _assert_same_values(back, pd.concat(chunks, ignore_index=True))
    whole = gen.sample(1000, random_state=4)
    assert back.dtypes.astype(str).to_dict() == whole.dtypes.astype(str).to_dict()
    assert str(back["visits"].dtype) == "Int64" and back["visits"].isna().any()
    assert back["admitted"].dtype.kind == "M" and back["admitted"].isna().any()


def test_parquet_holds_missing_codes_as_nulls(tmp_path):
    """A number column exported with "." for a gap: CSV writes the "." back, Parquet a null
    (a "." beside numbers cannot be a Parquet number column)."""
    rng = np.random.default_rng(1)
    crp = rng.lognormal(1.0, 0.5, 300).round(2)
    frame = pd.DataFrame({"crp": [f"{v:.2f}" if i % 4 else "." for i, v in enumerate(crp)],
                          "age": rng.normal(60, 10, 300).round(1),
                          "visits": [str(i % 37) if i % 5 else "." for i in range(300)]})
    coded = get_generator("gaussian_copula").fit(frame, schema=infer_schema(frame))
    drawn = pd.concat(coded.sample_chunks(200, chunk_rows=70, random_state=0),
                      ignore_index=True)
    assert (drawn["crp"] == ".").any()  # the API writes the source's code back
    back = pd.read_parquet(sample_to_parquet(coded, tmp_path / "c.parquet", 200,
                                             chunk_rows=70, random_state=0))
    assert back["crp"].dtype == float
    np.testing.assert_array_equal(back["crp"].isna(), (drawn["crp"] == ".").to_numpy())
    ok = drawn["crp"] != "."
    np.testing.assert_allclose(back["crp"][ok], drawn["crp"][ok].astype(float))
    assert str(back["visits"].dtype) == "Int64" and back["visits"].isna().any()


def test_one_chunk_equals_sample(gen):
    (chunk,) = gen.sample_chunks(300, chunk_rows=300, random_state=9)
    pd.testing.assert_frame_equal(chunk, gen.sample(300, random_state=9))


def test_same_seed_and_chunk_size_give_the_same_file(gen, tmp_path):
    files = [sample_to_parquet(gen, tmp_path / f"{name}.parquet", 500, chunk_rows=120,
                               random_state=seed) for name, seed in (("a", 1), ("b", 1), ("c", 2))]
    data = [f.read_bytes() for f in files]
    assert data[0] == data[1] and data[0] != data[2]


def test_csv_streams_with_one_header(gen, tmp_path):
    path = sample_to_csv(gen, tmp_path / "s.csv", 450, chunk_rows=200, random_state=2)
    back = pd.read_csv(path)
    want = pd.concat(list(gen.sample_chunks(450, chunk_rows=200, random_state=2)),
                     ignore_index=True)
    assert list(back.columns) == list(want.columns) and len(back) == 450
    pd.testing.assert_series_equal(back["age"], want["age"])


def test_conditions_hold_in_every_chunk(gen):
    chunks = list(gen.sample_chunks(250, chunk_rows=100, conditions={"sex": "m"},
                                    random_state=0))
    assert [len(c) for c in chunks] == [100, 100, 50]
    assert all((c["sex"] == "m").all() for c in chunks)
    per_row = pd.DataFrame({"died": [True] * 130 + [False] * 120})
    chunks = gen.sample_chunks(250, chunk_rows=100, conditions=per_row, random_state=0)
    joined = pd.concat(list(chunks), ignore_index=True)
    assert joined["died"].tolist() == per_row["died"].tolist()


def test_no_chunk_copies_a_training_record(gen):
    for chunk in gen.sample_chunks(3000, chunk_rows=500, random_state=1):
        assert not gen.copies_of_training(chunk).any()


@pytest.mark.slow
def test_memory_does_not_grow_with_rows(gen):
    def peak(n: int) -> int:
        tracemalloc.start()
        for _ in gen.sample_chunks(n, chunk_rows=500, random_state=0):
            pass
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top

    assert peak(8_000) < 1.5 * peak(2_000)  # four times the rows, about the same peak


def test_error_midway_leaves_nothing_written(gen, tmp_path, monkeypatch):
    target = tmp_path / "out" / "s.parquet"
    target.parent.mkdir()
    target.write_text("previous")
    calls = {"n": 0}
    draw = type(gen)._draw

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return draw(self, *args, **kwargs)

    monkeypatch.setattr(type(gen), "_draw", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        sample_to_parquet(gen, target, 1000, chunk_rows=100)
    assert sorted(p.name for p in target.parent.iterdir()) == ["s.parquet"]
    assert target.read_text() == "previous"


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"n": 0}, "`n` must be a positive integer, got 0"),
    ({"n": 2.5}, "`n` must be a positive integer"),
    ({"chunk_rows": 0}, "`chunk_rows` must be a positive integer, got 0"),
    ({"path": "s.csv"}, "must end in .parquet, got 's.csv'"),
])
def test_bad_arguments_are_refused_before_writing(gen, tmp_path, kwargs, needle):
    args = {"n": 10, "chunk_rows": 5, "path": "s.parquet", **kwargs}
    with pytest.raises(ParameterError, match=needle):
        sample_to_parquet(gen, tmp_path / args.pop("path"), args.pop("n"), **args)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_path_is_a_clear_error(gen, tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ParameterError, match=r"Cannot write to .*folder you can write to"):
        sample_to_parquet(gen, tmp_path / "file" / "s.parquet", 10)


def test_unfitted_or_non_table_generators_are_refused(tmp_path):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        sample_to_parquet(get_generator("gaussian_copula"), tmp_path / "s.parquet", 10)
    with pytest.raises(ParameterError, match="table generator"):
        sample_to_parquet(get_generator("longitudinal"), tmp_path / "s.parquet", 10)


def test_row_hashes_match_hashing_the_canonical_frame():
    """Hashes saved with older models must keep matching: same value as pandas' row hash."""
    frame = _source().drop(columns=["patient_id"])
    frame["stage"] = frame["stage"].astype(object)
    frame.loc[::9, "stage"] = np.nan
    schema = infer_schema(frame)
    canon = {}
    for col in schema.columns:
        s = frame[col.name]
        if col.kind in ("numeric", "integer"):
            canon[col.name] = pd.to_numeric(s).astype(float).round(9)
        elif col.kind == "datetime":
            canon[col.name] = pd.to_datetime(s).astype("int64").where(s.notna(), -1)
        else:
            canon[col.name] = s.astype(object).where(s.notna(), "\x00NA").astype(str)
    want = pd.util.hash_pandas_object(pd.DataFrame(canon), index=False,
                                      hash_key="k123456789012345").to_numpy()
    np.testing.assert_array_equal(row_hashes(frame, schema, "k123456789012345"), want)


def test_sorted_contains_is_isin():
    rng = np.random.default_rng(0)
    known = np.unique(rng.integers(0, 2**63, 500, dtype=np.uint64))
    values = np.concatenate([rng.choice(known, 50), rng.integers(0, 2**63, 50, dtype=np.uint64),
                             [known.min(), known.max(), np.uint64(0), np.uint64(2**64 - 1)]])
    np.testing.assert_array_equal(sorted_contains(known, values), np.isin(values, known))
    assert not sorted_contains(known[:0], values).any()


def test_long_tables_are_not_chunked():
    with pytest.raises(ParameterError, match="sample_chunks is for tables"):
        get_generator("longitudinal").sample_chunks(10)
