"""Fit/sample/evaluate times and the gate figures of the longitudinal generator.

Each bundled longitudinal dataset is split by patient 50/50; as many synthetic patients as
train are drawn; the generator's seed and the evaluation's seed are both ``--seeds``.
``--splits`` draws that many splits instead (split seed = generator seed = evaluation seed
= 0, 1, ...) and ends each dataset with the mean of every figure: on cohorts of 50 patients
one split moves the figures as much as a change to the generator does.

Run: .venv/bin/python benchmarks/bench_longitudinal.py [--seeds 0 1] [--datasets pbcseq ...]
     .venv/bin/python benchmarks/bench_longitudinal.py --splits 6 --datasets clif_labs
     .venv/bin/python benchmarks/bench_longitudinal.py --splits 6 --param static_generator=arf
"""

from __future__ import annotations

import argparse
import time

from synthmed import load_dataset
from synthmed.evaluation.longitudinal import evaluate_longitudinal, split_entities
from synthmed.generators import get_generator

DATASETS = ("pbcseq", "clif_vitals", "clif_labs", "nafld2")
FIGURES = (("privacy", "dcr_share"), ("privacy", "membership_auc"),
           ("utility", "forecast_nmae"), ("utility", "auroc_gradient_boosting"),
           ("fidelity", "patient_detection_auc"), ("fidelity", "measure_distance"))


def _figure(result, section: str, name: str) -> str:  # type: ignore[no-untyped-def]
    if section not in result.sections:
        return f"{name} -"
    try:
        m = result.metric(section, name)
    except KeyError:
        return f"{name} -"
    if m.value is None:
        return f"{name} -"
    mark = {True: "", False: " FAIL" if m.gate else " warn", None: ""}[m.passed]
    ref = "" if m.holdout_value is None else f" ({m.holdout_value:.3g})"
    return f"{name} {m.value:.3g}{ref}{mark}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--splits", type=int, default=0,
                        help="draw this many train/holdout splits (seed 0, 1, ...) and "
                             "average; overrides --seeds")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a generator parameter (repeatable), e.g. "
                             "static_generator=arf or smooth_static=false")
    args = parser.parse_args()
    params = dict(_param(text) for text in args.param)
    warm = load_dataset("pbcseq")
    get_generator("longitudinal").fit(warm.frame, schema=warm.schema)  # imports out of timings
    seeds = list(range(args.splits)) if args.splits else args.seeds
    for name in args.datasets:
        data = load_dataset(name)
        found: dict[str, list[float]] = {}
        for seed in seeds:
            train, holdout = split_entities(data.frame, data.schema,
                                            random_state=seed if args.splits else 0)
            n = train[data.info.entity].nunique()
            start = time.perf_counter()
            gen = get_generator("longitudinal", **params).fit(train, schema=data.schema,
                                                    random_state=seed)
            fit_s = time.perf_counter() - start
            start = time.perf_counter()
            synth = gen.sample(n, random_state=seed)
            sample_s = time.perf_counter() - start
            start = time.perf_counter()
            result = evaluate_longitudinal(train, holdout, synth, data.schema,
                                           random_state=seed)
            eval_s = time.perf_counter() - start
            verdicts = ", ".join(f"{k} {v.verdict}" for k, v in result.sections.items())
            figures = "; ".join(_figure(result, s, m) for s, m in FIGURES)
            label = "split" if args.splits else "seed"
            print(f"{name} {label} {seed}: train {n} entities / {len(train)} rows; fit "
                  f"{fit_s:.2f}s; sample {n} entities ({len(synth)} rows) {sample_s:.2f}s; "
                  f"evaluate {eval_s:.1f}s; {verdicts}; {figures}", flush=True)
            for section, metric in FIGURES:
                for key, value in _values(result, section, metric).items():
                    found.setdefault(key, []).append(value)
        if args.splits:
            means = "; ".join(f"{k} {sum(v) / len(v):.3f}" for k, v in found.items())
            print(f"{name} mean over {args.splits} splits: {means}", flush=True)


def _param(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` as a generator parameter: true/false, a number, or text."""
    name, _, raw = text.partition("=")
    lowered = raw.strip().lower()
    if lowered in ("true", "false"):
        return name.strip(), lowered == "true"
    for kind in (int, float):
        try:
            return name.strip(), kind(raw)
        except ValueError:
            pass
    return name.strip(), raw.strip()


def _values(result, section: str, name: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """A figure and its holdout reference, where the result has them."""
    try:
        m = result.metric(section, name)
    except KeyError:
        return {}
    out = {name: m.value} if m.value is not None else {}
    if m.holdout_value is not None:
        out[f"{name} (holdout)"] = m.holdout_value
    return out


if __name__ == "__main__":
    main()
