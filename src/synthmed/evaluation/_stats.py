"""Distances between marginals and association measures, shared by the fidelity section.

Every function is vectorised and takes plain arrays or Series; none reads an ``EvalContext``.

* :func:`ks_distance` — two-sample Kolmogorov–Smirnov statistic (missing values ignored).
* :func:`tv_distance` — total variation between two category distributions.
* :func:`cramers_v`, :func:`correlation_ratio` — association in [0, 1] from integer codes.
* :func:`association_matrix` — every column pair of a mixed table: Spearman (number–number,
  signed), Cramér's V (category–category), correlation ratio η (number–category).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "as_float",
    "association_matrix",
    "category_codes",
    "correlation_ratio",
    "cramers_v",
    "ks_distance",
    "tv_distance",
]


def as_float(values: pd.Series) -> np.ndarray:
    """Numbers as float, datetimes as days since 1970-01-01, anything else missing as NaN."""
    if pd.api.types.is_datetime64_any_dtype(values):
        out = values.astype("int64").to_numpy(dtype=float) / 86_400e9
        out[values.isna().to_numpy()] = np.nan
        return out
    if pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=float)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample KS statistic: the largest gap between the two empirical CDFs (NaN ignored).

    Returns 0.0 when both samples are empty and 1.0 when exactly one is.
    """
    a = np.sort(a[np.isfinite(a)])
    b = np.sort(b[np.isfinite(b)])
    if len(a) == 0 or len(b) == 0:
        return 0.0 if len(a) == len(b) else 1.0
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / len(a)
    cdf_b = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(cdf_a - cdf_b)))


def tv_distance(a: pd.Series, b: pd.Series) -> float:
    """Total variation distance of the (non-missing) category shares of ``a`` and ``b``."""
    pa = a.dropna().astype(object).value_counts(normalize=True)
    pb = b.dropna().astype(object).value_counts(normalize=True)
    if len(pa) == 0 or len(pb) == 0:
        return 0.0 if len(pa) == len(pb) else 1.0
    joined = pd.concat([pa, pb], axis=1).fillna(0.0).to_numpy()
    return float(0.5 * np.abs(joined[:, 0] - joined[:, 1]).sum())


def category_codes(values: pd.Series, levels: Sequence[Any]) -> np.ndarray:
    """Integer codes: ``levels`` in order, then "other", then "missing"."""
    obj = values.astype(object)
    codes = pd.Index(list(levels), dtype=object).get_indexer(obj)
    codes = np.where(codes < 0, len(levels), codes)
    codes[obj.isna().to_numpy()] = len(levels) + 1
    return codes.astype(np.int64)


def cramers_v(x: np.ndarray, y: np.ndarray) -> float:
    """Cramér's V (no bias correction) of two integer-coded variables; 0 when undefined."""
    _, x = np.unique(x, return_inverse=True)
    _, y = np.unique(y, return_inverse=True)
    r, c = int(x.max(initial=-1)) + 1, int(y.max(initial=-1)) + 1
    n = len(x)
    if n == 0 or r < 2 or c < 2:
        return 0.0
    table = np.bincount(x * c + y, minlength=r * c).reshape(r, c).astype(float)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(np.sqrt(min(1.0, chi2 / (n * (min(r, c) - 1)))))


def correlation_ratio(codes: np.ndarray, values: np.ndarray) -> float:
    """Correlation ratio η of a number on a category (rows with a missing number dropped)."""
    keep = np.isfinite(values)
    codes, values = codes[keep], values[keep]
    if len(values) < 2:
        return 0.0
    _, codes = np.unique(codes, return_inverse=True)
    counts = np.bincount(codes)
    means = np.bincount(codes, weights=values) / counts
    total = float(((values - values.mean()) ** 2).sum())
    if total <= 0:
        return 0.0
    between = float((counts * (means - values.mean()) ** 2).sum())
    return float(np.sqrt(min(1.0, max(0.0, between / total))))


def _spearman(block: np.ndarray) -> np.ndarray:
    """Pairwise-complete Spearman correlation of the columns of ``block`` (NaN = missing);
    0 for a pair with fewer than 3 rows where both are observed, or a constant column there.

    Columns without missing values are ranked once and correlated in one matrix product;
    only pairs with a partly missing column are ranked again on the rows they share (a
    pandas call per pair took 112 s on three 25-row tables of 400 numbers).
    """
    from scipy.stats import rankdata

    k = block.shape[1]
    out = np.eye(k)
    finite = np.isfinite(block)
    complete = np.flatnonzero(finite.all(axis=0))
    if len(complete) >= 2 and len(block) >= 3:
        ranks = rankdata(block[:, complete], axis=0)
        varies = ranks.std(axis=0) > 0
        with np.errstate(all="ignore"):
            corr = np.corrcoef(ranks, rowvar=False)
        corr[~varies, :] = corr[:, ~varies] = 0.0
        out[np.ix_(complete, complete)] = corr
        np.fill_diagonal(out, 1.0)
    is_partial = ~finite.all(axis=0)
    for i in np.flatnonzero(is_partial):
        for j in range(k):
            if j == i or (is_partial[j] and j < i):
                continue  # the diagonal, or a pair of partial columns already done
            both = finite[:, i] & finite[:, j]
            if both.sum() < 3:
                out[i, j] = out[j, i] = 0.0
                continue
            ranks = rankdata(block[both][:, [i, j]], axis=0)
            if ranks.std(axis=0).min() <= 0:
                out[i, j] = out[j, i] = 0.0
                continue
            out[i, j] = out[j, i] = float(np.corrcoef(ranks[:, 0], ranks[:, 1])[0, 1])
    return out


def association_matrix(
    frame: pd.DataFrame,
    numeric: Sequence[str],
    levels: dict[str, list[Any]],
) -> tuple[list[str], np.ndarray]:
    """Association of every column pair, in the order numeric columns then categorical ones.

    Parameters
    ----------
    frame : DataFrame
    numeric : sequence of str
        Numeric, integer and datetime columns (ranked: Spearman's rho, signed).
    levels : dict
        Categorical column -> the levels kept (from train); others share "other" and missing
        values form a level of their own, for Cramér's V and the correlation ratio.

    Returns
    -------
    (names, matrix)
        The column order and a symmetric matrix with ones on the diagonal; undefined
        associations (a constant column) are 0.
    """
    names = [*numeric, *levels]
    k = len(names)
    out = np.eye(k)
    nums = np.column_stack([as_float(frame[c]) for c in numeric]) if numeric else None
    cats = [category_codes(frame[c], lv) for c, lv in levels.items()]
    p = len(numeric)
    if nums is not None:
        out[:p, :p] = _spearman(nums)
    for a, ca in enumerate(cats):
        for b in range(a + 1, len(cats)):
            out[p + a, p + b] = out[p + b, p + a] = cramers_v(ca, cats[b])
        for j in range(p):
            assert nums is not None
            out[p + a, j] = out[j, p + a] = correlation_ratio(ca, nums[:, j])
    return names, out
