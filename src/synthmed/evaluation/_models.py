"""Model helpers shared by the fidelity, utility and clinical sections.

* :func:`feature_columns` — the predictors of an outcome, never the outcome, the survival time
  or the event column (no leakage).
* :func:`make_preprocessor` — imputation, one-hot encoding and (optionally) scaling, fitted on
  whichever table the model is trained on.
* :func:`labels` — one canonical label per category value (``2`` and ``2.0`` agree).
* :func:`bootstrap_auc` / :func:`weighted_auc` — AUROC with a cheap bootstrap interval from
  resampling weights; :func:`roc_points` — a ROC curve downsampled for plotting.
* :func:`detection_auc` — out-of-fold AUROC of a classifier separating two tables.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
import warnings

import numpy as np
import pandas as pd

from synthmed.evaluation._stats import as_float, category_codes
from synthmed.schema import NUMERIC_KINDS, TableSchema

__all__ = [
    "bootstrap_weights",
    "detection_auc",
    "feature_columns",
    "fitting",
    "labels",
    "make_preprocessor",
    "model_frame",
    "roc_points",
    "seed",
    "tree_matrix",
    "weighted_auc",
]

N_BOOTSTRAP = 200
MAX_ONEHOT = 20


def seed(rng: np.random.Generator) -> int:
    """An integer ``random_state`` for scikit-learn, drawn from a Generator."""
    return int(rng.integers(0, 2**31 - 1))


@contextmanager
def fitting() -> Iterator[None]:
    """Context for library fits: expected warnings silenced, one BLAS/OpenMP thread.

    The models here are small; on shared CPUs OpenMP thread start-up and contention cost far
    more than they save (gradient boosting ran 10x slower on two busy cores).
    """
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), np.errstate(all="ignore"), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        yield


def feature_columns(schema: TableSchema, *, exclude: Sequence[str | None] = ()) -> list[str]:
    """The schema's predictors: every column but the outcome (target, survival time, event)
    and the columns recorded after it (role ``post_outcome``), which would leak it."""
    outcome = {schema.target, *(schema.survival or ()), *schema.with_role("post_outcome"),
               *exclude}
    return [c for c in schema.names if c not in outcome]


def is_numeric(schema: TableSchema, name: str) -> bool:
    return schema.column(name).kind in NUMERIC_KINDS | {"datetime"}


def model_frame(frame: pd.DataFrame, schema: TableSchema, columns: Sequence[str]) -> pd.DataFrame:
    """Numbers as float (datetimes in days), categories as strings with missing as NaN."""
    out = {}
    for name in columns:
        if is_numeric(schema, name):
            out[name] = as_float(frame[name])
        else:
            keys = labels(frame[name])
            out[name] = keys.map(str, na_action="ignore").astype(object).to_numpy()
    return pd.DataFrame(out, index=range(len(frame)))


def labels(values: pd.Series) -> pd.Series:
    """Canonical category keys: numbers as float (``2``, ``2.0`` and ``True`` -> 1.0 agree),
    other values as strings; missing stays missing. The index is reset."""
    values = values.reset_index(drop=True)
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.astype(float)
    obj = values.astype(object)
    present = obj.notna().to_numpy()
    uniq = pd.unique(obj[present])
    as_num = pd.to_numeric(pd.Series(uniq, dtype=object), errors="coerce")
    if len(uniq) and as_num.notna().all():
        return obj.map(dict(zip(uniq, as_num.to_numpy(dtype=float), strict=True))).astype(float)
    return obj.map({u: str(u) for u in uniq})


def make_preprocessor(schema: TableSchema, columns: Sequence[str], *, scale: bool):
    """ColumnTransformer: median imputation (+ missing indicator), one-hot of the 20 most
    frequent levels (missing is a level), and standard scaling when ``scale``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num = [c for c in columns if is_numeric(schema, c)]
    cat = [c for c in columns if not is_numeric(schema, c)]
    num_steps = [SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)]
    if scale:
        num_steps.append(StandardScaler())
    onehot = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=MAX_ONEHOT,
                           sparse_output=False)
    return ColumnTransformer(
        [
            ("num", make_pipeline(*num_steps), num),
            ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="(missing)"),
                                  onehot), cat),
        ],
        sparse_threshold=0.0,
    )


def bootstrap_weights(n: int, rng: np.random.Generator, n_boot: int = N_BOOTSTRAP) -> np.ndarray:
    """(n_boot, n) resampling counts: row i drawn w[b, i] times in resample b."""
    draws = rng.integers(0, n, size=(n_boot, n))
    offsets = (np.arange(n_boot) * n)[:, None]
    return np.bincount((draws + offsets).ravel(), minlength=n_boot * n).reshape(n_boot, n)


