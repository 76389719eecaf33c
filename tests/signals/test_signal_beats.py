"""The signal_beats generator on real ECG and PPG: rhythm, length, conditioning, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import signal as sps

from synthmed import DataError, get_generator, load_dataset
from synthmed._dsp import hrv_stats, local_rr, nn_intervals, non_cardiac, record_beats, record_nn
from synthmed.datasets.signals import SignalSet
from synthmed.evaluation.signal import evaluate_signals


@pytest.fixture(scope="module")
def ecg():
    return load_dataset("ecg_mitbih").signals


@pytest.fixture(scope="module")
def ecg_model(ecg):
    train, _ = ecg.split(0.5)
    return get_generator("signal_beats").fit(train), train


def _hr(signals: SignalSet, model) -> float:
    nn = [record_nn(r[model.ref_channel_], signals.fs, model.kind_)[1] for r in signals.records]
    return hrv_stats(nn)["mean_hr"]


def test_heart_rate_and_exact_length(ecg_model):
    model, train = ecg_model
    fake = model.sample(3, length_s=40.3, random_state=0)
    assert fake.lengths == (round(40.3 * train.fs),) * 3
    assert fake.array.dtype == np.float32 and np.isfinite(fake.array).all()
    assert abs(_hr(fake, model) - _hr(train, model)) < 0.08 * _hr(train, model)


def test_a_draw_too_large_for_memory_is_refused_before_drawing(ecg_model):
    from synthmed import ParameterError

    model, _ = ecg_model
    with pytest.raises(ParameterError, match="Ask for fewer or shorter records"):
        model.sample(10_000, length_s=60, random_state=0)  # 216 million values


@pytest.mark.parametrize("target", [60.0, 90.0, 130.0])
def test_conditioning_on_heart_rate(ecg_model, target):
    model, _ = ecg_model
    fake = model.sample(2, length_s=30, conditions={"heart_rate": target}, random_state=1)
    assert abs(_hr(fake, model) - target) < 0.05 * target


def test_beats_are_new_but_alike(ecg_model):
    model, train = ecg_model
    a = model._draw_beats(200, np.zeros(model.components_.shape[0]), np.random.default_rng(0))
    assert len(np.unique(a.round(6), axis=0)) == 200  # no beat repeats
    assert train.n_records == 1


def test_ppg_and_multichannel():
    ppg = load_dataset("ppg_heartpy").signals
    model = get_generator("signal_beats").fit(ppg)
    assert model.kind_ == "ppg" and model.ectopy_ is None  # pulses have no QRS to compare
    fake = model.sample(1, length_s=30, random_state=0)
    assert abs(_hr(fake, model) - _hr(ppg, model)) < 0.1 * _hr(ppg, model)
    ecg12 = load_dataset("ecg_12lead").signals
    model = get_generator("signal_beats").fit(ecg12)
    fake = model.sample(1, length_s=8, random_state=0).records[0]
    real = ecg12.records[0]
    # channel coupling: lead III = II - I holds in the real ECG, and so in the synthetic one
    i, ii, iii = (ecg12.channels.index(c) for c in ("I", "II", "III"))
    assert np.corrcoef(real[iii], real[ii] - real[i])[0, 1] > 0.95
    assert np.corrcoef(fake[iii], fake[ii] - fake[i])[0, 1] > 0.9


def test_static_attribute_conditioning(ecg):
    x = ecg.records[0]
    fast = x[:, ::2][:, : 30 * 360]  # decimating by two doubles the apparent heart rate
    slow = x[:, : 30 * 360]
    data = SignalSet([slow, fast, slow[:, ::-1], fast[:, ::-1]], fs=ecg.fs,
                     channels=ecg.channels, units=ecg.units,
                     static=pd.DataFrame({"group": ["a", "b", "a", "b"]}))
    model = get_generator("signal_beats").fit(data)
    a = model.sample(2, length_s=20, conditions={"group": "a"}, random_state=0)
    b = model.sample(2, length_s=20, conditions={"group": "b"}, random_state=0)
    assert list(b.static["group"]) == ["b", "b"]
    assert _hr(b, model) > 1.3 * _hr(a, model)


def test_too_short_or_not_a_heart_signal(ecg):
    short = SignalSet([ecg.records[0][:, :360]], fs=ecg.fs)
    with pytest.raises(DataError, match="shorter than one heartbeat"):
        get_generator("signal_beats").fit(short)
    with pytest.raises(DataError, match="normal beat intervals"):
        get_generator("signal_beats").fit(SignalSet([np.zeros((1, 3600))], fs=360.0))


def test_channels_named_as_holding_no_heartbeat(ecg):
    """A sleep recording's EEG or EMG is not a heart signal: read as heartbeats it came out as
    noise with a WARN verdict. Every channel named so is refused (by fit and evaluation) with
    the option to give; beside an ECG such a channel is never the beat channel, though an
    EMG has more power in the QRS band."""
    assert [non_cardiac(c) for c in ("EEG Fpz-Cz", "Resp oro-nasal", "EMG submental", "C3-A2",
                                     "ECG", "MLII", "ch0", "Pleth", "ECG lead II", "V1")] == \
        [True, True, True, True, False, False, False, False, False, False]
    x = ecg.records[0][:, :36_000]
    rng = np.random.default_rng(0)
    emg = sps.sosfiltfilt(sps.butter(4, [5, 15], "band", fs=ecg.fs, output="sos"),
                          rng.normal(0, 1, x.shape[1]))[None, :]
    brain = SignalSet([np.vstack([x, emg])], fs=ecg.fs, channels=["EEG Fpz-Cz", "EMG chin"])
    with pytest.raises(DataError, match="--channels") as err:
        get_generator("signal_beats").fit(brain)
    assert "EEG" in str(err.value)
    with pytest.raises(DataError, match="holds a heartbeat"):
        evaluate_signals(brain, brain, brain)
    mixed = SignalSet([np.vstack([emg, x])], fs=ecg.fs, channels=["EMG chin", "ECG"])
    unnamed = SignalSet([np.vstack([emg, x])], fs=ecg.fs, channels=["a", "b"])
    assert get_generator("signal_beats").fit(unnamed).ref_channel_ == 0  # the EMG, by power
    assert get_generator("signal_beats").fit(mixed).ref_channel_ == 1


def test_beat_windows_interpolate_the_record_linearly():
    """The beat extractor reads warped windows as linear interpolation of the samples, also
    from a strided (transposed) record, and keeps only windows that lie inside it."""
    from synthmed._dsp import extract_beats, warp_times

    rng = np.random.default_rng(0)
    fs, n = 250.0, 20_000
    record = rng.standard_normal((n, 3)).T  # channels x samples, not contiguous
    peaks = np.concatenate([[10], np.sort(rng.choice(np.arange(100, n - 100), 40, False)),
                            [n - 5]])
    grid = np.arange(-50, 90) / fs
    factors = rng.uniform(0.7, 1.4, len(peaks))
    beats, kept = extract_beats(record, peaks, fs, grid, factors)
    assert 0 not in kept and len(peaks) - 1 not in kept and len(kept) == 40
    times = peaks[kept, None] / fs + warp_times(grid, factors[kept])
    axis = np.arange(n) / fs
    expected = np.array([[np.interp(t, axis, ch) for ch in record] for t in times])
    np.testing.assert_allclose(beats, expected, atol=1e-9)


def _cohort(n_records: int, seconds: float) -> SignalSet:
    """Records of the bundled ECG as different patients: each its own lead axis (a mix of the
    trace, its slope and a delayed copy), amplitude and heart rate."""
    record = load_dataset("ecg_mitbih").signals
    ecg, fs = record.records[0][0].astype(np.float64), record.fs
    rng = np.random.default_rng(5)
    n = int(seconds * fs)
    records = []
    for _ in range(n_records):
        t = rng.integers(0, len(ecg) // 2) + np.arange(n) / rng.uniform(0.85, 1.2)
        x = np.interp(np.mod(t, len(ecg) - 1), np.arange(len(ecg)), ecg)
        mix = rng.normal([1.0, 0.0, 0.0], [0.2, 0.6, 0.3])
        lead = mix @ np.vstack([x, x - np.roll(x, 6), np.roll(x, -int(0.08 * fs))])
        records.append((lead + 0.02 * rng.standard_normal(n))[None, :])
    return SignalSet(records, fs, ["MLII"], ["mV"])


def test_each_synthetic_record_keeps_a_beat_of_its_own():
    """With several patients, a synthetic record draws one patient-like beat and keeps it: the
    share of beat variance between records is that of real records, not near 0 as when every
    beat of every record came from all patients' shapes at once."""
    from synthmed.evaluation.signal import evaluate_signals

    train, holdout = _cohort(16, 60).split(0.5)
    model = get_generator("signal_beats").fit(train, random_state=0)
    fake = model.sample(24, length_s=30, random_state=1)  # 8 records' share is noisy
    share = evaluate_signals(train, holdout, fake, random_state=0).metric(
        "fidelity", "beat_record_share")
    assert share.details["train"] > 0.2 and share.holdout_value > 0.2
    assert share.value > 0.5 * share.details["train"]
    pooled = get_generator("signal_beats").fit(train, random_state=0)
    pooled.record_factor_ = None  # every beat from the pooled mixture: the old behaviour
    result = evaluate_signals(train, holdout, pooled.sample(24, length_s=30, random_state=1),
                              random_state=0)
    assert result.metric("fidelity", "beat_record_share").value < 0.1


