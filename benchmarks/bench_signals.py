"""Fit/sample/evaluate times and key fidelity figures of ``signal_beats`` on the bundled signals.

Run: .venv/bin/python benchmarks/bench_signals.py

Each recording is split in time (first half train, second half holdout); three synthetic
recordings of the train length are drawn.
"""

from __future__ import annotations

import time

from synthmed import load_dataset
from synthmed.evaluation.signal import evaluate_signals
from synthmed.generators import get_generator

FIGURES = ("psd_distance", "mean_hr_diff", "sdnn_log_ratio", "beat_correlation", "detection_auc",
           "beat_dcr_share")


def main() -> None:
    for name in ("ecg_mitbih", "ppg_heartpy", "ecg_12lead"):
        signals = load_dataset(name).signals
        train, holdout = signals.split()
        length_s = train.records[0].shape[1] / train.fs
        start = time.perf_counter()
        gen = get_generator("signal_beats").fit(train)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        synth = gen.sample(3, length_s=length_s, random_state=0)
        sample_s = time.perf_counter() - start
        start = time.perf_counter()
        result = evaluate_signals(train, holdout, synth)
        eval_s = time.perf_counter() - start
        found = {m.name: m for s in result.sections.values() for m in s.metrics}
        figures = "; ".join(
            f"{k} {found[k].value:.3g} (holdout {found[k].holdout_value:.3g})"
            for k in FIGURES if k in found and found[k].value is not None
            and found[k].holdout_value is not None)
        verdicts = ", ".join(f"{k} {v.verdict}" for k, v in result.sections.items()
                             if not v.skipped)
        print(f"{name}: {len(train.records)} x {train.records[0].shape[0]} ch, "
              f"{length_s:.0f} s at {train.fs:g} Hz; fit {fit_s:.2f}s; sample 3 x {length_s:.0f} s "
              f"{sample_s:.2f}s; evaluate {eval_s:.1f}s; {verdicts}; {figures}")


if __name__ == "__main__":
    main()