def weighted_auc(y: np.ndarray, score: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """AUROC (ties count one half) of binary ``y`` by ``score`` under each row of ``weights``.

    ``weights`` is (n_boot, n); without it the plain AUROC is returned as a 1-element array.
    """
    y = np.asarray(y, dtype=bool)
    w = np.ones((1, len(y))) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(score, kind="mergesort")
    s, yy, w = score[order], y[order], w[:, order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    pos = np.add.reduceat(w * yy, starts, axis=1)
    neg = np.add.reduceat(w * ~yy, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (pos * (below + 0.5 * neg)).sum(1) / (pos.sum(1) * neg.sum(1))
    return auc


def macro_auc(y: np.ndarray, proba: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Binary AUROC of the last column, or one-vs-rest macro AUROC over the classes present."""
    if proba.shape[1] == 2:
        return weighted_auc(y == 1, proba[:, 1], weights)
    per = [weighted_auc(y == k, proba[:, k], weights) for k in range(proba.shape[1])
           if 0 < (y == k).sum() < len(y)]
    return np.nanmean(np.vstack(per), axis=0)


def roc_points(y: np.ndarray, score: np.ndarray, max_points: int = 100) -> dict[str, list[float]]:
    """A ROC curve (false / true positive rates) with at most ``max_points`` points."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(np.asarray(y, dtype=bool), score)
    if len(fpr) > max_points:
        keep = np.unique(np.linspace(0, len(fpr) - 1, max_points).round().astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": [round(float(v), 4) for v in fpr], "tpr": [round(float(v), 4) for v in tpr]}


def tree_matrix(frame: pd.DataFrame, schema: TableSchema,
                levels: dict[str, list[Any]]) -> np.ndarray:
    """Compact matrix for tree models: numbers as float (NaN kept), categories as codes.

    Categorical columns (those in ``levels``) come first, coded by :func:`category_codes`.
    """
    blocks = [category_codes(frame[c], lv).astype(float) for c, lv in levels.items()]
    blocks += [as_float(frame[c]) for c in schema.names if c not in levels]
    return np.column_stack(blocks) if blocks else np.zeros((len(frame), 0))


def _patients(real_groups: np.ndarray | None, ia: np.ndarray,
              other_groups: np.ndarray | None, ib: np.ndarray) -> np.ndarray:
    """A patient code per stacked row; the two tables never share one, and a row without a
    group is a patient of its own."""
    parts, offset = [], 0
    for groups, idx in ((real_groups, ia), (other_groups, ib)):
        codes = np.arange(len(idx)) if groups is None else np.asarray(groups)[idx]
        parts.append(codes + offset)
        offset += int(codes.max(initial=-1)) + 1
    return np.concatenate(parts)


def _joined_groups(identical: np.ndarray, patient: np.ndarray) -> np.ndarray:
    """Fold groups joining identical rows and rows of one patient (connected components)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(identical)
    n_identical = int(identical.max()) + 1
    rows = np.r_[np.arange(n), np.arange(n)]
    cols = np.r_[n + identical, n + n_identical + np.unique(patient, return_inverse=True)[1]]
    size = int(cols.max()) + 1
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(size, size))
    labels_ = connected_components(graph, directed=False)[1][:n]
    return np.unique(labels_, return_inverse=True)[1].ravel()


def detection_auc(real: np.ndarray, other: np.ndarray, rng: np.random.Generator, *,
                  n_categorical: int = 0, n_splits: int = 5,
                  real_groups: np.ndarray | None = None,
                  other_groups: np.ndarray | None = None) -> float:
    """Out-of-fold AUROC of a gradient-boosting classifier telling ``other`` from ``real``.

    The first ``n_categorical`` columns are category codes (see :func:`tree_matrix`).
    Both matrices are subsampled to the same size first, so 0.5 means indistinguishable.
    Identical rows always share a fold: a record present in both tables carries no signal,
    and splitting its copies would let the classifier "anti-learn" them. So do the rows of
    one patient (``real_groups`` / ``other_groups``: a group code per row, when a patient
    has several rows): split, a row's twin in the training folds would give its table away.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    n = min(len(real), len(other))
    if n < n_splits:
        return float("nan")
    ia = rng.choice(len(real), n, replace=False)
    ib = rng.choice(len(other), n, replace=False)
    x = np.vstack([real[ia], other[ib]])
    y = np.r_[np.zeros(n, dtype=int), np.ones(n, dtype=int)]
    filled = np.where(np.isnan(x), -1e300, x)
    _, group = np.unique(filled, axis=0, return_inverse=True)
    group = group.ravel()
    if real_groups is not None or other_groups is not None:
        group = _joined_groups(group, _patients(real_groups, ia, other_groups, ib))
    fold = (rng.permutation(int(group.max()) + 1) % n_splits)[group]
    proba = np.full(len(y), 0.5)
    for k in range(n_splits):
        test = fold == k
        # a fold without rows (fewer distinct rows than folds: a table of one repeated row)
        if test.all() or not test.any() or len(np.unique(y[~test])) < 2:
            continue
        # a column without a value in the training folds (a lab one patient had) carries
        # nothing, and the boosting's binning fails on it
        used = ~np.isnan(x[~test]).all(axis=0)
        if not used.any():
            continue
        categorical = (np.arange(x.shape[1]) < n_categorical)[used]
        model = HistGradientBoostingClassifier(
            max_iter=60, learning_rate=0.15, max_leaf_nodes=15, early_stopping=False,
            categorical_features=categorical if categorical.any() else None,
            random_state=seed(rng),
        )
        with fitting():
            model.fit(x[~test][:, used], y[~test])
            proba[test] = model.predict_proba(x[test][:, used])[:, 1]
    return float(weighted_auc(y, proba)[0])
