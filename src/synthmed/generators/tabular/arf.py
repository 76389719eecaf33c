"""Adversarial random forests (Watson et al., 2023): a tree-based density model for tables.

A random forest learns to tell the real rows from synthetic ones drawn from the product of the
marginals; the synthetic rows are redrawn from the forest's leaves and the forest refitted until
it can no longer tell them apart (out-of-bag accuracy about 0.5). Within each leaf of that
forest the columns are then nearly independent, so the table's density is a mixture over the
leaves of products of per-column distributions (FORDE): each leaf stores its coverage (weight),
a quantile grid of each number or date (sampled with linear interpolation, so values keep the
leaf's shape and never leave its range) and smoothed frequencies of each category. Missing
values are modelled per leaf: a "missing" category, or a missing rate for a number. Only these
leaf parameters are kept, never the trees.

Sampling picks a leaf per row by weight and draws every column at once. Conditioning weights the
leaves by the likelihood of each row's evidence (a category's leaf frequency; for a number, a
uniform density over the leaf's range with soft edges) and draws the rest from the chosen leaf.

Example
-------
>>> from synthmed import load_dataset
>>> from synthmed.generators.tabular.arf import AdversarialRandomForest
>>> pbc = load_dataset("pbc")
>>> gen = AdversarialRandomForest(n_estimators=10).fit(pbc.frame, schema=pbc.schema)
>>> dead = gen.sample(50, conditions={"status": 2}, random_state=0)
>>> bool((dead["status"] == 2).all())
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from synthmed.generators.base import (
    BaseGenerator,
    GeneratorTags,
    ParamCheck,
    float_in,
    int_in,
    one_of,
)
from synthmed.generators.tabular._arf_leaves import (
    adversarial_forest,
    density_leaves,
    draw_codes,
    draw_from_grids,
    leaf_counts,
    leaf_quantiles,
    sample_from_cumulative,
    snap_to_support,
)
from synthmed.generators.tabular._copula_marginals import jsonable_categories
from synthmed.generators.tabular._missing_blocks import missing_together
from synthmed.schema import TableSchema

__all__ = ["AdversarialRandomForest"]

CONTINUOUS_KINDS = frozenset({"numeric", "integer", "datetime"})
NS_PER_DAY = 86_400e9
#: soft edge of a leaf's range when conditioning on a number, as a share of the column's range
BANDWIDTH_SHARE = 0.01
#: cells of one (distinct condition rows x leaves) block of the conditional leaf posterior
POSTERIOR_BLOCK = 2_000_000
#: a number whose distinct values are at most this share of its observed values is drawn on
#: them (a lab's reporting grid, whole months...): interpolated values off that grid would
#: give synthetic records away
SUPPORT_SHARE = 0.5


class AdversarialRandomForest(BaseGenerator):
    """Adversarial random forest with per-leaf quantile and frequency densities (ARF/FORDE).

    Parameters
    ----------
    n_estimators : int, default 20
        Trees of each forest. The density is a mixture over all their leaves: more trees give
        a smoother model, a larger model file and a slower fit.
    min_samples_leaf : int, default 10
        Fewest rows (real and synthetic) in a leaf of the adversarial forests.
    min_leaf_rows : int, default 10
        Fewest real training rows behind each leaf of the density model: a smaller leaf is
        merged into its nearest ancestor that has enough, so that no leaf describes a handful
        of patients. Larger values keep synthetic records further from the training records
        (privacy) at some cost in fidelity.
    max_iters : int, default 10
        Most rounds of redrawing the synthetic rows and refitting the forest.
    delta : float, default 0.0
        Stop once the out-of-bag accuracy is at most ``0.5 + delta``.
    early_stop : bool, default True
        Stop as soon as a round makes the accuracy worse.
    n_quantiles : int, default 5
        Points of each leaf's quantile grid for a number or date; values are interpolated
        linearly between them.
    alpha : float, default 0.1
        Dirichlet smoothing of each leaf's categories and missing rates: pseudo-rows spread in
        proportion to the column's overall frequencies.
    max_categories : int, default 50
        Most states of a categorical column in the leaves: the rarest categories beyond
        ``max_categories - 1`` share one state, whose members are drawn by overall frequency.
        Bounds the model's size on high-cardinality columns.

    Attributes
    ----------
    oob_accuracy_ : list of float
        Out-of-bag accuracy of the real-versus-synthetic forest after each round.
    n_leaves_ : int
        Leaves of the density model (over all trees).

    Examples
    --------
    >>> from synthmed import get_generator, load_dataset
    >>> pbc = load_dataset("pbc")
    >>> gen = get_generator("arf", n_estimators=10).fit(pbc.frame, schema=pbc.schema)
    >>> gen.sample(3, random_state=0).shape
    (3, 19)
    """

    name: ClassVar[str] = "arf"
    tags: ClassVar[GeneratorTags] = GeneratorTags(
        modality="table", supports_conditioning=True, handles_missing=True
    )
    _param_checks: ClassVar[dict[str, ParamCheck]] = {
        "n_estimators": int_in(1, 10_000),
        "min_samples_leaf": int_in(1, 1_000_000),
        "min_leaf_rows": int_in(1, 1_000_000),
        "max_iters": int_in(0, 100),
        "delta": float_in(0.0, 0.5),
        "early_stop": one_of(True, False),
        "n_quantiles": int_in(2, 1000),
        "alpha": float_in(0.0, 1e6),
        "max_categories": int_in(2, 100_000),
    }

    def __init__(self, *, n_estimators: int = 20, min_samples_leaf: int = 10,
                 min_leaf_rows: int = 10, max_iters: int = 10, delta: float = 0.0,
                 early_stop: bool = True, n_quantiles: int = 5, alpha: float = 0.1,
                 max_categories: int = 50) -> None:
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.min_leaf_rows = min_leaf_rows
        self.max_iters = max_iters
        self.delta = delta
        self.early_stop = early_stop
        self.n_quantiles = n_quantiles
        self.alpha = alpha
        self.max_categories = max_categories

    @classmethod
    def get_test_params(cls) -> list[dict[str, Any]]:
        return [{"n_estimators": 5, "max_iters": 2},
                {"n_estimators": 3, "min_samples_leaf": 10, "max_iters": 0, "n_quantiles": 2,
                 "alpha": 0.0, "early_stop": False, "max_categories": 10}]

    # ------------------------------------------------------------------ fit
    def _fit(self, frame: pd.DataFrame, schema: TableSchema, rng: np.random.Generator) -> None:
        names = list(frame.columns)
        kinds = [schema.column(name).kind for name in names]
        n = len(frame)
        # the forest's matrix: numbers (NaN -> a sentinel below the range), category codes
        x = np.empty((n, len(names)))
        columns: list[dict[str, Any]] = []
        raw: list[np.ndarray] = []
        supports: dict[int, np.ndarray] = {}
        pools: dict[int, np.ndarray] = {}
        for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
            if kind in CONTINUOUS_KINDS:
                values = _to_float(frame[name], kind)
                seen = values[~np.isnan(values)]
                low, high = float(seen.min()), float(seen.max())
                x[:, i] = np.where(np.isnan(values), low - 1.0 - (high - low), values)
                columns.append({"name": name, "kind": kind, "low": low, "high": high,
                                "missing_rate": float(np.isnan(values).mean())})
                raw.append(values)
                support = np.unique(seen)
                if len(support) <= SUPPORT_SHARE * len(seen):
                    supports[i] = support
            else:
                codes, uniques = _factorize(frame[name])
                has_missing = bool((codes < 0).any())
                counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
                n_kept = len(uniques)
                if len(uniques) > self.max_categories:
                    # the rarest categories share one state, drawn by their overall frequency
                    n_kept = self.max_categories - 1
                    order = np.argsort(-counts, kind="stable")
                    rank = np.empty_like(order)
                    rank[order] = np.arange(len(order))
                    codes = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1)
                    uniques, counts = np.asarray(uniques, dtype=object)[order], counts[order]
                    pool = np.cumsum(counts[n_kept:]) / counts[n_kept:].sum()
                    pool[-1] = 1.0
                    pools[i] = pool
                n_states = min(len(uniques), n_kept + 1)
                states = np.where(codes < 0, n_states, np.minimum(codes, n_kept))
                x[:, i] = states
                categories = [_plain(v) for v in np.asarray(uniques, dtype=object)]
                columns.append({"name": name, "kind": kind, "has_missing": has_missing,
                                "n_kept": n_kept, "categories": categories})
                raw.append(states)

        forest, accuracies = adversarial_forest(
            x, n_estimators=self.n_estimators, min_samples_leaf=self.min_samples_leaf,
            max_iters=self.max_iters, delta=self.delta, early_stop=self.early_stop, rng=rng,
        )
        rows, leaves, coverage = density_leaves(forest, x, self.min_leaf_rows)
        del forest  # only the leaf parameters are kept
        n_leaves = len(coverage)
        leaf_rows = np.bincount(leaves, minlength=n_leaves)
        arrays: dict[str, np.ndarray] = {"coverage": coverage.astype(np.int64),
                                         "leaf_rows": leaf_rows.astype(np.int64)}
        for i, col in enumerate(columns):
            if col["kind"] in CONTINUOUS_KINDS:
                values = raw[i]
                fallback = np.quantile(values[~np.isnan(values)],
                                       np.linspace(0.0, 1.0, self.n_quantiles))
                grid, n_obs = leaf_quantiles(values, rows, leaves, n_leaves, self.n_quantiles,
                                             fallback)
                arrays[f"grid_{i}"] = grid
                if i in supports:
                    arrays[f"support_{i}"] = supports[i]
                if col["missing_rate"] > 0:
                    arrays[f"missing_{i}"] = (leaf_rows - n_obs).astype(np.int64)
            else:
                n_codes = _n_states(col)
                if i in pools:
                    arrays[f"pool_{i}"] = pools[i]
                arrays[f"counts_{i}"] = leaf_counts(raw[i], rows, leaves, n_leaves,
                                                    n_codes).astype(np.int64)
                arrays[f"freq_{i}"] = np.bincount(raw[i], minlength=n_codes) / n
        self.oob_accuracy_ = accuracies
        # columns missing on exactly the same rows (the labs of one blood sample, the items of
        # a trial), of any kind, follow the first of them (:mod:`._missing_blocks`)
        for col, lead in zip(columns, missing_together(frame[names]), strict=True):
            col["missing_with"] = lead
        self._columns_ = columns
        self._arrays_ = arrays
        self._prepare()

    def _prepare(self) -> None:
        """Derive the sampling tables (weights, probabilities) from the stored leaf counts."""
        arrays, alpha = self._arrays_, float(self.alpha)
        coverage = arrays["coverage"].astype(float)
        self.n_leaves_ = len(coverage)
        self._names_ = [str(c["name"]) for c in self._columns_]
        self._position_ = {name: i for i, name in enumerate(self._names_)}
        weight = coverage / coverage.sum()
        self._cum_weight_ = np.cumsum(weight)[None, :]
        self._cum_weight_[0, -1] = 1.0
        with np.errstate(divide="ignore"):
            self._log_weight_ = np.log(weight)
        rows = arrays["leaf_rows"].astype(float)
        self._p_missing_: dict[int, np.ndarray] = {}
        self._prob_: dict[int, np.ndarray] = {}
        self._cum_prob_: dict[int, np.ndarray] = {}
        for i, col in enumerate(self._columns_):
            if col["kind"] in CONTINUOUS_KINDS:
                if f"missing_{i}" in arrays:
                    missing = arrays[f"missing_{i}"].astype(float)
                    rate = float(col["missing_rate"])
                    self._p_missing_[i] = (missing + alpha * rate) / (rows + alpha)
            else:
                counts = arrays[f"counts_{i}"].astype(float)
                prob = (counts + alpha * arrays[f"freq_{i}"][None, :]) / (rows + alpha)[:, None]
                prob /= prob.sum(axis=1, keepdims=True)
                self._prob_[i] = prob
                cum = np.cumsum(prob, axis=1)
                cum[:, -1] = 1.0
                self._cum_prob_[i] = cum

    # ------------------------------------------------------------------ sample
    def _sample(self, n: int, conditions: pd.DataFrame | None,
                rng: np.random.Generator) -> pd.DataFrame:
        if conditions is None or conditions.shape[1] == 0:
            leaf = sample_from_cumulative(self._cum_weight_, np.zeros(n, dtype=np.int64), rng)
        else:
            leaf = self._conditional_leaves(conditions, rng)
        out: dict[str, Any] = {}
        uniforms: dict[int, np.ndarray] = {}  # per missingness group
        for i, col in enumerate(self._columns_):
            if col["kind"] in CONTINUOUS_KINDS:
                support = self._arrays_.get(f"support_{i}")
                values = draw_from_grids(self._arrays_[f"grid_{i}"], leaf, rng)
                if support is not None:
                    values = snap_to_support(values, support, rng)
                values = np.clip(values, col["low"], col["high"])
                lead = int(col.get("missing_with", -1))
                if lead >= 0:
                    values[pd.isna(out[self._columns_[lead]["name"]])] = np.nan
                elif i in self._p_missing_:
                    # models saved before the blocks kept "missing_group": the numbers of a
                    # block shared one uniform (older still: one per column)
                    u = uniforms.setdefault(int(col.get("missing_group", i)), rng.random(n))
                    values[u < self._p_missing_[i][leaf]] = np.nan
                out[col["name"]] = _from_float(values, col["kind"])
            else:
                states = draw_codes(self._cum_prob_[i], leaf, rng)
                lead = int(col.get("missing_with", -1))
                if lead >= 0 and col["has_missing"]:
                    states = _follow_missing(states, pd.isna(out[self._columns_[lead]["name"]]),
                                             self._cum_prob_[i], leaf, rng)
                codes = states.copy()
                if col["has_missing"]:  # the last state: NaN, after the categories
                    codes[states == _n_states(col) - 1] = len(col["categories"])
                if f"pool_{i}" in self._arrays_:  # a rare category, by overall frequency
                    pooled = states == col["n_kept"]
                    u = rng.random(int(pooled.sum()))
                    extra = np.searchsorted(self._arrays_[f"pool_{i}"], u, side="right")
                    last = len(col["categories"]) - 1
                    codes[pooled] = np.minimum(col["n_kept"] + extra, last)
                categories = np.asarray([*col["categories"], np.nan], dtype=object)
                out[col["name"]] = categories[codes]
        return pd.DataFrame(out)

    def _conditional_leaves(self, conditions: pd.DataFrame,
                            rng: np.random.Generator) -> np.ndarray:
        """One leaf per row, drawn from the leaf weights times the likelihood of its evidence.

        Rows with the same evidence share one posterior; posteriors are computed in blocks so
        that memory stays bounded whatever the number of leaves and of distinct rows.
        """
        evidence = [self._encode_condition(name, conditions[name]) for name in conditions.columns]
        # distinct evidence rows: category codes, and each number as (is missing, value)
        keys = np.column_stack([np.column_stack([np.isnan(v), np.nan_to_num(v)])
                                for _, v in evidence])
        distinct, inverse = np.unique(keys, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        first = np.unique(inverse, return_index=True)[1]
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(distinct) + 1))
        leaf = np.empty(len(conditions), dtype=np.int64)
        block = max(1, POSTERIOR_BLOCK // self.n_leaves_)
        for start in range(0, len(distinct), block):
            stop = min(start + block, len(distinct))
            rows_of = first[start:stop]
            log_post = self._log_weight_[None, :] + sum(
                self._log_likelihood(i, v[rows_of]) for i, v in evidence)
            top = log_post.max(axis=1, keepdims=True)
            impossible = ~np.isfinite(top[:, 0])
            if impossible.any():  # evidence no leaf explains: fall back to the leaf weights
                log_post[impossible] = self._log_weight_
                top[impossible] = log_post[impossible].max(axis=1, keepdims=True)
            post = np.exp(log_post - top)
            cum = np.cumsum(post, axis=1)
            cum /= cum[:, -1:]
            cum[:, -1] = 1.0
            members = order[bounds[start]:bounds[stop]]
            leaf[members] = sample_from_cumulative(cum, inverse[members] - start, rng)
        return leaf

    def _encode_condition(self, name: str, series: pd.Series) -> tuple[int, np.ndarray]:
        """Column position and the evidence as floats: a category's code or a number."""
        i = self._position_[name]
        col = self._columns_[i]
        if col["kind"] in CONTINUOUS_KINDS:
            return i, _to_float(series, col["kind"])
        codes = pd.Index(col["categories"]).get_indexer(series)
        states = np.minimum(codes, col["n_kept"]).astype(float)  # rare ones share a state
        states[series.isna().to_numpy()] = _n_states(col) - 1  # the "missing" state
        return i, states

    def _log_likelihood(self, i: int, values: np.ndarray) -> np.ndarray:
        """Log-likelihood of each evidence value (rows) in each leaf (columns)."""
        col = self._columns_[i]
        with np.errstate(divide="ignore"):
            if col["kind"] not in CONTINUOUS_KINDS:
                return np.log(self._prob_[i][:, values.astype(np.int64)].T)
            grid = self._arrays_[f"grid_{i}"]
            low, high = grid[:, 0], grid[:, -1]
            width = BANDWIDTH_SHARE * (col["high"] - col["low"]) or 1.0
            p_missing = self._p_missing_.get(i, np.zeros(len(grid)))
            x = np.nan_to_num(values)[:, None]
            outside = np.maximum(0.0, np.maximum(low[None, :] - x, x - high[None, :]))
            observed = (np.log1p(-p_missing) - np.log(high - low + 2 * width))[None, :]
            observed = observed - outside / width
            return np.where(np.isnan(values)[:, None], np.log(p_missing)[None, :], observed)

    def _condition_values_known(self, column: str, values: pd.Series) -> bool:
        i = self._position_[column]
        col = self._columns_[i]
        missing = values.isna().to_numpy()
        if col["kind"] in CONTINUOUS_KINDS:
            return not missing.any() or i in self._p_missing_
        if missing.any() and not col["has_missing"]:
            return False  # missing was never seen in this column
        return bool((pd.Index(col["categories"]).get_indexer(values[~missing]) >= 0).all())

    # ------------------------------------------------------------------ state
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        columns = [{**col, "categories": jsonable_categories(col["categories"])}
                   if "categories" in col else dict(col) for col in self._columns_]
        return {"columns": columns, "oob_accuracy": self.oob_accuracy_}, dict(self._arrays_)

    def _set_state(self, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self._columns_ = [dict(col) for col in meta["columns"]]
        self.oob_accuracy_ = [float(a) for a in meta["oob_accuracy"]]
        self._arrays_ = {key: np.asarray(value) for key, value in arrays.items()
                         if not key.startswith("__")}
        n_leaves = len(self._arrays_["coverage"])
        for key, value in self._arrays_.items():
            if key.startswith(("grid_", "missing_", "counts_")) and len(value) != n_leaves:
                raise ValueError(f"array {key!r} does not match the {n_leaves} leaves")
        self._prepare()


def _follow_missing(states: np.ndarray, missing: np.ndarray, cumulative: np.ndarray,
                    leaf: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Category states (missing: the last) made missing exactly where ``missing`` is: rows
    drawn missing where the block is not are drawn again among the leaf's other states."""
    last = cumulative.shape[1] - 1
    out = np.where(missing, last, states)
    redo = np.flatnonzero(~missing & (states == last))
    if len(redo):
        kept = cumulative[leaf[redo], :last]
        total = kept[:, -1:]
        # a leaf of nothing but missing rows: its first state (never reached in practice)
        scaled = np.divide(kept, total, out=np.ones_like(kept), where=total > 0)
        u = rng.random(len(redo))[:, None]
        out[redo] = np.minimum((u >= scaled).sum(axis=1), last - 1)
    return out


def _n_states(col: Mapping[str, Any]) -> int:
    """Kept categories, one state for the pooled rare ones (if any), one for missing (if seen)."""
    pooled = len(col["categories"]) > col["n_kept"]
    return int(col["n_kept"]) + int(pooled) + int(col["has_missing"])


def _factorize(series: pd.Series) -> tuple[np.ndarray, Any]:
    try:  # sorted categories make the codes independent of row order
        return pd.factorize(series, sort=True)
    except TypeError:  # mixed, unorderable types: first-seen order
        return pd.factorize(series, sort=False)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _to_float(series: pd.Series, kind: str) -> np.ndarray:
    """Numbers as float64; datetimes as days since the epoch; missing as NaN."""
    if kind == "datetime":
        stamps = pd.to_datetime(series).astype("datetime64[ns]")
        ns = stamps.to_numpy().view("int64").astype(float)
        return np.where(stamps.isna().to_numpy(), np.nan, ns / NS_PER_DAY)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _from_float(values: np.ndarray, kind: str) -> np.ndarray:
    if kind != "datetime":
        return values
    missing = np.isnan(values)
    ns = np.round(np.where(missing, 0.0, values) * NS_PER_DAY).astype("int64")
    stamps = ns.view("datetime64[ns]")
    stamps[missing] = np.datetime64("NaT")
    return stamps
