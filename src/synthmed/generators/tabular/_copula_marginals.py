"""Marginal transforms and correlation helpers of the Gaussian copula generator.

Every column is mapped to a standard-normal latent variable and back:

* continuous columns (numeric, integer, datetime as epoch nanoseconds) through an empirical
  quantile function with linear interpolation, stored as a fixed grid of quantiles;
* categorical columns through frequency-ordered intervals of ``[0, 1]`` (SDV-style): a category
  of frequency ``f`` owns an interval of width ``f``, and a value's latent is drawn uniformly
  inside it, which is a draw from the truncated normal of that interval;
* a column's missingness through the same interval scheme with two "categories",
  present and missing, so that missingness joins the copula.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

__all__ = [
    "CategoricalMarginal",
    "QuantileMarginal",
    "draw_in",
    "latent_to_intervals",
    "nearest_correlation",
    "normal_scores",
    "pairwise_correlation",
    "truncated_gibbs",
]

#: uniforms are kept in [EPS, 1 - EPS] so that latents stay finite (|z| < 4.8)
EPS = 1e-6
#: smallest eigenvalue kept when projecting a correlation matrix to positive definite
MIN_EIGENVALUE = 1e-4
#: pairs of variables observed together on fewer rows get no correlation
MIN_PAIR_ROWS = 3


def normal_scores(u: np.ndarray) -> np.ndarray:
    """Standard-normal quantiles of uniforms, clipped away from 0 and 1."""
    return ndtri(np.clip(u, EPS, 1.0 - EPS))


def draw_in(low: np.ndarray, high: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Standard-normal draws truncated to ``[ndtri(low), ndtri(high)]`` (bounds as uniforms)."""
    return normal_scores(low + rng.random(low.shape) * (high - low))


def truncated_gibbs(z: np.ndarray, low: np.ndarray, high: np.ndarray, corr: np.ndarray,
                    sweeps: int, rng: np.random.Generator, *,
                    skip: int | None = None) -> np.ndarray:
    """Gibbs sweeps over latents ``z`` (rows x variables) with correlation ``corr``.

    Each variable is redrawn from its normal conditional on the others, truncated to its
    interval ``[ndtri(low), ndtri(high)]`` (``low = 0, high = 1``: unconstrained, e.g. a
    missing value). Variables whose intervals are all as narrow as one rank of ``n`` (untied
    continuous values) are left as they are: redrawing them would change nothing; so are the
    variables from index ``skip`` on.
    """
    z = z.copy()
    precision = np.linalg.inv(corr)
    with np.errstate(divide="ignore"):
        # +-8 stands for +-inf: a point interval at u = 0 or 1 (a condition at the training
        # minimum or maximum) must not put an infinite latent into the products below
        z_low, z_high = np.clip(ndtri(low), -8.0, 8.0), np.clip(ndtri(high), -8.0, 8.0)
    width = (high - low).max(axis=0)
    active = np.flatnonzero(width > 1.5 / len(z))
    active = active[active < skip] if skip is not None else active
    for _ in range(sweeps):
        for j in active:
            p_jj = precision[j, j]
            mean = -(z @ precision[:, j] - p_jj * z[:, j]) / p_jj
            sd = 1.0 / np.sqrt(p_jj)
            p_low, p_high = ndtr((z_low[:, j] - mean) / sd), ndtr((z_high[:, j] - mean) / sd)
            u = np.clip(p_low + rng.random(len(z)) * (p_high - p_low), 1e-12, 1 - 1e-12)
            # far in a tail p_low == p_high; the clip keeps the draw inside the interval
            z[:, j] = np.clip(mean + sd * ndtri(u), z_low[:, j], z_high[:, j])
    return np.clip(z, -8.0, 8.0)


