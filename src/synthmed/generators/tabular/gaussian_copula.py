"""Gaussian copula: the fast, transparent baseline generator for tables.

Each column is mapped to a standard-normal latent (empirical quantile function for numbers and
dates; intervals for categories, numeric ones in their own order, labels by frequency); each
column that has missing values also gets a latent missing indicator, so that missingness
correlates with the other columns rather than being imputed. The latents' correlation (each
pair's maximum-likelihood estimate over the rows where both are observed,
:mod:`._latent_correlation`, projected to the nearest positive-definite matrix) defines a
multivariate normal. Sampling draws latents and maps them back; conditioning draws the free
latents from the conditional normal given the fixed ones. From 1,000 training rows, label
columns of 3 to 200 categories and yes/no columns are then drawn again by a chain of
multinomial logistic models given the rest of the row (:mod:`._label_chain`;
``label_chain``): one latent holds an order, not "this group, that way in".

Continuous values can then be smoothed (``smoothing=0.5``, off by default;
:mod:`synthmed.generators._smoothing`): an interpolated quantile function puts every
synthetic value between two neighbouring training values, so synthetic values sit closer to
training values than fresh patients' do
(on a simulated skewed lab of 200 rows 58% of synthetic values were nearer a training value
than an outsider's; 52% smoothed). Kernel noise hides where the training values are: half
Silverman's bandwidth on the latent scale, carried to the value scale by the quantile
function's local slope (narrow where values are dense, wide in a sparse tail; one bandwidth
for a skewed count such as gbsg2's hormone receptors smeared its dense low values and made
the table easier to detect), the spread kept. Half, not all of it: whas500's follow-up days
sit tightly against the admission year (administrative censoring), and the full bandwidth
blurred that enough to lift the detection AUC from 0.44 to 0.60 (0.52 at half). Values
recorded on several rows (atoms: a zero count, a heaped round number) are left as they are:
real outsiders share them. Off by default: noise drawn column by column loosens exact
relations between columns (mgus2's progression time equals its follow-up time for most
patients), and on 31 tables no benchmark tuned on it raised the copula's detection AUC
(mgus2 0.66 -> 0.74, opt 0.66 -> 0.73) without lowering the all-column DCR share of those
tables (benchmarks/RESULTS.md).

Example
-------
>>> from synthmed import load_dataset
>>> from synthmed.generators.tabular.gaussian_copula import GaussianCopula
>>> pbc = load_dataset("pbc")
>>> gen = GaussianCopula(n_quantiles=100).fit(pbc.frame, schema=pbc.schema)
>>> dead = gen.sample(50, conditions={"status": 2}, random_state=0)
>>> bool((dead["status"] == 2).all())
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import ndtri

from synthmed._random import own_stream
from synthmed.generators._multinomial import MIN_CHAIN_ROWS, ROWS_PER_CLASS
from synthmed.generators._smoothing import Bandwidth, atoms_of, bandwidth_of, smooth_local
from synthmed.generators.base import (
    BaseGenerator,
    GeneratorTags,
    ParamCheck,
    float_in,
    int_in,
    one_of,
)
from synthmed.generators.tabular._copula_marginals import (
    CategoricalMarginal,
    QuantileMarginal,
    draw_in,
    jsonable_categories,
    latent_to_intervals,
    nearest_correlation,
    pairwise_correlation,
    truncated_gibbs,
)
from synthmed.generators.tabular._label_chain import MAX_LEVELS, LabelChain
from synthmed.generators.tabular._latent_correlation import latent_correlation
from synthmed.schema import TableSchema

__all__ = ["GaussianCopula"]

CONTINUOUS_KINDS = frozenset({"numeric", "integer", "datetime"})
Marginal = QuantileMarginal | CategoricalMarginal
#: Gibbs sweeps that make the latents of several conditions agree with their correlation
CONDITION_SWEEPS = 5
#: quantile points a column whose values repeat gets at most (:func:`quantiles_for`)
MAX_QUANTILES = 1000
#: and this many per distinct value
QUANTILES_PER_VALUE = 4
#: training rows a value on average for a column to count as discrete: a small table's
#: frequencies are left to the coarser grid, which does not copy them value by value
ROWS_PER_VALUE = 20


def quantiles_for(values: np.ndarray, n_quantiles: int) -> int:
    """Quantile points for a continuous column's ``values``: ``n_quantiles``, or, where the
    values repeat (``ROWS_PER_VALUE`` training rows a value on average: a discrete one),
    ``QUANTILES_PER_VALUE`` per distinct value up to ``MAX_QUANTILES``. Between 100
    quantiles the interpolation spreads a discrete column's mass evenly over the values in
    between and loses its heaps: openintro's yrbss (6,800 training rows) records weight in
    whole pounds (239 values, heaped on round numbers), and the weight alone told the
    copula's rows from real ones at AUC 0.58; with 956 points, 0.50 (whole table 0.565 ->
    0.521). A column of distinct values keeps ``n_quantiles``: a finer grid would follow
    each training value closer."""
    distinct = len(np.unique(values))
    if len(values) < ROWS_PER_VALUE * distinct:
        return n_quantiles
    return int(min(MAX_QUANTILES, max(n_quantiles, QUANTILES_PER_VALUE * distinct)))


#: half-width, on the latent (normal-score) scale, of the window over which the smoothing
#: noise measures the quantile function's slope
SLOPE_WINDOW = 0.5
#: a value and a missing indicator are correlated only if the value is observed on at least
#: this many rows where the indicator says "missing"
MIN_OVERLAP_ROWS = 5


class GaussianCopula(BaseGenerator):
    """Gaussian copula over empirical marginals, with modelled missingness and conditioning.

    Parameters
    ----------
    n_quantiles : int, default 100
        Points of the stored quantile grid of each numeric or datetime column. Outputs are
        interpolated linearly between them and never leave the training range. A column
        whose values repeat (a weight in whole pounds, a count) gets more, up to
        :data:`MAX_QUANTILES` (see :func:`quantiles_for`).
    shrinkage : float, default 0.0
        Weight of the identity in the latent correlation (0: as estimated). Raise it for
        small tables with many columns, where pairwise estimates are noisy.
    model_missing : bool, default True
        Let missing-value indicators correlate with the other columns. With ``False``
        values are still missing at the training rate, but at random (MCAR).
    correlation : {"likelihood", "gibbs"}, default "likelihood"
        How the latent correlation is estimated where categories, ties or missing values
        leave latents known only up to an interval. ``"likelihood"``: each pair's
        maximum-likelihood correlation (normal scores, polyserial, polychoric; deterministic).
        ``"gibbs"``: the earlier stochastic EM, ``gibbs_sweeps`` sweeps of a truncated Gibbs
        sampler, which wanders where a column says little about its latent (a rare outcome).
    gibbs_sweeps : int, default 10
        Sweeps of ``correlation="gibbs"``. 0 gives the SDV-style estimate from independent
        draws inside the intervals, which weakens associations of categorical and
        missing-value columns.
    smoothing : float, default 0.0
        Kernel noise added to the values of a continuous column that are not atoms
        (recorded on at least 5 training rows), where more than 30 distinct such values
        exist, as a multiple of Silverman's bandwidth on the latent scale (the spread kept,
        reflected into the training range), so that synthetic values do not sit between
        neighbouring training values (see above); 0 turns it off. Values are then rounded to
        the column's recorded precision as always.
    label_chain : bool, default True
        On tables of 1,000 training rows or more, draw each label column of 3 to 200
        categories (at least 10 rows a category), and each yes/no column, again after the
        copula, from a multinomial logistic model of the row's other columns and the label
        columns before it (missing a class of its own where the column has missing values).
        ``False``: the labels come from the copula's latents alone.

    Attributes
    ----------
    corr_ : ndarray of shape (n_latent, n_latent)
        Latent correlation: one variable per column, then one per column with missing values.
    missing_rate_ : dict of str to float
        Training missing rate of each column that has missing values.

    Examples
    --------
    >>> from synthmed import get_generator, load_dataset
    >>> pbc = load_dataset("pbc")
    >>> gen = get_generator("gaussian_copula").fit(pbc.frame, schema=pbc.schema)
    >>> gen.sample(3, random_state=0).shape
    (3, 19)
    """

    name: ClassVar[str] = "gaussian_copula"
    _tags: ClassVar[GeneratorTags] = GeneratorTags(
        modality="table", supports_conditioning=True, handles_missing=True
    )
    _param_checks: ClassVar[dict[str, ParamCheck]] = {
        "n_quantiles": int_in(2, 100_000),
        "shrinkage": float_in(0.0, 1.0),
        "model_missing": one_of(True, False),
        "correlation": one_of("likelihood", "gibbs"),
        "gibbs_sweeps": int_in(0, 1000),
        "smoothing": float_in(0.0, 2.0),
        "label_chain": one_of(True, False),
    }

    def __init__(self, *, n_quantiles: int = 100, shrinkage: float = 0.0,
                 model_missing: bool = True, correlation: str = "likelihood",
                 gibbs_sweeps: int = 10, smoothing: float = 0.0,
                 label_chain: bool = True) -> None:
        self.n_quantiles = n_quantiles
        self.shrinkage = shrinkage
        self.model_missing = model_missing
        self.correlation = correlation
        self.gibbs_sweeps = gibbs_sweeps
        self.smoothing = smoothing
        self.label_chain = label_chain

    @classmethod
    def get_test_params(cls) -> list[dict[str, Any]]:
        return [{}, {"n_quantiles": 10, "shrinkage": 0.2, "model_missing": False,
                     "correlation": "gibbs", "gibbs_sweeps": 0, "smoothing": 0.5,
                     "label_chain": False}]

    # ------------------------------------------------------------------ fit
    def _fit(self, frame: pd.DataFrame, schema: TableSchema, rng: np.random.Generator) -> None:
        n_rows, names = len(frame), list(frame.columns)
        kinds = [schema.column(name).kind for name in names]
        missing = {name: frame[name].isna().to_numpy() for name in names}
        missing_rate = {name: float(m.mean()) for name, m in missing.items() if m.any()}
        # columns missing on exactly the same rows share one indicator: their missingness is
        # one event (e.g. every trial-only measure of a patient outside the trial), and
        # separate, perfectly correlated indicators would make the correlation singular
        patterns: dict[bytes, int] = {}
        groups = [patterns.setdefault(np.packbits(missing[name]).tobytes(), len(patterns))
                  if name in missing_rate else -1 for name in names]
        self._layout(names, kinds, missing_rate, groups)

        # each latent is known only up to an interval of [0, 1] (on the uniform scale):
        # a value's CDF interval, a category's interval, or all of it where a value is missing
        n_latent = len(names) + len(patterns)
        low, high = np.zeros((n_rows, n_latent)), np.ones((n_rows, n_latent))
        observed = np.ones((n_rows, n_latent), dtype=bool)
        marginals: list[Marginal] = []
        self._bands_: list[Bandwidth | None] = []
        self._atoms_: list[np.ndarray] = []
        for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
            seen = ~missing[name]
            band, atoms = None, np.empty(0)
            if kind in CONTINUOUS_KINDS:
                values = _to_float(frame[name], kind)[seen]
                marginal: Marginal = QuantileMarginal.fit(
                    values, quantiles_for(values, self.n_quantiles))
                if self.smoothing > 0:
                    atoms = atoms_of(values)
                    band = bandwidth_of(values[~np.isin(values, atoms)])
                low[seen, i], high[seen, i] = marginal.training_intervals(values)
            else:
                marginal, codes = CategoricalMarginal.fit(frame[name])
                low[seen, i] = marginal.cuts[codes[seen]]
                high[seen, i] = marginal.cuts[codes[seen] + 1]
            marginals.append(marginal)
            self._bands_.append(band)
            self._atoms_.append(atoms if band is not None else np.empty(0))
            observed[:, i] = seen
            if name in missing_rate:
                flag, ind = missing[name].astype(int), self._indicator_[i]
                cuts = self._missing_cuts(name)
                low[:, ind], high[:, ind] = cuts[flag], cuts[flag + 1]
        self._marginals_ = marginals
        # a value cannot be correlated with an indicator that is (almost) never "missing" where
        # the value is observed (its own, or one of a group missing on a subset of its rows):
        # such a correlation has no data behind it and would drift during the sweeps
        n_ind = n_latent - len(names)
        if n_ind:
            ind_missing = (high[:, len(names):] - low[:, len(names):]) < 1.0
            ind_missing &= low[:, len(names):] > 0.0
            overlap = observed[:, :len(names)].T.astype(float) @ ind_missing
            self._unidentified_ = np.zeros((n_latent, n_latent), dtype=bool)
            self._unidentified_[:len(names), len(names):] = overlap < MIN_OVERLAP_ROWS
            self._unidentified_ |= self._unidentified_.T

        if self.correlation == "likelihood":
            self.corr_ = self._regularise(latent_correlation(low, high, observed))
        else:
            self.corr_ = self._gibbs_correlation(low, high, observed, rng)
        self._prepare()
        # yes/no columns too, numbers or not: a latent correlation holds a line in a number,
        # not a band of it (see _label_chain)
        labels = [name for name, marginal in zip(names, marginals, strict=True)
                  if isinstance(marginal, CategoricalMarginal)
                  and (marginal.labels or len(marginal.categories) == 2)
                  and 2 <= len(marginal.categories)
                  <= min(MAX_LEVELS, n_rows // ROWS_PER_CLASS)] if (
                      self.label_chain and n_rows >= MIN_CHAIN_ROWS) else []
        # the target first, then the yes/no columns, then the rest: a condition on a chained
        # column leaves the links before it as the copula drew them (a link cannot see a
        # later one), and augmentation asks for an outcome or a group, most often yes/no
        labels.sort(key=lambda name: (name != schema.target,
                                      len(self._categories(name)) != 2))
        inputs = [name for name in names if name not in labels]
        curved = [isinstance(marginal, QuantileMarginal)
                  for name, marginal in zip(names, marginals, strict=True) if name not in labels]
        self._chain_ = LabelChain.fit(
            labels, [self._categories(name) for name in labels], inputs, frame,
            lambda f: self._normal_scores(f, inputs), own_stream(rng), curved)

    def _gibbs_correlation(self, low: np.ndarray, high: np.ndarray, observed: np.ndarray,
                           rng: np.random.Generator) -> np.ndarray:
        # start from latents drawn inside their intervals, correlated pairwise (SDV-style);
        # Gibbs sweeps then undo the attenuation that independent draws cause for categories,
        # ties and missing indicators, and impute the latents of missing values
        skip = len(self._names_)
        z = draw_in(low, high, rng)
        corr = self._regularise(pairwise_correlation(z, observed))
        kept = []
        for sweep in range(self.gibbs_sweeps):
            z = truncated_gibbs(z, low, high, corr, 1, rng, skip=skip)
            corr = self._regularise(pairwise_correlation(z, observed))
            if sweep >= self.gibbs_sweeps // 2:
                kept.append(corr)
        # averaging the second half of the sweeps smooths the Monte Carlo noise
        return self._regularise(np.mean(kept, axis=0)) if kept else corr

    def _layout(self, names: list[str], kinds: list[str], missing_rate: dict[str, float],
                groups: list[int]) -> None:
        """Fix the latent order: columns first, then the missing indicators (one per group)."""
        self._names_, self._kinds_ = names, kinds
        self.missing_rate_ = missing_rate
        self._groups_ = list(groups)
        self._indicator_ = np.where(np.asarray(groups) >= 0, len(names) + np.asarray(groups), -1)

    def _missing_cuts(self, name: str) -> np.ndarray:
        """Intervals of the indicator: present is [0, 1 - rate), missing [1 - rate, 1]."""
        return np.array([0.0, 1.0 - self.missing_rate_[name], 1.0])

    def _regularise(self, corr: np.ndarray) -> np.ndarray:
        # a value's latent is defined on its observed rows: keeping it independent of its own
        # indicator makes the observed values follow the fitted marginal exactly
        if hasattr(self, "_unidentified_"):
            corr[self._unidentified_] = 0.0
        if not self.model_missing:
            inds = np.arange(len(self._names_), len(corr))
            corr[inds, :] = corr[:, inds] = 0.0
        # constant columns have pure-noise latents: their estimated correlations are noise
        for i, marginal in enumerate(self._marginals_):
            if marginal.constant:
                corr[i, :] = corr[:, i] = 0.0
        np.fill_diagonal(corr, 1.0)
        return nearest_correlation(corr, self.shrinkage)

    def _prepare(self) -> None:
        self._chol_ = np.linalg.cholesky(self.corr_)
        self._position_ = {name: i for i, name in enumerate(self._names_)}

    # ------------------------------------------------------------------ sample
    def _sample(self, n: int, conditions: pd.DataFrame | None,
                rng: np.random.Generator) -> pd.DataFrame:
        if conditions is None or conditions.shape[1] == 0:
            z = rng.standard_normal((n, len(self.corr_))) @ self._chol_.T
        else:
            z = self._conditional_latents(n, conditions, rng)
        out = self._decode(z, rng)
        if conditions is not None:
            for name in conditions.columns:
                out[name] = conditions[name].to_numpy()
        if self._chain_ is not None:
            chain = self._chain_
            out = chain.redraw(
                out, [self._categories(name) for name in chain.columns],
                lambda f: self._normal_scores(f, chain.inputs),
                lambda i, codes: self._label_marginal(chain.columns[i]).from_codes(codes),
                frozenset(() if conditions is None else conditions.columns), own_stream(rng))
        return out

    def _label_marginal(self, name: str) -> CategoricalMarginal:
        marginal = self._marginals_[self._position_[name]]
        assert isinstance(marginal, CategoricalMarginal)
        return marginal

    def _categories(self, name: str) -> list[Any]:
        return self._label_marginal(name).categories

    def _normal_scores(self, frame: pd.DataFrame, names: list[str]) -> np.ndarray:
        """Rows x ``names``: each value's normal score at the middle of its interval of the
        column's marginal (NaN where missing or an unknown category), the label chain's
        inputs."""
        out = np.full((len(frame), len(names)), np.nan)
        for k, name in enumerate(names):
            i = self._position_[name]
            marginal = self._marginals_[i]
            ok = frame[name].notna().to_numpy()
            if isinstance(marginal, CategoricalMarginal):
                codes = marginal.codes_of(frame[name])
                ok &= codes >= 0
                out[ok, k] = _middle_scores(marginal.cuts[:-1], marginal.cuts[1:])[codes[ok]]
            else:
                low, high = marginal.intervals(_to_float(frame[name][ok], self._kinds_[i]))
                out[ok, k] = _middle_scores(low, high)
        return out

    def _decode(self, z: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        out: dict[str, Any] = {}
        for i, (name, kind) in enumerate(zip(self._names_, self._kinds_, strict=True)):
            ind = self._indicator_[i]
            miss = (latent_to_intervals(z[:, ind], self._missing_cuts(name)) == 1
                    if ind >= 0 else np.zeros(len(z), dtype=bool))
            marginal = self._marginals_[i]
            if isinstance(marginal, CategoricalMarginal):
                out[name] = marginal.decode(z[:, i], miss)
            else:
                values = marginal.decode(z[:, i])
                band = self._bands_[i]
                if band is not None:
                    free = ~np.isin(values, self._atoms_[i])
                    zf = z[free, i]
                    # the quantile function's slope over half a standard deviation of the
                    # latent: narrow noise where values are dense, wide where they are sparse
                    slope = (marginal.decode(zf + SLOPE_WINDOW)
                             - marginal.decode(zf - SLOPE_WINDOW)) / (2 * SLOPE_WINDOW)
                    values[free] = smooth_local(values[free], slope, band, rng,
                                                self.smoothing)
                out[name] = _from_float(np.where(miss, np.nan, values), kind)
        return pd.DataFrame(out)

    def _conditional_latents(self, n: int, conditions: pd.DataFrame,
                             rng: np.random.Generator) -> np.ndarray:
        """Fixed latents from the conditions, free ones from the conditional normal.

        A condition fixes its latent to an interval: a category's interval, or a number's
        normal score (an interval only for a value tied across quantiles); a missing value
        fixes only the column's missing indicator. Fixed latents are drawn inside their
        intervals jointly (a few Gibbs sweeps on their own correlation), then the free ones
        from the conditional normal, for all rows that fix the same latents at once.
        """
        low, high = np.full((n, len(self.corr_)), np.nan), np.full((n, len(self.corr_)), np.nan)
        for name in conditions.columns:
            i, ind = self._position_[name], self._indicator_[self._position_[name]]
            miss = conditions[name].isna().to_numpy()
            marginal = self._marginals_[i]
            if isinstance(marginal, CategoricalMarginal):
                codes = marginal.codes_of(conditions[name][~miss])
                low[~miss, i], high[~miss, i] = marginal.cuts[codes], marginal.cuts[codes + 1]
            else:
                values = _to_float(conditions[name], self._kinds_[i])[~miss]
                low[~miss, i], high[~miss, i] = marginal.intervals(values)
            if ind >= 0:
                cuts = self._missing_cuts(name)
                low[:, ind], high[:, ind] = cuts[miss.astype(int)], cuts[miss.astype(int) + 1]
        z = np.empty_like(low)
        free_all = np.isnan(low)
        for rows in _row_groups(free_all):
            free = free_all[rows[0]]
            given = ~free
            fixed = np.zeros((len(rows), len(self.corr_)))
            if given.any():
                lo, hi = low[np.ix_(rows, given)], high[np.ix_(rows, given)]
                sub = self.corr_[np.ix_(given, given)]
                fixed[:, given] = truncated_gibbs(draw_in(lo, hi, rng), lo, hi, sub,
                                                  CONDITION_SWEEPS, rng)
            z[rows] = self._conditional_draw(fixed, free, rng)
        return z

    def _conditional_draw(self, fixed: np.ndarray, free: np.ndarray,
                          rng: np.random.Generator) -> np.ndarray:
        """Draw the ``free`` latents of each row given the others, ``fixed``."""
        given = ~free
        out = fixed.copy()
        if not free.any():
            return out
        corr = self.corr_
        if not given.any():
            out[:] = rng.standard_normal(out.shape) @ self._chol_.T
            return out
        # regression of the free latents on the fixed ones: mean = z_c S_cc^-1 S_cf
        coef = np.linalg.solve(corr[np.ix_(given, given)], corr[np.ix_(given, free)])
        cov = corr[np.ix_(free, free)] - corr[np.ix_(free, given)] @ coef
        chol = np.linalg.cholesky((cov + cov.T) / 2.0 + 1e-10 * np.eye(int(free.sum())))
        noise = rng.standard_normal((len(fixed), int(free.sum()))) @ chol.T
        out[:, free] = fixed[:, given] @ coef + noise
        return out

    def _condition_values_known(self, column: str, values: pd.Series) -> bool:
        i = self._position_[column]
        miss = values.isna().to_numpy()
        if miss.any() and self._indicator_[i] < 0:
            return False  # missing was never seen in this column
        marginal = self._marginals_[i]
        if isinstance(marginal, CategoricalMarginal):
            return bool((marginal.codes_of(values[~miss]) >= 0).all())
        return True

    # ------------------------------------------------------------------ state
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        columns: list[dict[str, Any]] = []
        arrays: dict[str, np.ndarray] = {"corr": self.corr_}
        for i, (name, kind) in enumerate(zip(self._names_, self._kinds_, strict=True)):
            marginal = self._marginals_[i]
            entry: dict[str, Any] = {"name": name, "kind": kind,
                                     "missing_rate": self.missing_rate_.get(name),
                                     "missing_group": self._groups_[i]}
            if isinstance(marginal, CategoricalMarginal):
                entry["categories"] = jsonable_categories(marginal.categories)
                entry["dtype"] = marginal.dtype
                arrays[f"cuts_{i}"] = marginal.cuts
            else:
                arrays[f"grid_{i}"] = marginal.grid
                band = self._bands_[i]
                if band is not None:
                    arrays[f"smooth_{i}"] = np.asarray(band.as_list())
                    arrays[f"atoms_{i}"] = self._atoms_[i]
            columns.append(entry)
        meta: dict[str, Any] = {"columns": columns}
        if self._chain_ is not None:
            meta["label_chain"], chain_arrays = self._chain_.to_state()
            arrays.update(chain_arrays)
        return meta, arrays

    def _set_state(self, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        columns = meta["columns"]
        names = [str(c["name"]) for c in columns]
        kinds = [str(c["kind"]) for c in columns]
        rates = {str(c["name"]): float(c["missing_rate"]) for c in columns
                 if c.get("missing_rate") is not None}
        self._layout(names, kinds, rates, [int(c["missing_group"]) for c in columns])
        marginals: list[Marginal] = []
        # models saved before smoothing existed have no "smooth_i": they sample as before
        self._bands_ = [Bandwidth(*(float(x) for x in arrays[f"smooth_{i}"]))
                        if f"smooth_{i}" in arrays else None for i in range(len(columns))]
        self._atoms_ = [np.asarray(arrays.get(f"atoms_{i}", np.empty(0)), dtype=float)
                        for i in range(len(columns))]
        for i, col in enumerate(columns):
            if "categories" in col:
                marginals.append(CategoricalMarginal(
                    list(col["categories"]), np.asarray(arrays[f"cuts_{i}"], dtype=float),
                    str(col["dtype"])))
            else:
                marginals.append(QuantileMarginal(np.asarray(arrays[f"grid_{i}"], dtype=float)))
        self._marginals_ = marginals
        # absent from models saved before the chain: their labels come from the copula
        self._chain_ = LabelChain.from_state(meta.get("label_chain"), arrays)
        self.corr_ = np.asarray(arrays["corr"], dtype=float)
        if self.corr_.shape != (len(names) + max(self._groups_, default=-1) + 1,) * 2:
            raise ValueError("the latent correlation does not match the columns")
        self._prepare()


def _row_groups(mask: np.ndarray) -> list[np.ndarray]:
    """Indices of the rows sharing each distinct boolean pattern of ``mask``, in fixed order."""
    varying = np.flatnonzero(mask.any(axis=0) & ~mask.all(axis=0))
    if len(varying) == 0:
        return [np.arange(len(mask))]
    if len(varying) <= 62:  # one integer key per row: a 1-d unique is far faster than axis=0
        keys = mask[:, varying].astype(np.int64) @ (np.int64(1) << np.arange(len(varying)))
    else:
        keys = np.unique(mask[:, varying], axis=0, return_inverse=True)[1].ravel()
    order = np.argsort(keys, kind="stable")
    bounds = np.flatnonzero(np.diff(keys[order])) + 1
    return np.split(order, bounds)


def _middle_scores(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Normal scores at the middles of CDF intervals (the label chain's inputs)."""
    # ndtri is norm.ppf without scipy's argument checks (a tenth of the time)
    return ndtri(np.clip((low + high) / 2, 1e-6, 1 - 1e-6))


def _to_float(series: pd.Series, kind: str) -> np.ndarray:
    """Numbers as float64; datetimes as epoch nanoseconds; missing as NaN."""
    if kind == "datetime":
        stamps = pd.to_datetime(series).astype("datetime64[ns]")
        return np.where(stamps.isna(), np.nan, stamps.to_numpy().view("int64").astype(float))
    return series.to_numpy(dtype=float, na_value=np.nan)


def _from_float(values: np.ndarray, kind: str) -> np.ndarray:
    if kind != "datetime":
        return values
    miss = np.isnan(values)
    stamps = np.round(np.where(miss, 0.0, values)).astype("int64").view("datetime64[ns]")
    stamps[miss] = np.datetime64("NaT")
    return stamps
