"""Train/holdout split: the holdout is fresh real data, the reference of every metric."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from synthmed._random import RandomState, make_rng
from synthmed.exceptions import DataError, ParameterError
from synthmed.schema import TableSchema, without_codes

__all__ = ["MIN_SPLIT_ROWS", "repeated_identifier", "strata", "train_holdout_split",
           "unseen_in_train"]

MIN_SPLIT_ROWS = 10


def train_holdout_split(
    data: pd.DataFrame,
    *,
    holdout_fraction: float = 0.5,
    stratify: str | None = None,
    groups: str | None = None,
    random_state: RandomState = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into train and holdout (50/50 by default, as privacy tests prefer).

    Parameters
    ----------
    data : DataFrame
    holdout_fraction : float
        Share of rows held out, between 0.3 and 0.7 (of groups, with ``groups``).
    stratify : str, optional
        Column whose value shares are kept equal in both parts (e.g. the target).
    groups : str, optional
        Column (a patient id) whose rows go together to one part: a patient in both parts
        would make the holdout look like copies of training records. Stratified on each
        group's first row; rows with a missing id are groups of their own.
    random_state : int or numpy Generator

    Returns
    -------
    (train, holdout) : two DataFrames with their original index reset.

    Examples
    --------
    >>> import pandas as pd
    >>> train, holdout = train_holdout_split(pd.DataFrame({"x": range(20)}))
    >>> len(train), len(holdout)
    (10, 10)
    >>> long = pd.DataFrame({"id": [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6], "x": range(12)})
    >>> train, holdout = train_holdout_split(long, groups="id")
    >>> set(train["id"]) & set(holdout["id"])
    set()
    """
    if not 0.3 <= holdout_fraction <= 0.7:
        raise ParameterError(
            f"`holdout_fraction` must be between 0.3 and 0.7, got {holdout_fraction!r}."
        )
    if len(data) < MIN_SPLIT_ROWS:
        raise DataError(
            f"At least {MIN_SPLIT_ROWS} rows are needed to split into train and holdout, "
            f"got {len(data)}."
        )
    rng = make_rng(random_state)
    if groups is None:
        mask = _holdout_mask(data, holdout_fraction, stratify, rng)
    else:
        if groups not in data.columns:
            raise ParameterError(f"`groups` column {groups!r} is not in the data.")
        codes = group_codes(data[groups])
        first = pd.Series(np.arange(len(data))).groupby(codes).first().to_numpy()
        if len(first) < 2:
            raise DataError(f"Every row has the same {groups!r}: there is nothing to split.")
        held = _holdout_mask(data.iloc[first], holdout_fraction, stratify, rng)
        mask = np.isin(codes, codes[first[held]])
    return data[~mask].reset_index(drop=True), data[mask].reset_index(drop=True)


def _holdout_mask(data: pd.DataFrame, fraction: float, stratify: str | None,
                  rng: np.random.Generator) -> np.ndarray:
    """Which rows go to the holdout: ``fraction`` of each stratum, drawn at random."""
    mask = np.zeros(len(data), dtype=bool)
    if stratify is not None and stratify in data.columns:
        keys = strata(data[stratify])
        holdout_idx = []
        for _, positions in keys.groupby(keys).indices.items():
            positions = rng.permutation(positions)
            holdout_idx.extend(positions[: round(len(positions) * fraction)])
        mask[np.asarray(holdout_idx, dtype=int)] = True
    else:
        order = rng.permutation(len(data))
        mask[order[: round(len(data) * fraction)]] = True
    return mask


#: a number column with more distinct values than this is stratified on its deciles: on its
#: values, every stratum would hold one row, and a half of one row rounds to none (a
#: continuous target left the holdout empty)
MAX_STRATA_VALUES = 20
STRATA_BINS = 10


def strata(values: pd.Series) -> pd.Series:
    """The stratum of each row: its value (missing is a value of its own), or the decile of
    a number column of many values."""
    numbers = pd.to_numeric(values, errors="coerce") if (
        pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    ) else None
    if numbers is not None and numbers.nunique() > MAX_STRATA_VALUES:
        bins = pd.qcut(numbers, STRATA_BINS, labels=False, duplicates="drop")
        return bins.astype(object).where(bins.notna(), "\x00NA").astype(str)
    return values.astype(object).where(values.notna(), "\x00NA").astype(str)


def repeated_identifier(frame: pd.DataFrame, schema: TableSchema) -> str | None:
    """The first identifier column whose values repeat (a patient with several rows), or
    None. The split keeps each of its values on one side, and the detection classifier's
    folds keep a patient's rows together (split, a patient's twin rows give it away)."""
    for col in schema.columns:
        if col.kind == "identifier" and col.name in frame.columns:
            values = frame[col.name].dropna()
            if values.duplicated().any() and values.nunique() >= MIN_SPLIT_ROWS:
                return col.name
    return None


def group_codes(values: pd.Series) -> np.ndarray:
    """Integer group of each row: equal ids share one; a missing id is a group of its own."""
    codes = pd.factorize(values)[0]
    lone = codes < 0
    codes[lone] = codes.max(initial=-1) + 1 + np.arange(int(lone.sum()))
    return codes


def unseen_in_train(train: pd.DataFrame, schema: TableSchema) -> tuple[TableSchema, list[str]]:
    """The schema with modelled columns that have no value in ``train`` left unmodelled.

    A column recorded for a handful of rows (a lab taken for two patients of fifty) can have
    all its values fall in the holdout. No generator can learn it from the training rows, so
    it is left out of the synthetic data like an identifier, and the run says so; before, the
    run stopped telling the user that the column "has no values", which their file
    contradicts. The target is left alone (its absence is the user's to hear about).
    Returns the schema and the names of those columns.
    """
    empty = [c.name for c in schema.columns
             if c.modelled and c.name in train.columns and "target" not in c.roles
             and without_codes(train[c.name], c).isna().all()]
    if not empty:
        return schema, []
    columns = tuple(replace(c, kind="identifier", roles=frozenset()) if c.name in empty else c
                    for c in schema.columns)
    return replace(schema, columns=columns), empty
