"""``synthmed sample``: streamed to Parquet / CSV in chunks; bad input exits 2, writes nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _data import make_mixed_frame
from synthmed import get_generator
from synthmed.cli import main
from synthmed.generators.streaming import sample_to_parquet


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("model") / "m"
    get_generator("gaussian_copula").fit(make_mixed_frame(200)).save(folder)
    return folder


def test_sample_streams_parquet_in_chunks(model, tmp_path, capsys):
    out = tmp_path / "deep" / "s.parquet"
    code = main(["sample", str(model), "-o", str(out), "--n", "250", "--chunk-rows", "100",
                 "--seed", "3"])
    assert code == 0, capsys.readouterr().err
    assert "250 synthetic rows written" in capsys.readouterr().out
    from synthmed.generators import load_generator

    # the same file as the library writes with the same seed and chunk size
    same = sample_to_parquet(load_generator(model), tmp_path / "api.parquet", 250,
                             chunk_rows=100, random_state=3)
    assert out.read_bytes() == same.read_bytes()
    assert sorted(p.name for p in out.parent.iterdir()) == ["s.parquet"]


def test_a_model_fitted_on_a_european_export_samples_in_its_dialect(tmp_path, capsys):
    """`synthmed fit` on a ";"/"," cp1252 file keeps its dialect beside the model, and
    `synthmed sample` writes CSV chunks the same way (units and decimal commas included)."""
    frame = make_mixed_frame(200).drop(columns=["patient_id"])
    frame["weight"] = [f"{w:.1f} kg".replace(".", ",") for w in 60 + frame["age"] / 3]
    source = tmp_path / "kohorte.csv"
    frame.to_csv(source, sep=";", decimal=",", index=False, encoding="cp1252")
    model = tmp_path / "model"
    assert main(["fit", str(source), "-o", str(model), "--generator", "gaussian_copula",
                 "-q"]) == 0
    assert (model / "csv_format.json").is_file()
    out = tmp_path / "s.csv"
    assert main(["sample", str(model), "-o", str(out), "--n", "120", "--chunk-rows", "50",
                 "-q"]) == 0
    text = out.read_text(encoding="cp1252").splitlines()
    assert text[0] == ";".join(frame.columns) and len(text) == 121
    back = pd.read_csv(out, sep=";", decimal=",", encoding="cp1252")
    assert back["age"].dtype == float
    assert back["weight"].str.fullmatch(r"\d+,\d kg").all()


def test_sample_streams_csv(model, tmp_path):
    out = tmp_path / "s.csv"
    assert main(["sample", str(model), "-o", str(out), "--n", "130", "--chunk-rows", "50",
                 "-q"]) == 0
    back = pd.read_csv(out)
    assert len(back) == 130 and "age" in back.columns


@pytest.mark.parametrize(("args", "needle"), [
    (["--n", "0"], "must be a positive integer, got 0"),
    (["--n", "10", "--chunk-rows", "0"], "--chunk-rows: must be a positive integer, got 0"),
    (["--n", "10", "--chunk-rows", "many"], "--chunk-rows: must be a positive integer"),
])
def test_sample_bad_numbers_exit_2(model, tmp_path, capsys, args, needle):
    code = main(["sample", str(model), "-o", str(tmp_path / "s.parquet"), *args])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_sample_wrong_suffix_exits_2(model, tmp_path, capsys):
    code = main(["sample", str(model), "-o", str(tmp_path / "s.xlsx"), "--n", "10"])
    err = capsys.readouterr().err
    assert code == 2 and "must end in .csv or .parquet" in err
    assert list(tmp_path.iterdir()) == []


def test_sample_unwritable_path_exits_2(model, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    code = main(["sample", str(model), "-o", str(tmp_path / "file" / "s.parquet"), "--n", "10"])
    err = capsys.readouterr().err
    assert code == 2 and "Cannot write to" in err and "Traceback" not in err


def test_a_long_table_is_fitted_once_and_sampled_by_patient(tmp_path, capsys):
    """`fit --entity --time` saves the longitudinal model (and the file's dialect), and
    `sample --n` draws that many whole patients; a table generator or a signal file is a
    clear error."""
    rng = np.random.default_rng(0)
    rows = [{"stay": i, "hour": 2 * t, "hr": round(float(rng.normal(80, 8))),
             "age": 40 + i % 30} for i in range(40) for t in range(int(rng.integers(2, 7)))]
    source = tmp_path / "vitals.csv"
    pd.DataFrame(rows).to_csv(source, index=False, sep=";")
    model = tmp_path / "model"
    assert main(["fit", str(source), "--entity", "stay", "--time", "hour", "-o", str(model),
                 "-q"]) == 0
    out = tmp_path / "more.csv"
    assert main(["sample", str(model), "-o", str(out), "--n", "25", "-q"]) == 0
    back = pd.read_csv(out, sep=";")
    assert back["stay"].nunique() == 25 and list(back.columns) == ["stay", "hour", "hr", "age"]
    assert back.groupby("stay")["age"].nunique().max() == 1
    capsys.readouterr()
    assert main(["fit", str(source), "--entity", "stay", "--time", "hour", "--generator",
                 "gaussian_copula", "-o", str(tmp_path / "m2")]) == 2
    assert "is for table data; this input is a long table" in capsys.readouterr().err
    assert main(["fit", str(source), "--entity", "stay", "--time", "hour", "--fs", "250",
                 "-o", str(tmp_path / "m3")]) == 2
    assert "--fs and --channels describe signals" in capsys.readouterr().err
    assert not (tmp_path / "m2").exists() and not (tmp_path / "m3").exists()


def test_a_long_table_with_missing_codes_samples_to_parquet(tmp_path):
    """A lab exported with "." where it was not drawn: the Parquet file holds nulls there
    (a "." beside numbers stopped the write)."""
    rng = np.random.default_rng(1)
    rows = [{"stay": i, "day": t, "crp": f"{rng.lognormal(1, 0.5):.2f}" if rng.random() < 0.7
             else ".", "age": 40 + i % 30} for i in range(40) for t in range(4)]
    source = tmp_path / "labs.csv"
    pd.DataFrame(rows).to_csv(source, index=False)
    model, out = tmp_path / "model", tmp_path / "more.parquet"
    assert main(["fit", str(source), "--entity", "stay", "--time", "day", "-o", str(model),
                 "-q"]) == 0
    assert main(["sample", str(model), "-o", str(out), "--n", "30", "-q"]) == 0
    back = pd.read_parquet(out)
    assert back["crp"].dtype == float and back["crp"].isna().any()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labs.csv", "model", "more.parquet"]


def test_signals_are_fitted_once_and_sampled_by_record(tmp_path, capsys):
    """`fit SIGNAL -o MODEL` saves a signal model (it was refused: signals were fitted only
    inside `generate`); `sample MODEL -o out/ecg.edf --n 2 --length 8` draws records from it.
    Table options on signals, and a table generator, are clear errors."""
    pytest.importorskip("pyedflib")
    from synthmed.datasets.signal_io import read_signals

    fs = 250
    t = np.arange(0, 30, 1 / fs)
    beats = np.sin(2 * np.pi * 1.2 * t) ** 15 + 0.01 * np.random.default_rng(0).normal(size=len(t))
    source = tmp_path / "ecg.csv"
    pd.DataFrame({"ecg": beats}).to_csv(source, index=False)
    model = tmp_path / "model"
    assert main(["fit", str(source), "--fs", str(fs), "-o", str(model), "-q"]) == 0
    out = tmp_path / "out"
    assert main(["sample", str(model), "-o", str(out / "ecg.edf"), "--n", "2", "--length", "8",
                 "-q"]) == 0
    back = read_signals(out / "ecg_0.edf")
    assert back.fs == fs and list(back.channels) == ["ecg"] and back.durations == (8.0,)
    capsys.readouterr()
    for args, needle in (
            (["--target", "ecg"], "describe tables, not signals"),
            (["--generator", "arf"], "'arf' is for table data; this input is signals")):
        assert main(["fit", str(source), "--fs", str(fs), *args,
                     "-o", str(tmp_path / "bad")]) == 2
        assert needle in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_the_model_of_a_generate_run_samples_as_the_run_wrote(tmp_path):
    """`generate` keeps the source's dialect beside OUT/model, as `fit` does: `sample` from
    it writes a tall export a row per measurement, in its separator (it wrote a column per
    measure, comma-separated)."""
    rng = np.random.default_rng(2)
    rows = [{"stay": i, "hour": 3 * t, "name": name, "value": round(float(rng.normal(mu, 5)))}
            for i in range(30) for t in range(int(rng.integers(2, 6)))
            for name, mu in (("hr", 80), ("sbp", 120))]
    source = tmp_path / "vitals.csv"
    pd.DataFrame(rows).to_csv(source, index=False, sep=";")
    out = tmp_path / "out"
    assert main(["generate", str(source), "--entity", "stay", "--time", "hour", "--measure",
                 "name", "--value", "value", "-o", str(out), "-q"]) == 0
    assert (out / "model" / "csv_format.json").is_file()
    more = tmp_path / "more.csv"
    assert main(["sample", str(out / "model"), "-o", str(more), "--n", "10", "-q"]) == 0
    for written in (out / "synthetic.csv", more):
        back = pd.read_csv(written, sep=";")
        assert list(back.columns) == ["stay", "hour", "name", "value"]
        assert set(back["name"]) == {"hr", "sbp"}
    assert pd.read_csv(more, sep=";")["stay"].nunique() == 10


@pytest.mark.parametrize("zone", ["UTC", "America/Chicago"])
def test_zoned_times_of_a_parquet_source_are_written_in_their_zone(zone, tmp_path):
    """A Parquet export's zoned times (CLIF's "2180-07-23 17:36:00+00:00") come back zoned,
    in the source's zone, in synthetic.csv and in a sampled Parquet file (they lost their
    "+00:00")."""
    rng = np.random.default_rng(3)
    start = pd.Timestamp("2180-01-01", tz=zone)
    frame = pd.DataFrame({
        "age": rng.integers(20, 90, 120),
        "admitted": start + pd.to_timedelta(rng.integers(0, 9000, 120), unit="h")})
    source = tmp_path / "stays.parquet"
    frame.to_parquet(source)
    out = tmp_path / "out"
    assert main(["generate", str(source), "--generator", "gaussian_copula", "-o", str(out),
                 "-q"]) == 0
    written = pd.read_csv(out / "synthetic.csv")["admitted"]
    offsets = {"UTC": {"+00:00"}, "America/Chicago": {"-06:00", "-05:00"}}[zone]
    assert written.str[-6:].isin(offsets).all()
    more = tmp_path / "more.parquet"
    assert main(["sample", str(out / "model"), "-o", str(more), "--n", "50", "-q"]) == 0
    assert str(pd.read_parquet(more)["admitted"].dt.tz) == zone


def test_a_long_parquet_export_keeps_the_zone_of_its_times(tmp_path):
    """The time column of a zoned long export is written zoned, as the source holds it."""
    rng = np.random.default_rng(4)
    start = pd.Timestamp("2180-07-23 17:36", tz="UTC")
    rows = [{"stay": f"h{i}", "at": start + pd.Timedelta(hours=int(rng.integers(0, 500)) + t),
             "hr": round(float(rng.normal(80, 8)))} for i in range(30) for t in range(4)]
    source = tmp_path / "vitals.parquet"
    pd.DataFrame(rows).to_parquet(source)
    out = tmp_path / "out"
    assert main(["generate", str(source), "--entity", "stay", "--time", "at", "-o", str(out),
                 "-q"]) == 0
    assert pd.read_csv(out / "synthetic.csv")["at"].str.endswith("+00:00").all()
