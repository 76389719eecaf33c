"""Read and write device signals: WFDB, EDF/EDF+, DICOM waveforms, CSV and NumPy.

Every reader returns a :class:`~synthmed.datasets.signals.SignalSet`; every problem (a missing
file, mixed sampling rates, a column that is not numeric, a long run of missing samples) is a
:class:`~synthmed.exceptions.DataError` naming files, channels and counts, never a value.
Format packages load only when their format is used: ``wfdb`` (MIT), ``pyedflib`` (BSD),
``pydicom`` (MIT).

>>> from synthmed.datasets.signal_io import read_signals
>>> signals = read_signals("record.hea")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
import json
from pathlib import Path
import re
from typing import Any, Literal

import numpy as np
import pandas as pd

from synthmed.datasets.io import CsvFormat
from synthmed.datasets.signals import SignalSet
from synthmed.exceptions import DataError, MissingDependencyError, ParameterError

__all__ = [
    "SIGNAL_SUFFIXES",
    "read_dicom_waveform",
    "read_signals",
    "record_names",
    "signal_format",
    "write_signals",
]

SignalFormat = Literal["wfdb", "edf", "dicom", "csv", "npy"]
SIGNAL_SUFFIXES: dict[str, SignalFormat] = {
    ".hea": "wfdb", ".dat": "wfdb", ".edf": "edf", ".bdf": "edf", ".dcm": "dicom",
    ".csv": "csv", ".tsv": "csv", ".npy": "npy",
}


def signal_format(path: str | Path) -> SignalFormat:
    """The format of a signal file, from its suffix; of a folder, that of its first file."""
    if Path(path).is_dir():
        return signal_format(_folder_files(Path(path))[0])
    suffix = Path(path).suffix.lower()
    if suffix not in SIGNAL_SUFFIXES:
        raise DataError(f"{Path(path).name!r} has an unknown signal format {suffix!r}; known: "
                        f"{', '.join(sorted(SIGNAL_SUFFIXES))}.")
    return SIGNAL_SUFFIXES[suffix]


def read_signals(path: str | Path, *, fs: float | None = None,
                 channels: Sequence[str] | None = None) -> SignalSet:
    """Read a signal file as a one-record :class:`SignalSet`, or a folder of such files
    (a release's ``synthetic/``, another tool's output) as one set of records.

    Parameters
    ----------
    path : str or Path
        A WFDB record (``.hea``, or its ``.dat``), an EDF/EDF+/BDF file, a DICOM file with a
        waveform, a CSV file (one numeric column per channel) or a ``.npy`` array (``C x T`` or
        ``T x C``: the longer axis is time; ``N x C x T`` for N records);
        or a folder of them, all at one sampling rate with the same channels.
    fs : float, optional
        Sampling rate in Hz; required for CSV and NumPy files, which do not record it.
    channels : sequence of str, optional
        Keep only these channels (EDF files with channels at several rates need this).

    Raises
    ------
    DataError
        Missing or unreadable file, mixed sampling rates, non-numeric columns, long gaps.
    """
    file = Path(path)
    if file.is_dir():
        return _read_folder(file, fs, channels)
    kind = signal_format(file)
    if kind == "wfdb":
        file = file.with_suffix(".hea")
    if not file.is_file():
        raise DataError(f"The file {str(file)!r} does not exist.")
    if kind == "npy" and fs is None:
        raise ParameterError(f"{file.name!r} does not record its sampling rate: give it with "
                             "fs=... (CLI: --fs HZ).")
    readers = {"wfdb": _read_wfdb, "dicom": read_dicom_waveform, "csv": _read_csv,
               "npy": _read_npy}
    try:
        # EDF channels may differ in rate: only the chosen ones are read
        signals = (_read_edf(file, channels) if kind == "edf"
                   else readers[kind](file, fs=fs))  # type: ignore[operator]
    except (DataError, ParameterError, MissingDependencyError):
        raise
    except Exception as exc:  # a corrupt file: say which and what kind of failure
        raise DataError(f"Could not read {file.name!r} as {kind.upper()}: "
                        f"{type(exc).__name__}.") from None
    if fs is not None and kind not in ("csv", "npy") and abs(float(fs) - signals.fs) > 1e-6:
        raise ParameterError(f"{file.name!r} records {signals.fs:g} Hz, but fs={fs!r} was "
                             "given; leave fs out for this format.")
    return _select(signals, channels, file.name)


def _read_folder(folder: Path, fs: float | None,
                 channels: Sequence[str] | None) -> SignalSet:
    """Every signal file of ``folder`` (a WFDB record once, by its header) as one set."""
    files = _folder_files(folder)
    sets = [read_signals(f, fs=fs, channels=channels) for f in files]
    first = sets[0]
    odd = [f.name for f, s in zip(files, sets, strict=True)
           if s.fs != first.fs or s.channels != first.channels]
    if odd:
        raise DataError(f"{folder.name!r}: {', '.join(odd)} differ"
                        f"{'s' if len(odd) == 1 else ''} from {files[0].name!r} in sampling "
                        "rate or channels; a folder is one set of records (resample them, or "
                        "keep common channels with --channels).")
    return SignalSet([r for s in sets for r in s.records], fs=first.fs,
                     channels=first.channels, units=first.units,
                     record_ids=[i for s in sets for i in s.record_ids])


def _folder_files(folder: Path) -> list[Path]:
    """The signal files of ``folder`` in name order (a WFDB record once, by its header)."""
    files = sorted(p for p in folder.iterdir()
                   if p.suffix.lower() in SIGNAL_SUFFIXES and p.suffix.lower() != ".dat")
    if not files:
        raise DataError(f"{folder.name!r} holds no signal file "
                        f"({', '.join(s for s in SIGNAL_SUFFIXES if s != '.dat')}).")
    return files


def _select(signals: SignalSet, channels: Sequence[str] | None, name: str) -> SignalSet:
    if not channels:
        return signals
    missing = [c for c in channels if c not in signals.channels]
    if missing:
        raise DataError(f"{name!r} has no channel(s) {', '.join(map(repr, missing))}; it has "
                        f"{', '.join(signals.channels)}.")
    idx = [signals.channels.index(c) for c in channels]
    return SignalSet([r[idx] for r in signals.records], signals.fs,
                     [signals.channels[i] for i in idx], [signals.units[i] for i in idx],
                     signals.static, signals.record_ids)


def _require(package: str, purpose: str) -> Any:
    from importlib import import_module

    try:
        return import_module(package)
    except ImportError:
        raise MissingDependencyError(package, "signals", purpose) from None


def _mixed_rates(name: str, labels: Sequence[str], rates: Sequence[float]) -> DataError:
    groups: dict[float, list[str]] = {}
    for label, rate in zip(labels, rates, strict=True):
        groups.setdefault(float(rate), []).append(label)
    listing = "; ".join(f"{rate:g} Hz: {', '.join(ch)}" for rate, ch in sorted(groups.items()))
    return DataError(f"{name!r} holds channels at several sampling rates ({listing}). Choose "
                     "channels of one rate with channels=[...] (CLI: --channels CH ...).")


def _read_wfdb(file: Path, fs: float | None = None) -> SignalSet:
    wfdb = _require("wfdb", "read WFDB records")
    header = wfdb.rdheader(str(file.with_suffix("")))
    spf = np.atleast_1d(header.samps_per_frame or [1])
    if len(set(spf.tolist())) > 1:
        raise _mixed_rates(file.name, header.sig_name,
                           [header.fs * s for s in spf])
    record = wfdb.rdrecord(str(file.with_suffix("")))
    data = np.asarray(record.p_signal, dtype=np.float64).T
    return SignalSet([data], fs=float(record.fs) * float(spf[0]),
                     channels=list(record.sig_name), units=list(record.units or []),
                     record_ids=[record.record_name])


def _read_edf(file: Path, channels: Sequence[str] | None = None) -> SignalSet:
    """The file's signals (``channels`` only, when given: only they need one rate). An
    "EDF Annotations" channel holds events, not samples, and is left out."""
    pyedflib = _require("pyedflib", "read EDF files")
    with pyedflib.EdfReader(str(file)) as reader:
        labels = [str(x).strip() for x in reader.getSignalLabels()]
        rates = [float(x) for x in reader.getSampleFrequencies()]
        keep = [i for i, label in enumerate(labels) if label != "EDF Annotations"
                and (not channels or label in channels)]
        if not keep:
            raise DataError(f"{file.name!r} has no channel to read"
                            + (f" among {', '.join(map(repr, channels))}; it has "
                               f"{', '.join(labels)}." if channels else "."))
        labels, rates = [labels[i] for i in keep], [rates[i] for i in keep]
        units = [str(reader.getPhysicalDimension(i)).strip() for i in keep]
        if len(set(rates)) > 1:
            raise _mixed_rates(file.name, labels, rates)
        data = np.vstack([reader.readSignal(i) for i in keep])
    return SignalSet([data], fs=rates[0], channels=labels, units=units, record_ids=[file.stem])


def read_dicom_waveform(path: str | Path, fs: float | None = None, *,
                        group: int = 0) -> SignalSet:
    """Read multiplex group ``group`` of a DICOM waveform (ECG, haemodynamic...) in its units."""
    pydicom = _require("pydicom", "read DICOM waveforms")
    ds = pydicom.dcmread(str(path))
    if "WaveformSequence" not in ds:
        raise DataError(f"{Path(path).name!r} holds no waveform (no WaveformSequence).")
    if group >= len(ds.WaveformSequence):
        raise DataError(f"{Path(path).name!r} has {len(ds.WaveformSequence)} waveform groups; "
                        f"group {group} does not exist.")
    item = ds.WaveformSequence[group]
    data = np.asarray(ds.waveform_array(group), dtype=np.float64).T
    names, units = [], []
    for i, chan in enumerate(item.ChannelDefinitionSequence):
        source = getattr(chan, "ChannelSourceSequence", None)
        label = str(getattr(chan, "ChannelLabel", "") or "")
        if source and getattr(source[0], "CodeMeaning", None):
            label = str(source[0].CodeMeaning)
        label = re.sub(r"^Lead\s+", "", label)
        label = re.sub(r"\s*\(Einthoven\)$", "", label)
        names.append(label or f"ch{i}")
        unit_seq = getattr(chan, "ChannelSensitivityUnitsSequence", None)
        units.append(str(unit_seq[0].CodeValue) if unit_seq else "")
    return SignalSet([data], fs=float(item.SamplingFrequency), channels=names, units=units,
                     record_ids=[Path(path).stem])


def _read_csv(file: Path, fs: float | None = None) -> SignalSet:
    from synthmed.datasets.io import sniff_csv

    # a device export from a European locale writes "-0,245" with ";" between channels: read
    # with ",", it parsed as garbage numbers without an error
    dialect = sniff_csv(file)
    try:
        table = pd.read_csv(file, sep=dialect.sep, decimal=dialect.decimal,
                            encoding=dialect.encoding)
    except pd.errors.EmptyDataError:
        raise DataError(f"{file.name!r} is empty.") from None
    if table.empty:
        raise DataError(f"{file.name!r} has no rows.")
    table, units = _units_row(table)
    times = [c for c in table.columns if str(c).strip().lower() in TIME_COLUMNS]
    if fs is None and times:
        fs = _rate_from_times(table[times[0]], str(times[0]), file.name)
    if fs is None:
        raise ParameterError(f"{file.name!r} does not record its sampling rate (no time "
                             "column): give it with fs=... (CLI: --fs HZ).")
    table = table.drop(columns=times)
    problems = []
    columns = {}
    for name in table.columns:
        values = pd.to_numeric(table[name], errors="coerce")
        not_numbers = int((values.isna() & table[name].notna()).sum())
        if not_numbers:
            problems.append(f"{name!r} ({not_numbers} of {len(table)} values are not numbers)")
        columns[str(name)] = values.to_numpy(dtype=np.float64)
    if problems:
        raise DataError(f"{file.name!r}: every column must be a numeric channel (a time "
                        f"column named {', '.join(sorted(TIME_COLUMNS))} gives the sampling "
                        f"rate); not numeric: {', '.join(problems)}.")
    if not columns:
        raise DataError(f"{file.name!r} has no channel columns.")
    return SignalSet([np.vstack(list(columns.values()))], fs=float(fs or 0),
                     channels=list(columns), units=[units.get(c, "") for c in columns],
                     record_ids=[file.stem])


def _units_row(table: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """PhysioNet's CSV export quotes its names ("'MLII'") and gives a row of units under
    them ("'seconds','mV'"): names unquoted, that row read as the channels' units."""
    table = table.rename(columns=lambda c: str(c).strip().strip("'\""))
    first = table.iloc[0].astype(str).str.strip()
    if len(table) < 2 or pd.to_numeric(first, errors="coerce").notna().any() or \
            not first.str.fullmatch(r"['\"]?[^\d'\"][^'\"]*['\"]?").all():
        return table, {}
    units = {str(c): u.strip("'\"") for c, u in first.items()}
    table = table.iloc[1:].reset_index(drop=True)
    table = table.apply(lambda col: col.astype(str).str.strip().str.strip("'\""))
    return table, units