def latent_to_intervals(z: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Index of the interval each latent falls in (inverse of :func:`intervals_to_latent`)."""
    # compare on the normal scale: one ndtri over k + 1 bounds instead of ndtr over n latents
    with np.errstate(divide="ignore"):
        bounds = ndtri(cuts)
    codes = np.searchsorted(bounds, z, side="right") - 1
    return np.clip(codes, 0, len(cuts) - 2)


@dataclass
class QuantileMarginal:
    """Empirical quantile function of a continuous column on a regular probability grid.

    Only ``grid`` (quantiles at ``linspace(0, 1, len(grid))``) is kept, never the data; its
    first and last entries are the training minimum and maximum, which bound every output.
    """

    grid: np.ndarray

    @classmethod
    def fit(cls, observed: np.ndarray, n_quantiles: int) -> QuantileMarginal:
        return cls(np.quantile(observed, np.linspace(0.0, 1.0, n_quantiles)))

    @property
    def constant(self) -> bool:
        return bool(self.grid[0] == self.grid[-1])

    @staticmethod
    def training_intervals(observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each training value's interval of the empirical CDF, ``[F(x-), F(x)]``.

        Values tied with others (integer, rounded or constant columns) span all their ranks,
        so that a latent drawn inside stays exactly standard normal (the rank likelihood).
        """
        ordered = np.sort(observed)
        below = np.searchsorted(ordered, observed, side="left")
        upto = np.searchsorted(ordered, observed, side="right")
        return below / len(observed), upto / len(observed)

    def intervals(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """CDF interval of new values (conditions) through the stored quantile grid.

        A point for most values; the whole run for a value equal to a run of equal quantiles.
        Values outside the training range map to the ends.
        """
        grid, probs = self.grid, np.linspace(0.0, 1.0, len(self.grid))
        # one search, where np.interp and two searchsorted made three: a million rows' label
        # chain spent a quarter of its draw here. ``last``: the last grid point <= the value
        last = np.searchsorted(grid, values, side="right") - 1
        j = np.clip(last, 0, len(grid) - 2)
        with np.errstate(divide="ignore", invalid="ignore"):  # runs of equal quantiles
            slopes = np.diff(probs) / np.diff(grid)  # np.interp's formula, to the bit
            u = slopes[j] * (values - grid[j]) + probs[j]
        u = np.where(values >= grid[-1], 1.0, np.where(values <= grid[0], 0.0, u))
        on_point = (last >= 0) & (grid[np.maximum(last, 0)] == values)
        u[on_point] = probs[last[on_point]]
        first = np.searchsorted(grid, grid, side="left")[np.maximum(last, 0)]  # run starts
        tied = on_point & (first < last)
        low, high = u.copy(), u.copy()
        low[tied], high[tied] = probs[first[tied]], probs[last[tied]]
        return low, high

    def decode(self, z: np.ndarray) -> np.ndarray:
        probs = np.linspace(0.0, 1.0, len(self.grid))
        # clip guards against interpolation landing one ulp outside the training range
        return np.clip(np.interp(ndtr(z), probs, self.grid), self.grid[0], self.grid[-1])


@dataclass
class CategoricalMarginal:
    """Categories, each owning an interval of ``[0, 1]``: numbers (a stage, a grade, a
    0/1 flag) in their own order, so that the latent's order is theirs; other labels in
    decreasing frequency.

    A Gaussian latent can only say "higher" or "lower": with stage 1-4 ordered by frequency
    (3, 4, 2, 1) a stage that rises with age would have to rise, fall and rise again.
    """

    categories: list[Any]
    cuts: np.ndarray
    dtype: str

    @classmethod
    def fit(cls, series: pd.Series) -> tuple[CategoricalMarginal, np.ndarray]:
        """Learn the categories of ``series``; return the marginal and each row's code."""
        codes, uniques = _factorize(series)
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
        numbers = (pd.api.types.is_numeric_dtype(series)
                   and not pd.api.types.is_bool_dtype(series))
        # _factorize sorts the uniques where it can: numbers keep that order
        order = np.arange(len(uniques)) if numbers else np.argsort(-counts, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        codes = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1)
        freqs = counts[order] / counts.sum()
        cuts = np.concatenate([[0.0], np.cumsum(freqs)])
        cuts[-1] = 1.0
        categories = [_plain(v) for v in np.asarray(uniques, dtype=object)[order]]
        return cls(categories, cuts, str(series.dtype)), codes

    @property
    def constant(self) -> bool:
        return len(self.categories) == 1

    @property
    def labels(self) -> bool:
        """Text labels (in frequency order), not numbers or yes/no in their own order."""
        dtype = pd.api.types.pandas_dtype(self.dtype)
        return not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))

    def from_codes(self, codes: np.ndarray) -> np.ndarray | pd.Series:
        """Category values of ``codes`` (``len(categories)``: missing), in the source dtype."""
        values = np.asarray([*self.categories, np.nan], dtype=object)
        return _to_dtype(values[codes], self.dtype,
                         bool((codes == len(self.categories)).any()))

    def index(self) -> pd.Index:
        return pd.Index(self.categories)

    def codes_of(self, values: pd.Series) -> np.ndarray:
        """Code of each value; -1 for missing or unknown values."""
        return self.index().get_indexer(values)

    def decode(self, z: np.ndarray, missing: np.ndarray) -> np.ndarray | pd.Series:
        """Category values for latents ``z``, missing where ``missing``, in the source dtype."""
        values = np.asarray([*self.categories, np.nan], dtype=object)
        codes = np.where(missing, len(self.categories), latent_to_intervals(z, self.cuts))
        return _to_dtype(values[codes], self.dtype, bool(missing.any()))


