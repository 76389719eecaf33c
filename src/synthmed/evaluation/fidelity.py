"""Fidelity: does the synthetic table look like the real one, column by column and jointly?

Every figure is computed twice — synthetic against train, and the real holdout against train —
so that the gap any fresh real sample shows is the yardstick. Metrics (all non-gates: a failed
fidelity metric makes the section ``warn``; privacy owns the gates):

``column_distance``
    Share of columns whose marginal distance (KS for numbers and dates, total variation for
    categories) and missing-value rate are within ``column_gap_ratio`` x the holdout's gap, or
    below ``column_gap_floor``. Per-column figures in ``details``.
``column_similarity``
    1 - mean marginal distance (informative).
``association_max_diff`` / ``association_mean_diff``
    Largest and mean absolute difference of pairwise associations (Spearman's rho for number
    pairs, Cramér's V for category pairs, correlation ratio eta for number-category pairs). A
    pair passes when its difference is <= ``max_association_diff`` or <= ``column_gap_ratio`` x
    the holdout's difference for that pair (small real samples differ by more than 0.10).
``detection_auc``
    Out-of-fold (5-fold) AUROC of gradient boosting separating train from synthetic rows on
    balanced subsamples; 0.5 means indistinguishable.
``rare_category_coverage``
    Share of the categories with at least ``rare_category_min_count`` train records that appear
    in the synthetic table.
``out_of_support``
    Share of values outside what train shows (numbers beyond the train range, categories train
    never had); real holdout data also has some, so the rule is relative to the holdout's share.
``impossible_values``
    Count of values that cannot be real: negative numbers in a column train never has negative,
    fractions in an integer column, a third value in a yes/no column. Must be 0. Date-order and
    sex-specific rules need domain knowledge and are out of scope here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthmed.evaluation._models import detection_auc, labels, tree_matrix
from synthmed.evaluation._stats import (
    as_float,
    association_matrix,
    ks_distance,
    tv_distance,
)
from synthmed.evaluation.context import EvalContext, SectionOutput
from synthmed.evaluation.result import Metric, Section
from synthmed.schema import NUMERIC_KINDS

__all__ = ["evaluate_fidelity"]

SECTION = "fidelity"
N_BINS = 20
TOP_LEVELS = 20
SUPPORT_FLOOR = 0.001  # share of out-of-support values tolerated when the holdout has none


def evaluate_fidelity(ctx: EvalContext) -> SectionOutput:
    """Fidelity metrics of ``ctx.synthetic`` (and of ``ctx.holdout`` as the reference).

    Examples
    --------
    >>> from synthmed import load_dataset, train_holdout_split
    >>> from synthmed.evaluation import evaluate
    >>> data = load_dataset("pbc")
    >>> train, holdout = train_holdout_split(data.frame)
    >>> result = evaluate(train, holdout, holdout, data.schema, sections=["fidelity"])
    >>> result.metric("fidelity", "detection_auc").passed
    True
    """
    numeric = [c.name for c in ctx.schema.columns if c.kind in NUMERIC_KINDS | {"datetime"}]
    categorical = [c for c in ctx.schema.names if c not in numeric]
    metrics: list[Metric] = []
    column_metrics, histograms = _columns(ctx, numeric, categorical)
    metrics += column_metrics
    assoc_metrics, assoc_plot = _associations(ctx, numeric, categorical)
    metrics += assoc_metrics
    metrics.append(_detection(ctx, categorical))
    metrics.append(_rare_categories(ctx, categorical))
    metrics += _support_checks(ctx, numeric, categorical)
    plots = {"columns": histograms, "association_diff": assoc_plot}
    return Section(SECTION, tuple(metrics)), plots


# ----------------------------------------------------------------------------- columns
def _distance(ctx: EvalContext, name: str, numeric: bool, other: pd.DataFrame) -> float:
    if numeric:
        return ks_distance(as_float(ctx.train[name]), as_float(other[name]))
    return tv_distance(labels(ctx.train[name]), labels(other[name]))


def _columns(ctx: EvalContext, numeric: list[str],
             categorical: list[str]) -> tuple[list[Metric], dict[str, Any]]:
    ratio, floor = ctx.thresholds.column_gap_ratio, ctx.thresholds.column_gap_floor
    details: dict[str, Any] = {}
    syn_d, hold_d, passed = [], [], []
    for name in ctx.schema.names:
        is_num = name in numeric
        d_syn = _distance(ctx, name, is_num, ctx.synthetic)
        d_hold = _distance(ctx, name, is_num, ctx.holdout)
        miss_train = float(ctx.train[name].isna().mean())
        m_syn = abs(float(ctx.synthetic[name].isna().mean()) - miss_train)
        m_hold = abs(float(ctx.holdout[name].isna().mean()) - miss_train)
        ok = (d_syn <= max(ratio * d_hold, floor)) and (m_syn <= max(ratio * m_hold, floor))
        syn_d.append(d_syn)
        hold_d.append(d_hold)
        passed.append(ok)
        details[name] = {
            "statistic": "ks" if is_num else "total_variation",
            "synthetic": round(d_syn, 4), "holdout": round(d_hold, 4),
            "missing_gap_synthetic": round(m_syn, 4), "missing_gap_holdout": round(m_hold, 4),
            "passed": ok,
        }
    failed = [n for n, ok in zip(ctx.schema.names, passed, strict=True) if not ok]
    share = float(np.mean(passed)) if passed else 1.0
    metrics = [
        Metric(
            "column_distance", share, None, threshold=1.0, passed=not failed,
            direction="higher",
            description="Share of columns whose distribution and missing-value rate are as "
            "close to the real data as a fresh real sample is.",
            rule=f"every column: gap <= {ratio:g} x holdout gap or <= {floor:g} "
            "(KS for numbers and dates, total variation for categories, and missing rate)",
            details=details,
            note=f"Columns outside the rule: {', '.join(failed)}." if failed else "",
        ),
        Metric(
            "column_similarity", 1.0 - float(np.mean(syn_d)) if syn_d else None,
            1.0 - float(np.mean(hold_d)) if hold_d else None, direction="higher",
            description="Average closeness of each column's distribution to the real one "
            "(1 = identical, 0 = no overlap).",
            rule="informative (1 - mean KS / total variation distance)",
        ),
    ]
    histograms = {name: _histogram(ctx, name, name in numeric) for name in ctx.schema.names}
    return metrics, histograms


def _histogram(ctx: EvalContext, name: str, numeric: bool) -> dict[str, Any]:
    tables = {"train": ctx.train, "synthetic": ctx.synthetic, "holdout": ctx.holdout}
    out: dict[str, Any] = {"kind": ctx.schema.column(name).kind}
    if numeric:
        values = {k: as_float(t[name]) for k, t in tables.items()}
        pooled = np.concatenate([v[np.isfinite(v)] for v in values.values()])
        # trimmed range: the plot never reveals a table's extreme values
        lo, hi = (np.quantile(pooled, [0.005, 0.995]) if len(pooled) else (0.0, 1.0))
        hi = hi if hi > lo else lo + 1.0
        edges = np.linspace(lo, hi, N_BINS + 1)
        out["bins"] = [round(float(e), 6) for e in edges]
        if ctx.schema.column(name).kind == "datetime":
            out["unit"] = "days since 1970-01-01"
        for key, v in values.items():
            v = np.clip(v[np.isfinite(v)], lo, hi)
            counts = np.histogram(v, bins=edges)[0]
            out[key] = [round(float(c), 5) for c in counts / max(len(v), 1)]
    else:
        train_labels = labels(ctx.train[name]).dropna()
        top = list(train_labels.value_counts().index[:TOP_LEVELS])
        shares = {}
        for key, t in tables.items():
            lab = labels(t[name]).dropna()
            counts = lab.value_counts()
            n = max(len(lab), 1)
            row = [float(counts.get(level, 0)) / n for level in top]
            shares[key] = [*row, max(0.0, 1.0 - sum(row))]
        keep_other = any(s[-1] > 1e-12 for s in shares.values())
        out["categories"] = [*top, "(other)"] if keep_other else top
        for key, s in shares.items():
            out[key] = [round(v, 5) for v in (s if keep_other else s[:-1])]
    out["missing"] = {k: round(float(t[name].isna().mean()), 5) for k, t in tables.items()}
    return out


# ------------------------------------------------------------------------ associations
def _associations(ctx: EvalContext, numeric: list[str],
                  categorical: list[str]) -> tuple[list[Metric], dict[str, Any]]:
    levels = _levels(ctx, categorical)
    tables = {k: _capped(ctx, t, f"fidelity-association-{k}")
              for k, t in (("train", ctx.train), ("synthetic", ctx.synthetic),
                           ("holdout", ctx.holdout))}
    mats = {k: association_matrix(t, numeric, levels)[1] for k, t in tables.items()}
    names = [*numeric, *categorical]
    d_syn = np.abs(mats["synthetic"] - mats["train"])
    d_hold = np.abs(mats["holdout"] - mats["train"])
    limit, ratio = ctx.thresholds.max_association_diff, ctx.thresholds.column_gap_ratio
    iu = np.triu_indices(len(names), k=1)
    pair_ok = d_syn[iu] <= np.maximum(limit, ratio * d_hold[iu]) + 1e-12
    p = len(numeric)

    def measure(i: int, j: int) -> str:
        return "spearman" if max(i, j) < p else ("cramers_v" if min(i, j) >= p else "eta")

    worst = np.argsort(-d_syn[iu], kind="stable")[:10]
    top = [
        {
            "pair": f"{names[iu[0][k]]} ~ {names[iu[1][k]]}",
            "measure": measure(int(iu[0][k]), int(iu[1][k])),
            "train": round(float(mats["train"][iu[0][k], iu[1][k]]), 4),
            "synthetic": round(float(mats["synthetic"][iu[0][k], iu[1][k]]), 4),
            "holdout": round(float(mats["holdout"][iu[0][k], iu[1][k]]), 4),
            "passed": bool(pair_ok[k]),
        }
        for k in worst
    ]
    has_pairs = len(iu[0]) > 0
    metrics = [
        Metric(
            "association_max_diff", float(d_syn[iu].max()) if has_pairs else None,
            float(d_hold[iu].max()) if has_pairs else None, threshold=limit,
            passed=bool(pair_ok.all()),
            description="Largest difference, over all pairs of columns, between how strongly "
            "two variables go together in the synthetic and in the real data.",
            rule=f"every pair: difference <= {limit:g} or <= {ratio:g} x the holdout's "
            "difference (Spearman / Cramér's V / correlation ratio)",
            details={"pairs_failing": int((~pair_ok).sum()), "pairs": len(pair_ok),
                     "largest": top},
        ),
        Metric(
            "association_mean_diff", float(d_syn[iu].mean()) if has_pairs else None,
            float(d_hold[iu].mean()) if has_pairs else None,
            description="Average difference in how strongly pairs of variables go together.",
            rule="informative",
        ),
    ]
    plot = {  # the report's association_diff shape (synthmed.report.plots)
        "columns": names,
        "measures": "spearman (number pairs), cramers_v (category pairs), eta (mixed)",
        "synthetic": np.round(mats["synthetic"] - mats["train"], 4).tolist(),
        "holdout": np.round(mats["holdout"] - mats["train"], 4).tolist(),
        "threshold": limit,
    }
    return metrics, plot


def _capped(ctx: EvalContext, frame: pd.DataFrame, purpose: str) -> pd.DataFrame:
    if len(frame) > ctx.max_rows:
        notes = ctx.notes.setdefault(SECTION, [])
        note = (f"Associations and detection use at most {ctx.max_rows:,} rows per table "
                "(seeded subsample).")
        if note not in notes:
            notes.append(note)
    return ctx.capped(frame, purpose)


def _capped_groups(ctx: EvalContext, groups: np.ndarray | None, n: int,
                   purpose: str) -> np.ndarray | None:
    """The patient of each row :func:`_capped` keeps (same seed and purpose)."""
    if groups is None:
        return None
    idx = ctx.capped_index(n, purpose)
    return groups if idx is None else groups[idx]


# --------------------------------------------------------------------------- detection
def _detection(ctx: EvalContext, categorical: list[str]) -> Metric:
    levels = _levels(ctx, categorical)
    train, syn, hold = (
        tree_matrix(_capped(ctx, t, f"fidelity-detection-{k}"), ctx.schema, levels)
        for k, t in (("train", ctx.train), ("synthetic", ctx.synthetic), ("holdout", ctx.holdout))
    )
    k = len(levels)
    g_train = _capped_groups(ctx, ctx.train_groups, len(ctx.train), "fidelity-detection-train")
    g_hold = _capped_groups(ctx, ctx.holdout_groups, len(ctx.holdout),
                            "fidelity-detection-holdout")
    value = detection_auc(train, syn, ctx.rng("fidelity-detection"), n_categorical=k,
                          real_groups=g_train)
    reference = detection_auc(train, hold, ctx.rng("fidelity-detection-reference"),
                              n_categorical=k, real_groups=g_train, other_groups=g_hold)
    limit = ctx.thresholds.detection_auc
    ok = None if np.isnan(value) else bool(value <= limit)
    return Metric(
        "detection_auc", None if np.isnan(value) else value,
        None if np.isnan(reference) else reference, threshold=limit, passed=ok,
        description="How well a classifier can tell synthetic records from real ones "
        "(0.5 = no better than a coin flip, 1 = always).",
        rule=f"<= {limit:g} (out-of-fold AUROC, 5 folds, balanced real/synthetic)",
        note="" if ok is not None else "Too few rows to cross-validate a classifier.",
    )


def _levels(ctx: EvalContext, categorical: list[str]) -> dict[str, list[Any]]:
    """The most frequent train levels of each categorical column (others share "other")."""
    return {c: list(ctx.train[c].dropna().astype(object).value_counts().index[:TOP_LEVELS])
            for c in categorical}


# --------------------------------------------------------------- categories and support
def _rare_categories(ctx: EvalContext, categorical: list[str]) -> Metric:
    min_count = ctx.thresholds.rare_category_min_count
    details: dict[str, Any] = {}
    found = {"synthetic": 0, "holdout": 0}
    total = 0
    for name in categorical:
        counts = labels(ctx.train[name]).dropna().value_counts()
        required = set(counts.index[counts >= min_count])
        if not required:
            continue
        total += len(required)
        row = {"required": len(required)}
        for key, t in (("synthetic", ctx.synthetic), ("holdout", ctx.holdout)):
            present = set(labels(t[name]).dropna().unique())
            hit = len(required & present)
            found[key] += hit
            row[f"absent_{key}"] = len(required) - hit
        details[name] = row
    value = found["synthetic"] / total if total else 1.0
    return Metric(
        "rare_category_coverage", value, found["holdout"] / total if total else 1.0,
        threshold=1.0, passed=value >= 1.0, direction="higher",
        description=f"Share of real categories (with at least {min_count} records) that "
        "the synthetic data contains at all.",
        rule=f"every category with >= {min_count} train records appears", details=details,
    )


def _support_checks(ctx: EvalContext, numeric: list[str], categorical: list[str]) -> list[Metric]:
    outside = {"synthetic": 0, "holdout": 0}
    cells = {"synthetic": 0, "holdout": 0}
    impossible = {"synthetic": 0, "holdout": 0}
    details: dict[str, Any] = {}
    tables = (("synthetic", ctx.synthetic), ("holdout", ctx.holdout))
    for name in ctx.schema.names:
        kind = ctx.schema.column(name).kind
        row: dict[str, int] = {}
        if name in numeric:
            ref = as_float(ctx.train[name])
            ref = ref[np.isfinite(ref)]
            lo, hi = (ref.min(), ref.max()) if len(ref) else (-np.inf, np.inf)
            for key, t in tables:
                v = as_float(t[name])
                v = v[np.isfinite(v)]
                cells[key] += len(v)
                row[f"outside_{key}"] = n_out = int(((v < lo) | (v > hi)).sum())
                outside[key] += n_out
                bad = 0
                if kind in NUMERIC_KINDS and lo >= 0:
                    bad += int((v < 0).sum())
                if kind == "integer":
                    bad += int((np.abs(v - np.round(v)) > 1e-9).sum())
                row[f"impossible_{key}"] = bad
                impossible[key] += bad
        else:
            seen = set(labels(ctx.train[name]).dropna().unique())
            for key, t in tables:
                lab = labels(t[name]).dropna()
                cells[key] += len(lab)
                row[f"outside_{key}"] = n_out = int((~lab.isin(seen)).sum())
                outside[key] += n_out
                bad = n_out if kind == "boolean" else 0
                row[f"impossible_{key}"] = bad
                impossible[key] += bad
        if any(row.values()):
            details[name] = row
    share = {k: outside[k] / cells[k] if cells[k] else 0.0 for k in outside}
    ratio = ctx.thresholds.column_gap_ratio
    bound = max(ratio * share["holdout"], SUPPORT_FLOOR)
    hold_rate = impossible["holdout"] / cells["holdout"] if cells["holdout"] else 0.0
    allowed = int(np.floor(hold_rate * cells["synthetic"] + 1e-9))
    return [
        Metric(
            "out_of_support", share["synthetic"], share["holdout"], threshold=bound,
            passed=share["synthetic"] <= bound,
            description="Share of synthetic values outside what the real training data "
            "shows (numbers beyond its range, categories it never had).",
            rule=f"<= {ratio:g} x the holdout's share, or <= {SUPPORT_FLOOR:g}",
            details=details,
        ),
        Metric(
            "impossible_values", float(impossible["synthetic"]), float(impossible["holdout"]),
            threshold=float(allowed), passed=impossible["synthetic"] <= allowed,
            description="Number of values that cannot be real: negative where the real "
            "data never is, fractions in a count, a third answer to a yes/no question.",
            rule="0, or no more often than in the real holdout (date-order and sex-specific "
            "rules are not checked)",
            details={k: v for k, v in details.items()
                     if v.get("impossible_synthetic") or v.get("impossible_holdout")},
        ),
    ]