#: CSV columns that hold each sample's time, not a channel (milliseconds for "ms")
TIME_COLUMNS = frozenset({"time", "t", "seconds", "timestamp", "datetime", "ms",
                          "elapsed time"})


def _rate_from_times(values: pd.Series, name: str, file: str) -> float:
    """Sampling rate from a time column: seconds, milliseconds ("ms") or date-times."""
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all():
        seconds = numbers.to_numpy(dtype=np.float64) / (1000.0 if name.lower() == "ms" else 1.0)
    else:
        stamps = pd.to_datetime(values, errors="coerce", format="mixed")
        if stamps.isna().any():
            raise DataError(f"{file!r}: the time column {name!r} holds values that are neither "
                            "numbers nor date-times; fix them or give the rate with --fs HZ.")
        seconds = (stamps - stamps.iloc[0]).dt.total_seconds().to_numpy()
    # loggers often stamp several samples alike (heartpy's data3.csv: a third of the steps
    # are 0 ms): the rate is samples over the span, as long as time never goes back
    span = float(seconds[-1] - seconds[0]) if len(seconds) > 1 else 0.0
    if span <= 0 or np.any(np.diff(seconds) < 0):
        raise DataError(f"{file!r}: the time column {name!r} does not increase over the "
                        "file; sort it or give the rate with --fs HZ.")
    return float(round((len(seconds) - 1) / span, 3))


