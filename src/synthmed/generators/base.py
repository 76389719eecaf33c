"""The one protocol every generator follows (scikit-learn's estimator contract, generalised).

``__init__`` only stores keyword-only parameters; ``fit`` checks them and learns; fitted state
ends in ``_``; ``sample`` returns a table shaped like the source's modelled columns; ``save`` and
:func:`load_generator` use JSON + ``.npz`` arrays (never pickle).

Subclasses implement ``_fit(frame, rng)``, ``_sample(n, conditions, rng)`` and the two state
methods ``_get_state`` / ``_set_state``; the base class does everything else: parameter checks,
schema inference and validation, canonical dtypes, exact-copy rejection and persistence.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
import inspect
import json
from pathlib import Path
import secrets
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from pandas.core.util.hashing import combine_hash_arrays  # pandas' own row combiner

from synthmed._random import RandomState, make_rng
from synthmed.exceptions import (
    DataError,
    ModelFileError,
    NotFittedError,
    ParameterError,
)
from synthmed.generators._chunks import DRAW_THREADS, chunk_streams, drawn_ahead
from synthmed.generators._exclusions import (
    Exclusion,
    excluded,
    exclusions_note,
    find_exclusions,
    mend_exclusions,
)
from synthmed.generators._formulas import Formula, find_formulas, formulas_note, write_formulas
from synthmed.generators._gates import Gate, close_gates, find_gates, gates_note, ungated
from synthmed.generators._heaps import Heap, find_heaps, heap_values, heaps_note
from synthmed.generators._orders import (
    Order,
    disordered,
    find_orders,
    orders_note,
    put_in_order,
)
from synthmed.generators._twins import (
    Twin,
    find_twins,
    source_conditions,
    twins_note,
    unmet,
    write_twins,
)
from synthmed.schema import (
    ColumnSchema,
    TableSchema,
    coerce_table,
    infer_schema,
    read_dates,
    restore_table,
)

__all__ = ["MIN_FIT_ROWS", "BaseGenerator", "BaseModel", "GeneratorTags", "row_hashes"]

MODEL_FORMAT = "synthmed-model"
MODEL_FORMAT_VERSION = 1
MIN_FIT_ROWS = 5
MAX_RESAMPLE_ROUNDS = 25
#: a training record whose exact values are shared by at least this many training records
#: identifies none of them (k-anonymity with k = 10), so a synthetic row equal to it is not a
#: copy to redraw: on a table of few categorical columns most fresh patients match such a
#: record, and redrawing them all distorted the commonest combinations, or could not finish
COMMON_RECORD_MIN_COUNT = 10
#: when at least this share of training rows equal another training row, a fresh patient
#: would equal a training record about as often (on survival::prostateSurvival, 5 coarse
#: columns, 78% of the holdout did): equality is then no sign of copying and is not redrawn;
#: the evaluation's exact-copy and distance gates, both against the holdout, judge the release
SATURATED_MATCH_SHARE = 0.2
#: rows per chunk when sampling in chunks: ~100 MB for 30 columns, fast to hash
DEFAULT_CHUNK_ROWS = 100_000

ParamCheck = Callable[[Any], str | None]


@dataclass(frozen=True)
class GeneratorTags:
    """What a generator can do; read by the pipeline and the conformance suite."""

    modality: str = "table"
    supports_conditioning: bool = True
    handles_missing: bool = True
    dp_epsilon: float | None = None
    needs: tuple[str, ...] = ()


def int_in(low: int, high: int | None = None) -> ParamCheck:
    """Parameter check: an integer in ``[low, high]``."""

    def check(value: Any) -> str | None:
        ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
        ok = ok and value >= low and (high is None or value <= high)
        upper = "" if high is None else f" and at most {high}"
        return None if ok else f"an integer at least {low}{upper}"

    return check


def optional(check: ParamCheck) -> ParamCheck:
    """Parameter check: ``None``, or a value ``check`` accepts."""

    def inner(value: Any) -> str | None:
        expected = None if value is None else check(value)
        return None if expected is None else f"None or {expected}"

    return inner


def float_in(low: float, high: float | None = None, *, low_open: bool = False) -> ParamCheck:
    """Parameter check: a real number in ``[low, high]`` (``(low, high]`` if ``low_open``)."""

    def check(value: Any) -> str | None:
        ok = isinstance(value, int | float | np.number) and not isinstance(value, bool)
        ok = ok and np.isfinite(value) and (value > low if low_open else value >= low)
        ok = ok and (high is None or value <= high)
        bound = f"greater than {low}" if low_open else f"at least {low}"
        upper = "" if high is None else f" and at most {high}"
        return None if ok else f"a number {bound}{upper}"

    return check


def one_of(*options: Any) -> ParamCheck:
    """Parameter check: one of the given values."""

    def check(value: Any) -> str | None:
        return None if value in options else f"one of {', '.join(repr(o) for o in options)}"

    return check


class BaseModel(ABC):
    """What every generator shares, whatever its modality: parameters, tags, fitted state.

    The constructor takes keyword-only parameters and only stores them; ``_param_checks``
    declares each parameter's check, run by ``fit``; a fitted model has a ``schema_``.
    :func:`load_generator` rebuilds a saved model through ``_from_saved``. Tables subclass
    :class:`BaseGenerator`; other modalities (signals...) subclass this directly.
    """

    name: ClassVar[str]
    #: what the class can do; ``tags`` (per instance) adds what depends on parameters
    _tags: ClassVar[GeneratorTags] = GeneratorTags()
    #: parameter name -> check returning None when valid, else what was expected
    _param_checks: ClassVar[dict[str, ParamCheck]] = {}

    # ------------------------------------------------------------- parameters
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY]

    @property
    def tags(self) -> GeneratorTags:
        """The class's tags, with ``dp_epsilon`` set when the instance is differentially private."""
        from dataclasses import replace

        epsilon = getattr(self, "epsilon", None)
        return replace(self._tags, dp_epsilon=None if epsilon is None else float(epsilon))

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    @classmethod
    def get_test_params(cls) -> list[dict[str, Any]]:
        """Small, fast parameter sets used by the conformance suite."""
        return [{}]

    def _check_params(self) -> None:
        problems = []
        for name, check in self._param_checks.items():
            value = getattr(self, name)
            expected = check(value)
            if expected is not None:
                problems.append(f"`{name}` must be {expected}, got {value!r}.")
        if problems:
            raise ParameterError(f"{type(self).__name__}: " + " ".join(problems))

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "schema_")

    def _check_sample_size(self, value: Any, name: str) -> int:
        """``value`` as a positive int, for a fitted model; else a clear error."""
        if not self.is_fitted:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. "
                "Call 'fit' before 'sample'."
            )
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ParameterError(f"`{name}` must be a positive integer, got {value!r}.")
        return int(value)

    @classmethod
    @abstractmethod
    def _from_saved(cls, doc: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Self:
        """Rebuild a fitted model from ``model.json`` (``doc``) and ``arrays.npz``."""

    @abstractmethod
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Fitted state as (JSON-able dict, named numeric arrays)."""

    @abstractmethod
    def _set_state(self, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        """Restore the fitted state written by ``_get_state``."""

    @abstractmethod
    def _saved_fitted_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """What the modality's base class itself keeps (row counts, copy hashes...)."""

    # ------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Write the fitted model to the folder ``path`` (``model.json`` + ``arrays.npz``)."""
        if not self.is_fitted:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. "
                "Call 'fit' before 'save'."
            )
        from synthmed import __version__

        meta, arrays = self._get_state()
        base_meta, base_arrays = self._saved_fitted_state()
        doc = {
            "format": MODEL_FORMAT,
            "format_version": MODEL_FORMAT_VERSION,
            "synthmed_version": __version__,
            "generator": self.name,
            "params": self.get_params(),
            "schema": self.schema_.to_dict(),
            **base_meta,
            "state": meta,
        }
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.json").write_text(json.dumps(doc, indent=1, default=_json_default))
        np.savez_compressed(folder / "arrays.npz", **arrays, **base_arrays)
        return folder


