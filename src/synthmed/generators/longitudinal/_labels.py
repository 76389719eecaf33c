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
statics, outcome), the row's number measures (normal score, 0 where not recorded), which
measures the row records, the patient's last category of the measure, and the labels drawn
before it in the chain (one-hot). Its normal score for the history is then the patient's
position inside the drawn category's step, as in fitting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
import warnings

import numpy as np
from scipy import special, stats

from synthmed.generators.longitudinal._model import SURE_LOGIT, Marginal

__all__ = ["MAX_LABEL_LEVELS", "MAX_LABEL_ROWS", "RowLabels", "label_measures"]

#: rows a label's model is fitted on at most (a random subset beyond)
MAX_LABEL_ROWS = 200_000
#: below this many rows a label's penalty is chosen over five folds of patients (one fifth
#: of a few dozen patients cannot rank penalties), above on one fifth held out
CV_ROWS = 5_000
#: categories a label may have to be drawn by the chain (beyond: free text, codes of
#: thousands of items, drawn with the other measures' normal scores as before)
MAX_LABEL_LEVELS = 200


def label_measures(codes: list[list[Any] | None], marginals: list[Marginal]) -> np.ndarray:
    """Indices of the measures held as text labels with 2 to :data:`MAX_LABEL_LEVELS`
    categories; none where the label is the only measure. A row then has nothing to link it
    to, and the value heads keep a patient's label as well: on three unseen cohorts of one
    yes/no measure (HSAUR's respiratory, schizophrenia2; MASS::bacteria; six splits x three
    seeds) the chain moved the DCR share by up to +0.023 and the detection AUC both ways."""
    if len(codes) < 2:
        return np.zeros(0, dtype=np.int64)
    return np.array([i for i, (c, m) in enumerate(zip(codes, marginals, strict=True))
                     if c is not None and m.discrete
                     and 2 <= len(m.values) <= MAX_LABEL_LEVELS], dtype=np.int64)


def _fitted(x: np.ndarray, y: np.ndarray, entities: np.ndarray, ridge: float) -> Any:
    """A multinomial logistic regression with the penalty of least held-out log-loss,
    refitted on every row: five folds of patients and ``ridge`` x 100 ... / 100 below
    :data:`CV_ROWS` rows, else one fifth held out and ``ridge`` / 1, 10, 100 (a large export
    can afford a weak penalty; a cohort of a few dozen patients cannot: at the value heads'
    penalty its labels followed the training patients, DCR share 0.574 -> 0.621 on
    MASS::bacteria). At the value heads' penalty a category's link to the clinic of its row
    was also shrunk by the other inputs' share: the class a clinic sets came out on 90 % of
    synthetic rows (98 % at a tenth)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    warnings.simplefilter("ignore", ConvergenceWarning)  # the caller's catch_warnings
    small = len(y) < CV_ROWS
    fold = entities * 2654435761 % 5  # fixed folds of patients
    steps = ridge * 10.0 ** (np.arange(2, -3, -1) if small else np.arange(0, -3, -1))
    loss = np.zeros(len(steps))
    for k in range(5 if small else 1):
        held = fold == k
        if not held.any() or len(np.unique(y[~held])) < 2:
            continue
        model = LogisticRegression(max_iter=500, warm_start=True)
        for i, step in enumerate(steps):  # strongest penalty first: each warm-starts the next
            model.set_params(C=1.0 / step).fit(x[~held], y[~held])
            proba = np.full((held.sum(), int(y.max()) + 1), 1e-9)
            proba[:, model.classes_] = model.predict_proba(x[held])
            loss[i] += log_loss(y[held], proba, labels=np.arange(proba.shape[1])) * held.sum()
    return LogisticRegression(C=1.0 / steps[int(np.argmin(loss))], max_iter=500).fit(x, y)


def _one_hot(code: np.ndarray, levels: int) -> np.ndarray:
    """Rows x ``levels``: 1 at each row's code, zeros where the code is NaN."""
    out = np.zeros((len(code), levels))
    ok = np.isfinite(code)
    out[np.flatnonzero(ok), code[ok].astype(np.int64)] = 1.0
    return out


@dataclass
class RowLabels:
    """A chain of multinomial logistic models, one per label measure; each label's last class
    is "not recorded at this row"."""

    measures: np.ndarray  # indices of the label measures, in chain order
    levels: list[int]  # categories of each (codes 0..levels-1; code ``levels``: blank)
    coef: list[np.ndarray]  # per label: (inputs + 1) x (levels + 1), intercept last

    @staticmethod
    def _inputs(xs: np.ndarray, scores: np.ndarray, observed: np.ndarray,
                last_codes: np.ndarray, codes: np.ndarray, labels: np.ndarray,
                levels: list[int], upto: int) -> np.ndarray:
        """The inputs of the chain's link ``upto``: the design, the number measures' scores
        (0 where not recorded) and recorded flags, the label's last category and the labels
        before it (one-hot, zeros where blank)."""
        numbers = np.setdiff1d(np.arange(scores.shape[1]), labels)
        parts = [xs, np.where(observed[:, numbers], scores[:, numbers], 0.0),
                 observed[:, numbers].astype(float),
                 _one_hot(last_codes[:, upto], levels[upto])]
        parts += [_one_hot(np.where(codes[:, i] < levels[i], codes[:, i], np.nan), levels[i])
                  for i in range(upto)]
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
        coef = []
        for i in range(len(labels)):
            x = cls._inputs(xs[rows], z[rows], observed[rows], last_codes[rows], codes[rows],
                            labels, levels, i)
            y = codes[rows, i].astype(np.int64)
            w = np.zeros((x.shape[1] + 1, levels[i] + 1))
            present = np.unique(y)
            w[-1, :] = -SURE_LOGIT  # a class no training row of the label has
            if len(present) == 1:
                w[-1, present[0]] = 0.0
            else:
                with warnings.catch_warnings():
                    model = _fitted(x, y, entities[rows], ridge)
                if len(present) == 2:  # sklearn's one logit for two classes
                    w[:-1, present[1]], w[-1, present[1]] = model.coef_[0], model.intercept_[0]
                    w[-1, present[0]] = 0.0
                else:
                    w[:-1, present], w[-1, present] = model.coef_.T, model.intercept_
            coef.append(w)
        return cls(labels, levels, coef)

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
            x = self._inputs(xs, scores, observed, last_codes, codes, self.measures,
                             self.levels, i)
            proba = special.softmax(x @ self.coef[i][:-1] + self.coef[i][-1], axis=1)
            if must_record is not None and i == len(self.measures) - 1:
                empty = must_record & (codes[:, :i] >= np.array(self.levels[:i])).all(axis=1)
                proba[empty, -1] = 0.0
            cum = np.cumsum(proba, axis=1)
            u = rng.random(len(x))[:, None] * cum[:, -1:]
            codes[:, i] = np.minimum((cum < u).sum(axis=1), self.levels[i])
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
        return ({"measures": self.measures.tolist(), "levels": list(self.levels)},
                {f"labels{i}_coef": c for i, c in enumerate(self.coef)})

    @classmethod
    def from_state(cls, meta: Mapping[str, Any] | None,
                   arrays: Mapping[str, np.ndarray]) -> RowLabels | None:
        if not meta:
            return None
        measures = np.asarray(meta["measures"], dtype=np.int64)
        return cls(measures, [int(v) for v in meta["levels"]],
                   [np.asarray(arrays[f"labels{i}_coef"], float)
                    for i in range(len(measures))])

