"""Privacy section: can the synthetic table be used to learn about the people in the training data?

Every figure is a **gate**. Each is computed for the synthetic table and, as ``holdout_value``,
for real data the generator never saw used as if it were the release: the holdout is split in
two halves, one playing the release and the other the real control group, against a train
sample of the same size. That reference shows what pure chance gives at this data size.

Data used (each table capped at ``ctx.max_rows`` rows, seeded):

* train ``T`` and holdout ``H`` are cut to the same size (the larger one subsampled), as the
  distance-to-closest-record test and the control attacks need equal-size groups;
* the membership attack splits ``H`` in two: one half is the *reference* real sample whose
  density the release is compared with, the other half the non-members; members are a train
  sample of the same size (at most 2,000 of each).

Distances are L1 on ``ctx.encode()`` (each original column weighs at most 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from synthmed.evaluation import _attacks as atk
from synthmed.evaluation._neighbours import Layout, Space, nearest
from synthmed.evaluation.context import EvalContext, SectionOutput
from synthmed.evaluation.result import Metric, Section
from synthmed.generators.base import row_hashes

__all__ = ["evaluate_privacy"]

N_ATTACKS = 500
#: inference needs more targets: its risk is divided by (1 - control success), which is
#: small when a secret is easy to guess for anyone, so sampling noise is magnified
N_INFERENCE = 5_000
#: released records queried for the DCR of column subsets other than all columns
N_DCR_SUBSET = 3_000
N_MEMBERS = 2_000
N_RANDOM_SUBSETS = 2
_HASH_KEY = "privacy-copies"


def evaluate_privacy(ctx: EvalContext) -> SectionOutput:
    """Distance, copy, attack and disclosure figures of the synthetic table (all gates)."""
    th = ctx.thresholds
    train = _capped(ctx, ctx.train, "train")
    hold = _capped(ctx, ctx.holdout, "holdout")
    # a canonical row order: no figure may depend on how the release happens to be sorted
    order = np.argsort(row_hashes(ctx.synthetic, ctx.schema, _HASH_KEY), kind="stable")
    synth = _capped(ctx, ctx.synthetic.iloc[order].reset_index(drop=True), "synthetic")
    rng = ctx.rng("privacy:split")
    n_eq = min(len(train), len(hold))
    if len(train) != len(hold):
        ctx.notes.setdefault("privacy", []).append(
            f"Train and holdout cut to the same size ({n_eq:,} rows each) for the "
            "distance and control-attack figures."
        )
    train_eq = _sample(train, n_eq, rng)
    hold_eq = _sample(hold, n_eq, rng)
    layout = Layout.from_encoder(ctx.encoder)
    enc = {"T": ctx.encode(train_eq), "H": ctx.encode(hold_eq), "S": ctx.encode(synth)}
    codes = _float_codes([train_eq, hold_eq, synth], ctx)
    tab = dict(zip(("T", "H", "S"), codes, strict=True))

    # the reference setting: half the holdout released, the other half as control
    perm = rng.permutation(n_eq)
    ha, hb = np.sort(perm[: n_eq // 2]), np.sort(perm[n_eq // 2:])
    tb = np.sort(rng.choice(n_eq, len(hb), replace=False))
    settings = {
        "synthetic": _Setting(enc["S"], enc["T"], enc["H"], tab["S"], tab["T"], tab["H"]),
        "holdout": _Setting(enc["H"][ha], enc["T"][tb], enc["H"][hb],
                            tab["H"][ha], tab["T"][tb], tab["H"][hb]),
    }
    subsets = _column_subsets(ctx)
    found = {name: _figures(ctx, s, layout, subsets, name) for name, s in settings.items()}
    syn, ref = found["synthetic"], found["holdout"]

    metrics = [*_copy_metrics(ctx)]
    metrics.append(_dcr_metric(ctx, syn, ref, subsets))
    metrics.append(Metric(
        "nndr_ratio", syn["nndr"], ref["nndr"], th.nndr_ratio,
        _ge(syn["nndr"], th.nndr_ratio), "higher", gate=True,
        description="How much closer synthetic records sit to one particular training record "
        "than to the next one, compared with real people outside the training data; low "
        "values mean synthetic records imitate individual patients.",
        rule=f">= {th.nndr_ratio} (median nearest/second-nearest ratio, synthetic / holdout)",
        details={"median_ratio": syn["nndr"], "p5_ratio": syn["nndr_p5"]},
    ))
    metrics.extend(_attack_metrics(ctx, syn, ref))
    metrics.extend(_membership_metrics(ctx, syn, ref))
    metrics.append(_cap_metric(ctx, train_eq, hold_eq, synth))

    plots = {
        "dcr": _histogram(syn["d_release"], syn["d_control"]),
        "membership_roc": {"synthetic": syn["roc"], "holdout": ref["roc"]},
    }
    return Section("privacy", tuple(metrics)), plots


class _Setting:
    """A release, the members it may leak (train) and real non-members (control)."""

    def __init__(self, rel: np.ndarray, train: np.ndarray, control: np.ndarray,
                 rel_t: np.ndarray, train_t: np.ndarray, control_t: np.ndarray) -> None:
        self.rel, self.train, self.control = rel, train, control
        self.rel_t, self.train_t, self.control_t = rel_t, train_t, control_t


# ------------------------------------------------------------------ helpers
def _capped(ctx: EvalContext, frame: pd.DataFrame, label: str) -> pd.DataFrame:
    out = ctx.capped(frame, f"privacy:{label}")
    if len(out) < len(frame):
        ctx.notes.setdefault("privacy", []).append(
            f"Privacy figures use {len(out):,} of {len(frame):,} {label} rows (seeded sample)."
        )
    return out


def _sample(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= n:
        return frame.reset_index(drop=True)
    return frame.iloc[np.sort(rng.choice(len(frame), n, replace=False))].reset_index(drop=True)


def _float_codes(frames: list[pd.DataFrame], ctx: EvalContext) -> list[np.ndarray]:
    """Each table as floats: numbers as they are, categories as shared codes, NaN missing."""
    out: list[list[np.ndarray]] = [[] for _ in frames]
    for name in ctx.schema.names:
        col = ctx.schema.column(name)
        if col.kind in ("numeric", "integer", "datetime"):
            for i, f in enumerate(frames):
                out[i].append(_numbers(f[name], col.kind))
        else:
            joint = pd.concat([f[name].astype(object) for f in frames], ignore_index=True)
            c, _ = pd.factorize(joint.astype(str).where(joint.notna(), None))
            c = np.where(c < 0, np.nan, c.astype(float))
            pos = 0
            for i, f in enumerate(frames):
                out[i].append(c[pos:pos + len(f)])
                pos += len(f)
    n_cols = len(ctx.schema.names)
    return [np.column_stack(o) if o else np.zeros((len(f), n_cols)) for o, f in
            zip(out, frames, strict=True)]


def _numbers(series: pd.Series, kind: str) -> np.ndarray:
    """Numbers (datetimes as days) as float, NaN where missing."""
    if kind == "datetime":
        days = series.to_numpy(dtype="datetime64[ns]").astype("int64") / 86_400e9
        return np.where(series.isna().to_numpy(), np.nan, days)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)


def _column_subsets(ctx: EvalContext) -> dict[str, list[str]]:
    names = ctx.schema.names
    subsets = {"all columns": names}
    if ctx.quasi_identifiers and len(ctx.quasi_identifiers) < len(names):
        subsets["quasi-identifiers"] = ctx.quasi_identifiers
    rng = ctx.rng("privacy:dcr-subsets")
    if len(names) >= 4:
        size = max(2, len(names) // 2)
        for i in range(N_RANDOM_SUBSETS):
            picked = set(rng.choice(len(names), size, replace=False).tolist())
            subsets[f"random subset {i + 1}"] = [n for j, n in enumerate(names) if j in picked]
    return subsets


def _ge(value: float | None, bound: float) -> bool | None:
    return None if value is None or not np.isfinite(value) else bool(value >= bound)


def _le(value: float | None, bound: float) -> bool | None:
    return None if value is None or not np.isfinite(value) else bool(value <= bound)


# ------------------------------------------------------------------ the figures of one setting
def _figures(ctx: EvalContext, s: _Setting, layout: Layout, subsets: dict[str, list[str]],
             label: str) -> dict[str, Any]:
    out: dict[str, Any] = {"dcr": {}}
    full = {k: Space.build(getattr(s, k), layout) for k in ("rel", "train", "control")}
    for name, cols in subsets.items():
        if name == "all columns":
            rel, tr, ct = full["rel"], full["train"], full["control"]
        else:
            rng = ctx.rng(f"privacy:dcr:{label}:{name}")
            rel_rows = s.rel if len(s.rel) <= N_DCR_SUBSET else s.rel[
                np.sort(rng.choice(len(s.rel), N_DCR_SUBSET, replace=False))]
            rel = Space.build(rel_rows, layout, cols)
            tr, ct = (Space.build(getattr(s, k), layout, cols) for k in ("train", "control"))
        d_tr = nearest(rel, tr, 2 if name == "all columns" else 1)
        d_ct = nearest(rel, ct, 1)[:, 0]
        closer = float((d_tr[:, 0] < d_ct).sum() + 0.5 * (d_tr[:, 0] == d_ct).sum())
        n = len(d_ct)
        p = binomtest(round(closer), n, 0.5, alternative="greater").pvalue if n else 1.0
        out["dcr"][name] = {"share": closer / n if n else float("nan"), "p_value": float(p),
                            "records": n}
        if name == "all columns":
            out["d_release"], out["nndr_release"] = d_tr[:, 0], _nndr(d_tr)
    d_ctl = nearest(full["control"], full["train"], 2)
    out["d_control"] = d_ctl[:, 0]
    out["nndr"] = _ratio(np.median(out["nndr_release"]), np.median(_nndr(d_ctl)))
    out["nndr_p5"] = _ratio(np.percentile(out["nndr_release"], 5),
                            np.percentile(_nndr(d_ctl), 5))
    out.update(_attacks(ctx, s, layout, full, label))
    return out


def _nndr(d: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        r = d[:, 0] / d[:, 1]
    return np.where((d[:, 1] == 0) | ~np.isfinite(d[:, 1]), 1.0, r)


def _ratio(a: float, b: float) -> float:
    if b == 0:
        return 1.0 if a == 0 else float("inf")
    return float(a / b)


def _attacks(ctx: EvalContext, s: _Setting, layout: Layout, full: dict[str, Space],
             label: str) -> dict[str, Any]:
    rng = ctx.rng(f"privacy:attacks:{label}")
    names = ctx.schema.names
    numeric = np.array([n in layout.numeric for n in names])
    out: dict[str, Any] = {}
    n_t = min(N_ATTACKS, len(s.train), len(s.control))
    ti = np.sort(rng.choice(len(s.train), n_t, replace=False))
    ci = np.sort(rng.choice(len(s.control), n_t, replace=False))
    out["singling_out"] = {
        mode: atk.singling_out(s.rel_t, s.train_t, s.control_t, numeric, n_attacks=N_ATTACKS,
                               rng=rng, mode=mode)
        for mode in ("univariate", "multivariate")
    }
    link_cols = ctx.quasi_identifiers if len(ctx.quasi_identifiers) >= 2 else names
    if len(link_cols) >= 2:
        a_cols, b_cols = list(link_cols[0::2]), list(link_cols[1::2])

        def sp(x: np.ndarray, cols: list[str]) -> Space:
            return Space.build(x, layout, cols)

        out["linkability"] = atk.linkability(
            sp(s.train[ti], a_cols), sp(s.control[ci], a_cols), sp(s.rel, a_cols),
            sp(s.train[ti], b_cols), sp(s.control[ci], b_cols), sp(s.rel, b_cols))
        out["link_columns"] = [a_cols, b_cols]
    out["inference"] = {}
    secrets = [c for c in _secrets(ctx) if len(names) > 1]
    if secrets:
        n_i = min(N_INFERENCE, len(s.train), len(s.control))
        ti = np.sort(rng.choice(len(s.train), n_i, replace=False))
        ci = np.sort(rng.choice(len(s.control), n_i, replace=False))
        cols = [names.index(c) for c in secrets]
        rel_sec = [Space.build(s.rel, layout, [c]) for c in secrets]
        found = {}
        for label_, x, x_t, idx in (("attack", s.train, s.train_t, ti),
                                    ("control", s.control, s.control_t, ci)):
            found[label_] = atk.inference(
                full["train" if label_ == "attack" else "control"].take(idx), full["rel"],
                [(Space.build(x[idx], layout, [c]), r) for c, r in zip(secrets, rel_sec,
                                                                        strict=True)],
                [x_t[idx, j] for j in cols], [s.rel_t[:, j] for j in cols],
                [bool(numeric[j]) for j in cols])
        for i, secret in enumerate(secrets):
            (attack, baseline), (control, _) = found["attack"][i], found["control"][i]
            out["inference"][secret] = atk.AttackResult.from_counts(
                attack, control, n_i, baseline=baseline)
    # membership: half the control is the reference density, the other half non-members
    mrng = ctx.rng(f"privacy:membership:{label}")
    perm = mrng.permutation(len(s.control))
    ref_i, non_i = perm[: len(perm) // 2], perm[len(perm) // 2:]
    m = min(N_MEMBERS, len(non_i), len(s.train))
    non_i = np.sort(non_i[:m])
    mem_i = np.sort(mrng.choice(len(s.train), m, replace=False))
    mem, non = atk.membership(full["rel"], full["control"].take(np.sort(ref_i)),
                              full["train"].take(mem_i), full["control"].take(non_i))
    out["auc"], out["tpr"], out["roc"] = atk.roc_summary(mem, non)
    out["membership_n"] = m
    out["tpr_chance"] = atk.chance_of_tpr(out["tpr"], m, m)
    return out


def _secrets(ctx: EvalContext) -> list[str]:
    """The columns an attacker tries to infer: the sensitive ones (all others are known)."""
    return list(ctx.sensitive)


# ------------------------------------------------------------------ metrics
def _copy_metrics(ctx: EvalContext) -> list[Metric]:
    schema = ctx.schema
    train_h = row_hashes(ctx.train, schema, _HASH_KEY)
    syn_h = row_hashes(ctx.synthetic, schema, _HASH_KEY)
    hold_h = row_hashes(ctx.holdout, schema, _HASH_KEY)
    syn_rate = float(np.isin(syn_h, train_h).mean())
    hold_n = int(np.isin(hold_h, train_h).sum())
    hold_rate = hold_n / len(hold_h)
    bound = max(atk.wilson(hold_n, len(hold_h))[1], hold_rate) if hold_n else 0.0
    copies = Metric(
        "exact_copy_rate", syn_rate, hold_rate, bound, syn_rate <= bound, "lower", gate=True,
        description="Share of synthetic records identical to a training record, in every "
        "column; real people outside the training data show how often that happens by chance.",
        rule="<= holdout rate (its 95% upper bound; 0 when the holdout has none)",
    )
    qis = ctx.quasi_identifiers or schema.names
    key = row_hashes(ctx.train[qis], schema.subset(qis), _HASH_KEY)
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    unique_rows = train_h[counts[inverse] == 1]
    n_syn = int(np.isin(syn_h, unique_rows).sum())
    n_hold = int(np.isin(hold_h, unique_rows).sum())
    limit = atk.count_bound(n_hold, len(hold_h), len(syn_h))
    unique = Metric(
        "unique_qi_copies", float(n_syn), float(n_hold), limit, n_syn <= limit, "lower",
        gate=True,
        description="Number of synthetic records that copy, in every column, a training "
        "record that is the only one with its combination of quasi-identifiers (such as age "
        "and sex) and so could be recognised; real people outside the training data show how "
        "often that happens by chance (on a table of a few coarse columns, often).",
        rule="<= the holdout's count (its 95% upper bound, per synthetic record; 0 when the "
             "holdout has none)",
        note="" if ctx.quasi_identifiers else "No quasi-identifiers declared: uniqueness "
        "is judged on all columns.",
    )
    return [copies, unique]


def _dcr_metric(ctx: EvalContext, syn: dict[str, Any], ref: dict[str, Any],
                subsets: dict[str, list[str]]) -> Metric:
    th = ctx.thresholds
    worst = max(syn["dcr"], key=lambda k: syn["dcr"][k]["share"])
    w = syn["dcr"][worst]
    ref_worst = max(v["share"] for v in ref["dcr"].values())
    alpha = th.dcr_binomial_alpha / len(subsets)
    min_p = min(v["p_value"] for v in syn["dcr"].values())
    passed = bool(w["share"] <= th.dcr_share and min_p >= alpha)
    return Metric(
        "dcr_share", w["share"], ref_worst, th.dcr_share, passed, "lower", gate=True,
        interval=atk.wilson(w["share"] * w["records"], w["records"]),
        description="Share of synthetic records that lie closer to a training record than to "
        "any record of an equally large group of real people the generator never saw; about "
        "half is expected when nothing was memorised (worst of several column sets).",
        rule=f"<= {th.dcr_share} and a one-sided binomial test does not reject 0.5 at "
        f"{th.dcr_binomial_alpha} (Bonferroni over {len(subsets)} column sets)",
        details={"worst_subset": worst, "min_p_value": min_p,
                 "subsets": {k: {**v, "columns": subsets[k]} for k, v in syn["dcr"].items()},
                 "holdout_subsets": {k: v["share"] for k, v in ref["dcr"].items()}},
    )


def _attack_metrics(ctx: EvalContext, syn: dict[str, Any], ref: dict[str, Any]) -> list[Metric]:
    bound = ctx.thresholds.attack_risk
    rule = f"upper 95% bound of the risk <= {bound}"
    out = []
    so = max(syn["singling_out"].values(), key=lambda r: r.interval[1])
    so_ref = max(r.risk for r in ref["singling_out"].values())
    out.append(_risk_metric(
        "singling_out_risk", so, so_ref, bound, rule,
        "Risk that someone holding the synthetic data can write a description (such as 'age "
        "over 80, female, on dialysis') that fits exactly one real patient of the training "
        "data, beyond what the same descriptions achieve on real people outside it.",
        {mode: r.details() for mode, r in syn["singling_out"].items()},
    ))
    if "linkability" in syn:
        out.append(_risk_metric(
            "linkability_risk", syn["linkability"], ref["linkability"].risk, bound, rule,
            "Risk that the synthetic data lets someone join two partial records of the same "
            "training patient (each holding different columns), beyond real outsiders.",
            {**syn["linkability"].details(), "column_sets": syn["link_columns"]},
        ))
    if syn["inference"]:
        worst = max(syn["inference"], key=lambda k: syn["inference"][k].interval[1])
        out.append(_risk_metric(
            "inference_risk", syn["inference"][worst], max(
                r.risk for r in ref["inference"].values()), bound, rule,
            "Risk that someone who knows all other facts about a training patient can guess "
            "a sensitive fact (worst column) from the most similar synthetic record, beyond "
            "guessing it for real outsiders.",
            {"worst_column": worst,
             "columns": {k: r.details() for k, r in syn["inference"].items()}},
        ))
    return out


def _risk_metric(name: str, r: atk.AttackResult, ref: float, bound: float, rule: str,
                 description: str, details: dict[str, Any]) -> Metric:
    return Metric(name, r.risk, ref, bound, bool(r.interval[1] <= bound), "lower", gate=True,
                  interval=r.interval, description=description, rule=rule, details=details)


def _membership_metrics(ctx: EvalContext, syn: dict[str, Any], ref: dict[str, Any]) -> list[Metric]:
    th = ctx.thresholds
    note = (f"Density-ratio attack on {syn['membership_n']:,} training records and as many "
            "holdout records; a second holdout half is the reference real density.")
    return [
        Metric("membership_auc", syn["auc"], ref["auc"], th.membership_auc,
               _le(syn["auc"], th.membership_auc), "lower", gate=True,
               description="How well an attacker can tell whether a given person was in the "
               "training data by checking where the synthetic data is unusually dense "
               "(0.5: no better than a coin toss).",
               rule=f"<= {th.membership_auc}", note=note),
        Metric("membership_tpr_at_1fpr", syn["tpr"], ref["tpr"], th.membership_tpr_at_1fpr,
               _le(syn["tpr"], th.membership_tpr_at_1fpr)
               or syn["tpr_chance"] >= th.membership_chance_alpha, "lower", gate=True,
               description="Share of training patients the same attacker identifies with "
               "confidence, while wrongly accusing only 1 in 100 outsiders.",
               rule=f"<= {th.membership_tpr_at_1fpr}, or an attack with no information "
               f"reaches it with probability >= {th.membership_chance_alpha} (few records)",
               note=note, details={"chance_p_value": syn["tpr_chance"]}),
    ]


def _cap_metric(ctx: EvalContext, train: pd.DataFrame, hold: pd.DataFrame,
                synth: pd.DataFrame) -> Metric:
    th = ctx.thresholds
    per: dict[str, dict[str, float]] = {}
    for secret in ctx.sensitive:
        keys = [q for q in ctx.quasi_identifiers if q != secret]
        if not keys:
            continue
        k_codes = _group_codes(ctx, keys, [train, hold, synth], bins=10)
        s_codes = _group_codes(ctx, [secret], [train, hold, synth], bins=4)
        syn_p = atk.cap_protection(k_codes[0], s_codes[0], k_codes[2], s_codes[2])
        hold_p = atk.cap_protection(k_codes[0], s_codes[0], k_codes[1], s_codes[1])
        per[secret] = {"synthetic": syn_p, "holdout": hold_p,
                       "ratio": syn_p / hold_p if hold_p > 0 else 1.0}
    desc = ("How hard it stays to guess a patient's sensitive attribute from their "
            "quasi-identifiers using the synthetic data, compared with using real outsiders' "
            "data (1: impossible to guess).")
    rule = f">= {th.attribute_protection_ratio} x the holdout's protection"
    if not per:
        return Metric("attribute_disclosure_protection", None, None, None, None, "higher",
                      gate=True, description=desc, rule=rule,
                      note="Needs a sensitive column and another quasi-identifier.")
    worst = min(per, key=lambda k: per[k]["ratio"])
    w = per[worst]
    bound = th.attribute_protection_ratio * w["holdout"]
    return Metric("attribute_disclosure_protection", w["synthetic"], w["holdout"], bound,
                  bool(w["synthetic"] >= bound - 1e-12), "higher", gate=True,
                  description=desc, rule=rule, details={"worst_column": worst, "columns": per})


def _group_codes(ctx: EvalContext, cols: list[str], frames: list[pd.DataFrame],
                 bins: int) -> list[np.ndarray]:
    """Integer codes of the joint value of ``cols``; numbers binned by train quantiles."""
    parts = []
    for name in cols:
        kind = ctx.schema.column(name).kind
        series = [f[name] for f in frames]
        if kind in ("numeric", "integer", "datetime"):
            ref = _numbers(series[0], kind)
            qs = np.linspace(0, 1, bins + 1)[1:-1]
            edges = np.unique(np.nanquantile(ref, qs)) if np.isfinite(ref).any() else np.zeros(0)
            series = [pd.Series(np.where(np.isnan(x := _numbers(s, kind)), -1,
                                         np.searchsorted(edges, x, side="right"))).astype(str)
                      for s in series]
        else:
            series = [s.astype(object).where(s.notna(), "\x00NA").astype(str) for s in series]
        parts.append(series)
    joint = [pd.Series(["\x01".join(t) for t in zip(*(p[i] for p in parts), strict=True)])
             if len(frames[i]) else pd.Series([], dtype=str) for i in range(len(frames))]
    allv = pd.concat(joint, ignore_index=True)
    c, _ = pd.factorize(allv)
    out, pos = [], 0
    for j in joint:
        out.append(c[pos:pos + len(j)].astype(np.int64))
        pos += len(j)
    return out


def _histogram(d_syn: np.ndarray, d_hold: np.ndarray, bins: int = 30) -> dict[str, Any]:
    both = np.r_[d_syn, d_hold]
    both = both[np.isfinite(both)]
    hi = float(both.max()) if len(both) and both.max() > 0 else 1.0
    edges = np.linspace(0.0, hi, bins + 1)
    return {
        "bins": edges.round(6).tolist(),
        "synthetic": np.histogram(d_syn, edges)[0].tolist(),
        "holdout": np.histogram(d_hold, edges)[0].tolist(),
        "label": "L1 distance to the closest training record",
    }
