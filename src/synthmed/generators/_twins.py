"""Columns that another column determines exactly: a code beside its label, a copied column.

Exports often carry one fact twice: ``sex`` and ``sex_code``, ``stage`` and ``stage_num``, or
one measure under two names. A generator that models both draws them apart: on a 400-row table
with a sex and its code, a stage and its number and a copied age, the forest gave 19 % of its
rows a sex that contradicted the code, the copula 4 %, the network 0.2 %, the neural AR 4 %, and
the copied age differed from the age on 48-89 % of rows. A clinician sees that at once, and a
classifier uses it. So :class:`~synthmed.generators.base.BaseGenerator` writes the column
again from its *source* after each draw (both are still modelled: with the written column left
out of the model, the others were fitted closer to the training rows, DCR share 0.588 -> 0.611
on five tables that hold such columns, against 0.592 written after the draw):

* a column equal to another on every training row (same kind, missing on the same rows) is a
  *copy* of it; so is one equal to it wherever both are recorded when only one of them is
  recorded on at most ``NEAR_COPY_SHARE`` of the rows (the whole ``survival::nafld2`` export
  holds the same number under ``chol`` and ``hdl`` on 159,647 rows, and an ``hdl`` without
  its ``chol`` on one: drawn apart, 19 % of synthetic patients kept the two equal, and the
  pair alone told them from real ones at AUC 0.75). The copy is then written wherever the
  source is recorded;
* a column whose values map one to one onto the values of a categorical or yes/no column
  (missing on the same rows) is written through that mapping. A categorical source draws only
  values it has seen, so the mapping covers every draw; a number is never a mapping's source
  (a drawn 2.5 would have no code);
* a categorical or yes/no column that a column with more values determines is written from
  it: a group of categories (a stage group), or bands of a number (an age group; Phenobarb's
  ``ApgarInd``, ">= 5" exactly where ``Apgar`` is 5 or more), cut halfway between the bands
  seen in training;
* a column of any kind that a *number code* determines (a state of birth coded 1-56 and the
  state's cigarette tax and price in causaldata's NHEFS export: the copula drew them apart and
  a classifier told its rows from real ones at AUC 0.98 on the tax alone) is written through
  the code's values, a drawn code between the seen ones taking the nearest. A number is a
  code here when its values repeat (``MIN_LEVEL_ROWS`` rows a value on average) and the
  column is constant within each of them where chance would make that less likely than
  ``CHANCE``.

The target is the source where it has a copy or a one-to-one code, and it is written only
as a group or bands of another column (an outcome recorded beside its cause, a low birth
weight beside the weight); no group or band is written over a sensitive attribute.
Conditions on a copy or a one-to-one code are read as conditions on its source; a condition
on a group or band stays one on the column (the generator models it too), and rows whose
drawn source falls outside it are drawn again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from synthmed.exceptions import ParameterError
from synthmed.schema import TableSchema

__all__ = ["Twin", "find_twins", "source_conditions", "twins_note", "unmet", "write_twins"]

#: kinds whose drawn values are always values seen in training (a mapping's source)
LABEL_KINDS = ("categorical", "boolean")
#: a mapping, group or band is trusted only when each of the column's values is on at least
#: this many training rows: two rows of a rare flag can sit at the top of some lab by chance
MIN_LEVEL_ROWS = 5
#: a larger table is searched on a sample of this many rows, then checked on every row
SEARCH_ROWS = 50_000
#: a near copy: equal wherever both are recorded, one recorded without the other on at most
#: this share of the rows recorded (so a table needs 1,000 such rows for one to differ)
NEAR_COPY_SHARE = 0.001
#: a number code's lookup is trusted when a column of the same value shares would be constant
#: within every code's rows less often than this by chance
CHANCE = 1e-6
_SCALAR = (bool, int, float, str)


@dataclass(frozen=True)
class Twin:
    """``column`` is written from ``source`` (canonical values, JSON scalars):

    * ``"copy"``: the same value;
    * ``"map"``: ``keys[i] -> values[i]``, one to one (conditions can be read back);
    * ``"function"``: ``keys[i] -> values[i]``, several keys to one value (a stage group);
    * ``"bands"``: a number, rounded to ``decimals``, below ``keys[0]`` gives ``values[0]``,
      below ``keys[1]`` ``values[1]``... (an age group, a flag such as Apgar >= 5);
    * ``"lookup"``: a number code, rounded to ``decimals``, gives ``values[i]`` at its nearest
      key (``keys`` sorted).
    """

    column: str
    source: str
    keys: tuple[Any, ...] | None = None
    values: tuple[Any, ...] | None = None
    kind: str = "copy"
    decimals: int | None = None
    #: a near copy: training rows where only one of the two is recorded
    unmatched: int = 0

    @property
    def invertible(self) -> bool:
        """Whether a value of the column names one value of the source."""
        return self.kind in ("copy", "map")

    def write(self, source: pd.Series) -> pd.Series:
        """The column's values for the drawn ``source`` values (missing stays missing)."""
        if self.kind == "copy":
            return source.copy()
        if self.kind == "bands":
            x = pd.to_numeric(source, errors="coerce").to_numpy(dtype=float)
            if self.decimals is not None:
                x = np.round(x, self.decimals)  # as the source will be written
            levels = np.asarray(self.values, dtype=object)
            at = np.minimum(np.searchsorted(np.asarray(self.keys, float), x, side="right"),
                            len(levels) - 1)
            return pd.Series(levels[at], index=source.index, dtype=object).where(~np.isnan(x))
        if self.kind == "lookup":
            x = pd.to_numeric(source, errors="coerce").to_numpy(dtype=float)
            if self.decimals is not None:
                x = np.round(x, self.decimals)  # as the source will be written
            keys = np.asarray(self.keys, dtype=float)
            right = np.clip(np.searchsorted(keys, x), 1, len(keys) - 1)
            nearest = np.where(np.abs(x - keys[right - 1]) <= np.abs(keys[right] - x),
                               right - 1, right)
            levels = np.asarray(self.values, dtype=object)
            return pd.Series(levels[nearest], index=source.index).where(~np.isnan(x))
        # a dict lookup per value, vectorised by pandas; unknown and missing values give NaN
        return source.map(dict(zip(self.keys or (), self.values or (), strict=True)))

    def read(self, values: pd.Series) -> pd.Series:
        """The source values that give ``values`` (NaN where none does); only for a copy or
        a one-to-one mapping."""
        if self.kind == "copy":
            return values.copy()
        return values.map(dict(zip(self.values or (), self.keys or (), strict=True)))

    def to_meta(self) -> dict[str, Any]:
        return {"column": self.column, "source": self.source, "kind": self.kind,
                "keys": None if self.keys is None else list(self.keys),
                "values": None if self.values is None else list(self.values),
                "decimals": self.decimals, "unmatched": self.unmatched}

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> Twin:
        keys, values = meta.get("keys"), meta.get("values")
        decimals = meta.get("decimals")
        return cls(str(meta["column"]), str(meta["source"]),
                   None if keys is None else tuple(keys),
                   None if values is None else tuple(values),
                   str(meta.get("kind") or ("copy" if keys is None else "map")),
                   None if decimals is None else int(decimals), int(meta.get("unmatched") or 0))


