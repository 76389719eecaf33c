"""Columns of a tall table written back beside each measurement, not modelled.

An EHR export carries more than the patient, the time, the measure's name and its value on
each row: the measure's unit and code, other dates of the measurement (when it was ordered,
when it resulted), labels such as the site a temperature was taken at, and the value again as
text. They change within a patient, so they are no static column, and a column per measure
would multiply the model's inputs for columns that say little about the patient. They are
found when the table is pivoted (:meth:`MeasurementColumns.find`) and written again beside
each synthetic measurement when it is melted back (:meth:`MeasurementColumns.write`):

* one value per measure (unit, LOINC code, panel): that value;
* another date of each measurement beside a date time: the synthetic time plus a lag drawn
  from the measure's lag quantiles (``LAG_QUANTILES``), as often missing, rounded to the
  source's clock unit and written in its pattern; one draw per group of measurements that
  share the date in the source (a patient's time, or a time and a lab panel);
* a text copy of the value (CLIF's ``lab_value``): the synthetic value as text, its text
  tokens ("___", a masked result) at their shares;
* a label of at most ``MAX_LABELS`` values per measure (a site, a second spelling of the
  name): drawn once per synthetic patient and measure from the measure's shares; or, where
  the value tells the label better than the patient does (an abnormal flag: "H" above the
  reference range), drawn for each measurement from the shares among the measure's values
  near the synthetic value (``VALUE_BINS`` quantile bins).

Only aggregates are kept (a value per measure, lag quantiles, shares), and a label or token
fewer than ``MIN_LABEL_PATIENTS`` patients have is never written. Draws use a generator
seeded by the number of rows written, so the same rows give the same file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthmed.schema import date_format_of, read_dates

__all__ = ["LAG_QUANTILES", "MAX_LABELS", "MIN_LABEL_PATIENTS", "MeasurementColumns"]

#: quantiles kept of each measure's lags (aggregates: no patient's own time is kept)
LAG_QUANTILES = 21
#: share of a column's values that must read as dates for it to be a measurement's date
_DATES_READ = 0.99
#: a column repeats the value when, where it holds a number, it is the value's on this
#: share of the rows; the rest hold at most ``MAX_TWIN_TOKENS`` text tokens
TWIN_SHARE, MAX_TWIN_TOKENS = 0.99, 5
#: a label column holds at most this many values per measure...
MAX_LABELS = 10
#: ...and a value (or a text token) is written only where at least this many patients have
#: it (a rarer one could single a patient out)
MIN_LABEL_PATIENTS = 3
#: a label drawn by value reads its shares in at most this many quantile bins of the
#: measure's values, of at least ``VALUE_BIN_ROWS`` rows each
VALUE_BINS, VALUE_BIN_ROWS = 20, 25


@dataclass
class MeasurementColumns:
    """What to write beside each measurement, by column (see the module docstring)."""

    #: one value per measure: column -> measure -> value
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: other dates: column -> measure -> lag quantiles (hours), then the share missing
    lags: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    #: written patterns of the time and of each date column (None: ISO)
    formats: dict[str, str | None] = field(default_factory=dict)
    #: the clock unit ("h", "min", "s") every source value of a date column is whole in
    resolutions: dict[str, str] = field(default_factory=dict)
    #: labels: column -> measure -> [[value, count], ...]
    labels: dict[str, dict[str, list[list[Any]]]] = field(default_factory=dict)
    #: the value as text: column -> [[token, share], ...] of the tokens in its place
    twins: dict[str, list[list[Any]]] = field(default_factory=dict)
    #: dates one lag serves for the measurements of a patient's time ("") or of a patient's
    #: time and one value of a per-measure column (a lab panel): date column -> that column
    shared: dict[str, str] = field(default_factory=dict)
    #: labels the value tells: column -> measure -> {"edges": inner bin edges, "shares":
    #: [[[value, count], ...] per bin]}
    by_value: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [*self.attributes, *self.lags, *self.labels, *self.twins]

    # ------------------------------------------------------------------ finding
    @classmethod
    def find(cls, recorded: pd.DataFrame, *, entity: str, time: str, value: str,
             names: pd.Series, columns: list[str]) -> tuple[MeasurementColumns, list[str]]:
        """Which of ``columns`` (those that change within a patient) can be written back,
        and how; with a note per kind found. ``names`` is each row's measure."""
        per_measure = recorded.groupby(names.to_numpy(), sort=False)
        attributes = {c: {str(m): _plain(v) for m, v in per_measure[c].first().items()}
                      for c in columns if (per_measure[c].nunique(dropna=False) <= 1).all()}
        left = [c for c in columns if c not in attributes]
        lags, formats, resolutions = _measurement_dates(recorded, time, names, left)
        left = [c for c in left if c not in lags]
        twins = {c: tokens for c in left
                 if (tokens := _value_twin(recorded[c], recorded[value], recorded[entity]))
                 is not None}
        left = [c for c in left if c not in twins]
        labels, by_value = _measure_labels(recorded, entity, names, left, value)
        shared = _shared_dates(recorded, entity, time, list(lags), list(attributes))
        notes = []
        if attributes:
            notes.append(f"kept beside each measure (one value per measure, written back "
                         f"with it): {', '.join(attributes)}")
        if twins:
            notes.append(f"{', '.join(map(repr, twins))} repeat(s) {value!r} as text: "
                         "written back as the synthetic value")
        if labels:
            notes.append(f"labels of a few values per measure ({', '.join(labels)}) are "
                         "drawn for each synthetic patient and measure from that measure's "
                         f"shares (values fewer than {MIN_LABEL_PATIENTS} patients have are "
                         "left out)")
        for column, measures in by_value.items():
            notes.append(f"{column!r} follows the value for {', '.join(map(repr, measures))}: "
                         "drawn for each measurement from its shares among values near the "
                         "synthetic one")
        if lags:
            notes.append(f"dates of each measurement beside {time!r} ({', '.join(lags)}) "
                         "are written back as the synthetic time plus a lag drawn from the "
                         "measure's own lags")
        return cls(attributes, lags, formats, resolutions, labels, twins, shared,
                   by_value), notes

    # ------------------------------------------------------------------ writing
    def write(self, tall: pd.DataFrame, *, entity: str, time: str, measure: str,
              value: str) -> pd.DataFrame:
        """``tall`` (a row per synthetic measurement) with these columns added."""
        names = tall[measure].astype(str)
        for column, by_measure in self.attributes.items():
            tall[column] = names.map(by_measure).astype(object).where(
                names.isin(list(by_measure)), None)
        for column in self.twins:  # text, as the source holds it (and Parquet can)
            tall[column] = [None if pd.isna(v) else str(v) for v in tall[value]]
        tall = self._with_lags(tall, entity, time, names.to_numpy())
        tall = self._with_labels(tall, entity, names)
        tall = self._labels_by_value(tall, names, value)
        if any(self.twins.values()):
            rng = np.random.default_rng(len(tall) + 2)
            for column, tokens in self.twins.items():
                u, edge = rng.random(len(tall)), 0.0
                text = tall[column].astype(object).to_numpy()
                for token, share in tokens:
                    text[(u >= edge) & (u < edge + share)] = token
                    edge += share
                tall[column] = text
        return tall

    def _with_labels(self, tall: pd.DataFrame, entity: str, names: pd.Series) -> pd.DataFrame:
        """Each label column drawn once per patient and measure from the measure's shares
        (a patient's blood pressures keep one site), the same on each of those rows."""
        if not self.labels:
            return tall
        rng = np.random.default_rng(len(tall) + 1)
        groups = tall.groupby([tall[entity].astype(str), names], sort=False).ngroup().to_numpy()
        first = pd.Series(names.to_numpy()).groupby(groups).first()
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

    def _labels_by_value(self, tall: pd.DataFrame, names: pd.Series,
                         value: str) -> pd.DataFrame:
        """Labels the value tells, drawn for each measurement from the shares of its value's
        bin (over the patient's draw); a measurement without a number keeps that draw."""
        if not self.by_value:
            return tall
        rng = np.random.default_rng(len(tall) + 3)
        x = pd.to_numeric(tall[value], errors="coerce").to_numpy(dtype=float)
        for column, by_measure in self.by_value.items():
            labels = tall[column].astype(object).to_numpy()
            for name, bins in by_measure.items():
                rows = np.flatnonzero((names.to_numpy() == name) & np.isfinite(x))
                where = np.searchsorted(np.asarray(bins["edges"], dtype=float), x[rows],
                                        side="right")
                u = rng.random(len(rows))
                for b, shares in enumerate(bins["shares"]):
                    mine = np.flatnonzero(where == b)
                    if not len(mine) or not shares:
                        continue
                    weights = np.asarray([w for _, w in shares], dtype=float)
                    at = np.searchsorted(np.cumsum(weights) / weights.sum(), u[mine],
                                         side="right")
                    picked = np.asarray([v for v, _ in shares], dtype=object)
                    labels[rows[mine]] = picked[np.minimum(at, len(shares) - 1)]
            tall[column] = labels
        return tall

    def _with_lags(self, tall: pd.DataFrame, entity: str, time: str,
                   names: np.ndarray) -> pd.DataFrame:
        """Each measurement's other dates: its time plus a lag drawn from its measure's
        lags (as often missing), one draw per group of measurements that share the date
        (a panel's result time); written in each column's pattern."""
        if not self.lags:
            return tall
        rng = np.random.default_rng(len(tall))  # same rows, same dates
        at = read_dates(tall[time], self.formats.get(time))
        for column, by_measure in self.lags.items():
            keys = [tall[entity].astype(str), tall[time].astype(str)]
            if self.shared.get(column):
                keys.append(tall[self.shared[column]].astype(str))
            groups = (tall.groupby(keys, sort=False).ngroup().to_numpy()
                      if column in self.shared else np.arange(len(tall)))
            # each group drawn with its first measurement's lags
            leader = pd.Series(names).groupby(groups).first()
            drawn_by_group = np.full(len(leader), np.nan)
            for name, stats in by_measure.items():
                g = np.flatnonzero(leader.to_numpy() == name)
                grid, missing = np.asarray(stats[:-1]), stats[-1]
                drawn = np.interp(rng.random(len(g)), np.linspace(0, 1, len(grid)), grid)
                drawn[rng.random(len(g)) < missing] = np.nan
                drawn_by_group[leader.index.to_numpy()[g]] = drawn
            hours = drawn_by_group[groups]
            stamps = (at + pd.to_timedelta(hours, unit="h")).dt.round(
                self.resolutions.get(column, "s"))
            pattern = self.formats.get(column)
            tall[column] = stamps.dt.strftime(pattern).astype(object) if pattern else stamps
        return tall

    # ------------------------------------------------------------------ saving
    def to_meta(self) -> dict[str, Any]:
        return {"attributes": self.attributes, "lags": self.lags, "formats": self.formats,
                "resolutions": self.resolutions, "labels": self.labels, "twins": self.twins,
                "shared": self.shared, "by_value": self.by_value}

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> MeasurementColumns:
        """Read back from :meth:`to_meta` (keys absent from layouts saved before them)."""
        return cls(
            {str(c): dict(m) for c, m in (meta.get("attributes") or {}).items()},
            {str(c): {str(k): [float(x) for x in v] for k, v in m.items()}
             for c, m in (meta.get("lags") or {}).items()},
            dict(meta.get("formats") or {}),
            {str(k): str(v) for k, v in (meta.get("resolutions") or {}).items()},
            {str(c): {str(k): [list(p) for p in v] for k, v in m.items()}
             for c, m in (meta.get("labels") or {}).items()},
            {str(c): [list(t) for t in v] for c, v in (meta.get("twins") or {}).items()},
            {str(k): str(v) for k, v in (meta.get("shared") or {}).items()},
            {str(c): {str(k): {"edges": [float(e) for e in b["edges"]],
                               "shares": [[list(p) for p in bin_] for bin_ in b["shares"]]}
                      for k, b in m.items()}
             for c, m in (meta.get("by_value") or {}).items()})


