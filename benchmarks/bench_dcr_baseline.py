"""What DCR share rows with no joint structure at all score on the peer benchmark's split.

The DCR share (share of released rows nearer a training row than any row of an equally
large real holdout) is 0.5 for a release that knows nothing of the training rows only on
average over splits: one fixed split of a small table has a lean of its own. This script
measures it with ``synthmed.evaluate``'s privacy section, on the benchmark's fixed 50/50
split (``random_state=0``), for three releases of as many rows as train:

* ``holdout marginals``: every column drawn independently, with replacement, from the
  holdout (rows that know nothing of the training rows);
* ``train marginals``: the same from train (each column's training values, no joint
  structure);
* ``gaussian_copula``: the copula fitted on train (generator seeds as draws).

    .venv/bin/python benchmarks/bench_dcr_baseline.py [--datasets pbc gbsg2] [--draws 6] \
        [--out benchmarks/results/dcr-baseline.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path
import warnings

import numpy as np
import pandas as pd


def shuffled_columns(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` rows, each column drawn independently with replacement from ``frame``'s."""
    return pd.DataFrame({c: frame[c].iloc[rng.integers(0, len(frame), n)].to_numpy()
                         for c in frame.columns})


RELEASES = ("holdout marginals", "train marginals", "gaussian_copula")


def release(label: str, draw: int, train: pd.DataFrame, holdout: pd.DataFrame,
            schema) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Draw ``draw`` of the release ``label``, as many rows as ``train``."""
    from synthmed import get_generator

    if label == "holdout marginals":
        return shuffled_columns(holdout, len(train), np.random.default_rng(1000 + draw))
    if label == "train marginals":
        return shuffled_columns(train, len(train), np.random.default_rng(2000 + draw))
    gen = get_generator("gaussian_copula").fit(
        train, schema=schema.subset(list(train.columns)), random_state=draw)
    return gen.sample(len(train), random_state=draw)


def dcr_shares(train: pd.DataFrame, holdout: pd.DataFrame, release: pd.DataFrame,
               schema) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(all-column DCR share, worst over the column subsets) as the evaluation reports them."""
    import synthmed

    result = synthmed.evaluate(train, holdout, release, schema, sections=["privacy"],
                               random_state=0)
    metric = result.metric("privacy", "dcr_share")
    return float(metric.details["subsets"]["all columns"]["share"]), float(metric.value)


def main() -> None:
    import synthmed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["pbc", "gbsg2", "lung", "aids",
                                                         "whas500", "flchain"])
    parser.add_argument("--draws", type=int, default=6)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args()
    rows = []
    warnings.simplefilter("ignore")
    print("| table | release | DCR share all columns, mean (draws) | worst subset, mean |")
    print("|---|---|---|---|")
    for name in args.datasets:
        data = synthmed.load_dataset(name)
        schema = data.schema
        cols = list(schema.modelled_columns)
        train, holdout = synthmed.train_holdout_split(data.frame, stratify=schema.target,
                                                      random_state=0)
        train = train[cols].reset_index(drop=True)
        holdout = holdout[cols].reset_index(drop=True)
        for label in RELEASES:
            shares = np.array([dcr_shares(train, holdout,
                                          release(label, d, train, holdout, schema), schema)
                               for d in range(args.draws)])
            print(f"| {name} | {label} | {shares[:, 0].mean():.3f} "
                  f"({', '.join(f'{v:.3f}' for v in shares[:, 0])}) | "
                  f"{shares[:, 1].mean():.3f} |", flush=True)
            rows.append({"dataset": name, "release": label,
                         "dcr_share_all": shares[:, 0].round(4).tolist(),
                         "dcr_share_worst": shares[:, 1].round(4).tolist()})
    if args.out is not None:
        meta = {"date": datetime.date.today().isoformat(), "draws": args.draws,
                "split": "train_holdout_split(random_state=0), stratified on the target"}
        args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
