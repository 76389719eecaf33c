"""Fit/sample/evaluate times and key figures of ``signal_beats`` on the bundled signals.

Run: .venv/bin/python benchmarks/bench_signals.py

Each recording is split in time (first half train, second half holdout); three synthetic
recordings of the train length are drawn. Utility: a beat detector trained on the synthetic
recordings (TSTR) and on the real training half (TRTR), both tested on the real holdout; the
"noise" line trains it on white noise carrying the synthetic beat labels (a broken generator,
which must fail the gate). Last, the augment release of ecg_mitbih (heart-rate bands).
"""

from __future__ import annotations

import time

import numpy as np

from synthmed import load_dataset
from synthmed.evaluation.signal import evaluate_signals
from synthmed.generators import get_generator
from synthmed.modes.signal import release_signal_augment

FIGURES = ("psd_distance", "mean_hr_diff", "sdnn_log_ratio", "beat_correlation", "detection_auc",
           "beat_dcr_share", "beat_detection_f1", "heart_rate_mae")


def _figures(result, names=FIGURES) -> str:  # type: ignore[no-untyped-def]
    found = {m.name: m for s in result.sections.values() for m in s.metrics}
    ref = {"beat_detection_f1": "TRTR", "heart_rate_mae": "TRTR"}
    return "; ".join(
        f"{k} {found[k].value:.3g} ({ref.get(k, 'holdout')} {found[k].holdout_value:.3g})"
        for k in names if k in found and found[k].value is not None
        and found[k].holdout_value is not None)


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
        verdicts = ", ".join(f"{k} {v.verdict}" for k, v in result.sections.items()
                             if not v.skipped)
        print(f"{name}: {len(train.records)} x {train.records[0].shape[0]} ch, "
              f"{length_s:.0f} s at {train.fs:g} Hz; fit {fit_s:.2f}s; sample 3 x {length_s:.0f} s "
              f"{sample_s:.2f}s; evaluate {eval_s:.1f}s; {verdicts}; {_figures(result)}")
        rng = np.random.default_rng(0)
        noise = synth.replace([rng.standard_normal(r.shape) * r.std() for r in synth.records],
                              beats=synth.beats)
        broken = evaluate_signals(train, holdout, noise)
        print(f"  noise with beat labels: utility {broken['utility'].verdict}; "
              f"{_figures(broken, ('beat_detection_f1', 'heart_rate_mae'))}")

    train, holdout = load_dataset("ecg_mitbih").signals.split()
    gen = get_generator("signal_beats").fit(train)
    start = time.perf_counter()
    release = release_signal_augment(gen, train, balance="heart_rate", length_s=10)
    release_s = time.perf_counter() - start
    bands = ", ".join(f"{b['band_bpm']} bpm {b['real']}+{b['added']}"
                      for b in release.stats["bands"])
    result = evaluate_signals(train, holdout, release.part("synthetic"), augmentation=True)
    aug = result["augmentation"]
    f1 = aug.metric("beat_detection_f1")
    mae = aug.metric("heart_rate_mae")
    print(f"ecg_mitbih augment --balance heart_rate (10 s pieces): {bands} (real+added); "
          f"release {release_s:.1f}s; detector F1 real+synthetic {f1.value:.3g} (real only "
          f"{f1.holdout_value:.3g}); HR MAE {mae.value:.3g} (real only {mae.holdout_value:.3g}) "
          "bpm")


if __name__ == "__main__":
    main()
