"""Dates recorded on each row beside the time column: clocks that move with it.

A long table may hold an absolute timestamp beside the elapsed time given as ``--time``
("charttime" beside "hours since admission"), or a second time on each row (a result's time
beside its sample's). Read as a number such a column was all missing, and every synthetic row
was written without it. It is modelled as a clock: ``D = anchor + rate * t + e``, where ``t``
is the row's time (hours since 1970 for dates), ``rate`` how many hours of ``D`` pass per unit
of ``t`` (the median slope within patients: 1 for hours, 24 for days), ``anchor`` the
patient's own level (where the patient's clock started: drawn by the patient-level model
beside the static columns, and smoothed like them, so no synthetic patient keeps a training
patient's admission time) and ``e`` a row's deviation from its patient's clock, drawn from
the training deviations (none for an exact clock). Where the time column is a number, the first
clock's anchor is a date and every other clock's anchor is kept as its lag behind the first
(a result's time a few hours after the chart time: two dates drawn apart would lie weeks
apart).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthmed.schema import HOUR_NS, TableSchema, hours_of, read_dates, without_codes

__all__ = ["ANCHOR", "Clock", "Clocks"]

#: prefix of the patient-level columns that hold each clock's anchor
ANCHOR = "__anchor__"
#: rates snapped to when within 1% (an hour, a day, a week of hours; minutes, seconds)
_RATES = (1.0, 24.0, 168.0, 1 / 60, 1 / 3600)
#: deviations kept to draw from (a sample of them beyond this many)
_MAX_RESIDUALS = 1000
#: deviations all under this many hours (a second) make an exact clock
_EXACT_H = 1 / 3600


@dataclass(frozen=True)
class Clock:
    """One date column's clock: its rate, the training deviations and missing share."""

    name: str
    rate: float
    residuals: np.ndarray
    missing: float
    #: the clock whose anchor this one's is the lag behind (None: its own date or lag)
    base: str | None = None

    @property
    def anchor(self) -> str:
        return ANCHOR + self.name


class Clocks:
    """The date columns of a long table that change within patients, as clocks."""

    def __init__(self, clocks: Sequence[Clock] = ()) -> None:
        self.clocks = list(clocks)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.clocks]

    @classmethod
    def fit(cls, frame: pd.DataFrame, names: Sequence[str], schema: TableSchema,
            t_num: np.ndarray, codes: np.ndarray, rng: np.random.Generator, *,
            dated: bool) -> tuple[Clocks, pd.DataFrame]:
        """Clocks of the date columns ``names`` of ``frame`` (rows sorted by patient, then
        time ``t_num``; ``codes`` each row's patient), and one row per patient with each
        clock's anchor (NaN for a patient without a value). ``dated``: the time is a date
        (``t_num`` hours since 1970), so anchors are lags behind it already."""
        clocks, anchors = [], {}
        n_patients = int(codes.max()) + 1 if len(codes) else 0
        for name in names:
            col = schema.column(name)
            d = hours_of(read_dates(without_codes(frame[name], col), col.date_format))
            ok = np.isfinite(d)
            pair = ok[1:] & ok[:-1] & (codes[1:] == codes[:-1]) & (np.diff(t_num) != 0)
            slopes = np.diff(d)[pair] / np.diff(t_num)[pair]
            rate = float(np.median(slopes)) if len(slopes) else 0.0
            near = [r for r in _RATES if abs(rate - r) <= 0.01 * r]
            rate = near[0] if near else rate
            level = pd.Series(d - rate * t_num).groupby(codes).median()
            anchor = level.reindex(range(n_patients)).to_numpy(dtype=float)
            dev = (d - rate * t_num - anchor[codes])[ok]
            if not len(dev) or np.abs(dev).max() < _EXACT_H:
                dev = np.zeros(0)
            elif len(dev) > _MAX_RESIDUALS:
                dev = rng.choice(dev, _MAX_RESIDUALS, replace=False)
            has = np.isfinite(anchor)[codes]
            missing = float((~ok[has]).mean()) if has.any() else 0.0
            base = None if dated or not clocks else clocks[0].name
            if base is not None:
                anchor = anchor - anchors[ANCHOR + base]
            clocks.append(Clock(name, rate, np.sort(dev), missing, base))
            anchors[ANCHOR + name] = anchor
        return cls(clocks), pd.DataFrame(anchors, index=range(n_patients))

    def write(self, long: pd.DataFrame, can: pd.DataFrame, t_num: np.ndarray,
              pos: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        """``long`` with each clock's column as datetimes: the drawn patient's anchor (from
        ``can``, row ``pos``) moved by the row's time ``t_num``, plus a drawn deviation; as
        often missing as in training."""
        out = long.copy()
        for clock in self.clocks:
            anchor = pd.to_numeric(can[clock.anchor], errors="coerce").to_numpy(float)[pos]
            if clock.base is not None:
                anchor = anchor + pd.to_numeric(can[ANCHOR + clock.base],
                                                errors="coerce").to_numpy(float)[pos]
            d = anchor + clock.rate * t_num
            if len(clock.residuals):
                d = d + rng.choice(clock.residuals, len(d))
            d[rng.random(len(d)) < clock.missing] = np.nan
            ns = np.where(np.isfinite(d), d * HOUR_NS, 0.0).round().astype("int64")
            stamps = pd.Series(ns.view("datetime64[ns]"), index=out.index)
            out[clock.name] = stamps.where(np.isfinite(d))
        return out

    def to_meta(self) -> list[dict[str, Any]]:
        return [{"name": c.name, "rate": c.rate, "residuals": c.residuals.tolist(),
                 "missing": c.missing, "base": c.base} for c in self.clocks]

    @classmethod
    def from_meta(cls, meta: Sequence[Mapping[str, Any]] | None) -> Clocks:
        return cls([Clock(str(m["name"]), float(m["rate"]),
                          np.asarray(m["residuals"], dtype=float), float(m["missing"]),
                          None if m.get("base") is None else str(m["base"]))
                    for m in meta or []])
