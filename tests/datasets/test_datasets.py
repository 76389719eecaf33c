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
    """SAS/Stata exports write "." for a missing number: such a column is a lab value with
    missing values, not a category of as many levels as values; the file is read as written
    and the schema says which tokens mean "missing" ("-" only among numbers)."""
    from synthmed import infer_schema
    from synthmed.schema import coerce_table

    path = tmp_path / "export.csv"
    lines = ["3.2,A,.,+", ".,B,x,-", " 12.5 ,.,y,+", "?,A,.,-", "0.4,B,z,+", "-,A,x,-"]
    lines += [f"{1.5 + i},{'AB'[i % 2]},x,+" for i in range(10)]  # more lab values
    path.write_text("crp,ward,code,sign\n" + "\n".join(lines) + "\n")
    frame = read_table(path)
    assert frame["crp"].tolist()[1] == "."  # as written
    schema = infer_schema(frame)
    crp = schema.column("crp")
    assert crp.kind == "numeric" and set(crp.missing_codes) == {".", "?", "-"}
    coerced = coerce_table(frame, schema)
    assert coerced["crp"].tolist()[:3] == [3.2, pytest.approx(float("nan"), nan_ok=True),
                                           12.5]
    assert coerced["crp"].isna().sum() == 3
    assert coerced["ward"].isna().sum() == 1 and schema.column("ward").kind == "categorical"
    assert schema.column("sign").missing_codes == ()  # "+" / "-" is a result, not a gap
