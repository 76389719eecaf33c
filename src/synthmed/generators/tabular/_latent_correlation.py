"""The Gaussian copula's latent correlation, pair by pair, by maximum likelihood.

Every latent is known only up to an interval of the uniform scale (a value's rank interval, a
category's, a missing indicator's). Where the intervals are narrow (a continuous column) the
latent is its normal score; where they are wide (a category, a few-valued integer, a missing
indicator) only the interval is known. Each pair's correlation is the one most likely to have
produced what was seen, over the rows where both are observed:

* two narrow latents: the correlation of their normal scores;
* a narrow and a wide one: the polyserial likelihood (the interval the wide latent fell in,
  given the other's score);
* two wide ones: the polychoric likelihood of their table of intervals (bivariate normal
  rectangle probabilities).

The likelihoods run on counts, not rows: scores are rounded to a 0.25 grid (Sheppard's
correction undoes the 0.3% shrinkage that causes) and a wide latent's intervals merged,
neighbours together, into at most ``MAX_GROUPS`` (a zero-inflated measurement is wide, yet has
thousands of distinct values), so a pair costs the same on a million rows as on a thousand.
They are maximised over a grid of correlations for many pairs at once: every narrow latent
against one wide latent, and wide pairs of the same table shape in chunks. Fit of the copula
(`benchmarks/bench_copula_fit.py`): medicaldata::opt (195 latents, 15,000 pairs) 3.7 s, the
Gibbs sweeps 1.3 s (a scalar optimiser per pair took 10 s); 200,000 rows x 30 columns 5.7 s,
the sweeps 17.7 s.

It replaced a stochastic EM (truncated Gibbs sweeps from latents drawn inside their intervals),
which wanders where a column says little about its latent: a rare outcome's latent is only
"below the cut" on most rows. On one nafld2 training half, ten sweeps put the latent
correlation of sex and death anywhere from -0.03 to 0.57 depending on the random seed alone
(maximum likelihood: -0.01), and that of age and death at 0.18-0.21 (here 0.57); synthetic
deaths then came at the wrong ages.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations

import numpy as np
from scipy import special

from synthmed.generators.tabular._copula_marginals import pairwise_correlation

__all__ = ["latent_correlation"]

#: a latent whose intervals cover more than this share of [0, 1] on average (the chance that
#: two of its rows tie) is treated as known only up to its interval
WIDE = 0.05
#: a wide latent's intervals are merged (neighbours together) into at most this many
MAX_GROUPS = 16
#: the grid normal scores are rounded to in the polyserial likelihood (the rounding's
#: variance, step^2 / 12, is taken back out of the estimate: Sheppard's correction)
SCORE_STEP = 0.25
#: a pair needs this many rows where both are observed
MIN_PAIR_ROWS = 5
#: bound of the searched correlation, and of the normal scale (Phi(8) = 1 - 6e-16)
MAX_RHO, EDGE = 0.995, 8.0
#: points of the score grid, -EDGE to EDGE
N_BINS = 2 * round(EDGE / SCORE_STEP) + 1
#: the likelihood is evaluated on this grid of correlations, then on a grid three times finer
#: around the best point, then a parabola through the best three
COARSE = np.linspace(-0.99, 0.99, 21)
FINE_STEPS = np.linspace(-1.0, 1.0, 7)
#: elements of the largest array a chunk of wide pairs may build (bounds memory: 64 MB)
CHUNK_ELEMENTS = 8_000_000
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(12)


def latent_correlation(low: np.ndarray, high: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Pairwise maximum-likelihood correlation of latents known up to ``[low, high]``.

    Parameters
    ----------
    low, high : ndarray of shape (n_rows, n_latent)
        Each latent's interval on the uniform scale; a column's intervals partition [0, 1]
        (ranks of tied values, categories, missing or not).
    observed : ndarray of bool, same shape
        Where the latent is known (a pair uses the rows where both are).

    Returns
    -------
    ndarray of shape (n_latent, n_latent): symmetric, unit diagonal, not yet projected to a
    positive-definite matrix; a pair with fewer than ``MIN_PAIR_ROWS`` rows, or with one
    interval only on them, gets 0.
    """
    n_latent = low.shape[1]
    seen = np.maximum(observed.sum(axis=0), 1)
    width = np.where(observed, high - low, 0.0).sum(axis=0) / seen
    # a column of distinct values has intervals of 1 / rows: on a few dozen rows that alone
    # passes WIDE, and every pair of a 17-row, 400-column table went through the polychoric
    # likelihood (minutes); it is wide only where its values tie (two rows a value on average)
    wide = (width > WIDE) & (width > 2.0 / seen)
    mid = np.clip((low + high) / 2.0, 1e-12, 1.0 - 1e-12)
    scores = np.where(observed, special.ndtri(mid), 0.0)
    narrow_idx, wide_idx = np.flatnonzero(~wide), np.flatnonzero(wide)
    corr = np.eye(n_latent)
    corr[np.ix_(narrow_idx, narrow_idx)] = np.clip(pairwise_correlation(
        scores[:, narrow_idx], observed[:, narrow_idx], centred=True), -MAX_RHO, MAX_RHO)
    np.fill_diagonal(corr, 1.0)
    groups = {j: _Groups.of(low[:, j], high[:, j], observed[:, j]) for j in wide_idx}
    if len(narrow_idx):
        bins = np.rint(np.clip(scores[:, narrow_idx], -EDGE, EDGE) / SCORE_STEP).astype(np.int64)
        bins += N_BINS // 2
        for j in wide_idx:
            rho = _polyserial(bins, observed[:, narrow_idx], groups[j])
            corr[narrow_idx, j] = corr[j, narrow_idx] = rho
    by_shape: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for i, j in combinations(wide_idx, 2):
        by_shape.setdefault((groups[i].size, groups[j].size), []).append((i, j))
    for (size1, size2), pairs in by_shape.items():
        chunk = max(1, CHUNK_ELEMENTS // ((size1 + 1) * (size2 + 1) * len(COARSE) * len(_NODES)))
        for at in range(0, len(pairs), chunk):
            part = pairs[at:at + chunk]
            rho = _polychoric([groups[i] for i, _ in part], [groups[j] for _, j in part],
                              [observed[:, i] & observed[:, j] for i, j in part])
            for (i, j), r in zip(part, rho, strict=True):
                corr[i, j] = corr[j, i] = r
    return corr


class _Groups:
    """A wide latent's intervals merged into at most ``MAX_GROUPS`` neighbouring groups:
    ``code`` per row (-1 where unobserved), group ``g`` spanning ``cuts[g]..cuts[g + 1]`` on
    the normal scale."""

    def __init__(self, code: np.ndarray, cuts: np.ndarray) -> None:
        self.code, self.cuts = code, cuts

    @classmethod
    def of(cls, low: np.ndarray, high: np.ndarray, observed: np.ndarray) -> _Groups:
        code = np.full(len(low), -1, dtype=np.int64)
        starts = np.unique(low[observed])
        # an interval goes to the group of its start's position; a group ends where the next
        # begins, so merged neighbours still partition [0, 1]
        slot = np.minimum((starts * MAX_GROUPS).astype(np.int64), MAX_GROUPS - 1)
        first = np.r_[True, slot[1:] != slot[:-1]]
        group_of_start = np.cumsum(first) - 1
        code[observed] = group_of_start[np.searchsorted(starts, low[observed])]
        uniform = np.r_[starts[first], 1.0]
        cuts = np.clip(special.ndtri(uniform), -EDGE, EDGE)
        return cls(code, cuts)

    @property
    def size(self) -> int:
        return len(self.cuts) - 1


def _maximise(loglik: Callable[[np.ndarray], np.ndarray], n_pairs: int) -> np.ndarray:
    """Each pair's correlation of greatest ``loglik`` (pairs x grid -> pairs x grid): best of a
    coarse grid, then of a finer grid around it, then a parabola through the best three."""
    step = COARSE[1] - COARSE[0]
    best = COARSE[np.argmax(loglik(np.broadcast_to(COARSE, (n_pairs, len(COARSE)))), axis=1)]
    fine = np.clip(best[:, None] + FINE_STEPS * step, -MAX_RHO, MAX_RHO)
    values = loglik(fine)
    rows = np.arange(n_pairs)
    i = np.clip(np.argmax(values, axis=1), 1, fine.shape[1] - 2)
    y0, y1, y2 = values[rows, i - 1], values[rows, i], values[rows, i + 1]
    curve = y0 - 2.0 * y1 + y2
    shift = np.where(curve < 0, 0.5 * (y0 - y2) / np.where(curve < 0, curve, -1.0), 0.0)
    h = fine[rows, i + 1] - fine[rows, i]
    return np.clip(fine[rows, i] + np.clip(shift, -1.0, 1.0) * h, -MAX_RHO, MAX_RHO)


def _polyserial(bins: np.ndarray, observed: np.ndarray, wide: _Groups) -> np.ndarray:
    """Every narrow latent (rounded normal score ``bins``, rows x latents) against one wide
    latent's interval groups: one correlation per narrow latent."""
    n_narrow, n_bins, size = bins.shape[1], N_BINS, wide.size
    both = observed & (wide.code >= 0)[:, None]
    key = (np.arange(n_narrow) * n_bins + bins) * size + wide.code[:, None]
    counts = np.bincount(key[both], minlength=n_narrow * n_bins * size).astype(float)
    counts = counts.reshape(n_narrow, n_bins, size)
    rho = np.zeros(n_narrow)
    usable = (counts.sum(axis=(1, 2)) >= MIN_PAIR_ROWS) & (
        (counts.sum(axis=1) > 0).sum(axis=1) > 1)  # more than one interval on these rows
    x_all = (np.arange(n_bins) - (n_bins - 1) / 2) * SCORE_STEP
    per_bin = counts.sum(axis=2)
    total = np.maximum(per_bin.sum(axis=1, keepdims=True), 1.0)
    mean = per_bin @ x_all / total[:, 0]
    sd = np.sqrt(np.maximum(per_bin @ x_all ** 2 / total[:, 0] - mean ** 2, 0.0))
    usable &= sd > 0
    if not usable.any():
        return rho
    # the non-empty cells only, grouped by narrow latent: (latent, score, interval, count)
    cell_p, cell_b, cell_g = np.nonzero(counts[usable])
    n_cells = counts[usable][cell_p, cell_b, cell_g]
    x = (x_all[cell_b] - mean[usable][cell_p]) / sd[usable][cell_p]
    lower_cut, upper_cut = wide.cuts[cell_g][:, None], wide.cuts[cell_g + 1][:, None]
    starts = np.flatnonzero(np.r_[True, cell_p[1:] != cell_p[:-1]])

    def loglik(r: np.ndarray) -> np.ndarray:  # narrow x grid
        rc = r[cell_p]
        s = np.sqrt(1.0 - rc * rc)
        shifted = rc * x[:, None]
        p = special.ndtr((upper_cut - shifted) / s) - special.ndtr((lower_cut - shifted) / s)
        return np.add.reduceat(n_cells[:, None] * np.log(np.maximum(p, 1e-300)), starts, axis=0)

    # the scores were standardised with the rounding's variance in: take it back out
    sheppard = 1.0 / np.sqrt(np.maximum(1.0 - SCORE_STEP ** 2 / 12.0 / sd[usable] ** 2, 0.5))
    rho[usable] = np.clip(_maximise(loglik, int(usable.sum())) * sheppard, -MAX_RHO, MAX_RHO)
    return rho


def _polychoric(first: list[_Groups], second: list[_Groups],
                rows: list[np.ndarray]) -> np.ndarray:
    """Pairs of wide latents with the same numbers of groups: the likelihood of each pair's
    cross table, over the rows where both are observed."""
    size1, size2 = first[0].size, second[0].size
    counts = np.stack([np.bincount(a.code[r] * size2 + b.code[r], minlength=size1 * size2)
                       for a, b, r in zip(first, second, rows, strict=True)]).astype(float)
    counts = counts.reshape(len(rows), size1, size2)
    rho = np.zeros(len(rows))
    usable = ((counts.sum(axis=(1, 2)) >= MIN_PAIR_ROWS)
              & ((counts.sum(axis=2) > 0).sum(axis=1) > 1)
              & ((counts.sum(axis=1) > 0).sum(axis=1) > 1))
    if not usable.any():
        return rho
    keep = np.flatnonzero(usable)
    counts = counts[keep]
    h = np.stack([first[p].cuts for p in keep])[:, :, None]  # pair x cut1 x 1
    k = np.stack([second[p].cuts for p in keep])[:, None, :]  # pair x 1 x cut2

    def loglik(r: np.ndarray) -> np.ndarray:  # pair x grid
        grid = _bivariate_cdf(h[..., None], k[..., None], r[:, None, None, :])
        p = grid[:, 1:, 1:] - grid[:, :-1, 1:] - grid[:, 1:, :-1] + grid[:, :-1, :-1]
        return np.einsum("pab,pabr->pr", counts, np.log(np.maximum(p, 1e-300)))

    rho[keep] = _maximise(loglik, len(keep))
    return rho


def _bivariate_cdf(h: np.ndarray, k: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """P(X <= h, Y <= k) for standard normals of correlation ``rho`` (arrays broadcast
    together): Sheppard's integral over theta = arcsin(r), 12-point Gauss-Legendre (within
    2e-7 of scipy's for |rho| <= 0.99)."""
    h, k, rho = np.broadcast_arrays(np.asarray(h, float), np.asarray(k, float),
                                    np.asarray(rho, float))
    top = np.arcsin(rho)[..., None]
    theta = (_NODES + 1.0) * top / 2.0  # ... x node
    sin, cos2 = np.sin(theta), np.cos(theta) ** 2
    hh, kk, hk = (h * h)[..., None], (k * k)[..., None], (h * k)[..., None]
    integrand = np.exp(-(hh - 2.0 * hk * sin + kk) / (2.0 * cos2))
    area = (integrand @ _WEIGHTS) * top[..., 0] / 2.0 / (2.0 * np.pi)
    return special.ndtr(h) * special.ndtr(k) + area
