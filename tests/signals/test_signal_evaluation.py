"""Signal evaluation: the privacy canary, holdout references, report and pipeline output."""

from __future__ import annotations

import json

import pytest

from synthmed import get_generator, load_dataset
from synthmed.evaluation.signal import evaluate_signals


@pytest.fixture(scope="module")
def halves():
    ecg = load_dataset("ecg_mitbih").signals
    return ecg.split(0.5)


@pytest.mark.slow
def test_canary_copies_fail_fresh_data_passes(halves):
    train, holdout = halves
    copied = evaluate_signals(train, holdout, train)
    assert copied["privacy"].verdict == "fail"
    assert copied.metric("privacy", "beat_copies").value > 0.9
    fresh = evaluate_signals(train, holdout, holdout)
    assert fresh["privacy"].verdict == "pass"


@pytest.mark.slow
def test_synthetic_passes_like_the_holdout(halves, tmp_path):
    train, holdout = halves
    fake = get_generator("signal_beats").fit(train).sample(3, length_s=60, random_state=0)
    result = evaluate_signals(train, holdout, fake)
    assert result["privacy"].verdict == "pass"
    for name in ("psd_distance", "mean_hr_diff", "beat_correlation"):
        metric = result.metric("fidelity", name)
        assert metric.passed and metric.holdout_value is not None, name
    # an arrhythmia record: its synthetic copy has about as many ectopic beats as the halves
    ectopic = result.metric("fidelity", "ectopic_share")
    assert ectopic.details["train"] > 0.1 and ectopic.holdout_value > 0.1
    assert abs(ectopic.value - ectopic.details["train"]) < 0.06
    plots = result.plots["fidelity"]["signal"]
    assert set(plots) >= {"waveforms", "average_beats", "rr"}
    json.loads(result.to_json(include_plots=True))


@pytest.mark.slow
def test_generate_signals_writes_everything(tmp_path):
    pytest.importorskip("wfdb")
    from synthmed.datasets.signal_io import write_signals
    from synthmed.signal_pipeline import generate_signals

    ecg = load_dataset("ecg_mitbih").signals
    source = write_signals(ecg, tmp_path / "in", fmt="wfdb", prefix="rec")[0]
    run = generate_signals(source, tmp_path / "out", length_s=20, n=2, seed=1)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "metrics.json", "model", "report.html", "signal_schema.json", "synthetic"]
    assert sorted(p.suffix for p in (out / "synthetic").iterdir()) == [".dat", ".dat",
                                                                      ".hea", ".hea"]
    assert json.loads((out / "metrics.json").read_text())["verdict"] == run.evaluation.verdict
    assert "Signals: waveform" in (out / "report.html").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out-")]  # atomic


def test_a_perfectly_regular_rhythm_is_judged_not_a_crash():
    """A device test signal (a spike every 0.9 s exactly) has no heart-rate variability:
    SDNN and RMSSD are 0, and their log ratio was a ZeroDivisionError (pyedflib's
    test_generator.edf). Equal zeros agree; one zero against a positive value cannot."""
    import numpy as np

    from synthmed.datasets.signals import SignalSet
    from synthmed.evaluation.signal import _log_ratio

    fs = 250.0
    t = np.arange(int(120 * fs)) / fs
    spikes = np.sin(2 * np.pi * t / 0.9) ** 31 * 1.5
    regular = SignalSet([spikes[None, :]], fs=fs, channels=["ECG"], units=["mV"])
    train, holdout = regular.split(0.5)
    result = evaluate_signals(train, holdout, holdout)  # raised ZeroDivisionError
    assert result.metric("fidelity", "sdnn_log_ratio").details["train"] == 0.0
    assert _log_ratio(0.0, 0.0) == 0.0 and np.isnan(_log_ratio(0.02, 0.0))
    assert abs(_log_ratio(np.e, 1.0) - 1.0) < 1e-12


def test_evaluate_judges_another_tools_signals_from_files_and_folders(halves, tmp_path, capsys):
    """`synthmed evaluate` on signals: train and holdout records as files, the synthetic
    records as a folder (what `generate` writes, or another tool's output)."""
    pytest.importorskip("wfdb")
    from synthmed.cli import main
    from synthmed.datasets.signal_io import write_signals
    from synthmed.datasets.signals import SignalSet

    train, holdout = halves
    write_signals(train, tmp_path, fmt="wfdb", prefix="train")
    write_signals(holdout, tmp_path, fmt="wfdb", prefix="holdout")
    gen = get_generator("signal_beats").fit(train, random_state=0)
    write_signals(gen.sample(2, length_s=20, random_state=0), tmp_path / "synth", fmt="wfdb")
    args = ["evaluate", "--train", str(tmp_path / "train_0.hea"), "--holdout",
            str(tmp_path / "holdout_0.hea"), "--synthetic", str(tmp_path / "synth"), "-o",
            str(tmp_path / "ev"), "-q"]
    assert main(args) == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert {"psd_distance", "beat_correlation"} <= {
        m["name"] for m in metrics["fidelity"]["metrics"]}
    capsys.readouterr()
    assert main([*args, "--target", "x"]) == 2
    assert "--target is for tables, not signals" in capsys.readouterr().err
    other = SignalSet([train.records[0][:, :2500]], fs=train.fs / 2, channels=train.channels,
                      units=train.units)
    write_signals(other, tmp_path / "synth", fmt="wfdb", prefix="slow")
    assert main(args) == 2
    assert "in sampling rate or channels" in capsys.readouterr().err


def test_a_saved_signal_model_samples_records_in_the_format_asked(halves, tmp_path, capsys):
    """`synthmed sample MODEL -o out/ecg.edf --n 2 --length 10` writes out/ecg_0.edf and
    out/ecg_1.edf (it was an internal error); an unknown suffix writes nothing."""
    pytest.importorskip("pyedflib")
    from synthmed.cli import main
    from synthmed.datasets.signal_io import read_signals

    train, _ = halves
    model = get_generator("signal_beats").fit(train, random_state=0).save(tmp_path / "model")
    out = tmp_path / "out"
    assert main(["sample", str(model), "-o", str(out / "ecg.edf"), "--n", "2", "--length",
                 "10", "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["ecg_0.edf", "ecg_1.edf"]
    back = read_signals(out / "ecg_1.edf")
    assert back.fs == train.fs and back.channels == train.channels
    assert back.durations == (10.0,)
    capsys.readouterr()
    assert main(["sample", str(model), "-o", str(tmp_path / "x" / "ecg.txt"), "--n", "2"]) == 2
    assert "give a suffix of .hea, .edf" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
