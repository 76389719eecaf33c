"""Scale: the default generator on a 1,000,000-row x 30-column table (issue 6).

The table is built reproducibly from real bundled data: a Gaussian copula is fitted on each of
``covid_testing``, ``flchain`` and ``pbc`` (all rows), 1,000,000 rows are drawn from each
(seed 0) and the columns are joined side by side. Columns of different source tables are
therefore independent; within a source they keep its dependence. One datetime column
(``test_date``) is derived from covid_testing's pandemic day; the binary target is flchain's
``death``. The mix: numeric, integer, categorical, boolean, datetime, with missing values.

Each measurement runs in a fresh child process, so its peak RSS (``ru_maxrss``) is its own:

1. ``fit``: read the table, fit ``auto`` with its defaults (it fits the winner on at most
   ``max_fit_rows`` rows, stratified on the target), save the model;
2. ``sample``: load the model and stream N rows to Parquet with ``sample_to_parquet``,
   once for 1,000,000 rows and once for 3,000,000 (peak RSS should not grow with N).

Usage::

    .venv/bin/python benchmarks/bench_scale.py [--rows 1000000] [--work /tmp/synthmed-scale]

Prints Markdown for benchmarks/RESULTS.md and writes benchmarks/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import platform
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd

RESULTS = Path(__file__).parent / "results" / "scale.json"
#: columns kept from each source table (30 with the derived test_date)
SOURCES: dict[str, list[str]] = {
    "covid_testing": ["gender", "clinic_name", "result", "demo_group", "age", "drive_thru_ind",
                      "ct_result", "payor_group", "patient_class", "col_rec_tat", "rec_ver_tat"],
    "flchain": ["age", "chapter", "creatinine", "flc.grp", "kappa", "lambda", "mgus",
                "sample.yr", "sex", "death"],
    "pbc": ["ascites", "edema", "bili", "chol", "albumin", "copper", "platelet",
            "stage"],
}
TARGET = "death"


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cpu_seconds() -> float:
    """User + system CPU time of this process: unlike wall time, not inflated by other load."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_average() -> float:
    import os

    return round(os.getloadavg()[0], 1)


def build_table(rows: int, seed: int = 0) -> pd.DataFrame:
    """``rows`` x 30 mixed columns drawn from copulas fitted on three real bundled tables."""
    import synthmed

    parts = []
    for name, columns in SOURCES.items():
        data = synthmed.load_dataset(name)
        keep = columns + (["pan_day"] if name == "covid_testing" else [])
        schema = data.schema.subset(keep)
        gen = synthmed.get_generator("gaussian_copula").fit(data.frame[keep], schema=schema,
                                                             random_state=seed)
        part = gen.sample(rows, random_state=seed, allow_copies=True)
        if name == "covid_testing":
            day = part.pop("pan_day").to_numpy(dtype=float)
            part["test_date"] = pd.Timestamp("2020-03-01") + pd.to_timedelta(day, unit="D")
        prefix = {"covid_testing": "", "flchain": "flc_", "pbc": "pbc_"}[name]
        parts.append(part.rename(columns=lambda c, p=prefix: c if c == TARGET else p + c))
    return pd.concat(parts, axis=1)


def table_schema(frame: pd.DataFrame):  # type: ignore[no-untyped-def]
    from synthmed import infer_schema

    return infer_schema(frame, target=TARGET)


# ---------------------------------------------------------------- child steps
def step_fit(work: Path, seed: int) -> dict[str, object]:
    import synthmed

    frame = pd.read_parquet(work / "table.parquet")
    schema = table_schema(frame)
    read_rss = peak_rss_mb()
    gen = synthmed.get_generator("auto")
    load, cpu, start = load_average(), cpu_seconds(), time.perf_counter()
    gen.fit(frame, schema=schema, random_state=seed)
    fit_s = time.perf_counter() - start
    cpu = cpu_seconds() - cpu
    gen.save(work / "model")
    choice = gen.choice_
    return {"fit_s": round(fit_s, 1), "fit_cpu_s": round(cpu, 1),
            "load_average_before": load, "load_average_after": load_average(),
            "peak_rss_mb": peak_rss_mb(),
            "rss_after_reading_table_mb": read_rss, "chosen": choice["chosen"],
            "reason": choice["reason"], "fit_rows": choice.get("fit_rows"),
            "train_rows": len(frame), "scores": choice["scores"],
            "params": gen.get_params()}


