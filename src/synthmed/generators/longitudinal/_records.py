"""From the sequence model's draws to long records, and per-entity record hashes.

Sampling draws, per step, the measures' values and time offsets; :func:`assemble`
turns them into the long frame (times, decoded categories, static columns). Category codes
are stored JSON-ready (:func:`jsonable`) so that a saved model decodes like the fitted one.
:func:`entity_hashes` hashes whole trajectories: a record of this modality is an entity, so
copies of training records are found per entity, not per row.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthmed.generators._twins import write_twins
from synthmed.generators.base import row_hashes
from synthmed.generators.longitudinal._patient import T0
from synthmed.schema import HOUR_NS, TableSchema, restore_table

if TYPE_CHECKING:
    from synthmed.generators.longitudinal.generator import LongitudinalGenerator

__all__ = ["assemble", "decode", "entity_hashes", "jsonable"]

# datetime times are modelled in hours since the entity's first row (HOUR_NS)


def assemble(gen: LongitudinalGenerator, statics: pd.DataFrame, can: pd.DataFrame,
             pos: np.ndarray, t_off: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    """Long rows of the drawn entities: ``pos`` (entity position), ``t_off`` (time since its
    first row) and the measures' ``values`` (numbers and category codes, NaN where not
    recorded), with the entity's statics."""
    columns: dict[str, Any] = {}
    if gen.time_kind_ == "datetime":
        start = pd.to_datetime(can[T0]).astype("datetime64[ns]").to_numpy()[pos]
        times = pd.Series(start + (t_off * HOUR_NS).astype("timedelta64[ns]"))
        times = times.dt.round("s")
    else:
        t0 = can[T0].to_numpy(dtype=float)[pos]
        lo, hi = gen._t_range
        times = pd.Series(np.clip(t0 + t_off, lo, hi))
        if gen._time_grid is not None:  # a row pushed past the last visit is dropped
            times = on_schedule(times.to_numpy(), pos, gen._time_grid)
            kept = np.isfinite(times)
            times, pos, values = pd.Series(times[kept]), pos[kept], values[kept]
        # no row past the end of the patient's follow-up (its first row always stays)
        first = np.r_[True, pos[1:] != pos[:-1]]
        kept = first | (times.to_numpy() <= gen.time_limit(can)[pos])
        times, pos, values = pd.Series(times.to_numpy()[kept]), pos[kept], values[kept]
    columns[gen.time_] = times
    for i, name in enumerate(gen.measures_):
        columns[name] = decode(values[:, i], gen._codes.get(name),
                               gen.schema_.column(name).kind)
    long = restore_table(write_twins(pd.DataFrame(columns), gen._measure_twins),
                         gen.schema_.subset([gen.time_, *gen.measures_]))
    for name in gen.static_columns_:
        long[name] = statics[name].iloc[pos].reset_index(drop=True)
    long["__pos"] = pos
    # rounding (or the training time range) may give two rows the same time: keep the first
    dup = long.duplicated(["__pos", gen.time_], keep="first").to_numpy()
    return long[~dup].reset_index(drop=True)


#: a time column with at most this many distinct values, each on several rows on average,
#: is a visit schedule (weeks 0, 4, 8...; ages 8, 10, 12, 14)
MAX_SCHEDULE_TIMES = 60
MIN_ROWS_PER_SCHEDULED_TIME = 3


def visit_schedule(times: np.ndarray) -> np.ndarray | None:
    """The sorted scheduled times when the training times follow a schedule, else None."""
    values = np.unique(times[np.isfinite(times)])
    if 1 < len(values) <= MAX_SCHEDULE_TIMES and \
            np.isfinite(times).sum() >= MIN_ROWS_PER_SCHEDULED_TIME * len(values):
        return values
    return None


def on_schedule(times: np.ndarray, pos: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Each drawn time moved to the nearest scheduled time, later than its entity's previous
    row (rows sorted by entity, then time); NaN past the last scheduled time.

    Drawn gaps are continuous, so without this a trial's weeks 0, 8, 15, 22 became 21, 23,
    27 (nlme::BodyWeight): a per-visit summary of the synthetic data had nothing to compare.
    """
    idx = np.clip(np.searchsorted(grid, times), 1, len(grid) - 1)
    idx = np.where(times - grid[idx - 1] <= grid[idx] - times, idx - 1, idx)
    starts = np.r_[0, np.flatnonzero(np.diff(pos)) + 1]
    rank = np.arange(len(idx)) - np.repeat(starts, np.diff(np.r_[starts, len(idx)]))
    # strictly increasing within an entity: idx - rank must not fall (a grouped running max)
    lifted = pd.Series(idx - rank).groupby(pos).cummax().to_numpy() + rank
    out = np.full(len(times), np.nan)
    inside = lifted < len(grid)
    out[inside] = grid[lifted[inside]]
    return out


def decode(values: np.ndarray, levels: list[Any] | None, kind: str) -> pd.Series:
    """A measure's values from its marginal's numbers: category codes back to ``levels``,
    booleans from 0/1; NaN (not recorded) stays missing."""
    if levels is not None:
        idx = np.clip(np.nan_to_num(values, nan=0).round().astype(int), 0, len(levels) - 1)
        arr = np.asarray(levels, dtype=object)[idx]
        return pd.Series(np.where(np.isfinite(values), arr, None), dtype=object)
    if kind == "boolean":
        return pd.Series([None if not np.isfinite(v) else bool(v > 0.5) for v in values],
                         dtype=object)
    return pd.Series(values)


def entity_hashes(frame: pd.DataFrame, schema: TableSchema, entity: str,
                  hash_key: str) -> tuple[np.ndarray, np.ndarray]:
    """One keyed hash per entity of ``frame`` (over its rows in order) and each row's entity
    code (position in the returned hashes)."""
    cols = [c for c in schema.names if c != entity]
    rows = row_hashes(frame[cols], schema.subset(cols), hash_key)
    codes = pd.factorize(frame[entity].astype(str))[0]
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    key = bytes.fromhex(hash_key.ljust(16, "0")[:16])
    hashes = np.array([
        int.from_bytes(hashlib.blake2b(chunk.tobytes(), key=key, digest_size=8).digest(),
                       "little")
        for chunk in np.split(rows[order], bounds)
    ], dtype=np.uint64)
    return hashes, codes


def jsonable(value: Any) -> Any:
    """A plain Python value for a numpy scalar (category levels are saved as JSON)."""
    return value.item() if isinstance(value, np.generic) else value
