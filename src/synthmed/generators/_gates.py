"""Columns recorded only where a category says so: a year of death for the dead, pregnancy
outcomes for women with a previous pregnancy.

Clinical tables leave a column blank by design where it does not apply. In causaldata's
NHEFS export the year of death is recorded for every participant who died and for no one
else; in medicaldata's OPT trial the earlier pregnancies' outcomes (live preterm births,
stillbirths...) only where a previous pregnancy is recorded. A generator models the blanks
as a pattern like any other and breaks the rule on some rows: the forest gave 10 % of its
NHEFS rows a year of death without a death or a death without a year, and 16-18 % of its
OPT rows preterm births without a previous pregnancy or the reverse (the copula 6-7 %, the
neural AR 15-21 %). A clinician discards such a row at once.

Lab panels are measured together: asaur's hepatoCellular records 25 immune-cell counts and
ratios on the same 101 of 227 patients, and the Bayesian network drew each column's blanks
on its own (a classifier told its rows from real ones at AUC 0.98).

So :class:`~synthmed.generators.base.BaseGenerator` finds, at fit, each column whose blanks
follow the levels of a categorical or yes/no column (its *source*, missing counted as a
level of its own), or else the blanks of another column (recorded on the same rows, or on
the others): on every training row of some levels it is recorded, on every row of the
others blank, where chance would give that less often than ``CHANCE`` (``MIN_ROWS`` rows
of each level at least). After each draw the column is blanked where its source's level
says so, and a row that drew it blank where the level says recorded takes the value of
another drawn row of that level (a value cannot be made up; drawing such rows again
favoured the levels that need no value). Rows no drawn row can lend to are drawn again. The
target and columns written from another (``_twins``) are never gated; a column given as a
condition is left as given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthmed.generators._twins import Twin
from synthmed.schema import TableSchema

__all__ = ["MISSING_KEY", "Gate", "close_gates", "find_gates", "gates_note", "label_key",
           "label_keys", "lend", "ungated"]

#: a pattern of blanks this unlikely by chance (each level of the source all recorded or
#: all blank, the column's blanks drawn at random) is a rule
CHANCE = 1e-6
#: each level of the source on at least this many training rows
MIN_ROWS = 5
_LABEL_KINDS = ("categorical", "boolean")
#: the key of a missing source value (JSON has no NaN)
MISSING_KEY = "__missing__"
#: a presence gate's key of a recorded source value
_RECORDED = "recorded"


@dataclass(frozen=True)
class Gate:
    """``column`` is recorded exactly where ``source`` takes one of ``recorded`` (plain
    values; ``None`` for a missing source) and blank elsewhere; with ``presence``, where
    ``source`` is recorded (``recorded == ("recorded",)``) or blank (``(None,)``)."""

    column: str
    source: str
    recorded: tuple[Any, ...]
    presence: bool = False

    def levels(self, source: pd.Series) -> np.ndarray:
        """The level of each drawn ``source`` value, as text."""
        return _presence(source) if self.presence else label_keys(source)

    def wanted(self, source: pd.Series, levels: np.ndarray | None = None) -> np.ndarray:
        """Where the column should be recorded, given the drawn ``source`` values (or their
        ``levels``, already read)."""
        keys = np.asarray([MISSING_KEY if v is None else label_key(v)
                           for v in self.recorded],
                          dtype=object)
        return np.isin(self.levels(source) if levels is None else levels, keys)

    def to_meta(self) -> dict[str, Any]:
        return {"column": self.column, "source": self.source, "recorded": list(self.recorded),
                "presence": self.presence}

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> Gate:
        return cls(str(meta["column"]), str(meta["source"]), tuple(meta["recorded"]),
                   bool(meta.get("presence")))


def _presence(series: pd.Series) -> np.ndarray:
    """Whether each value is recorded, as a label column's keys."""
    return np.where(series.notna().to_numpy(), _RECORDED, MISSING_KEY).astype(object)


def label_keys(series: pd.Series) -> np.ndarray:
    """A label column's values as text, missing as ``MISSING_KEY``: 1 and 1.0 and "1" alike,
    as a value written to a CSV file and read back is."""
    codes, uniques = pd.factorize(series.astype(object), use_na_sentinel=True)
    texts = np.asarray([label_key(v) for v in uniques] + [MISSING_KEY], dtype=object)
    return texts[codes]  # a missing value's code -1 takes the last


def label_key(value: Any) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    return str(value)


def find_gates(frame: pd.DataFrame, schema: TableSchema,
               twins: Sequence[Twin] = ()) -> list[Gate]:
    """The columns of ``frame`` (canonical dtypes) whose blanks follow a label column's levels
    (see the module's notes); the target, then the label columns in table order, are tried
    as sources. A gated column is no one's source and a source is not gated: columns blank
    on the same rows (pbc's trial measures, blank for the 106 patients outside the trial)
    are all gated by the first one's source, not by each other, where the blanks of either
    would win and the blanks would grow."""
    written = {t.column for t in twins}
    sources = [c for c in frame.columns
               if schema.column(c).kind in _LABEL_KINDS and c not in written]
    sources.sort(key=lambda c: c != schema.target)
    keys = {c: _Levels.of(label_keys(frame[c])) for c in sources}
    present = {c: frame[c].notna().to_numpy() for c in frame.columns}
    blanks = {c: np.packbits(~present[c]).tobytes() for c in frame.columns}
    shown = {c: np.packbits(present[c]).tobytes() for c in frame.columns}
    # a column's presence as a source's levels: 0 blank, 1 recorded
    presences = {c: _Levels(np.asarray([MISSING_KEY, _RECORDED], dtype=object),
                            present[c].astype(np.intp),
                            np.bincount(present[c].astype(np.intp), minlength=2))
                 for c in frame.columns}
    found: list[Gate] = []
    gated: set[str] = set()
    used: set[str] = set()
    for column in frame.columns:
        if column == schema.target or column in written or column in used:
            continue
        recorded = present[column]
        share = recorded.mean()
        if share in (0.0, 1.0):
            continue
        # a category's levels first, then another column blank on the same rows (a lab
        # panel measured together) or on the others
        together = [c for c in frame.columns if c != column and c not in written
                    and blanks[c] in (blanks[column], shown[column])]
        tries = [(c, keys[c], False) for c in sources] + [
            (c, presences[c], True) for c in together]
        for source, source_keys, presence in tries:
            if source == column or source in gated:
                continue
            gate = _gate(column, source, recorded, share, source_keys, frame[source], presence)
            if gate is not None:
                found.append(gate)
                gated.add(column)
                used.add(source)
                break
    return found


