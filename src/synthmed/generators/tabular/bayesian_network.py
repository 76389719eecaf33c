"""Bayesian network: an interpretable generator for tables, optionally differentially private.

Every column becomes a small set of discrete states (quantile bins for numbers and dates,
categories for the rest, and a "missing" state wherever values are missing, so missingness is
modelled and may depend on other columns). A DAG with at most ``max_parents`` parents per node
is learnt greedily (BIC), and each node gets a conditional probability table. Sampling is
ancestral; numbers are drawn inside their bin from stored within-bin quantiles. Conditions are
evidence: the evidence's ancestors are drawn from their exact posterior (likelihood weighting
when that posterior is too large to enumerate).

With ``epsilon`` set, the model follows PrivBayes (Zhang et al., 2017); see the class docstring
for exactly which parts are differentially private.

Example
-------
>>> from synthmed import load_dataset
>>> from synthmed.generators.tabular.bayesian_network import BayesianNetwork
>>> pbc = load_dataset("pbc")
>>> gen = BayesianNetwork(max_parents=2).fit(pbc.frame, schema=pbc.schema)
>>> dead = gen.sample(50, conditions={"status": 2}, random_state=0)
>>> bool((dead["status"] == 2).all())
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from synthmed.exceptions import NotFittedError, ParameterError
from synthmed.generators.base import BaseGenerator, ParamCheck, float_in, int_in, optional
from synthmed.generators.tabular._bn_encoding import (
    CONTINUOUS_KINDS,
    CategoricalCoder,
    Coder,
    NumericCoder,
    coder_from_state,
)
from synthmed.generators.tabular._bn_sampling import Network, sample_codes
from synthmed.generators.tabular._bn_structure import estimate_cpts, learn_structure
from synthmed.schema import TableSchema

__all__ = ["BayesianNetwork"]

#: share of epsilon spent on the structure search (PrivBayes's beta)
DP_STRUCTURE_SHARE = 0.3



class BayesianNetwork(BaseGenerator):
    """Discrete Bayesian network over binned columns, with modelled missingness.

    Parameters
    ----------
    max_parents : int, default 2
        Most parents per column. More captures higher-order dependence but needs more data.
    n_bins : int, default 12
        Quantile bins per numeric or datetime column (fewer when values repeat).
    alpha : float, default 0.5
        Dirichlet smoothing: pseudo-counts per state added to each conditional distribution,
        spread in proportion to the column's marginal (an unseen parent configuration falls
        back to the marginal). Must be positive.
    max_categories : int, default 50
        Most states of a categorical column; the rarest categories beyond ``max_categories - 1``
        are pooled into one "other" state whose members are drawn by frequency.
    epsilon : float or None, default None
        Differential privacy budget (PrivBayes). None: no privacy, exact BIC structure.

    Attributes
    ----------
    edges_ : list of (str, str)
        The learnt DAG as ``(parent, child)`` column pairs.
    parents_ : dict of str to list of str
        Each column's parents.
    order_ : list of str
        Columns in the topological order used for sampling.

    Notes
    -----
    **Differential privacy** (``epsilon`` set; neighbouring tables differ by replacing one
    record; the row count is public). Protected, with total budget ``epsilon``:

    * the structure: ``0.3 * epsilon`` over the greedy steps, each an exponential mechanism on
      mutual information (sensitivity from PrivBayes, Lemma 4.1), first column chosen at random;
    * the conditional tables: ``0.7 * epsilon`` split evenly over one Laplace-noised joint
      count table per column (L1 sensitivity 2) and, for columns with more than
      ``max_categories`` categories, one noisy count per category (picks the kept categories
      and the "other" frequencies). Smoothing and normalisation are post-processing.

    **Not protected** (read from the data and treated as the public domain, as in PrivBayes):
    each numeric/datetime column's minimum and maximum, the list of categories of each column,
    and whether a column has missing values. Under DP, bins are equal-width over that range and
    values are uniform inside a bin (no private quantiles). Give the model data whose domain is
    already public, or coarsen the domain first, when those facts are sensitive.

    Examples
    --------
    >>> from synthmed import load_dataset
    >>> pbc = load_dataset("pbc")
    >>> gen = BayesianNetwork(epsilon=1.0).fit(pbc.frame, schema=pbc.schema, random_state=0)
    >>> len(gen.sample(10, random_state=0))
    10
    """

    name: ClassVar[str] = "bayesian_network"
    _param_checks: ClassVar[dict[str, ParamCheck]] = {
        "max_parents": int_in(0, 6),
        "n_bins": int_in(2, 1000),
        "alpha": float_in(0.0, low_open=True),
        "max_categories": int_in(2, 100_000),
        "epsilon": optional(float_in(0.0, low_open=True)),
    }

    def __init__(self, *, max_parents: int = 2, n_bins: int = 12, alpha: float = 0.5,
                 max_categories: int = 50, epsilon: float | None = None) -> None:
        self.max_parents = max_parents
        self.n_bins = n_bins
        self.alpha = alpha
        self.max_categories = max_categories
        self.epsilon = epsilon

    @classmethod
    def get_test_params(cls) -> list[dict[str, Any]]:
        return [{}, {"max_parents": 1, "n_bins": 6, "epsilon": 5.0}]

    # ------------------------------------------------------------------ fit
    def _fit(self, frame: pd.DataFrame, schema: TableSchema, rng: np.random.Generator) -> None:
        names = list(frame.columns)
        kinds = [schema.column(c).kind for c in names]
        epsilon = self.epsilon
        private = epsilon is not None
        table_eps = noise_scale = structure_eps = None
        if epsilon is not None:
            structure_eps = DP_STRUCTURE_SHARE * epsilon
            n_wide = sum(k not in CONTINUOUS_KINDS and frame[c].nunique() > self.max_categories
                         for c, k in zip(names, kinds, strict=True))
            table_eps = (1.0 - DP_STRUCTURE_SHARE) * epsilon / (len(names) + n_wide)
            noise_scale = 2.0 / table_eps  # replacing a record moves two counts by one
        coders: list[Coder] = []
        for name, kind in zip(names, kinds, strict=True):
            if kind in CONTINUOUS_KINDS:
                coders.append(NumericCoder.fit(frame[name], kind, self.n_bins, private=private))
            else:
                noise = None if noise_scale is None else (noise_scale, rng)
                coders.append(CategoricalCoder.fit(frame[name], schema.column(name).dtype,
                                                   self.max_categories, noise=noise))
        codes = np.column_stack([c.encode(frame[n]) for c, n in zip(coders, names, strict=True)])
        cards = np.array([c.n_states for c in coders], dtype=np.int64)
        structure = learn_structure(
            codes, cards, self.max_parents, rng, epsilon=structure_eps, table_epsilon=table_eps,
        )
        cpts = estimate_cpts(codes, cards, structure, self.alpha, rng, noise_scale=noise_scale,
                             missing=np.array([c.has_missing for c in coders]))
        parents: list[tuple[int, ...]] = [()] * len(names)
        for child, ps in structure:
            parents[child] = ps
        self._set_fitted(names, coders, Network(cards, [c for c, _ in structure], parents, cpts))

    def _set_fitted(self, names: list[str], coders: list[Coder], net: Network) -> None:
        self._names, self._coders, self._net = names, coders, net
        self.order_ = [names[i] for i in net.order]
        self.parents_ = {names[i]: [names[p] for p in net.parents[i]] for i in range(len(names))}
        self.edges_ = [(names[p], names[i]) for i in net.order for p in net.parents[i]]

    # ------------------------------------------------------------------ sample
    def _sample(self, n: int, conditions: pd.DataFrame | None,
                rng: np.random.Generator) -> pd.DataFrame:
        evidence = {}
        if conditions is not None:
            for col in conditions.columns:
                i = self._names.index(col)
                evidence[i] = self._coders[i].encode(conditions[col].reset_index(drop=True))
        codes = sample_codes(self._net, n, evidence, rng)
        return pd.DataFrame({name: coder.decode(codes[:, i], rng)
                             for i, (name, coder) in enumerate(zip(self._names, self._coders,
                                                                   strict=True))})

    def _condition_values_known(self, column: str, values: pd.Series) -> bool:
        # A category never seen (or a missing value where none was seen) has no state.
        return self._coders[self._names.index(column)].knows(values)

    # ------------------------------------------------------------------ interpretability
    def conditional_table(self, column: str) -> pd.DataFrame:
        """The learnt distribution of ``column`` given each configuration of its parents.

        Rows are parent configurations (parent state labels, a MultiIndex for several parents;
        a single row ``"all"`` for a column without parents), columns are the column's states.
        Numeric states are bins ``[low, high)``; ``other`` pools rare categories.
        """
        if not self.is_fitted:
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet. "
                                 "Call 'fit' before 'conditional_table'.")
        if column not in self._names:
            raise ParameterError(f"Column {column!r} is not modelled. "
                                 f"Modelled columns: {', '.join(self._names)}.")
        i = self._names.index(column)
        parents = self._net.parents[i]
        if len(parents) > 1:
            index = pd.MultiIndex.from_product([self._coders[p].labels() for p in parents],
                                               names=[self._names[p] for p in parents])
        elif parents:
            index = pd.Index(self._coders[parents[0]].labels(), name=self._names[parents[0]])
        else:
            index = pd.Index(["all"])
        return pd.DataFrame(self._net.cpts[i], index=index, columns=self._coders[i].labels())

    # ------------------------------------------------------------------ state
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta: dict[str, Any] = {"columns": [], "order": self._net.order,
                                "parents": [list(p) for p in self._net.parents]}
        arrays: dict[str, np.ndarray] = {}
        # Arrays are keyed by column position: column names may hold any character.
        for i, coder in enumerate(self._coders):
            col_meta, col_arrays = coder.to_state()
            meta["columns"].append(col_meta)
            arrays.update({f"c{i}_{k}": v for k, v in col_arrays.items()})
            arrays[f"cpt{i}"] = self._net.cpts[i]
        return meta, arrays

    def _set_state(self, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        names = self.schema_.names
        coders: list[Coder] = []
        for i, col_meta in enumerate(meta["columns"]):
            prefix = f"c{i}_"
            col_arrays = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            coders.append(coder_from_state(col_meta, col_arrays))
        if len(coders) != len(names):
            raise ValueError(f"{len(coders)} column states for {len(names)} columns")
        cards = np.array([c.n_states for c in coders], dtype=np.int64)
        parents = [tuple(int(p) for p in ps) for ps in meta["parents"]]
        cpts = [np.asarray(arrays[f"cpt{i}"], dtype=float) for i in range(len(names))]
        for i, (ps, table) in enumerate(zip(parents, cpts, strict=True)):
            expected = (int(np.prod(cards[list(ps)], dtype=np.int64)), int(cards[i]))
            if table.shape != expected:
                raise ValueError(f"table {i} has shape {table.shape}, expected {expected}")
        self._set_fitted(names, coders, Network(cards, [int(v) for v in meta["order"]],
                                                parents, cpts))
