"""Clinical truth: would a study run on the synthetic data report the same effects?

The effect estimates a paper would report are fitted on train, on synthetic and (as the
reference) on the holdout, with the same design matrix built from train:

* logistic regression of the target (binary; for a multiclass target, the event value vs the
  rest — the schema's ``event_value`` when the target is the event column, else a class named
  like "positive"/"yes"/"dead", else the largest code or the rarest label), with a weak ridge
  penalty (1.0 on standardised coefficients, which keeps separation finite) and Wald 95%
  intervals from the penalised Fisher information;
* Cox proportional hazards of the survival outcome (Breslow ties, ridge 0.01 for stability;
  a vectorised Newton fit, much faster than lifelines on tied times) with Wald intervals;
* linear regression (ordinary least squares) for a numeric target.

Numbers are standardised by train's mean and SD (effects "per SD"); categories are dummies
against train's most frequent level, rare levels (< 10 train records) and missing values pooled
with that level; missing numbers take train's median. Predictors never include the target, the
survival time or the event.

Metrics per model (non-gates): ``sign_agreement_<model>`` — share of the coefficients
significant in train (p < 0.05) whose synthetic estimate has the same sign (>= ``sign_agreement``);
``ci_overlap_<model>`` — mean interval overlap of Karr et al. (2006) over all coefficients,
clipped at 0 when intervals are disjoint (>= ``ci_overlap``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthmed.evaluation._models import feature_columns, fitting, is_numeric, labels
from synthmed.evaluation._stats import as_float
from synthmed.evaluation.context import EvalContext, SectionOutput
from synthmed.evaluation.result import Metric, Section
from synthmed.schema import NUMERIC_KINDS

__all__ = ["ci_overlap", "cox_fit", "evaluate_clinical"]

SECTION = "clinical"
MIN_LEVEL_COUNT = 10
MAX_DUMMIES = 10
Z95 = 1.959963984540054
#: L2 penalty of the logistic fit: negligible for identified effects (the information grows
#: with n), but it keeps estimates finite under (quasi-)separation
RIDGE = 1.0
#: L2 penalty of the Cox fit (on the summed log partial likelihood): only for stability
COX_RIDGE = 0.01
_EVENT_WORDS = ("positive", "yes", "true", "dead", "death", "died", "event", "case")

Fit = tuple[np.ndarray, np.ndarray, np.ndarray]  # estimate, standard error, p-value


def evaluate_clinical(ctx: EvalContext) -> SectionOutput:
    """Effect estimates (odds ratios, hazard ratios) on synthetic vs real data.

    Examples
    --------
    >>> from synthmed import load_dataset, train_holdout_split
    >>> from synthmed.evaluation import evaluate
    >>> data = load_dataset("pbc")
    >>> train, holdout = train_holdout_split(data.frame)
    >>> result = evaluate(train, holdout, holdout, data.schema, sections=["clinical"])
    >>> [m.name for m in result["clinical"].metrics][:2]
    ['sign_agreement_logistic', 'ci_overlap_logistic']
    """
    if ctx.target is None and ctx.survival is None:
        return Section(SECTION, skipped="The schema names no target column and no survival "
                       "outcome, so there is no effect estimate to compare."), {}
    tables = {k: _capped(ctx, t, f"clinical-{k}")
              for k, t in (("train", ctx.train), ("synthetic", ctx.synthetic),
                           ("holdout", ctx.holdout))}
    design = _Design(ctx, tables["train"])
    metrics: list[Metric] = []
    notes: list[str] = []
    plots: dict[str, Any] = {}
    models = []
    if ctx.target is not None:
        kind = ctx.schema.column(ctx.target).kind
        if kind in ("categorical", "boolean"):
            models.append(("logistic", "log odds ratio", _logistic_fits(ctx, tables, design)))
        elif kind in NUMERIC_KINDS:
            models.append(("linear", "difference in mean", _linear_fits(ctx, tables, design)))
    if ctx.survival is not None:
        models.append(("cox", "log hazard ratio", _cox_fits(ctx, tables, design)))
    for name, scale, fits in models:
        if any(f is None for f in fits.values()):
            notes.append(f"The {name} model could not be fitted on every table.")
            continue
        found, plot = _compare(ctx, name, scale, design.terms, fits)
        metrics += found
        # the report's forest shape; the first model is "forest", others "forest_<model>"
        plots["forest" if "forest" not in plots else f"forest_{name}"] = plot
    return Section(SECTION, tuple(metrics), tuple(notes)), plots


def _capped(ctx: EvalContext, frame: pd.DataFrame, purpose: str) -> pd.DataFrame:
    if len(frame) > ctx.max_rows:
        note = f"Effect estimates use at most {ctx.max_rows:,} rows per table."
        notes = ctx.notes.setdefault(SECTION, [])
        if note not in notes:
            notes.append(note)
    return ctx.capped(frame, purpose)


# -------------------------------------------------------------------------------- design
class _Design:
    """Train-fitted design: standardised numbers, dummies vs the most frequent level."""

    def __init__(self, ctx: EvalContext, train: pd.DataFrame) -> None:
        self.schema = ctx.schema
        self.numeric: dict[str, tuple[float, float, float]] = {}
        self.dummies: dict[str, list[Any]] = {}
        self.terms: list[str] = []
        for name in feature_columns(ctx.schema):
            if is_numeric(ctx.schema, name):
                v = as_float(train[name])
                v = v[np.isfinite(v)]
                if len(v) < 2 or v.std() <= 0:
                    continue
                self.numeric[name] = (float(np.median(v)), float(v.mean()), float(v.std()))
                self.terms.append(f"{name} (per SD)")
            else:
                counts = labels(train[name]).dropna().value_counts()
                kept = [lv for lv in counts.index[1:] if counts[lv] >= MIN_LEVEL_COUNT]
                if kept and len(counts):
                    self.dummies[name] = kept[:MAX_DUMMIES]
                    self.terms += [f"{name}={lv} vs {counts.index[0]}"
                                   for lv in self.dummies[name]]

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        blocks = []
        for name, (median, mean, sd) in self.numeric.items():
            v = as_float(frame[name])
            blocks.append((np.where(np.isfinite(v), v, median) - mean) / sd)
        for name, levels in self.dummies.items():
            keys = labels(frame[name])
            blocks += [(keys == lv).to_numpy(dtype=float) for lv in levels]
        return np.column_stack(blocks) if blocks else np.zeros((len(frame), 0))


# --------------------------------------------------------------------------------- fits
def _event_class(ctx: EvalContext, y: pd.Series) -> Any:
    values = y.dropna().unique()
    if ctx.survival is not None and ctx.target == ctx.survival[1] and \
            ctx.schema.event_value is not None:
        return labels(pd.Series([ctx.schema.event_value])).iloc[0]
    if y.dtype == float:
        return float(np.max(values))
    for word in _EVENT_WORDS:
        hits = [v for v in values if str(v).lower() == word]
        if hits:
            return hits[0]
    return y.value_counts().index[-1]  # the rarest label


def _logistic_fits(ctx: EvalContext, tables: dict[str, pd.DataFrame],
                   design: _Design) -> dict[str, Fit | None]:
    assert ctx.target is not None
    event = _event_class(ctx, labels(tables["train"][ctx.target]))
    out: dict[str, Fit | None] = {}
    for key, frame in tables.items():
        y = labels(frame[ctx.target])
        keep = y.notna().to_numpy()
        out[key] = _irls_logistic(design.matrix(frame)[keep], (y[keep] == event).to_numpy(float))
    return out


def _irls_logistic(x: np.ndarray, y: np.ndarray, ridge: float = RIDGE) -> Fit | None:
    """Ridge-stabilised logistic regression; slopes (no intercept) with Wald SEs from the
    penalised Fisher information."""
    from sklearn.linear_model import LogisticRegression

    if len(y) <= x.shape[1] + 1 or y.min() == y.max():
        return None
    model = LogisticRegression(C=1.0 / ridge, solver="newton-cholesky", max_iter=200)
    with fitting():
        model.fit(x, y)
        xx = np.column_stack([np.ones(len(y)), x])
        p = model.predict_proba(x)[:, 1]
        penalty = np.full(xx.shape[1], ridge)
        penalty[0] = 0.0
        hess = (xx * np.clip(p * (1 - p), 1e-10, None)[:, None]).T @ xx + np.diag(penalty)
        se = np.sqrt(np.abs(np.diag(np.linalg.pinv(hess))))
    return _with_p(model.coef_[0], se[1:])


def _linear_fits(ctx: EvalContext, tables: dict[str, pd.DataFrame],
                 design: _Design) -> dict[str, Fit | None]:
    assert ctx.target is not None
    out: dict[str, Fit | None] = {}
    for key, frame in tables.items():
        y = as_float(frame[ctx.target])
        keep = np.isfinite(y)
        x = np.column_stack([np.ones(keep.sum()), design.matrix(frame)[keep]])
        if keep.sum() <= x.shape[1] + 1:
            out[key] = None
            continue
        beta, *_ = np.linalg.lstsq(x, y[keep], rcond=None)
        resid = y[keep] - x @ beta
        sigma2 = float(resid @ resid) / (len(resid) - x.shape[1])
        se = np.sqrt(np.abs(np.diag(np.linalg.pinv(x.T @ x))) * sigma2)
        out[key] = _with_p(beta[1:], se[1:])
    return out


def _cox_fits(ctx: EvalContext, tables: dict[str, pd.DataFrame],
              design: _Design) -> dict[str, Fit | None]:
    assert ctx.survival is not None
    out: dict[str, Fit | None] = {}
    for key, frame in tables.items():
        time = as_float(frame[ctx.survival[0]])
        keep = np.isfinite(time) & (time >= 0) & frame[ctx.survival[1]].notna().to_numpy()
        event = ctx.event_indicator(frame)[keep]
        x = design.matrix(frame)[keep]
        out[key] = None if event.sum() < 2 or x.shape[1] == 0 else cox_fit(x, time[keep], event)
    return out


def cox_fit(x: np.ndarray, time: np.ndarray, event: np.ndarray,
            ridge: float = COX_RIDGE) -> Fit | None:
    """Cox proportional hazards (Breslow ties) by Newton-Raphson with step halving.

    O(n p²) per iteration: risk-set sums are reverse cumulative sums over sorted times.
    Returns log hazard ratios with Wald standard errors from the observed information.
    """
    order = np.argsort(time, kind="stable")
    t, e, x = time[order], np.asarray(event, dtype=bool)[order], x[order]
    first = np.searchsorted(t, t, side="left")        # start of each time's risk set
    last = np.searchsorted(t, t, side="right") - 1    # end of each time's tie group
    xe = x[e]

    def parts(beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        eta = x @ beta
        w = np.exp(eta - eta.max())
        s0 = np.cumsum(w[::-1])[::-1][first]
        s1 = np.cumsum((w[:, None] * x)[::-1], axis=0)[::-1][first]
        m = s1[e] / s0[e][:, None]
        loglik = float(eta[e].sum() - (np.log(s0[e]) + eta.max()).sum()) - 0.5 * ridge * beta @ beta
        grad = (xe - m).sum(0) - ridge * beta
        c = np.cumsum(np.where(e, 1.0 / s0, 0.0))[last]
        info = (x * (w * c)[:, None]).T @ x - m.T @ m + ridge * np.eye(len(beta))
        return loglik, grad, info

    beta = np.zeros(x.shape[1])
    with np.errstate(all="ignore"):
        loglik, grad, info = parts(beta)
        for _ in range(60):
            step = np.linalg.lstsq(info, grad, rcond=None)[0]
            for _ in range(30):  # step halving keeps the likelihood increasing
                new = parts(beta + step)
                if np.isfinite(new[0]) and new[0] >= loglik - 1e-10:
                    break
                step = step / 2
            else:
                break
            beta = beta + step
            loglik, grad, info = new
            if np.max(np.abs(step)) < 1e-9:
                break
        se = np.sqrt(np.abs(np.diag(np.linalg.pinv(info))))
    if not np.all(np.isfinite(beta)):
        return None
    return _with_p(beta, se)


def _with_p(beta: np.ndarray, se: np.ndarray) -> Fit:
    from scipy.stats import norm

    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * norm.sf(np.abs(beta / se))
    return beta, se, np.nan_to_num(p, nan=1.0)


# ---------------------------------------------------------------------------- comparison
def ci_overlap(lo_a: np.ndarray, hi_a: np.ndarray, lo_b: np.ndarray,
               hi_b: np.ndarray) -> np.ndarray:
    """Karr et al. interval overlap: mean share of each interval covered by their overlap.

    1 for identical intervals, 0 (clipped) for disjoint ones.
    """
    inter = np.minimum(hi_a, hi_b) - np.maximum(lo_a, lo_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        both = 0.5 * (inter / (hi_a - lo_a) + inter / (hi_b - lo_b))
    return np.clip(np.nan_to_num(both, nan=0.0), 0.0, 1.0)


def _compare(ctx: EvalContext, model: str, scale: str, terms: list[str],
             fits: dict[str, Any]) -> tuple[list[Metric], dict[str, Any]]:
    est = {k: f[0] for k, f in fits.items()}
    lo = {k: f[0] - Z95 * f[1] for k, f in fits.items()}
    hi = {k: f[0] + Z95 * f[1] for k, f in fits.items()}
    significant = fits["train"][2] < 0.05
    sign: dict[str, float | None] = {}
    overlap: dict[str, np.ndarray] = {}
    for key in ("synthetic", "holdout"):
        agree = np.sign(est[key][significant]) == np.sign(est["train"][significant])
        sign[key] = float(agree.mean()) if significant.any() else None
        overlap[key] = ci_overlap(lo["train"], hi["train"], lo[key], hi[key])
    rows = [
        {
            "term": term,
            "significant_in_train": bool(significant[i]),
            **{k: {"estimate": est[k][i], "low": lo[k][i], "high": hi[k][i],
                   "p": fits[k][2][i]} for k in ("train", "synthetic", "holdout")},
            "overlap_synthetic": overlap["synthetic"][i],
            "overlap_holdout": overlap["holdout"][i],
        }
        for i, term in enumerate(terms)
    ]
    need_sign, need_overlap = ctx.thresholds.sign_agreement, ctx.thresholds.ci_overlap
    label = {"logistic": "logistic regression", "cox": "Cox model",
             "linear": "linear regression"}[model]
    mean_overlap = {k: float(v.mean()) if len(v) else None for k, v in overlap.items()}
    metrics = [
        Metric(
            f"sign_agreement_{model}", sign["synthetic"], sign["holdout"],
            threshold=need_sign,
            passed=None if sign["synthetic"] is None else sign["synthetic"] >= need_sign,
            direction="higher",
            description=f"Share of the effects a {label} finds on real data that point the "
            "same way (harmful or protective) on synthetic data.",
            rule=f">= {need_sign:g}, over the {int(significant.sum())} coefficient(s) "
            "significant in train (p < 0.05)",
            note="" if significant.any() else "No coefficient is significant in train.",
            details={"coefficients": len(terms), "significant_in_train": int(significant.sum())},
        ),
        Metric(
            f"ci_overlap_{model}", mean_overlap["synthetic"], mean_overlap["holdout"],
            threshold=need_overlap,
            passed=None if mean_overlap["synthetic"] is None
            else mean_overlap["synthetic"] >= need_overlap,
            direction="higher",
            description=f"How much the 95% confidence intervals of the {label}'s effects on "
            "synthetic and real data overlap (1 = identical, 0 = disjoint).",
            rule=f"mean over all coefficients >= {need_overlap:g} (Karr et al. overlap)",
            details={"scale": scale, "terms": rows},
        ),
    ]
    def triple(k: str, i: int) -> list[float]:
        return [float(est[k][i]), float(lo[k][i]), float(hi[k][i])]

    plot = {
        "label": f"{model}: {scale}",
        "reference": 0.0,
        "rows": [{"term": t, "real": triple("train", i), "synthetic": triple("synthetic", i),
                  "holdout": triple("holdout", i)} for i, t in enumerate(terms)],
    }
    return metrics, plot
