"""Bias section: does the synthetic table treat every group of people as the real data does?

Groups are the values of each sensitive column (numbers such as age cut into train quartiles
Q1-Q4; missing is its own group) and every pairwise intersection of two sensitive columns.
Figures: an audit of the source (informative), representation, per-group fidelity, per-group
outcome rates and the fairness of a downstream model. None is a gate: a failure warns.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any
import warnings

import numpy as np
import pandas as pd

from synthmed.evaluation._attacks import wilson
from synthmed.evaluation._neighbours import Layout
from synthmed.evaluation.context import EvalContext, SectionOutput
from synthmed.evaluation.result import Metric, Section
from synthmed.schema import NUMERIC_KINDS

__all__ = ["evaluate_bias"]

_MISSING = "(missing)"
_POSITIVE_NAMES = ("positive", "yes", "true", "1", "dead", "died", "death", "event")


def evaluate_bias(ctx: EvalContext) -> SectionOutput:
    """Source audit, representation, subgroup fidelity, outcome rates and model fairness."""
    if not ctx.sensitive:
        return Section("bias", skipped="No sensitive column is declared in the schema; mark "
                       "columns such as sex or ethnicity as sensitive to audit bias."), {}
    th = ctx.thresholds
    labels = {k: _group_labels(ctx, f) for k, f in
              (("train", ctx.train), ("holdout", ctx.holdout), ("synthetic", ctx.synthetic))}
    positive = _positive_value(ctx)
    outcome = {k: _outcome(ctx, f, positive) for k, f in
               (("train", ctx.train), ("holdout", ctx.holdout), ("synthetic", ctx.synthetic))}

    audit = _audit(ctx, labels["train"], outcome["train"])
    small = [g for g, row in audit.items() if row["small"]]
    metrics = [Metric(
        "small_groups", float(len(small)), None, None, None, "none",
        description=f"Number of groups with fewer than {th.small_group} training records: "
        "figures about them are unreliable and the generator may not learn them.",
        rule="reported", details={"groups": audit},
    )]
    metrics.append(_representation(ctx, labels))
    metrics.append(_subgroup_fidelity(ctx, labels))
    plots: dict[str, Any] = {"groups": _group_rows(audit, labels, outcome)}
    if outcome["train"] is not None:
        metrics.append(_outcome_rates(ctx, labels, outcome))
        metrics.extend(_fairness(ctx, positive))
    else:
        ctx.notes.setdefault("bias", []).append(
            "No binary or categorical target: outcome-rate and fairness figures are skipped.")
    return Section("bias", tuple(metrics)), plots


# ------------------------------------------------------------------ groups
def _attribute(ctx: EvalContext, frame: pd.DataFrame, name: str) -> pd.Series:
    col = ctx.schema.column(name)
    values = frame[name]
    if col.kind in NUMERIC_KINDS:
        ref = pd.to_numeric(ctx.train[name], errors="coerce").dropna()
        edges = np.unique(np.quantile(ref, [0.25, 0.5, 0.75])) if len(ref) else np.zeros(0)
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        q = np.searchsorted(edges, x, side="right") + 1
        out = pd.Series([f"Q{i}" for i in q], dtype=object)
        return out.where(~np.isnan(x), _MISSING)
    return values.astype(object).where(values.notna(), _MISSING).astype(str).reset_index(drop=True)


def _group_labels(ctx: EvalContext, frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Group label of every row, per grouping (single attribute or pair)."""
    single = {n: _attribute(ctx, frame, n) for n in ctx.sensitive}
    out = {n: s for n, s in single.items()}
    for a, b in combinations(ctx.sensitive, 2):
        out[f"{a} x {b}"] = single[a] + " & " + single[b]
    return out


def _groups(labels: dict[str, pd.Series]) -> list[tuple[str, str, np.ndarray]]:
    return [(by, g, (s == g).to_numpy()) for by, s in labels.items() for g in sorted(s.unique())]


