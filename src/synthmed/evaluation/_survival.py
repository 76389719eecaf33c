"""Survival utility: C-index of models trained on synthetic vs on real data (see ``utility``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthmed.evaluation._models import (
    bootstrap_weights,
    feature_columns,
    fitting,
    make_preprocessor,
    model_frame,
    seed,
)
from synthmed.evaluation._stats import as_float
from synthmed.evaluation.context import EvalContext
from synthmed.evaluation.result import Metric

__all__ = ["harrell_c", "survival_metrics"]

#: the bootstrap interval of the C-index uses at most this many holdout rows (n² pairs)
MAX_INTERVAL_ROWS = 1500
N_BOOT = 200


def harrell_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray,
              weights: np.ndarray | None = None) -> np.ndarray:
    """Harrell's C under each row of bootstrap ``weights`` (all ones when omitted).

    A pair is comparable when the shorter time is an event; it is concordant when that
    patient has the higher risk; tied risks count one half.
    """
    comparable = (time[:, None] < time[None, :]) & event[:, None].astype(bool)
    score = (risk[:, None] > risk[None, :]) + 0.5 * (risk[:, None] == risk[None, :])
    w = np.ones((1, len(time))) if weights is None else np.asarray(weights, dtype=float)
    num = ((w @ (comparable * score)) * w).sum(1)
    den = ((w @ comparable.astype(float)) * w).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def _outcome(ctx: EvalContext, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    assert ctx.survival is not None
    time = as_float(frame[ctx.survival[0]])
    event = ctx.event_indicator(frame).astype(bool)
    # zero times cannot enter the boosted model's log-time loss; they are vanishingly rare
    keep = np.isfinite(time) & (time > 0) & frame[ctx.survival[1]].notna().to_numpy()
    return time[keep], event[keep], keep


def survival_metrics(ctx: EvalContext, tables: dict[str, pd.DataFrame], notes: list[str],
                     *, section: str) -> list[Metric]:
    """C-index of a ridge Cox model and of gradient-boosted survival trees, TSTR vs TRTR."""
    from sklearn.pipeline import make_pipeline
    from sksurv.ensemble import GradientBoostingSurvivalAnalysis
    from sksurv.linear_model import CoxPHSurvivalAnalysis
    from sksurv.metrics import concordance_index_censored
    from sksurv.util import Surv

    features = feature_columns(ctx.schema)
    data: dict[str, Any] = {}
    for key, frame in tables.items():
        time, event, keep = _outcome(ctx, frame)
        data[key] = (model_frame(frame.loc[keep], ctx.schema, features), time, event)
    x_test, t_test, e_test = data["holdout"]
    if e_test.sum() == 0 or any(data[k][2].sum() == 0 for k in ("train", "synthetic")):
        notes.append("A table has no events: the survival models cannot be compared.")
        return []
    rng = ctx.rng("utility-survival")
    models = {
        "cox": (True, CoxPHSurvivalAnalysis(alpha=0.1, n_iter=100)),
        # squared loss on IPCW-weighted log times is O(n) per stage; the Cox loss is O(n²)
        "gradient_boosting_survival": (False, GradientBoostingSurvivalAnalysis(
            # subsample=1: the out-of-bag loss needs a censoring curve that stays above zero
            # on the left-out rows, which small tables (gbsg2, lung) do not guarantee
            loss="ipcwls", n_estimators=60, max_depth=2, learning_rate=0.15, subsample=1.0,
            random_state=seed(rng))),
    }
    sub = np.arange(len(t_test))
    if len(sub) > MAX_INTERVAL_ROWS:
        sub = np.sort(ctx.rng("utility-survival-interval").choice(len(sub), MAX_INTERVAL_ROWS,
                                                                  replace=False))
        notes.append(f"The C-index interval uses {MAX_INTERVAL_ROWS:,} holdout rows.")
    weights = bootstrap_weights(len(sub), ctx.rng("utility-survival-bootstrap"), N_BOOT)
    limit = ctx.thresholds.max_cindex_drop
    metrics = []
    for name, (scale, model) in models.items():
        risk: dict[str, np.ndarray] = {}
        try:
            for source in ("synthetic", "train"):
                x, t, e = data[source]
                pipe = make_pipeline(make_preprocessor(ctx.schema, features, scale=scale), model)
                with fitting():
                    pipe.fit(x, Surv.from_arrays(event=e, time=t))
                    pred = np.asarray(pipe.predict(x_test), dtype=float)
                # the boosted model predicts a time: a shorter time is a higher risk
                risk[source] = pred if name == "cox" else -pred
        except (ValueError, np.linalg.LinAlgError, ArithmeticError, AssertionError):
            # sksurv asserts that censoring weights stay positive: a degenerate table
            notes.append(f"The {name.replace('_', ' ')} model could not be fitted.")
            continue
        c = {k: float(concordance_index_censored(e_test, t_test, r)[0]) for k, r in risk.items()}
        c_b = harrell_c(t_test[sub], e_test[sub], risk["synthetic"][sub], weights)
        c_b = c_b[np.isfinite(c_b)]
        interval = (float(np.percentile(c_b, 2.5)), float(np.percentile(c_b, 97.5))) \
            if len(c_b) >= 10 else None
        bound = c["train"] - limit
        metrics.append(Metric(
            f"cindex_{name}", c["synthetic"], c["train"], threshold=bound,
            passed=c["synthetic"] >= bound, direction="higher", interval=interval,
            description=f"How well a {name.replace('_', ' ')} model trained on synthetic data "
            "orders real patients by time to event (C-index; 0.5 = chance, 1 = perfect).",
            rule=f">= train-on-real C-index - {limit:g}",
            details={"drop": c["train"] - c["synthetic"]},
        ))
    return metrics
