"""Columns that another column determines exactly: a code beside its label, a copied column.

Exports often carry one fact twice: ``sex`` and ``sex_code``, ``stage`` and ``stage_num``, or
one measure under two names. A generator that models both draws them apart: on a 400-row table
with a sex and its code, a stage and its number and a copied age, the forest gave 19 % of its
rows a sex that contradicted the code, the copula 4 %, the network 0.2 %, the neural AR 4 %, and
the copied age differed from the age on 48-89 % of rows. A clinician sees that at once, and a
classifier uses it. So :class:`~synthmed.generators.base.BaseGenerator` models one column of
each such pair (the *source*) and writes the other from it:

* a column equal to another on every training row (same kind, missing on the same rows) is a
  *copy* of it;
* a column whose values map one to one onto the values of a categorical or yes/no column
  (missing on the same rows) is written through that mapping. A categorical source draws only
  values it has seen, so the mapping covers every draw; a number is never a mapping's source
  (a drawn 2.5 would have no code).

The target is never written from another column (the generators and ``auto``'s scoring must
see it): it is the source where it has a twin. Conditions on a written column are read as
conditions on its source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthmed.exceptions import ParameterError
from synthmed.schema import TableSchema

__all__ = ["Twin", "find_twins", "source_conditions", "twins_note", "write_twins"]

#: kinds whose drawn values are always values seen in training (a mapping's source)
LABEL_KINDS = ("categorical", "boolean")
_SCALAR = (bool, int, float, str)


@dataclass(frozen=True)
class Twin:
    """``column`` is written from ``source``: a copy (``keys`` None) or through the mapping
    ``keys[i] -> values[i]`` (canonical values, JSON scalars)."""

    column: str
    source: str
    keys: tuple[Any, ...] | None = None
    values: tuple[Any, ...] | None = None

    def write(self, source: pd.Series) -> pd.Series:
        """The column's values for the drawn ``source`` values (missing stays missing)."""
        if self.keys is None:
            return source.copy()
        lookup = dict(zip(self.keys, self.values or (), strict=True))
        return source.map(lambda v: lookup.get(_plain(v), np.nan) if pd.notna(v) else v)

    def read(self, values: pd.Series) -> pd.Series:
        """The source values that give ``values`` (NaN where none does)."""
        if self.keys is None:
            return values.copy()
        lookup = dict(zip(self.values or (), self.keys, strict=True))
        return values.map(lambda v: lookup.get(_plain(v), np.nan) if pd.notna(v) else v)

    def to_meta(self) -> dict[str, Any]:
        return {"column": self.column, "source": self.source,
                "keys": None if self.keys is None else list(self.keys),
                "values": None if self.values is None else list(self.values)}

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> Twin:
        keys, values = meta.get("keys"), meta.get("values")
        return cls(str(meta["column"]), str(meta["source"]),
                   None if keys is None else tuple(keys),
                   None if values is None else tuple(values))


def find_twins(frame: pd.DataFrame, schema: TableSchema) -> list[Twin]:
    """The columns of ``frame`` (canonical dtypes) that another column determines exactly.

    Columns are compared within groups of the same number of distinct values and the same
    missing rows, so a wide table costs little. Within a group, the target comes first as a
    source, then categorical and yes/no columns, then the rest in table order.
    """
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
    return sorted(twins, key=lambda t: order[t.column])


def _twin(frame: pd.DataFrame, schema: TableSchema, source: str, other: str,
          codes: Mapping[str, np.ndarray]) -> Twin | None:
    """``other`` as a copy of ``source`` or written through a one-to-one mapping, or None
    (the two have the same number of distinct values and the same missing rows)."""
    a, b = codes[source], codes[other]
    seen = a >= 0
    kind = schema.column(source).kind
    if kind == schema.column(other).kind and frame[source][seen].equals(frame[other][seen]):
        return Twin(other, source)
    if kind not in LABEL_KINDS:
        return None
    # as many distinct (source, other) pairs as values: one to one
    pairs = a[seen].astype(np.int64) * (int(b.max()) + 1) + b[seen]
    if len(np.unique(pairs)) != int(a.max()) + 1:
        return None
    first = np.unique(a[seen], return_index=True)[1]
    keys = [_plain(v) for v in frame[source][seen].iloc[first]]
    values = [_plain(v) for v in frame[other][seen].iloc[first]]
    if not all(isinstance(v, _SCALAR) for v in keys + values):
        return None  # kept in the model file as JSON: only plain values
    return Twin(other, source, tuple(keys), tuple(values))


def write_twins(frame: pd.DataFrame, twins: Sequence[Twin]) -> pd.DataFrame:
    """``frame`` (the sources drawn) with every twin column written from its source."""
    out = frame.copy()
    for twin in twins:
        out[twin.column] = twin.write(out[twin.source]).to_numpy()
    return out


def source_conditions(cond: pd.DataFrame, twins: Sequence[Twin]) -> pd.DataFrame:
    """Conditions on written columns turned into conditions on their sources (the written
    columns dropped); a condition its source contradicts is an error."""
    out = cond.copy()
    for twin in twins:
        if twin.column not in out.columns:
            continue
        wanted = twin.read(out[twin.column])
        if twin.source in out.columns:
            given = out[twin.source]
            clash = given.notna() & wanted.notna() & (given.astype(object) != wanted.astype(object))
            if clash.any():
                raise ParameterError(
                    f"Conditions on {twin.column!r} and {twin.source!r} contradict each other: "
                    f"in training, {twin.column!r} is determined by {twin.source!r}. Give one "
                    "of them.")
        out[twin.source] = wanted.to_numpy()
        out = out.drop(columns=twin.column)
    return out


def twins_note(twins: Sequence[Twin]) -> str | None:
    """One sentence naming the columns written from another (column names only, no patient
    value), or None when there are none."""
    if not twins:
        return None
    parts = [f"{t.column!r} as a copy of {t.source!r}" if t.keys is None
             else f"{t.column!r} from {t.source!r} (one value for each)" for t in twins]
    return ("Written from another column, which determines it exactly in the source data, "
            f"rather than modelled apart: {'; '.join(parts)}.")


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value (so that mapping lookups and JSON agree)."""
    return value.item() if isinstance(value, np.generic) else value
