"""Fit one generator on ``train.csv`` and write ``synthetic.csv`` — run inside a peer's own env.

Called by ``bench_peers.py`` as a subprocess of the environment that holds the generator (the
project venv for synthmed, ``.peers-venv`` for SDV and MOSTLY AI's engine, ``.synthcity-venv``
for synthcity). It imports nothing from the benchmark and, for peers, nothing from synthmed,
so each library runs with its own dependencies and default settings, as a user would run it.

    python _peer_runner.py GENERATOR WORKDIR [--seed 0]

``WORKDIR`` holds ``train.csv`` (and ``schema.json`` for synthmed); the runner writes
``synthetic.csv`` (as many rows as train) and ``run.json`` (fit and sample seconds, peak
resident memory of this process and its children, library versions, notes).
"""

from __future__ import annotations

import argparse
import contextlib
from importlib import metadata
import json
from pathlib import Path
import resource
import sys
import tempfile
import time
from typing import Any

import pandas as pd

VERSIONED = ("numpy", "pandas", "scikit-learn", "torch", "torchvision", "synthmed", "sdv",
             "ctgan", "rdt", "copulas", "mostlyai-engine", "synthcity", "pgmpy", "arfpy",
             "xgboost", "opacus")


def _versions() -> dict[str, str]:
    found = {}
    for name in VERSIONED:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    found["python"] = sys.version.split()[0]
    return found


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024  # Linux reports KiB


# --------------------------------------------------------------------------- fitters
# Each returns (fit, sample) callables so that the two phases are timed separately.

def _synthmed(name: str, train: pd.DataFrame, work: Path, seed: int, notes: list[str]):
    import synthmed
    from synthmed.schema import TableSchema

    schema = TableSchema.load(work / "schema.json")
    gen = synthmed.get_generator(name)

    def fit() -> None:
        gen.fit(train, schema=schema, random_state=seed)
        if hasattr(gen, "choice_"):  # auto: what it chose, refined / target redrawn or not
            refined = " + refinement" if gen.choice_.get("refined") else ""
            redrawn = " + target redraw" if gen.choice_.get("target_redrawn") else ""
            notes.append(f"auto chose {gen.choice_['chosen']}{refined}{redrawn}")
            # why, and every candidate's selection scores: choices can be studied offline
            notes.append(f"auto's reason: {gen.choice_['reason']}")
            notes.append("auto's candidates: " + json.dumps(gen.choice_["scores"]))

    return fit, lambda n: gen.sample(n, random_state=seed)


def _sdv(name: str, train: pd.DataFrame, work: Path, seed: int, notes: list[str]):
    from sdv.metadata import Metadata
    from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer, TVAESynthesizer

    cls = {"gaussian_copula": GaussianCopulaSynthesizer, "ctgan": CTGANSynthesizer,
           "tvae": TVAESynthesizer}[name]
    state: dict[str, Any] = {}

    def fit() -> None:
        # default use: metadata detected from the data, synthesizer with default settings
        meta = Metadata.detect_from_dataframes({"train": train})
        state["model"] = cls(meta)
        state["model"].fit({"train": train})  # SDV 2 takes {table name: frame}

    def sample(n: int) -> pd.DataFrame:
        out = state["model"].sample(num_rows=n)
        return out["train"] if isinstance(out, dict) else out

    return fit, sample


def _mostlyai(name: str, train: pd.DataFrame, work: Path, seed: int, notes: list[str]):
    from mostlyai.engine import TabularARGN

    state: dict[str, Any] = {}

    def fit() -> None:
        workspace = Path(tempfile.mkdtemp(prefix="argn-", dir=work))
        state["model"] = TabularARGN(workspace_dir=workspace, random_state=seed)
        state["model"].fit(train)

    return fit, lambda n: state["model"].sample(n_samples=n)


def _synthcity(name: str, train: pd.DataFrame, work: Path, seed: int, notes: list[str]):
    from synthcity.plugins import Plugins
    from synthcity.plugins.core.dataloader import GenericDataLoader

    data = train.copy()
    missing = int(data.isna().sum().sum())
    if missing:
        # synthcity does not accept missing values: impute (median / most frequent); the
        # synthetic table then has none, which the fidelity metrics see
        for col in data.columns:
            if data[col].isna().any():
                if pd.api.types.is_numeric_dtype(data[col]):
                    data[col] = data[col].fillna(data[col].median())
                else:
                    data[col] = data[col].fillna(data[col].mode().iloc[0])
        notes.append(f"{missing} missing cells imputed (median / most frequent) for synthcity")
    # synthcity's schema check rejects pandas 3's "str" dtype; it accepts plain object columns
    for col in data.columns:
        if pd.api.types.is_string_dtype(data[col]):
            data[col] = data[col].astype(object)
    # its Bayesian network fails (KeyError on the column) on a column of one value; such a
    # column carries nothing to learn: it is left out of the fit and written back as it was
    constant = {col: data[col].iloc[0] for col in data.columns if data[col].nunique() == 1}
    if constant:
        data = data.drop(columns=list(constant))
        notes.append(f"{len(constant)} single-value column(s) left out of the fit and written "
                     "back unchanged (synthcity fails on them)")
    state: dict[str, Any] = {}

    def fit() -> None:
        state["model"] = Plugins().get(name, random_state=seed)
        state["model"].fit(GenericDataLoader(data))

    def sample(n: int) -> pd.DataFrame:
        out = state["model"].generate(count=n).dataframe()
        for col, value in constant.items():
            out[col] = value
        return out[list(train.columns)]

    return fit, sample


FAMILIES = {"synthmed": _synthmed, "sdv": _sdv, "mostlyai": _mostlyai, "synthcity": _synthcity}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("generator", help="family:name, e.g. sdv:ctgan or synthmed:arf")
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    family, _, name = args.generator.partition(":")
    work: Path = args.workdir
    train = pd.read_csv(work / "train.csv")
    notes: list[str] = []
    fit, sample = FAMILIES[family](name, train, work, args.seed, notes)
    start = time.perf_counter()
    fit()
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    synthetic = sample(len(train))
    sample_s = time.perf_counter() - start
    synthetic.to_csv(work / "synthetic.csv", index=False)
    (work / "run.json").write_text(json.dumps({
        "fit_s": round(fit_s, 3), "sample_s": round(sample_s, 3),
        "peak_rss_mb": round(_peak_rss_mb()), "rows": len(synthetic),
        "versions": _versions(), "notes": notes,
    }))


if __name__ == "__main__":
    main()
