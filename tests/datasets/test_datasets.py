"""Bundled datasets load offline with their annotations; file readers fail clearly."""

from __future__ import annotations

import pandas as pd
import pytest

from synthmed import DataError, UnknownNameError, list_datasets, load_dataset, read_table

REQUIRED = {"pbc", "covid_testing", "aids", "whas500", "flchain", "gbsg2", "lung"}


def test_registry_lists_required_datasets():
    infos = {i.name: i for i in list_datasets()}
    assert set(infos) >= REQUIRED
    for info in infos.values():
        assert info.source and info.licence
    assert {infos[name].modality for name in REQUIRED} == {"table"}


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_each_dataset_loads_with_roles(name):
    data = load_dataset(name)
    info = data.info
    assert len(data.frame) > 100
    assert "rownames" not in data.frame.columns
    assert data.schema.target == info.target
    assert sorted(data.schema.sensitive) == sorted(info.sensitive)
    if info.survival:
        assert data.schema.survival == info.survival
    data.schema.validate(data.frame)
    # fresh frame every call: callers may modify it
    data.frame.iloc[0, 0] = None
    assert not load_dataset(name).frame.iloc[:1].isna().all(axis=None)


def test_covid_identifiers_are_detected():
    schema = load_dataset("covid_testing").schema
    assert set(schema.dropped_columns) == {"subject_id", "fake_first_name", "fake_last_name"}


def test_unknown_dataset_suggests_close_names():
    with pytest.raises(UnknownNameError, match="Did you mean 'pbc'"):
        load_dataset("pbcc")


def test_read_table_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "x.xlsx").write_text("a")
    with pytest.raises(DataError, match="unknown format"):
        read_table(tmp_path / "x.xlsx")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        read_table(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="no rows"):
        read_table(tmp_path / "header.csv")
    (tmp_path / "bad.parquet").write_bytes(b"garbage")
    with pytest.raises(DataError, match="as Parquet"):
        read_table(tmp_path / "bad.parquet")


def test_read_table_round_trip(tmp_path, mixed_frame):
    mixed_frame.to_parquet(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(read_table(tmp_path / "t.parquet"), mixed_frame)
    mixed_frame.to_csv(tmp_path / "t.csv", index=False)
    assert read_table(tmp_path / "t.csv").shape == mixed_frame.shape