def _read_npy(file: Path, fs: float | None = None) -> SignalSet:
    data = np.load(file, allow_pickle=False)
    if data.ndim in (2, 3) and data.shape[-2] > data.shape[-1]:
        # samples x channels, as wfdb's p_signal and a CSV hold them: a recording has more
        # samples than channels, so the longer axis is time
        data = np.swapaxes(data, -1, -2)
    if data.ndim == 3:
        return SignalSet(list(data), fs=float(fs or 0))
    return SignalSet([data], fs=float(fs or 0), record_ids=[file.stem])


# --------------------------------------------------------------------------- writers


def write_signals(signals: SignalSet, folder: str | Path, *, fmt: SignalFormat = "csv",
                  prefix: str = "synthetic", csv_format: CsvFormat | None = None) -> list[Path]:
    """Write every record of ``signals`` into ``folder`` in format ``fmt``.

    ``wfdb``: ``<prefix>_<i>.hea/.dat`` (16-bit, per-channel gain); ``edf``: ``<prefix>_<i>.edf``
    (EDF+, 16-bit); ``csv``: ``<prefix>_<i>.csv`` with a ``time`` column in seconds; ``npy``:
    one ``<prefix>.npy`` (``N x C x T``, equal lengths); ``dicom``: ``<prefix>_<i>.dcm``
    (a DICOM waveform with new identifiers, :mod:`synthmed.datasets.dicom_waveform`).
    ``csv_format``: the CSV dialect (separator, decimal mark, encoding; the pipeline passes
    the source file's). Returns the files written.
    """
    dialect = csv_format or CsvFormat()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    names = record_names(signals.n_records, prefix)
    written: list[Path] = []
    if fmt == "npy":
        path = out / f"{prefix}.npy"
        np.save(path, signals.array, allow_pickle=False)
        return [path]
    for name, rec in zip(names, signals.records, strict=True):
        if fmt == "csv":
            table = pd.DataFrame(rec.T, columns=list(signals.channels))
            table.insert(0, "time", np.arange(rec.shape[1]) / signals.fs)
            path = out / f"{name}.csv"
            # 9 significant digits: a float32 sample reads back exactly (real pieces of a
            # hybrid release are released bit for bit)
            table.to_csv(path, index=False, float_format="%.9g", sep=dialect.sep,
                         decimal=dialect.decimal, encoding=dialect.encoding)
            written.append(path)
        elif fmt == "wfdb":
            written.extend(_write_wfdb(signals, rec, out, name))
        elif fmt == "edf":
            written.append(_write_edf(signals, rec, out / f"{name}.edf"))
        elif fmt == "dicom":
            _require("pydicom", "write DICOM waveforms")
            from synthmed.datasets.dicom_waveform import write_dicom_waveform

            written.append(write_dicom_waveform(signals, rec, out / f"{name}.dcm", name))
        else:
            raise ParameterError(f"`fmt` must be 'wfdb', 'edf', 'dicom', 'csv' or 'npy', got "
                                 f"{fmt!r}.")
    return written


