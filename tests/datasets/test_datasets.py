"""Bundled datasets load offline with their annotations; file readers fail clearly."""

from __future__ import annotations

import numpy as np
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
    (tmp_path / "x.xls").write_text("a")
    with pytest.raises(DataError, match=r"unknown format.*save an \.xls workbook as \.xlsx"):
        read_table(tmp_path / "x.xls")
    (tmp_path / "x.xlsx").write_text("not a workbook")
    with pytest.raises(DataError, match=r"as Excel \(\.xlsx\)"):
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


@pytest.mark.parametrize(("text", "encoding", "expected"), [
    ("a,b,c\n1,2.5,x\n2,3.5,y\n", "utf-8", (",", ".", "utf-8")),
    ("a;b;c\n1;2,5;x\n2;3,5;y\n", "utf-8", (";", ",", "utf-8")),
    ("a;b\n1;2.5\n2;3.5\n", "utf-8", (";", ".", "utf-8")),
    ("a\tb\n1\t2\n3\t4\n", "utf-8", ("\t", ".", "utf-8")),
    ("a|b\n1|2\n", "utf-8", ("|", ".", "utf-8")),
    # commas inside quoted text do not make a separator; ";" inside text does not either
    ('note,b\n"fever, cough; rash",1\n"none",2\n', "utf-8", (",", ".", "utf-8")),
    ("name,val\nJosé,1\n", "cp1252", (",", ".", "cp1252")),
    ("name,val\nJosé,1\n", "utf-8-sig", (",", ".", "utf-8-sig")),
    ("single\n1\n2\n", "utf-8", (",", ".", "utf-8")),
    # one column of decimal commas: the comma is no separator
    ("ecg\n-0,245\n-0,215\n", "utf-8", (";", ",", "utf-8")),
])
def test_csv_dialect_is_sniffed(tmp_path, text, encoding, expected):
    from synthmed.datasets.io import CsvFormat, sniff_csv

    path = tmp_path / "t.csv"
    path.write_bytes(text.encode(encoding))
    assert sniff_csv(path) == CsvFormat(*expected)
    assert len(read_table(path)) == text.count("\n") - 1 - text.count('"\n"')


def test_a_comma_decimal_table_round_trips(tmp_path):
    from synthmed.datasets.io import sniff_csv

    frame = pd.DataFrame({"x": [1.5, 2.25, -3.0], "name": ["Ærø", "b", "c"]})
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False, sep=";", decimal=",", encoding="cp1252")
    pd.testing.assert_frame_equal(read_table(path), frame)
    out = tmp_path / "back.csv"
    sniff_csv(path).write(frame, out)
    assert out.read_bytes() == path.read_bytes()


def test_a_column_without_a_name_is_written_back_without_one(tmp_path):
    """pandas names a blank header "Unnamed: 2"; the release wrote that name into the file."""
    from synthmed.datasets.io import CsvFormat, sniff_csv

    path = tmp_path / "t.csv"
    path.write_text("age;sex;;died\n53;M;29,7;1\n40;F;27,5;0\n")
    frame = read_table(path)
    assert list(frame.columns) == ["age", "sex", "Unnamed: 2", "died"]
    found = sniff_csv(path)
    assert found.blank == ("Unnamed: 2",)
    assert CsvFormat.from_meta(found.to_meta()) == found  # kept beside a fitted model
    out = tmp_path / "back.csv"
    found.write(frame, out)
    assert out.read_bytes() == path.read_bytes()


def test_numbers_inside_text_cells_follow_the_decimal_mark(tmp_path):
    """A ";" export writes "1,4 mg/dL" and "<0,5": read with "." (as the schema reads numbers),
    written back with ","; a date "31.08.2019" and plain text are left alone."""
    from synthmed.datasets.io import sniff_csv

    path = tmp_path / "t.csv"
    path.write_text("bili;crp;seen;note\n1,4 mg/dL;<0,5;31.08.2019;1,2 Tabletten\n"
                    "12,25 mg/dL;3,5;01.09.2019;keine\n", encoding="cp1252")
    frame = read_table(path)
    assert frame["bili"].tolist() == ["1.4 mg/dL", "12.25 mg/dL"]
    assert frame["crp"].tolist() == ["<0.5", "3.5"]
    assert frame["seen"].tolist() == ["31.08.2019", "01.09.2019"]
    out = tmp_path / "back.csv"
    sniff_csv(path).write(frame, out)
    assert out.read_bytes() == path.read_bytes()


def test_an_excel_workbook_is_read(tmp_path, mixed_frame):
    path = tmp_path / "cohort.xlsx"
    with pd.ExcelWriter(path) as book:
        mixed_frame.to_excel(book, sheet_name="patients", index=False)
        pd.DataFrame().to_excel(book, sheet_name="empty")
    frame = read_table(path)
    assert list(frame.columns) == list(mixed_frame.columns) and len(frame) == len(mixed_frame)
    assert pd.api.types.is_datetime64_any_dtype(frame["admitted"])
    with pd.ExcelWriter(path) as book:
        mixed_frame.to_excel(book, sheet_name="patients", index=False)
        mixed_frame.head().to_excel(book, sheet_name="notes", index=False)
    with pytest.raises(DataError, match=r"2 sheets with data .*'patients', 'notes'"):
        read_table(path)


def test_excel_style_yes_no_is_written_back_as_read(tmp_path):
    from synthmed.datasets.io import sniff_csv

    path = tmp_path / "t.csv"
    path.write_text("flag,age\nTRUE,61\nFALSE,70\n,55\n")
    fmt = sniff_csv(path)
    assert (fmt.true, fmt.false) == ("TRUE", "FALSE")
    frame = read_table(path)
    out = tmp_path / "back.csv"
    fmt.write(frame, out)
    assert out.read_text() == path.read_text()


def test_an_r_export_gets_its_na_back(tmp_path):
    from synthmed.datasets.io import sniff_csv

    frame = pd.DataFrame({"x": [1.5, np.nan, 2.0, np.nan], "g": ["a", "b", None, "a"]})
    path = tmp_path / "r.csv"
    frame.to_csv(path, index=False, na_rep="NA")
    fmt = sniff_csv(path)
    assert fmt.missing == "NA" and "missing values written 'NA'" in fmt.describe()
    out = tmp_path / "back.csv"
    fmt.write(read_table(path), out)
    assert out.read_bytes() == path.read_bytes()


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
