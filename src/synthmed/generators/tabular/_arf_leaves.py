"""The numeric core of adversarial random forests: the adversarial loop, leaves and their draws.

Everything here works on one encoded float matrix (rows x columns): numbers and dates as
floats (a missing value as a sentinel below the column's range), categories as integer codes
(missing as one more code). The generator in ``arf.py`` owns the encoding, the parameters and
persistence; this module owns the arithmetic, vectorised over rows and leaves.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.ensemble import RandomForestClassifier

__all__ = [
    "adversarial_forest",
    "density_leaves",
    "draw_codes",
    "draw_from_grids",
    "leaf_counts",
    "leaf_quantiles",
    "sample_from_cumulative",
]

#: the forest uses both cores; sampling and leaf statistics are numpy
N_JOBS = 2


def adversarial_forest(x: np.ndarray, *, n_estimators: int, min_samples_leaf: int,
                       max_iters: int, delta: float, early_stop: bool,
                       rng: np.random.Generator) -> tuple[RandomForestClassifier, list[float]]:
    """Fit forests that separate real rows from synthetic ones until they no longer can.

    The first synthetic table draws every column independently (the product of marginals).
    Each round then redraws it from the current forest (a real row's leaf in a random tree,
    each column from a random real row of that leaf) and refits, until the out-of-bag
    accuracy is at most ``0.5 + delta``, ``max_iters`` rounds have run, or (``early_stop``)
    the accuracy rose. Returns the last forest and the accuracy of every round.
    """
    n = len(x)
    x32 = x.astype(np.float32)
    synth = x[rng.integers(0, n, size=x.shape), np.arange(x.shape[1])]
    accuracies: list[float] = []
    while True:
        forest = RandomForestClassifier(
            n_estimators=n_estimators, min_samples_leaf=min_samples_leaf, max_features="sqrt",
            oob_score=True, n_jobs=N_JOBS, random_state=int(rng.integers(2**31 - 1)),
        )
        labels = np.repeat([1, 0], [n, n])
        with warnings.catch_warnings():
            # with few trees some rows are in every bootstrap sample; they are left out below
            warnings.filterwarnings("ignore", message="Some inputs do not have OOB scores")
            forest.fit(np.vstack([x32, synth.astype(np.float32)]), labels)
        accuracies.append(_oob_accuracy(forest, labels))
        done = accuracies[-1] <= 0.5 + delta or len(accuracies) > max_iters
        if done or (early_stop and len(accuracies) > 1 and accuracies[-1] > accuracies[-2]):
            return forest, accuracies
        synth = _resample(x, forest.apply(x32), rng)


def _oob_accuracy(forest: RandomForestClassifier, labels: np.ndarray) -> float:
    """Out-of-bag accuracy over the rows that some tree left out (0.5 if none did)."""
    votes = forest.oob_decision_function_
    scored = votes.sum(axis=1) > 0
    if not scored.any():
        return 0.5
    predicted = forest.classes_[np.argmax(votes[scored], axis=1)]
    return float(np.mean(predicted == labels[scored]))


def _resample(x: np.ndarray, leaves: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rows drawn from the forest: a leaf by real coverage, then each column within it."""
    n, n_trees = leaves.shape
    # one key per (tree, leaf); real rows sorted by key give each leaf a contiguous block
    keys = (leaves + np.arange(n_trees) * (leaves.max() + 1)).ravel()
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    # a random real row in a random tree picks a leaf with probability its coverage
    chosen = keys[rng.integers(0, n, size=n) * n_trees + rng.integers(0, n_trees, size=n)]
    start = np.searchsorted(sorted_keys, chosen, side="left")
    count = np.searchsorted(sorted_keys, chosen, side="right") - start
    offsets = (rng.random((n, x.shape[1])) * count[:, None]).astype(np.int64)
    rows = order[start[:, None] + offsets] // n_trees
    return x[rows, np.arange(x.shape[1])]