class BaseGenerator(BaseModel):
    """Base class of all tabular generators.

    Examples
    --------
    >>> from synthmed import get_generator, load_dataset
    >>> data = load_dataset("pbc")
    >>> gen = get_generator("gaussian_copula").fit(data.frame, schema=data.schema)
    >>> synthetic = gen.sample(100, random_state=0)
    """

    #: columns written from another after each draw (set by ``fit``; none for a subclass
    #: that fits otherwise, or a model saved before they were found)
    twins_: Sequence[Twin] = ()
    #: pairs of columns one never exceeds the other (set by ``fit``, as ``twins_``)
    orders_: Sequence[Order] = ()
    #: columns computed from others: a difference, a ratio (set by ``fit``, as ``twins_``)
    formulas_: Sequence[Formula] = ()
    #: columns recorded only where a category says so (set by ``fit``, as ``twins_``)
    gates_: Sequence[Gate] = ()
    #: pairs of categories no training row holds (set by ``fit``, as ``twins_``)
    exclusions_: Sequence[Exclusion] = ()
    #: number columns heaped on round values (set by ``fit``, as ``twins_``)
    heaps_: Sequence[Heap] = ()

    def rule_notes(self) -> list[str]:
        """A sentence per kind of rule found at fit (column names only, never values): what
        the run and the data card say every synthetic row keeps."""
        return [note for note in (
            twins_note(self.twins_), formulas_note(self.formulas_), gates_note(self.gates_),
            exclusions_note(self.exclusions_), heaps_note(self.heaps_),
            orders_note(self.orders_)) if note]

    @property
    def draws_in_threads(self) -> bool:
        """Whether :meth:`sample_chunks` may draw two chunks at once on two threads: the
        draw reads the fitted model only, and its work is mostly numpy's, which releases the
        lock between threads (a generator whose draw runs on torch's own threads says no)."""
        return True

    # ------------------------------------------------------------- fit/sample

    def fit(self, data: pd.DataFrame, *, schema: TableSchema | None = None,
            random_state: RandomState = 0) -> Self:
        """Learn the joint distribution of the modelled columns of ``data``.

        Parameters
        ----------
        data : DataFrame
            Training table. It is not modified.
        schema : TableSchema, optional
            Column kinds and roles; inferred when omitted. Identifier and free-text columns
            are not modelled.
        random_state : int or numpy Generator
            Seed for any randomness in fitting.

        Returns
        -------
        self
        """
        self._check_params()
        if not isinstance(data, pd.DataFrame):
            raise DataError(f"`data` must be a pandas DataFrame, got {type(data).__name__}.")
        if len(data) < MIN_FIT_ROWS:
            raise DataError(
                f"At least {MIN_FIT_ROWS} rows are needed to fit a generator, got {len(data)}."
            )
        schema = infer_schema(data) if schema is None else schema
        if not isinstance(schema, TableSchema):
            raise ParameterError(f"`schema` must be a TableSchema, got {type(schema).__name__}.")
        frame = coerce_table(data, schema)
        modelled = schema.subset(list(frame.columns))
        if frame.shape[1] == 0:
            raise DataError(
                "No column is left to model: every column is an identifier or free text. "
                "Correct the kinds in the schema."
            )
        # a column another one determines exactly (a code beside its label, a copy) is
        # written again from it after each draw (see _twins). It is still modelled: left out,
        # the others were fitted closer to the training rows (DCR share 0.588 -> 0.611 on
        # five tables that hold such columns, against 0.592 written after the draw)
        self.twins_ = find_twins(frame, modelled)
        # a column computed from others (a weight change, a BMI) is so on every row (see
        # _formulas); modelled too, like a twin
        self.formulas_ = find_formulas(frame, modelled, self.twins_)
        # a column blank by design where a category says so (a year of death for the
        # living) is blank exactly there (see _gates)
        self.gates_ = find_gates(frame, modelled, self.twins_)
        # pairs of categories never recorded together (a never-smoker smoking 20 a day) stay
        # apart (see _exclusions)
        self.exclusions_ = find_exclusions(frame, modelled, self.twins_, self.gates_,
                                           self.formulas_)
        # a column never above another on a training row stays so (see _orders)
        self.orders_ = find_orders(frame, modelled)
        # weights told to the nearest 5 pounds heap there as often as in training (see
        # _heaps); columns written from others follow their sources
        self.heaps_ = find_heaps(frame, modelled, [*(t.column for t in self.twins_),
                                                   *(f.column for f in self.formulas_)])
        self._fit(frame, modelled, make_rng(random_state))
        self.schema_ = modelled
        self.n_train_rows_ = len(frame)
        self._hash_key_ = secrets.token_hex(8)
        hashes = row_hashes(restore_table(frame, modelled), modelled, self._hash_key_)
        self._train_hashes_, self.copy_rule_ = copy_check(hashes)
        return self

    def sample(self, n: int, *, conditions: Mapping[str, Any] | pd.DataFrame | None = None,
               random_state: RandomState = 0, allow_copies: bool = False) -> pd.DataFrame:
        """Draw ``n`` synthetic records.

        Parameters
        ----------
        n : int
            Number of rows, positive.
        conditions : mapping or DataFrame, optional
            Fixed values: a mapping ``{column: value}`` applied to every row, or a DataFrame of
            ``n`` rows giving each row's values for some columns.
        random_state : int or numpy Generator
            Same seed, same output.
        allow_copies : bool
            Keep records identical to a training record. By default they are rejected and
            resampled, so that a fully synthetic release holds no real record; a record that
            at least ``COMMON_RECORD_MIN_COUNT`` (10) training records share is the exception,
            as it identifies none of them.

        Returns
        -------
        DataFrame
            The modelled columns, in the source's dtypes and precision.
        """
        n = self._check_sample_size(n, "n")
        cond = self._check_conditions(conditions, n)
        return self._sample_without_copies(n, cond, make_rng(random_state), allow_copies)

    def sample_chunks(self, n: int, *, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                      conditions: Mapping[str, Any] | pd.DataFrame | None = None,
                      random_state: RandomState = 0,
                      allow_copies: bool = False) -> Iterator[pd.DataFrame]:
        """Draw ``n`` synthetic records as consecutive frames of at most ``chunk_rows`` rows.

        Memory holds a few chunks at a time, whatever ``n``. Each chunk is drawn as
        :meth:`sample` draws a table (same dtypes, exact copies of training records
        rejected), from its own random stream (the first chunk from ``random_state``'s, the
        others from streams spawned from it), so that two chunks are drawn at once on two
        threads where the generator allows (:attr:`draws_in_threads`): the same seed and
        ``chunk_rows`` give the same chunks, and with ``chunk_rows >= n`` the one chunk
        equals ``sample(n)``. Arguments are checked here, before the first chunk is asked
        for.

        Parameters
        ----------
        n, conditions, random_state, allow_copies
            As for :meth:`sample`; a conditions DataFrame has ``n`` rows, cut into chunks.
        chunk_rows : int
            Rows per chunk, positive.

        Examples
        --------
        >>> from synthmed import get_generator, load_dataset
        >>> data = load_dataset("pbc")
        >>> gen = get_generator("gaussian_copula").fit(data.frame, schema=data.schema)
        >>> [len(c) for c in gen.sample_chunks(250, chunk_rows=100)]
        [100, 100, 50]
        """
        if self.tags.modality != "table":
            raise ParameterError(f"{type(self).__name__} draws whole records over time; "
                                 "sample_chunks is for tables (a row per record): use sample.")
        n = self._check_sample_size(n, "n")
        chunk_rows = self._check_sample_size(chunk_rows, "chunk_rows")
        if isinstance(conditions, pd.DataFrame):
            cond = self._check_conditions(conditions, n)
            one_row = None
        else:  # a mapping is checked once and repeated per chunk, never built for all n rows
            cond = None
            one_row = self._check_conditions(conditions, 1)
        starts = range(0, n, chunk_rows)
        streams = chunk_streams(make_rng(random_state), len(starts))

        def draw(k: int) -> pd.DataFrame:
            start = starts[k]
            size = min(chunk_rows, n - start)
            if cond is not None:
                part = cond.iloc[start:start + size].reset_index(drop=True)
            elif one_row is not None:
                part = one_row.iloc[np.zeros(size, dtype=np.intp)].reset_index(drop=True)
            else:
                part = None
            return self._sample_without_copies(size, part, streams[k], allow_copies)

        if len(streams) < 2 or streams[1] is streams[0] or not self.draws_in_threads:
            # one chunk, or one stream shared by all (a bit generator that cannot spawn)
            return (draw(k) for k in range(len(starts)))
        return drawn_ahead(draw, len(starts), DRAW_THREADS)

    def _sample_without_copies(self, n: int, cond: pd.DataFrame | None,
                               rng: np.random.Generator, allow_copies: bool) -> pd.DataFrame:
        """Draw ``n`` rows, then redraw those identical to a training record."""
        out = self._draw(n, cond, rng)
        if allow_copies:
            return out
        for _ in range(MAX_RESAMPLE_ROUNDS):
            copies = self.copies_of_training(out)
            if not copies.any():
                return out
            idx = np.flatnonzero(copies)
            sub_cond = None if cond is None else cond.iloc[idx].reset_index(drop=True)
            redraw = self._draw(len(idx), sub_cond, rng)
            for col in out.columns:
                out[col] = _replace_rows(out[col], idx, redraw[col])
        if self.copies_of_training(out).any():
            raise DataError(
                f"Could not avoid copying training records after {MAX_RESAMPLE_ROUNDS} rounds: "
                "the model keeps drawing combinations that fewer than "
                f"{COMMON_RECORD_MIN_COUNT} training records share. Add columns, coarsen "
                "fewer, or pass allow_copies=True for a non-public release."
            )
        return out

    def _draw(self, n: int, cond: pd.DataFrame | None, rng: np.random.Generator) -> pd.DataFrame:
        twins, orders = self.twins_, self.orders_
        inner = None if cond is None else source_conditions(cond, twins)
        raw = self._written(n, inner, twins, rng)
        # a broken order is mended, not drawn again: rejection conditions the whole draw on
        # the order, and where the model's joint is loose that moves both columns' marginals
        # (rotterdam, relapse before death: column similarity 0.972 -> 0.951, detection AUC
        # 0.615 -> 0.720; mended, 0.975 and 0.556)
        fixed = () if cond is None else tuple(cond.columns)
        if orders:
            raw = self._computed(put_in_order(raw, orders, self.schema_, fixed), fixed)
        if inner is not None or orders or self.gates_ or self.exclusions_:
            # drawn again: rows whose source left a group or band asked for, the few a mend
            # could not put in order (a tie written apart by the two columns' precisions),
            # those that left blank a column their category says is recorded, and those in
            # a pair of categories no drawn row could lend an allowed value to
            for _ in range(MAX_RESAMPLE_ROUNDS):
                bad = disordered(raw, orders, self.schema_)
                if inner is not None:
                    bad |= unmet(raw, inner, twins)
                if self.gates_:
                    bad |= ungated(raw, self.gates_, fixed)
                if self.exclusions_:
                    bad |= excluded(raw, self.exclusions_, fixed)
                rows = np.flatnonzero(bad)
                if not len(rows):
                    break
                again = self._written(
                    len(rows), None if inner is None else inner.iloc[rows].reset_index(drop=True),
                    twins, rng)
                if orders:
                    again = self._computed(put_in_order(again, orders, self.schema_, fixed),
                                           fixed)
                for col in raw.columns:
                    raw[col] = _replace_rows(raw[col], rows, again[col])
        raw = raw[self.schema_.names].reset_index(drop=True)
        if cond is not None:
            for col in cond.columns:
                raw[col] = cond[col].to_numpy()
        return restore_table(raw, self.schema_)

    def _written(self, n: int, inner: pd.DataFrame | None, twins: Sequence[Twin],
                 rng: np.random.Generator) -> pd.DataFrame:
        """The subclass's draw under ``inner`` conditions, made exact (a soft conditioning
        such as ARF's), with the written columns written from their sources."""
        raw = self._sample(n, inner, rng).reset_index(drop=True)
        if inner is not None:
            for col in inner.columns:
                if not any(t.column == col and not t.invertible for t in twins):
                    raw[col] = inner[col].to_numpy()
        fixed = () if inner is None else tuple(inner.columns)
        raw = heap_values(raw, self.heaps_, rng, fixed) if self.heaps_ else raw
        raw = write_twins(raw, twins) if twins else raw
        raw = self._computed(raw, fixed)
        raw = close_gates(raw, self.gates_, rng, fixed) if self.gates_ else raw
        return mend_exclusions(raw, self.exclusions_, rng, fixed) if self.exclusions_ else raw

    def _computed(self, raw: pd.DataFrame, fixed: tuple[str, ...]) -> pd.DataFrame:
        """``raw`` with the columns computed from others computed from the drawn sources
        (one given as a condition, in ``fixed``, left as given)."""
        if not self.formulas_:
            return raw
        return write_formulas(raw, self.formulas_, self.schema_, fixed)

    def copies_of_training(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the rows of ``frame`` identical to a training record that fewer
        than ``COMMON_RECORD_MIN_COUNT`` training records share (a row equal to a record
        shared by more identifies none of them)."""
        if not self.is_fitted:
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet.")
        hashes = row_hashes(frame[self.schema_.names], self.schema_, self._hash_key_)
        return sorted_contains(self._train_hashes_, hashes)

    def _check_conditions(self, conditions: Mapping[str, Any] | pd.DataFrame | None,
                          n: int) -> pd.DataFrame | None:
        if conditions is None:
            return None
        if not self.tags.supports_conditioning:
            raise ParameterError(f"{type(self).__name__} does not support conditions.")
        if isinstance(conditions, pd.DataFrame):
            if len(conditions) != n:
                raise ParameterError(
                    f"`conditions` has {len(conditions)} rows but n={n}; give one row per sample."
                )
            cond = conditions.reset_index(drop=True)
        elif isinstance(conditions, Mapping):
            cond = pd.DataFrame({k: [v] * n for k, v in conditions.items()})
        else:
            raise ParameterError(
                f"`conditions` must be a mapping or a DataFrame, got {type(conditions).__name__}."
            )
        unknown = [c for c in cond.columns if c not in self.schema_]
        if unknown:
            raise ParameterError(
                f"Conditions name columns the model does not know: {', '.join(map(str, unknown))}. "
                f"Modelled columns: {', '.join(self.schema_.names)}."
            )
        bad = [c for c in cond.columns if not self._known_condition(c, cond[c])]
        if bad:
            raise ParameterError(
                f"Conditions give values never seen in training for: {', '.join(bad)}."
            )
        cond = coerce_table(cond, self.schema_.subset(list(cond.columns)), validate=False)
        source_conditions(cond, self.twins_)  # contradictions fail here
        return cond

    def _known_condition(self, column: str, values: pd.Series) -> bool:
        """:meth:`_condition_values_known`, a written column's values read as its source's."""
        twin = next((t for t in self.twins_ if t.column == column), None)
        if twin is None or not twin.invertible:  # a group or band is modelled as it is
            return self._condition_values_known(column, values)
        source = twin.read(values)
        if (source.isna() & values.notna()).any():
            return False
        return self._known_condition(twin.source, source)

    def _condition_values_known(self, column: str, values: pd.Series) -> bool:
        """Subclasses restrict conditions on categories to the categories they learned.

        ``values`` are the user's raw values, before coercion to canonical dtypes.
        """
        return True

    # ------------------------------------------------------------- subclass API
    @abstractmethod
    def _fit(self, frame: pd.DataFrame, schema: TableSchema, rng: np.random.Generator) -> None:
        """Learn from ``frame`` (modelled columns only, canonical dtypes)."""

    @abstractmethod
    def _sample(self, n: int, conditions: pd.DataFrame | None,
                rng: np.random.Generator) -> pd.DataFrame:
        """Return ``n`` rows in canonical dtypes; rows must honour ``conditions``."""

    def _saved_fitted_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return (
            {"n_train_rows": self.n_train_rows_, "hash_key": self._hash_key_,
             "copy_rule": self.copy_rule_,
             "twins": [t.to_meta() for t in self.twins_],
             "orders": [o.to_meta() for o in self.orders_],
             "formulas": [f.to_meta() for f in self.formulas_],
             "gates": [g.to_meta() for g in self.gates_],
             "exclusions": [e.to_meta() for e in self.exclusions_],
             "heaps": [h.to_meta() for h in self.heaps_]},
            {"__train_hashes": self._train_hashes_},
        )

    @classmethod
    def _from_saved(cls, doc: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Self:
        gen = cls(**doc["params"])
        gen._check_params()
        gen.schema_ = TableSchema.from_dict(doc["schema"])
        gen.n_train_rows_ = int(doc["n_train_rows"])
        gen._hash_key_ = str(doc["hash_key"])
        gen.copy_rule_ = dict(doc.get("copy_rule") or {"redrawn": "every training record"})
        gen._train_hashes_ = np.unique(np.asarray(arrays["__train_hashes"], dtype=np.uint64))
        # models saved before twins were found model every column
        gen.twins_ = [Twin.from_meta(m) for m in doc.get("twins") or []]
        gen.orders_ = [Order.from_meta(m) for m in doc.get("orders") or []]
        gen.formulas_ = [Formula.from_meta(m) for m in doc.get("formulas") or []]
        gen.gates_ = [Gate.from_meta(m) for m in doc.get("gates") or []]
        gen.exclusions_ = [Exclusion.from_meta(m) for m in doc.get("exclusions") or []]
        gen.heaps_ = [Heap.from_meta(m) for m in doc.get("heaps") or []]
        gen._set_state(doc["state"], arrays)
        return gen


def load_generator(path: str | Path) -> BaseModel:
    """Load a model saved with :meth:`BaseGenerator.save`; never runs code from the file.

    Raises
    ------
    ModelFileError
        The folder is missing, or its files are corrupt or of another format.
    """
    from synthmed.generators.registry import generator_class

    folder = Path(path)
    meta_file, array_file = folder / "model.json", folder / "arrays.npz"
    if not meta_file.is_file() or not array_file.is_file():
        raise ModelFileError(
            f"No saved model in {str(folder)!r}: expected model.json and arrays.npz there."
        )
    try:
        doc = json.loads(meta_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{str(meta_file)!r} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"{str(meta_file)!r} is not a synthmed model file.")
    if doc.get("format_version") != MODEL_FORMAT_VERSION:
        raise ModelFileError(
            f"Model format version {doc.get('format_version')!r} is not supported "
            f"(this synthmed reads version {MODEL_FORMAT_VERSION})."
        )
    cls = generator_class(str(doc.get("generator")))
    try:
        with np.load(array_file, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        return cls._from_saved(doc, arrays)
    except ModelFileError:  # a model that says itself why it cannot be read (an old version)
        raise
    except (ValueError, KeyError, TypeError, IndexError, OSError) as exc:
        raise ModelFileError(f"The model in {str(folder)!r} is corrupt: {exc}") from None


def row_hashes(frame: pd.DataFrame, schema: TableSchema, key: str) -> np.ndarray:
    """Keyed 64-bit hash of each row, after putting values in one canonical form.

    Used to reject synthetic rows identical to a training row; the key makes the stored hashes
    useless for matching against another table. The value equals
    ``pd.util.hash_pandas_object(canonical_frame, index=False, hash_key=...)`` (so hashes
    saved with older models still match) but is computed column by column, hashing each
    distinct category once: at 100,000 rows x 30 columns this is several times faster.
    """
    hash_key = key.ljust(16, "0")[:16]
    columns = [_column_hash(frame[name], schema.column(name), hash_key)
               for name in frame.columns]
    return combine_hash_arrays(iter(columns), len(columns))


def repeated_share(counts: np.ndarray) -> float:
    """Share of records equal to another record, from each distinct record's count: how
    often a fresh record would equal one of them by chance (high on a few coarse columns)."""
    total = int(counts.sum())
    return float(counts[counts > 1].sum() / total) if total else 0.0


def copy_check(hashes: np.ndarray, unit: str = "row") -> tuple[np.ndarray, dict[str, Any]]:
    """The records to keep out of a synthetic table, and why (``hashes``: one per real record,
    a ``unit`` such as a row or a trajectory).

    Returns the sorted distinct hashes of the records fewer than ``COMMON_RECORD_MIN_COUNT``
    share (none when ``SATURATED_MATCH_SHARE`` or more of the records equal another) and the
    rule in words, as recorded in ``copy_rule_``.
    """
    values, counts = np.unique(hashes, return_counts=True)
    share = repeated_share(counts)
    units = unit[:-1] + "ies" if unit.endswith("y") else unit + "s"
    if share >= SATURATED_MATCH_SHARE:
        return values[:0], {
            "redrawn": "none", f"training_{units}_equal_to_another": round(share, 3),
            "reason": f"{share:.0%} of training {units} equal another training {unit}, so "
                      f"fresh patients equal training {units} about as often: equality is no "
                      "sign of copying here (the exact-copy and distance gates judge it)"}
    return values[counts < COMMON_RECORD_MIN_COUNT], {
        "redrawn": f"{units} shared by fewer than {COMMON_RECORD_MIN_COUNT} training {units}",
        f"training_{units}_equal_to_another": round(share, 3),
        "reason": f"a {unit} shared by {COMMON_RECORD_MIN_COUNT} or more identifies none of them"}


def sorted_contains(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_values)`` by binary search in the sorted (unique) array.

    ``np.isin`` sorts both arrays on every call: with a million training hashes that was most
    of the time of sampling a 100,000-row chunk; a binary search is ~50 times cheaper.
    """
    if len(sorted_values) == 0:
        return np.zeros(len(values), dtype=bool)
    pos = np.searchsorted(sorted_values, values)
    return sorted_values[np.minimum(pos, len(sorted_values) - 1)] == values


_MISSING_TOKEN = "\x00NA"


def _column_hash(series: pd.Series, col: ColumnSchema, hash_key: str) -> np.ndarray:
    if col.kind in ("numeric", "integer"):
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float).round(9)
    elif col.kind == "datetime":
        stamps = read_dates(series, col.date_format)
        if getattr(stamps.dt, "tz", None) is not None:  # a zoned source: its UTC wall times
            stamps = stamps.dt.tz_convert(None)
        values = np.where(stamps.notna(), stamps.to_numpy().view("int64"), -1)
    else:
        # categories, booleans, codes: hash each distinct value's text once, look up by code
        if isinstance(series.dtype, pd.CategoricalDtype):
            codes, labels = series.cat.codes.to_numpy(), series.cat.categories
        elif series.dtype != object or pd.api.types.infer_dtype(series) == "string":
            codes, labels = pd.factorize(series)
        else:  # mixed Python objects: 1, 1.0 and True are equal keys but different texts
            text = series.astype(object).where(series.notna(), _MISSING_TOKEN).astype(str)
            return pd.util.hash_array(text.to_numpy(dtype=object), hash_key=hash_key)
        texts = np.asarray(labels.astype(object)).astype(str).astype(object)
        lookup = pd.util.hash_array(np.append(texts, _MISSING_TOKEN).astype(object),
                                    hash_key=hash_key)
        return lookup[codes]  # code -1 (missing) takes the last entry
    return pd.util.hash_array(values, hash_key=hash_key)


def _replace_rows(series: pd.Series, idx: np.ndarray, new: pd.Series) -> pd.Series:
    if series.dtype == "category":
        values = series.astype(object).to_numpy()
    else:
        values = series.to_numpy(copy=True)
    values[idx] = new.astype(object).to_numpy() if values.dtype == object else new.to_numpy()
    return pd.Series(values, name=series.name).astype(series.dtype)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Not JSON serialisable: {type(value).__name__}")
