"""Schema inference, JSON round-trip, validation collecting every problem."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes
import numpy as np
import pandas as pd
import pytest

from synthmed import SchemaError, TableSchema, infer_schema
from synthmed.schema import KINDS, coerce_table, restore_table


def test_kinds_and_identifiers(mixed_frame):
    schema = infer_schema(mixed_frame, target="died", sensitive=["sex"])
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds == {
        "patient_id": "identifier", "age": "numeric", "sex": "categorical", "bili": "numeric",
        "stage": "categorical", "died": "boolean", "visits": "integer", "admitted": "datetime",
        "ward": "categorical", "site": "categorical",
    }
    assert schema.dropped_columns == ["patient_id"]
    assert "direct_identifier" in schema.column("patient_id").roles
    assert schema.target == "died"
    assert {"sensitive", "quasi_identifier"} <= schema.column("sex").roles
    assert "quasi_identifier" in schema.column("age").roles  # demographic by name
    assert schema.column("bili").decimals == 2 and schema.column("age").decimals == 1
    assert schema.column("admitted").date_only


@pytest.mark.parametrize(
    ("name", "values", "kind"),
    [
        ("email", [f"person{i}@hospital.org" for i in range(50)], "identifier"),
        ("contact", [f"+44 20 7946 {i:04d}" for i in range(50)], "identifier"),
        ("first_name", [f"name{i % 30}" for i in range(200)], "identifier"),
        ("clinic_name", ["ward a", "lab"] * 100, "categorical"),
        ("mrn", list(range(1000, 1100)), "identifier"),
        ("SEQN", list(range(233, 25061, 97)), "identifier"),  # NHANES' respondent number
        ("sequence", list(range(233, 25061, 97)), "integer"),
        ("notes", [f"patient reported pain in the {i} area after the procedure" for i in range(50)],
         "text"),
        ("visit_date", [f"2021-03-{1 + i % 28:02d}" for i in range(50)], "datetime"),
        ("flag", ["yes", "no"] * 25, "boolean"),
        ("score", [0, 1, 2, 3] * 25, "categorical"),
    ],
)
def test_column_kind_detection(name, values, kind):
    schema = infer_schema(pd.DataFrame({name: values}))
    assert schema.column(name).kind == kind


def _coded_frame() -> pd.DataFrame:
    """A SAS-style export: "." where a lab was not drawn, blanks where a form was not filled."""
    crp = [f"{1 + 0.25 * i:.2f}" for i in range(30)]
    visits = [str(3 * i) for i in range(30)]
    return pd.DataFrame({
        "crp": [v if i % 3 else "." for i, v in enumerate(crp)],
        "visits": [v if i % 4 else "." for i, v in enumerate(visits)],
        "smoker": ["Yes", "No ", "   ", "Yes", "No ", "   "] * 5,
        "blank": ["   "] * 30,
    })


def test_missing_codes_are_read_as_missing_and_written_back():
    frame = _coded_frame()
    schema = infer_schema(frame)
    crp, visits, smoker = (schema.column(c) for c in ("crp", "visits", "smoker"))
    assert (crp.kind, crp.missing_codes, crp.decimals) == ("numeric", (".",), 2)
    assert (visits.kind, visits.missing_codes) == ("integer", (".",))
    assert (smoker.kind, smoker.missing_codes) == ("categorical", ("   ",))
    assert schema.column("blank").missing_codes == ()  # nothing but blanks: not a code
    assert TableSchema.from_json(schema.to_json()) == schema
    names = ["crp", "visits", "smoker"]
    coerced = coerce_table(frame[names], schema.subset(names))
    assert coerced["crp"].dtype == float and coerced["crp"].isna().sum() == 10
    assert coerced["smoker"].isna().sum() == 10 and set(coerced["smoker"].dropna()) == {
        "Yes", "No "}
    restored = restore_table(coerced, schema.subset(names))
    assert restored["crp"].map(lambda v: v if v == "." else f"{v:.2f}").tolist() == \
        frame["crp"].tolist()
    assert restored["visits"].astype(str).tolist() == frame["visits"].tolist()  # "3", not "3.0"
    assert restored["smoker"].tolist() == frame["smoker"].tolist()


def test_missing_codes_are_no_kind_error_but_other_text_is():
    frame = _coded_frame()[["crp"]]
    schema = infer_schema(frame)
    schema.validate(frame.assign(crp=["."] * 29 + ["2.5"]))
    with pytest.raises(SchemaError, match="1 of 30 values are not"):
        schema.validate(frame.assign(crp=["n/d"] + ["2.5"] * 29))


@pytest.mark.parametrize(("written", "pattern"), [
    (["04.02.2021", "31.08.2019", None], "%d.%m.%Y"),
    (["04/02/2021", "31/08/2019", None], "%d/%m/%Y"),
    (["02/04/2021", "08/31/2019", None], "%m/%d/%Y"),
    (["04-Feb-2021", "31-Aug-2019", None], "%d-%b-%Y"),
    (["2021-02-04 08:30:00", "2019-08-31 23:05:00", None], "%Y-%m-%d %H:%M:%S"),
    (["2021-02-04T08:30:00Z", "2019-08-31T23:05:00Z", None], "%Y-%m-%dT%H:%M:%SZ"),
    # one UTC offset throughout: kept, with the wall-clock times (they were written as UTC
    # without it: "08:30:00+01:00" came back "07:30:00")
    (["2021-02-04T08:30:00+01:00", "2019-08-31T23:05:00+01:00", None],
     "%Y-%m-%dT%H:%M:%S+01:00"),
    (["2021-02-04 08:30-0500", "2019-08-31 23:05-0500", None], "%Y-%m-%d %H:%M-0500"),
])
def test_dates_are_read_by_their_one_pattern_and_written_back_in_it(written, pattern, tmp_path):
    """A German or British export's "04.02.2021" is 4 February (read one by one, month first,
    it was 2 April, while "31.08.2019" was read day first); synthetic dates go back in the
    source's pattern."""
    from synthmed.schema import coerce_table, restore_table

    frame = pd.DataFrame({"admitted": written * 4})
    schema = infer_schema(frame)
    col = schema.column("admitted")
    assert (col.kind, col.date_format) == ("datetime", pattern)
    read = coerce_table(frame, schema)["admitted"]
    assert read.iloc[0] == pd.Timestamp(2021, 2, 4, *((8, 30) if ":" in written[0] else ()))
    assert read.iloc[1].month == 8 and read.iloc[1].day == 31
    back = restore_table(read.to_frame(), schema)["admitted"]
    assert back.iloc[:2].tolist() == written[:2] and back.isna().iloc[2]
    schema.save(tmp_path / "s.json")
    assert TableSchema.load(tmp_path / "s.json").column("admitted").date_format == pattern
    # another tool's dates, judged against this source, are read although ISO
    other = coerce_table(pd.DataFrame({"admitted": ["2021-02-04", None, "2019-08-31"]}),
                         schema)["admitted"]
    assert other.iloc[0] == pd.Timestamp(2021, 2, 4) and other.iloc[2].day == 31


