"""Fit/sample/evaluate times of the longitudinal generator on the bundled data.

Run: .venv/bin/python benchmarks/bench_longitudinal.py
"""

from __future__ import annotations

import time

from synthmed import load_dataset
from synthmed.evaluation.longitudinal import evaluate_longitudinal, split_entities
from synthmed.generators import get_generator


def main() -> None:
    warm = load_dataset("pbcseq")
    get_generator("longitudinal").fit(warm.frame, schema=warm.schema)  # imports out of timings
    for name in ("pbcseq", "clif_vitals", "nafld2"):
        data = load_dataset(name)
        train, holdout = split_entities(data.frame, data.schema)
        n = train[data.info.entity].nunique()
        start = time.perf_counter()
        gen = get_generator("longitudinal").fit(train, schema=data.schema)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        synth = gen.sample(n, random_state=0)
        sample_s = time.perf_counter() - start
        start = time.perf_counter()
        result = evaluate_longitudinal(train, holdout, synth, data.schema)
        eval_s = time.perf_counter() - start
        verdicts = ", ".join(f"{k} {v.verdict}" for k, v in result.sections.items())
        print(f"{name}: train {n} entities / {len(train)} rows; fit {fit_s:.2f}s; sample {n} "
              f"entities ({len(synth)} rows) {sample_s:.2f}s; evaluate {eval_s:.1f}s; {verdicts}")


if __name__ == "__main__":
    main()
