"""Augmentation section: does adding synthetic records help the downstream model where it was weak?

The same model (standardised logistic regression on the schema's predictors) is trained twice,
on the real training data and on the augmented data (real + synthetic), and both are tested on
the *real holdout*, overall and per group of each sensitive attribute: AUROC, recall of the
rare (positive) class at a 0.5 threshold, and the equalized-odds difference (fairlearn: the
largest gap between groups in true- or false-positive rate), with the largest AUROC and recall
gaps between groups.

In every :class:`Metric` of this section, ``value`` is the figure of the model trained on the
augmented data and ``holdout_value`` the figure of the model trained on the real data only
(the reference), both measured on the real holdout.

A multi-class outcome is read one-vs-rest for its positive class (by default the rarest class
in train).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from synthmed.evaluation._models import (
    feature_columns,
    fitting,
    labels,
    make_preprocessor,
    model_frame,
    roc_points,
    weighted_auc,
)
from synthmed.evaluation.context import SectionOutput, Thresholds
from synthmed.evaluation.result import Metric, Section
from synthmed.exceptions import DataError, ParameterError, SchemaError
from synthmed.schema import TableSchema, coerce_table

__all__ = ["MIN_GROUP_ROWS", "evaluate_augmentation"]

#: groups with fewer holdout rows (or without both outcomes) are shown but not in the gaps
MIN_GROUP_ROWS = 20


def evaluate_augmentation(
    train: pd.DataFrame,
    augmented: pd.DataFrame,
    holdout: pd.DataFrame,
    schema: TableSchema,
    *,
    groups: Sequence[str] | None = None,
    positive: Any = None,
    exclude: Sequence[str] = (),
    thresholds: Thresholds | None = None,
    random_state: int = 0,
) -> SectionOutput:
    """Downstream model trained on real vs real + synthetic, tested on the real holdout.

    Parameters
    ----------
    train : DataFrame
        The real training data.
    augmented : DataFrame
        The augmented training data (real + synthetic, provenance column dropped).
    holdout : DataFrame
        Real data neither the generator nor the models saw.
    schema : TableSchema
        With a categorical or boolean target.
    groups : sequence of str, optional
        Group columns for the per-group figures (default: the schema's sensitive columns).
    positive : optional
        The class of interest (default: the rarest class in ``train``).
    exclude : sequence of str
        Columns not to use as predictors (e.g. ones recorded after the outcome).
    thresholds : Thresholds, optional
        ``max_auroc_drop`` is the tolerated loss of overall AUROC (default 0.05).
    random_state : int
        Seed of the model fits.

    Returns
    -------
    (Section, dict)
        Section ``"augmentation"`` and the plot data (ROC curves, per-group figures).

    Examples
    --------
    >>> from synthmed import get_generator, load_dataset, train_holdout_split
    >>> from synthmed.modes import release_augment
    >>> data = load_dataset("aids")
    >>> train, holdout = train_holdout_split(data.frame, stratify="censor")
    >>> gen = get_generator("bayesian_network").fit(train, schema=data.schema)
    >>> aug = release_augment(gen, train, balance="target", schema=data.schema)
    >>> section, plots = evaluate_augmentation(train, aug.data, holdout, data.schema)
    >>> section.metric("recall").value > section.metric("recall").holdout_value
    True
    """
    thresholds = thresholds or Thresholds()
    target = schema.target
    if target is None:
        raise SchemaError("The augmentation section needs a target column in the schema.")
    if schema.column(target).kind not in ("categorical", "boolean"):
        raise SchemaError(
            f"The augmentation section needs a categorical or boolean target; {target!r} is "
            f"of kind {schema.column(target).kind!r}."
        )
    modelled = schema.subset(schema.modelled_columns)
    groups = [g for g in (modelled.sensitive if groups is None else list(groups))]
    missing = [g for g in groups if g not in modelled]
    if missing:
        raise SchemaError(f"Group column(s) not in the modelled columns: {', '.join(missing)}.")
    tables = {}
    for label, frame in (("train", train), ("augmented", augmented), ("holdout", holdout)):
        if not isinstance(frame, pd.DataFrame) or len(frame) == 0:
            raise DataError(f"`{label}` must be a non-empty DataFrame.")
        absent = [c for c in modelled.names if c not in frame.columns]
        if absent:
            raise DataError(f"The {label} table lacks column(s): {', '.join(absent)}.")
        tables[label] = coerce_table(frame[modelled.names], modelled, validate=False)

    y_train = labels(tables["train"][target])
    if positive is None:
        counts = y_train.value_counts()
        positive_label = counts.index[-1]
    else:
        positive_label = labels(pd.Series([positive])).iloc[0]
        if positive_label not in set(y_train):
            raise ParameterError("`positive` is not a class of the target in train.")
    ys = {k: (labels(t[target]) == positive_label).to_numpy() for k, t in tables.items()}
    for k in ("train", "augmented"):
        if ys[k].all() or not ys[k].any():
            raise DataError(f"The {k} table holds only one outcome class; no model can be fitted.")

    features = feature_columns(modelled, exclude=list(exclude))
    rng = np.random.default_rng(random_state)
    seed = int(rng.integers(0, 2**31 - 1))
    scores = {k: _fit_predict(tables[k], ys[k], tables["holdout"], modelled, features, seed)
              for k in ("train", "augmented")}
    y_hold = ys["holdout"]
    ref, aug = (_figures(y_hold, scores[k]) for k in ("train", "augmented"))
    # Group gaps at one operating point for both models: each flags the share of holdout
    # records that the real training data has positives (a 0.5 threshold flags nobody for a
    # rare outcome, and no flags would look "fair").
    rate = float(ys["train"].mean())
    flags = {k: scores[k] >= np.quantile(scores[k], 1.0 - rate) for k in scores}

    drop = thresholds.max_auroc_drop
    auc_ok = None if np.isnan(aug["auroc"]) else bool(aug["auroc"] >= ref["auroc"] - drop)
    metrics = [
        Metric("auroc", aug["auroc"], ref["auroc"], threshold=drop, passed=auc_ok,
               direction="higher", rule=f">= real-only AUROC - {drop:g}",
               description="AUROC on the real holdout of the model trained on the augmented "
               "data (value) and on the real data only (holdout value)."),
        Metric("recall", aug["recall"], ref["recall"], direction="higher",
               description="Share of the holdout's rare-class records the model finds (0.5 "
               "threshold), trained on augmented data (value) vs real data only (holdout value).",
               details={"positive_class": str(positive_label)}),
    ]
    group_plots: dict[str, Any] = {}
    for col in groups:
        values = tables["holdout"][col]
        keys = values.astype(object).map(str).where(values.notna().to_numpy())
        per_group, usable = _per_group(keys, y_hold, scores, flags)
        group_plots[col] = per_group
        gaps = {k: _gaps(per_group, usable, k, keys, y_hold, flags[k]) for k in scores}
        note = ("" if len(usable) == len(per_group) else
                f"{len(per_group) - len(usable)} group(s) with fewer than {MIN_GROUP_ROWS} "
                "holdout records or a single outcome are left out of the gaps.")
        for name, words in (("eod", "equalized-odds difference (largest gap in true- or "
                                    "false-positive rate between groups)"),
                            ("auroc_gap", "largest AUROC gap between groups"),
                            ("recall_gap", "largest rare-class recall gap between groups "
                                           "(top scores flagged, see the notes)")):
            metrics.append(Metric(
                f"{name}_{col}", gaps["augmented"][name], gaps["train"][name], direction="lower",
                description=f"By {col}: {words}, model trained on augmented data (value) vs real "
                "data only (holdout value), on the real holdout.",
                details={"groups": {g: v for g, v in per_group.items()}} if name == "eod" else {},
                note=note))
    section = Section(
        "augmentation", tuple(metrics),
        notes=("value = model trained on real + synthetic; holdout value = model trained on "
               "real data only; both tested on the real holdout.",
               f"Positive (rare) class: {positive_label}; overall recall at a 0.5 threshold. "
               "Per-group figures and gaps flag, for both models, the top "
               f"{rate:.1%} of holdout scores (the positive share of the real training data)."),
    )
    plots = {  # shapes of synthmed.report.plots: "roc" per model, "tables" of flat rows
        "roc": {"logistic regression": {
            "real": {**roc_points(y_hold, scores["train"]), "auc": ref["auroc"]},
            "augmented": {**roc_points(y_hold, scores["augmented"]), "auc": aug["auroc"]}}},
        "overall": {"real": ref, "augmented": aug},
        "groups": group_plots,
        "tables": {
            f"Per group of {col}, on the real holdout": [
                {"group": g, **{f"{fig}_{side}": v for side, figs in sides.items()
                                for fig, v in figs.items()}}
                for g, sides in per.items()]
            for col, per in group_plots.items()},
    }
    return section, plots


def _fit_predict(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, schema: TableSchema,
                 features: list[str], seed: int) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(make_preprocessor(schema, features, scale=True),
                          LogisticRegression(max_iter=2000, random_state=seed))
    with fitting():
        model.fit(model_frame(train, schema, features), y)
        return model.predict_proba(model_frame(test, schema, features))[:, 1]


def _figures(y: np.ndarray, score: np.ndarray, pred: np.ndarray | None = None) -> dict[str, float]:
    pred = score >= 0.5 if pred is None else pred
    both = 0 < y.sum() < len(y)
    return {
        "auroc": float(weighted_auc(y, score)[0]) if both else float("nan"),
        "recall": float(pred[y].mean()) if y.any() else float("nan"),
        "fpr": float(pred[~y].mean()) if (~y).any() else float("nan"),
        "rows": len(y),
        "positives": int(y.sum()),
    }


def _per_group(keys: pd.Series, y: np.ndarray, scores: dict[str, np.ndarray],
               flags: dict[str, np.ndarray]) -> tuple[dict[str, Any], list[str]]:
    out, usable = {}, []
    for g in sorted(keys.dropna().unique()):
        rows = (keys == g).to_numpy()
        out[g] = {side: _figures(y[rows], scores[k][rows], flags[k][rows])
                  for side, k in (("real", "train"), ("augmented", "augmented"))}
        if rows.sum() >= MIN_GROUP_ROWS and 0 < y[rows].sum() < rows.sum():
            usable.append(g)
    return out, usable


def _gaps(per_group: dict[str, Any], usable: list[str], which: str, keys: pd.Series,
          y: np.ndarray, flagged: np.ndarray) -> dict[str, float | None]:
    side = "real" if which == "train" else "augmented"
    if len(usable) < 2:
        return {"eod": None, "auroc_gap": None, "recall_gap": None}
    from fairlearn.metrics import equalized_odds_difference

    rows = keys.isin(usable).to_numpy()
    with fitting():
        eod = equalized_odds_difference(y[rows], flagged[rows],
                                        sensitive_features=keys[rows].to_numpy())
    aucs = [per_group[g][side]["auroc"] for g in usable]
    recalls = [per_group[g][side]["recall"] for g in usable]
    return {"eod": float(eod), "auroc_gap": float(np.nanmax(aucs) - np.nanmin(aucs)),
            "recall_gap": float(np.nanmax(recalls) - np.nanmin(recalls))}
