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
* columns other than the four must be constant within each entity (static: age, sex,
  outcome; blank on some of its rows is fine), or hold one value per measure (its unit, a
  LOINC code, a lab panel: written back beside each synthetic measurement), or be another
  date of each measurement beside a date time (an order or result time: the synthetic time
  plus a lag drawn from the measure's lags), or a label of a few values per measure (a
  measurement site, a second spelling of the name: drawn once per synthetic patient and
  measure from the measure's shares, values fewer than 3 patients have left out), or repeat
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

from synthmed.exceptions import DataError
from synthmed.schema import date_format_of, infer_decimals, read_dates

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
    #: columns with one value per measure (a unit, a code): column -> measure -> value
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: dates of each measurement beside the time (an order or a result time): column ->
    #: measure -> its lags behind the time in hours (``LAG_QUANTILES`` quantiles, then the
    #: share missing); with the written patterns of the time and of each such column
    lags: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    formats: dict[str, str | None] = field(default_factory=dict)
    #: the clock unit ("h", "min", "s") every source value of such a date is whole in
    resolutions: dict[str, str] = field(default_factory=dict)
    #: labels of a few values per measure (a measurement site, a second spelling of its
    #: name): column -> measure -> [[value, share], ...] of the values several patients have
    labels: dict[str, dict[str, list[list[Any]]]] = field(default_factory=dict)
    #: columns that repeat the value as text (CLIF's ``lab_value`` beside
    #: ``lab_value_numeric``): written back as the synthetic value, or as one of the text
    #: tokens that stand in its place ("___", a masked result) at their shares
    twins: dict[str, list[list[Any]]] = field(default_factory=dict)

    def to_meta(self) -> dict[str, Any]:
        return {"entity": self.entity, "time": self.time, "measure": self.measure,
                "value": self.value, "measures": list(self.measures),
                "columns": list(self.columns), "attributes": self.attributes,
                "lags": self.lags, "formats": self.formats, "labels": self.labels,
                "twins": self.twins, "resolutions": self.resolutions}

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> TallLayout:
        return cls(str(meta["entity"]), str(meta["time"]), str(meta["measure"]),
                   str(meta["value"]), tuple(map(str, meta["measures"])),
                   tuple(map(str, meta["columns"])),
                   {str(c): dict(m) for c, m in (meta.get("attributes") or {}).items()},
                   {str(c): {str(k): [float(x) for x in v] for k, v in m.items()}
                    for c, m in (meta.get("lags") or {}).items()},
                   dict(meta.get("formats") or {}),
                   {str(k): str(v) for k, v in (meta.get("resolutions") or {}).items()},
                   {str(c): {str(k): [list(p) for p in v] for k, v in m.items()}
                    for c, m in (meta.get("labels") or {}).items()},
                   {str(c): [list(t) for t in v] for c, v in (meta.get("twins") or {}).items()})

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
            for column, by_measure in self.attributes.items():
                part[column] = by_measure.get(name)
            for column in self.twins:  # text, as the source holds it (and Parquet can)
                part[column] = [None if pd.isna(v) else str(v) for v in part[self.value]]
            part["__order"] = order
            part["__row"] = wide.index[rows]
            parts.append(part)
        if not parts:
            return pd.DataFrame(columns=self._ordered([*keep, *self.attributes, *self.lags,
                                                       *self.labels, *self.twins]))
        tall = pd.concat(parts, ignore_index=True).sort_values(["__row", "__order"],
                                                               kind="stable")
        tall = self._with_lags(tall.drop(columns=["__order", "__row"]).reset_index(drop=True))
        tall = self._with_labels(tall)
        if any(self.twins.values()):
            rng = np.random.default_rng(len(tall) + 2)
            for column, tokens in self.twins.items():
                u, edge = rng.random(len(tall)), 0.0
                text = tall[column].astype(object).to_numpy()
                for token, share in tokens:
                    text[(u >= edge) & (u < edge + share)] = token
                    edge += share
                tall[column] = text
        return tall[self._ordered([*keep, *self.attributes, *self.lags, *self.labels,
                                   *self.twins])]

    def _with_labels(self, tall: pd.DataFrame) -> pd.DataFrame:
        """Each label column drawn once per patient and measure from the measure's shares
        (a patient's blood pressures keep one site), the same on each of those rows."""
        if not self.labels:
            return tall
        rng = np.random.default_rng(len(tall) + 1)
        groups = tall.groupby([tall[self.entity].astype(str), tall[self.measure].astype(str)],
                              sort=False).ngroup().to_numpy()
        names = tall[self.measure].astype(str).to_numpy()
        first = pd.Series(names).groupby(groups).first()
        for column, by_measure in self.labels.items():
            picked = np.full(len(first), None, dtype=object)
            for g, name in first.items():
                shares = by_measure.get(name)
                if shares:
                    values = [v for v, _ in shares]
                    weights = np.asarray([w for _, w in shares], dtype=float)
                    picked[g] = values[rng.choice(len(values), p=weights / weights.sum())]
            tall[column] = picked[groups]
        return tall

    def _with_lags(self, tall: pd.DataFrame) -> pd.DataFrame:
        """Each measurement's other dates: its time plus a lag drawn from its measure's
        training lags (as often missing); written in each column's pattern."""
        if not self.lags:
            return tall
        rng = np.random.default_rng(len(tall))  # same rows, same dates
        at = read_dates(tall[self.time], self.formats.get(self.time))
        names = tall[self.measure].astype(str).to_numpy()
        for column, by_measure in self.lags.items():
            hours = np.full(len(tall), np.nan)
            for name, stats in by_measure.items():
                rows = np.flatnonzero(names == name)
                grid, missing = np.asarray(stats[:-1]), stats[-1]
                drawn = np.interp(rng.random(len(rows)), np.linspace(0, 1, len(grid)), grid)
                drawn[rng.random(len(rows)) < missing] = np.nan
                hours[rows] = drawn
            stamps = (at + pd.to_timedelta(hours, unit="h")).dt.round(
                self.resolutions.get(column, "s"))
            pattern = self.formats.get(column)
            tall[column] = stamps.dt.strftime(pattern).astype(object) if pattern else stamps
        return tall

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
    # a blank on some of a patient's rows is not a change (exports leave repeats out)
    varying = [c for c in others
               if (recorded.groupby(keys, sort=False)[c].nunique() > 1).any()]
    # one value per measure (a unit, a LOINC code): not modelled, written back with it
    per_measure = recorded.groupby(names.to_numpy(), sort=False)
    attributes = {c: {str(m): _plain(v) for m, v in per_measure[c].first().items()}
                  for c in varying if (per_measure[c].nunique(dropna=False) <= 1).all()}
    varying = [c for c in varying if c not in attributes]
    others = [c for c in others if c not in attributes]
    if attributes:
        notes.append(f"kept beside each measure (one value per measure, written back with "
                     f"it): {', '.join(attributes)}")
    lags, formats, resolutions = _measurement_dates(recorded, time, names, varying)
    varying = [c for c in varying if c not in lags]
    others = [c for c in others if c not in lags]
    twins = {c: tokens for c in varying
             if (tokens := _value_twin(recorded[c], recorded[value], recorded[entity]))
             is not None}
    varying = [c for c in varying if c not in twins]
    others = [c for c in others if c not in twins]
    if twins:
        notes.append(f"{', '.join(map(repr, twins))} repeat(s) {value!r} as text: written "
                     "back as the synthetic value")
    labels = _measure_labels(recorded, entity, names, varying)
    varying = [c for c in varying if c not in labels]
    others = [c for c in others if c not in labels]
    if labels:
        notes.append(f"labels of a few values per measure ({', '.join(labels)}) are drawn "
                     "for each synthetic patient and measure from that measure's shares "
                     f"(values fewer than {MIN_LABEL_PATIENTS} patients have are left out)")
    if lags:
        notes.append(f"dates of each measurement beside {time!r} ({', '.join(lags)}) are "
                     "written back as the synthetic time plus a lag drawn from the "
                     "measure's own lags")
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
                        tuple(map(str, frame.columns)), attributes, lags, formats,
                        resolutions, labels, twins)
    return wide, layout, notes


