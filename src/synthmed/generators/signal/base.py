"""The generator protocol for device signals (``SignalSet`` in, ``SignalSet`` out).

Same contract as the tabular :class:`~synthmed.generators.base.BaseGenerator`: keyword-only
constructor that only stores, parameter checks at ``fit``, fitted state ending in ``_``,
``NotFittedError`` before ``fit``, same seed same output, JSON + ``.npz`` persistence read back
with :func:`~synthmed.generators.load_generator` (never pickle). What differs is the container
and ``sample``'s arguments: a number of records and their length in seconds.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np

from synthmed._random import RandomState, make_rng
from synthmed.datasets.signals import SignalSchema, SignalSet, as_signal_set
from synthmed.exceptions import DataError, ParameterError
from synthmed.generators.base import (
    BaseModel,
    GeneratorTags,
)

__all__ = ["MIN_RECORD_S", "SignalGenerator", "check_length"]

#: a record must hold at least one slow heartbeat (40 beats per minute)
MIN_RECORD_S = 1.5
#: longest synthetic record one call may ask for (24 hours)
MAX_LENGTH_S = 86_400.0
#: values (records x samples x channels) drawn at once at most: 100 million float32 is 0.37
#: GiB, which the release, its evaluation and the writers copy several times
MAX_SAMPLE_VALUES = 100_000_000


def check_length(length: Any) -> float:
    """``length`` (seconds per synthetic record) as a float, else a clear error."""
    ok = isinstance(length, int | float | np.number) and not isinstance(length, bool)
    if not ok or not (MIN_RECORD_S <= float(length) <= MAX_LENGTH_S):
        raise ParameterError(f"`length_s` must be a number of seconds between "
                             f"{MIN_RECORD_S} and {MAX_LENGTH_S:g}, got {length!r}.")
    return float(length)


class SignalGenerator(BaseModel):
    """Base class of signal generators.

    Subclasses implement ``_fit(signals, rng)``, ``_sample(n, n_samples, conditions, rng)``
    (returning records, a static table or None, and optionally the beats placed in each
    record), ``_get_state`` and ``_set_state``.
    """

    _tags: ClassVar[GeneratorTags] = GeneratorTags(modality="signal", handles_missing=False)

    def fit(self, data: SignalSet, *, random_state: RandomState = 0) -> Self:
        """Learn from the records of ``data`` (a :class:`SignalSet`; it is not modified).

        Raises
        ------
        DataError
            Not a SignalSet, or a record shorter than one heartbeat.
        """
        self._check_params()
        signals = as_signal_set(data)
        short = [i for i, d in enumerate(signals.durations) if d < MIN_RECORD_S]
        if short:
            raise DataError(
                f"{len(short)} of {signals.n_records} records last less than {MIN_RECORD_S} s "
                f"(record {signals.record_ids[short[0]]!r}: "
                f"{signals.durations[short[0]]:.2f} s), shorter than one heartbeat."
            )
        self._fit(signals, make_rng(random_state))
        self.schema_ = signals.schema
        self.n_train_records_ = signals.n_records
        self.default_length_s_ = float(min(300.0, np.median(signals.durations)))
        return self

    def sample(self, n: int, *, length_s: float | None = None,
               conditions: Mapping[str, Any] | None = None,
               random_state: RandomState = 0) -> SignalSet:
        """Draw ``n`` synthetic records of ``length_s`` seconds each.

        Parameters
        ----------
        n : int
            Number of records, positive.
        length_s : float, optional
            Seconds per record (exactly ``round(length_s * fs)`` samples); default the
            training records' median duration (at most 300 s).
        conditions : mapping, optional
            ``{"heart_rate": bpm}`` (a number, or one per record) and/or fixed values of the
            static attributes seen in training.
        random_state : int or numpy Generator
            Same seed, same output.
        """
        n = self._check_sample_size(n, "n")
        length = check_length(self.default_length_s_ if length_s is None else length_s)
        n_samples = round(float(length) * self.schema_.fs)
        values = int(n) * n_samples * len(self.schema_.channels)
        if values > MAX_SAMPLE_VALUES:
            raise ParameterError(
                f"{int(n):,} records of {float(length):g} s x {len(self.schema_.channels)} "
                f"channel(s) at {self.schema_.fs:g} Hz are {values:,} values "
                f"({values * 4 / 2**30:.1f} GiB as float32), more than "
                f"{MAX_SAMPLE_VALUES:,} at once. Ask for fewer or shorter records; runs with "
                "other seeds give more.")
        cond = self._check_conditions(conditions, int(n))
        records, static, *placed = self._sample(int(n), n_samples, cond, make_rng(random_state))
        return SignalSet(tuple(records), self.schema_.fs, self.schema_.channels,
                         self.schema_.units, static,
                         tuple(f"synthetic_{i}" for i in range(int(n))),
                         beats=tuple(placed[0]) if placed else None)

    def _check_conditions(self, conditions: Mapping[str, Any] | None,
                          n: int) -> dict[str, np.ndarray]:
        """Conditions as one array of ``n`` values per name; unknown names are errors."""
        if conditions is None:
            return {}
        if not isinstance(conditions, Mapping):
            raise ParameterError(f"`conditions` must be a mapping, got "
                                 f"{type(conditions).__name__}.")
        known = ["heart_rate", *self._condition_names()]
        unknown = [k for k in conditions if k not in known]
        if unknown:
            raise ParameterError(f"Conditions name attributes the model does not know: "
                                 f"{', '.join(map(str, unknown))}. Known: {', '.join(known)}.")
        out = {}
        for name, value in conditions.items():
            values = (np.asarray(list(value), dtype=object)
                      if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str)
                      else np.full(n, value, dtype=object))
            if len(values) != n:
                raise ParameterError(f"Condition {name!r} gives {len(values)} values for "
                                     f"{n} records.")
            if name == "heart_rate":
                try:
                    rates = values.astype(float)
                except (TypeError, ValueError):
                    raise ParameterError("`heart_rate` must be numbers (beats per "
                                         "minute).") from None
                if not (np.isfinite(rates).all() and (rates >= 30).all()
                        and (rates <= 220).all()):
                    raise ParameterError("`heart_rate` must be between 30 and 220 beats "
                                         "per minute.")
                out[name] = rates
            else:
                bad = self._unknown_condition_values(name, values)
                if bad:
                    raise ParameterError(f"Condition {name!r} gives {bad} value(s) never "
                                         "seen in training.")
                out[name] = values
        return out

    def _condition_names(self) -> list[str]:
        """Static attributes the model can condition on."""
        return []

    def _unknown_condition_values(self, name: str, values: np.ndarray) -> int:
        return 0

    # ------------------------------------------------------------- subclass API
    @abstractmethod
    def _fit(self, signals: SignalSet, rng: np.random.Generator) -> None:
        """Learn from ``signals``."""

    @abstractmethod
    def _sample(self, n: int, n_samples: int, conditions: Mapping[str, np.ndarray],
                rng: np.random.Generator) -> tuple[Any, ...]:
        """``n`` records of ``n_samples`` samples (``C x T``), a static table (or None) and,
        optionally, one array per record of the sample indices where beats were placed."""

    def _saved_fitted_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return ({"modality": "signal", "n_train_records": self.n_train_records_,
                 "default_length_s": self.default_length_s_}, {})

    @classmethod
    def _from_saved(cls, doc: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Self:
        gen = cls(**doc["params"])
        gen._check_params()
        gen.schema_ = SignalSchema.from_dict(doc["schema"])
        gen.n_train_records_ = int(doc["n_train_records"])
        gen.default_length_s_ = float(doc["default_length_s"])
        gen._set_state(doc["state"], arrays)
        return gen