def pairwise_correlation(z: np.ndarray, observed: np.ndarray, *,
                         centred: bool = False) -> np.ndarray:
    """Correlation of standard-normal latents over the rows where both are observed.

    The latents have mean 0 and variance 1 by construction, so a pair's correlation is
    ``sum(z_i z_j) / sqrt(sum(z_i^2) sum(z_j^2))`` over its complete rows, computed for all
    pairs at once by matrix products. ``centred``: each pair's means over its complete rows
    are taken out first (normal scores of a pair's subset need not have mean 0).
    """
    mask = observed.astype(float)
    z0 = np.where(observed, z, 0.0)
    # einsum rather than BLAS: tall-skinny products gain nothing from threads, and threaded
    # BLAS slows down a hundredfold on a busy machine
    cross = np.einsum("ni,nj->ij", z0, z0)
    squares = np.einsum("ni,nj->ij", z0**2, mask)  # sum of z_i^2 where i and j are observed
    pairs = np.einsum("ni,nj->ij", mask, mask)
    if centred:
        n = np.maximum(pairs, 1.0)
        total = np.einsum("ni,nj->ij", z0, mask)  # sum of z_i where j is observed too
        cross = cross - total * total.T / n
        squares = np.maximum(squares - total**2 / n, 0.0)
    denom = np.sqrt(squares * squares.T)
    ok = (pairs >= MIN_PAIR_ROWS) & (denom > 0)
    corr = np.divide(cross, denom, out=np.zeros_like(cross), where=ok)
    np.fill_diagonal(corr, 1.0)
    return np.clip(corr, -1.0, 1.0)


def nearest_correlation(corr: np.ndarray, shrinkage: float = 0.0) -> np.ndarray:
    """Shrink towards the identity, then project to the nearest positive-definite correlation.

    Pairwise-complete estimates need not be positive semi-definite; clipping the eigenvalues
    and restoring the unit diagonal gives a valid matrix close to the estimate.
    """
    corr = (1.0 - shrinkage) * (corr + corr.T) / 2.0 + shrinkage * np.eye(len(corr))
    vals, vecs = np.linalg.eigh(corr)
    fixed = (vecs * np.maximum(vals, MIN_EIGENVALUE)) @ vecs.T
    scale = 1.0 / np.sqrt(np.diag(fixed))
    fixed = fixed * scale[:, None] * scale[None, :]
    np.fill_diagonal(fixed, 1.0)
    return fixed


def jsonable_categories(categories: Sequence[Any]) -> list[Any]:
    """Categories as JSON values; anything not a JSON scalar is written as its text."""
    return [v if v is None or isinstance(v, bool | int | float | str) else str(v)
            for v in categories]


def _factorize(series: pd.Series) -> tuple[np.ndarray, Any]:
    try:  # sorted uniques make the tie order independent of row order
        return pd.factorize(series, sort=True)
    except TypeError:  # mixed, unorderable types: first-seen order
        return pd.factorize(series, sort=False)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _to_dtype(values: np.ndarray, dtype: str, has_missing: bool) -> np.ndarray | pd.Series:
    """Cast sampled category values back to the training column's canonical dtype."""
    target = pd.api.types.pandas_dtype(dtype)
    if target == np.dtype(object):
        return values
    if isinstance(target, np.dtype) and target.kind in "iu" and has_missing:
        target = np.dtype(float)  # integer codes with NaN are floats, as pandas reads them
    elif isinstance(target, np.dtype) and target.kind == "b" and has_missing:
        return values
    try:
        return pd.Series(values).astype(target)
    except (TypeError, ValueError):
        return values
