"""Column encoders of the Bayesian network: each column <-> a small set of discrete states.

Numbers and dates are cut into bins (quantile bins, or equal-width bins under differential
privacy); each bin keeps a few within-bin quantiles, so that a value drawn inside a bin follows
the data's shape there without storing any raw value list. Categories are states of their own;
a column with many categories keeps its most frequent ones and pools the rest in an "other"
state whose members are drawn by frequency. A missing value is always a state of its own, so
missingness is modelled like any other value and may depend on other columns.

State codes of a column: value states first, then "other" (if any), then "missing" (if any).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: within-bin quantiles stored per numeric bin (min, sextiles, max)
N_QUANTILES = 7
CONTINUOUS_KINDS = frozenset({"numeric", "integer", "datetime"})
_NUMERIC_DTYPES = ("int", "uint", "float")


def _as_float(series: pd.Series, kind: str) -> np.ndarray:
    """Numbers as float; datetimes as float nanoseconds since the epoch (NaT -> NaN)."""
    if kind != "datetime":
        return series.to_numpy(dtype=float, na_value=np.nan)
    stamps = series.to_numpy(dtype="datetime64[ns]")
    out = stamps.view("int64").astype(float)
    out[np.isnat(stamps)] = np.nan
    return out


def inverse_cdf(cdf: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Draw one state per entry: ``rows`` picks a row of ``cdf`` (normalised, last column 1).

    One vectorised ``searchsorted`` over all rows at once: row ``g`` is shifted by ``g`` so
    the flattened table stays increasing.
    """
    n_rows, width = cdf.shape
    flat = (cdf + np.arange(n_rows)[:, None]).ravel()
    found = np.searchsorted(flat, rows + u, side="right") - rows * width
    return np.clip(found, 0, width - 1)


