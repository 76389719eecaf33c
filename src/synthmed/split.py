"""Train/holdout split: the holdout is fresh real data, the reference of every metric."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthmed._random import RandomState, make_rng
from synthmed.exceptions import DataError, ParameterError

__all__ = ["MIN_SPLIT_ROWS", "train_holdout_split"]

MIN_SPLIT_ROWS = 10


def train_holdout_split(
    data: pd.DataFrame,
    *,
    holdout_fraction: float = 0.5,
    stratify: str | None = None,
    random_state: RandomState = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into train and holdout (50/50 by default, as privacy tests prefer).

    Parameters
    ----------
    data : DataFrame
    holdout_fraction : float
        Share of rows held out, between 0.3 and 0.7.
    stratify : str, optional
        Column whose value shares are kept equal in both parts (e.g. the target).
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
    if stratify is not None and stratify in data.columns:
        keys = data[stratify].astype(object).where(data[stratify].notna(), "\x00NA").astype(str)
        holdout_idx = []
        for _, positions in keys.groupby(keys).indices.items():
            positions = rng.permutation(positions)
            holdout_idx.extend(positions[: round(len(positions) * holdout_fraction)])
        mask = np.zeros(len(data), dtype=bool)
        mask[np.asarray(holdout_idx, dtype=int)] = True
    else:
        order = rng.permutation(len(data))
        mask = np.zeros(len(data), dtype=bool)
        mask[order[: round(len(data) * holdout_fraction)]] = True
    return data[~mask].reset_index(drop=True), data[mask].reset_index(drop=True)
