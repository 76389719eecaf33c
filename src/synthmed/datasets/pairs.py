"""Columns that hold two values in one cell: "120/80", or a number with one of several units.

Flowsheet exports write a blood pressure, a ratio or a dose pair as one text cell, and a
table merged from two sites writes glucose as "5.4 mmol/L" on some rows and "97 mg/dL" on
others. Read as they are, such columns are categories of hundreds of labels: the synthetic
values are training labels drawn with no link to the patient's other values, and no part is
a number. So:

* a text column whose every value is two numbers around a "/" (``kind="pair"``) is read as
  two number columns ``NAME_1`` and ``NAME_2`` (each with its own precision, both missing
  where the cell is);
* a text column whose every value is a number followed by a unit, with two units or more
  (``kind="unit"``; one unit is the schema's ``unit``), is read as the number ``NAME`` and
  its unit ``NAME_unit``, a category, so that each row keeps the unit its number is in (no
  conversion: that needs the analyte's molar mass). Each unit keeps its own decimals.

:meth:`synthmed.datasets.io.CsvFormat.write` joins the parts back into one cell written as
the source writes it. A schema given by the user is the contract: with one, only columns it
names as parts are split (the holdout and synthetic files of ``synthmed evaluate``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
import re
from typing import Any

import numpy as np
import pandas as pd

from synthmed.exceptions import DataError

__all__ = ["PAIRS_ATTR", "PairedColumn", "join_pairs", "paired_columns", "split_pairs",
           "with_parts"]

#: where :func:`split_pairs` leaves the pairs it read, in ``DataFrame.attrs``
PAIRS_ATTR = "synthmed_pairs"
_NUMBER = r"[+-]?\d+(?:[.,]\d+)?"
_PAIR = re.compile(rf"^\s*({_NUMBER})(\s*/\s*)({_NUMBER})\s*$")
#: a column of numbers with units has at most this many units, each on this many rows
MAX_UNITS = 5
MIN_UNIT_ROWS = 5
_WITH_UNIT = re.compile(rf"^\s*({_NUMBER})(\s?)([A-Za-z%°µ][A-Za-z%°µ/0-9²³.]*)\s*$")


@dataclass(frozen=True)
class PairedColumn:
    """A source column read as the two columns ``parts``: "A/B" (``pair``) or a number and
    its unit (``unit``)."""

    name: str
    parts: tuple[str, str]
    separator: str = "/"  # as the source writes it: "/" or " / "; " " or "" before a unit
    kind: str = "pair"
    #: ``unit``: the decimals each unit's numbers are written with
    decimals: dict[str, int] = field(default_factory=dict, compare=False)

    def to_meta(self) -> dict[str, Any]:
        return {"name": self.name, "parts": list(self.parts), "separator": self.separator,
                "kind": self.kind, "decimals": dict(self.decimals)}

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> PairedColumn:
        first, second = (str(p) for p in meta["parts"])
        return cls(str(meta["name"]), (first, second), str(meta.get("separator", "/")),
                   str(meta.get("kind", "pair")),
                   {str(k): int(v) for k, v in (meta.get("decimals") or {}).items()})


def _parts(name: str) -> dict[str, tuple[str, str]]:
    return {"pair": (f"{name}_1", f"{name}_2"), "unit": (name, f"{name}_unit")}


def split_pairs(frame: pd.DataFrame, names: Collection[str] | None = None) -> pd.DataFrame:
    """``frame`` with each two-value column replaced, in place, by its two columns.

    ``names``: the columns of a schema the frame must match; then only a column whose parts
    it names (and that it does not name as a whole) is split. The pairs read are left in
    ``attrs[PAIRS_ATTR]``.
    """
    found = []
    for name in frame.columns:
        kinds = _parts(str(name))
        if names is not None:
            kinds = {k: p for k, p in kinds.items() if set(p) <= set(names)
                     and (name not in names if k == "pair" else p[1] not in frame.columns)}
            if not kinds:
                continue
        read = _read(frame[name], str(name), kinds)
        if read is not None:
            found.append(read)
    if not found:
        return frame
    taken = set(frame.columns)
    clash = [p for pair, _ in found for p in pair.parts if p != pair.name and p in taken]
    if clash:
        raise DataError(f"Column(s) {', '.join(map(repr, clash))} already exist, so a column "
                        "of two values per cell ('A/B', or numbers in several units) cannot "
                        "be read into them; rename those columns.")
    out = {}
    for name in frame.columns:
        read = next((columns for pair, columns in found if pair.name == name), None)
        if read is None:
            out[name] = frame[name]
        else:
            out.update(read)
    split = pd.DataFrame(out, index=frame.index)
    split.attrs[PAIRS_ATTR] = [pair.to_meta() for pair, _ in found]
    return split


#: leading cells checked first: a column of ordinary labels is passed over without reading
#: all of it (a million-row table has a dozen such columns)
_FIRST_CELLS = 2_000


def _read(series: pd.Series, name: str, kinds: Mapping[str, tuple[str, str]],
          ) -> tuple[PairedColumn, dict[str, pd.Series]] | None:
    if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
        return None
    head = series.iloc[:_FIRST_CELLS].dropna()
    patterns = [p for k, p in (("pair", _PAIR), ("unit", _WITH_UNIT)) if k in kinds]
    if not len(head) or not head.map(lambda v: isinstance(v, str)).all() or not any(
            head.str.fullmatch(p).all() for p in patterns):
        return None
    codes, distinct = pd.factorize(series)  # each distinct cell read once
    text = pd.Series(distinct, dtype=object)
    if not text.map(lambda v: isinstance(v, str)).all():
        return None
    rows = np.bincount(codes[codes >= 0], minlength=len(text))

    def spread(values: pd.Series) -> pd.Series:  # distinct cells back to the rows
        out = values.to_numpy()[np.maximum(codes, 0)]
        return pd.Series(out, index=series.index).where(codes >= 0)

    if "pair" in kinds:
        found = text.str.extract(_PAIR)
        if found[0].notna().all():
            columns = {part: spread(_numbers(found[group])).astype(float)
                       for part, group in zip(kinds["pair"], (0, 2), strict=True)}
            separator = str(found[1].iloc[int(np.argmax(rows))])
            return PairedColumn(name, kinds["pair"], separator), columns
    if "unit" in kinds:
        found = text.str.extract(_WITH_UNIT)
        per_unit = pd.Series(rows).groupby(found[2].to_numpy()).sum()
        # a few units, each on several rows: "12A", "13B" bed labels are not numbers
        if found[0].notna().all() and 2 <= len(per_unit) <= MAX_UNITS and \
                per_unit.min() >= MIN_UNIT_ROWS and rows.max() > 1:
            places = found[0].map(lambda t: len(re.split(r"[.,]", t)[1]) if re.search(
                r"[.,]", t) else 0)
            decimals = places.groupby(found[2]).max().astype(int).to_dict()
            number, unit = kinds["unit"]
            columns = {number: spread(_numbers(found[0])).astype(float),
                       unit: spread(found[2]).astype(object)}
            separator = str(found[1].iloc[int(np.argmax(rows))])
            return PairedColumn(name, kinds["unit"], separator, "unit", decimals), columns
    return None


def _numbers(text: pd.Series) -> pd.Series:
    return pd.to_numeric(text.str.replace(",", ".", regex=False))


def paired_columns(frame: pd.DataFrame) -> tuple[PairedColumn, ...]:
    """The pairs :func:`split_pairs` read into ``frame`` (none for other frames)."""
    return tuple(PairedColumn.from_meta(m) for m in frame.attrs.get(PAIRS_ATTR, []))


def with_parts(names: Iterable[str], pairs: tuple[PairedColumn, ...]) -> list[str]:
    """Column names as a user gives them (``--synthesize bp``, ``--static glucose``), each
    two-value column replaced by its two parts."""
    parts = {p.name: p.parts for p in pairs}
    return list(dict.fromkeys(c for name in names for c in parts.get(name, (name,))))


def join_pairs(frame: pd.DataFrame, pairs: tuple[PairedColumn, ...],
               decimal: str = ".") -> pd.DataFrame:
    """Each pair's two columns joined back into one text column, where the first part was
    (missing where either part is); frames without the parts are returned as they are."""
    pairs = tuple(p for p in pairs if set(p.parts) <= set(frame.columns))
    if not pairs:
        return frame
    out = {}
    for name in frame.columns:
        pair = next((p for p in pairs if name in p.parts), None)
        if pair is None:
            out[name] = frame[name]
        elif name == pair.parts[0]:
            out[pair.name] = _joined(frame, pair, decimal)
    return pd.DataFrame(out, index=frame.index)


def _joined(frame: pd.DataFrame, pair: PairedColumn, decimal: str) -> pd.Series:
    if pair.kind == "unit":
        unit = frame[pair.parts[1]].astype(object)
        places = unit.map(pair.decimals)
        first = _written(frame[pair.parts[0]], decimal, places)
        second = unit.where(unit.notna(), None)
    else:
        first, second = (_written(frame[p], decimal) for p in pair.parts)
    return (first + pair.separator + second).where(first.notna() & second.notna())


def _written(values: pd.Series, decimal: str, places: pd.Series | None = None) -> pd.Series:
    """Numbers as the schema restored them, without a trailing ".0" (120, 37.5), or at each
    row's ``places`` decimals where given."""
    numbers = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
    digits = (np.full(len(numbers), -1) if places is None
              else pd.to_numeric(places, errors="coerce").fillna(-1).to_numpy(int))
    text = [None if not np.isfinite(v) else f"{v:.{d}f}" if d >= 0
            else np.format_float_positional(v, trim="-") for v, d in zip(numbers, digits,
                                                                          strict=True)]
    out = pd.Series(text, index=values.index, dtype=object)
    return out.str.replace(".", decimal, regex=False) if decimal != "." else out