def _group_rows(audit: dict[str, dict[str, Any]], labels: dict[str, dict[str, pd.Series]],
                outcome: dict[str, np.ndarray | None]) -> list[dict[str, Any]]:
    """One flat row per group, in the report's ``bias.groups`` shape."""
    rows = []
    for row in audit.values():
        by, g = row["by"], row["group"]
        out: dict[str, Any] = {"attribute": by, "group": g, "n_train": row["records"]}
        for part in ("train", "synthetic", "holdout"):
            mask = _mask(labels[part], by, g)
            out[f"share_{part}"] = float(mask.mean()) if len(mask) else None
            y = outcome.get(part)
            if y is not None and part != "holdout":
                out[f"outcome_{part}"] = float(y[mask].mean()) if mask.any() else None
        out["missing_rate_train"] = row["missing_rate"]
        if row["small"]:
            out["flag"] = "small group"
        rows.append(out)
    return rows


def _key(by: str, group: str) -> str:
    return f"{by} = {group}"


def _mask(labels: dict[str, pd.Series], by: str, group: str) -> np.ndarray:
    return (labels[by] == group).to_numpy()


# ------------------------------------------------------------------ outcome
def _positive_value(ctx: EvalContext) -> Any:
    """The target value that counts as the outcome (event, positive, True or largest code)."""
    target = ctx.target
    if target is None or ctx.schema.column(target).kind not in ("categorical", "boolean"):
        return None
    values = ctx.train[target].dropna()
    if values.empty:
        return None
    levels = list(pd.unique(values))
    if ctx.schema.event_value is not None and ctx.schema.event_value in levels:
        return ctx.schema.event_value
    if ctx.schema.column(target).kind == "boolean" and True in levels:
        return True
    for name in _POSITIVE_NAMES:
        for level in levels:
            if str(level).strip().lower() == name:
                return level
    try:
        return max(levels)
    except TypeError:
        return values.value_counts().index[-1]


def _outcome(ctx: EvalContext, frame: pd.DataFrame, positive: Any) -> np.ndarray | None:
    if positive is None or ctx.target is None:
        return None
    return (frame[ctx.target] == positive).to_numpy()


# ------------------------------------------------------------------ figures
def _audit(ctx: EvalContext, labels: dict[str, pd.Series], y: np.ndarray | None
           ) -> dict[str, dict[str, Any]]:
    others = [c for c in ctx.schema.names if c not in ctx.sensitive]
    missing = (ctx.train[others].isna().to_numpy().mean(axis=1) if others
               else np.zeros(len(ctx.train)))
    out = {}
    for by, g, m in _groups(labels):
        n = int(m.sum())
        out[_key(by, g)] = {
            "by": by, "group": g, "records": n, "share": n / len(m),
            "outcome_rate": float(y[m].mean()) if y is not None and n else None,
            "missing_rate": float(missing[m].mean()) if n else None,
            "small": n < ctx.thresholds.small_group,
        }
    return out


def _representation(ctx: EvalContext, labels: dict[str, dict[str, pd.Series]]) -> Metric:
    th = ctx.thresholds

    def gaps(other: str) -> dict[str, dict[str, float]]:
        rows = {}
        for by, g, m in _groups(labels["train"]):
            real = float(m.mean())
            share = float(_mask(labels[other], by, g).mean())
            gap = abs(share - real)
            rows[_key(by, g)] = {"real": real, other: share, "gap": gap,
                                 "ok": bool(gap <= th.representation_abs
                                            or gap <= th.representation_rel * real)}
        return rows

    syn, hold = gaps("synthetic"), gaps("holdout")
    worst = max(v["gap"] for v in syn.values())
    return Metric(
        "representation_gap", worst, max(v["gap"] for v in hold.values()),
        th.representation_abs, all(v["ok"] for v in syn.values()), "lower",
        description="Largest difference, over groups, between a group's share of the "
        "synthetic records and its share of the real training records.",
        rule=f"every group within {th.representation_abs:.0%} points or "
        f"{th.representation_rel:.0%} relative",
        details={"groups": syn, "failing": [k for k, v in syn.items() if not v["ok"]]},
    )


def _distance(a: pd.Series, b: pd.Series, numeric: bool) -> float | None:
    """KS statistic for numbers (non-missing values), total variation for categories."""
    if numeric:
        x = a.dropna().to_numpy(dtype=float)
        y = b.dropna().to_numpy(dtype=float)
        if not len(x) or not len(y):
            return None
        grid = np.unique(np.r_[x, y])
        cx = np.searchsorted(np.sort(x), grid, side="right") / len(x)
        cy = np.searchsorted(np.sort(y), grid, side="right") / len(y)
        return float(np.abs(cx - cy).max())
    pa = a.astype(object).where(a.notna(), _MISSING).astype(str).value_counts(normalize=True)
    pb = b.astype(object).where(b.notna(), _MISSING).astype(str).value_counts(normalize=True)
    return float(0.5 * pa.sub(pb, fill_value=0.0).abs().sum())


