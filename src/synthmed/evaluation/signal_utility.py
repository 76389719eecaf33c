"""Utility of synthetic device signals: train a beat detector on them, test it on real signals.

The task is one a clinician or device engineer builds on such data: a learnt beat (R-peak /
pulse-peak) detector, from which heart rate follows. The detector is a logistic regression
over a short window of the normalised reference channel, resampled to 100 Hz; it is trained
once on the synthetic signals (train-on-synthetic, TSTR) and once on the real training signals
(train-on-real, TRTR), and both are scored on the real holdout:

* ``beat_detection_f1``: F1 of the detected beats against the reference beats, a detection
  counting when it lies within 50 ms of a reference beat (the usual tolerance of beat-detector
  benchmarks). Gate: TSTR >= ``ratio`` x TRTR.
* ``heart_rate_mae``: mean absolute error (bpm) of the heart rate read from the detected beats
  in each segment of the holdout, against the reference beats' heart rate.

Labels: a synthetic record's beats are where the generator placed them
(``SignalSet.beats``), exactly as a simulator labels its data; real records are labelled by the
standard detector (:func:`synthmed._dsp.detect_beats`), on the real training and holdout
signals alike. Signals and labels must therefore agree for the synthetic data to teach
anything: white noise with beat labels teaches nothing. A synthetic set without known beats
is labelled by the detector too, and the section says so (any signal with sharp peaks then
teaches a peak detector, so the figure says less). Everything is vectorised (one
sliding-window matrix per set).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import signal as sps

from synthmed import _dsp
from synthmed.datasets.signals import SignalSet
from synthmed.evaluation.result import Metric, Section

__all__ = ["DetectorTask", "detector_scores", "utility_section"]

TASK_FS = 100.0          # Hz: the detector's input rate (QRS and pulse energy lie below 40 Hz)
TOLERANCE_S = 0.05       # a detection within 50 ms of a reference beat is a hit
LABEL_S = 0.02           # samples within 20 ms of a reference beat are the positive class
MAX_ROWS = 20_000        # training windows per model (a seeded subsample beyond)
HOLDOUT_MEANS = ("In this section the holdout value is the same detector trained on the real "
                 "training signals (train-on-real), scored on the same real holdout.")


@dataclass(frozen=True)
class DetectorTask:
    """How the signals of one evaluation are turned into detector inputs and labels."""

    kind: _dsp.SignalKind
    channel: int
    med_rr: float
    segment_s: float

    @property
    def half_width(self) -> int:
        """Samples on each side of the centre of a window (0.3 median RR, at least 150 ms)."""
        return max(15, round(0.3 * self.med_rr * TASK_FS))

    def prepare(self, signals: SignalSet,
                peaks: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per record: the normalised channel at 100 Hz and its reference beat times (s)."""
        low, high = (0.5, 35.0) if self.kind == "ecg" else (0.5, 8.0)
        out = []
        for rec, beat_idx in zip(signals.records, peaks, strict=True):
            x = rec[self.channel].astype(np.float64)
            high_here = min(high, 0.45 * signals.fs)
            sos = _dsp.butter_sos(signals.fs, low, high_here)
            y = sps.sosfiltfilt(sos, x, padlen=min(len(x) - 1, 3 * int(signals.fs)))
            t = np.arange(0, len(x) / signals.fs, 1.0 / TASK_FS)
            y = np.interp(t, np.arange(len(x)) / signals.fs, y)
            y = y - np.median(y)
            y = y / (np.percentile(np.abs(y), 99) + 1e-12)  # amplitude-free: shape is learnt
            out.append((y, np.asarray(beat_idx, dtype=np.float64) / signals.fs))
        return out

    def windows(self, y: np.ndarray) -> np.ndarray:
        """One row per sample: every other sample around it (edges padded by reflection).

        Every other sample halves the features for the same F1 (measured on the bundled
        ECG) and fits several times faster.
        """
        h = self.half_width
        padded = np.pad(y, h, mode="reflect") if len(y) > h else np.pad(y, h, mode="edge")
        return np.lib.stride_tricks.sliding_window_view(padded, 2 * h + 1)[:, ::2]


