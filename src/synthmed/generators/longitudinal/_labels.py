"""Category measures drawn with the rest of their row.

The value heads draw a row's measures as one multivariate normal in normal scores, and a
category is the step of its code on the measure's marginal (codes by frequency). That keeps
an order (a grade, a count) and a patient's own value, but not a nominal link between the
measures of one row: in a children's hospital's COVID test export (medicaldata's
covid_testing, 15,524 tests), a positive result carries a cycle threshold below 45 on 99.7 %
of real rows, and the clinic sets the patient class. The correlation of the codes' scores saw
neither: synthetic positives had the negative's threshold (45) on 96 % of rows, and a
classifier told synthetic patients from real ones at AUC 0.90 (holdout 0.50).

So each label measure (text categories, yes/no among them) is drawn again once the row's
other measures are: a multinomial logistic model on the row's design (history, times,
statics, outcome), the row's number measures (normal score, and hats at knots every half
unit from -2 to 2: :func:`.._multinomial.hats`; 0 where not recorded), which measures the
row records, the patient's last category of the measure, and the labels drawn before it in
the chain (one-hot). With the score alone a category's logit was a line in the number: the
lab that receives a test within a band of turnaround times (a courier's 2-8 hours) took fast
and slow tests too: the right lab on 0.73 of synthetic rows inside the band and 0.51
outside, against all real ones (the test data of ``test_longitudinal_realism``).
covid_testing's patient detection AUC (three splits): 0.738 with the score alone, 0.722
with hinges ``max(0, z - k)`` at the same knots; hats span the same lines (0.678 with
hats here and in the patient-level copula's chain, and the first values' spread).
A label's normal score for the history is then the patient's position inside the drawn
category's step, as in fitting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from synthmed.generators._multinomial import (
    KNOTS,
    MIN_CHAIN_ROWS,
    ROWS_PER_CLASS,
    draw_classes,
    fit_multinomial,
    hats,
    one_hot,
)
from synthmed.generators.longitudinal._model import Marginal

__all__ = ["MAX_LABEL_LEVELS", "MAX_LABEL_ROWS", "RowLabels", "label_measures"]

#: rows a label's model is fitted on at most (a random subset beyond)
MAX_LABEL_ROWS = 200_000
#: categories a label may have to be drawn by the chain (beyond: free text, codes of
#: thousands of items, drawn with the other measures' normal scores as before)
MAX_LABEL_LEVELS = 200


def label_measures(codes: list[list[Any] | None], marginals: list[Marginal]) -> np.ndarray:
    """Indices of the measures held as text labels with 2 to :data:`MAX_LABEL_LEVELS`
    categories (and :data:`ROWS_PER_CLASS` recorded rows a category); none below
    :data:`MIN_CHAIN_ROWS` recorded values in all, or where the label is the only measure.
    A lone label has nothing in its row to link to, and the value heads keep a patient's
    label as well: on three unseen cohorts of one yes/no measure (HSAUR's respiratory,
    schizophrenia2; MASS::bacteria; six splits x three seeds) the chain moved the DCR share
    by up to +0.023 and the detection AUC both ways."""
    if len(codes) < 2 or sum(m.count for m in marginals) < MIN_CHAIN_ROWS:
        return np.zeros(0, dtype=np.int64)
    return np.array([i for i, (c, m) in enumerate(zip(codes, marginals, strict=True))
                     if c is not None and m.discrete
                     and 2 <= len(m.values)
                     <= min(MAX_LABEL_LEVELS, m.count // ROWS_PER_CLASS)], dtype=np.int64)


@dataclass
class RowLabels:
    """A chain of multinomial logistic models, one per label measure; each label's last class
    is "not recorded at this row"."""

    measures: np.ndarray  # indices of the label measures, in chain order
    levels: list[int]  # categories of each (codes 0..levels-1; code ``levels``: blank)
    coef: list[np.ndarray]  # per label: (inputs + 1) x (levels + 1), intercept last
    #: knots of the number measures' hats (empty: models saved before them, scores only)
    knots: tuple[float, ...] = KNOTS

    def _inputs(self, xs: np.ndarray, scores: np.ndarray, observed: np.ndarray,
                last_codes: np.ndarray, codes: np.ndarray, upto: int) -> np.ndarray:
        """The inputs of the chain's link ``upto``: the design, the number measures' scores
        and their hats (0 where not recorded) and recorded flags, the label's last
        category and the labels before it (one-hot, zeros where blank)."""
        numbers = np.setdiff1d(np.arange(scores.shape[1]), self.measures)
        seen = observed[:, numbers]
        levels = self.levels
        z = np.where(seen, scores[:, numbers], 0.0)
        parts = [xs, z, hats(z, seen, self.knots), seen.astype(float),
                 one_hot(last_codes[:, upto], levels[upto])]
        parts += [one_hot(codes[:, i], levels[i]) for i in range(upto)]
        return np.hstack(parts)

    @classmethod
    def fit(cls, xs: np.ndarray, z: np.ndarray, x_all: np.ndarray, last: np.ndarray,
            seen: np.ndarray, marginals: list[Marginal], labels: np.ndarray,
            entities: np.ndarray, ridge: float, rng: np.random.Generator) -> RowLabels | None:
        """``xs``: the value heads' standardised inputs; ``z``: the rows' normal scores (NaN
        where not recorded); ``x_all``: the rows' codes and numbers; ``last``: the history's
        last scores (:meth:`History.inputs`' first block) and ``seen`` whether each measure was
        recorded before; ``entities``: each row's patient (0..n-1). None where there is no
        label."""
        if not len(labels):
            return None
        observed = np.isfinite(z)
        levels = [len(marginals[j].values) for j in labels]
        codes = np.where(observed[:, labels], x_all[:, labels], np.array(levels, float))
        last_codes = cls.last_codes(last, seen, marginals, labels)
        rows = np.arange(len(z))
        if len(rows) > MAX_LABEL_ROWS:
            rows = np.sort(rng.choice(rows, MAX_LABEL_ROWS, replace=False))
        chain = cls(labels, levels, [])
        for i in range(len(labels)):
            x = chain._inputs(xs[rows], z[rows], observed[rows], last_codes[rows], codes[rows],
                              i)
            y = codes[rows, i].astype(np.int64)
            chain.coef.append(fit_multinomial(x, y, levels[i] + 1, entities[rows], ridge))
        return chain

    @staticmethod
    def last_codes(last: np.ndarray, seen: np.ndarray, marginals: list[Marginal],
                   labels: np.ndarray) -> np.ndarray:
        """Rows x labels: the code the history's last score stands for (NaN where the
        measure was not recorded before)."""
        out = np.full((len(last), len(labels)), np.nan)
        for i, j in enumerate(labels):
            out[:, i] = np.where(seen[:, j], marginals[j].inverse(last[:, j]), np.nan)
        return out

    def sample(self, xs: np.ndarray, scores: np.ndarray, observed: np.ndarray,
               last_codes: np.ndarray, rng: np.random.Generator,
               must_record: np.ndarray | None = None) -> np.ndarray:
        """Rows x labels: a code per label (``levels``: not recorded), drawn link by link.
        ``must_record``: rows that record no number; the chain's last link then does not
        leave them empty where the earlier ones did."""
        codes = np.full((len(xs), len(self.measures)), np.nan)
        for i in range(len(self.measures)):
            x = self._inputs(xs, scores, observed, last_codes, codes, i)
            barred = None
            if must_record is not None and i == len(self.measures) - 1:
                barred = np.zeros((len(x), self.levels[i] + 1), dtype=bool)
                barred[:, -1] = must_record & (codes[:, :i] >= np.array(self.levels[:i])).all(
                    axis=1)
            codes[:, i] = draw_classes(x @ self.coef[i][:-1] + self.coef[i][-1], rng, barred)
        return codes

    def scores(self, codes: np.ndarray, marginals: list[Marginal],
               position: np.ndarray) -> np.ndarray:
        """Rows x labels: the normal score at ``position`` (0-1, per row and label) inside
        each code's step of its marginal, as fitting placed each patient's values."""
        out = np.zeros(codes.shape)
        for i, j in enumerate(self.measures):
            marg = marginals[j]
            idx = np.minimum(codes[:, i], self.levels[i] - 1).astype(np.int64)
            upper = marg.cdf[idx]
            lower = np.where(idx > 0, marg.cdf[np.maximum(idx - 1, 0)], 0.0)
            u = lower + position[:, i] * (upper - lower)
            out[:, i] = stats.norm.ppf(np.clip(u, marg.tail, 1 - marg.tail))
        return out

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return ({"measures": self.measures.tolist(), "levels": list(self.levels),
                 "knots": list(self.knots)},
                {f"labels{i}_coef": c for i, c in enumerate(self.coef)})

    @classmethod
    def from_state(cls, meta: Mapping[str, Any] | None,
                   arrays: Mapping[str, np.ndarray]) -> RowLabels | None:
        if not meta:
            return None
        measures = np.asarray(meta["measures"], dtype=np.int64)
        return cls(measures, [int(v) for v in meta["levels"]],
                   [np.asarray(arrays[f"labels{i}_coef"], float)
                    for i in range(len(measures))],
                   tuple(float(k) for k in meta.get("knots", ())))

