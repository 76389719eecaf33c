"""Wall time and peak memory of the whole evaluation (all five sections).

Two cases, each in a fresh child process so that peak memory (max RSS) is its own:

* ``covid``: covid_testing (15,524 x 17, split 50/50), a Gaussian-copula synthetic table of
  the training size;
* ``large``: a 100,000-row table: 200,000 rows drawn from a copula fitted on covid_testing are
  split into train and holdout (100,000 each), and a second copula fitted on that train gives
  100,000 synthetic rows. Expensive metrics subsample to ``max_rows`` (the report says so).

Usage::

    .venv/bin/python benchmarks/bench_evaluation.py [covid|large ...]
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def run(case: str) -> dict[str, object]:
    import synthmed

    data = synthmed.load_dataset("covid_testing")
    schema = data.schema
    if case == "covid":
        train, holdout = synthmed.train_holdout_split(data.frame, stratify=schema.target)
    else:
        source = synthmed.get_generator("gaussian_copula").fit(data.frame, schema=schema)
        frame = source.sample(200_000, random_state=1, allow_copies=True)
        schema = schema.subset(list(frame.columns))
        train, holdout = synthmed.train_holdout_split(frame, stratify=schema.target)
    gen = synthmed.get_generator("gaussian_copula").fit(train, schema=schema)
    synthetic = gen.sample(len(train), random_state=2)
    start = time.perf_counter()
    result = synthmed.evaluate(train, holdout, synthetic, schema)
    seconds = time.perf_counter() - start
    return {
        "case": case, "train_rows": len(train), "columns": synthetic.shape[1],
        "evaluate_s": round(seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "verdicts": {k: s.verdict for k, s in result.sections.items()},
        "notes": [n for s in result.sections.values() for n in s.notes if "rows" in n][:3],
    }


def main() -> None:
    cases = sys.argv[1:] or ["covid", "large"]
    if cases[0] == "--one":
        print(json.dumps(run(cases[1])))
        return
    for case in cases:
        proc = subprocess.run([sys.executable, __file__, "--one", case], capture_output=True,
                              text=True, check=True)
        print(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
