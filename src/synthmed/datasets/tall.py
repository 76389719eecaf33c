"""Tall long tables: one row per single measurement (entity, time, measure name, value).

Most EHR exports hold vitals and labs this way (CLIF's ``vital_category`` / ``vital_value``,
MIMIC's ``itemid`` / ``valuenum``): every measure taken at one time is a row of its own. The
longitudinal model wants one row per entity and time with a column per measure, so
:func:`pivot_tall` turns the first into the second and :class:`TallLayout` remembers how, and
:meth:`TallLayout.melt` writes synthetic patients back in the source's own layout (through
:meth:`synthmed.datasets.io.CsvFormat.write`).

Read as it is, such a table is nonsense to a longitudinal model: rows at one time are merged by
averaging the values of different measures (a height with a weight), and the synthetic values
are no longer tied to their measure. Handling (documented, counts reported, never a value):

* rows without a value are dropped (they record nothing);
* several values of one measure for one entity at one time are averaged (numbers) or the
  first kept (text);
* a column that identifies each row (R's ``rownames``, a measurement id: read as an
  identifier, as a table's would be) is left out, as identifiers always are;
* columns other than these must be constant within each entity (static: age, sex,
  outcome; blank on some of its rows is fine, unless the value says where: an abnormal
  flag, blank inside the reference range, is a label), or hold one value per measure (its unit, a
  LOINC code, a lab panel: written back beside each synthetic measurement), or be another
  date of each measurement beside a date time (an order or result time: the synthetic time
  plus a lag drawn from the measure's lags), or a label of a few values per measure (a
  measurement site, a second spelling of the name: drawn once per synthetic patient and
  measure from the measure's shares, values fewer than 3 patients have left out; a label the
  value tells is drawn for each measurement from its shares near the value), or repeat
  the value as text (written back as the synthetic value); one that is none of these (free
  text) is refused with its name, to be dropped by the user;
* a row without a patient, a time or a measure name, or a measure named like another
  column, is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from synthmed.datasets.tall_columns import MAX_LABELS, MeasurementColumns
from synthmed.exceptions import DataError
from synthmed.schema import infer_decimals, is_identifier

__all__ = ["TALL_ATTR", "TallLayout", "check_not_tall", "pivot_tall", "read_measures",
           "tall_layout"]

#: where the long-table resolver leaves a tall source's layout and notes, in
#: ``DataFrame.attrs`` (as pairs do; read with :func:`tall_layout`)
TALL_ATTR = "synthmed_tall"
#: a column naming the measures of a tall table names at most this many
MAX_MEASURES = 500


@dataclass(frozen=True)
class TallLayout:
    """How a tall table was pivoted: its four columns, its measures (in order of first
    appearance, as column names) and its column order."""

    entity: str
    time: str
    measure: str
    value: str
    measures: tuple[str, ...]
    columns: tuple[str, ...]
    #: columns written back beside each measurement, not modelled (units, other dates,
    #: labels, the value as text): :mod:`synthmed.datasets.tall_columns`
    written: MeasurementColumns = field(default_factory=MeasurementColumns)

    def to_meta(self) -> dict[str, Any]:
        return {"entity": self.entity, "time": self.time, "measure": self.measure,
                "value": self.value, "measures": list(self.measures),
                "columns": list(self.columns), **self.written.to_meta()}

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> TallLayout:
        return cls(str(meta["entity"]), str(meta["time"]), str(meta["measure"]),
                   str(meta["value"]), tuple(map(str, meta["measures"])),
                   tuple(map(str, meta["columns"])), MeasurementColumns.from_meta(meta))

    def melt(self, wide: pd.DataFrame) -> pd.DataFrame:
        """One row per recorded measure of ``wide`` (entity, time, measure order), every other
        column (static, provenance) repeated on each; columns in the source's order."""
        measures = [m for m in self.measures if m in wide.columns]
        keep = [c for c in wide.columns if c not in measures]
        parts = []
        for order, name in enumerate(measures):
            values = wide[name]
            rows = values.notna().to_numpy()
            part = wide.loc[rows, keep].copy()
            # object values: an integer measure stays "97", a decimal one "36.8"
            part[self.measure] = name
            part[self.value] = values[rows].astype(object).to_numpy()
            part["__order"] = order
            part["__row"] = wide.index[rows]
            parts.append(part)
        columns = self._ordered([*keep, *self.written.names])
        if not parts:
            return pd.DataFrame(columns=columns)
        tall = pd.concat(parts, ignore_index=True).sort_values(["__row", "__order"],
                                                               kind="stable")
        tall = tall.drop(columns=["__order", "__row"]).reset_index(drop=True)
        return self.written.write(tall, entity=self.entity, time=self.time,
                                  measure=self.measure, value=self.value)[columns]

    def count(self, wide: pd.DataFrame) -> int:
        """How many rows :meth:`melt` would write for ``wide`` (one per recorded measure)."""
        measures = [m for m in self.measures if m in wide.columns]
        return int(wide[measures].notna().to_numpy().sum())

    def _ordered(self, keep: Sequence[str]) -> list[str]:
        present = set(keep) | {self.measure, self.value}
        return [c for c in self.columns if c in present] + [
            c for c in keep if c not in self.columns]