def test_timestamps_of_several_utc_offsets_are_read_as_utc():
    """Offsets that change (summer time) are no one pattern: each value is read by itself,
    as UTC."""
    from synthmed.schema import coerce_table

    frame = pd.DataFrame({"t": ["2021-02-04T08:30:00+01:00", "2021-08-04T08:30:00+02:00"] * 5})
    schema = infer_schema(frame)
    assert schema.column("t").kind == "datetime" and schema.column("t").date_format is None
    read = coerce_table(frame, schema)["t"]
    assert read.iloc[:2].tolist() == [pd.Timestamp(2021, 2, 4, 7, 30),
                                      pd.Timestamp(2021, 8, 4, 6, 30)]


def test_numbers_written_with_a_unit_are_numbers_and_keep_it(tmp_path):
    """"71.5 kg" is a weight, not one of 150 categories: read as a number, written back with
    its unit at the recorded decimals; a "." code beside it stays a missing value."""
    rng = np.random.default_rng(0)
    weights = rng.normal(75, 12, 150)
    frame = pd.DataFrame({
        "weight": [f"{w:.1f} kg" for w in weights],
        "spo2": [f"{v:.0f}%" for v in rng.uniform(85, 100, 150)],
        "crp": ["." if i % 9 == 0 else f"{v:.0f} mg/L"
                for i, v in enumerate(rng.lognormal(2, 1, 150))],
        "dose": rng.choice(["5 mg", "10 mg"], 150),  # two levels: stays a category
        "mixed": [f"{v:.0f} kg" if i % 2 else f"{v:.0f} lb" for i, v in enumerate(weights)],
    })
    schema = infer_schema(frame)
    got = {c.name: (c.kind, c.unit, c.decimals) for c in schema.columns}
    assert got["weight"] == ("numeric", " kg", 1)
    assert got["spo2"][:2] == ("integer", "%") and got["crp"][:2] == ("integer", " mg/L")
    assert got["dose"][:2] == ("categorical", None) and got["mixed"][1] is None
    read = coerce_table(frame, schema)
    assert read["weight"].iloc[0] == pytest.approx(round(weights[0], 1))
    assert read["crp"].isna().sum() == 17
    back = restore_table(read, schema)
    assert back["weight"].tolist() == frame["weight"].tolist()
    assert back["crp"].tolist() == frame["crp"].tolist()
    schema.save(tmp_path / "s.json")
    assert TableSchema.load(tmp_path / "s.json").column("spo2").unit == "%"