def _mean_distance(ctx: EvalContext, real: pd.DataFrame, other: pd.DataFrame,
                   skip: set[str]) -> float | None:
    found = []
    for name in ctx.schema.names:
        if name in skip:
            continue
        kind = ctx.schema.column(name).kind
        numeric = kind in NUMERIC_KINDS
        a, b = real[name], other[name]
        if kind == "datetime":
            a, b = a.astype("int64").where(a.notna()), b.astype("int64").where(b.notna())
            numeric = True
        d = _distance(a, b, numeric)
        if d is not None:
            found.append(d)
    return float(np.mean(found)) if found else None


def _subgroup_fidelity(ctx: EvalContext, labels: dict[str, dict[str, pd.Series]]) -> Metric:
    th = ctx.thresholds
    factor = th.subgroup_fidelity_factor
    skip = set(ctx.sensitive)
    overall = {k: _mean_distance(ctx, ctx.train, getattr(ctx, k), skip)
               for k in ("synthetic", "holdout")}
    rows: dict[str, dict[str, Any]] = {}
    for by, g, m in _groups(labels["train"]):
        ms, mh = _mask(labels["synthetic"], by, g), _mask(labels["holdout"], by, g)
        if min(m.sum(), ms.sum(), mh.sum()) < th.small_group:
            continue
        real = ctx.train[m]
        d_s = _mean_distance(ctx, real, ctx.synthetic[ms], skip)
        d_h = _mean_distance(ctx, real, ctx.holdout[mh], skip)
        if d_s is None or d_h is None:
            continue
        # a group's figure: its distance over the larger of the overall distance and what
        # fresh real data of the same group reaches (small groups are noisy even for real data)
        scale = max(overall["synthetic"] or 0.0, d_h)
        ratio = d_s / scale if scale > 0 else (0.0 if d_s == 0 else float("inf"))
        rows[_key(by, g)] = {"synthetic": d_s, "holdout": d_h, "ratio": ratio,
                             "ok": bool(ratio <= factor)}
    desc = ("Worst group, by how far the synthetic data strays from the real data within the "
            "group, relative to how far it strays overall (mean per-column Kolmogorov-Smirnov "
            "/ total variation distance; the holdout's own distance for the group is the floor).")
    rule = f"no group above {factor} x max(overall figure, holdout's figure for the group)"
    if not rows:
        return Metric("subgroup_fidelity_ratio", None, None, factor, None, "lower",
                      description=desc, rule=rule,
                      note="No group has enough records in all three tables.")
    worst = max(r["ratio"] for r in rows.values())
    ratio_h = (max(r["holdout"] for r in rows.values()) / overall["holdout"]
               if overall["holdout"] else None)
    return Metric("subgroup_fidelity_ratio", worst, ratio_h, factor, bool(worst <= factor),
                  "lower", description=desc, rule=rule,
                  note="holdout_value: the holdout's worst group distance over its overall one.",
                  details={"overall": overall, "groups": rows,
                           "failing": [k for k, r in rows.items() if not r["ok"]]})