#: quantiles kept of each measure's lags (aggregates: no patient's own time is kept)
LAG_QUANTILES = 21
#: share of a column's values that must read as dates for it to be a measurement's date
_DATES_READ = 0.99


def _measurement_dates(recorded: pd.DataFrame, time: str, names: pd.Series,
                       columns: list[str]) -> tuple[dict[str, dict[str, list[float]]],
                                                    dict[str, str | None], dict[str, str]]:
    """Columns of ``columns`` that are dates of each measurement beside a date ``time``:
    each measure's lag quantiles (hours) and missing share, the written patterns and the
    clock unit each column's values are whole in."""
    if not columns or pd.api.types.is_numeric_dtype(recorded[time]):
        return {}, {}, {}  # no column, or the time is not a date: a lag has no unit
    time_format = date_format_of(recorded[time])
    at = read_dates(recorded[time], time_format)
    if at.isna().any():
        return {}, {}, {}
    lags: dict[str, dict[str, list[float]]] = {}
    formats: dict[str, str | None] = {time: time_format}
    resolutions: dict[str, str] = {}
    for column in columns:
        present = recorded[column].notna()
        if pd.api.types.is_numeric_dtype(recorded[column]) or not present.any():
            continue
        pattern = date_format_of(recorded[column])
        stamps = read_dates(recorded[column], pattern)
        if stamps[present].notna().mean() < _DATES_READ:
            continue
        hours = ((stamps - at).dt.total_seconds() / 3600).to_numpy(dtype=float)
        by_measure = {}
        for name, rows in pd.Series(np.arange(len(names))).groupby(names.to_numpy()):
            h = hours[rows.to_numpy()]
            seen = h[np.isfinite(h)]
            grid = (np.quantile(seen, np.linspace(0, 1, LAG_QUANTILES)).tolist() if len(seen)
                    else [0.0] * LAG_QUANTILES)
            by_measure[str(name)] = [*grid, float(1 - len(seen) / len(h))]
        lags[column], formats[column] = by_measure, pattern
        seen = stamps.dropna()
        resolutions[column] = next((u for u in ("h", "min") if (seen == seen.dt.floor(u)).all()),
                                   "s")
    return lags, (formats if lags else {}), resolutions