def pivot_tall(frame: pd.DataFrame, *, entity: str, time: str, measure: str,
               value: str) -> tuple[pd.DataFrame, TallLayout, list[str]]:
    """``(wide frame, layout, notes)``: a column per measure, a row per entity and time.

    The wide frame holds the entity, the time, the static columns (constant within each
    entity) and the measures; ``layout`` writes synthetic rows back as the source has them.

    Raises
    ------
    DataError
        A named column missing, a row without a measure name, a measure named like another
        column, or another column that changes within an entity.
    """
    named = {"entity": entity, "time": time, "measure": measure, "value": value}
    missing = [f"{c!r} ({k})" for k, c in named.items() if c not in frame.columns]
    if missing:
        raise DataError(f"Column(s) {', '.join(missing)} not in the table. Columns: "
                        f"{', '.join(map(str, frame.columns))}.")
    if len(set(named.values())) < 4:
        raise DataError("--entity, --time, --measure and --value must name four different "
                        "columns.")
    for col, what in ((entity, "patient"), (time, "time"), (measure, "measure name")):
        blank = frame[col].astype(str).str.strip().eq("") if col == measure else False
        absent = int((frame[col].isna() | blank).sum())
        if absent:
            raise DataError(f"{absent:,} of {len(frame):,} rows have no {what} in {col!r}: "
                            "drop them first, or fill them in.")
    notes = []
    recorded = frame[frame[value].notna()]
    if len(recorded) < len(frame):
        notes.append(f"{len(frame) - len(recorded):,} rows without a value in {value!r} "
                     "were left out (they record nothing).")
    if recorded.empty:
        raise DataError(f"No row has a value in {value!r}.")
    names = recorded[measure].astype(str).str.strip()
    measures = list(dict.fromkeys(names))
    others = [c for c in frame.columns if c not in named.values()]
    clash = sorted(set(measures) & {*map(str, others), entity, time})
    if clash:
        raise DataError(f"Measure(s) {', '.join(map(repr, clash))} in {measure!r} are named "
                        "like another column of the table; rename that column.")
    keys = recorded[entity].astype(str)
    # a blank on some of a patient's rows is not a change (exports leave repeats out), unless
    # the value says where it is blank (an abnormal flag, blank inside the reference range)
    varying = [c for c in others
               if (recorded.groupby(keys, sort=False)[c].nunique() > 1).any()
               or _blank_by_value(recorded[c], recorded[value], names)]
    # a row's own id (R's rownames, a measurement id) is left out, as a table's ids are
    row_ids = [c for c in varying if is_identifier(str(c), recorded[c])]
    if row_ids:
        notes.append(f"not modelled (identifiers of each row): {', '.join(map(str, row_ids))}")
        varying = [c for c in varying if c not in row_ids]
        others = [c for c in others if c not in row_ids]
    written, found_notes = MeasurementColumns.find(recorded, entity=entity, time=time,
                                                   value=value, names=names, columns=varying)
    notes += found_notes
    varying = [c for c in varying if c not in written.names]
    others = [c for c in others if c not in written.names]
    if varying:
        raise DataError(
            f"In a tall table every row adds one {measure!r} and its {value!r} to a patient; "
            f"column(s) {', '.join(map(repr, varying))} change within a patient and hold "
            "more than one value per measure, so they cannot be kept beside them. Drop them "
            "(a second name of the measure, a measurement site, a result time), or give them "
            "as measures of their own.")
    index = [recorded[entity], recorded[time], names.rename("__measure")]
    numeric = pd.api.types.is_numeric_dtype(recorded[value]) and not \
        pd.api.types.is_bool_dtype(recorded[value])
    grouped = recorded[value].groupby(index, sort=False)
    merged = grouped.mean() if numeric else grouped.first()
    if numeric and len(merged) < len(recorded):
        # an average keeps its measure's precision (two heart rates of 80 and 81 give 80 or
        # 81, not 80.5, which would make every heart rate a decimal number)
        places = recorded[value].groupby(names.to_numpy(), sort=False).agg(infer_decimals)
        scale = 10.0 ** merged.index.get_level_values("__measure").map(places).to_numpy(
            dtype=float, na_value=np.nan)
        exact = np.isfinite(scale)  # a measure finer than MAX_DECIMALS is left as averaged
        merged = merged.where(~exact, np.round(merged * scale) / scale)
    if len(merged) < len(recorded):
        notes.append(f"{len(recorded) - len(merged):,} values sharing a patient, a time and "
                     f"a measure with another were merged into it ("
                     f"{'averaged' if numeric else 'the first kept'}).")
    wide = merged.unstack("__measure")
    wide.columns = [str(c) for c in wide.columns]
    wide = wide[measures].reset_index()
    if others:  # each patient's first recorded value of each static column
        static = recorded.groupby(entity, sort=False)[others].first().reset_index()
        wide = wide.merge(static, on=entity, how="left", sort=False)
    wide = wide[[entity, time, *others, *measures]]
    notes.append(f"read as a tall table: {len(recorded):,} measurement rows of "
                 f"{len(measures)} measures in {measure!r} as {len(wide):,} rows of one "
                 "column per measure; the synthetic rows are written back one per "
                 "measurement")
    layout = TallLayout(entity, time, measure, value, tuple(measures),
                        tuple(map(str, frame.columns)), written)
    return wide, layout, notes