def test_text_numbers_keep_the_decimals_they_are_written_with(tmp_path):
    """A sodium written "143.0 mmol/L" came back "139 mmol/L": the decimals were read from
    the values (whole), not from the text. Values keep their precision (whole), the text
    its written decimals; a column written with varying decimals is left as it was."""
    rng = np.random.default_rng(1)
    sodium = rng.normal(140, 3, 120).round()
    crp = rng.lognormal(2, 1, 120).round()
    frame = pd.DataFrame({
        "sodium": [f"{v:.1f} mmol/L" for v in sodium],
        "crp": ["<5" if v < 5 else f"{v:.1f}" for v in crp],
        "weight": [f"{v} kg" for v in rng.normal(75, 12, 120).round(1)],
    })
    schema = infer_schema(frame)
    got = {c.name: (c.decimals, c.written_decimals) for c in schema.columns}
    assert got == {"sodium": (0, 1), "crp": (0, 1), "weight": (1, None)}
    back = restore_table(coerce_table(frame, schema), schema)
    assert back["sodium"].tolist() == frame["sodium"].tolist()
    assert back["crp"].tolist() == frame["crp"].tolist()
    synthetic = restore_table(pd.DataFrame({"sodium": [139.4], "crp": [12.3],
                                            "weight": [70.04]}), schema)
    assert synthetic.iloc[0].tolist() == ["139.0 mmol/L", "12.0", "70.0 kg"]
    schema.save(tmp_path / "s.json")
    assert TableSchema.load(tmp_path / "s.json").column("sodium").written_decimals == 1


def test_a_single_precision_export_read_as_text_keeps_its_digits():
    """A Stata export writes a float's every digit (a tax of 1.102294921875): read as six
    decimals, each synthetic 1.102295 sat beside the real value and a classifier split them
    (NHEFS, AUC 0.98 on that column). Read from text such values are doubles with no short
    decimals; a float32 column itself still reads as its decimals."""
    tax = np.array([1.1023, 1.365, 0.5513, 0.5249, 0.8812], dtype=np.float32)
    schema = infer_schema(pd.DataFrame({"tax": tax.astype(float), "t32": tax,
                                        "dose": [2.5, 5.0, 7.5, 1.25, 10.0]}))
    assert schema.column("tax").decimals is None
    assert schema.column("t32").decimals == 4 and schema.column("dose").decimals == 2
    assert restore_table(pd.DataFrame({"tax": [1.102294921875]}),
                         schema.subset(["tax"]))["tax"].iloc[0] == 1.102294921875


def test_a_few_values_written_finer_do_not_set_a_columns_precision():
    """flchain's lambda has three decimals on 7,869 of 7,874 rows, aids' cd4 is in halves
    on all but two (23.3333, a mean of three counts). Read off every value, lambda had no
    decimals to keep and cd4 a grid of sixths; the column's precision is that of all but
    half a percent of its values, and the few are rounded to it."""
    rng = np.random.default_rng(6)
    lam = rng.lognormal(0, 0.5, 1000).round(3)
    lam[:3] = [1.23456789, 0.98765432, 2.5000001]
    cd4 = rng.integers(1, 600, 1000) / 2
    cd4[:2] = [23.333333, 141.666667]
    schema = infer_schema(pd.DataFrame({"lam": lam, "cd4": cd4}))
    assert schema.column("lam").decimals == 3 and schema.column("lam").step is None
    assert schema.column("cd4").decimals == 1 and schema.column("cd4").step == 0.5
    back = restore_table(pd.DataFrame({"lam": [1.23456789], "cd4": [23.333333]}), schema)
    assert back.iloc[0].tolist() == [1.235, 23.5]
    # values at two decimals on a quarter of the rows set the decimals
    assert infer_schema(pd.DataFrame({"x": [1.5, 2.25, 3.0, 4.5] * 10})).column(
        "x").decimals == 2


