"""Two values in one cell ("120/80", a number in one of several units): read as two columns,
written back as one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthmed import DataError
from synthmed.datasets.io import CsvFormat
from synthmed.datasets.pairs import PairedColumn, join_pairs, paired_columns, split_pairs


def _vitals() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 3, 4],
                         "bp": ["120/80", None, "135/ 90", "98/61"],
                         "ratio": ["1,5 / 2", "2 / 2", "0,25 / 4", "3 / 1"],
                         "note": ["1/2", "ok", "3/4", None],
                         "age": [50, 61, 72, 38]})


def test_a_pair_column_becomes_two_number_columns_in_its_place():
    split = split_pairs(_vitals())
    assert list(split.columns) == ["id", "bp_1", "bp_2", "ratio_1", "ratio_2", "note", "age"]
    assert split["bp_1"].tolist()[::2] == [120.0, 135.0]
    assert np.isnan(split["bp_1"][1]) and np.isnan(split["bp_2"][1])
    assert split["ratio_1"].tolist() == [1.5, 2.0, 0.25, 3.0]  # decimal commas read
    assert split["note"].tolist() == ["1/2", "ok", "3/4", None]  # not every cell a pair
    pairs = paired_columns(split)
    assert pairs == (PairedColumn("bp", ("bp_1", "bp_2"), "/"),
                     PairedColumn("ratio", ("ratio_1", "ratio_2"), " / "))


def test_pairs_are_written_back_as_the_source_writes_them():
    split = split_pairs(_vitals())
    joined = join_pairs(split, paired_columns(split), decimal=",")
    assert list(joined.columns) == list(_vitals().columns)
    assert joined["bp"].tolist()[::2] == ["120/80", "135/90"]
    assert pd.isna(joined["bp"][1])
    assert joined["ratio"].tolist() == ["1,5 / 2", "2 / 2", "0,25 / 4", "3 / 1"]
    # a synthetic row missing one part is missing as a whole
    one_part = split.assign(bp_2=[80.0, 70.0, np.nan, 61.0])
    assert join_pairs(one_part, paired_columns(split))["bp"].isna().tolist() == [
        False, True, True, False]


def test_the_dialect_carries_its_pairs_to_every_csv_it_writes(tmp_path):
    split = split_pairs(_vitals())
    fmt = CsvFormat(sep=";", decimal=",").with_pairs(paired_columns(split))
    again = CsvFormat.from_meta(fmt.to_meta())
    assert again == fmt and not fmt.is_default
    again.write(split.assign(bp_1=split["bp_1"].astype("Int64")), tmp_path / "s.csv")
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert lines[0] == "id;bp;ratio;note;age"
    assert lines[1] == "1;120/80;1,5 / 2;1/2;50"
    assert "'A/B'" in fmt.pairs_note() and CsvFormat().pairs_note() is None


def test_a_schema_decides_which_columns_are_split():
    frame = _vitals()
    # the source's schema names bp's parts: a synthetic file of it is split the same way
    assert list(split_pairs(frame, ["id", "bp_1", "bp_2", "ratio", "note", "age"]).columns) == [
        "id", "bp_1", "bp_2", "ratio", "note", "age"]
    # a schema that models bp as one column keeps it whole
    assert list(split_pairs(frame, list(frame.columns)).columns) == list(frame.columns)


def test_a_part_name_already_taken_is_a_clear_error():
    with pytest.raises(DataError, match=r"'bp_1'.*already exist.*rename"):
        split_pairs(_vitals().assign(bp_1=1))


def _two_sites() -> pd.DataFrame:
    return pd.DataFrame({"glucose": ["5.4 mmol/L", "97 mg/dL", None, "6.15 mmol/L", "110mg/dL"]
                         + ["5.0 mmol/L", "90 mg/dL"] * 4,
                         "potassium": ["4.1 mmol/L"] * 13})


def test_labels_that_start_with_a_number_are_not_numbers_with_units():
    beds = pd.DataFrame({"bed": [f"{i}{w}" for i in range(12) for w in "AB"],
                         "dose": ["5 mg"] * 7 + ["2 tablets"] * 5 + ["1 g"] * 12})
    split = split_pairs(beds)
    assert list(split.columns) == ["bed", "dose", "dose_unit"]  # every bed label differs
    assert split_pairs(beds.iloc[:8]).columns.tolist() == ["bed", "dose"]  # one "tablets"


def test_numbers_in_several_units_keep_each_rows_unit_and_precision():
    split = split_pairs(_two_sites())
    assert list(split.columns) == ["glucose", "glucose_unit", "potassium"]
    assert split["glucose"].tolist()[:2] == [5.4, 97.0]
    assert split["glucose_unit"].fillna("-").tolist()[:5] == ["mmol/L", "mg/dL", "-",
                                                              "mmol/L", "mg/dL"]
    assert split["potassium"].tolist() == ["4.1 mmol/L"] * 13  # one unit: the schema's
    (pair,) = paired_columns(split)
    assert (pair.kind, pair.decimals) == ("unit", {"mg/dL": 0, "mmol/L": 2})
    drawn = split.assign(glucose=[5.43, 97.2, np.nan, 6.1, 104.6] + [5.0, 90.0] * 4)
    assert join_pairs(drawn, (pair,), decimal=",")["glucose"].tolist()[:2] == [
        "5,43 mmol/L", "97 mg/dL"]
    # a synthetic file written so is split as the source's schema names it
    back = split_pairs(join_pairs(drawn, (pair,)), ["glucose", "glucose_unit", "potassium"])
    assert back["glucose_unit"].tolist()[:2] == ["mmol/L", "mg/dL"]
    assert CsvFormat.from_meta(CsvFormat().with_pairs((pair,)).to_meta()).pairs[0].decimals \
        == pair.decimals
    assert "several units" in CsvFormat().with_pairs((pair,)).pairs_note()
