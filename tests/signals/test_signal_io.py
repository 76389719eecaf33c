"""Signal container and readers: round trips through files made here, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from synthmed import DataError, ParameterError
from synthmed.datasets.signal_io import read_signals, write_signals
from synthmed.datasets.signals import SignalSet, fill_gaps

SECRET = 123.456  # a "patient value" that must never appear in a message


def _two_channels(seconds: float = 6.0, fs: float = 250.0) -> SignalSet:
    t = np.arange(int(seconds * fs)) / fs
    data = np.vstack([np.sin(2 * np.pi * 1.2 * t), 0.5 * np.cos(2 * np.pi * 1.2 * t) + 0.1])
    return SignalSet([data], fs=fs, channels=["I", "II"], units=["mV", "mV"])


@pytest.mark.parametrize("fmt", ["wfdb", "edf", "dicom", "csv"])
def test_round_trip(fmt, tmp_path):
    pytest.importorskip({"wfdb": "wfdb", "edf": "pyedflib", "dicom": "pydicom",
                         "csv": "pandas"}[fmt])
    signals = _two_channels()
    files = write_signals(signals, tmp_path, fmt=fmt)
    back = read_signals(files[0], fs=250.0 if fmt == "csv" else None)
    assert back.fs == signals.fs and back.channels == signals.channels
    assert back.lengths == signals.lengths
    if fmt != "csv":
        assert back.units == signals.units
    span = np.ptp(signals.records[0], axis=1, keepdims=True)
    assert np.abs(back.records[0] - signals.records[0]).max() <= 1e-3 * span.max()


def test_npy_arrays_of_samples_by_channels_are_read_with_time_along_the_longer_axis(tmp_path):
    """wfdb's ``p_signal`` and a CSV hold samples x channels; saved as .npy that layout was
    refused ("must be a C x T array"). The longer axis is time, for one record or N."""
    signals = _two_channels()
    x = signals.records[0]
    np.save(tmp_path / "channels_first.npy", x)
    np.save(tmp_path / "samples_first.npy", x.T)
    np.save(tmp_path / "records.npy", np.stack([x.T, x.T[::-1]]))
    for name in ("channels_first", "samples_first"):
        back = read_signals(tmp_path / f"{name}.npy", fs=250.0)
        assert back.n_channels == 2 and back.lengths == signals.lengths
        np.testing.assert_allclose(back.records[0], x, atol=1e-6)
    many = read_signals(tmp_path / "records.npy", fs=250.0)
    assert many.n_records == 2 and many.n_channels == 2 and many.lengths[0] == x.shape[1]


def test_dicom_waveform_and_bundled_sets():
    pytest.importorskip("pydicom")
    from synthmed import list_datasets, load_dataset

    ecg = load_dataset("ecg_12lead").signals
    assert ecg.fs == 1000 and ecg.n_channels == 12 and ecg.channels[:2] == ("I", "II")
    signal_sets = {i.name for i in list_datasets() if i.modality == "signal"}
    assert signal_sets == {"ecg_mitbih", "ecg_12lead", "ppg_heartpy"}
    assert load_dataset("ecg_mitbih").frame.shape == (1, 3)  # one row per record


def test_a_dicom_ecg_is_released_as_a_dicom_ecg_with_none_of_its_identifiers(tmp_path):
    """DICOM in, DICOM out: the synthetic ECG opens where the source did, with new UIDs, a
    synthetic patient and no birth date or institution of the source file."""
    pydicom = pytest.importorskip("pydicom")
    from pydicom.data import get_testdata_file

    from synthmed.cli import main

    source = pydicom.dcmread(get_testdata_file("waveform_ecg.dcm"))
    path = tmp_path / "ecg.dcm"
    source.save_as(path)
    out = tmp_path / "out"
    assert main(["generate", str(path), "-o", str(out), "--n", "2", "--length", "6",
                 "-q"]) == 0
    files = sorted((out / "synthetic").iterdir())
    assert [f.suffix for f in files] == [".dcm", ".dcm"]
    written = pydicom.dcmread(files[0])
    assert written.SOPClassUID == source.SOPClassUID  # 12-lead ECG Waveform Storage
    assert str(written.PatientName).startswith("SYNTHETIC^")
    for uid in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        assert written[uid].value != source[uid].value
    for kept in ("PatientBirthDate", "PatientSex", "PatientID", "InstitutionName"):
        if kept in source and source[kept].value:
            assert written.get(kept, "") != source[kept].value
    back = read_signals(files[0])
    assert back.fs == 1000 and back.channels[:3] == ("I", "II", "III")
    assert back.units[0] == "uV" and back.lengths == (6000,)


def test_long_ecgs_and_other_signals_take_the_storage_class_that_holds_them(tmp_path):
    pydicom = pytest.importorskip("pydicom")
    long_ecg = SignalSet([np.sin(np.arange(20_000) / 50)[None]], fs=500.0, channels=["II"],
                         units=["mV"])
    pleth = SignalSet([np.cos(np.arange(500) / 20)[None]], fs=100.0, channels=["PLETH"],
                      units=[""])
    classes = [pydicom.dcmread(write_signals(s, tmp_path / str(i), fmt="dicom")[0]).SOPClassUID
               for i, s in enumerate((long_ecg, pleth))]
    assert [c.name for c in classes] == ["General ECG Waveform Storage",
                                         "Hemodynamic Waveform Storage"]
    assert read_signals(tmp_path / "1" / "synthetic_0.dcm").channels == ("PLETH",)


def test_short_gaps_interpolated_long_gaps_rejected():
    x = np.array([[0.0, np.nan, np.nan, 3.0, 4.0]])
    assert np.allclose(fill_gaps(x, 100.0), [[0, 1, 2, 3, 4]])
    long = np.full((1, 1000), SECRET)
    long[0, 100:200] = np.nan
    with pytest.raises(DataError, match=r"run of 100 missing \(or infinite\) samples") as err:
        SignalSet([long], fs=100.0, channels=["II"])
    assert str(SECRET) not in str(err.value)
    edge = np.full((1, 100), SECRET)
    edge[0, :3] = np.nan
    with pytest.raises(DataError, match="starts or ends"):
        SignalSet([edge], fs=100.0)


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(ParameterError, match="sampling rate"):
        SignalSet([np.zeros((1, 10))], fs=-1)
    with pytest.raises(DataError, match="same channels"):
        SignalSet([np.zeros((1, 10)), np.zeros((2, 10))], fs=10)
    csv = tmp_path / "x.csv"
    csv.write_text(f"ecg,note\n{SECRET},a\n1.0,b\n2.0,c\n")
    with pytest.raises(ParameterError, match="--fs"):
        read_signals(csv)
    csv.write_text(f"time,ecg,note\n0,{SECRET},a\n0.01,1.0,b\n0.02,2.0,c\n")
    with pytest.raises(DataError, match=r"'note' \(3 of 3 values") as err:
        read_signals(csv, fs=100)
    assert str(SECRET) not in str(err.value)
    with pytest.raises(DataError, match="does not exist"):
        read_signals(tmp_path / "none.edf")
    with pytest.raises(DataError, match="unknown signal format"):
        read_signals(tmp_path / "x.xyz")
    (tmp_path / "bad.edf").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"Could not read 'bad\.edf' as EDF"):
        read_signals(tmp_path / "bad.edf")


def _write_edf(path, channels: dict, limit: float = 100.0) -> None:
    """An EDF+ file of ``{label: (rate, samples)}``, channels at their own rates."""
    pyedflib = pytest.importorskip("pyedflib")
    headers = [{"label": name, "dimension": "uV", "sample_frequency": rate,
                "physical_min": -limit, "physical_max": limit, "digital_min": -32768,
                "digital_max": 32767, "transducer": "", "prefilter": ""}
               for name, (rate, _) in channels.items()]
    writer = pyedflib.EdfWriter(str(path), len(headers), file_type=pyedflib.FILETYPE_EDFPLUS)
    writer.setSignalHeaders(headers)
    writer.writeSamples([samples for _, samples in channels.values()])
    writer.close()


def test_mixed_sampling_rates_rejected(tmp_path):
    path = tmp_path / "mixed.edf"
    _write_edf(path, {"EEG": (100, np.zeros(1000)), "ECG": (200, np.zeros(2000))})
    with pytest.raises(DataError, match=r"several sampling rates .*100 Hz: EEG; 200 Hz: ECG"):
        read_signals(path)
    # the channels of one rate, as the message says: only they are read
    ecg = read_signals(path, channels=["ECG"])
    assert list(ecg.channels) == ["ECG"] and ecg.fs == 200.0 and ecg.records[0].shape[1] == 2000


def test_edf_channels_from_the_command_line(tmp_path):
    """`--channels` exists (the mixed-rate message names it) and reaches the EDF reader."""
    from synthmed.cli import main

    path = tmp_path / "night.edf"
    t = np.arange(60 * 256) / 256
    ecg = 1000 * np.sin(2 * np.pi * 1.1 * t) ** 15  # a spike per beat, 66 per minute
    _write_edf(path, {"ECG": (256, ecg), "Resp": (32, np.sin(2 * np.pi * 0.25 * t[::8]) * 500)},
               limit=2000.0)
    assert main(["generate", str(path), "-o", str(tmp_path / "out"), "--channels", "ECG",
                 "--length", "10", "--n", "1", "-q"]) == 0
    assert (tmp_path / "out" / "metrics.json").is_file()


def test_split_and_segments():
    signals = _two_channels(seconds=10.0)
    train, hold = signals.split(0.3)
    assert train.lengths == (1750,) and hold.lengths == (750,)
    segs = signals.segments(2.0)
    assert segs.array.shape == (5, 2, 500)
    many = SignalSet([np.zeros((1, 100))] * 6, fs=10.0)
    a, b = many.split(0.5)
    assert (a.n_records, b.n_records) == (3, 3)


def test_csv_sampling_rate_from_its_time_column(tmp_path):
    """A logger's CSV: date-times stamped in 10 ms steps with repeats (heartpy's data3.csv
    has a third of its steps at 0 ms); the rate is samples over the span."""
    import pandas as pd

    n = 3001
    stamps = pd.Timestamp("2024-01-01 08:00") + pd.to_timedelta(
        (np.arange(n) // 3) * 30, unit="ms")  # three samples per 30 ms stamp
    stamps = stamps.where(np.arange(n) < n - 1, stamps[-1] + pd.Timedelta(milliseconds=20))
    path = tmp_path / "ppg.csv"
    pd.DataFrame({"datetime": stamps, "ppg": np.sin(np.arange(n) / 10)}).to_csv(path, index=False)
    signals = read_signals(path)
    assert list(signals.channels) == ["ppg"] and abs(signals.fs - 100.0) < 0.5
    pd.DataFrame({"ms": np.arange(500) * 4.0, "ecg": np.zeros(500)}).to_csv(path, index=False)
    assert read_signals(path).fs == 250.0
    pd.DataFrame({"time": np.r_[0.0, 0.2, 0.1], "ecg": np.zeros(3)}).to_csv(path, index=False)
    with pytest.raises(DataError, match="does not increase"):
        read_signals(path)
    pd.DataFrame({"ecg": np.zeros(30)}).to_csv(path, index=False)
    with pytest.raises(ParameterError, match="--fs HZ"):
        read_signals(path)


@pytest.mark.parametrize("channels", [1, 2])
def test_a_european_device_export_is_read_as_written(tmp_path, channels):
    """";" between channels and "-0,245" for -0.245: read with "," as the separator, such a
    file parsed into garbage numbers without an error (one channel: "-0" and "245" as two
    fields). It is read as written, and the synthetic CSV is written back the same way."""
    import pandas as pd

    from synthmed.datasets.io import sniff_csv

    t = np.arange(2000) / 250.0
    table = pd.DataFrame({f"ch{i}": np.sin(2 * np.pi * (1 + i) * t) for i in range(channels)})
    path = tmp_path / "device.csv"
    table.to_csv(path, sep=";", decimal=",", index=False)
    signals = read_signals(path, fs=250)
    assert signals.channels == tuple(table.columns)
    assert np.allclose(signals.records[0], table.to_numpy().T, atol=1e-6)
    written = write_signals(signals, tmp_path / "out", csv_format=sniff_csv(path))
    assert sniff_csv(written[0]) == sniff_csv(path)
    again = read_signals(written[0])
    assert np.allclose(again.records[0], signals.records[0], atol=1e-6)


def test_a_physionet_csv_export_with_its_units_row(tmp_path):
    """PhysioNet's CSV export quotes the names and puts a row of units under them; its time
    column is "Elapsed time" in seconds."""
    t = np.arange(1500) / 250.0
    lines = ["'Elapsed time','MLII','V5'", "'seconds','mV','mV'"]
    lines += [f"{s:.3f},{np.sin(s):.3f},{np.cos(s):.3f}" for s in t]
    path = tmp_path / "100.csv"
    path.write_text("\n".join(lines) + "\n")
    signals = read_signals(path)
    assert signals.channels == ("MLII", "V5") and signals.units == ("mV", "mV")
    assert abs(signals.fs - 250.0) < 0.5
    assert np.allclose(signals.records[0][0], np.sin(t), atol=1e-3)