def find_twins(frame: pd.DataFrame, schema: TableSchema) -> list[Twin]:
    """The columns of ``frame`` (canonical dtypes) that another column determines exactly.

    Columns are compared within groups of the same number of distinct values and the same
    missing rows, so a wide table costs little. Within a group, the target comes first as a
    source, then categorical and yes/no columns, then the rest in table order. A table of
    more than ``SEARCH_ROWS`` rows is searched on that many (a fixed sample), and what is
    found there is kept only if it holds on every row (on 1,000,000 rows x 30 columns the
    full search took 4.0 s).
    """
    if len(frame) > SEARCH_ROWS:
        pick = np.random.default_rng(0).choice(len(frame), SEARCH_ROWS, replace=False)
        part = frame.iloc[np.sort(pick)]
        checked = (_holds(t, frame) for t in find_twins(part.reset_index(drop=True), schema))
        return [t for t in checked if t is not None]
    groups: dict[tuple[int, bytes], list[str]] = {}
    codes: dict[str, np.ndarray] = {}
    for name in frame.columns:
        code, uniques = pd.factorize(frame[name], use_na_sentinel=True)
        if len(uniques) < 2:
            continue
        codes[name] = code
        key = (len(uniques), np.packbits(code < 0).tobytes())
        groups.setdefault(key, []).append(name)
    twins: list[Twin] = []
    done: set[str] = set()  # columns written from another
    order = {name: i for i, name in enumerate(frame.columns)}
    for members in groups.values():
        members.sort(key=lambda c: (c != schema.target,
                                    schema.column(c).kind not in LABEL_KINDS, order[c]))
        written: set[str] = set()
        for i, source in enumerate(members):
            if source in written:
                continue
            for other in members[i + 1:]:
                if other in written or other == schema.target:
                    continue
                twin = _twin(frame, schema, source, other, codes)
                if twin is not None:
                    twins.append(twin)
                    written.add(other)
                    done.add(other)
    twins += _near_copies(frame, schema, codes, done, order)
    twins += _functions(frame, schema, codes, done, order)
    twins += _lookups(frame, schema, codes, done, order)
    # a column written from a written one (a flag in bands of a tax a state code gives)
    # comes after it
    by_column = {t.column: t for t in twins}

    def depth(twin: Twin) -> int:
        return 0 if twin.source not in by_column else 1 + depth(by_column[twin.source])

    return sorted(twins, key=lambda t: (depth(t), order[t.column]))


