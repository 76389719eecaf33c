"""Columns that hold two numbers in one cell, such as a blood pressure written "120/80".

Flowsheet exports write a blood pressure, a ratio or a dose pair as one text cell. Read as it
is, such a column is a category of hundreds of labels: the synthetic values are training
labels drawn with no link to the patient's other values, and no part is a number. So a text
column whose every value is two numbers around a "/" is read as two number columns,
``NAME_1`` and ``NAME_2`` (each with its own precision, both missing where the cell is), and
:meth:`synthmed.datasets.io.CsvFormat.write` joins them back into one cell written as the
source writes it. A schema given by the user is the contract: with one, only columns it
already names as parts are split (the holdout and synthetic files of ``synthmed evaluate``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
import re
from typing import Any

import numpy as np
import pandas as pd

from synthmed.exceptions import DataError

__all__ = ["PAIRS_ATTR", "PairedColumn", "join_pairs", "paired_columns", "split_pairs"]

#: where :func:`split_pairs` leaves the pairs it read, in ``DataFrame.attrs``
PAIRS_ATTR = "synthmed_pairs"
_NUMBER = r"[+-]?\d+(?:[.,]\d+)?"
_PAIR = re.compile(rf"^\s*({_NUMBER})(\s*/\s*)({_NUMBER})\s*$")


@dataclass(frozen=True)
class PairedColumn:
    """A source column written "A/B", read as the number columns ``parts``."""

    name: str
    parts: tuple[str, str]
    separator: str = "/"  # as the source writes it: "/" or " / "

    def to_meta(self) -> dict[str, Any]:
        return {"name": self.name, "parts": list(self.parts), "separator": self.separator}

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> PairedColumn:
        first, second = (str(p) for p in meta["parts"])
        return cls(str(meta["name"]), (first, second), str(meta.get("separator", "/")))


def split_pairs(frame: pd.DataFrame, names: Collection[str] | None = None) -> pd.DataFrame:
    """``frame`` with each "A/B" column replaced, in place, by two number columns.

    ``names``: the columns of a schema the frame must match; then only a column it lacks
    whose parts it names is split. The pairs read are left in ``attrs[PAIRS_ATTR]``.
    """
    pairs = []
    for name in frame.columns:
        parts = (f"{name}_1", f"{name}_2")
        if names is not None and (name in names or not set(parts) <= set(names)):
            continue
        pair = _read_pair(frame[name], str(name), parts)
        if pair is not None:
            pairs.append(pair)
    if not pairs:
        return frame
    clash = [p for pair in pairs for p in pair[0].parts if p in frame.columns]
    if clash:
        raise DataError(f"Column(s) {', '.join(map(repr, clash))} already exist, so the "
                        "two-number columns written 'A/B' cannot be read into them; rename "
                        "those columns.")
    out = {}
    for name in frame.columns:
        found = next((p for p in pairs if p[0].name == name), None)
        if found is None:
            out[name] = frame[name]
        else:
            out.update(found[1])
    split = pd.DataFrame(out, index=frame.index)
    split.attrs[PAIRS_ATTR] = [p[0].to_meta() for p in pairs]
    return split


def _read_pair(series: pd.Series, name: str, parts: tuple[str, str],
               ) -> tuple[PairedColumn, dict[str, pd.Series]] | None:
    if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
        return None
    text = series.dropna()
    if not len(text) or not text.map(lambda v: isinstance(v, str)).all():
        return None
    found = text.str.extract(_PAIR)
    if found[0].isna().any():
        return None
    separator = found[1].value_counts().index[0]
    columns = {}
    for part, group in zip(parts, (0, 2), strict=True):
        numbers = pd.to_numeric(found[group].str.replace(",", ".", regex=False))
        columns[part] = numbers.reindex(series.index)
    return PairedColumn(name, parts, str(separator)), columns


def paired_columns(frame: pd.DataFrame) -> tuple[PairedColumn, ...]:
    """The pairs :func:`split_pairs` read into ``frame`` (none for other frames)."""
    return tuple(PairedColumn.from_meta(m) for m in frame.attrs.get(PAIRS_ATTR, []))


def join_pairs(frame: pd.DataFrame, pairs: tuple[PairedColumn, ...],
               decimal: str = ".") -> pd.DataFrame:
    """Each pair's two columns joined back into one "A/B" text column, where the first part
    was (missing where either part is); frames without the parts are returned as they are."""
    pairs = tuple(p for p in pairs if set(p.parts) <= set(frame.columns))
    if not pairs:
        return frame
    out = {}
    for name in frame.columns:
        pair = next((p for p in pairs if name in p.parts), None)
        if pair is None:
            out[name] = frame[name]
        elif name == pair.parts[0]:
            first, second = (_written(frame[p], decimal) for p in pair.parts)
            out[pair.name] = (first + pair.separator + second).where(
                first.notna() & second.notna())
    return pd.DataFrame(out, index=frame.index)


def _written(values: pd.Series, decimal: str) -> pd.Series:
    """Numbers as the schema restored them, without a trailing ".0" (120, 37.5)."""
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    text = pd.Series([np.format_float_positional(v, trim="-") if np.isfinite(v) else None
                      for v in numbers], index=values.index, dtype=object)
    return text.str.replace(".", decimal, regex=False) if decimal != "." else text