# --------------------------------------------------------------------------- finding
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




#: a date is shared when one value serves this share of the measurement groups
SHARED_SHARE = 0.8


def _shared_dates(recorded: pd.DataFrame, entity: str, time: str, dates: list[str],
                  attributes: list[str]) -> dict[str, str]:
    """Of ``dates``, those one value serves for the measurements of a patient's time ("")
    or of a patient's time and one value of an attribute column (the lab panel of CLIF's
    order category: 89% of panels share their result time): the coarsest grouping (most
    rows per group) that holds on ``SHARED_SHARE`` of its groups; a grouping of one row per
    group says nothing and is never chosen."""
    found = {}
    base = [recorded[entity].astype(str), recorded[time].astype(str)]
    for column in dates:
        size = 1.0  # rows per group of the coarsest grouping that holds
        for group in ["", *attributes]:
            keys = base + ([recorded[group].astype(str)] if group else [])
            counts = recorded[column].groupby(keys).nunique()
            rows = len(recorded) / len(counts)
            if float((counts <= 1).mean()) >= SHARED_SHARE and rows > size:
                found[column], size = group, rows
    return found


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




def _measure_labels(recorded: pd.DataFrame, entity: str, names: pd.Series,
                    columns: list[str], value: str
                    ) -> tuple[dict[str, dict[str, list[list[Any]]]],
                               dict[str, dict[str, dict[str, Any]]]]:
    """Text columns of ``columns`` with at most ``MAX_LABELS`` values per measure: each
    measure's values that ``MIN_LABEL_PATIENTS`` patients have, with their shares; and, for
    the measures whose label the value tells better than the patient (:func:`_value_bins`),
    those shares per bin of the value."""
    labels: dict[str, dict[str, list[list[Any]]]] = {}
    by_value: dict[str, dict[str, dict[str, Any]]] = {}
    x = pd.to_numeric(recorded[value], errors="coerce").to_numpy(dtype=float)
    for column in columns:
        values = recorded[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        frame = pd.DataFrame({"m": names.to_numpy(), "v": values.to_numpy(),
                              "p": recorded[entity].astype(str).to_numpy(), "x": x})
        if (frame.groupby("m")["v"].nunique(dropna=False) > MAX_LABELS).any():
            continue
        by_measure = {}
        for name, part in frame.groupby("m", sort=False):
            patients = part.dropna(subset=["v"]).groupby("v")["p"].nunique()
            counts = part["v"].value_counts()
            shown = [v for v in counts.index if patients.get(v, 0) >= MIN_LABEL_PATIENTS]
            kept = [[_plain(v), int(counts[v])] for v in shown]
            missing = int(part["v"].isna().sum())
            if missing:
                kept.append([None, missing])
            by_measure[str(name)] = kept
            bins = _value_bins(part, shown)
            if bins is not None:
                by_value.setdefault(column, {})[str(name)] = bins
        labels[column] = by_measure
    return labels, by_value


def _value_bins(part: pd.DataFrame, shown: list[Any]) -> dict[str, Any] | None:
    """A measure's label shares per quantile bin of its value (``m``: measure, ``v``: label,
    ``p``: patient, ``x``: the value), where the bin tells a row's label more often than the
    patient's other rows of the measure do and more often than the commonest label alone; a
    label not in ``shown`` (too few patients) counts as missing. None otherwise."""
    part = part[np.isfinite(part["x"].to_numpy())]
    n_bins = min(VALUE_BINS, len(part) // VALUE_BIN_ROWS)
    if n_bins < 2:
        return None
    label = part["v"].where(part["v"].isin(shown)).astype(object).fillna("\0missing")
    if label.nunique() < 2:
        return None
    edges = np.unique(np.quantile(part["x"], np.linspace(0, 1, n_bins + 1)[1:-1]))
    where = np.searchsorted(edges, part["x"].to_numpy(), side="right")
    table = pd.crosstab(where, label.to_numpy())
    by_bin = float(table.max(axis=1).sum()) / len(part)
    commonest = float(label.value_counts().iloc[0]) / len(part)
    if by_bin < commonest + 0.05 or by_bin <= _patient_agreement(part["p"], label):
        return None
    shares = [[[None if v == "\0missing" else _plain(v), int(c)]
               for v, c in table.loc[b].items() if c > 0] if b in table.index else []
              for b in range(len(edges) + 1)]
    return {"edges": [float(e) for e in edges], "shares": shares}


def _patient_agreement(patient: pd.Series, label: pd.Series) -> float:
    """Share of rows whose label is the commonest among the patient's other rows of the
    measure (a patient's only row: the commonest label overall)."""
    counts = pd.crosstab(patient.to_numpy(), label.to_numpy())
    who = counts.index.get_indexer(patient.to_numpy())
    what = counts.columns.get_indexer(label.to_numpy())
    mine = counts.to_numpy()[who]  # each row's patient's label counts
    rows = np.arange(len(mine))
    same = mine[rows, what] - 1  # the patient's other rows with this row's label
    mine[rows, what] = -1
    alone = same + mine.clip(min=0).sum(axis=1) == 0
    commonest = label.value_counts().index[0]
    right = np.where(alone, label.to_numpy() == commonest, same > mine.max(axis=1))
    return float(right.mean())


def _plain(value: Any) -> Any:
    """A JSON-ready value (None for missing; numpy scalars as Python ones)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    return value.item() if isinstance(value, np.generic) else value
