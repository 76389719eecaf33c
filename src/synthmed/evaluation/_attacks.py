"""Privacy attacks on a released table, each scored against a control attack on real non-members.

Our own implementation of the risk definitions of Giomi et al. (2022), "A unified framework
for quantifying privacy risk in synthetic data", which follow the Article 29 Working Party
criteria (singling out, linkability, inference). The attacker holds the released table; the
attack is run once on *targets* from the training data and once on *controls* from real data
the generator never saw. ``risk = (attack - control) / (1 - control)``: only what the release
reveals about its training records, beyond what it reveals about anyone, counts.

Also here: the DOMIAS-style density-ratio membership attack and the correct attribution
probability (CAP). Every function takes arrays, never cell values leave them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import norm

from synthmed.evaluation._neighbours import Space, distances, nearest

__all__ = [
    "AttackResult",
    "cap_protection",
    "inference",
    "linkability",
    "membership",
    "singling_out",
    "wilson",
]

_EQ, _LE, _GE, _NA = 0, 1, 2, 3


def wilson(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (``successes`` may be fractional)."""
    if n <= 0:
        return 0.0, 1.0
    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def count_bound(n_hold: int, hold_records: int, syn_records: int) -> float:
    """Most copies a synthetic table of ``syn_records`` may hold when ``n_hold`` of
    ``hold_records`` real holdout records are such copies: the 95% upper bound of the
    holdout's rate, scaled (0 when the holdout has none)."""
    if n_hold == 0:
        return 0.0
    rate = max(wilson(n_hold, hold_records)[1], n_hold / hold_records)
    return float(np.floor(rate * syn_records + 1e-9))


@dataclass(frozen=True)
class AttackResult:
    """Success rates of one attack and the derived privacy risk with its 95% interval."""

    attack_rate: float
    control_rate: float
    n_attacks: int
    risk: float
    interval: tuple[float, float]
    baseline_rate: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_counts(cls, attack: float, control: float, n: int, *,
                    baseline: float | None = None, **extra: Any) -> AttackResult:
        a_rate, c_rate = attack / n, control / n
        lo, hi = wilson(attack, n)

        def to_risk(rate: float) -> float:
            if c_rate >= 1.0:
                return 0.0
            return float(np.clip((rate - c_rate) / (1.0 - c_rate), 0.0, 1.0))

        return cls(a_rate, c_rate, n, to_risk(a_rate), (to_risk(lo), to_risk(hi)),
                   baseline / n if baseline is not None else None, dict(extra))

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attack_success": self.attack_rate, "control_success": self.control_rate,
            "attacks": self.n_attacks, "risk": self.risk,
            "risk_interval": list(self.interval),
        }
        if self.baseline_rate is not None:
            out["baseline_success"] = self.baseline_rate
        out.update(self.extra)
        return out


# ------------------------------------------------------------------ singling out
_MISSING = -1e300  # stands for NaN when predicates are evaluated