#: a column repeats the value when, where it holds a number, it is the value's on this
#: share of the rows; the rest hold at most ``MAX_TWIN_TOKENS`` text tokens
TWIN_SHARE, MAX_TWIN_TOKENS = 0.99, 5


def _value_twin(column: pd.Series, value: pd.Series,
                patients: pd.Series) -> list[list[Any]] | None:
    """The text tokens (and their shares) of a ``column`` that is ``value`` written as text
    ("7.37" beside 7.37; "___" where a result was masked), or None when it is not; tokens
    fewer than ``MIN_LABEL_PATIENTS`` patients have are left out (written as the value)."""
    if not pd.api.types.is_numeric_dtype(value) or pd.api.types.is_bool_dtype(value):
        return None
    number = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    x = value.to_numpy(dtype=float)
    numbers = np.isfinite(number)
    same = np.abs(number - x) <= 1e-9 * np.maximum(1.0, np.abs(x))
    tokens = column[~numbers & column.notna().to_numpy()].astype(str)
    if not numbers.any() or same[numbers].mean() < TWIN_SHARE or \
            tokens.nunique() > MAX_TWIN_TOKENS:
        return None
    holders = patients[tokens.index].astype(str).groupby(tokens.to_numpy()).nunique()
    return [[str(t), float(n / len(column))] for t, n in tokens.value_counts().items()
            if holders.get(t, 0) >= MIN_LABEL_PATIENTS]


#: a label column holds at most this many values per measure...
MAX_LABELS = 10
#: ...and a value is drawn only where at least this many patients have it (a rarer one
#: could single a patient out)
MIN_LABEL_PATIENTS = 3


def _measure_labels(recorded: pd.DataFrame, entity: str, names: pd.Series,
                    columns: list[str]) -> dict[str, dict[str, list[list[Any]]]]:
    """Text columns of ``columns`` with at most ``MAX_LABELS`` values per measure: each
    measure's values that ``MIN_LABEL_PATIENTS`` patients have, with their shares."""
    labels = {}
    for column in columns:
        values = recorded[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        frame = pd.DataFrame({"m": names.to_numpy(), "v": values.to_numpy(),
                              "p": recorded[entity].astype(str).to_numpy()})
        if (frame.groupby("m")["v"].nunique(dropna=False) > MAX_LABELS).any():
            continue
        by_measure = {}
        for name, part in frame.groupby("m", sort=False):
            patients = part.dropna(subset=["v"]).groupby("v")["p"].nunique()
            counts = part["v"].value_counts()
            kept = [[_plain(v), int(counts[v])] for v in counts.index
                    if patients.get(v, 0) >= MIN_LABEL_PATIENTS]
            missing = int(part["v"].isna().sum())
            if missing:
                kept.append([None, missing])
            by_measure[str(name)] = kept
        labels[column] = by_measure
    return labels


def _plain(value: Any) -> Any:
    """A JSON-ready value (None for missing; numpy scalars as Python ones)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    return value.item() if isinstance(value, np.generic) else value


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

