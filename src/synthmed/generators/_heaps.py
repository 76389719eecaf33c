"""Values people round: a weight told to the nearest 5 or 10 pounds, a blood pressure read to
the nearest 10 mmHg.

Self-reported and hand-read numbers heap on round values (digit preference). In
mosaicData's Gestation table 77 % of the fathers' weights are multiples of 5 pounds and 47 %
of 10, where a smooth spread of values would put 20 % and 10 % there; the mothers' weights
52 % and 29 %. A generator that draws within leaves or bins spreads them out: the forest
gave 33 % and 22 % for the fathers, the copula 68 % and 37 %. A reader sees it at once
(weights of 163 and 147 where the real ones read 160 and 150); a classifier sees it where
the heaps are strong (yrbss's forest rows told apart at AUC 0.728, 0.656 with the rule:
benchmarks/RESULTS.md).

So :class:`~synthmed.generators.base.BaseGenerator` finds, at fit, each number column on a
grid (its step or its decimals) whose nonzero values lie on multiples of 5 steps more often
than a smooth spread would put them there, where chance would give that less often than
``CHANCE`` (a binomial tail; multiples of 10 tested alike; the most frequent value left out,
as an atom of its own may be round). Such a column needs at least
``MIN_DISTINCT`` values and an interquartile range of one multiple or more: a narrow column
(height in inches, 15 values) has no smooth spread to compare with. After each draw, values
off the multiples of 5 are rounded, each with a probability, to the nearest multiple of 10
or of 5 (within the training range, never to zero) so that both shares come back to the
training rows': the heaping people do, done again on values the generator left unrounded.
Zero is left out of the shares: a zero is an atom of its own (no cigarettes), not a rounding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom

from synthmed.schema import TableSchema

__all__ = ["Heap", "find_heaps", "heap_values", "heaps_note"]

#: a share on multiples this unlikely from a smooth spread of values is heaping
CHANCE = 1e-6
#: distinct values a column needs for a smooth spread to compare with
MIN_DISTINCT = 20
#: the heaps looked for, in the column's steps (nested: a multiple of 10 is one of 5)
FIVE, TEN = 5, 10
#: a heap counts where its share is at least this many times a smooth spread's
MIN_EXCESS = 1.5


@dataclass(frozen=True)
class Heap:
    """``column``'s nonzero values lie on multiples of ``5 * unit`` with share ``five`` and on
    multiples of ``10 * unit`` with share ``ten`` (None: not tested, the column too narrow)
    in training, between ``low`` and ``high`` (in units)."""

    column: str
    unit: float
    five: float
    ten: float | None
    low: float
    high: float

    def to_meta(self) -> dict[str, Any]:
        return {"column": self.column, "unit": self.unit, "five": self.five, "ten": self.ten,
                "low": self.low, "high": self.high}

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> Heap:
        ten = meta.get("ten")
        return cls(str(meta["column"]), float(meta["unit"]), float(meta["five"]),
                   None if ten is None else float(ten), float(meta["low"]), float(meta["high"]))


def find_heaps(frame: pd.DataFrame, schema: TableSchema,
               skip: Iterable[str] = ()) -> list[Heap]:
    """The number columns of ``frame`` (canonical dtypes) whose values heap on multiples of 5
    or 10 steps (see the module's notes); columns in ``skip`` (written from others after the
    draw) are not looked at."""
    skipped = set(skip)
    found = []
    for col in schema.columns:
        if col.kind not in ("numeric", "integer") or col.name in skipped:
            continue
        unit = _unit(col.step, 0 if col.kind == "integer" else col.decimals)
        if unit is None:
            continue
        values = pd.to_numeric(frame[col.name], errors="coerce").to_numpy(dtype=float)
        units = np.round(values[np.isfinite(values)] / unit)
        units = units[units != 0]
        distinct, counts = np.unique(units, return_counts=True)
        if len(distinct) < MIN_DISTINCT:
            continue
        spread = float(np.subtract(*np.percentile(units, [75, 25])))
        # a heap is on many round values: one value held by many rows (HELP's days to
        # linkage stop at 365 for 40 % of patients) is an atom, tested without
        spaced = units[units != distinct[np.argmax(counts)]]
        multiples = [m for m in (FIVE, TEN) if spread >= m]
        if not any(_heaped(spaced, m) for m in multiples):
            continue
        shares = {m: float(np.mean(units % m == 0)) for m in multiples}
        found.append(Heap(col.name, unit, shares[FIVE], shares.get(TEN),
                          float(units.min()), float(units.max())))
    return found


def _unit(step: float | None, decimals: int | None) -> float | None:
    if step is not None:
        return float(step)
    return None if decimals is None else 10.0 ** -decimals


def _heaped(units: np.ndarray, multiple: int) -> bool:
    """Whether ``units`` lie on multiples of ``multiple`` far more often than a smooth spread
    puts them there."""
    on = int(np.sum(units % multiple == 0))
    tail = float(binom.logsf(on - 1, len(units), 1 / multiple))
    return bool(on >= MIN_EXCESS * len(units) / multiple and tail < np.log(CHANCE))


def heap_values(frame: pd.DataFrame, heaps: Sequence[Heap], rng: np.random.Generator,
                fixed: Iterable[str] = ()) -> pd.DataFrame:
    """``frame`` with each heaped column's drawn values rounded, at random, to multiples of
    10 or 5 of its unit until its shares are the training rows' (a column given as a
    condition, in ``fixed``, left as given)."""
    held = set(fixed)
    out = frame
    for heap in heaps:
        if heap.column in held:
            continue
        values = pd.to_numeric(out[heap.column], errors="coerce").to_numpy(dtype=float)
        units = np.round(values / heap.unit)
        counted = np.isfinite(units) & (units != 0)
        off = counted & (units % FIVE != 0)
        if not off.any():
            continue
        to_five, to_ten = _rounded(units, FIVE, heap), _rounded(units, TEN, heap)
        five, ten = _chances(units[counted], units[off], heap)
        u = rng.random(len(units))
        moved_ten = off & (u < ten) & np.isfinite(to_ten)
        moved_five = off & ~moved_ten & (u < ten + five) & np.isfinite(to_five)
        if not (moved_ten.any() or moved_five.any()):
            continue
        new = np.where(moved_ten, to_ten, np.where(moved_five, to_five, np.nan)) * heap.unit
        if out is frame:
            out = frame.copy()
        moved = moved_ten | moved_five
        out[heap.column] = _written(out[heap.column], values, moved, new)
    return out


def _rounded(units: np.ndarray, multiple: int, heap: Heap) -> np.ndarray:
    """Each value's nearest multiple, NaN where that is zero or outside the training range."""
    with np.errstate(invalid="ignore"):
        near = np.round(units / multiple) * multiple
        ok = (near != 0) & (near >= heap.low) & (near <= heap.high)
    return np.where(ok, near, np.nan)


