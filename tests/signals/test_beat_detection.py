"""The beat detector and the ectopic-beat finder of ``synthmed._dsp``, on signals whose beats
are known (built in `_data.py`) and on the bundled MIT-BIH excerpt."""

from __future__ import annotations

import numpy as np

from _data import ECG_FS as FS
from _data import ecg_with_wide_beats
from synthmed import load_dataset
from synthmed._dsp import detect_beats, ectopic_beats, nn_intervals, nn_runs


def test_wide_ectopic_beats_are_found_and_told_apart():
    """A wide ectopic beat carries a fraction of a narrow QRS's 5-15 Hz energy: the detector
    missed them (each miss read as one long interval). Now each is found, none of the T waves
    is, and the template match flags exactly the wide ones."""
    x, times, odd = ecg_with_wide_beats()
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
    x, _, _ = ecg_with_wide_beats(seconds=4.0)
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
