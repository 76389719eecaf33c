"""The beat detector and the ectopic-beat finder of ``synthmed._dsp``, on signals whose beats
are known (built here) and on the bundled MIT-BIH excerpt."""

from __future__ import annotations

import numpy as np

from synthmed import load_dataset
from synthmed._dsp import detect_beats, ectopic_beats, nn_intervals, nn_runs

FS = 360.0


def _wave(t: np.ndarray, at: float, width: float, height: float) -> np.ndarray:
    return height * np.exp(-0.5 * ((t - at) / width) ** 2)


def _ecg_with_wide_beats(seconds: float = 60.0, every: int = 4) -> tuple[np.ndarray, np.ndarray,
                                                                        np.ndarray]:
    """Narrow QRS complexes with T waves at 0.6 s, every ``every``-th beat a wide ectopic one
    (a slow biphasic complex as tall as a QRS, early, then a pause). Returns the signal, the
    beat times (s) and which beats are ectopic."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * FS)) / FS
    x = 0.02 * rng.standard_normal(len(t))
    times, odd, now, i = [], [], 0.5, 0
    while now < seconds - 1.0:
        wide = i % every == every - 1
        if wide:
            x += _wave(t, now, 0.035, 1.4) - _wave(t, now + 0.09, 0.045, 0.9)
        else:
            x += _wave(t, now, 0.008, 1.5) - _wave(t, now + 0.02, 0.006, 0.3)
            x += _wave(t, now + 0.27, 0.045, 0.35)  # the T wave
        times.append(now)
        odd.append(wide)
        now += 0.5 if (i + 1) % every == every - 1 else (0.75 if wide else 0.6)
        i += 1
    return x, np.array(times), np.array(odd)


def test_wide_ectopic_beats_are_found_and_told_apart():
    """A wide ectopic beat carries a fraction of a narrow QRS's 5-15 Hz energy: the detector
    missed them (each miss read as one long interval). Now each is found, none of the T waves
    is, and the template match flags exactly the wide ones."""
    x, times, odd = _ecg_with_wide_beats()
    peaks = detect_beats(x, FS, "ecg")
    assert len(peaks) == len(times)
    assert np.abs(peaks / FS - times).max() < 0.06  # the wide beats' peak lies in their slow wave
    flags = ectopic_beats(x, peaks, FS, "ecg")
    assert np.array_equal(flags, odd)
    # heart-rate variability counts normal-to-normal intervals only: none that touches one
    rr, normal = nn_intervals(peaks, FS, flags)
    assert not normal[odd[1:] | odd[:-1]].any() and normal[~(odd[1:] | odd[:-1])].all()
    assert all(np.allclose(run, 0.6, atol=0.01) for run in nn_runs(rr, normal))


def test_no_ectopic_beats_without_a_clearly_usual_one():
    """Spikes of alternating sign (a device's test signal) or too few beats: which shape is
    the usual one is not known, so no beat is flagged."""
    t = np.arange(int(60 * FS)) / FS
    spikes = np.sin(2 * np.pi * t / 0.9) ** 31 * 1.5
    peaks = detect_beats(spikes, FS, "ecg")
    assert len(peaks) > 100 and not ectopic_beats(spikes, peaks, FS, "ecg").any()
    x, _, _ = _ecg_with_wide_beats(seconds=4.0)
    few = detect_beats(x, FS, "ecg")
    assert not ectopic_beats(x, few, FS, "ecg").any()
    assert not ectopic_beats(x, few, FS, "ppg").any()


def test_the_mitbih_excerpt_has_no_missed_wide_beat():
    """The excerpt (an arrhythmia record) holds wide ectopic beats every few beats. Before,
    30 of them were missed, each read as an interval of about twice the rhythm (1.2-1.4 s
    at 0.57 s); now no interval is 1.8-4 times the rhythm (the three longer ones are stretches
    where the amplifier lost the signal), and about a fifth of the beats are ectopic."""
    signals = load_dataset("ecg_mitbih").signals
    x = signals.records[0][0].astype(np.float64)
    peaks = detect_beats(x, signals.fs, "ecg")
    flags = ectopic_beats(x, peaks, signals.fs, "ecg")
    assert 0.15 < flags.mean() < 0.3
    ratio = np.diff(peaks) / np.median(np.diff(peaks))
    assert not np.any((ratio > 1.8) & (ratio < 4.0))
    assert (ratio >= 4.0).sum() <= 3
