"""Utility: does a model trained on the synthetic data work on real patients?

Train-on-synthetic, test-on-real (TSTR) against train-on-real, test-on-real (TRTR): each model
family is fitted once on the synthetic table and once on the real train table, and both are
scored on the real holdout. **In this section ``holdout_value`` is the train-on-real figure**
(the best the synthetic data could reach), and each pass rule reads against it.

Outcomes (whichever the schema declares; both when it has both):

* categorical / boolean target: AUROC (binary, or one-vs-rest macro average) and Brier score
  of gradient boosting and L2 logistic regression. Pass: AUROC >= TRTR - ``max_auroc_drop``;
  Brier <= TRTR x (1 + ``max_brier_relative_increase``).
* numeric target: R² and mean absolute error of gradient boosting and ridge regression, with
  the same two tolerances (R² drop; relative MAE increase).
* survival ``(time, event)``: Harrell's C-index of a ridge Cox model and of gradient-boosted
  survival trees. Pass: C >= TRTR - ``max_cindex_drop``.

Predictors never include the target, the survival time or the event column (no leakage).
Intervals are 95% bootstrap intervals over the holdout rows (200 resamples of predictions).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthmed.evaluation._models import (
    bootstrap_weights,
    feature_columns,
    fitting,
    labels,
    macro_auc,
    make_preprocessor,
    model_frame,
    roc_points,
    seed,
)
from synthmed.evaluation._stats import as_float
from synthmed.evaluation._survival import survival_metrics
from synthmed.evaluation.context import EvalContext, SectionOutput
from synthmed.evaluation.result import Metric, Section
from synthmed.schema import NUMERIC_KINDS

__all__ = ["evaluate_utility"]

SECTION = "utility"
HOLDOUT_MEANS = ("In this section the holdout value is the same model trained on the real "
                 "training data (train-on-real), scored on the same real holdout.")


def evaluate_utility(ctx: EvalContext) -> SectionOutput:
    """Train-on-synthetic vs train-on-real model performance on the real holdout.

    Examples
    --------
    >>> from synthmed import load_dataset, train_holdout_split
    >>> from synthmed.evaluation import evaluate
    >>> data = load_dataset("pbc")
    >>> train, holdout = train_holdout_split(data.frame)
    >>> result = evaluate(train, holdout, holdout, data.schema, sections=["utility"])
    >>> sorted(m.name for m in result["utility"].metrics)[:2]
    ['auroc_gradient_boosting', 'auroc_logistic']
    """
    if ctx.target is None and ctx.survival is None:
        return Section(SECTION, skipped="The schema names no target column and no survival "
                       "outcome; set one (schema.set_roles(target=...)) to measure utility."), {}
    tables = {k: _capped(ctx, t, f"utility-{k}")
              for k, t in (("train", ctx.train), ("synthetic", ctx.synthetic),
                           ("holdout", ctx.holdout))}
    metrics: list[Metric] = []
    notes: list[str] = [HOLDOUT_MEANS]
    plots: dict[str, Any] = {}
    if ctx.target is not None:
        kind = ctx.schema.column(ctx.target).kind
        if kind in ("categorical", "boolean"):
            found, plots["roc"] = _classification(ctx, tables, notes)
            metrics += found
        elif kind in NUMERIC_KINDS:
            metrics += _regression(ctx, tables, notes)
        else:
            notes.append(f"Target column {ctx.target!r} is a {kind} column; no model scores it.")
    if ctx.survival is not None:
        metrics += survival_metrics(ctx, tables, notes, section=SECTION)
    return Section(SECTION, tuple(metrics), tuple(notes)), plots


def _capped(ctx: EvalContext, frame: pd.DataFrame, purpose: str) -> pd.DataFrame:
    if len(frame) > ctx.max_rows:
        note = f"Models are trained and tested on at most {ctx.max_rows:,} rows per table."
        notes = ctx.notes.setdefault(SECTION, [])
        if note not in notes:
            notes.append(note)
    return ctx.capped(frame, purpose)


# ------------------------------------------------------------------------ classification
def _classifiers(rng: np.random.Generator) -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    return {
        "gradient_boosting": (False, HistGradientBoostingClassifier(
            max_iter=100, max_leaf_nodes=15, learning_rate=0.1, early_stopping=False,
            random_state=seed(rng))),
        "logistic": (True, LogisticRegression(C=1.0, max_iter=1000)),
    }


def _classification(ctx: EvalContext, tables: dict[str, pd.DataFrame],
                    notes: list[str]) -> tuple[list[Metric], dict[str, Any]]:
    from sklearn.pipeline import make_pipeline

    target = ctx.target
    assert target is not None
    features = feature_columns(ctx.schema)
    y = {k: labels(t[target]) for k, t in tables.items()}
    classes = np.sort(y["train"].dropna().unique())
    # -1: a missing target or a class that train never had
    index = {k: pd.Index(classes).get_indexer(v) for k, v in y.items()}
    keep = {k: idx >= 0 for k, idx in index.items()}
    if (~keep["synthetic"]).any():
        notes.append(f"{int((~keep['synthetic']).sum())} synthetic rows have a missing target "
                     "or a class absent from train; they are left out.")
    x = {k: model_frame(t.loc[keep[k]], ctx.schema, features) for k, t in tables.items()}
    yy = {k: index[k][keep[k]] for k in tables}
    test_y = yy["holdout"]
    n_cls = len(classes)
    rng = ctx.rng("utility-classification")
    weights = bootstrap_weights(len(test_y), ctx.rng("utility-bootstrap"))
    onehot = np.eye(n_cls)[test_y]
    metrics: list[Metric] = []
    roc: dict[str, Any] = {}
    drop, rel = ctx.thresholds.max_auroc_drop, ctx.thresholds.max_brier_relative_increase
    for name, (scale, model) in _classifiers(rng).items():
        proba: dict[str, np.ndarray | None] = {}
        for source in ("synthetic", "train"):
            if len(np.unique(yy[source])) < 2 or n_cls < 2 or len(np.unique(test_y)) < 2:
                proba[source] = None
                continue
            pipe = make_pipeline(make_preprocessor(ctx.schema, features, scale=scale), model)
            with fitting():
                pipe.fit(x[source], yy[source])
                p = pipe.predict_proba(x["holdout"])
            full = np.zeros((len(test_y), n_cls))
            full[:, pipe.classes_] = p
            proba[source] = full
        if proba["synthetic"] is None or proba["train"] is None:
            notes.append(f"The {name} model could not be scored: a table holds a single class.")
            continue
        per_row = {k: ((v - onehot) ** 2).sum(1) / (2 if n_cls == 2 else 1)
                   for k, v in proba.items() if v is not None}
        auc = {k: float(macro_auc(test_y, v)[0]) for k, v in proba.items() if v is not None}
        auc_b = {k: macro_auc(test_y, v, weights) for k, v in proba.items() if v is not None}
        brier = {k: float(v.mean()) for k, v in per_row.items()}
        brier_b = (weights @ per_row["synthetic"]) / weights.sum(1)
        diff_b = auc_b["train"] - auc_b["synthetic"]
        auc_bound = auc["train"] - drop
        brier_bound = brier["train"] * (1 + rel)
        what = "AUROC" if n_cls == 2 else "one-vs-rest macro AUROC"
        metrics += [
            Metric(
                f"auroc_{name}", auc["synthetic"], auc["train"], threshold=auc_bound,
                passed=auc["synthetic"] >= auc_bound, direction="higher",
                interval=_interval(auc_b["synthetic"]),
                description=f"How well a {_pretty(name)} model trained on synthetic data "
                "ranks real patients' outcomes (0.5 = chance, 1 = perfect), "
                "against the same model trained on real data.",
                rule=f">= train-on-real {what} - {drop:g}",
                details={"drop": auc["train"] - auc["synthetic"], "drop_interval":
                         _interval(diff_b), "classes": n_cls},
            ),
            Metric(
                f"brier_{name}", brier["synthetic"], brier["train"], threshold=brier_bound,
                passed=brier["synthetic"] <= brier_bound, direction="lower",
                interval=_interval(brier_b),
                description=f"Error of the predicted probabilities of a {_pretty(name)} model "
                "trained on synthetic data (Brier score, lower is better).",
                rule=f"<= train-on-real Brier x {1 + rel:g}",
            ),
        ]
        roc[name] = {src: _roc(test_y, v, n_cls) for src, v in
                     (("synthetic", proba["synthetic"]), ("real", proba["train"]))}
    return metrics, roc


def _roc(y: np.ndarray, proba: np.ndarray, n_cls: int) -> dict[str, Any]:
    if n_cls == 2:
        return {**roc_points(y == 1, proba[:, 1]), "average": "binary"}
    onehot = np.eye(n_cls, dtype=bool)[y]
    return {**roc_points(onehot.ravel(), proba.ravel()), "average": "micro"}


def _interval(samples: np.ndarray) -> tuple[float, float] | None:
    samples = samples[np.isfinite(samples)]
    if len(samples) < 10:
        return None
    lo, hi = np.percentile(samples, [2.5, 97.5])
    return float(lo), float(hi)


def _pretty(name: str) -> str:
    return name.replace("_", " ")


# ---------------------------------------------------------------------------- regression
def _regression(ctx: EvalContext, tables: dict[str, pd.DataFrame],
                notes: list[str]) -> list[Metric]:
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    target = ctx.target
    assert target is not None
    features = feature_columns(ctx.schema)
    y = {k: as_float(t[target]) for k, t in tables.items()}
    keep = {k: np.isfinite(v) for k, v in y.items()}
    x = {k: model_frame(t.loc[keep[k]], ctx.schema, features) for k, t in tables.items()}
    yy = {k: y[k][keep[k]] for k in tables}
    test_y = yy["holdout"]
    rng = ctx.rng("utility-regression")
    weights = bootstrap_weights(len(test_y), ctx.rng("utility-bootstrap"))
    models = {
        "gradient_boosting": (False, HistGradientBoostingRegressor(
            max_iter=100, max_leaf_nodes=15, early_stopping=False, random_state=seed(rng))),
        "ridge": (True, Ridge(alpha=1.0)),
    }
    drop, rel = ctx.thresholds.max_auroc_drop, ctx.thresholds.max_brier_relative_increase
    metrics: list[Metric] = []
    if len(test_y) < 2 or min(len(yy["train"]), len(yy["synthetic"])) < 2:
        notes.append("Too few rows with a target value to fit regression models.")
        return metrics
    total = weights @ (test_y**2) / weights.sum(1) - (weights @ test_y / weights.sum(1)) ** 2
    for name, (scale, model) in models.items():
        err = {}
        for source in ("synthetic", "train"):
            pipe = make_pipeline(make_preprocessor(ctx.schema, features, scale=scale), model)
            with fitting():
                pipe.fit(x[source], yy[source])
                err[source] = pipe.predict(x["holdout"]) - test_y
        var = float(np.var(test_y)) or 1.0
        r2 = {k: 1.0 - float(np.mean(e**2)) / var for k, e in err.items()}
        mae = {k: float(np.mean(np.abs(e))) for k, e in err.items()}
        with np.errstate(divide="ignore", invalid="ignore"):
            r2_b = 1.0 - (weights @ err["synthetic"] ** 2 / weights.sum(1)) / total
        mae_b = weights @ np.abs(err["synthetic"]) / weights.sum(1)
        metrics += [
            Metric(
                f"r2_{name}", r2["synthetic"], r2["train"], threshold=r2["train"] - drop,
                passed=r2["synthetic"] >= r2["train"] - drop, direction="higher",
                interval=_interval(r2_b),
                description=f"Share of the real outcome's variation that a {_pretty(name)} "
                "model trained on synthetic data explains (R², 1 = all).",
                rule=f">= train-on-real R² - {drop:g}",
            ),
            Metric(
                f"mae_{name}", mae["synthetic"], mae["train"],
                threshold=mae["train"] * (1 + rel),
                passed=mae["synthetic"] <= mae["train"] * (1 + rel),
                interval=_interval(mae_b),
                description=f"Average prediction error of a {_pretty(name)} model trained on "
                "synthetic data, in the target's unit.",
                rule=f"<= train-on-real MAE x {1 + rel:g}",
            ),
        ]
    return metrics
