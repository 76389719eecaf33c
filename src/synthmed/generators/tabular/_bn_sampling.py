"""Sampling state codes from the Bayesian network, with evidence.

Without evidence: ancestral sampling in topological order. With evidence (conditions), only
the non-evidence *ancestors* of evidence nodes need the posterior; every other node is then
sampled forward given its parents, which is exact. The ancestors' posterior is sampled

* exactly, by enumerating their joint states, when that joint table is small
  (``EXACT_MAX_CELLS``); rows with the same evidence share one table;
* otherwise by likelihood weighting with resampling: per evidence pattern, many particles are
  drawn from the prior, weighted by the evidence's likelihood, and resampled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math

import numpy as np

from synthmed.generators.tabular._bn_encoding import inverse_cdf, normalised_cdf
from synthmed.generators.tabular._bn_structure import parent_code

#: largest joint table of the evidence's ancestors sampled exactly
EXACT_MAX_CELLS = 200_000
#: cells (groups x joint states, or particles) handled per batch, to bound memory
BATCH_CELLS = 2_000_000
#: likelihood weighting: particles per requested row, and at least this many per group
OVERSAMPLE = 20
MIN_PARTICLES = 1_000


@dataclass
class Network:
    """A fitted network over state codes: states per node, DAG and tables."""

    cards: np.ndarray  # (d,) int
    order: list[int]  # topological
    parents: list[tuple[int, ...]]  # by node
    cpts: list[np.ndarray]  # by node, (n_parent_configs, n_states)
    _cdfs: list[np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._cdfs = [normalised_cdf(t) for t in self.cpts]

    def draw(self, node: int, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One state of ``node`` per row of ``codes``, given the parents already there."""
        rows = parent_code(codes, self.cards, self.parents[node])
        return inverse_cdf(self._cdfs[node], rows, rng.random(len(codes)))

    def ancestors(self, nodes: set[int]) -> set[int]:
        found: set[int] = set()
        stack = list(nodes)
        while stack:
            for p in self.parents[stack.pop()]:
                if p not in found:
                    found.add(p)
                    stack.append(p)
        return found - nodes


def sample_codes(net: Network, n: int, evidence: dict[int, np.ndarray],
                 rng: np.random.Generator) -> np.ndarray:
    """``n`` rows of state codes; ``evidence`` fixes some nodes' codes per row."""
    codes = np.zeros((n, len(net.cards)), dtype=np.int64)
    evid = sorted(evidence)
    for node in evid:
        codes[:, node] = evidence[node]
    anc = [v for v in net.order if v in net.ancestors(set(evid))]
    if anc:
        patterns, group = np.unique(codes[:, evid], axis=0, return_inverse=True)
        group = group.ravel()
        cells = math.prod(int(net.cards[a]) for a in anc)
        sampler = _ancestors_exact if cells <= EXACT_MAX_CELLS else _ancestors_weighted
        codes[:, anc] = sampler(net, anc, evid, patterns, group, rng)
    fixed = set(evid) | set(anc)
    for node in net.order:
        if node not in fixed:
            codes[:, node] = net.draw(node, codes, rng)
    return codes


def _ancestors_exact(net: Network, anc: list[int], evid: list[int], patterns: np.ndarray,
                     group: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Exact posterior draw of the ancestors: P(anc | e) ∝ prod of their and e's tables."""
    dims = [int(net.cards[a]) for a in anc]
    cells = math.prod(dims)
    out = np.zeros((len(group), len(anc)), dtype=np.int64)
    u = rng.random(len(group))
    step = max(1, BATCH_CELLS // cells)
    for start in range(0, len(patterns), step):
        ev = patterns[start:start + step]
        log_joint = np.zeros((len(ev), *dims))
        for node in anc + evid:
            family = (*net.parents[node], node)
            table = np.log(net.cpts[node]).reshape([int(net.cards[v]) for v in family])
            index = []
            for v in family:  # parents of ancestors/evidence are ancestors or evidence
                if v in evid:
                    index.append(ev[:, evid.index(v)].reshape((-1,) + (1,) * len(anc)))
                else:
                    shape = [1] * (len(anc) + 1)
                    shape[1 + anc.index(v)] = dims[anc.index(v)]
                    index.append(np.arange(dims[anc.index(v)]).reshape(shape))
            log_joint = log_joint + table[tuple(index)]
        flat = log_joint.reshape(len(ev), cells)
        cdf = normalised_cdf(np.exp(flat - flat.max(axis=1, keepdims=True)))
        rows = np.flatnonzero((group >= start) & (group < start + len(ev)))
        state = inverse_cdf(cdf, group[rows] - start, u[rows])
        out[rows] = np.stack(np.unravel_index(state, dims), axis=1)
    return out


def _ancestors_weighted(net: Network, anc: list[int], evid: list[int], patterns: np.ndarray,
                        group: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Likelihood weighting + per-group resampling (approximate; for large ancestor sets)."""
    out = np.zeros((len(group), len(anc)), dtype=np.int64)
    wanted = np.bincount(group, minlength=len(patterns))
    particles = np.maximum(OVERSAMPLE * wanted, MIN_PARTICLES)
    ends_all = np.cumsum(particles)
    limit = max(BATCH_CELLS // len(net.cards), 1)  # each particle holds a full row of codes
    start = 0
    while start < len(patterns):
        before = ends_all[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends_all, before + limit, side="right")), start + 1)
        owner = np.repeat(np.arange(stop - start), particles[start:stop])
        sim = np.zeros((len(owner), len(net.cards)), dtype=np.int64)
        sim[:, evid] = patterns[start:stop][owner]
        for node in anc:  # topological: parents are drawn or fixed first
            sim[:, node] = net.draw(node, sim, rng)
        log_w = np.zeros(len(owner))
        for node in evid:
            rows = parent_code(sim, net.cards, net.parents[node])
            log_w += np.log(net.cpts[node][rows, sim[:, node]])
        # Normalise per group, then one increasing cumulative sum: group g spans (g, g + 1].
        peak = np.full(stop - start, -np.inf)
        np.maximum.at(peak, owner, log_w)
        w = np.exp(log_w - peak[owner])
        w /= np.bincount(owner, weights=w)[owner]
        cum = np.cumsum(w)
        ends = np.cumsum(particles[start:stop])
        rows = np.flatnonzero((group >= start) & (group < stop))
        g = group[rows] - start
        pick = np.searchsorted(cum, g + rng.random(len(rows)), side="right")
        pick = np.clip(pick, ends[g] - particles[start:stop][g], ends[g] - 1)
        out[rows] = sim[pick][:, anc]
        start = stop
    return out
