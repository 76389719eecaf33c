"""Fit/sample/evaluate times and key figures of ``signal_beats`` on the bundled signals.

Run: .venv/bin/python benchmarks/bench_signals.py

Each recording is split in time (first half train, second half holdout); three synthetic
recordings of the train length are drawn. Utility: a beat detector trained on the synthetic
recordings (TSTR) and on the real training half (TRTR), both tested on the real holdout; the
"noise" line trains it on white noise carrying the synthetic beat labels (a broken generator,
which must fail the gate). Then the augment release of ecg_mitbih (heart-rate bands).

Last, two inputs no bundled dataset has, both built from the bundled MIT-BIH excerpt and run
through ``generate_signals`` as a user's folder or file would be:

* a cohort: 16 two-channel records of 2 minutes, each "patient" with its own lead axis,
  amplitude and heart rate (split by record, 8 synthetic records); ``beat_record_share`` is
  the share of beat-shape variance between records (real patients keep their own beat); three
  seeds in full, and the segment classifier's detection AUC over 12 seeds (one seed moves it by
  0.05);
* a 24-hour two-channel Holter record at 360 Hz (fit, sample and evaluate time, and the
  peak memory of the process).
"""

from __future__ import annotations

from pathlib import Path
import resource
import tempfile
import time

import numpy as np

from synthmed import load_dataset
from synthmed.evaluation.signal import evaluate_signals
from synthmed.generators import get_generator
from synthmed.modes.signal import release_signal_augment
from synthmed.signal_pipeline import generate_signals

#: the cohort's detection AUC moves by 0.05 from one seed to the next: its mean is read on these
COHORT_SEEDS = 12
FIGURES = ("psd_distance", "mean_hr_diff", "sdnn_log_ratio", "rmssd_log_ratio", "ectopic_share",
           "beat_correlation", "detection_auc",
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
    with tempfile.TemporaryDirectory() as tmp:
        _cohort(Path(tmp))
        _holter(Path(tmp))


def _write_records(folder: Path, leads: list[np.ndarray], fs: float) -> None:
    import wfdb

    folder.mkdir(parents=True, exist_ok=True)
    for i, sig in enumerate(leads):
        wfdb.wrsamp(f"p{i:02d}", fs=fs, units=["mV", "mV"], sig_name=["MLII", "V5"],
                    p_signal=sig.T, fmt=["16", "16"], write_dir=str(folder))


def _cohort(tmp: Path) -> None:
    record = load_dataset("ecg_mitbih").signals
    ecg, fs = record.records[0][0].astype(np.float64), record.fs
    rng = np.random.default_rng(42)
    n = int(120 * fs)
    leads = []
    for _ in range(16):
        t = rng.integers(0, len(ecg) // 2) + np.arange(n) / rng.uniform(0.8, 1.25)
        x = np.interp(np.mod(t, len(ecg) - 1), np.arange(len(ecg)), ecg)
        basis = np.vstack([x, x - np.roll(x, 6), np.roll(x, -int(0.08 * fs))])
        axes = rng.normal([[1.0, 0.0, 0.0], [0.6, 0.0, 0.0]], 0.2) + \
            rng.normal(0, [[0.0, 0.5, 0.0]] * 2)
        leads.append(axes @ basis + 0.02 * rng.standard_normal((2, n)))
    _write_records(tmp / "cohort", leads, fs)
    detection = []
    for seed in range(COHORT_SEEDS):
        run = generate_signals(tmp / "cohort", tmp / f"cohort-out{seed}", seed=seed)
        auc = run.evaluation.metric("fidelity", "detection_auc")
        detection.append((auc.value, auc.holdout_value, bool(auc.passed)))
        if seed > 2:
            continue
        share = run.evaluation.metric("fidelity", "beat_record_share")
        print(f"cohort of 16 x 2 ch x 120 s, seed {seed}: fit {run.timings['fit_s']:.2f}s; "
              f"sample {run.synthetic.n_records} records {run.timings['sample_s']:.2f}s; "
              f"evaluate {run.timings['evaluate_s']:.1f}s; beat_record_share "
              f"{share.value:.3f} (holdout {share.holdout_value:.3f}, train "
              f"{share.details['train']:.3f}); {_figures(run.evaluation)}")
    values = np.array(detection, dtype=float)
    print(f"cohort, seeds 0-{COHORT_SEEDS - 1}: detection_auc mean {values[:, 0].mean():.3f} "
          f"(se {values[:, 0].std(ddof=1) / np.sqrt(len(values)):.3f}; holdout "
          f"{values[:, 1].mean():.3f}); within its rule (max(0.75, holdout + 0.10)) on "
          f"{int(values[:, 2].sum())} of {len(values)}")


def _holter(tmp: Path) -> None:
    record = load_dataset("ecg_mitbih").signals
    ecg, fs = record.records[0][0].astype(np.float64), record.fs
    n = int(24 * 3600 * fs)
    x = np.tile(ecg, n // len(ecg) + 1)[:n]
    rng = np.random.default_rng(0)
    _write_records(tmp / "holter", [np.vstack([x, 0.6 * np.roll(x, 3) + 0.05 *
                                               rng.standard_normal(n)])], fs)
    del x
    start = time.perf_counter()
    run = generate_signals(tmp / "holter" / "p00.hea", tmp / "holter-out")
    wall = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"24-hour Holter record, 2 ch at {fs:g} Hz ({n:,} samples a channel): "
          f"{wall:.1f}s in all (fit {run.timings['fit_s']:.1f}s, sample "
          f"{run.synthetic.n_records} x {run.synthetic.durations[0]:.0f} s "
          f"{run.timings['sample_s']:.1f}s, evaluate {run.timings['evaluate_s']:.1f}s); peak "
          f"memory of this process so far {peak_gb:.2f} GB")


if __name__ == "__main__":
    main()