def tall_layout(frame: pd.DataFrame) -> tuple[TallLayout | None, list[str]]:
    """The layout :func:`pivot_tall` left on ``frame`` and its notes (None, [] if none)."""
    meta = frame.attrs.get(TALL_ATTR)
    return (None, []) if not meta else (TallLayout.from_meta(meta), list(meta.get("notes", [])))



def check_not_tall(frame: pd.DataFrame, *, entity: str, time: str) -> None:
    """Refuse a tall table given without ``--measure``/``--value``: merged as rows at one time,
    its different measures' values would be averaged together.

    A table is taken for tall when most of its rows share their patient and time with another
    row and a text column of few names tells those rows apart (each a different measure).
    """
    if entity not in frame.columns or time not in frame.columns or len(frame) < 10:
        return
    shared = frame.duplicated([entity, time], keep=False)
    if shared.mean() < 0.5:
        return
    rows = frame[shared]
    groups = [rows[entity].astype(str), rows[time].astype(str)]
    for col in frame.columns:
        values = rows[col]
        if col in (entity, time) or pd.api.types.is_numeric_dtype(values) or \
                not 1 < values.nunique() <= MAX_MEASURES:
            continue
        apart = values.groupby(groups, sort=False).nunique()
        if (apart > 1).mean() < 0.8:
            continue
        numbers = [c for c in frame.columns if c not in (entity, time, col)
                   and pd.api.types.is_numeric_dtype(frame[c])
                   and (frame.groupby(frame[entity].astype(str))[c].nunique() > 1).any()]
        value = numbers[0] if len(numbers) == 1 else "VALUE_COLUMN"
        raise DataError(
            f"{shared.mean():.0%} of the rows share their {entity!r} and {time!r} with another "
            f"row, and {col!r} ({values.nunique()} names) tells them apart: this looks like a "
            "table of a row per measurement. Give --measure "
            f"{col} --value {value} (Python: measure=..., value=...) to read a column per "
            "measure; merged as they are, different measures' values would be averaged.")


def read_measures(frame: pd.DataFrame, *, entity: str, time: str, measure: str | None,
                  value: str | None, static: list[str] | None
                  ) -> tuple[pd.DataFrame, list[str] | None, TallLayout | None, list[str]]:
    """A long table as the longitudinal model reads it: ``(frame, static, layout, notes)``.

    With ``measure`` and ``value``, the tall ``frame`` pivoted (:func:`pivot_tall`) and, when
    ``static`` is None, its columns other than the measures as the static ones; without
    them, ``frame`` as it is, refused if it looks tall (:func:`check_not_tall`).
    """
    if measure is None and value is None:
        check_not_tall(frame, entity=entity, time=time)
        return frame, static, None, []
    if measure is None or value is None:
        raise DataError("A table of a row per measurement needs both --measure COL (the "
                        "column naming the measure) and --value COL (its value); Python: "
                        "measure=..., value=...")
    wide, layout, notes = pivot_tall(frame, entity=entity, time=time, measure=measure,
                                     value=value)
    if static is None:
        static = [c for c in wide.columns if c not in (entity, time, *layout.measures)]
    return wide, static, layout, notes


#: a column blank on some rows of a measure follows the value where the distance of a row's
#: value from the blank rows' median tells set rows from blank ones at this AUC or more...
BLANK_BY_VALUE_AUC = 0.8
#: ...on a measure with at least this many set and blank rows
BLANK_BY_VALUE_ROWS = 10


def _blank_by_value(column: pd.Series, value: pd.Series, names: pd.Series) -> bool:
    """Whether ``column`` is blank where the measure's value is ordinary and set where it is
    far from it, on some measure (an abnormal flag, "H"/"L" outside the reference range and
    blank inside it): a value-dependent label, not a static column whose repeats an export
    leaves blank (those are blank wherever the value is)."""
    if column.nunique() > MAX_LABELS:  # a flag holds a few labels, a static many values
        return False
    blank = column.isna().to_numpy()
    if not blank.any():
        return False
    x = pd.to_numeric(value, errors="coerce").to_numpy(dtype=float)
    for name in pd.unique(names):
        rows = (names.to_numpy() == name) & np.isfinite(x)
        set_rows, blank_rows = rows & ~blank, rows & blank
        if min(set_rows.sum(), blank_rows.sum()) < BLANK_BY_VALUE_ROWS:
            continue
        center = np.median(x[blank_rows])
        far, near = np.abs(x[set_rows] - center), np.abs(x[blank_rows] - center)
        # AUC of the distance: the share of (set, blank) pairs where the set row is farther
        ranks = stats.rankdata(np.r_[far, near])
        auc = (ranks[:len(far)].sum() - len(far) * (len(far) + 1) / 2) / (len(far) * len(near))
        if auc >= BLANK_BY_VALUE_AUC:
            return True
    return False
