"""Multinomial logistic models of a category given the rest of a record, as plain arrays.

Used where one latent per column cannot hold a nominal link: a long record's labels
(:mod:`synthmed.generators.longitudinal._labels`) and a table's label columns under the
Gaussian copula (:mod:`synthmed.generators.tabular._label_chain`). A model is a
``(inputs + 1) x classes`` matrix of logit weights, intercept last, so that it saves as an
array and draws without scikit-learn.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["FOLD_ROWS", "KNOTS", "MIN_CHAIN_ROWS", "ROWS_PER_CLASS", "SURE_LOGIT",
           "draw_classes", "fit_multinomial", "hats", "one_hot"]

#: below this many rows the penalty is chosen over five folds of the groups (one fifth of a
#: few dozen patients cannot rank penalties), above on one fifth held out
FOLD_ROWS = 1_000
#: the penalty is ranked on about this many rows (a subset of whole groups beyond)
SEARCH_ROWS = 2_000
#: iterations of each fit
MAX_ITER = 100
#: a category column is modelled so only with this many rows per category (fewer: nearly an
#: identifier, its categories left to their marginal)
ROWS_PER_CLASS = 10
#: a category is drawn given the rest of its row only from this many training rows: below,
#: the model follows the few hundred training rows it has, and synthetic rows sat nearer
#: to them than new patients do (gbsg2's tumour grade, 342 rows: DCR share 0.523 -> 0.629 on
#: one seed; strep_tb, 53 rows: 0.491 -> 0.623; the median over the 31 unseen tables 0.551
#: -> 0.568), while the copula's own draw of it stays as private as before
MIN_CHAIN_ROWS = 1_000
#: knots (normal scores) of the hats each number enters a chain with, beside its score
#: (:func:`hats`): a category's link to a number need not be a line (a clinic's turnaround
#: times sit in a band of their own; the patients of a children's hospital end at 18 where
#: the parents begin, and a line in age's score moved "patient" to "adult" over ages 14-40)
KNOTS = (-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0)
#: logit gap of a class no training row has, or of an outcome that never varies in training
#: (probability ~ 1e-22; the long records' recording chain and held values use it too)
SURE_LOGIT = 50.0


def fit_multinomial(x: np.ndarray, y: np.ndarray, classes: int, groups: np.ndarray,
                    ridge: float) -> np.ndarray:
    """Logit weights of ``y`` (codes ``0..classes-1``) on ``x``: an L2 multinomial logistic
    regression with the penalty of least held-out log-loss, refitted on every row.

    Penalties ``ridge`` x 10, 1, 1/10, 1/100, ranked over five folds of ``groups`` (patients:
    every row of one on the same side) below :data:`FOLD_ROWS` rows, else on one fifth held
    out of about :data:`SEARCH_ROWS` rows. A large export can afford a weak penalty, a cohort
    of a few dozen patients cannot (at a fixed penalty a long table's labels followed the
    training patients: DCR share 0.574 -> 0.621 on MASS::bacteria); at one penalty for all, a
    category's link to the clinic of its row was shrunk by the other inputs' share (the class a
    clinic sets came out on 90 % of synthetic rows, 98 % at a tenth of it). Fits stop early
    (100 iterations, tolerance 1e-3): a label that other columns determine (flchain's FLC
    group, a decile of kappa + lambda) is separable, and at a weak penalty the solver ran to
    its limit: the chain took 20 s on flchain's 3,938 rows and `auto`'s 25 s budget left the
    other candidates unfitted.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    weights = np.zeros((x.shape[1] + 1, classes))
    present = np.unique(y)
    weights[-1, :] = -SURE_LOGIT
    if len(present) == 1:
        weights[-1, present[0]] = 0.0
        return weights
    x_all, y_all = x, y
    folds = 5 if len(y) < FOLD_ROWS else 1
    mixed = groups.astype(np.int64) * 2654435761 % 1_000_003  # a fixed order of the groups
    fold = mixed % 5
    if len(y) > SEARCH_ROWS:  # penalties are ranked on about SEARCH_ROWS rows (whole groups)
        keep = mixed % -(-len(y) // SEARCH_ROWS) == 0
        x, y, fold = x[keep], y[keep], fold[keep]
    steps = ridge * 10.0 ** np.arange(1, -3, -1)
    loss = np.zeros(len(steps))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # "more classes than half the samples" on a held-out fold: the penalty search copes
        warnings.filterwarnings("ignore", "The number of unique classes", UserWarning)
        for k in range(folds):
            held = fold == k
            if not held.any() or len(np.unique(y[~held])) < 2:
                continue
            model = LogisticRegression(max_iter=MAX_ITER, tol=1e-3, warm_start=True)
            for i, step in enumerate(steps):  # strongest first: each warm-starts the next
                model.set_params(C=1.0 / step).fit(x[~held], y[~held])
                proba = np.full((held.sum(), classes), 1e-9)
                proba[:, model.classes_] = model.predict_proba(x[held])
                proba /= proba.sum(axis=1, keepdims=True)  # classes absent from the fold
                loss[i] += log_loss(y[held], proba, labels=np.arange(classes)) * held.sum()
        model = LogisticRegression(C=1.0 / steps[int(np.argmin(loss))], max_iter=MAX_ITER,
                                   tol=1e-3).fit(x_all, y_all)
    if len(present) == 2:  # scikit-learn's one logit for two classes
        weights[:-1, present[1]], weights[-1, present[1]] = model.coef_[0], model.intercept_[0]
        weights[-1, present[0]] = 0.0
    else:
        weights[:-1, present], weights[-1, present] = model.coef_.T, model.intercept_
    return weights


def hats(z: np.ndarray, present: np.ndarray, knots: tuple[float, ...] = KNOTS) -> np.ndarray:
    """Rows x (inputs x knots), knot by knot: each input's normal score ``z`` through a hat (a
    triangle of height 1 at a knot, zero at its neighbours; zeros where ``present`` is
    False). With the score itself they span the lines that bend at the knots. Hinges
    ``max(0, z - k)`` span the same, but overlap so much that the solver crawled (flchain's
    chain of three labels: 15 s against 3.7 s with hats, and detection AUC 0.66-0.69 against
    0.64-0.65). Column-major, in ``z``'s dtype: each knot's block is written in place (a
    million rows of the scale table: stacking the blocks took as long as the hats)."""
    rows, width = z.shape
    out = np.empty((rows, width * len(knots)), dtype=z.dtype, order="F")
    if not out.size:
        return out
    slope = -1.0 / (float(min(np.diff(knots))) if len(knots) > 1 else 1.0)  # a float: dtype kept
    far = np.where(present, z, np.inf)  # beyond every hat
    for j, knot in enumerate(knots):
        block = out[:, j * width:(j + 1) * width]
        np.subtract(far, knot, out=block)
        np.abs(block, out=block)
        block *= slope
        block += 1.0
        np.maximum(block, 0.0, out=block)
    return out


def one_hot(codes: np.ndarray, levels: int) -> np.ndarray:
    """Rows x ``levels``: 1 at each row's code, zeros where the code is NaN or ``levels`` or
    more (missing, not recorded): an earlier category as a chain link's input."""
    out = np.zeros((len(codes), levels))
    ok = np.flatnonzero(np.isfinite(codes) & (codes < levels))
    out[ok, codes[ok].astype(np.int64)] = 1.0
    return out


def draw_classes(logits: np.ndarray, rng: np.random.Generator,
                 barred: np.ndarray | None = None) -> np.ndarray:
    """A class per row of ``logits`` (rows x classes: inputs times a model's weights, plus
    its intercept); ``barred``: rows x classes that may not be drawn (a row's last class
    where it must record something). The transpose of a C-ordered classes x rows array is
    read in place, without a copy, and overwritten."""
    # classes x rows: the running sum and the count go down contiguous rows (the same
    # numbers: the sums run in the same order); 100,000 rows, one thread: 7.8 -> 2.0 ms for
    # two classes, 14.9 -> 8.1 ms for twelve, 78 -> 71 ms for 88 (benchmarks/RESULTS.md)
    weight = np.ascontiguousarray(logits.T)
    weight -= weight.max(axis=0)
    np.exp(weight, out=weight)  # unnormalised
    if barred is not None:
        weight[barred.T] = 0.0
    np.cumsum(weight, axis=0, out=weight)
    u = rng.random(weight.shape[1]) * weight[-1]
    return np.minimum(np.count_nonzero(weight < u, axis=0), weight.shape[0] - 1)