def step_sample(work: Path, rows: int, seed: int, chunk_rows: int) -> dict[str, object]:
    from synthmed.generators import load_generator
    from synthmed.generators.streaming import sample_to_parquet

    gen = load_generator(work / "model")
    out = work / f"sample_{rows}.parquet"
    load_rss = peak_rss_mb()
    load, cpu, start = load_average(), cpu_seconds(), time.perf_counter()
    sample_to_parquet(gen, out, rows, chunk_rows=chunk_rows, random_state=seed)
    seconds = time.perf_counter() - start
    cpu = cpu_seconds() - cpu
    size_mb = out.stat().st_size / 2**20
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(out).metadata
    assert meta.num_rows == rows, (meta.num_rows, rows)
    out.unlink()
    return {"rows": rows, "chunk_rows": chunk_rows, "seconds": round(seconds, 1),
            "rows_per_s": round(rows / seconds), "cpu_s": round(cpu, 1),
            "rows_per_cpu_s": round(rows / cpu), "load_average_before": load,
            "load_average_after": load_average(), "peak_rss_mb": peak_rss_mb(),
            "rss_after_loading_model_mb": load_rss, "file_mb": round(size_mb, 1),
            "row_groups": meta.num_row_groups}


def step_build(work: Path, rows: int, seed: int) -> dict[str, object]:
    start = time.perf_counter()
    frame = build_table(rows, seed)
    frame.to_parquet(work / "table.parquet", index=False)
    schema = table_schema(frame)
    kinds: dict[str, int] = {}
    for col in schema.columns:
        kinds[col.kind] = kinds.get(col.kind, 0) + 1
    return {"rows": len(frame), "columns": frame.shape[1], "kinds": kinds,
            "missing_share": round(float(frame.isna().to_numpy().mean()), 4),
            "columns_with_missing": int(frame.isna().any().sum()),
            "target_rate": round(float(frame[TARGET].mean()), 4),
            "build_s": round(time.perf_counter() - start, 1)}


def child(argv: list[str]) -> None:
    step, work, rows, seed, chunk = argv[0], Path(argv[1]), int(argv[2]), int(argv[3]), \
        int(argv[4])
    if step == "build":
        out = step_build(work, rows, seed)
    elif step == "fit":
        out = step_fit(work, seed)
    else:
        out = step_sample(work, rows, seed, chunk)
    print(json.dumps(out, default=str))


def run_child(step: str, work: Path, rows: int, seed: int, chunk: int) -> dict[str, object]:
    cmd = [sys.executable, __file__, "--child", step, str(work), str(rows), str(seed),
           str(chunk)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"step {step} failed (exit {done.returncode})")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{step}: {result}", file=sys.stderr)
    return result


def markdown(res: dict[str, object]) -> str:
    table, fit = res["table"], res["fit"]
    samples = res["sample"]
    assert isinstance(table, dict) and isinstance(fit, dict) and isinstance(samples, list)
    lines = [
        f"Table: {table['rows']:,} rows x {table['columns']} columns ({table['kinds']}), "
        f"{table['columns_with_missing']} columns with missing values, target `{TARGET}` "
        f"(rate {table['target_rate']}).",
        "",
        "| step | rows | wall s | CPU s | rows/s (wall) | rows per CPU s | peak RSS MB "
        "| load avg |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| auto fit (chose {fit['chosen']}, fitted on {fit['fit_rows']:,} rows) | "
        f"{fit['train_rows']:,} | {fit['fit_s']} | {fit.get('fit_cpu_s', '')} | | | "
        f"{fit['peak_rss_mb']:,.0f} | {fit.get('load_average_before', '')} |",
    ]
    for s in samples:
        lines.append(f"| sample to Parquet (chunks of {s['chunk_rows']:,}) | {s['rows']:,} | "
                     f"{s['seconds']} | {s.get('cpu_s', '')} | {s['rows_per_s']:,} | "
                     f"{s.get('rows_per_cpu_s', 0):,} | {s['peak_rss_mb']:,.0f} | "
                     f"{s.get('load_average_before', '')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample-rows", type=int, nargs="+", default=[1_000_000, 3_000_000])
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path("/tmp/synthmed-scale"))
    parser.add_argument("--steps", nargs="+", default=["build", "fit", "sample"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.out.read_text()) if args.out.is_file() else {}
    res: dict[str, object] = dict(previous)
    if "build" in args.steps:
        res["table"] = run_child("build", args.work, args.rows, args.seed, 0)
    if "fit" in args.steps:
        res["fit"] = run_child("fit", args.work, args.rows, args.seed, 0)
    if "sample" in args.steps:
        res["sample"] = [run_child("sample", args.work, n, args.seed, args.chunk_rows)
                         for n in args.sample_rows]
    res["machine"] = {"python": platform.python_version(), "cpus": _cpus(),
                      "numpy": np.__version__, "pandas": pd.__version__}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1, default=str) + "\n")
    if {"table", "fit", "sample"} <= res.keys():
        print(markdown(res))


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        main()
