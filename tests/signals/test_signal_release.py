"""Hybrid and augmented signal releases: provenance, real pieces, what is added, bad flags."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synthmed import ParameterError, get_generator, load_dataset
from synthmed._dsp import ectopic_beats, nn_intervals
from synthmed.cli import main
from synthmed.datasets.signal_io import read_signals
from synthmed.datasets.signals import SignalSet
from synthmed.modes.signal import (
    piece_heart_rates,
    release_signal_augment,
    release_signal_mix,
)


@pytest.fixture(scope="module")
def fitted():
    train, _ = load_dataset("ecg_mitbih").signals.split(0.5)
    return get_generator("signal_beats").fit(train), train


def test_mix_provenance_exact_and_real_pieces_unchanged(fitted):
    gen, train = fitted
    release = release_signal_mix(gen, train, real_fraction=0.4, length_s=10, n=10,
                                 random_state=3)
    labels = release.provenance["provenance"].tolist()
    assert labels.count("real") == 4 and labels.count("synthetic") == 6
    width = 10 * round(train.fs)
    for rec, label, source in zip(release.signals.records, labels, release.source, strict=True):
        assert rec.shape == (1, width)
        if label == "real":
            record, start = source
            assert rec.tobytes() == train.records[record][:, start:start + width].tobytes()
        else:
            assert source is None
    starts = [s[1] for s in release.source if s is not None]
    assert len(set(starts)) == 4  # four different pieces
    again = release_signal_mix(gen, train, real_fraction=0.4, length_s=10, n=10, random_state=3)
    assert again.provenance.equals(release.provenance)
    with pytest.raises(ParameterError, match="needs 20 real 10 s pieces"):
        release_signal_mix(gen, train, real_fraction=1.0, length_s=10, n=20)


def test_augment_fills_thin_heart_rate_bands(fitted):
    gen, train = fitted
    release = release_signal_augment(gen, train, balance="heart_rate", length_s=10)
    bands = release.stats["bands"]
    goal = max(b["real"] for b in bands)
    assert all(b["real"] + b["added"] == goal for b in bands)
    assert sum(b["added"] for b in bands) == release.counts()["synthetic"] > 0
    table = release.provenance
    assert (table["provenance"].iloc[: release.stats["real_records"]] == "real").all()
    # the added recordings have the heart rate they were drawn for (over normal intervals:
    # the ectopic beats' own coupling and pause do not count): within 5% by the beats the
    # generator placed; by the standard detector, on all but a strip or two that a burst of
    # noise confuses (real strips have such bursts too)
    synthetic = release.part("synthetic")
    asked = table.loc[table["provenance"] == "synthetic", "heart_rate_bpm"].to_numpy()
    placed = []
    for beats, record in zip(synthetic.beats, synthetic.records, strict=True):
        odd = ectopic_beats(record[0], beats, synthetic.fs, "ecg")
        rr, normal = nn_intervals(beats, synthetic.fs, odd)
        placed.append(60.0 / rr[normal].mean())
    assert np.all(np.abs(np.array(placed) - asked) < 0.05 * asked)
    measured = piece_heart_rates(synthetic)
    assert np.mean(np.abs(measured - asked) < 0.05 * asked) >= 0.85
    lows = [float(b["band_bpm"].split("-")[0]) for b in bands if b["added"]]
    new_per_band = pd.Series(np.floor(asked / 10) * 10).value_counts()
    assert {lo: new_per_band.get(lo, 0) for lo in lows} == {
        float(b["band_bpm"].split("-")[0]): b["added"] for b in bands if b["added"]}
    grown = release_signal_augment(gen, train, factor=1.5, length_s=10)
    assert grown.counts() == {"real": 15, "synthetic": 8}  # round(0.5 x 15)


@pytest.mark.parametrize(("flags", "needle"), [
    (["--mode", "hybrid", "--hybrid", "partial", "--synthesize", "x"], "hybrid partial"),
    (["--mode", "augment", "--balance", "sex"], "heart_rate only"),
    (["--mode", "augment", "--fair"], "--fair"),
    (["--mode", "augment", "--balance", "heart_rate", "--n", "4"], "--n does not apply"),
    (["--mode", "augment", "--factor", "0.5"], "above 1"),
    (["--mode", "full", "--dcr-quantile", "0.05"], "not available for signals"),
    (["--mode", "hybrid", "--hybrid", "mix", "--real-fraction", "0.9", "--n", "40"],
     "needs 36 real 10 s pieces"),
    (["--mode", "hybrid", "--hybrid", "mix", "--real-fraction", "0.5", "--length", "200"],
     "--length must be between"),
    (["--mode", "hybrid", "--hybrid", "mix", "--real-fraction", "0.5",
      "--provenance-column", "record"], "choose another name"),
])
def test_bad_flags_exit_2_and_write_nothing(flags, needle, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["generate", "ecg_mitbih", "-o", str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.iterdir())


def test_a_length_out_of_range_is_refused_before_fitting(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["generate", "ecg_mitbih", "-o", str(out), "--length", "0.5"]) == 2
    said = capsys.readouterr()
    assert "seconds between 1.5 and" in said.err and "Traceback" not in said.err
    assert "fitting" not in said.out + said.err and not out.exists()


def test_augment_with_nothing_to_add_is_refused_before_fitting(tmp_path, capsys):
    pytest.importorskip("pydicom")
    out = tmp_path / "out"  # ecg_12lead: one 5 s training piece, so one band, already full
    code = main(["generate", "ecg_12lead", "-o", str(out), "--mode", "augment",
                 "--balance", "heart_rate"])
    err = capsys.readouterr().err
    assert code == 2 and "would add no synthetic recording" in err
    assert "fitting" not in err and not out.exists()


@pytest.mark.slow
def test_cli_hybrid_writes_release_and_provenance(tmp_path, capsys):
    out = tmp_path / "mix"
    code = main(["generate", "ecg_mitbih", "-o", str(out), "--mode", "hybrid", "--hybrid", "mix",
                 "--real-fraction", "0.5", "--n", "6", "-q"])
    assert code == 0, capsys.readouterr().err
    provenance = pd.read_csv(out / "provenance.csv")
    files = sorted(p.stem for p in (out / "release").iterdir())
    assert files == provenance["record"].tolist()
    assert provenance["provenance"].value_counts().to_dict() == {"real": 3, "synthetic": 3}
    train, _ = load_dataset("ecg_mitbih").signals.split(0.5)
    whole = train.records[0][0]
    width = 10 * round(train.fs)
    for name in provenance.loc[provenance["provenance"] == "real", "record"]:
        back = read_signals(out / "release" / f"{name}.csv", fs=train.fs).records[0][0]
        starts = [s for s in range(0, len(whole) - width + 1, width)
                  if np.array_equal(whole[s:s + width], back)]
        assert len(starts) == 1  # bit for bit a piece of the training recording
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["provenance"]["release_mode"] == "hybrid-mix"
    assert "3 of 6 released recordings are real" in metrics["privacy"]["notes"][0]
    assert "real pieces of the training recordings" in (out / "report.html").read_text()


def test_per_recording_attributes_travel_with_their_recording():
    ecg = load_dataset("ecg_mitbih").signals
    x = ecg.records[0]
    data = SignalSet([x[:, :36000], x[:, 36000:72000]], fs=ecg.fs, channels=ecg.channels,
                     static=pd.DataFrame({"group": ["a", "b"]}))
    gen = get_generator("signal_beats").fit(data)
    release = release_signal_mix(gen, data, real_fraction=0.5, n=6, random_state=1)
    groups = release.signals.static["group"].tolist()
    for group, source in zip(groups, release.source, strict=True):
        if source is not None:
            assert group == ["a", "b"][source[0]]
    assert set(groups) <= {"a", "b"}