def _bounds(ops: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each predicate cell as an interval ``lo <= x <= hi`` on tables with NaN -> _MISSING."""
    lo = np.where(ops == _LE, -1e299, np.where(ops == _NA, _MISSING, vals))
    hi = np.where(ops == _GE, np.inf, np.where(ops == _NA, _MISSING, vals))
    return lo, hi


def _match(table: np.ndarray, cols: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Boolean (n_predicates, n_rows): which rows each conjunctive predicate selects."""
    out = np.ones((cols.shape[0], table.shape[1]), dtype=bool)
    for slot in range(cols.shape[1]):
        x = table[cols[:, slot]]  # (n_pred, n_rows); table is (n_cols, n_rows)
        out &= x >= lo[:, slot, None]
        out &= x <= hi[:, slot, None]
    return out


def _count(table: np.ndarray, cols: np.ndarray, ops: np.ndarray, vals: np.ndarray,
           batch: int = 256) -> np.ndarray:
    if not len(cols):
        return np.zeros(0, dtype=int)
    table = np.ascontiguousarray(np.where(np.isnan(table), _MISSING, table).T)
    lo, hi = _bounds(ops, vals)
    return np.concatenate([
        _match(table, cols[i:i + batch], lo[i:i + batch], hi[i:i + batch]).sum(axis=1)
        for i in range(0, len(cols), batch)
    ])


def _univariate(released: np.ndarray, numeric: np.ndarray) -> tuple[np.ndarray, ...]:
    cols, ops, vals = [], [], []
    for j in range(released.shape[1]):
        x = released[:, j]
        finite = x[~np.isnan(x)]
        uniq, counts = np.unique(finite, return_counts=True)
        for v in uniq[counts == 1]:
            cols.append(j), ops.append(_EQ), vals.append(v)
        if numeric[j] and len(finite):
            for op, v in ((_LE, finite.min()), (_GE, finite.max())):
                cols.append(j), ops.append(op), vals.append(v)
        if np.isnan(x).sum() == 1:
            cols.append(j), ops.append(_NA), vals.append(np.nan)
    return (np.array(cols, dtype=int)[:, None], np.array(ops, dtype=int)[:, None],
            np.array(vals, dtype=float)[:, None])


def _multivariate(released: np.ndarray, numeric: np.ndarray, n_attacks: int, width: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    n, n_cols = released.shape
    width = min(width, n_cols)
    cols_l, ops_l, vals_l, seen = [], [], [], set()
    for _ in range(6):
        recs = rng.integers(0, n, n_attacks)
        cols = np.argsort(rng.random((n_attacks, n_cols)), axis=1)[:, :width]
        cols.sort(axis=1)
        vals = released[recs[:, None], cols]
        ops = np.where(numeric[cols], np.where(rng.random(cols.shape) < 0.5, _LE, _GE), _EQ)
        ops = np.where(np.isnan(vals), _NA, ops)
        ok = _count(released, cols, ops, vals) == 1
        for c, o, v in zip(cols[ok], ops[ok], vals[ok], strict=True):
            key = (c.tobytes(), o.tobytes(), np.nan_to_num(v, nan=-np.inf).tobytes())
            if key not in seen:
                seen.add(key)
                cols_l.append(c), ops_l.append(o), vals_l.append(v)
        if len(cols_l) >= n_attacks:
            break
    cols_l, ops_l, vals_l = cols_l[:n_attacks], ops_l[:n_attacks], vals_l[:n_attacks]
    shape = (0, width)
    return (np.array(cols_l, dtype=int).reshape(-1, width) if cols_l else np.zeros(shape, int),
            np.array(ops_l, dtype=int).reshape(-1, width) if ops_l else np.zeros(shape, int),
            np.array(vals_l, dtype=float).reshape(-1, width) if vals_l else np.zeros(shape))


def singling_out(released: np.ndarray, train: np.ndarray, control: np.ndarray,
                 numeric: np.ndarray, *, n_attacks: int, rng: np.random.Generator,
                 mode: str = "multivariate", width: int = 3) -> AttackResult:
    """Predicates that isolate one released record; success: they isolate one real record.

    Tables are float arrays (categories as codes, missing as NaN); ``train`` and ``control``
    must have the same number of rows. The denominator is ``n_attacks`` even when fewer
    predicates could be built (as an attacker allowed that many guesses).
    """
    if mode == "univariate":
        cols, ops, vals = _univariate(released, numeric)
        if len(cols) > n_attacks:
            keep = np.sort(rng.choice(len(cols), n_attacks, replace=False))
            cols, ops, vals = cols[keep], ops[keep], vals[keep]
    else:
        cols, ops, vals = _multivariate(released, numeric, n_attacks, width, rng)
    attack = int((_count(train, cols, ops, vals) == 1).sum())
    ctrl = int((_count(control, cols, ops, vals) == 1).sum())
    return AttackResult.from_counts(attack, ctrl, n_attacks, predicates=len(cols))


# ------------------------------------------------------------------ linkability / inference
def _chunks(n: int, size: int = 500) -> list[np.ndarray]:
    return [np.arange(i, min(i + size, n)) for i in range(0, n, size)]


def _tie_sets(d: np.ndarray) -> np.ndarray:
    """Rows' nearest sets (all ties at the minimum distance) as a boolean mask."""
    return d <= d.min(axis=1, keepdims=True) + 1e-5


def linkability(targets: Space, controls: Space, released: Space, targets_b: Space,
                controls_b: Space, released_b: Space) -> AttackResult:
    """Link two halves of a person's record through their nearest released records.

    The ``*_b`` spaces hold the second column set. Success for one target is the chance that
    the nearest released record on the first set (random among ties) is the nearest on the
    second; it is computed exactly, so the result does not depend on row order.
    """
    def success(a: Space, b: Space) -> float:
        total = 0.0
        for idx in _chunks(len(a)):
            na = _tie_sets(distances(a.take(idx), released))
            nb = _tie_sets(distances(b.take(idx), released_b))
            both = (na & nb).sum(axis=1)
            total += float((both / (na.sum(axis=1) * nb.sum(axis=1))).sum())
        return total

    return AttackResult.from_counts(success(targets, targets_b), success(controls, controls_b),
                                    len(targets))


def inference(targets: Space, released: Space, secrets: list[tuple[Space, Space]],
              truths: list[np.ndarray], released_values: list[np.ndarray],
              numeric: list[bool], tolerance: float = 0.05) -> list[tuple[float, float]]:
    """Guess each secret column from the nearest released record on every other column.

    ``targets`` and ``released`` span all columns; ``secrets`` holds, per secret, the
    (targets, released) spaces of that column alone, so the distance on the other columns
    is the difference (L1 adds up over columns) and one distance block serves every secret.
    A numeric guess is right within ``tolerance`` relative error. Ties among nearest
    records are averaged exactly. Returns per secret the summed (attack, baseline)
    successes; the baseline guesses from a random released record.
    """
    out = [[0.0, 0.0] for _ in secrets]
    for idx in _chunks(len(targets)):
        d_all = distances(targets.take(idx), released)
        for i, (t_sec, r_sec) in enumerate(secrets):
            ties = _tie_sets(d_all - distances(t_sec.take(idx), r_sec))
            t, r = truths[i][idx, None], released_values[i][None, :]
            with np.errstate(invalid="ignore"):
                ok = np.abs(t - r) <= tolerance * np.abs(t) if numeric[i] else t == r
            ok |= np.isnan(t) & np.isnan(r)
            out[i][0] += float(((ties & ok).sum(axis=1) / ties.sum(axis=1)).sum())
            out[i][1] += float(ok.mean(axis=1).sum())
    return [(a, b) for a, b in out]


# ------------------------------------------------------------------ membership
def membership(released: Space, reference: Space, members: Space, non_members: Space
               ) -> tuple[np.ndarray, np.ndarray]:
    """DOMIAS-style density-ratio scores for members and non-members.

    The density of the released table and of a reference real sample at ``x`` are estimated
    by nearest-neighbour distance (k = 1); the score ``log d_ref(x) - log d_released(x)`` is
    the log density ratio up to a constant, high where the release is denser than the real
    population, as it is around memorised training records.
    """
    eps = 1e-6

    def score(x: Space) -> np.ndarray:
        d_rel = nearest(x, released, 1)[:, 0]
        d_ref = nearest(x, reference, 1)[:, 0]
        return np.log(d_ref + eps) - np.log(d_rel + eps)

    return score(members), score(non_members)


def roc_summary(members: np.ndarray, non_members: np.ndarray, max_fpr: float = 0.01
                ) -> tuple[float, float, dict[str, list[float]]]:
    """AUC, TPR at ``max_fpr`` and up to ~100 ROC points for the plot."""
    from sklearn.metrics import roc_auc_score, roc_curve

    y = np.r_[np.ones(len(members)), np.zeros(len(non_members))]
    s = np.r_[members, non_members]
    auc = float(roc_auc_score(y, s))
    fpr, tpr, _ = roc_curve(y, s)
    tpr_low = float(tpr[fpr <= max_fpr].max()) if np.any(fpr <= max_fpr) else 0.0
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 101)).round().astype(int))
    return auc, tpr_low, {"fpr": fpr[keep].round(4).tolist(), "tpr": tpr[keep].round(4).tolist()}


