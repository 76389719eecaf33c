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


def test_numbers_with_missing_markers_are_read_as_numbers(tmp_path):
    """SAS/Stata exports write "." for a missing number: such a column is a lab value, not a
    category of as many levels as values; a text column keeps its markers."""
    from synthmed import infer_schema

    path = tmp_path / "export.csv"
    path.write_text("crp,ward,code\n3.2,A,.\n.,B,x\n 12.5 ,.,y\n?,A,.\n0.4,B,z\n")
    frame = read_table(path)
    assert frame["crp"].tolist()[0] == 3.2 and frame["crp"].isna().tolist() == [
        False, True, False, True, False]
    assert frame["ward"].tolist() == ["A", "B", ".", "A", "B"]
    assert frame["code"].dtype == object
    assert frame["crp"].dtype == float and infer_schema(frame).column("crp").kind != "identifier"