def test_numbers_on_a_grid_coarser_than_their_decimals_stay_on_it(tmp_path):
    """A dose given in steps of 0.5 mg has one decimal, and a weight in whole pounds converted
    to kg eight: synthetic doses of 3.7 mg and weights off the pound grid were told from real
    ones (NHEFS's 1982 weight alone: AUC 0.66). Values are rounded to the grid; a continuous
    column, whole numbers and a one-decimal column have none."""
    rng = np.random.default_rng(4)
    n = 200
    frame = pd.DataFrame({
        "dose": rng.integers(1, 21, n) * 0.5,
        "weight": np.round(rng.integers(90, 260, n) * 0.45359237, 8),
        "cost": rng.integers(1, 40, n) * 1000,
        "crp": rng.lognormal(1, 1, n), "age": rng.integers(20, 90, n),
        "temp": rng.normal(37, 0.6, n).round(1)})
    schema = infer_schema(frame)
    assert {c.name: c.step for c in schema.columns} == {
        "dose": 0.5, "weight": 0.45359237, "cost": 1000.0, "crp": None, "age": None,
        "temp": None}
    synthetic = restore_table(pd.DataFrame({
        "dose": [3.7, 0.3], "weight": [68.8, 100.0], "cost": [12_345.0, 700.0],
        "crp": [1.2345, 2.0], "age": [40.4, 61.0], "temp": [37.04, 36.0]}), schema)
    assert synthetic["dose"].tolist() == [3.5, 0.5]
    assert synthetic["weight"].tolist() == [68.94604024, 99.79032140]
    assert synthetic["cost"].tolist() == [12_000, 1_000]
    assert synthetic["crp"].tolist() == [1.2345, 2.0] and synthetic["age"].tolist() == [40, 61]
    schema.save(tmp_path / "s.json")
    assert TableSchema.load(tmp_path / "s.json").column("weight").step == 0.45359237


def test_a_grid_written_at_fewer_decimals_than_it_has_is_still_read():
    """openintro's yrbss records whole pounds in kg and whole inches in m, both to two
    decimals (58.97, 59.42; 1.52, 1.55: gaps of 0.02 and 0.03): off any grid by up to half a
    last digit. Drawn between the grid's values they were told from real ones (the copula's
    rows at AUC 0.67). The grid is read where values off it would lie that close by chance
    less often than 10^-6, with the simplest step that writes every value as the source did;
    a continuous two-decimal column has none."""
    rng = np.random.default_rng(8)
    n = 600
    frame = pd.DataFrame({
        "weight": np.round(rng.integers(80, 260, n) * 0.45359237, 2),
        "height": np.round(rng.integers(50, 80, n) * 0.0254, 2),
        "crp": rng.lognormal(1, 0.6, n).round(2),
        # whole and half months, and one 6.2 (aids' prior ZDV): no grid of quarters
        "months": np.r_[rng.integers(0, 80, n - 1) / 2, 6.2]})
    schema = infer_schema(frame)
    assert schema.column("months").decimals == 1 and schema.column("months").step is None
    # the simplest steps that write every value as the source did
    assert schema.column("weight").step == pytest.approx(0.45359237, rel=1e-5)
    assert schema.column("height").step == 0.0254
    assert schema.column("crp").step is None
    back = restore_table(pd.DataFrame({"weight": [60.0, 100.2], "height": [1.71, 1.64],
                                       "crp": [1.234, 2.0], "months": [3.0, 4.5]}), schema)
    assert back["weight"].tolist() == [59.87, 100.24]  # 132 and 221 pounds
    assert back["height"].tolist() == [1.7, 1.65]  # 67 and 65 inches
    assert back["crp"].tolist() == [1.23, 2.0]