def _twin(frame: pd.DataFrame, schema: TableSchema, source: str, other: str,
          codes: Mapping[str, np.ndarray]) -> Twin | None:
    """``other`` as a copy of ``source`` or written through a one-to-one mapping, or None
    (the two have the same number of distinct values and the same missing rows)."""
    a, b = codes[source], codes[other]
    seen = a >= 0
    kind = schema.column(source).kind
    if kind == schema.column(other).kind and frame[source][seen].equals(frame[other][seen]):
        return Twin(other, source)
    if kind not in LABEL_KINDS or np.bincount(b[seen]).min() < MIN_LEVEL_ROWS:
        return None
    if not _one_value_each(a[seen], b[seen]):  # same count of values: one to one
        return None
    first = np.unique(a[seen], return_index=True)[1]
    keys = [_plain(v) for v in frame[source][seen].iloc[first]]
    values = [_plain(v) for v in frame[other][seen].iloc[first]]
    if not all(isinstance(v, _SCALAR) for v in keys + values):
        return None  # kept in the model file as JSON: only plain values
    return Twin(other, source, tuple(keys), tuple(values), "map")


def _one_value_each(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether every source code in ``a`` (0..k-1) goes with one code of ``b`` only: as many
    distinct (a, b) pairs as values of ``a``."""
    pairs = a.astype(np.int64) * (int(b.max()) + 1) + b
    return len(np.unique(pairs)) == int(a.max()) + 1


def _holds(twin: Twin, frame: pd.DataFrame) -> Twin | None:
    """``twin`` as it holds on every row of ``frame`` (a copy: equal wherever both are
    recorded, with the rows recording only one counted again), or None where it does not."""
    if twin.kind == "copy":
        source, column = frame[twin.source], frame[twin.column]
        unmatched = _unmatched(source, column)
        if unmatched is None or unmatched > _near_copy_limit(int(source.notna().sum()),
                                                            int(column.notna().sum())):
            return None
        return replace(twin, unmatched=unmatched)
    agrees = bool(_agrees(twin.write(frame[twin.source]), frame[twin.column]).all()
                  and (frame[twin.column].isna() == frame[twin.source].isna()).all())
    return twin if agrees else None


def _near_copy_limit(recorded_a: int, recorded_b: int) -> int:
    """How many rows may record only one of two near copies recorded on so many rows."""
    return int(NEAR_COPY_SHARE * max(recorded_a, recorded_b))


def _unmatched(a: pd.Series, b: pd.Series) -> int | None:
    """Rows where only one of ``a`` and ``b`` is recorded, or None where a row records both
    with different values."""
    seen_a, seen_b = a.notna().to_numpy(), b.notna().to_numpy()
    both = seen_a & seen_b
    if not np.array_equal(a[both].to_numpy(dtype=object), b[both].to_numpy(dtype=object)):
        return None
    return int((seen_a != seen_b).sum())


def _near_copies(frame: pd.DataFrame, schema: TableSchema, codes: Mapping[str, np.ndarray],
                 written: set[str], order: Mapping[str, int]) -> list[Twin]:
    """Columns equal to another of their kind wherever both are recorded, one of them
    recorded alone on a few rows (``NEAR_COPY_SHARE``): written as copies of the one recorded
    on more rows (the target is never written). Only pairs whose recorded counts are that
    close are compared, so a wide table costs little."""
    counts = {c: int((code >= 0).sum()) for c, code in codes.items() if c not in written}
    masks = {c: np.packbits(codes[c] < 0).tobytes() for c in counts}
    names = sorted(counts, key=lambda c: (c != schema.target, -counts[c], order[c]))
    found: list[Twin] = []
    for i, source in enumerate(names):
        if source in written:
            continue
        for column in names[i + 1:]:
            limit = _near_copy_limit(counts[source], counts[column])
            if (column in written or column == schema.target or limit < 1
                    or masks[column] == masks[source]  # the exact search's case
                    or abs(counts[source] - counts[column]) > limit
                    or schema.column(column).kind != schema.column(source).kind):
                continue
            unmatched = _unmatched(frame[source], frame[column])
            if unmatched is not None and 0 < unmatched <= limit:
                found.append(Twin(column, source, unmatched=unmatched))
                written.add(column)
    return found


def write_twins(frame: pd.DataFrame, twins: Sequence[Twin]) -> pd.DataFrame:
    """``frame`` (the sources drawn) with every twin column written from its source."""
    out = frame.copy()
    for twin in twins:
        out[twin.column] = twin.write(out[twin.source]).to_numpy()
    return out


def source_conditions(cond: pd.DataFrame, twins: Sequence[Twin]) -> pd.DataFrame:
    """Conditions on written columns turned into conditions on their sources (the written
    columns dropped); a condition its source contradicts is an error. A group or band names
    several source values: given alone, it stays a condition on the column itself (which
    the generator models too) and :func:`unmet` finds the rows whose source disagrees."""
    out = cond.copy()
    for twin in twins:
        if twin.column not in out.columns:
            continue
        if twin.source in out.columns:
            given = out[twin.source]
            if twin.invertible:
                wanted = twin.read(out[twin.column])
                clash = given.notna() & wanted.notna() & (
                    given.astype(object) != wanted.astype(object))
            else:
                clash = ~_agrees(twin.write(given), out[twin.column])
            if clash.any():
                raise ParameterError(
                    f"Conditions on {twin.column!r} and {twin.source!r} contradict each other: "
                    f"in training, {twin.column!r} is determined by {twin.source!r}. Give one "
                    "of them.")
            out = out.drop(columns=twin.column)
        elif twin.invertible:
            out[twin.source] = twin.read(out[twin.column]).to_numpy()
            out = out.drop(columns=twin.column)
    return out


def unmet(frame: pd.DataFrame, cond: pd.DataFrame, twins: Sequence[Twin]) -> np.ndarray:
    """Rows of ``frame`` (written columns already written) where a condition on a group or
    band disagrees with the drawn source."""
    bad = np.zeros(len(frame), dtype=bool)
    for twin in twins:
        if not twin.invertible and twin.column in cond.columns:
            bad |= ~_agrees(frame[twin.column], cond[twin.column])
    return bad


def _agrees(drawn: pd.Series, wanted: pd.Series) -> np.ndarray:
    """Where ``drawn`` agrees with the condition ``wanted`` (a missing condition holds)."""
    d, w = drawn.to_numpy(dtype=object), wanted.to_numpy(dtype=object)
    return np.asarray(pd.isna(w) | (d == w), dtype=bool)


def _functions(frame: pd.DataFrame, schema: TableSchema, codes: Mapping[str, np.ndarray],
               written: set[str], order: Mapping[str, int]) -> list[Twin]:
    """Categorical and yes/no columns that a column with more values determines: a group of
    a category (a stage group), or bands of a number (an age group, Apgar >= 5). The target
    too (survival::mgus1's status is 0 exactly where the event is "censor"; drawn apart,
    a model trained on the synthetic rows scored an AUROC of 0.64 on real ones, against
    1.0 trained on real rows): a condition on it costs the rows whose drawn source falls
    outside it a redraw. Not a sensitive attribute: fair augmentation draws rows group by
    group of those, each a condition."""
    found: list[Twin] = []
    for column in frame.columns:
        col = schema.column(column)
        if (column not in codes or column in written
                or "sensitive" in col.roles or col.kind not in LABEL_KINDS):
            continue
        missing = codes[column] < 0
        levels = int(codes[column].max()) + 1
        for source in sorted(codes, key=lambda c: order[c]):
            if source == column or source in written or not np.array_equal(
                    codes[source] < 0, missing) or int(codes[source].max()) + 1 <= levels:
                continue
            twin = _function(frame, schema, source, column, codes)
            if twin is not None:
                found.append(twin)
                written.add(column)
                break
    return found


def _function(frame: pd.DataFrame, schema: TableSchema, source: str, column: str,
              codes: Mapping[str, np.ndarray]) -> Twin | None:
    seen = codes[source] >= 0
    a, b = codes[source][seen], codes[column][seen]
    if np.bincount(b).min() < MIN_LEVEL_ROWS:
        return None
    kind = schema.column(source).kind
    if kind in LABEL_KINDS:
        if not _one_value_each(a, b):
            return None
        first = np.unique(a, return_index=True)[1]
        keys = [_plain(v) for v in frame[source][seen].iloc[first]]
        values = [_plain(v) for v in frame[column][seen].iloc[first]]
        if not all(isinstance(v, _SCALAR) for v in keys + values):
            return None
        return Twin(column, source, tuple(keys), tuple(values), "function")
    if kind not in ("numeric", "integer"):
        return None
    x = pd.to_numeric(frame[source][seen], errors="coerce").to_numpy(dtype=float)
    low = pd.Series(x).groupby(b).min().to_numpy()
    high = pd.Series(x).groupby(b).max().to_numpy()
    rank = np.argsort(low)
    if not np.all(high[rank][:-1] < low[rank][1:]):
        return None  # the levels' ranges overlap: not bands
    uniques = frame[column][seen].iloc[np.unique(b, return_index=True)[1]]
    values = [_plain(v) for v in uniques.iloc[rank]]
    if not all(isinstance(v, _SCALAR) for v in values):
        return None
    edges = [float((h + lo) / 2) for h, lo in zip(high[rank][:-1], low[rank][1:], strict=True)]
    decimals = 0 if kind == "integer" else schema.column(source).decimals
    return Twin(column, source, tuple(edges), tuple(values), "bands", decimals)


def _lookups(frame: pd.DataFrame, schema: TableSchema, codes: Mapping[str, np.ndarray],
             written: set[str], order: Mapping[str, int]) -> list[Twin]:
    """Columns a number code determines (see the module's notes): each code, whole numbers
    first and the most values first, claims every column it determines, so that the
    columns of one code are written from it alike."""
    sources = [c for c in codes if c not in written and c != schema.target
               and schema.column(c).kind in ("numeric", "integer")
               and not schema.column(c).roles & {"entity_id", "time_index"}
               and (codes[c] >= 0).sum() >= MIN_LEVEL_ROWS * (int(codes[c].max()) + 1)]
    sources.sort(key=lambda c: (schema.column(c).kind != "integer", -int(codes[c].max()),
                                order[c]))
    found: list[Twin] = []
    used: set[str] = set()
    for source in sources:
        if source in written:
            continue
        missing = codes[source] < 0
        levels = int(codes[source].max()) + 1
        for column in sorted(codes, key=lambda c: order[c]):
            if (column == source or column in written or column in used
                    or column == schema.target or "sensitive" in schema.column(column).roles
                    or int(codes[column].max()) + 1 > levels
                    or not np.array_equal(codes[column] < 0, missing)):
                continue
            twin = _lookup(frame, schema, source, column, codes)
            if twin is not None:
                found.append(twin)
                written.add(column)
                used.add(source)
    return found


def _lookup(frame: pd.DataFrame, schema: TableSchema, source: str, column: str,
            codes: Mapping[str, np.ndarray]) -> Twin | None:
    seen = codes[source] >= 0
    a, b = codes[source][seen], codes[column][seen]
    if not _one_value_each(a, b):
        return None
    # how likely a column of these value shares is constant within every code's rows
    shares = np.bincount(b) / len(b)
    sizes, times = np.unique(np.bincount(a), return_counts=True)
    log_chance = sum(k * np.log(np.sum(shares ** m)) for m, k in zip(sizes, times, strict=True))
    if log_chance > np.log(CHANCE):
        return None
    first = np.unique(a, return_index=True)[1]
    keys = pd.to_numeric(frame[source][seen].iloc[first]).to_numpy(dtype=float)
    rank = np.argsort(keys)
    values = [_plain(v) for v in frame[column][seen].iloc[first].iloc[rank]]
    if not all(isinstance(v, _SCALAR) for v in values):
        return None
    col = schema.column(source)
    return Twin(column, source, tuple(float(k) for k in keys[rank]), tuple(values), "lookup",
                0 if col.kind == "integer" else col.decimals)


def twins_note(twins: Sequence[Twin]) -> str | None:
    """One sentence naming the columns written from another (column names only, no patient
    value), or None when there are none."""
    if not twins:
        return None
    how = {"copy": "as a copy of {}", "map": "from {} (one value for each)",
           "function": "from {} (a group of its values)", "bands": "from {} (bands of it)",
           "lookup": "from the code {} (a value for each code)"}
    parts = [f"{t.column!r} " + how[t.kind].format(repr(t.source)) + (
        f" (equal wherever both are recorded; {t.unmatched:,} training "
        f"row{'s' if t.unmatched > 1 else ''} recorded only one, so it is written wherever "
        f"{t.source!r} is)" if t.unmatched else "") for t in twins]
    return ("Written from another column, which determines it exactly in the source data, "
            f"after each draw (so no row contradicts it): {'; '.join(parts)}.")


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value (so that mapping lookups and JSON agree)."""
    return value.item() if isinstance(value, np.generic) else value
