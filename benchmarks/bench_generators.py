"""Fit/sample time and peak memory of every generator on every bundled table.

Each (generator, dataset) pair runs in a fresh child process so that peak memory (max RSS) is
its own. Usage::

    .venv/bin/python benchmarks/bench_generators.py [--generators NAME ...] [--datasets NAME ...]

Prints a Markdown table (paste it into benchmarks/RESULTS.md) and writes
benchmarks/results/generators.json (or ``--out FILE``, for a partial run that must not replace
the full results).
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


def run_one(generator: str, dataset: str, seed: int) -> dict[str, object]:
    import synthmed

    data = synthmed.load_dataset(dataset)
    train, _ = synthmed.train_holdout_split(data.frame, stratify=data.schema.target,
                                            random_state=seed)
    gen = synthmed.get_generator(generator)
    start = time.perf_counter()
    gen.fit(train, schema=data.schema, random_state=seed)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    synthetic = gen.sample(len(train), random_state=seed)
    sample_s = time.perf_counter() - start
    start = time.perf_counter()
    big = gen.sample(100_000, random_state=seed, allow_copies=True)
    rate = len(big) / (time.perf_counter() - start)
    return {
        "generator": generator,
        "dataset": dataset,
        "train_rows": len(train),
        "columns": synthetic.shape[1],
        "fit_s": round(fit_s, 3),
        "sample_s": round(sample_s, 3),
        "sample_rows_per_s": round(rate),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "copies_of_training": int(gen.copies_of_training(synthetic).sum()),
    }


def main() -> None:
    import synthmed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generators", nargs="+", default=synthmed.list_generators())
    parser.add_argument("--datasets", nargs="+",
                        default=[d.name for d in synthmed.list_datasets()
                                 if d.modality == "table"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "generators.json",
                        help="results file (default: benchmarks/results/generators.json)")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one, args.seed)))
        return
    rows = []
    for generator in args.generators:
        for dataset in args.datasets:
            proc = subprocess.run(
                [sys.executable, __file__, "--one", generator, dataset, "--seed", str(args.seed)],
                capture_output=True, text=True, check=True,
            )
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"{generator:>18} {dataset:<14} fit {rows[-1]['fit_s']:7.2f}s "
                  f"sample {rows[-1]['sample_s']:6.2f}s", file=sys.stderr)
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": __import__("os").cpu_count(), "synthmed": synthmed.__version__}
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    print("| generator | dataset | train rows | cols | fit s | sample s (train size) | "
          "rows/s (100k) | peak RSS MB | copies |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['generator']} | {r['dataset']} | {r['train_rows']:,} | {r['columns']} | "
              f"{r['fit_s']:.2f} | {r['sample_s']:.2f} | {r['sample_rows_per_s']:,} | "
              f"{r['peak_rss_mb']} | {r['copies_of_training']} |")


if __name__ == "__main__":
    main()