def test_numbers_whole_from_a_magnitude_stay_whole_there(tmp_path):
    """A children's hospital records an infant's age in tenths of a year (0.1-0.9) and every
    other age in whole years: the column's one decimal let a synthetic teenager be 14.3, which
    no real row is (34 % of synthetic adult ages in medicaldata's covid_testing). Values from
    the smallest whole value above every fractional one stay whole; below it they keep the
    decimal. A one-decimal column (a few whole values among many) has no such magnitude."""
    rng = np.random.default_rng(3)
    age = np.r_[rng.integers(1, 10, 60) / 10, rng.integers(1, 18, 240)].astype(float)
    temp = rng.normal(37, 0.6, 300).round(1)
    frame = pd.DataFrame({"age": age, "temp": temp})
    schema = infer_schema(frame)
    assert schema.column("age").decimals == 1 and schema.column("age").whole_from == 1.0
    assert schema.column("temp").whole_from is None
    synthetic = restore_table(pd.DataFrame({"age": [0.44, 0.96, 14.3, 2.61],
                                            "temp": [37.04, 36.56, 38.12, 36.0]}), schema)
    assert synthetic["age"].tolist() == [0.4, 1.0, 14.0, 3.0]
    assert synthetic["temp"].tolist() == [37.0, 36.6, 38.1, 36.0]
    # too few whole values above the fractional ones: chance, not a rule
    few = infer_schema(pd.DataFrame({"x": np.r_[rng.integers(1, 10, 100) / 10, np.arange(1, 6)]}))
    assert few.column("x").whole_from is None
    schema.save(tmp_path / "s.json")
    assert TableSchema.load(tmp_path / "s.json").column("age").whole_from == 1.0


def test_lab_values_at_a_detection_limit_stay_a_number_column(tmp_path):
    """Labs report "<0.5" below the assay's limit and ">50" above: read as a category of 150
    levels, the column was a code that no synthetic row could vary. Now a number column whose
    values beyond a limit are written back as the token."""
    rng = np.random.default_rng(0)
    crp = rng.lognormal(1, 1.2, 300)
    written = np.where(crp < 0.5, "<0.5", np.where(crp > 50, ">50", np.char.mod("%.1f", crp)))
    frame = pd.DataFrame({"crp": np.where(rng.random(300) < 0.1, ".", written)})
    schema = infer_schema(frame)
    col = schema.column("crp")
    assert (col.kind, col.decimals, col.limits, col.missing_codes) == (
        "numeric", 1, ("<0.5", ">50"), (".",))
    read = coerce_table(frame, schema)["crp"]
    assert read[frame["crp"] == "<0.5"].eq(0.25).all() and read[frame["crp"] == ">50"].eq(75).all()
    back = restore_table(read.to_frame(), schema)["crp"]
    assert back.tolist() == frame["crp"].tolist()
    synthetic = restore_table(pd.DataFrame({"crp": [0.1, 0.7, 64.0, np.nan]}), schema)["crp"]
    assert synthetic.tolist() == ["<0.5", "0.7", ">50", "."]
    # two limits on one side (an assay changed) or text beside them: left as it was
    two = pd.DataFrame({"crp": ["<0.5", "<1", "3.2", "4.1"] * 10})
    assert infer_schema(two).column("crp").limits == ()
    schema.save(tmp_path / "s.json")
    assert TableSchema.load(tmp_path / "s.json").column("crp").limits == ("<0.5", ">50")


def test_times_keep_their_clock_resolution():
    """A time of day ("14:55") was read as today's date at that time and written back with
    nanoseconds; times recorded to the minute come back to the minute."""
    frame = pd.DataFrame({"seen": ["14:55", "08:05", None, "23:59"] * 5,
                          "stamp": pd.to_datetime(["2021-02-04 08:30", "2021-03-01 10:01",
                                                   None, "2021-05-05 00:00"] * 5)})
    schema = infer_schema(frame)
    assert (schema.column("seen").date_format, schema.column("seen").time_unit) == (
        "%H:%M", "min")
    assert schema.column("stamp").time_unit == "min"
    drawn = pd.DataFrame({"seen": pd.to_datetime(["1900-01-01 14:55:31.2", None]),
                          "stamp": pd.to_datetime(["2021-02-04 08:30:29.9", None])})
    back = restore_table(drawn, schema)
    assert back["seen"].tolist()[0] == "14:56"
    assert back["stamp"].iloc[0] == pd.Timestamp("2021-02-04 08:30")