def chance_of_tpr(tpr: float, members: int, non_members: int, max_fpr: float = 0.01) -> float:
    """Probability that an attack with no information reaches ``tpr`` at ``max_fpr``.

    With no information, members and non-members are ranked at random: the members above
    the ``k + 1``-th highest non-member (``k = floor(max_fpr * non_members)``) are those among
    the top ``x + k`` of all records, a hypergeometric count. On 60 members and 60
    non-members (k = 0) chance alone puts 2 members above every non-member (TPR 0.033) one
    time in four, so a bound of 0.03 cannot be judged from the figure alone.
    """
    from scipy.stats import hypergeom

    x = round(tpr * members)
    if x <= 0:
        return 1.0
    k = int(np.floor(max_fpr * non_members + 1e-9))
    return float(hypergeom.sf(x - 1, members + non_members, members, x + k))


# ------------------------------------------------------------------ attribute disclosure
def cap_protection(target_keys: np.ndarray, target_secret: np.ndarray,
                   released_keys: np.ndarray, released_secret: np.ndarray) -> float:
    """1 - mean correct attribution probability of a secret given the key (integer codes).

    For each target, the CAP is the share of released records with the target's key that
    also carry its secret; a target whose key is absent from the release scores 0.
    """
    n_secret = int(max(target_secret.max(initial=0), released_secret.max(initial=0))) + 1
    joint = released_keys.astype(np.int64) * n_secret + released_secret
    key_u, key_n = np.unique(released_keys, return_counts=True)
    joint_u, joint_n = np.unique(joint, return_counts=True)
    t_joint = target_keys.astype(np.int64) * n_secret + target_secret

    def lookup(u: np.ndarray, n: np.ndarray, q: np.ndarray) -> np.ndarray:
        pos = np.clip(np.searchsorted(u, q), 0, max(len(u) - 1, 0))
        return np.where((len(u) > 0) & (u[pos] == q), n[pos], 0) if len(u) else np.zeros(len(q))

    denom = lookup(key_u, key_n, target_keys)
    num = lookup(joint_u, joint_n, t_joint)
    cap = np.divide(num, denom, out=np.zeros(len(target_keys)), where=denom > 0)
    return float(1.0 - cap.mean()) if len(cap) else 1.0
