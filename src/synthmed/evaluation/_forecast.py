"""Next-step forecasting utility of longitudinal records (part of ``evaluate_longitudinal``).

The task a clinician would build on trajectories: from a patient's last recorded values, the
time since the previous row, the time since start and the static attributes, predict each
numeric measure at the next row. One gradient-boosting regressor per measure is trained on
the synthetic trajectories (TSTR) and, as the reference, on the real training trajectories
(TRTR); both are scored on every later row of the real holdout patients.

The figure is the mean absolute error in units of the measure's training standard deviation,
averaged over measures (``forecast_nmae``). Pass: TSTR <= TRTR x (1 +
``max_brier_relative_increase``), the relative tolerance the table utility section uses for
regression errors. Synthetic data whose values do not follow from the previous ones (time
order lost, no persistence) gives forecasters that fail on real patients.

Predictors never include the outcome, the survival time, the event or post-outcome columns:
they are known only at the end of follow-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthmed.evaluation._models import bootstrap_weights, fitting, seed
from synthmed.evaluation.context import Thresholds
from synthmed.evaluation.result import Metric

if TYPE_CHECKING:
    from synthmed.evaluation.longitudinal import _Long
    from synthmed.schema import TableSchema

__all__ = ["forecast_metric"]

#: rows of each table (the later rows of trajectories) used to train and test, at most
MAX_FORECAST_ROWS = 20_000
#: a measure is forecast when the real train and holdout have this many later rows with it
MIN_TARGET_ROWS = 20
NUMERIC = ("numeric", "integer")


def forecast_metric(longs: dict[str, _Long], levels: dict[str, list[Any]],
                    schema: TableSchema, th: Thresholds, random_state: int,
                    modality: str) -> Metric | None:
    """The ``forecast_nmae`` metric, or None when no numeric measure can be forecast."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    tr = longs["train"]
    measures = [m for m in tr.measures if schema.column(m).kind in NUMERIC]
    if not measures:
        return None
    excluded = (set(schema.with_role("survival_time")) | set(schema.with_role("event"))
                | set(schema.with_role("post_outcome")) | {schema.target})
    statics = [c for c in tr.static if c not in excluded]
    rng = np.random.default_rng(random_state)
    tables = {k: _next_step_table(v, levels, measures, statics, rng)
              for k, v in longs.items()}
    codes = _static_codes(tables, statics)
    features = [c for c in tables["train"].columns if not c.startswith("y__")]
    details: dict[str, Any] = {}
    err: dict[str, list[np.ndarray]] = {"synthetic": [], "train": []}
    for m in measures:
        ys = {k: t[f"y__{m}"].to_numpy(dtype=float) for k, t in tables.items()}
        ok = {k: np.isfinite(v) for k, v in ys.items()}
        if min(ok["train"].sum(), ok["holdout"].sum()) < MIN_TARGET_ROWS:
            continue
        sd = float(np.std(ys["train"][ok["train"]])) or 1.0
        test_x = codes["holdout"].loc[ok["holdout"], features]
        row: dict[str, Any] = {}
        for source in ("synthetic", "train"):
            if ok[source].sum() < 2:  # nothing to learn from: the know-nothing forecast
                pred = np.full(int(ok["holdout"].sum()), float(np.mean(ys["train"][ok["train"]])))
            else:
                x = codes[source].loc[ok[source], features]
                # a predictor never recorded with this target (all missing) cannot be binned
                used = [c for c in features if x[c].nunique() > 1]
                model = HistGradientBoostingRegressor(max_iter=100, max_leaf_nodes=15,
                                                      early_stopping=False,
                                                      random_state=seed(rng))
                with fitting():
                    model.fit(x[used], ys[source][ok[source]])
                    pred = model.predict(test_x[used])
            e = np.abs(pred - ys["holdout"][ok["holdout"]]) / sd
            err[source].append(e)
            row[source] = round(float(e.mean()), 4)
        details[m] = {"nmae_synthetic": row["synthetic"], "nmae_train_on_real": row["train"],
                      "test_rows": int(ok["holdout"].sum())}
    if not details:
        return None
    syn, real = (float(np.mean([e.mean() for e in err[k]])) for k in ("synthetic", "train"))
    interval = _interval(err["synthetic"], rng)
    rel = th.max_brier_relative_increase
    return Metric(
        "forecast_nmae", syn, real, threshold=real * (1 + rel),
        passed=bool(syn <= real * (1 + rel)), direction="lower", interval=interval,
        modality=modality, details=details,
        description="Next-step forecasting: error of gradient boosting trained on synthetic "
        "trajectories when it predicts each measure at a real holdout patient's next row "
        "from the last values, the time gaps and the static columns (mean absolute error in "
        "training standard deviations, averaged over measures).",
        rule=f"<= train-on-real x {1 + rel:g}",
        note=f"{len(details)} numeric measure(s) forecast; outcome and follow-up columns "
        "are not predictors.")


def _next_step_table(long: _Long, levels: dict[str, list[Any]], measures: list[str],
                     statics: list[str], rng: np.random.Generator) -> pd.DataFrame:
    """One row per later row of a trajectory: predictors from before it, targets ``y__m``."""
    later = ~long.first
    out = long.frame.loc[later, statics].reset_index(drop=True)
    codes = pd.Series(long.codes)
    for m in measures:
        x = pd.Series(long.values(m, levels))
        # the last value recorded before this row (carried over rows that lack it)
        last = x.groupby(codes).shift(1).groupby(codes).ffill()
        out[f"last__{m}"] = last[later].to_numpy()
        out[f"y__{m}"] = x[later].to_numpy()
    out["__dt"] = long.dt[later]
    out["__since_start"] = long.offset[later]
    out["__step"] = long.step[later]
    if len(out) > MAX_FORECAST_ROWS:
        out = out.iloc[np.sort(rng.choice(len(out), MAX_FORECAST_ROWS, replace=False))]
    return out.reset_index(drop=True)


def _static_codes(tables: dict[str, pd.DataFrame],
                  statics: list[str]) -> dict[str, pd.DataFrame]:
    """Static columns as numbers (categories as codes shared by the three tables)."""
    out = {k: t.copy() for k, t in tables.items()}
    for c in statics:
        joint = pd.concat([t[c] for t in tables.values()], ignore_index=True)
        if pd.api.types.is_numeric_dtype(joint) and not pd.api.types.is_bool_dtype(joint):
            continue
        if pd.api.types.is_datetime64_any_dtype(joint):
            for t in out.values():
                t[c] = t[c].astype("int64").to_numpy(dtype=float)
            continue
        cats = pd.factorize(joint.astype(str).where(joint.notna(), None))[0]
        pos = 0
        for k, t in tables.items():
            part = cats[pos:pos + len(t)].astype(float)
            out[k][c] = np.where(part < 0, np.nan, part)
            pos += len(t)
    return out


def _interval(errors: list[np.ndarray],
              rng: np.random.Generator) -> tuple[float, float] | None:
    """95% bootstrap interval of the averaged error over the holdout rows of each measure."""
    if not errors:
        return None
    boots = []
    for e in errors:
        weights = bootstrap_weights(len(e), rng)
        boots.append(weights @ e / weights.sum(1))
    boots = np.mean(boots, axis=0)
    return float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))
