"""Long tables: reading, sorting, duplicate times, bad time columns, bundled datasets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthmed import DataError, list_datasets, load_dataset
from synthmed.datasets.longitudinal import LongitudinalData, read_long_table


def _long() -> pd.DataFrame:
    return pd.DataFrame({
        "pid": ["b", "a", "a", "a", "c"],
        "day": [5, 30, 0, 30, 2],
        "sex": ["m", "f", "f", "f", "m"],
        "bili": [0.7, 1.5, 1.2, 1.7, 9.9],
    })


def test_reader_sorts_merges_duplicates_and_keeps_single_rows(tmp_path):
    path = tmp_path / "long.csv"
    _long().to_csv(path, index=False)
    data = read_long_table(path, entity="pid", time="day", static=["sex"])
    assert data.n_entities == 3
    a = data.long[data.long["pid"] == "a"]
    assert a["day"].tolist() == [0, 30]  # sorted, the two rows at day 30 merged
    assert a["bili"].tolist() == [1.2, 1.6]  # averaged
    assert any("merged" in n for n in data.notes) and any("sorted" in n for n in data.notes)
    assert (data.long["pid"] == "c").sum() == 1  # a one-row patient is fine
    assert data.schema.modality == "longitudinal"
    assert data.schema.with_role("entity_id") == ["pid"]
    assert data.schema.with_role("static") == ["sex"]
    assert list(data.frame.columns) == data.schema.names


def test_time_column_that_is_not_a_time_is_a_data_error():
    frame = _long().assign(day=["x1", "soon", "later", "never", "7x"])
    with pytest.raises(DataError, match="time column 'day'") as err:
        LongitudinalData.from_frame(frame, entity="pid", time="day")
    assert "soon" not in str(err.value)  # never a cell value


def test_times_of_day_without_a_date_are_refused():
    """A stay's "23:40" then "00:20" read as clock times on one day came out sorted the wrong
    way round (the synthetic rows followed clock order, not the stay's); refused with the
    two ways to give a time that orders the rows."""
    frame = _long().assign(day=["08:00", "23:40", "00:20", "06:15", "12:00"])
    with pytest.raises(DataError, match="times of day without a date") as err:
        LongitudinalData.from_frame(frame, entity="pid", time="day")
    assert "23:40" not in str(err.value) and "elapsed" in str(err.value)
    dated = frame.assign(day="2021-03-0" + pd.Series(["1", "1", "2", "2", "3"]) + " " +
                         frame["day"])
    assert LongitudinalData.from_frame(dated, entity="pid", time="day").schema.column(
        "day").kind == "datetime"


def test_other_bad_input_is_reported_by_column_and_count():
    with pytest.raises(DataError, match="1 of 5 rows have no entity"):
        LongitudinalData.from_frame(_long().assign(pid=["a", None, "a", "b", "c"]),
                                    entity="pid", time="day")
    with pytest.raises(DataError, match=r"'bili' \(1 entities\)"):
        LongitudinalData.from_frame(_long(), entity="pid", time="day", static=["bili"])
    with pytest.raises(DataError, match="not in the table"):
        LongitudinalData.from_frame(_long(), entity="patient", time="day")
    with pytest.raises(DataError, match="must be a static column"):
        LongitudinalData.from_frame(_long(), entity="pid", time="day", target="bili")
    # one row per patient is a table, whatever the target: said so, not "not static"
    with pytest.raises(DataError, match="Every entity in 'pid' has a single row"):
        LongitudinalData.from_frame(_long().drop_duplicates("pid"), entity="pid", time="day",
                                    target="sex")
    # every row of an entity at one time: merged into one row each, and said so (not "a
    # single row", which the file does not have)
    with pytest.raises(DataError, match="single time in 'day': its 5 rows share 3"):
        LongitudinalData.from_frame(_long().assign(day=0), entity="pid", time="day")


def test_dates_as_times():
    frame = _long().assign(day=pd.to_datetime("2020-01-01") + pd.to_timedelta(_long()["day"],
                                                                                unit="D"))
    data = LongitudinalData.from_frame(frame.astype({"day": str}), entity="pid", time="day")
    assert data.schema.column("day").kind == "datetime"


def test_day_first_dates_as_times_keep_their_pattern():
    days = pd.to_datetime("2020-01-01") + pd.to_timedelta(_long()["day"], unit="D")
    frame = _long().assign(day=days.dt.strftime("%d/%m/%Y"))  # 31/01/2020, 01/01/2020...
    data = LongitudinalData.from_frame(frame, entity="pid", time="day")
    assert data.long["day"].min() == pd.Timestamp("2020-01-01")
    assert data.long["day"].max() == pd.Timestamp("2020-01-31")  # not read as 2020-01-06
    assert data.schema.column("day").date_format == "%d/%m/%Y"


def test_bundled_longitudinal_datasets_are_registered():
    infos = {i.name: i for i in list_datasets() if i.modality == "longitudinal"}
    assert {"pbcseq", "nafld2", "clif_vitals"} <= set(infos)
    data = load_dataset("pbcseq")
    assert data.frame["id"].nunique() == 312 and len(data.frame) == 1945
    assert data.schema.with_role("time_index") == ["day"]
    assert data.schema.target == "status"
    assert "ODbL" in infos["clif_vitals"].licence


def test_a_flagged_repeat_at_one_time_is_merged_not_taken_for_a_reused_id():
    # a second row at the same time, flagged "H", differs from the first in its flag: that
    # is not two patients under one id (each id's "H" rows cover a few of its times)
    from synthmed.datasets.longitudinal import prepare_long_table

    rng = np.random.default_rng(0)
    rows = []
    for p in range(30):
        for t in range(10):
            rows.append({"id": p, "t": t, "lab": rng.normal(), "flag": "N"})
            if rng.random() < 0.15:
                rows.append({"id": p, "t": t, "lab": rng.normal(), "flag": "H"})
    frame = pd.DataFrame(rows)
    out, notes = prepare_long_table(frame, entity="id", time="t")
    assert len(out) == 300 and any("merged" in note for note in notes)
