"""Columns computed from others: a weight change beside the two weights, a BMI, a total score.

Exports carry derived columns: causaldata's NHEFS records ``wt82_71 = wt82 - wt71``, the
smart-pill study a mean amplitude equal to the amplitudes' sum over their count, a cohort
with delayed entry an age at exit equal to the age at entry plus the time followed, a table
of vitals a BMI of weight / height^2, a Glasgow score the sum of its three parts. A generator
that models such a column beside its sources draws it apart from them: the NHEFS weight
change alone told synthetic rows from real ones at AUC 0.60, and a clinician who adds up the
two weights sees it at once.

So :class:`~synthmed.generators.base.BaseGenerator` finds, at fit, every number column that
is an exact function of at most ``MAX_SOURCES`` other number or datetime columns, either

* linear: ``column = intercept + sum(coef * source)`` (a sum, a difference, a unit
  conversion, days between two dates), or
* a product of powers: ``column = exp(intercept) * prod(source ** coef)`` (a ratio, a BMI),
  for columns positive on every training row,

exact to the columns' recorded precision on all but ``EXCEPTIONS`` of the training rows that
record them all, and writes it from its drawn sources after each draw, as they will be
written (the column is still modelled, as a twin is: see ``_twins``).

Where it is found: every set of up to ``MAX_SOURCES`` candidate sources is fitted by least
squares at once, from the columns' cross-products on a sample of ``SEARCH_ROWS`` rows; the
sets that explain nearly all of the column's variance are fitted again without their worst
rows (an entry error) and checked on every row, fewest sources first, with the simplest
coefficients that hold (1 and -1 rather than 0.99482 and -0.994701). A relation is trusted
only with ``ROWS_PER_TERM`` rows per coefficient, ``MIN_INFORMATIVE`` rows on which no
column involved takes its commonest value (counts that are mostly zero - babies, parking
spaces, cancellations - add up on most rows by chance), and every source moving the column
by more than the rounding allowed (``MIN_PART``). A categorical column of number codes can
be a source (a Glasgow score's parts). Columns are tried from the last in the table to the
first (a derived column usually follows its sources), and a column written is no one's
source. The target, a sensitive attribute, an identifier or time index, a column written
from another (``_twins``) and one another column is written from are never written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from math import comb
from typing import Any

import numpy as np
import pandas as pd

from synthmed.generators._orders import column_numbers
from synthmed.generators._twins import Twin
from synthmed.schema import ColumnSchema, TableSchema

__all__ = ["Formula", "find_formulas", "formulas_note", "write_formulas"]

#: a column is written from at most this many others
MAX_SOURCES = 3
#: rows needed per coefficient fitted (sources and intercept) to trust a relation
ROWS_PER_TERM = 5
#: and at least this many rows on which no column involved takes its commonest value
MIN_INFORMATIVE = 20
#: share of the rows recording every column involved on which the relation may fail (an
#: entry error in the export)
EXCEPTIONS = 0.005
#: the relation is searched on at most this many rows, then checked on every row
SEARCH_ROWS = 2000
#: a larger table is searched (and its relations checked) on a sample of this many rows,
#: then each relation found is checked on every row
CHECK_ROWS = 50_000
#: a set of sources is checked when it leaves at most this share of the column's variance
#: unexplained (rounding leaves some, and one entry error of 100 months in 462 rows, as in
#: KMsurv's channing, leaves a few percent of a short follow-up's variance)
UNEXPLAINED = 0.05
#: each source's part in the relation (its coefficient times its spread) is at least this
#: many times the rounding the relation is allowed: else it only soaks up rounding (on
#: DAAG's cfseal, 24 rows, 0.0003 x stomach weight, spread 0.16, "explained" kidneys
#: weighed apart from their sum, allowed 0.15; a Glasgow part's spread is 1.1 against 0.51)
MIN_PART = 2
#: at most this many sets of each size are checked, the closest first
MAX_CHECKED = 5
#: sets of sources of one size fitted for a column at most (a wide table's triples are not)
MAX_SETS = 100_000
_NUMBER_KINDS = ("numeric", "integer")
_DAY_NS = 86_400e9


@dataclass(frozen=True)
class Formula:
    """``column`` = ``intercept + sum(coefs * sources)``, or with ``log``
    ``exp(intercept) * prod(sources ** coefs)``; datetime sources in days since 1970."""

    column: str
    sources: tuple[str, ...]
    coefs: tuple[float, ...]
    intercept: float
    log: bool = False

    def compute(self, x: np.ndarray) -> np.ndarray:
        """The column's values for the sources' values ``x`` (rows x sources)."""
        coefs = np.asarray(self.coefs, dtype=float)
        if self.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.exp(self.intercept + np.log(x) @ coefs)
        return self.intercept + x @ coefs

    def to_meta(self) -> dict[str, Any]:
        return {"column": self.column, "sources": list(self.sources),
                "coefs": list(self.coefs), "intercept": self.intercept, "log": self.log}

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> Formula:
        return cls(str(meta["column"]), tuple(str(s) for s in meta["sources"]),
                   tuple(float(c) for c in meta["coefs"]), float(meta["intercept"]),
                   bool(meta.get("log")))

    def describe(self) -> str:
        """The relation in words and symbols (column names and coefficients only)."""
        terms = []
        for coef, source in zip(self.coefs, self.sources, strict=True):
            if self.log:
                terms.append(repr(source) if coef == 1 else f"{source!r}^{_number(coef)}")
            else:
                size = abs(coef)
                sign = "-" if coef < 0 else "+"
                terms.append(f"{sign} " + (repr(source) if size == 1
                                           else f"{_number(size)} * {source!r}"))
        if self.log:
            scale = float(np.exp(self.intercept))
            body = " * ".join(terms)
            return f"{self.column!r} = " + (body if abs(scale - 1) < 1e-9
                                            else f"{_number(scale)} * {body}")
        body = " ".join(terms).removeprefix("+ ")
        if self.intercept:
            body += f" {'-' if self.intercept < 0 else '+'} {_number(abs(self.intercept))}"
        return f"{self.column!r} = {body}"


def find_formulas(frame: pd.DataFrame, schema: TableSchema,
                  twins: Sequence[Twin] = ()) -> list[Formula]:
    """The number columns of ``frame`` (canonical dtypes) computed from others (see the
    module's notes). A column written from another (``twins``) is neither written here nor a
    source (a copy beside its source would share the relation with it); one another column
    is written from can be a source only."""
    if len(frame) > CHECK_ROWS:  # found on a sample, kept where every row holds it
        pick = np.sort(np.random.default_rng(0).choice(len(frame), CHECK_ROWS, replace=False))
        found = find_formulas(frame.iloc[pick].reset_index(drop=True), schema, twins)
        return [f for f in found if _holds(
            f, {n: _numbers(frame[n]) for n in (f.column, *f.sources)},
            {n: _unit(schema.column(n)) for n in (f.column, *f.sources)})]
    copies = {t.column for t in twins}
    read = {t.source for t in twins}
    values = {name: _numbers(frame[name]) for name in frame.columns
              if schema.column(name).kind in (*_NUMBER_KINDS, "datetime", "categorical")
              and name not in copies and "entity_id" not in schema.column(name).roles}
    # a category is a source where it is a number code (a Glasgow score's three parts)
    values = {n: v for n, v in values.items() if len(np.unique(v[np.isfinite(v)])) > 1
              and (schema.column(n).kind != "categorical"
                   or np.isfinite(v).sum() == frame[n].notna().sum())}
    units = {n: _unit(schema.column(n)) for n in values}

    def writable(name: str) -> bool:
        # a column recorded on a grid coarser than its decimals, or whole from some value,
        # would move a computed value off the relation when written (NHEFS's 1982 weight,
        # whole pounds in kg: 0.23 kg off its change plus the 1971 weight)
        col = schema.column(name)
        return (col.kind in (*_NUMBER_KINDS, "datetime") and name != schema.target
                and name not in read and not col.roles & {"sensitive", "time_index"}
                and col.step is None and col.whole_from is None)

    found: list[Formula] = []
    written: set[str] = set()
    for column in reversed(list(values)):
        if column in written or schema.column(column).kind not in _NUMBER_KINDS:
            continue
        pool = [n for n in values if n != column and n not in written]
        formula = _formula(column, pool, values, units)
        if formula is None:
            continue
        used = {s for f in found for s in f.sources}  # a source is never written
        formula = _solved_for_widest(formula, values, units,
                                     lambda n, used=used: writable(n) and n not in used)
        if formula is not None:
            found.append(formula)
            written.add(formula.column)
    return found[::-1]


def _solved_for_widest(formula: Formula, values: Mapping[str, np.ndarray],
                       units: Mapping[str, float], writable: Callable[[str], bool]
                       ) -> Formula | None:
    """The relation solved for the column whose term spreads widest (coefficient times
    spread), among those that may be written; None where none may.

    Any of the columns could be written, and all would agree with each other; but the
    written one takes the spread of the others' joint, which the generator models only
    approximately. Where its own term is the widest, the error is smallest beside its
    spread: NHEFS's weight change computed from the two drawn weights spread wider than the
    real change (KS distance 0.18 for the forest, against 0.03 drawn directly); the 1971
    weight computed from the 1982 weight and the drawn change stays within 0.03 of its drawn
    spread (the 1982 weight, widest, is on a grid of whole pounds: not written)."""
    names = (formula.column, *formula.sources)
    x = np.column_stack([values[n] for n in names])
    x = x[np.isfinite(x).all(axis=1)]
    terms = np.log(x) if formula.log else x
    spread = np.abs(np.asarray((1.0, *formula.coefs))) * terms.std(axis=0)
    for k in np.argsort(-spread, kind="stable"):
        name = names[k]
        if not writable(name):
            continue
        if k == 0:
            return formula
        others = [n for n in names if n != name]
        solved = _exact(name, others, values, units, formula.log)
        if solved is not None:
            return solved
    return None


def _formula(column: str, pool: list[str], values: Mapping[str, np.ndarray],
             units: Mapping[str, float]) -> Formula | None:
    """``column`` as a function of some of ``pool``, or None."""
    y = values[column]
    seen = np.isfinite(y)
    # sources recorded wherever the column is (all but a few rows)
    pool = [n for n in pool if np.isfinite(values[n][seen]).mean() >= 1 - EXCEPTIONS]
    for log in (False, True):
        names = pool
        if log:
            if not (y[seen] > 0).all():
                return None
            names = [n for n in pool if (values[n][np.isfinite(values[n])] > 0).all()]
        if names:
            fitted = _fit(column, names, values, units, log)
            if fitted is not None:
                return fitted
    return None


def _fit(column: str, names: list[str], values: Mapping[str, np.ndarray],
         units: Mapping[str, float], log: bool) -> Formula | None:
    """The fewest of ``names`` that give ``column`` exactly (logs of both with ``log``), or
    None. Every set of up to ``MAX_SOURCES`` sources is fitted at once by least squares from
    the columns' cross-products (a wide table costs sets x a small solve); the sets that
    leave at most ``UNEXPLAINED`` of the column's variance are checked, fewest sources
    first."""
    x = np.column_stack([values[n] for n in names])
    y = values[column]
    rows = np.flatnonzero(np.isfinite(y) & np.isfinite(x).all(axis=1))
    if len(rows) > SEARCH_ROWS:
        rows = np.sort(np.random.default_rng(0).choice(rows, SEARCH_ROWS, replace=False))
    x, y = x[rows], y[rows]
    if log:
        x, y = np.log(x), np.log(y)
    x, y = x - x.mean(axis=0), y - y.mean()
    total = float(y @ y)
    if total <= 0 or len(y) < MIN_INFORMATIVE:
        return None
    gram, cross = x.T @ x, x.T @ y
    for size in range(1, MAX_SOURCES + 1):
        if len(y) < ROWS_PER_TERM * (size + 1) or comb(len(names), size) > MAX_SETS:
            break
        sets = np.array(list(combinations(range(len(names)), size)), dtype=np.intp)
        if not len(sets):
            break
        g = gram[sets[:, :, None], sets[:, None, :]]
        c = cross[sets]
        with np.errstate(all="ignore"):
            ok = np.abs(np.linalg.det(g)) > 1e-12 * np.prod(np.diagonal(g, axis1=1, axis2=2),
                                                            axis=1)
            coefs = np.zeros_like(c)
            coefs[ok] = np.linalg.solve(g[ok], c[ok][..., None])[..., 0]
            explained = np.einsum("ij,ij->i", coefs, c)
        close = np.flatnonzero(ok & (total - explained <= UNEXPLAINED * total))
        for i in close[np.argsort(total - explained[close])][:MAX_CHECKED]:
            formula = _exact(column, [names[j] for j in sets[i]], values, units, log)
            if formula is not None:
                return formula
    return None


def _exact(column: str, sources: list[str], values: Mapping[str, np.ndarray],
           units: Mapping[str, float], log: bool) -> Formula | None:
    """``column`` from ``sources``, kept where it holds on every row (:func:`_holds`) with
    the simplest coefficients that do. Fitted by least squares, then again without the
    rows furthest off (an entry error of 100 months in KMsurv's channing bent the first
    fit), then on the rows within the columns' precision."""
    x = np.column_stack([values[s] for s in sources])
    y = values[column]
    rows = np.isfinite(y) & np.isfinite(x).all(axis=1)
    x, y = x[rows], y[rows]
    xs, ys = (np.log(x), np.log(y)) if log else (x, y)
    keep = np.ones(len(y), dtype=bool)
    for step in range(3):
        mx, my = xs[keep].mean(axis=0), ys[keep].mean()
        coefs = np.linalg.lstsq(xs[keep] - mx, ys[keep] - my, rcond=None)[0]
        formula = Formula(column, tuple(sources), tuple(float(c) for c in coefs),
                          float(my - mx @ coefs), log)
        if step == 0:
            off = np.abs(ys - formula.intercept - xs @ coefs)
            keep = off <= np.quantile(off, 1 - 10 * EXCEPTIONS)
        else:
            keep = _within(formula, x, y, units)
            if keep.mean() < 1 - EXCEPTIONS:
                return None
    for candidate in _simplest_first(formula, xs[keep], ys[keep]):
        if _holds(candidate, values, units):
            return candidate if _each_has_part(candidate, x, y, units) else None
    return None


def _each_has_part(formula: Formula, x: np.ndarray, y: np.ndarray,
                   units: Mapping[str, float]) -> bool:
    """Whether every source moves the column by more than ``MIN_PART`` times the rounding
    the relation is allowed (on the scale of the fit: logs for a product)."""
    coefs = np.abs(np.asarray(formula.coefs))
    source_units = np.asarray([units[s] for s in formula.sources])
    if formula.log:
        part = coefs * np.log(x).std(axis=0)
        allowed = units[formula.column] / np.median(y) + (coefs * source_units
                                                          / np.median(x, axis=0)).sum()
    else:
        part = coefs * x.std(axis=0)
        allowed = units[formula.column] + coefs @ source_units
    return bool((part > MIN_PART * 0.51 * allowed).all())


def _simplest_first(formula: Formula, xs: np.ndarray, ys: np.ndarray) -> Iterator[Formula]:
    """``formula`` with its coefficients rounded to 1, 2 ... 6 significant digits (a power
    first to the nearest half), the intercept fitted again to them (the median offset, on
    the scale of ``xs`` and ``ys``) and rounded alike or dropped, and last as it is: 0.99482
    is 1 where 1 holds, and the note reads so."""
    fitted = np.asarray(formula.coefs)
    for digits in range(1, 7):
        coefs = np.array([float(f"{c:.{digits}g}") for c in fitted])
        if formula.log and digits == 1:
            coefs = np.round(fitted * 2) / 2
        offset = float(np.median(ys - xs @ coefs))
        scale = float(np.exp(offset)) if formula.log else offset
        for kept in dict.fromkeys((1.0 if formula.log else 0.0,
                                   float(f"{scale:.{digits}g}"))):
            intercept = float(np.log(kept)) if formula.log else kept
            yield Formula(formula.column, formula.sources, tuple(float(c) for c in coefs),
                          intercept, formula.log)
    yield formula


def _within(formula: Formula, x: np.ndarray, y: np.ndarray,
            units: Mapping[str, float]) -> np.ndarray:
    """Rows where ``formula`` gives ``y`` from ``x`` to the columns' recorded precision: a
    source off by half its unit moves the result by its coefficient times that (times the
    result over the source, for a product)."""
    computed = formula.compute(x)
    coefs = np.abs(np.asarray(formula.coefs))
    source_units = np.asarray([units[s] for s in formula.sources])
    if formula.log:
        with np.errstate(divide="ignore", invalid="ignore"):
            slack = units[formula.column] + np.abs(computed) * ((coefs * source_units) / x).sum(1)
    else:
        slack = units[formula.column] + coefs @ source_units
    scale = np.abs(y) + np.abs(computed) + 1.0
    return np.abs(y - computed) <= 0.51 * slack + 1e-9 * scale


def _holds(formula: Formula, values: Mapping[str, np.ndarray],
           units: Mapping[str, float]) -> bool:
    """Whether ``formula`` is exact on all but ``EXCEPTIONS`` of the rows recording every
    column involved, ``MIN_INFORMATIVE`` of them informative (no column involved at its
    commonest value)."""
    x = np.column_stack([values[s] for s in formula.sources])
    y = values[formula.column]
    rows = np.isfinite(y) & np.isfinite(x).all(axis=1)
    x, y = x[rows], y[rows]
    if len(y) < MIN_INFORMATIVE:
        return False
    exact = _within(formula, x, y, units)
    if exact.mean() < 1 - EXCEPTIONS:
        return False
    involved = np.column_stack([y, x])
    informative = (involved != _commonest(involved)).all(axis=1) & exact
    return int(informative.sum()) >= MIN_INFORMATIVE


def _commonest(table: np.ndarray) -> np.ndarray:
    """Each column's commonest value."""
    out = np.empty(table.shape[1])
    for j in range(table.shape[1]):
        uniques, counts = np.unique(table[:, j], return_counts=True)
        out[j] = uniques[counts.argmax()]
    return out


def _unit(col: ColumnSchema) -> float:
    """The size of a recorded step of ``col``: 1 for whole numbers and dates, ``10 **
    -decimals`` for a number kept to so many decimals, 0 for unrounded numbers, times and
    codes (a code is exact)."""
    if col.kind == "integer":
        return 1.0
    if col.kind == "categorical":
        return 0.0
    if col.kind == "datetime":
        return 1.0 if col.date_format and "%H" not in col.date_format else 0.0
    return 0.0 if col.decimals is None else 10.0 ** -col.decimals


def _numbers(series: pd.Series, col: ColumnSchema | None = None) -> np.ndarray:
    """A number, datetime or number-coded column as floats (datetimes in days since 1970),
    NaN where missing (or not a number); with ``col``, as the source records its values.
    ``_orders.column_numbers`` in days rather than nanoseconds: least squares mixes them
    with small numbers."""
    recorded = None if col is None or col.kind == "categorical" else col
    values = column_numbers(series, recorded)
    return values / _DAY_NS if pd.api.types.is_datetime64_any_dtype(series) else values


def write_formulas(frame: pd.DataFrame, formulas: Sequence[Formula], schema: TableSchema,
                   fixed: Iterable[str] = ()) -> pd.DataFrame:
    """``frame`` with each formula's column written from its sources, as the source records
    them, on the rows where every source is recorded (elsewhere the drawn value stays). A
    column given as a condition (``fixed``) is left as given."""
    out = frame.copy()
    held = set(fixed)
    for formula in formulas:
        if formula.column in held:
            continue
        x = np.column_stack([_numbers(out[s], schema.column(s)) for s in formula.sources])
        ok = np.isfinite(x).all(axis=1) & ((x > 0).all(axis=1) if formula.log else True)
        drawn = _numbers(out[formula.column])
        values = np.where(ok, formula.compute(np.where(ok[:, None], x, 1.0)), drawn)
        if schema.column(formula.column).kind == "datetime":  # days since 1970 back to times
            stamps = np.where(np.isfinite(values), np.round(values * _DAY_NS), 0).astype(np.int64)
            values = pd.Series(stamps.astype("datetime64[ns]")).where(np.isfinite(values))
        out[formula.column] = values
    return out


def formulas_note(formulas: Sequence[Formula]) -> str | None:
    """One sentence naming the columns computed from others (column names and coefficients
    only, no patient value)."""
    if not formulas:
        return None
    return ("Computed from other columns after each draw, as on every training row (to the "
            f"recorded precision): {'; '.join(f.describe() for f in formulas)}.")


def _number(value: float) -> str:
    return f"{value:.6g}"