def _labels(n: int, beat_times: np.ndarray) -> np.ndarray:
    """1 for the samples within ``LABEL_S`` of a reference beat."""
    y = np.zeros(n, dtype=np.int8)
    centre = np.round(beat_times * TASK_FS).astype(np.int64)
    reach = round(LABEL_S * TASK_FS)
    for d in range(-reach, reach + 1):
        idx = centre + d
        y[idx[(idx >= 0) & (idx < n)]] = 1
    return y


def _fit(task: DetectorTask, prepared: list[tuple[np.ndarray, np.ndarray]],
         rng: np.random.Generator):  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([task.windows(y) for y, _ in prepared])
    labels = np.concatenate([_labels(len(y), beats) for y, beats in prepared])
    if len(x) > MAX_ROWS:
        keep = np.sort(rng.choice(len(x), MAX_ROWS, replace=False))
        x, labels = x[keep], labels[keep]
    if labels.min() == labels.max():
        return None  # no beat (or nothing but beats) to learn from
    return LogisticRegression(C=1.0, max_iter=500).fit(x, labels)


def _detect(task: DetectorTask, model, y: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Beat times (s): peaks of the detector's probability above one half."""
    if model is None:
        return np.zeros(0)
    p = model.predict_proba(task.windows(y))[:, 1]
    peaks, _ = sps.find_peaks(p, height=0.5, distance=max(1, round(_dsp.RR_MIN_S * TASK_FS)))
    return peaks / TASK_FS


def _hits(found: np.ndarray, truth: np.ndarray) -> int:
    """Detections within the tolerance of a reference beat (``truth`` sorted).

    Detections are at least 250 ms apart and so are reference beats, so a 50 ms match is
    one-to-one without an assignment step.
    """
    if len(found) == 0 or len(truth) == 0:
        return 0
    pos = np.searchsorted(truth, found)
    left = truth[np.clip(pos - 1, 0, len(truth) - 1)]
    right = truth[np.clip(pos, 0, len(truth) - 1)]
    nearest = np.minimum(np.abs(found - left), np.abs(found - right))
    return int(np.sum(nearest <= TOLERANCE_S))


def _rate(times: np.ndarray, seconds: float) -> float:
    """Heart rate (bpm) from beat times inside one segment: mean interval, else the count."""
    if len(times) >= 2:
        return float(60.0 / np.mean(np.diff(times)))
    return 60.0 * len(times) / seconds


def detector_scores(task: DetectorTask, train: list[tuple[np.ndarray, np.ndarray]],
                    test: list[tuple[np.ndarray, np.ndarray]],
                    rng: np.random.Generator) -> dict[str, float]:
    """F1 and heart-rate MAE on ``test`` of a detector trained on ``train`` (prepared sets)."""
    model = _fit(task, train, rng)
    hits = n_found = n_true = 0
    errors = []
    for y, truth in test:
        found = _detect(task, model, y)
        hits += _hits(found, truth)
        n_found, n_true = n_found + len(found), n_true + len(truth)
        seconds = len(y) / TASK_FS
        edges = np.arange(0.0, seconds - task.segment_s + 1e-9, task.segment_s)
        for a in edges:
            b = a + task.segment_s
            errors.append(abs(_rate(found[(found >= a) & (found < b)], task.segment_s)
                              - _rate(truth[(truth >= a) & (truth < b)], task.segment_s)))
    f1 = 2 * hits / (n_found + n_true) if n_found + n_true else float("nan")
    return {"f1": float(f1), "hr_mae": float(np.mean(errors)) if errors else float("nan"),
            "detected": float(n_found), "reference": float(n_true), "segments": len(errors)}


def utility_section(task: DetectorTask, prepared: dict[str, list[tuple[np.ndarray, np.ndarray]]],
                    *, ratio: float, hr_floor_bpm: float, rng: np.random.Generator,
                    synthetic_labelled: float = 1.0) -> Section:
    """The ``utility`` section: TSTR against TRTR on the real holdout."""
    n_beats = {k: int(sum(len(b) for _, b in v)) for k, v in prepared.items()}
    if min(n_beats.values()) < 4:
        return Section("utility", skipped="Fewer than 4 reference beats in one of the sets: "
                       "no detector can be trained or scored.")
    tstr = detector_scores(task, prepared["synthetic"], prepared["holdout"], rng)
    trtr = detector_scores(task, prepared["train"], prepared["holdout"], rng)
    bound = ratio * trtr["f1"]
    small = n_beats["holdout"] < 30
    note = (f"Only {n_beats['holdout']} reference beats in the holdout: a coarse figure."
            if small else "")
    details = {"train_on_synthetic": tstr, "train_on_real": trtr,
               "reference_beats": n_beats, "tolerance_s": TOLERANCE_S,
               "synthetic_records_with_known_beats": synthetic_labelled,
               "detector": "logistic regression over a "
               f"{2 * task.half_width / TASK_FS:.2f} s window at {TASK_FS:g} Hz"}
    f1 = Metric(
        "beat_detection_f1", tstr["f1"], trtr["f1"], bound,
        bool(np.isfinite(tstr["f1"]) and tstr["f1"] >= bound), "higher",
        modality="signal", rule=f">= {ratio} x train-on-real", note=note, details=details,
        description="F1 on the real holdout of a beat detector trained on the synthetic "
        "signals (a detection counts within 50 ms of a reference beat), next to the same "
        "detector trained on the real training signals.")
    judged = bool(np.isfinite(tstr["hr_mae"]) and np.isfinite(trtr["hr_mae"]))
    hr_bound = max(2 * trtr["hr_mae"], hr_floor_bpm) if judged else None
    hr = Metric(
        "heart_rate_mae", tstr["hr_mae"] if judged else None,
        trtr["hr_mae"] if judged else None, hr_bound,
        bool(tstr["hr_mae"] <= hr_bound) if hr_bound is not None else None, "lower",
        modality="signal", rule=f"<= max(2 x train-on-real, {hr_floor_bpm} bpm)",
        note="" if judged else "The holdout recordings are shorter than one segment.",
        description=f"Mean absolute error (beats per minute) of the heart rate read from that "
        f"detector's beats in each {task.segment_s:g} s segment of the real holdout.")
    notes = [HOLDOUT_MEANS]
    if synthetic_labelled < 1.0:
        notes.append(f"{1 - synthetic_labelled:.0%} of the synthetic records carry no beat "
                     "positions from their generator; they were labelled by the reference "
                     "detector, so any signal with clear peaks teaches a peak detector there "
                     "and the figure says less about the data.")
    return Section("utility", (f1, hr), notes=tuple(notes))


def augmentation_section(task: DetectorTask,
                         prepared: dict[str, list[tuple[np.ndarray, np.ndarray]]], *,
                         rng: np.random.Generator) -> Section:
    """The ``augmentation`` section: the detector trained on real + synthetic vs real only."""
    n_beats = {k: int(sum(len(b) for _, b in v)) for k, v in prepared.items()}
    if min(n_beats.values()) < 4:
        return Section("augmentation", skipped="Fewer than 4 reference beats in one of the "
                       "sets: no detector can be trained or scored.")
    both = detector_scores(task, prepared["train"] + prepared["synthetic"],
                           prepared["holdout"], rng)
    real = detector_scores(task, prepared["train"], prepared["holdout"], rng)
    details = {"train_plus_synthetic": both, "train_only": real}
    metrics = (
        Metric("beat_detection_f1", both["f1"], real["f1"], real["f1"] - 0.02,
               bool(both["f1"] >= real["f1"] - 0.02), "higher", modality="signal",
               rule=">= real-only - 0.02", details=details,
               description="F1 on the real holdout of the beat detector trained on the "
               "augmented data (real training signals plus the synthetic recordings), next to "
               "the same detector trained on the real training signals only."),
        Metric("heart_rate_mae", both["hr_mae"], real["hr_mae"], None, None, "lower",
               modality="signal", description="Heart-rate error (bpm) per segment of the real "
               "holdout of those two detectors (informative)."),
    )
    return Section("augmentation", metrics, notes=(
        "In this section the holdout value is the detector trained on the real training "
        "signals only; the value is the same detector trained on real plus synthetic "
        "recordings. Both are scored on the real holdout.",))
