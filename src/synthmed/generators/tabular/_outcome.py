"""Outcome redraw: each generated row's target drawn from P(target | its other columns).

A joint generator spreads its capacity over every column, and on a few hundred rows the
outcome's dependence on the predictors is what it blurs most (measured on pbc: a forest's
rows kept 0.86 of the real rows' predictive AUROC). Redrawing the target from a classifier
fitted on the real rows (the last step of sequential synthesis, as in synthpop's CART)
restores that dependence. A first version with a fixed 100 boosting rounds raised the median
DCR share over the six benchmark tables in every seed (it learnt the training rows' own
outcomes and handed them back to rows that resembled them); with the rounds chosen by
cross-validation (:func:`._refine.rounds_by_cv`) it raised the median utility ratio in three
seeds of three (0.937 / 0.955 / 0.927 -> 0.969 / 0.971 / 0.975) with the median DCR share
about unchanged (benchmarks/RESULTS.md), so ``auto`` tries it by default and keeps it only
where it scores better on validation rows. The classifier has large leaves (as in
:mod:`._refine`), so its probabilities describe groups of patients, not one; a missing target
stays missing, and a row whose target was asked for (conditioning) keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from synthmed.generators.tabular._refine import (
    LEAF_SHARE,
    TreeEnsemble,
    category_levels,
    classifier,
    features,
    rounds_by_cv,
)
from synthmed.schema import TableSchema

__all__ = ["OutcomeModel"]

#: a class needs this many real rows for the model to be fitted
MIN_CLASS_ROWS = 5


class OutcomeModel:
    """P(target | other columns) as boosted trees kept in arrays (one set per class, or
    one for two classes)."""

    def __init__(self, target: str, classes: Sequence[Any], trees: Sequence[TreeEnsemble],
                 levels: Mapping[str, Sequence[Any]], columns: Sequence[str]) -> None:
        self.target = target
        self.classes = list(classes)
        self.trees = list(trees)
        self.levels = {k: list(v) for k, v in levels.items()}
        self.columns = list(columns)

    @classmethod
    def fit(cls, real: pd.DataFrame, schema: TableSchema,
            rng: np.random.Generator) -> OutcomeModel | None:
        """The model of ``schema.target``; None without a categorical target of two or more
        classes with ``MIN_CLASS_ROWS`` rows each, without other columns, or when no model
        predicts it better than its class shares on held-out rows."""
        from synthmed.evaluation._models import fitting

        target = schema.target
        if target is None or schema.column(target).kind not in ("categorical", "boolean"):
            return None
        known = real[real[target].notna()]
        codes, classes = pd.factorize(known[target], sort=True)
        columns = [c for c in schema.names if c != target]
        if (len(classes) < 2 or np.bincount(codes).min() < MIN_CLASS_ROWS or not columns):
            return None
        levels = category_levels(known, schema, exclude=[target])
        x = features(known, columns, levels)
        leaf = max(20, int(LEAF_SHARE * len(known)))
        seed = int(rng.integers(2**31 - 1))
        # as many rounds as cross-validation supports: a model that fits the training rows'
        # own outcomes would hand them back to rows that resemble them
        rounds = rounds_by_cv(x, codes, leaf, seed)
        if rounds == 0:
            return None
        model = classifier(rounds, leaf, seed)
        with fitting():
            model.fit(x, codes)
        trees = [TreeEnsemble.from_sklearn(model, k) for k in range(model.n_trees_per_iteration_)]
        return cls(target, list(classes), trees, levels, columns)

    def probabilities(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows x classes probabilities of the target."""
        x = features(frame, self.columns, self.levels)
        raw = np.column_stack([t.decision(x) for t in self.trees])
        if raw.shape[1] == 1:  # two classes: one log-odds of the second
            p = 1.0 / (1.0 + np.exp(-raw[:, 0]))
            return np.column_stack([1.0 - p, p])
        raw -= raw.max(axis=1, keepdims=True)
        e = np.exp(raw)
        return e / e.sum(axis=1, keepdims=True)

    def redraw(self, frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """``frame`` with each non-missing target redrawn from the model."""
        cumulative = self.probabilities(frame).cumsum(axis=1)
        pick = (cumulative < rng.random((len(frame), 1))).sum(axis=1)
        drawn = np.asarray(self.classes, dtype=object)[np.minimum(pick, len(self.classes) - 1)]
        out = frame.copy()
        missing = frame[self.target].isna().to_numpy()
        out[self.target] = pd.Series(np.where(missing, None, drawn), index=frame.index,
                                     dtype=object).where(~missing)
        return out

    # ------------------------------------------------------------------ state
    def to_state(self, prefix: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        from synthmed.generators.tabular._copula_marginals import jsonable_categories

        meta = {"target": self.target, "classes": jsonable_categories(self.classes),
                "columns": self.columns, "n_tree_sets": len(self.trees),
                "levels": {k: jsonable_categories(v) for k, v in self.levels.items()}}
        arrays: dict[str, np.ndarray] = {}
        for k, trees in enumerate(self.trees):
            arrays.update(trees.to_arrays(f"{prefix}{k}__"))
        return meta, arrays

    @classmethod
    def from_state(cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray],
                   prefix: str) -> OutcomeModel:
        trees = [TreeEnsemble.from_arrays(arrays, f"{prefix}{k}__")
                 for k in range(int(meta["n_tree_sets"]))]
        return cls(str(meta["target"]), meta["classes"], trees, meta["levels"], meta["columns"])
