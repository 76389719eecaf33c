"""Building blocks of the longitudinal generator: marginals, static features, linear heads.

Every block is a small object with ``to_state() -> (meta, arrays)`` and ``from_state`` so that
the generator saves as JSON + npz (never pickle). :func:`one_thread` keeps their small matrix
products on one BLAS thread.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from synthmed.evaluation._stats import as_float
from synthmed.generators._multinomial import SURE_LOGIT  # an outcome that never varies

__all__ = [
    "FirstSpread", "LinearHead", "LogisticHeads", "Marginal", "StaticFeatures", "ValueHeads",
    "VolatilityModel", "one_thread",
]

N_QUANTILES = 256
MAX_DISCRETE = 30
Z_CLIP = 5.0
#: training values per interpolation cell of a continuous marginal (see Marginal), and the
#: fewest cells (small samples)
CELL_VALUES = 10
MIN_CELLS = 8
#: a value further than this many interquartile ranges beyond a quartile (on the measure's
#: modelling scale, log for positive values) is a gross error, not a tail: a continuous
#: marginal interpolates only up to the most extreme value within these fences
OUTLIER_IQRS = 10.0
#: penalties tried by a linear head: ``ridge`` times 1, 10, ... 10^(RIDGE_STEPS - 1)
RIDGE_STEPS = 5
#: the most degrees of freedom a linear head may spend, as a share of its rows
MAX_DF_SHARE = 0.5
#: first values a measure needs for its residual scale to depend on the inputs
#: (:class:`FirstSpread`), the floor of a squared residual before its log, and the widest
#: scale either way
MIN_SPREAD_ROWS = 100
SPREAD_FLOOR = 1e-2
MAX_SPREAD = 2.0


@dataclass
class Marginal:
    """Empirical marginal of one measure; maps values <-> standard normal scores.

    Values are numbers (categories arrive as integer codes). Columns with few distinct values
    are discrete: forward maps draw a uniform inside the value's CDF step, inverse maps return
    one of the observed values. Otherwise the inverse interpolates between stored quantiles,
    so samples stay inside the observed range. There is one quantile per ``CELL_VALUES``
    values (at most ``N_QUANTILES``): with a quantile at (nearly) every training value,
    interpolation would give each gap between neighbouring training values the same
    probability, putting synthetic values next to training values more often than real
    outsiders are (a membership leak); inside a cell of many values a synthetic value falls
    into a gap in proportion to its width, as a real one does. For positive values the
    interpolation is on the log scale (``log``): in the wide top cell of a skewed lab, most
    real values sit near its lower end, and linear interpolation would spread them evenly up
    to the maximum.
    """

    values: np.ndarray  # discrete: the distinct values; continuous: quantiles
    cdf: np.ndarray  # discrete: cumulative probabilities; continuous: the quantile levels
    discrete: bool
    log: bool = False
    #: mean and standard deviation of the (log) values: the value scale of :meth:`scaled`
    center: float = 0.0
    spread: float = 1.0
    #: training values (0 in models saved before it was kept)
    count: int = 0

    @property
    def tail(self) -> float:
        """The smallest probability a score stands for: half a training value's share.

        The smallest training value sits at the first quantile (probability 0); clipped at
        1e-4 it took the score -3.7 whatever the sample size. Eight rats' first weights
        then had one at -3.7 (the lightest rat, the minimum of all 88 weights) and the rest
        within +-1.6, and the residual of the first-value head (sd 1.15, wider than the
        whole marginal) spread synthetic rats across the diets. At rank 1/2 of n it is -2.5.
        """
        return 0.5 / self.count if self.count else 1e-4

    @classmethod
    def fit(cls, x: np.ndarray, *, cell_values: int = CELL_VALUES,
            discrete: bool = False) -> Marginal:
        """The marginal of the finite values of ``x`` (``cell_values`` per cell);
        ``discrete``: whatever the number of values (category codes: interpolating between
        them would draw codes of no category's own frequency)."""
        x = x[np.isfinite(x)]
        if len(x) == 0:
            return cls(np.array([0.0]), np.array([1.0]), True)
        uniq, counts = np.unique(x, return_counts=True)
        if discrete or len(uniq) <= MAX_DISCRETE:
            return cls(uniq.astype(float), np.cumsum(counts) / counts.sum(), True,
                       count=len(x))
        n_cells = int(np.clip(len(x) // cell_values, MIN_CELLS, N_QUANTILES - 1))
        levels = _tail_levels(np.linspace(0.0, 1.0, n_cells + 1), len(x), cell_values)
        log = bool(x.min() > 0)
        g = np.log(x) if log else x
        spread = float(g.std())
        return cls(_within_fences(np.quantile(x, levels), x, g), levels, False, log,
                   float(g.mean()), spread if spread > 0 else 1.0, len(x))

    def forward(self, x: np.ndarray, rng: np.random.Generator,
                position: np.ndarray | None = None) -> np.ndarray:
        """Normal scores of ``x`` (NaN stays NaN).

        A discrete value maps to a point inside its CDF step: at ``position`` (a number in
        [0, 1) per row) when given, else at random. Giving every row of an entity the same
        position keeps a repeated value on the same score, so the autoregressive model sees
        its persistence rather than noise.
        """
        out = np.full(len(x), np.nan)
        ok = np.isfinite(x)
        if self.discrete:
            idx = np.clip(np.searchsorted(self.values, x[ok]), 0, len(self.values) - 1)
            upper = self.cdf[idx]
            lower = np.where(idx > 0, self.cdf[np.maximum(idx - 1, 0)], 0.0)
            where = rng.random(len(idx)) if position is None else position[ok]
            u = lower + where * (upper - lower)
        else:
            # a value repeated across quantiles (ties) takes the middle of its levels
            uniq, inverse = np.unique(self.values, return_inverse=True)
            mid = np.bincount(inverse, weights=self.cdf) / np.bincount(inverse)
            if self.log:
                u = np.interp(np.log(np.maximum(x[ok], uniq[0])), np.log(uniq), mid)
            else:
                u = np.interp(x[ok], uniq, mid)
        out[ok] = stats.norm.ppf(np.clip(u, self.tail, 1 - self.tail))
        return out

    def inverse(self, z: np.ndarray) -> np.ndarray:
        u = stats.norm.cdf(np.clip(z, -Z_CLIP, Z_CLIP))
        if self.discrete:
            idx = np.clip(np.searchsorted(self.cdf, u), 0, len(self.values) - 1)
            return self.values[idx]
        if self.log:
            return np.exp(np.interp(u, self.cdf, np.log(self.values)))
        return np.interp(u, self.cdf, self.values)

    def scaled(self, x: np.ndarray) -> np.ndarray:
        """Continuous values on their own (log) scale, standardised (NaN stays NaN).

        A patient's later values move by steps on this scale; in normal scores a measure
        with two modes and nothing between (rat diets: ~250 g against ~500 g) has its gap
        squeezed to almost nothing, and a small step there jumps from one mode to the other.
        """
        g = np.log(np.maximum(x, self.values[0])) if self.log else x
        return (g - self.center) / self.spread

    def unscaled(self, v: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`scaled`, kept inside the training range: a value drawn past an
        end is reflected back inside (clipped, values would pile up on the training extremes).
        """
        low, high = self.scaled(self.values[[0, -1]])
        v = np.where(v > high, 2 * high - v, v)
        v = np.where(v < low, 2 * low - v, v)
        g = np.clip(v, low, high) * self.spread + self.center
        return np.clip(np.exp(g) if self.log else g, self.values[0], self.values[-1])

    def log_slope(self, x: np.ndarray, scaled: bool) -> np.ndarray:
        """log |d score / d x| of a continuous measure at ``x``: of its normal score
        (:meth:`forward`), or of its :meth:`scaled` value. A density of the scores times
        this slope is a density of the values, so two models of the same values in the two
        spaces can be compared by likelihood."""
        if scaled:
            return -np.log(self.spread) - (np.log(x) if self.log else 0.0)
        uniq, inverse = np.unique(self.values, return_inverse=True)
        mid = np.bincount(inverse, weights=self.cdf) / np.bincount(inverse)
        knots = np.log(uniq) if self.log else uniq
        at = np.log(np.maximum(x, uniq[0])) if self.log else x
        cell = np.clip(np.searchsorted(knots, at, side="right") - 1, 0, len(knots) - 2)
        slope = np.diff(mid)[cell] / np.diff(knots)[cell]
        u = np.clip(np.interp(at, knots, mid), self.tail, 1 - self.tail)
        out = np.log(np.maximum(slope, 1e-12)) - stats.norm.logpdf(stats.norm.ppf(u))
        return out - np.log(x) if self.log else out

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return ({"discrete": self.discrete, "log": self.log, "center": self.center,
                 "spread": self.spread, "count": self.count},
                {"values": self.values, "cdf": self.cdf})

    @classmethod
    def from_state(cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Marginal:
        return cls(np.asarray(arrays["values"], float), np.asarray(arrays["cdf"], float),
                   bool(meta["discrete"]), bool(meta.get("log", False)),
                   float(meta.get("center", 0.0)), float(meta.get("spread", 1.0)),
                   int(meta.get("count", 0)))


@dataclass
class StaticFeatures:
    """Static columns -> a numeric design block (standardised numbers, one-hot categories)."""

    numeric: dict[str, tuple[float, float]]
    levels: dict[str, list[Any]]

    @classmethod
    def fit(cls, frame: pd.DataFrame, numeric: list[str], max_levels: int) -> StaticFeatures:
        num: dict[str, tuple[float, float]] = {}
        levels: dict[str, list[Any]] = {}
        for name in frame.columns:
            if name in numeric:
                x = as_float(frame[name])
                x = x[np.isfinite(x)]
                mean = float(x.mean()) if len(x) else 0.0
                sd = float(x.std()) if len(x) > 1 and x.std() > 0 else 1.0
                num[name] = (mean, sd)
            else:
                counts = frame[name].astype(object).value_counts(dropna=True)
                levels[name] = [_jsonable(v) for v in counts.index[:max_levels]]
        return cls(num, levels)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        blocks = []
        for name, (mean, sd) in self.numeric.items():
            x = (as_float(frame[name]) - mean) / sd
            miss = ~np.isfinite(x)
            blocks += [np.where(miss, 0.0, np.clip(x, -5, 5)), miss.astype(float)]
        for name, levels in self.levels.items():
            obj = frame[name].astype(object)
            for level in levels[1:]:  # the most frequent level is the reference
                blocks.append((obj == level).to_numpy(dtype=float))
            blocks.append(obj.isna().to_numpy(dtype=float))
        if not blocks:
            return np.zeros((len(frame), 0))
        return np.column_stack(blocks)

    def to_meta(self) -> dict[str, Any]:
        return {"numeric": {k: list(v) for k, v in self.numeric.items()},
                "levels": self.levels}

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> StaticFeatures:
        return cls({k: (float(v[0]), float(v[1])) for k, v in meta["numeric"].items()},
                   {k: list(v) for k, v in meta["levels"].items()})


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


#: a patient's residual variance is read from at least this many later values in each half
#: of its rows...
MIN_VOLATILITY_ENTRIES = 3
#: ...and a spread between patients from at least this many patients
MIN_VOLATILITY_PATIENTS = 10


#: quantile levels of a head's residual shape (see :class:`LinearHead`)...
SHAPE_LEVELS = np.linspace(0.005, 0.995, 100)
#: ...read where an output has at least this many residuals
MIN_SHAPE_ROWS = 40


@dataclass
class LinearHead:
    """Multi-output ridge regression with a residual of full covariance and, per output, the
    training residuals' own shape.

    Fitted per output on the rows where that output is observed, with the penalty picked by
    generalised cross-validation among ``ridge`` x 1, 10, ... 10^4: a head with many inputs
    and few rows (the first values of 50 patients, from some 70 inputs) otherwise fits its
    training rows almost exactly. Residuals are scaled to the model's error on new rows
    (``n / (n - df)``, ``df`` the degrees of freedom spent), else synthetic values would sit
    closer to the fitted training values than new patients do. The residual covariance is
    pairwise-complete, made positive semi-definite by clipping eigenvalues.

    Residuals of later values are heavy-tailed: most of a patient's weights repeat the last
    one to a few hundred grams, and a few jump (a mis-keyed 0 kg, a fluid shift). A normal
    residual of the same variance moved every synthetic weight by kilograms (within-stay
    sd 7.7 kg against 2.0 kg real, CLIF vitals). So each output's residuals keep their
    shape: a draw is a correlated normal as before, carried to the output's standardised
    residual quantiles (``shape``: ``SHAPE_LEVELS``, unit variance; a Gaussian copula of the
    residuals), where there are ``MIN_SHAPE_ROWS`` residuals or more.
    """

    coef: np.ndarray  # (p + 1) x k, last row the intercept
    chol: np.ndarray  # k x k
    #: k x len(SHAPE_LEVELS): standardised residual quantiles; a row of NaN: normal
    shape: np.ndarray | None = None

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, ridge: float, free: int = 0,
            own: list[list[int]] | None = None, shaped: bool = False) -> LinearHead:
        """``free``: the last inputs are not penalised (like the intercept); ``own[j]``:
        inputs not penalised for output ``j`` alone; ``shaped``: keep the residuals' shape
        (later values; first values and gaps are drawn normal)."""
        k, p = y.shape[1], x.shape[1]
        coef = np.zeros((p + 1, k))
        resid = np.full_like(y, np.nan)
        for j in range(k):
            ok = np.isfinite(y[:, j])
            if ok.sum() < 2:
                continue
            mine = list(own[j]) if own else []
            rest = [c for c in range(p - free) if c not in mine]
            order = np.r_[rest, mine, np.arange(p - free, p)].astype(int)
            found, resid[ok, j] = _ridge_gcv(x[ok][:, order], y[ok, j], ridge,
                                             free + len(mine))
            coef[order, j], coef[-1, j] = found[:-1], found[-1]
        cov = pd.DataFrame(resid).cov(min_periods=5).to_numpy()
        diag = np.where(np.isfinite(np.diag(cov)), np.diag(cov), 1.0)
        cov = np.where(np.isfinite(cov), cov, 0.0)
        np.fill_diagonal(cov, np.maximum(diag, 1e-3))
        vals, vecs = np.linalg.eigh(cov)
        cov = (vecs * np.maximum(vals, 1e-4)) @ vecs.T
        return cls(coef, np.linalg.cholesky(cov), _residual_shapes(resid) if shaped else None)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x @ self.coef[:-1] + self.coef[-1]

    def sample(self, x: np.ndarray, rng: np.random.Generator,
               scale: np.ndarray | None = None) -> np.ndarray:
        """A draw per row; ``scale``: each row's residual scale per output (1 by default)."""
        noise = rng.standard_normal((len(x), self.coef.shape[1])) @ self.chol.T
        if self.shape is not None:
            sd = np.sqrt(np.einsum("ij,ij->i", self.chol, self.chol))
            for j in np.flatnonzero(np.isfinite(self.shape[:, 0])):
                level = special.ndtr(noise[:, j] / sd[j])
                noise[:, j] = sd[j] * np.interp(level, SHAPE_LEVELS, self.shape[j])
        return self.predict(x) + (noise if scale is None else noise * scale)


def _residual_shapes(resid: np.ndarray) -> np.ndarray | None:
    """Each output's residual quantiles at ``SHAPE_LEVELS``, centred and scaled so that the
    quantile function has mean 0 and variance 1 (NaN rows: too few residuals); None if none
    has enough."""
    shapes = np.full((resid.shape[1], len(SHAPE_LEVELS)), np.nan)
    fine = np.linspace(0.0005, 0.9995, 1000)
    for j in range(resid.shape[1]):
        r = resid[np.isfinite(resid[:, j]), j]
        if len(r) < MIN_SHAPE_ROWS or np.std(r) == 0:
            continue
        q = np.quantile(r, SHAPE_LEVELS)
        on_fine = np.interp(fine, SHAPE_LEVELS, q)
        spread = float(np.std(on_fine))
        if spread > 0:
            shapes[j] = (q - on_fine.mean()) / spread
    return shapes if np.isfinite(shapes[:, 0]).any() else None


def _ridge_gcv(x: np.ndarray, y: np.ndarray, ridge: float,
               free: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Ridge coefficients (intercept last) with the penalty of least generalised
    cross-validation error, and the residuals scaled to out-of-sample size.

    The intercept and the last ``free`` inputs are not penalised (they are partialled out
    first). Penalties that spend more than half the rows in degrees of freedom are not
    considered (the largest always is): near interpolation, GCV's ``(n - df)^2`` is as small
    as the residuals and the score means nothing, and the fit would carry single training
    rows.
    """
    n, p = x.shape
    fixed = np.column_stack([x[:, p - free:], np.ones(n)])
    to_fixed = np.linalg.lstsq(fixed, np.column_stack([x[:, :p - free], y]), rcond=None)[0]
    x_rest = x[:, :p - free] - fixed @ to_fixed[:, :-1]
    y_rest = y - fixed @ to_fixed[:, -1]
    u, sv, vt = np.linalg.svd(x_rest, full_matrices=False)
    uy = u.T @ y_rest
    best_score, penalty, resid = np.inf, ridge, y_rest
    tried = ridge * 10.0 ** np.arange(RIDGE_STEPS)
    for step in tried:
        shrink = sv**2 / (sv**2 + step)
        df = fixed.shape[1] + shrink.sum()
        if df > MAX_DF_SHARE * n and step < tried[-1]:
            continue
        fit_resid = y_rest - u @ (shrink * uy)
        score = float(fit_resid @ fit_resid) / max(n - df, 1.0) ** 2
        if score < best_score:
            best_score, penalty = score, step
            resid = fit_resid * np.sqrt(n / max(n - df, 1.0))
    beta = vt.T @ (sv / (sv**2 + penalty) * uy)
    beta_fixed = to_fixed[:, -1] - to_fixed[:, :-1] @ beta
    return np.r_[beta, beta_fixed], resid


@dataclass
class ValueHeads:
    """The values of a row: one :class:`LinearHead` for a measure's first recorded value
    (``first``, in normal scores), one for its later values (``follow_up``, in the space
    :mod:`._steps` chose for the measure).

    A patient's first value is spread over the whole population (only the static attributes
    inform it); a later one sits close to the patient's earlier values. One pooled head gave
    later values the residual noise of first values, and its static effects were a
    compromise between the two: synthetic patients wandered (nafld2 cholesterol: 7.1
    within-patient standard deviation against 5.7) and their levels differed too little
    (10.3 between patients against 15.4).
    """

    first: LinearHead
    follow_up: LinearHead
    #: the first values' residual scale given the inputs (None: one scale for all)
    first_spread: FirstSpread | None = None

    @classmethod
    def fit(cls, x: np.ndarray, first: np.ndarray, later: np.ndarray, seen: np.ndarray,
            ridge: float, free: int = 0, own: list[list[int]] | None = None) -> ValueHeads:
        """``first``/``later``: the targets of first and later values; ``seen``: whether the
        patient had the measure recorded at an earlier row; ``free``: the last inputs are not
        penalised (see :meth:`LinearHead.fit`); ``own[j]``: the inputs of measure ``j``'s own
        history, not penalised in its later values' head (a penalty chosen for some 60
        inputs shrank them, and synthetic patients wandered: within-stay spread 1.31 times
        the real one on clif_labs, 1.21 with them kept whole)."""
        first = np.where(seen, np.nan, first)
        head = LinearHead.fit(x, first, ridge, free)
        return cls(head, LinearHead.fit(x, np.where(seen, later, np.nan), ridge, free, own,
                                        shaped=True),
                   FirstSpread.fit(x, first, head, ridge))

    def sample(self, x: np.ndarray, seen: np.ndarray, rng: np.random.Generator,
               volatility: np.ndarray | None = None) -> np.ndarray:
        """``volatility``: each row's patient's scale of later values' residuals, per
        measure."""
        scale = None if self.first_spread is None else self.first_spread.scale(x)
        return np.where(seen, self.follow_up.sample(x, rng, volatility),
                        self.first.sample(x, rng, scale))


@dataclass
class FirstSpread:
    """How widely a first value scatters about its prediction, given the row's inputs: a
    ridge regression of each measure's log squared standardised residual (a scale per row
    and measure, mean square 1 over the training rows, within ``1 / MAX_SPREAD`` to
    ``MAX_SPREAD``).

    One residual variance for everyone is wrong where a static attribute sets how much a
    value varies, not only its level: in a children's hospital's COVID tests, the
    drive-through's collection-to-receipt times scatter by 0.57 on the log scale and the
    other clinics' by 1.30; drawn with one scale, the synthetic ones scattered by 0.85 and
    1.07, and every pair of a time with the clinic, payor or patient class told synthetic
    patients from real ones (AUC 0.59-0.62 for the pair).
    """

    coef: np.ndarray  # (p + 1) x k: the log variance's coefficients, intercept last
    level: np.ndarray  # k: the factor that makes the mean square 1 over training rows

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, head: LinearHead,
            ridge: float) -> FirstSpread | None:
        """``y``: the first values (NaN where not a first value), ``head``: their fitted
        head. None where no measure has ``MIN_SPREAD_ROWS`` first values."""
        sd = np.sqrt(np.maximum(np.einsum("ij,ij->i", head.chol, head.chol), 1e-12))
        r2 = ((y - head.predict(x)) / sd) ** 2
        enough = np.isfinite(r2).sum(axis=0) >= MIN_SPREAD_ROWS
        if not enough.any():
            return None
        target = np.where(enough, np.log(np.maximum(r2, SPREAD_FLOOR)), np.nan)
        coef = LinearHead.fit(x, target, ridge).coef
        coef[:, ~enough] = 0.0
        log_var = x @ coef[:-1] + coef[-1]
        ratio = np.nanmean(r2 / np.exp(log_var), axis=0)
        level = np.where(enough & np.isfinite(ratio) & (ratio > 0), ratio, 1.0)
        return cls(coef, level)

    def scale(self, x: np.ndarray) -> np.ndarray:
        """Rows x measures: each first value's residual scale."""
        var = np.exp(np.clip(x @ self.coef[:-1] + self.coef[-1], -50.0, 50.0)) * self.level
        return np.sqrt(np.clip(var, 1.0 / MAX_SPREAD**2, MAX_SPREAD**2))


@dataclass
class VolatilityModel:
    """How steady each patient's later values of each measure are: the log of the patient's
    residual variance per measure, a ridge regression on the patient's features (statics,
    outcome) plus a multivariate normal spread between patients.

    Real patients are not equally steady (clif_vitals heart rate: within-stay sd 6.1 / 8.3 /
    11.6 at the quartiles), and one residual scale for all made synthetic stays alike (9.4 /
    10.8 / 13.0). A patient's mean square over a few entries also scatters by chance, more
    so when rows have heavy tails, so the spread is read from alternate rows (each half of a
    patient's rows holds at least ``MIN_VOLATILITY_ENTRIES`` entries of the measure): the
    covariance of one half's log mean square of measure ``j`` with the other half's of ``k``
    is the covariance between patients, chance left out. Measures differ in how steady a
    patient is (Phenobarb's doses and concentrations) yet move together in a panel (nafld2's
    cholesterol and HDL: scales drawn apart for each measure took detection 0.626 -> 0.719).
    The scales have a mean square of 1 over the training patients, so each measure's fitted
    residual variance holds overall.
    """

    coef: np.ndarray  # (p + 1) x k: features, intercept last; zeros where not read
    spread: np.ndarray  # k x k: a root of the covariance of the log variances left

    @classmethod
    def fit(cls, resid: np.ndarray, codes: np.ndarray, features: np.ndarray,
            ridge: float) -> VolatilityModel | None:
        """``resid``: residuals of later values (rows x measures, NaN where none), each
        measure in units of its residual sd; ``codes``: each row's patient (rows of a patient
        together, in time order); ``features``: one row per patient. None where no measure
        has enough patients with enough entries."""
        n, k = len(features), resid.shape[1]
        first = np.r_[True, codes[1:] != codes[:-1]]
        index = np.arange(len(codes))
        parity = (index - np.maximum.accumulate(np.where(first, index, 0))) % 2
        ok = np.isfinite(resid)
        halves = []
        for part in (parity == 0, parity == 1):
            count = np.column_stack([np.bincount(codes[part], weights=ok[part, j], minlength=n)
                                     for j in range(k)])
            square = np.column_stack([
                np.bincount(codes[part], weights=np.where(ok[part, j], resid[part, j] ** 2, 0),
                            minlength=n) for j in range(k)])
            halves.append((count, square))
        kept = np.minimum(halves[0][0], halves[1][0]) >= MIN_VOLATILITY_ENTRIES
        read = kept.sum(axis=0) >= MIN_VOLATILITY_PATIENTS
        if not read.any():
            return None
        coef = np.zeros((features.shape[1] + 1, k))
        left = [np.full((n, k), np.nan), np.full((n, k), np.nan)]
        for j in np.flatnonzero(read):
            rows = kept[:, j]
            whole = np.log(np.maximum((halves[0][1][rows, j] + halves[1][1][rows, j])
                                      / (halves[0][0][rows, j] + halves[1][0][rows, j]), 1e-6))
            coef[:, j], _ = _ridge_gcv(features[rows], whole, ridge)
            fitted = features[rows] @ coef[:-1, j] + coef[-1, j]
            for half, (count, square) in zip(left, halves, strict=True):
                half[rows, j] = np.log(np.maximum(square[rows, j] / count[rows, j], 1e-6)) \
                    - fitted
        cov = np.zeros((k, k))
        for j in np.flatnonzero(read):
            for m in np.flatnonzero(read):
                both = kept[:, j] & kept[:, m]
                if both.sum() >= MIN_VOLATILITY_PATIENTS:
                    a, b = left[0][both], left[1][both]
                    cov[j, m] = 0.5 * (np.cov(a[:, j], b[:, m])[0, 1]
                                       + np.cov(b[:, j], a[:, m])[0, 1])
        cov = 0.5 * (cov + cov.T)
        vals, vecs = np.linalg.eigh(cov)
        spread = vecs * np.sqrt(np.maximum(vals, 0.0))  # a root: spread @ spread.T = cov
        fitted = features @ coef[:-1] + coef[-1]
        variance = (spread**2).sum(axis=1)
        coef[-1] -= np.log(np.mean(np.exp(fitted), axis=0)) + 0.5 * variance  # mean square 1
        return cls(coef, spread)

    def sample(self, features: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Each patient's residual scale per measure (standard-deviation multipliers)."""
        log_var = features @ self.coef[:-1] + self.coef[-1]
        return np.exp(0.5 * (log_var + rng.standard_normal(log_var.shape) @ self.spread.T))


@dataclass
class LogisticHeads:
    """One L2-penalised logistic regression per output (recorded or not), chained.

    Output ``j`` also sees whether outputs ``0..j-1`` are recorded at the same row (the chain
    rule, so the joint pattern is modelled): measures are taken in panels (cholesterol with
    HDL, systolic with diastolic pressure), and drawing each one on its own gave rows that
    real records never have (on nafld2, 18% of synthetic rows had one of cholesterol and HDL
    without the other, none of the real ones).

    The chain runs from the rarest output to the commonest (``order``). The last link is
    drawn given that nothing else was, and real rows always record something: last in the
    measures' own order, nafld2's smoking status (kept on rows of its own) filled such rows,
    recorded on 4.6% of synthetic rows against 3.2%. Rarest first, the commonest measures
    close the chain (3.4%).
    """

    coef: np.ndarray  # (p + k + 1) x k: inputs, flags of the earlier outputs, intercept
    order: np.ndarray | None = None  # chain position -> output; None: outputs in order

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, ridge: float) -> LogisticHeads:
        from sklearn.linear_model import LogisticRegression

        order = np.argsort(y.mean(axis=0), kind="stable")
        y = y[:, order]
        p, k = x.shape[1], y.shape[1]
        coef = np.zeros((p + k + 1, k))
        for j in range(k):
            t = y[:, j]
            if 0.0 < t.mean() < 1.0:
                model = LogisticRegression(C=1.0 / ridge, max_iter=500).fit(
                    np.hstack([x, y[:, :j]]), t)
                coef[:p + j, j], coef[-1, j] = model.coef_[0], model.intercept_[0]
            else:  # always (never) recorded in training: always (never) in synthetic rows
                coef[-1, j] = SURE_LOGIT if t.mean() >= 1.0 else -SURE_LOGIT
        return cls(coef, order)

    def sample(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Recorded flags drawn output by output, and the probability each one had."""
        p, k = x.shape[1], self.coef.shape[1]
        base = x @ self.coef[:p] + self.coef[-1]
        observed = np.zeros(base.shape, dtype=bool)
        proba = np.zeros(base.shape)
        for j in range(k):
            logit = base[:, j] + observed[:, :j] @ self.coef[p:p + j, j]
            proba[:, j] = special.expit(logit)
            observed[:, j] = rng.random(len(x)) < proba[:, j]
        if self.order is None:
            return observed, proba
        back = np.argsort(self.order)  # chain positions back to the outputs' own order
        return observed[:, back], proba[:, back]


@contextmanager
def one_thread() -> Iterator[None]:
    """Small matrices: one BLAS thread (on shared cores, thread contention costs 20x)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _tail_levels(levels: np.ndarray, n: int, cell_values: int) -> np.ndarray:
    """Even ``levels`` with the two extreme cells split again, halving towards the ends down
    to ``cell_values`` values a cell, where ``n`` values make the even cells at least twice
    that wide (above about 5,100 values; smaller samples keep their even cells).

    Above ``N_QUANTILES`` cells of ten values (2,560 values), a cell grows with the sample:
    the whole nafld2 export's top HDL cell held 0.4 % of 80,000 values, from 113 to 213, and
    interpolated evenly (on the log scale) across it, the draws that reached it spread to
    the maximum, while real values crowd at its lower end: 0.54 % of synthetic HDL values
    lay beyond the real 99.9th percentile. Halved cells keep the tail's own shape.
    """
    step, finest = levels[1], cell_values / n
    tail = finest * 2.0 ** np.arange(max(int(np.log2(step / finest)), 0) + 1)
    tail = tail[tail < step / 2]  # none until the even cells hold twice as many values
    return np.unique(np.r_[levels, tail, 1.0 - tail]) if len(tail) else levels


def _within_fences(quantiles: np.ndarray, x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``quantiles`` of ``x`` clipped to its most extreme values within ``OUTLIER_IQRS``
    interquartile ranges of its quartiles (on the modelling scale ``g``).

    An export's mis-keyed value (nafld2's systolic pressure of 13,682 mmHg beside a 99.9th
    percentile of 229) is the end of the top cell: interpolated up to it, most of that cell's
    draws were thousands of mmHg, a patient drawn there stayed there, and a forecaster
    trained on such patients erred by 4 standard deviations on real ones. Its rank still
    counts; no value beyond the fences is drawn.
    """
    q1, q3 = np.percentile(g, [25, 75])
    iqr = q3 - q1
    if iqr <= 0:
        return quantiles
    inside = x[(g >= q1 - OUTLIER_IQRS * iqr) & (g <= q3 + OUTLIER_IQRS * iqr)]
    return np.clip(quantiles, inside.min(), inside.max())
