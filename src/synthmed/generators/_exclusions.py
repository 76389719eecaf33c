"""Pairs of categories never recorded together: a never-smoker who smokes 20 a day.

Clinical exports answer one question in several columns: mosaicData's Gestation records
whether the mother smokes (never, now, until this pregnancy, once), since when (never
smoked, still smokes, during this pregnancy, 1-2 years ago...) and how much (never, 1-4 a
day...). On every training row a never-smoker smoked "never" and "never smoked"; a 15-year-old
(openintro's yrbss) is in grade 9 or 10, never 12. A generator models each pair's association,
not its empty cells: the forest put 32 % of its Gestation rows in a cell no real row is in,
the copula 3 %, the network 1 %. A clinician discards such a row at once, and a classifier
learns the cells.

So :class:`~synthmed.generators.base.BaseGenerator` finds, at fit, each pair of label
columns (categorical or yes/no, at most ``MAX_LEVELS`` levels, missing a level of its own)
with a cell that holds no training row where independence would put so many there that an
empty cell has a chance below ``CHANCE`` (``-log(CHANCE)``, 13.8, expected rows). After each
draw, a row in such a cell keeps its *anchor* (the target, a sensitive attribute, else the
column of fewer levels) and takes the other column's value from another drawn row of the
same anchor level whose pair is allowed (lending, as for the gates: drawing such rows again
would favour the anchor levels whose rows are rarely in an empty cell). Rows no drawn row can
lend to are drawn again. A column written from another (``_twins``), a gated column, a
column another rule reads (a twin's, gate's or formula's source), the target and a
sensitive attribute are anchors only, never mended; a column given as a condition is left
as given (its partner is mended instead).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from synthmed.generators._formulas import Formula
from synthmed.generators._gates import Gate, label_keys, lend
from synthmed.generators._twins import Twin
from synthmed.schema import TableSchema

__all__ = ["Exclusion", "excluded", "exclusions_note", "find_exclusions", "mend_exclusions"]

#: an empty cell this unlikely under independence is a rule
CHANCE = 1e-6
#: label columns of more levels (missing included) are not searched
MAX_LEVELS = 50
#: passes of the mending over every pair (a value lent for one pair can land in another's
#: empty cell; rows still in one after these are drawn again)
PASSES = 2
_LABEL_KINDS = ("categorical", "boolean")


@dataclass(frozen=True)
class Exclusion:
    """No row holds ``anchor`` = ``pairs[i][0]`` with ``column`` = ``pairs[i][1]`` (label
    keys: :func:`~synthmed.generators._gates.label_keys`)."""

    anchor: str
    column: str
    pairs: tuple[tuple[str, str], ...]

    def to_meta(self) -> dict[str, Any]:
        return {"anchor": self.anchor, "column": self.column,
                "pairs": [list(p) for p in self.pairs]}

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> Exclusion:
        return cls(str(meta["anchor"]), str(meta["column"]),
                   tuple((str(a), str(b)) for a, b in meta["pairs"]))


def _in_cells(a: np.ndarray, b: np.ndarray, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    """Whether each row's keys ``(a, b)`` are one of ``pairs``, through a table of the
    pairs' levels (a hash lookup per row, no pair built per row)."""
    first = pd.Index(sorted({x for x, _ in pairs}))
    second = pd.Index(sorted({y for _, y in pairs}))
    table = np.zeros((len(first) + 1, len(second) + 1), dtype=bool)  # last: other levels
    for x, y in pairs:
        table[first.get_loc(x), second.get_loc(y)] = True
    return table[first.get_indexer(a), second.get_indexer(b)]  # -1 reads the last row