def test_json_round_trip_and_user_correction(mixed_frame, tmp_path):
    schema = infer_schema(mixed_frame, target="died", survival=("visits", "died"))
    path = tmp_path / "schema.json"
    schema.save(path)
    raw = json.loads(path.read_text())
    assert raw["spec_version"] == "1.0"
    assert TableSchema.load(path) == schema
    # a user corrects a kind and marks a column as a direct identifier
    for col in raw["columns"]:
        if col["name"] == "ward":
            col["roles"] = ["direct_identifier"]
    path.write_text(json.dumps(raw))
    corrected = TableSchema.load(path)
    assert "ward" in corrected.dropped_columns
    assert corrected.survival == ("visits", "died")


def test_validation_collects_every_problem_without_values(mixed_frame):
    schema = infer_schema(mixed_frame)
    bad = mixed_frame.drop(columns=["age"]).assign(extra=1, bili=np.nan)
    bad["visits"] = bad["visits"].astype(object)
    bad.loc[0, "visits"] = "SECRET-VALUE"
    with pytest.raises(SchemaError) as info:
        schema.validate(bad)
    message = str(info.value)
    assert len(info.value.problems) == 4
    assert "'age'" in message and "'extra'" in message and "'bili' has no values" in message
    assert "'visits' is declared 'integer' but 1 of" in message
    assert "SECRET-VALUE" not in message


def test_bad_schema_files(tmp_path):
    with pytest.raises(SchemaError, match="not valid JSON"):
        TableSchema.from_json("{nope")
    with pytest.raises(SchemaError) as info:
        TableSchema.from_dict({"spec_version": "9.0", "columns": [
            {"name": "a", "kind": "weird"}, {"name": "a", "kind": "numeric", "roles": ["boss"]},
            {"name": "t", "kind": "numeric", "roles": ["target"]},
            {"name": "u", "kind": "numeric", "roles": ["target"]},
        ]})
    text = str(info.value)
    for needle in ("9.0", "unknown kind 'weird'", "more than once", "unknown role 'boss'",
                   "Only one target"):
        assert needle in text
    with pytest.raises(SchemaError, match="does not exist"):
        TableSchema.load(tmp_path / "missing.json")


def test_unknown_target_is_reported():
    with pytest.raises(SchemaError, match="'outcome' is not in the data"):
        infer_schema(pd.DataFrame({"a": [1, 2]}), target="outcome")


def test_infer_does_not_mutate(mixed_frame):
    before = mixed_frame.copy()
    infer_schema(mixed_frame)
    pd.testing.assert_frame_equal(before, mixed_frame)


_cell = st.one_of(st.none(), st.integers(-1000, 1000), st.floats(-1e6, 1e6, allow_nan=False),
                  st.sampled_from(["a", "b", "c", "2020-01-05", "x@y.org"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data_frames(
        [
            column("num", elements=st.one_of(st.floats(-1e6, 1e6), st.just(float("nan")))),
            column("int", elements=st.integers(-50, 50)),
            column("cat", elements=st.sampled_from(["x", "y", "z"])),
            column("mixed", elements=_cell, dtype=object),
        ],
        index=range_indexes(min_size=1, max_size=60),
    )
)
def test_inference_on_random_frames(frame):
    schema = infer_schema(frame)
    assert schema.names == list(frame.columns)
    assert all(c.kind in KINDS for c in schema.columns)
    assert TableSchema.from_json(schema.to_json()) == schema
    usable = [c.name for c in schema.columns if c.modelled and frame[c.name].notna().any()]
    coerced = coerce_table(frame[usable], schema.subset(usable))
    assert len(coerced) == len(frame)


def test_zoned_times_are_modelled_as_utc_and_restored_in_their_zone():
    """A Parquet source's zoned times: naive UTC wall times for the models, back in the
    source's zone when written, and restoring a table restored already keeps them."""
    from synthmed.schema import coerce_table, restore_table

    frame = pd.DataFrame({"t": pd.date_range("2180-01-01 06:00", periods=40, freq="h",
                                             tz="America/Chicago")})
    schema = infer_schema(frame)
    read = coerce_table(frame, schema)["t"]
    assert read.dt.tz is None and read.iloc[0] == pd.Timestamp("2180-01-01 12:00")
    back = restore_table(read.to_frame(), schema)
    assert str(back["t"].dt.tz) == "America/Chicago" and (back["t"] == frame["t"]).all()
    again = restore_table(back, schema)
    assert (again["t"] == frame["t"]).all()
