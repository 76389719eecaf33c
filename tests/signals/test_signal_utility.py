"""The signal utility task: a beat detector trained on synthetic signals, tested on real ones."""

from __future__ import annotations

import numpy as np
import pytest

from synthmed import DataError, get_generator, load_dataset
from synthmed.datasets.signals import SignalSet
from synthmed.evaluation.signal import evaluate_signals
from synthmed.evaluation.signal_utility import _hits


@pytest.fixture(scope="module")
def halves():
    return load_dataset("ecg_mitbih").signals.split(0.5)


def test_hits_match_within_50_ms_once():
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    assert _hits(np.array([1.04, 2.06, 2.96, 5.0]), truth) == 2
    assert _hits(np.zeros(0), truth) == 0
    assert _hits(truth, np.zeros(0)) == 0


def test_generator_returns_the_beats_it_placed(halves):
    train, _ = halves
    fake = get_generator("signal_beats").fit(train).sample(
        2, length_s=20, conditions={"heart_rate": 75}, random_state=0)
    assert fake.beats is not None and len(fake.beats) == 2
    for rec, beats in zip(fake.records, fake.beats, strict=True):
        assert 20 <= len(beats) <= 30  # 75 bpm for 20 s: 25 beats
        # each placed beat is the local extreme of its QRS (within 15 ms)
        x = rec[0] - np.median(rec[0])
        polarity = np.sign(x[beats].mean())
        half = round(0.1 * fake.fs)
        inner = beats[(beats > half) & (beats < rec.shape[1] - half)]
        peaks = [b - half + np.argmax(polarity * x[b - half:b + half]) for b in inner]
        assert np.median(np.abs(np.array(peaks) - inner)) <= 0.015 * fake.fs


def test_beats_follow_split_segments_and_subset():
    x = np.zeros((1, 1000))
    s = SignalSet([x, x], fs=100.0, beats=[np.array([10, 250, 600, 900]), None])
    train, hold = s.split(0.5)
    assert train.beats[0].tolist() == [10, 250] and hold.beats[0].tolist() == [100, 400]
    assert train.beats[1] is None
    pieces = s.segments(3.0)
    assert [b.tolist() for b in pieces.beats[:3]] == [[10, 250], [], [0]]
    assert s.subset([1]).beats == (None,)
    with pytest.raises(DataError, match="outside its 1000 samples"):
        SignalSet([x], fs=100.0, beats=[np.array([5, 1000])])
    with pytest.raises(DataError, match="one array"):
        SignalSet([x], fs=100.0, beats=[None, None])


@pytest.mark.slow
def test_good_generator_near_train_on_real_broken_one_fails_the_rule(halves):
    train, holdout = halves
    fake = get_generator("signal_beats").fit(train).sample(3, length_s=60, random_state=0)
    good = evaluate_signals(train, holdout, fake)["utility"]
    f1 = good.metric("beat_detection_f1")
    # as for tables, utility warns rather than gates: privacy and fidelity are the gates
    assert not f1.gate and f1.passed and good.verdict == "pass"
    assert f1.value >= 0.9 * f1.holdout_value and f1.holdout_value > 0.9
    assert good.metric("heart_rate_mae").holdout_value is not None
    # a broken generator: white noise with the same beat labels teaches nothing
    rng = np.random.default_rng(0)
    noise = fake.replace([rng.standard_normal(r.shape) * r.std() for r in fake.records],
                         beats=fake.beats)
    broken = evaluate_signals(train, holdout, noise)["utility"]
    assert broken.verdict == "warn" and broken.metric("beat_detection_f1").passed is False
    assert broken.metric("beat_detection_f1").value < 0.5
    assert broken.metric("beat_detection_f1").holdout_value == f1.holdout_value  # same TRTR
    # real signals without known beats are labelled by the detector, and the section says so
    real = evaluate_signals(train, holdout, holdout)["utility"]
    assert real.metric("beat_detection_f1").passed
    assert any("no beat positions" in note for note in real.notes)
