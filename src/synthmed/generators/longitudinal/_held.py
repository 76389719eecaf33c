"""Measures a patient holds at one value from row to row: a maintenance dose, a setting.

In nlme::Phenobarb a neonate's dose after the loading dose is the same at 87% of later doses
(3.5 every 12 h until a change). A continuous step model puts a little noise on each one, so
26% of synthetic doses repeated (by rounding alone), and a forecaster trained on synthetic
neonates learnt that doses wander.

So a continuous measure whose later values equal the patient's previous value on at least
:data:`HELD_SHARE` of rows gets a logistic model of "held" from the same inputs as its value
heads; a held value is the previous one exactly, and the value heads learn the changes only
(Phenobarb, six splits x three seeds: 83% of synthetic doses held; patient detection AUC
0.536 -> 0.455, holdout 0.388; next-step forecast error 0.845 -> 0.771 training standard
deviations, 0.624 when trained on real neonates). Categories and yes/no measures are not
held: their normal scores already keep a patient's value (one position per patient), and
holding them too raised pbcseq's detection AUC 0.585 -> 0.625. Labs and vitals repeat on at
most a third of rows in the bundled records (rounding: creatinine to 0.1 mg/dL) and keep
their continuous model alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from synthmed.generators._multinomial import SURE_LOGIT

__all__ = ["HELD_SHARE", "HeldValues", "held_measures", "repeated_rows"]

#: a continuous measure is held where its later values repeat the previous one this often
HELD_SHARE = 0.5
#: ...on at least this many rows
MIN_HELD_ROWS = 20


def repeated_rows(x: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Rows x measures: the value equals the patient's previous recorded value of the
    measure (False where either is missing). ``codes``: each row's patient, rows of a patient
    together in time order."""
    out = np.zeros(x.shape, dtype=bool)
    for j in range(x.shape[1]):
        filled = pd.Series(x[:, j]).groupby(codes).ffill()
        previous = filled.groupby(codes).shift(1).to_numpy(dtype=float)
        out[:, j] = x[:, j] == previous  # NaN compares unequal
    return out


def held_measures(repeated: np.ndarray, later_rows: np.ndarray,
                  continuous: np.ndarray) -> np.ndarray:
    """Indices of the continuous measures whose later values (``later_rows``) repeat the
    previous one (``repeated``) on at least :data:`HELD_SHARE` of at least
    :data:`MIN_HELD_ROWS` rows."""
    count = later_rows.sum(axis=0)
    share = (repeated & later_rows).sum(axis=0) / np.maximum(count, 1)
    return np.flatnonzero(continuous & (count >= MIN_HELD_ROWS) & (share >= HELD_SHARE))


@dataclass
class HeldValues:
    """A logistic model of "the later value repeats the previous one" per held measure."""

    measures: np.ndarray  # indices of the held measures
    coef: np.ndarray  # (p + 1) x len(measures): inputs, intercept last

    @classmethod
    def fit(cls, xs: np.ndarray, repeated: np.ndarray, later_rows: np.ndarray,
            held: np.ndarray, ridge: float) -> HeldValues | None:
        """``xs``: the value heads' standardised inputs; ``repeated``: :func:`repeated_rows`;
        ``later_rows``: rows with a later value of each measure; ``held``:
        :func:`held_measures`. None where no measure is held."""
        from sklearn.linear_model import LogisticRegression

        if not len(held):
            return None
        coef = np.zeros((xs.shape[1] + 1, len(held)))
        for i, j in enumerate(held):
            rows = later_rows[:, j]
            y = repeated[rows, j]
            if y.all():
                coef[-1, i] = SURE_LOGIT
                continue
            model = LogisticRegression(C=1.0 / ridge, max_iter=500).fit(xs[rows], y)
            coef[:-1, i], coef[-1, i] = model.coef_[0], model.intercept_[0]
        return cls(held, coef)

    def sample(self, xs: np.ndarray, later: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Rows x measures: the value is held (only held measures, only later values)."""
        out = np.zeros(later.shape, dtype=bool)
        proba = special.expit(xs @ self.coef[:-1] + self.coef[-1])
        out[:, self.measures] = (rng.random(proba.shape) < proba) & later[:, self.measures]
        return out

    def to_meta(self) -> dict[str, Any]:
        return {"measures": self.measures.tolist(), "coef": self.coef.tolist()}

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any] | None) -> HeldValues | None:
        if not meta:
            return None
        return cls(np.asarray(meta["measures"], dtype=np.int64),
                   np.asarray(meta["coef"], dtype=float))