def record_names(n: int, prefix: str = "synthetic") -> list[str]:
    """File stems :func:`write_signals` gives ``n`` records: ``<prefix>_<i>``, zero-padded."""
    width = len(str(n - 1))
    return [f"{prefix}_{i:0{width}d}" for i in range(n)]


def _write_wfdb(signals: SignalSet, rec: np.ndarray, out: Path, name: str) -> list[Path]:
    wfdb = _require("wfdb", "write WFDB records")
    units = [u or "NU" for u in signals.units]
    names = [re.sub(r"\s+", "_", c) for c in signals.channels]
    wfdb.wrsamp(name, fs=signals.fs, units=units, sig_name=names,
                p_signal=np.asarray(rec.T, dtype=np.float64), fmt=["16"] * len(names),
                write_dir=str(out))
    return [out / f"{name}.hea", out / f"{name}.dat"]


def _write_edf(signals: SignalSet, rec: np.ndarray, path: Path) -> Path:
    pyedflib = _require("pyedflib", "write EDF files")
    data = np.asarray(rec, dtype=np.float64)
    headers = []
    for i, label in enumerate(signals.channels):
        lo, hi = float(data[i].min()), float(data[i].max())
        pad = max(1e-6, 0.01 * (hi - lo))
        headers.append({
            "label": label[:16], "dimension": signals.units[i][:8],
            "sample_frequency": signals.fs, "physical_min": _edf_number(lo - pad),
            "physical_max": _edf_number(hi + pad), "digital_min": -32768,
            "digital_max": 32767, "transducer": "", "prefilter": "",
        })
    writer = pyedflib.EdfWriter(str(path), len(headers), file_type=pyedflib.FILETYPE_EDFPLUS)
    try:
        writer.setSignalHeaders(headers)
        writer.writeSamples(list(data))
    finally:
        writer.close()
    return path


def _edf_number(value: float) -> float:
    """A physical bound that fits EDF's 8-character header field."""
    for digits in range(6, -1, -1):
        rounded = round(value, digits)
        if len(f"{rounded:g}") <= 8:
            return float(f"{rounded:g}")
    return float(f"{value:.2e}")


def write_metadata(signals: SignalSet, path: str | Path, **extra: Any) -> Path:
    """Write the set's description (rate, channels, units, lengths) as JSON."""
    target = Path(path)
    target.write_text(json.dumps({**signals.describe(), **extra}, indent=1))
    return target