def _window_wander(signals: SignalSet, seconds: float = 10.0) -> tuple[float, float]:
    """Mean and within-record sd of the wander's (< 0.5 Hz) log RMS in windows."""
    from synthmed._dsp import baseline

    logs = []
    for record in signals.records:
        wander = baseline(record[0].astype(np.float64), signals.fs, 0.5)
        width = round(seconds * signals.fs)
        windows = wander[:len(wander) // width * width].reshape(-1, width)
        logs.append(np.log(windows.std(axis=1)))
    flat = np.concatenate(logs)
    within = np.sqrt(np.mean(np.concatenate([x - x.mean() for x in logs]) ** 2))
    return float(flat.mean()), float(within)


def test_baseline_wander_comes_in_episodes_as_loud_as_the_records(ecg_model):
    """The wander of the MIT-BIH excerpt varies from one 10 s strip to the next (log RMS sd
    0.49 in its first half); stationary noise of the same spectrum varies by 0.32-0.35, and an
    8 s Welch estimate put its level 0.23 (log) below the record's. The slow gains and the 32 s
    wander spectrum give both back, in part: 0.38-0.40 over seeds 0-3 (0.42-0.45 before the
    ectopic beats were reconstructed out of the residual), so the means of four seeds are
    compared."""
    model, train = ecg_model
    level, within = _window_wander(train)
    drawn = [_window_wander(model.sample(4, length_s=150, random_state=s)) for s in range(4)]
    assert abs(np.mean([d[0] for d in drawn]) - level) < 0.15
    assert np.mean([d[1] for d in drawn]) > 0.77 * within  # 0.39 against 0.49
    steady = get_generator("signal_beats").fit(train, random_state=0)
    steady.envelopes_ = ()  # stationary noise: the model before the slow gains
    assert np.mean([_window_wander(steady.sample(4, length_s=150, random_state=s))[1]
                    for s in range(4)]) < 0.72 * within  # 0.33


def test_rmssd_never_spans_an_ectopic_beat():
    from synthmed._dsp import nn_intervals, nn_runs

    steps = [300, 310] * 5 + [150, 460] + [300, 310] * 5  # a premature beat and its pause
    rr, ok = nn_intervals(np.cumsum([0, *steps]), 360.0)
    assert not ok[10] and not ok[11]
    runs = nn_runs(rr, ok)
    assert all(len(r) >= 2 for r in runs) and sum(len(r) for r in runs) == ok.sum()
    assert not any(np.isin(np.round(np.concatenate(runs) * 360), [150, 460]))
    # every successive difference lies within a run: 10 samples, never the 150/460 jump
    assert hrv_stats(runs)["rmssd"] == pytest.approx(1000 * 10 / 360.0)


def _beat_steps(signals: SignalSet) -> np.ndarray:
    """|Successive differences| of log NN intervals, within runs of normal beats."""
    from synthmed._dsp import detect_beats, nn_intervals, nn_runs

    out = []
    for record in signals.records:
        rr, ok = nn_intervals(detect_beats(record[0], signals.fs, "ecg"), signals.fs)
        out += [np.diff(np.log(run)) for run in nn_runs(rr, ok) if len(run) > 1]
    return np.abs(np.concatenate(out))


def test_heart_rhythm_changes_mostly_a_little_and_now_and_then_much(ecg_model):
    """The excerpt's beat-to-beat changes of log RR have a median of 0.033 and a 95th
    percentile 4.5 times that (a Gaussian's is 2.9 times); an AR model with Gaussian steps of
    the same sd drew a median of 0.05 and a Gaussian's tail. The rhythm keeps both."""
    model, train = ecg_model
    real = _beat_steps(train)
    fake = _beat_steps(model.sample(4, length_s=150, random_state=0))
    assert abs(np.median(fake) / np.median(real) - 1) < 0.3
    assert np.percentile(fake, 95) / np.median(fake) > 3.5
    assert abs(np.sqrt(np.mean(fake ** 2)) / np.sqrt(np.mean(real ** 2)) - 1) < 0.15


def _ectopy(signals: SignalSet) -> tuple[float, float, float]:
    """Share of ectopic beats, and the median interval ending at one and after one (when a
    normal beat follows), each relative to the local normal rhythm."""
    odd, coupling, pause = [], [], []
    for record in signals.records:
        peaks, flags = record_beats(record[0], signals.fs, "ecg")
        rr, normal = nn_intervals(peaks, signals.fs, flags)
        ratio = rr / local_rr(rr, normal)
        odd.append(flags)
        coupling.append(ratio[flags[1:]])
        pause.append(ratio[flags[:-1] & ~flags[1:]])
    return (float(np.concatenate(odd).mean()), float(np.median(np.concatenate(coupling))),
            float(np.median(np.concatenate(pause))))


def test_ectopic_beats_come_as_often_and_when_the_records_have_them(ecg_model):
    """The excerpt is an arrhythmia record: a sixth of its beats are wide ectopic ones, each
    at about the normal coupling and followed by a pause 1.2 times the rhythm. The synthetic
    records had none (the model drew normal beats only); now the template match finds about
    as many in them, timed alike."""
    model, train = ecg_model
    real = _ectopy(train)
    fake = _ectopy(model.sample(4, length_s=150, random_state=0))
    assert real[0] > 0.1
    assert abs(fake[0] - real[0]) < 0.05
    assert abs(np.log(fake[1] / real[1])) < 0.05 and abs(np.log(fake[2] / real[2])) < 0.08
    assert fake[2] > 1.1


def test_each_synthetic_record_has_an_ectopic_burden_of_its_own():
    """Patients differ in how many ectopic beats they have (here 2 % to a third of the
    beats). With one pooled rate every synthetic record had the same burden; now each draws
    its own, spread like the training records' beyond their chance variation."""
    from _data import ECG_FS, ecg_with_wide_beats

    every = [3, 4, 5, 6, 8, 10, 15, 20, 30, 40]
    train = SignalSet([ecg_with_wide_beats(60, k, seed=k)[0][None, :] for k in every], ECG_FS,
                      ["MLII"], ["mV"])

    def burdens(signals: SignalSet) -> np.ndarray:
        return np.array([record_beats(r[0], signals.fs, "ecg")[1].mean()
                         for r in signals.records])

    real = burdens(train)
    assert real.std() > 0.08
    model = get_generator("signal_beats").fit(train, random_state=0)
    assert model.ectopy_ is not None and model.ectopy_.onset_beta is not None
    fake = burdens(model.sample(60, length_s=40, random_state=0))
    assert abs(fake.mean() - real.mean()) < 0.04
    assert fake.std() > 0.6 * real.std()
    pooled = get_generator("signal_beats").fit(train, random_state=0)
    object.__setattr__(pooled.ectopy_, "onset_beta", None)  # one rate for all: as before
    assert burdens(pooled.sample(60, length_s=40, random_state=0)).std() < 0.5 * real.std()