def density_leaves(forest: RandomForestClassifier, x: np.ndarray,
                   min_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leaves of the density model: every tree's deepest nodes holding ``min_rows`` real rows.

    A real row belongs, in each tree, to the deepest node on its path that holds at least
    ``min_rows`` real rows (its leaf, or an ancestor where the leaf is too small): leaves of
    one or two patients would reproduce those patients. A node's parameters are estimated from
    all real rows below it; its weight is the rows assigned to it.

    Returns
    -------
    member_rows, member_leaves : ndarray
        Pairs (real row, leaf) over which each leaf's parameters are estimated.
    coverage : ndarray of int
        Real rows assigned to each leaf (each tree's coverages sum to the number of rows).
    """
    x32 = x.astype(np.float32)
    n = len(x)
    min_rows = min(min_rows, n)
    rows_out, leaves_out, coverage = [], [], []
    offset = 0
    for tree in forest.estimators_:
        path = tree.decision_path(x32)
        nodes, indptr = path.indices, path.indptr
        counts = np.bincount(nodes, minlength=tree.tree_.node_count)
        # node ids grow with depth along a path, so the deepest large-enough node is the max
        candidates = np.where(counts[nodes] >= min_rows, nodes, -1)
        assigned = np.maximum.reduceat(candidates, indptr[:-1])
        used, local = np.unique(assigned, return_inverse=True)
        lookup = np.full(tree.tree_.node_count, -1, dtype=np.int64)
        lookup[used] = np.arange(len(used))
        member = lookup[nodes]
        keep = member >= 0
        rows_out.append(np.repeat(np.arange(n), np.diff(indptr))[keep])
        leaves_out.append(member[keep] + offset)
        coverage.append(np.bincount(local.ravel(), minlength=len(used)))
        offset += len(used)
    return np.concatenate(rows_out), np.concatenate(leaves_out), np.concatenate(coverage)


def leaf_quantiles(values: np.ndarray, rows: np.ndarray, leaves: np.ndarray, n_leaves: int,
                   n_quantiles: int, fallback: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each leaf's quantile grid of a column's observed values, and its observed count.

    Grid points are at probabilities ``linspace(0, 1, n_quantiles)`` (linear interpolation
    between order statistics); a leaf with no observed value gets ``fallback``.
    """
    v, g = values[rows], leaves
    seen = ~np.isnan(v)
    v, g = v[seen], g[seen]
    order = np.lexsort((v, g))
    v = v[order]
    n_obs = np.bincount(g, minlength=n_leaves)
    start = np.concatenate([[0], np.cumsum(n_obs)[:-1]])
    pos = np.linspace(0.0, 1.0, n_quantiles)[None, :] * np.maximum(n_obs - 1, 0)[:, None]
    low = np.floor(pos).astype(np.int64)
    frac = pos - low
    last = max(len(v) - 1, 0)
    at_low = v[np.minimum(start[:, None] + low, last)]
    at_high = v[np.minimum(start[:, None] + np.minimum(low + 1, np.maximum(n_obs - 1, 0)[:, None]),
                           last)]
    grid = at_low + frac * (at_high - at_low)
    grid[n_obs == 0] = fallback
    return grid, n_obs


def leaf_counts(codes: np.ndarray, rows: np.ndarray, leaves: np.ndarray, n_leaves: int,
                n_codes: int) -> np.ndarray:
    """Count of each code among each leaf's real rows, shape (n_leaves, n_codes)."""
    flat = leaves * n_codes + codes[rows]
    return np.bincount(flat, minlength=n_leaves * n_codes).reshape(n_leaves, n_codes)


def sample_from_cumulative(cumulative: np.ndarray, group: np.ndarray,
                           rng: np.random.Generator) -> np.ndarray:
    """One index per row from the row's group's cumulative distribution (rows of ``cumulative``).

    ``cumulative`` has shape (n_groups, k), each row non-decreasing and ending at 1.
    """
    n_groups, k = cumulative.shape
    # consecutive groups stacked into one increasing sequence: group g occupies (g, g + 1]
    stacked = (cumulative + np.arange(n_groups)[:, None]).ravel()
    target = group + rng.random(len(group))
    index = np.searchsorted(stacked, target, side="right") - group * k
    return np.clip(index, 0, k - 1)


def draw_from_grids(grids: np.ndarray, leaf: np.ndarray, rng: np.random.Generator, *,
                    discrete: bool = False) -> np.ndarray:
    """A value per row from its leaf's piecewise-linear quantile function.

    ``discrete``: the grid point nearest the drawn position instead (no interpolation).
    """
    q = grids.shape[1]
    pos = rng.random(len(leaf)) * (q - 1)
    if discrete:
        return grids[leaf, np.rint(pos).astype(np.int64)]
    low = np.minimum(pos.astype(np.int64), q - 2)
    frac = pos - low
    at_low = grids[leaf, low]
    return at_low + frac * (grids[leaf, low + 1] - at_low)


def draw_codes(cumulative: np.ndarray, leaf: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A code per row from its leaf's cumulative category distribution (n_leaves, n_codes)."""
    u = rng.random(len(leaf))
    codes = np.zeros(len(leaf), dtype=np.int64)
    for j in range(cumulative.shape[1] - 1):  # few codes: one comparison per code
        codes += u >= cumulative[leaf, j]
    return codes


def snap_to_support(values: np.ndarray, support: np.ndarray, rng: np.random.Generator, *,
                    stochastic: bool = True) -> np.ndarray:
    """Move each value onto the sorted ``support``: to a neighbour with probability by
    proximity (``stochastic``, which keeps the mean), else to the nearest."""
    if len(support) == 1:
        return np.full(len(values), support[0])
    k = np.clip(np.searchsorted(support, values, side="right") - 1, 0, len(support) - 2)
    low, high = support[k], support[k + 1]
    share = np.clip((values - low) / (high - low), 0.0, 1.0)
    up = rng.random(len(values)) < share if stochastic else share > 0.5
    return np.where(up, high, low)
