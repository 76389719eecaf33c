"""Hybrid and augmented releases of device signals, with provenance per released recording.

The unit of a signal release is a recording of ``length_s`` seconds. Real units are the
training recordings cut into consecutive, non-overlapping pieces of that length
(:meth:`SignalSet.segments`); their samples are released exactly as they are.

* :func:`release_signal_mix` (``hybrid``) — real pieces and synthetic recordings together,
  ``real_fraction`` of them real, in random order.
* :func:`release_signal_augment` (``augment``) — every real piece plus synthetic recordings
  where the data are thin: ``balance="heart_rate"`` counts the pieces per heart-rate band
  (``band_bpm`` wide) between the slowest and the fastest band seen, and fills every band up to
  the fullest one with recordings *conditioned on a heart rate drawn inside that band*;
  ``factor=K`` grows the data K times, each new recording conditioned on the heart rate of a
  randomly chosen real piece (proportions kept).

Each returns a :class:`SignalRelease`: the recordings, one provenance row per recording
(``record``, ``provenance`` = ``real``/``synthetic``, ``seconds``, ``heart_rate_bpm``) and what
the mode did (``stats``). ``source`` links each real recording to its training record and
first sample; it stays in memory and is never written (a record name can identify a patient).

Example
-------
>>> from synthmed import get_generator, load_dataset
>>> train, _ = load_dataset("ecg_mitbih").signals.split()
>>> gen = get_generator("signal_beats").fit(train)
>>> release = release_signal_augment(gen, train, balance="heart_rate", length_s=10)
>>> release.stats["synthetic_records"] > 0
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
import math
from typing import Any

import numpy as np
import pandas as pd

from synthmed import _dsp
from synthmed._random import RandomState, make_rng
from synthmed.datasets.signal_io import record_names
from synthmed.datasets.signals import SignalSet, as_signal_set
from synthmed.exceptions import NotFittedError, ParameterError

__all__ = [
    "DEFAULT_UNIT_S",
    "HEART_RATE",
    "SignalRelease",
    "band_targets",
    "piece_heart_rates",
    "real_units",
    "release_signal_augment",
    "release_signal_mix",
]

#: default length of a released recording in hybrid/augment mode: a standard ECG strip
DEFAULT_UNIT_S = 10.0
#: the one quantity signals can be balanced on
HEART_RATE = "heart_rate"


@dataclass(frozen=True)
class SignalRelease:
    """Released recordings and their provenance (one row per recording, in order)."""

    signals: SignalSet
    provenance: pd.DataFrame
    mode: str
    stats: dict[str, Any] = field(default_factory=dict)
    #: per recording: (training record index, first sample) for real ones, None for synthetic
    source: tuple[tuple[int, int] | None, ...] = ()

    def counts(self) -> dict[str, int]:
        labels = self.provenance["provenance"]
        return {k: int((labels == k).sum()) for k in ("real", "synthetic")}

    def part(self, label: str) -> SignalSet | None:
        """The recordings of one provenance (``real`` or ``synthetic``), or None if none."""
        idx = np.flatnonzero((self.provenance["provenance"] == label).to_numpy())
        return self.signals.subset(idx.tolist()) if len(idx) else None


def real_units(train: SignalSet, length_s: float) -> tuple[SignalSet, list[tuple[int, int]]]:
    """The training recordings cut into consecutive ``length_s`` pieces, with their sources."""
    pieces = train.segments(length_s)
    width = round(length_s * train.fs)  # the same cut as SignalSet.segments
    sources = [(i, start) for i, rec in enumerate(train.records)
               for start in range(0, rec.shape[1] - width + 1, width)]
    return pieces, sources


def release_signal_mix(generator: Any, train: SignalSet, *, real_fraction: float,
                       length_s: float = DEFAULT_UNIT_S, n: int | None = None,
                       random_state: RandomState = 0) -> SignalRelease:
    """Real pieces of the training recordings and synthetic recordings, ``real_fraction`` real.

    Parameters
    ----------
    generator : SignalGenerator
        A fitted signal generator (usually fitted on ``train``).
    train : SignalSet
        The real training recordings.
    real_fraction : float
        Share of released recordings that are real, in [0, 1];
        ``round(real_fraction * n)`` real pieces are picked at random.
    length_s : float
        Seconds per released recording (real pieces and synthetic recordings alike).
    n : int, optional
        Recordings to release (default: as many as there are real pieces).
    random_state : int or numpy Generator
        Same seed, same release.

    Examples
    --------
    >>> release = release_signal_mix(gen, train, real_fraction=0.5)  # doctest: +SKIP
    >>> release.counts()  # doctest: +SKIP
    {'real': 8, 'synthetic': 7}
    """
    generator, train = _check(generator, train)
    ok = isinstance(real_fraction, int | float | np.number) and not isinstance(real_fraction, bool)
    if not ok or not math.isfinite(real_fraction) or not 0.0 <= real_fraction <= 1.0:
        raise ParameterError(f"`real_fraction` must be a number in [0, 1], got {real_fraction!r}.")
    pieces, sources = real_units(train, length_s)
    total = pieces.n_records if n is None else _positive(n, "n")
    n_real = math.floor(real_fraction * total + 0.5)
    if n_real > pieces.n_records:
        raise ParameterError(
            f"A release of {total} recordings with `real_fraction`={real_fraction} needs "
            f"{n_real} real {length_s:g} s pieces, but the training recordings give "
            f"{pieces.n_records}. Lower --n or --real-fraction, or shorten --length.")
    rng = make_rng(random_state)
    picked = np.sort(rng.choice(pieces.n_records, n_real, replace=False))
    n_syn = total - n_real
    synthetic = (generator.sample(n_syn, length_s=length_s, random_state=rng)
                 if n_syn else None)
    blocks = [("real", int(i)) for i in picked] + [("synthetic", j) for j in range(n_syn)]
    order = rng.permutation(len(blocks))
    records, labels, beats, source, static = [], [], [], [], []
    for k in order:
        kind, i = blocks[k]
        real = kind == "real"
        part = pieces if real else synthetic
        assert part is not None
        records.append(part.records[i])
        beats.append(None if real or part.beats is None else part.beats[i])
        labels.append(kind)
        source.append(sources[i] if real else None)
        static.append(None if part.static is None else part.static.iloc[i])
    stats = {"records": total, "real_records": n_real, "synthetic_records": n_syn,
             "real_fraction": real_fraction, "record_s": length_s,
             "real_pieces_available": pieces.n_records}
    return _assemble(train, records, labels, beats, source, static, None, "mix", stats)


def release_signal_augment(generator: Any, train: SignalSet, *,
                           balance: str | Sequence[str] | None = None,
                           factor: float | None = None, length_s: float = DEFAULT_UNIT_S,
                           band_bpm: float = 10.0,
                           random_state: RandomState = 0) -> SignalRelease:
    """Every real piece plus synthetic recordings conditioned on the heart rates that are thin.

    Parameters
    ----------
    generator : SignalGenerator
        A fitted signal generator that accepts ``conditions={"heart_rate": ...}``.
    train : SignalSet
        The real training recordings; all their pieces are released (provenance ``real``).
    balance : "heart_rate", optional
        Fill every heart-rate band between the slowest and the fastest band seen up to the
        fullest band's count of pieces.
    factor : float, optional
        Instead: grow the data ``factor`` times (> 1), proportions kept.
    length_s : float
        Seconds per piece and per synthetic recording.
    band_bpm : float
        Width of a heart-rate band (bands start at multiples of it).
    random_state : int or numpy Generator
        Same seed, same release.

    Returns
    -------
    SignalRelease
        ``mode="augment"``: the real pieces first (in time order), then the synthetic
        recordings; ``stats["bands"]`` gives per band the real pieces, the recordings added
        and the count reached.
    """
    generator, train = _check(generator, train)
    columns = _balance(balance)
    if (factor is None) == (not columns):
        raise ParameterError("Give `balance='heart_rate'` or `factor`, exactly one of them.")
    if factor is not None and (isinstance(factor, bool) or not isinstance(
            factor, int | float | np.number) or not math.isfinite(factor) or factor <= 1):
        raise ParameterError(f"`factor` must be a number above 1, got {factor!r}.")
    if not (isinstance(band_bpm, int | float) and 1 <= band_bpm <= 60):
        raise ParameterError(f"`band_bpm` must be between 1 and 60, got {band_bpm!r}.")
    pieces, sources = real_units(train, length_s)
    rates = piece_heart_rates(pieces)
    rng = make_rng(random_state)
    stats: dict[str, Any] = {"record_s": length_s, "real_records": pieces.n_records}
    if factor is not None:
        n_new = round((factor - 1) * pieces.n_records)
        known = rates[np.isfinite(rates)]
        if len(known) == 0:
            raise ParameterError("No heart rate could be measured in the training pieces.")
        targets = rng.choice(known, n_new) if n_new else np.zeros(0)
        stats["factor"] = float(factor)
    else:
        targets, stats["bands"] = band_targets(rates, band_bpm, rng)
        stats["band_bpm"] = band_bpm
    if len(targets) == 0:
        raise ParameterError("Every heart-rate band already has as many pieces as the fullest "
                             "one: augmentation would add no synthetic recording.")
    targets = np.clip(targets, 30.0, 220.0)  # the generator's conditioning range
    synthetic = generator.sample(len(targets), length_s=length_s,
                                 conditions={HEART_RATE: targets.tolist()}, random_state=rng)
    stats["synthetic_records"] = synthetic.n_records
    records = [*pieces.records, *synthetic.records]
    labels = ["real"] * pieces.n_records + ["synthetic"] * synthetic.n_records
    beats = [None] * pieces.n_records + list(synthetic.beats or [None] * synthetic.n_records)
    source: list[tuple[int, int] | None] = [*sources, *[None] * synthetic.n_records]
    hr = np.r_[rates, targets].round(2)
    static = [None if s.static is None else s.static.iloc[i]
              for s in (pieces, synthetic) for i in range(s.n_records)]
    return _assemble(train, records, labels, beats, source, static, hr, "augment", stats)


def piece_heart_rates(pieces: SignalSet) -> np.ndarray:
    """Mean heart rate (bpm) of each recording, from the standard beat detector (NaN: none)."""
    kind = _dsp.signal_kind(pieces.channels)
    channel = _dsp.reference_channel(pieces.records[0], pieces.fs, kind, pieces.channels)
    return np.array([_dsp.hrv_stats([_dsp.record_nn(r[channel], pieces.fs, kind)[1]])["mean_hr"]
                     for r in pieces.records])


# ---------------------------------------------------------------------------- helpers
def _check(generator: Any, train: Any) -> tuple[Any, SignalSet]:
    from synthmed.generators.signal import SignalGenerator

    if not isinstance(generator, SignalGenerator):
        raise ParameterError(f"`generator` must be a signal generator, got "
                             f"{type(generator).__name__}.")
    if not generator.is_fitted:
        raise NotFittedError(f"This {type(generator).__name__} instance is not fitted yet. "
                             "Call 'fit' before releasing data.")
    return generator, as_signal_set(train, "train")


def _positive(value: Any, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ParameterError(f"`{label}` must be a positive integer, got {value!r}.")
    return int(value)


def _balance(balance: Any) -> list[str]:
    if balance is None:
        return []
    names = [balance] if isinstance(balance, str) else list(balance)
    if any(name != HEART_RATE for name in names):
        raise ParameterError("Signals can be balanced on 'heart_rate' only (--balance "
                             "heart_rate); per-recording attributes are not balanced yet.")
    return names


def band_targets(rates: np.ndarray, band_bpm: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Heart rates to draw so that every band reaches the fullest band's count."""
    known = rates[np.isfinite(rates)]
    if len(known) == 0:
        raise ParameterError("No heart rate could be measured in the training pieces.")
    first = np.floor(known / band_bpm)
    lows = np.arange(first.min(), first.max() + 1) * band_bpm
    counts = np.array([int(np.sum(first * band_bpm == lo)) for lo in lows])
    goal = int(counts.max())
    targets, bands = [], []
    for lo, count in zip(lows, counts, strict=True):
        add = goal - int(count)
        targets.append(rng.uniform(lo, lo + band_bpm, add))
        bands.append({"band_bpm": f"{lo:g}-{lo + band_bpm:g}", "real": int(count),
                      "added": add, "reached": goal})
    return np.concatenate(targets), bands


def _assemble(train: SignalSet, records: list[np.ndarray], labels: list[str],
              beats: list[np.ndarray | None], source: list[tuple[int, int] | None],
              static: list[pd.Series | None], heart_rate: np.ndarray | None, mode: str,
              stats: dict[str, Any]) -> SignalRelease:
    ids = record_names(len(records), "release")  # the file stems write_signals will use
    # per-recording attributes travel with their recording (real piece or synthetic draw)
    table = (pd.DataFrame([row.to_dict() for row in static if row is not None])
             if train.static is not None and all(row is not None for row in static) else None)
    signals = train.replace(records, static=table, record_ids=ids, beats=beats)
    table = pd.DataFrame({"record": ids, "provenance": labels,
                          "seconds": [r.shape[1] / train.fs for r in records]})
    if heart_rate is not None:
        table["heart_rate_bpm"] = heart_rate
    return SignalRelease(signals, table, mode, stats, tuple(source))