@dataclass(frozen=True)
class _Levels:
    """A source's levels (text keys), each row's level and each level's row count."""

    keys: np.ndarray
    codes: np.ndarray
    rows: np.ndarray

    @classmethod
    def of(cls, keys: np.ndarray) -> _Levels:
        levels, codes = np.unique(keys, return_inverse=True)
        return cls(levels, codes, np.bincount(codes, minlength=len(levels)))


def _gate(column: str, source: str, recorded: np.ndarray, share: float, levels: _Levels,
          values: pd.Series, presence: bool = False) -> Gate | None:
    rows = levels.rows
    if len(rows) < 2 or rows.min() < MIN_ROWS:
        return None
    shown = np.bincount(levels.codes, weights=recorded, minlength=len(rows))
    if not np.all((shown == 0) | (shown == rows)):
        return None
    # each level all recorded or all blank by chance, the blanks drawn at random
    log_chance = float(np.sum(np.logaddexp(rows * np.log(share), rows * np.log1p(-share))))
    if log_chance > np.log(CHANCE):
        return None
    open_codes = np.flatnonzero(shown == rows)
    if presence:
        return Gate(column, source, tuple(None if levels.keys[i] == MISSING_KEY else _RECORDED
                                          for i in open_codes), presence=True)
    first = np.unique(levels.codes, return_index=True)[1]  # a row of each level
    recorded_values = tuple(None if levels.keys[i] == MISSING_KEY
                            else _plain(values.iloc[first[i]]) for i in open_codes)
    return Gate(column, source, recorded_values)


def close_gates(frame: pd.DataFrame, gates: Sequence[Gate], rng: np.random.Generator,
                fixed: Iterable[str] = ()) -> pd.DataFrame:
    """``frame`` with each gated column blanked where its source's level says blank, and,
    where the level says recorded but the column was drawn blank, given the value of another
    drawn row of the same level, at random (a column given as a condition, in ``fixed``,
    left as given). Drawing such rows again instead favoured rows whose level says blank
    (they never need it): it grew the blank levels' share, and OPT's copula rows were told
    from real ones at 0.629, against 0.592 lending and 0.576 without the rule."""
    held = set(fixed)
    out = frame.copy()
    for gate in gates:
        if gate.column in held:
            continue
        levels = gate.levels(out[gate.source])
        wanted = gate.wanted(out[gate.source], levels)
        column = out[gate.column].mask(~wanted)
        recorded = column.notna().to_numpy()
        lacking = wanted & ~recorded
        out[gate.column] = lend(column, levels, lacking, recorded, rng) if lacking.any() \
            else column
    return out


def lend(column: pd.Series, levels: np.ndarray, needy: np.ndarray, able: np.ndarray,
         rng: np.random.Generator) -> pd.Series:
    """``column`` with each ``needy`` row given the value of a random ``able`` row of the
    same level (a gate's source level, an exclusion's anchor level); a level with no able
    row is left as it is. Lending keeps the levels' shares, where drawing the rows again
    would favour the levels that need nothing."""
    out = column.copy()
    for level in np.unique(levels[needy]):
        same = levels == level
        donors = np.flatnonzero(same & able)
        rows = np.flatnonzero(needy & same)
        if len(donors):
            out.iloc[rows] = column.iloc[rng.choice(donors, len(rows))].to_numpy()
    return out


def ungated(frame: pd.DataFrame, gates: Sequence[Gate], fixed: Iterable[str] = ()) -> np.ndarray:
    """Rows of ``frame`` with a gated column blank where its source's level says it is
    recorded: those no drawn row of the level could lend a value to (to be drawn again)."""
    held = set(fixed)
    bad = np.zeros(len(frame), dtype=bool)
    for gate in gates:
        if gate.column not in held:
            bad |= gate.wanted(frame[gate.source]) & frame[gate.column].isna().to_numpy()
    return bad


def gates_note(gates: Sequence[Gate]) -> str | None:
    """One sentence naming the gated columns and their sources (names only: the levels are
    values of the data)."""
    if not gates:
        return None
    parts = [f"{g.column!r} by {g.source!r}" + (
        " (recorded on the same rows)" if g.presence and g.recorded == (_RECORDED,) else
        " (recorded where it is blank)" if g.presence else "") for g in gates]
    return ("Recorded only where another column's value says so, as on every training row "
            f"(blank elsewhere): {'; '.join(parts)}.")


def _plain(value: Any) -> Any:
    value = value.item() if isinstance(value, np.generic) else value
    return value if isinstance(value, bool | int | float | str) else str(value)