def normalised_cdf(probs: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(probs, axis=1)
    return cdf / cdf[:, -1:]


@dataclass
class NumericCoder:
    """Bins of a numeric, integer or datetime column, with within-bin quantiles."""

    kind: str
    edges: np.ndarray  # (n_bins + 1,)
    quantiles: np.ndarray  # (n_bins, N_QUANTILES), increasing along each row
    has_missing: bool

    @classmethod
    def fit(cls, series: pd.Series, kind: str, n_bins: int, *, private: bool) -> NumericCoder:
        values = _as_float(series, kind)
        observed = values[~np.isnan(values)]
        lo, hi = float(observed.min()), float(observed.max())
        if private:
            # Equal-width bins over [min, max]: no private quantile is used; the range is
            # treated as public (documented in BayesianNetwork).
            edges = np.linspace(lo, hi, n_bins + 1) if hi > lo else np.array([lo, hi])
        else:
            # "lower" quantiles are data values, so every bin holds at least its left edge.
            probs = np.linspace(0.0, 1.0, n_bins + 1)
            edges = np.unique(np.quantile(observed, probs, method="lower"))
            edges = np.append(edges, hi) if len(edges) == 1 else edges
        has_missing = bool(np.isnan(values).any())
        coder = cls(kind, edges, np.empty((len(edges) - 1, N_QUANTILES)), has_missing)
        grid = np.linspace(0.0, 1.0, N_QUANTILES)
        codes = coder._bins(observed)
        for b in range(coder.n_bins):
            inside = observed[codes == b]
            if private or len(inside) == 0:
                coder.quantiles[b] = edges[b] + grid * (edges[b + 1] - edges[b])
            else:
                coder.quantiles[b] = np.quantile(inside, grid)
        return coder

    @property
    def n_bins(self) -> int:
        return len(self.edges) - 1

    @property
    def n_states(self) -> int:
        return self.n_bins + self.has_missing

    def _bins(self, values: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(self.edges, values, side="right") - 1, 0, self.n_bins - 1)

    def encode(self, series: pd.Series) -> np.ndarray:
        values = _as_float(series, self.kind)
        missing = np.isnan(values)
        codes = self._bins(np.where(missing, self.edges[0], values))
        return np.where(missing, self.n_bins, codes).astype(np.int64)

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> pd.Series:
        out = np.full(len(codes), np.nan)
        present = codes < self.n_bins
        q = self.quantiles[codes[present]]
        # Linear interpolation between the bin's stored quantiles: stays inside the bin.
        pos = rng.random(int(present.sum())) * (N_QUANTILES - 1)
        j = np.minimum(pos.astype(np.int64), N_QUANTILES - 2)
        rows = np.arange(len(q))
        lower, upper = q[rows, j], q[rows, j + 1]
        out[present] = lower + (pos - j) * (upper - lower)
        if self.kind != "datetime":
            return pd.Series(out)
        stamps = np.round(np.nan_to_num(out)).astype(np.int64).view("datetime64[ns]")
        stamps[~present] = np.datetime64("NaT")
        return pd.Series(stamps)

    def knows(self, values: pd.Series) -> bool:
        return self.has_missing or not values.isna().any()

    def labels(self) -> list[str]:
        edges = self.edges
        if self.kind == "datetime":
            edges = np.round(edges).astype(np.int64).view("datetime64[ns]")
        out = [f"[{edges[b]}, {edges[b + 1]}{']' if b == self.n_bins - 1 else ')'}"
               for b in range(self.n_bins)]
        return [*out, "missing"] if self.has_missing else out

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta = {"type": "numeric", "kind": self.kind, "has_missing": self.has_missing}
        return meta, {"edges": self.edges, "quantiles": self.quantiles}

    @classmethod
    def from_state(cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> NumericCoder:
        return cls(str(meta["kind"]), np.asarray(arrays["edges"], dtype=float),
                   np.asarray(arrays["quantiles"], dtype=float), bool(meta["has_missing"]))


@dataclass
class CategoricalCoder:
    """Categories (and booleans) as states; rare ones pooled into "other" when there are many."""

    dtype: str
    categories: list[Any]  # one state each
    other: list[Any]  # pooled members of the "other" state
    other_weights: np.ndarray  # their frequencies (counts, noisy under DP)
    has_missing: bool

    @classmethod
    def fit(cls, series: pd.Series, dtype: str, max_categories: int, *,
            noise: tuple[float, np.random.Generator] | None) -> CategoricalCoder:
        """``noise`` = (Laplace scale, rng): noisy counts pick the kept categories under DP."""
        counts = series.value_counts(dropna=True, sort=False)
        values = [_jsonable(v) for v in counts.index]
        freq = counts.to_numpy(dtype=float)
        if len(values) > max_categories:
            if noise is not None:
                scale, rng = noise
                freq = np.clip(freq + rng.laplace(0.0, scale, len(freq)), 0.0, None)
            rank = np.argsort(-freq, kind="stable")
            keep, pool = rank[: max_categories - 1], rank[max_categories - 1:]
            categories = _sorted([values[i] for i in keep])
            other = [values[i] for i in pool]
            weights = freq[pool] + 1e-9  # all-zero noisy counts still give a distribution
        else:
            categories, other, weights = _sorted(values), [], np.empty(0)
        return cls(dtype, categories, other, weights, bool(series.isna().any()))

    @property
    def n_states(self) -> int:
        return len(self.categories) + bool(self.other) + self.has_missing

    @property
    def _missing_code(self) -> int:
        return len(self.categories) + bool(self.other)

    def encode(self, series: pd.Series) -> np.ndarray:
        index = pd.Index([*self.categories, *self.other], dtype=object)
        state = np.r_[np.arange(len(self.categories)),
                      np.full(len(self.other), len(self.categories))].astype(np.int64)
        found = index.get_indexer(series.astype(object))
        return np.where(found >= 0, state[np.maximum(found, 0)], self._missing_code)

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> pd.Series:
        k = len(self.categories)
        out = np.full(len(codes), np.nan, dtype=object)
        kept = codes < k
        out[kept] = np.array(self.categories, dtype=object)[codes[kept]]
        pooled = np.flatnonzero(codes == k) if self.other else np.empty(0, dtype=np.int64)
        if len(pooled):
            cdf = normalised_cdf(self.other_weights[None, :])
            pick = inverse_cdf(cdf, np.zeros(len(pooled), dtype=np.int64), rng.random(len(pooled)))
            out[pooled] = np.array(self.other, dtype=object)[pick]
        return _to_source_dtype(out, self.dtype)

    def knows(self, values: pd.Series) -> bool:
        present = values.dropna().astype(object)
        known = pd.Index([*self.categories, *self.other], dtype=object)
        return bool(known.get_indexer(present).min(initial=0) >= 0) and (
            self.has_missing or len(present) == len(values)
        )

    def labels(self) -> list[str]:
        out = [str(c) for c in self.categories]
        out += ["other"] if self.other else []
        return [*out, "missing"] if self.has_missing else out

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta = {"type": "categorical", "dtype": self.dtype, "categories": self.categories,
                "other": self.other, "has_missing": self.has_missing}
        return meta, {"other_weights": self.other_weights}

    @classmethod
    def from_state(cls, meta: Mapping[str, Any],
                   arrays: Mapping[str, np.ndarray]) -> CategoricalCoder:
        return cls(str(meta["dtype"]), list(meta["categories"]), list(meta["other"]),
                   np.asarray(arrays["other_weights"], dtype=float), bool(meta["has_missing"]))


Coder = NumericCoder | CategoricalCoder


def coder_from_state(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Coder:
    if meta.get("type") == "numeric":
        return NumericCoder.from_state(meta, arrays)
    if meta.get("type") == "categorical":
        return CategoricalCoder.from_state(meta, arrays)
    raise ValueError(f"unknown column coder type {meta.get('type')!r}")


def _jsonable(value: Any) -> Any:
    """Category values go to the model's JSON file: plain Python scalars."""
    return value.item() if isinstance(value, np.generic) else value


def _sorted(values: list[Any]) -> list[Any]:
    """Natural order when the values compare (stage 1..4, f/m), else frequency order."""
    try:
        return sorted(values)
    except TypeError:
        return values


def _to_source_dtype(values: np.ndarray, dtype: str) -> pd.Series:
    """Category codes stored as numbers come back as numbers (float when some are missing)."""
    series = pd.Series(values, dtype=object)
    if dtype.startswith(_NUMERIC_DTYPES) or dtype == "bool":
        missing = series.isna().any()
        try:
            if dtype == "bool":
                return series if missing else series.astype(bool)
            return series.astype(float if missing or dtype.startswith("float") else dtype)
        except (TypeError, ValueError):
            return series
    return series