def _outcome_rates(ctx: EvalContext, labels: dict[str, dict[str, pd.Series]],
                   y: dict[str, np.ndarray | None]) -> Metric:
    th = ctx.thresholds
    groups = [(by, g, m) for by, g, m in _groups(labels["train"])
              if m.sum() >= th.small_group]
    conf = 1 - 0.05 / max(len(groups), 1)  # Bonferroni over groups

    def check(other: str) -> dict[str, dict[str, Any]]:
        rows = {}
        for by, g, m in groups:
            mo = _mask(labels[other], by, g)
            n_o, n_r = int(mo.sum()), int(m.sum())
            if n_o < th.small_group:
                # too few records to judge a rate; the representation figure covers this
                rows[_key(by, g)] = {"real": float(y["train"][m].mean()), other: None,
                                     "interval": None, "ok": None}
                continue
            rate = float(y[other][mo].mean())
            lo, hi = wilson(rate * n_o, n_o, conf)
            # widen for the real rate's own sampling noise (two samples of similar size)
            centre, half = (lo + hi) / 2, (hi - lo) / 2 * np.sqrt(1 + n_o / n_r)
            lo, hi = max(0.0, centre - half), min(1.0, centre + half)
            real = float(y["train"][m].mean())
            rows[_key(by, g)] = {"real": real, other: rate, "interval": [lo, hi],
                                 "ok": bool(lo <= real <= hi)}
        return rows

    syn, hold = check("synthetic"), check("holdout")
    n_bad = sum(r["ok"] is False for r in syn.values())
    return Metric(
        "outcome_rate_mismatches", float(n_bad),
        float(sum(r["ok"] is False for r in hold.values())),
        0.0, n_bad == 0, "lower",
        description="Number of groups whose real outcome rate (e.g. share of positive "
        "results) falls outside the uncertainty interval of the synthetic rate.",
        rule=f"== 0 (Wilson interval at {conf:.1%}, Bonferroni over groups, widened for "
        "the real rate's own noise)",
        details={"outcome_value_is_target_level": True, "groups": syn},
    )


def _fairness(ctx: EvalContext, positive: Any) -> list[Metric]:
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
    from sklearn.linear_model import LogisticRegression

    th = ctx.thresholds
    target = ctx.target
    assert target is not None
    layout = Layout.from_encoder(ctx.encoder)
    keep = np.concatenate([np.arange(sl.start, sl.stop) for n, sl in layout.slices.items()
                           if n != target])
    rng = ctx.rng("bias:fairness")
    hold = ctx.capped(ctx.holdout, "bias:holdout")
    perm = rng.permutation(len(hold))
    half_a = hold.iloc[np.sort(perm[: len(hold) // 2])]
    test = hold.iloc[np.sort(perm[len(hold) // 2:])]
    sources = {"real": ctx.capped(ctx.train, "bias:train"),
               "synthetic": ctx.capped(ctx.synthetic, "bias:synthetic"), "holdout": half_a}
    for label, frame in (("train", ctx.train), ("synthetic", ctx.synthetic)):
        if len(frame) > ctx.max_rows:
            ctx.notes.setdefault("bias", []).append(
                f"The fairness model uses {ctx.max_rows:,} of {len(frame):,} {label} rows.")
    y_test = (test[target] == positive).to_numpy()
    x_test = ctx.encode(test)[:, keep].astype(np.float64)
    groups = {n: _attribute(ctx, test, n).to_numpy() for n in ctx.sensitive}
    diffs: dict[str, dict[str, dict[str, float]]] = {}
    for label, frame in sources.items():
        y = (frame[target] == positive).to_numpy()
        if len(np.unique(y)) < 2:
            pred = np.full(len(test), bool(y[0]) if len(y) else False)
        else:
            model = LogisticRegression(max_iter=500, class_weight="balanced")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(ctx.encode(frame)[:, keep].astype(np.float64), y)
            pred = model.predict(x_test).astype(bool)
        diffs[label] = {}
        for name, g in groups.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                diffs[label][name] = {
                    "demographic_parity": float(demographic_parity_difference(
                        y_test, pred, sensitive_features=g)),
                    "equalized_odds": float(equalized_odds_difference(
                        y_test, pred, sensitive_features=g)),
                }
    out = []
    for kind, words in (("demographic_parity", "how often the model flags each group"),
                        ("equalized_odds", "the model's error rates in each group")):
        gap = {n: abs(diffs["synthetic"][n][kind] - diffs["real"][n][kind]) for n in groups}
        gap_h = {n: abs(diffs["holdout"][n][kind] - diffs["real"][n][kind]) for n in groups}
        worst = max(gap.values())
        out.append(Metric(
            f"{kind}_gap", worst, max(gap_h.values()), th.fairness_diff,
            bool(worst <= th.fairness_diff), "lower",
            description=f"Change in the gap between groups in {words}, when a model "
            "(logistic regression) learns from the synthetic data instead of the real data; "
            "both are tested on real holdout records.",
            rule=f"<= {th.fairness_diff}",
            details={"by_attribute": {n: {src: diffs[src][n][kind] for src in diffs}
                                      for n in groups}, "gap": gap},
            note="holdout_value: a model trained on half the holdout; all are tested on the "
            "other half, with prediction threshold 0.5 and balanced class weights.",
        ))
    return out