def find_exclusions(frame: pd.DataFrame, schema: TableSchema, twins: Sequence[Twin] = (),
                    gates: Sequence[Gate] = (),
                    formulas: Sequence[Formula] = ()) -> list[Exclusion]:
    """The pairs of label columns of ``frame`` (canonical dtypes) with cells no training row
    is in where chance would put rows (see the module's notes)."""
    # written or read by another rule: an anchor only (mended, it would be overwritten, or
    # leave the other rule's column stale); smoke written from since-when (Gestation) is the
    # anchor of never-smokers' "never" cigarettes a day, which no level of since-when alone
    # holds often enough to show
    fixed = ({t.column for t in twins} | {g.column for g in gates} | {t.source for t in twins}
             | {g.source for g in gates} | {s for f in formulas for s in f.sources})
    # nor is the target or a sensitive attribute mended: releases condition on them
    fixed |= {c.name for c in schema.columns
              if c.name == schema.target or "sensitive" in c.roles}
    levels: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for col in schema.columns:
        if (col.name not in frame.columns or col.kind not in _LABEL_KINDS
                or col.roles & {"entity_id", "time_index"}):
            continue
        keys, codes = np.unique(label_keys(frame[col.name]), return_inverse=True)
        if 2 <= len(keys) <= MAX_LEVELS:
            levels[col.name] = (keys, codes)
    order = {name: i for i, name in enumerate(frame.columns)}

    def rank(name: str) -> tuple[bool, bool, int, int]:  # the anchor ranks first
        roles = schema.column(name).roles
        return (name != schema.target, "sensitive" not in roles, len(levels[name][0]),
                order[name])

    found: list[Exclusion] = []
    least = -np.log(CHANCE)
    for a, b in combinations(levels, 2):
        (keys_a, codes_a), (keys_b, codes_b) = levels[a], levels[b]
        counts = np.bincount(codes_a * len(keys_b) + codes_b,
                             minlength=len(keys_a) * len(keys_b)).reshape(len(keys_a), -1)
        expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / len(frame)
        empty = np.argwhere((counts == 0) & (expected >= least))
        if not len(empty):
            continue
        anchor, column = sorted((a, b), key=rank)
        if column in fixed:
            anchor, column = column, anchor
            if column in fixed:
                continue
        cells = [(keys_a[i], keys_b[j]) for i, j in empty]
        pairs = tuple((str(x), str(y)) if anchor == a else (str(y), str(x)) for x, y in cells)
        found.append(Exclusion(anchor, column, pairs))
    return found


def mend_exclusions(frame: pd.DataFrame, exclusions: Sequence[Exclusion],
                    rng: np.random.Generator, fixed: Iterable[str] = ()) -> pd.DataFrame:
    """``frame`` with each row in an empty cell given the mended column's value of another
    drawn row of its anchor level whose pair is allowed (see the module's notes); rows with
    no such row are left (:func:`excluded` finds them)."""
    held = set(fixed)
    out = frame  # copied on the first mend: most draws need none
    keys = _Keys(out)
    for _ in range(PASSES):
        mended = False
        for rule in exclusions:
            if {rule.anchor, rule.column} <= held:
                continue
            bad = _in_cells(keys[rule.anchor], keys[rule.column], rule.pairs)
            if not bad.any():
                continue
            # a column given as a condition stays: its partner is mended
            keep, mend = ((rule.column, rule.anchor) if rule.column in held
                          else (rule.anchor, rule.column))
            if out is frame:
                out = keys.frame = frame.copy()
            out[mend] = lend(out[mend], keys[keep], bad, ~bad, rng)
            keys.changed(mend)
            mended = True
        if not mended:  # every row already in an allowed cell
            break
    return out


def excluded(frame: pd.DataFrame, exclusions: Sequence[Exclusion],
             fixed: Iterable[str] = ()) -> np.ndarray:
    """Rows of ``frame`` still in an empty cell (to be drawn again); a pair both given as
    conditions is the caller's."""
    held = set(fixed)
    keys = _Keys(frame)
    bad = np.zeros(len(frame), dtype=bool)
    for rule in exclusions:
        if not {rule.anchor, rule.column} <= held:
            bad |= _in_cells(keys[rule.anchor], keys[rule.column], rule.pairs)
    return bad


class _Keys:
    """Each column's label keys, read once (a column is in several pairs) until mended."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame  # a copy with the same values may replace it
        self._keys: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._keys:
            self._keys[name] = label_keys(self.frame[name])
        return self._keys[name]

    def changed(self, name: str) -> None:
        self._keys.pop(name, None)


def exclusions_note(exclusions: Sequence[Exclusion]) -> str | None:
    """One sentence naming the pairs (names and counts only: the cells are values of the
    data)."""
    if not exclusions:
        return None
    parts = [f"{e.column!r} given {e.anchor!r} ({len(e.pairs)} pair"
             f"{'s' if len(e.pairs) > 1 else ''})" for e in exclusions]
    return ("Pairs of categories no training row holds, where chance would show them, are "
            f"kept out of every synthetic row: {'; '.join(parts)}.")