def _chances(counted: np.ndarray, off: np.ndarray, heap: Heap) -> tuple[float, float]:
    """The chances that a value off the multiples of 5 is rounded to one of 5 and to one of
    10, so that the drawn shares (``counted``: the nonzero values) become the training
    rows'. A value rounded to 5 lands on a multiple of 10 where it lies within 2.5 of one."""
    n, movable = len(counted), len(off)
    need_five = (heap.five - np.mean(counted % FIVE == 0)) * n / movable
    if need_five <= 0:
        return 0.0, 0.0
    if heap.ten is None:
        return min(need_five, 1.0), 0.0
    need_ten = (heap.ten - np.mean(counted % TEN == 0)) * n / movable
    lands_ten = float(np.mean(np.round(off / FIVE) % 2 == 0))
    five = (need_five - need_ten) / max(1.0 - lands_ten, 1e-9)
    ten = need_five - five
    if ten < 0:  # rounding to five alone brings more tens than wanted: fives right
        five, ten = need_five, 0.0
    elif five < 0:  # more tens wanted than fives: all to tens, fives right
        five, ten = 0.0, need_five
    total = five + ten
    if total > 1:
        five, ten = five / total, ten / total
    return float(five), float(ten)


def _written(series: pd.Series, values: np.ndarray, moved: np.ndarray,
             new: np.ndarray) -> pd.Series | np.ndarray:
    """``series`` with the ``moved`` rows' values ``new``, in its own dtype where it can."""
    merged = np.where(moved, new, values)
    if pd.api.types.is_integer_dtype(series.dtype):
        if isinstance(series.dtype, np.dtype):
            return np.round(merged).astype(series.dtype)
        return pd.Series(np.round(merged), index=series.index).astype(series.dtype)
    return merged


def heaps_note(heaps: Sequence[Heap]) -> str | None:
    """One sentence naming the heaped columns (names and multiples only)."""
    if not heaps:
        return None
    parts = [f"{h.column!r} (multiples of {FIVE * h.unit:g}"
             + ("" if h.ten is None else f" and {TEN * h.unit:g}") + ")" for h in heaps]
    return ("On round values as often as in training (numbers people round, or mostly "
            f"recorded to fewer digits): {'; '.join(parts)}.")
