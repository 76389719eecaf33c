"""Time to a trajectory's next row, steered by the patient's drawn number of rows and span.

The patient-level model draws each patient's number of rows and time span together with the
static attributes and the outcome (a patient followed for 20 years has many visits). Gaps
drawn without knowing how many rows and how much time are left ended wherever their sum
fell: on nafld2 synthetic patients were followed too long (90th percentile of the span
8,900 days against 7,500) and rows and span were more tightly linked than in real patients
(Spearman 0.85 against 0.74). So the gap model also sees how many rows are
left and the span left per row; where gaps do not depend on them (hourly vitals, one gap a
row), it learns to ignore them.

Where the drawn span is where the trajectory ends (the gaps are stretched to it), a row
before the last is drawn before the span ends: drawn freely, a patient's early gaps used up
the span and the rows left came a day apart (the whole nafld2 export: 20 % of synthetic
patients' last gaps were a day or less, 0.8 % of real ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from synthmed.generators.longitudinal._model import LinearHead, Marginal

__all__ = ["GapModel", "gap_inputs"]


def gap_inputs(offset: np.ndarray, span: np.ndarray, rows_left: np.ndarray) -> np.ndarray:
    """Inputs of the gap to the next row: log of the rows left (that row included) and
    ``log1p`` of the span left per row left (0 once the span is used up)."""
    rows_left = np.maximum(rows_left, 1).astype(float)
    per_row = np.maximum(span - offset, 0.0) / rows_left
    return np.column_stack([np.log(rows_left), np.log1p(per_row)])


@dataclass
class GapModel:
    """Gaussian regression of the gap's normal score (through its empirical marginal)."""

    marginal: Marginal
    head: LinearHead
    x_mean: np.ndarray
    x_sd: np.ndarray
    min_gap: float  # the smallest positive training gap: no two rows share a time

    @classmethod
    def fit(cls, x: np.ndarray, gap: np.ndarray, ridge: float,
            rng: np.random.Generator) -> GapModel:
        """``x``: inputs of the rows after a patient's first, ``gap``: time since the previous
        row (rows with a zero gap are left out)."""
        keep = gap > 0
        positive = gap[keep] if keep.any() else np.array([1.0])
        marginal = Marginal.fit(positive)
        x = x[keep] if keep.any() else np.zeros((1, x.shape[1]))
        x_mean = x.mean(axis=0)
        x_sd = np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
        z = marginal.forward(positive, rng)[:, None]
        head = LinearHead.fit((x - x_mean) / x_sd, z, ridge)
        return cls(marginal, head, x_mean, x_sd, float(positive.min()))

    def sample(self, x: np.ndarray, rng: np.random.Generator,
               below: np.ndarray | None = None) -> np.ndarray:
        """A gap per row of inputs ``x``; ``below``: where finite and positive, the gap is
        drawn from the model's normal truncated to gaps shorter than it."""
        xs = (x - self.x_mean) / self.x_sd
        if below is None:
            z = self.head.sample(xs, rng)[:, 0]
        else:
            mean, sd = self.head.predict(xs)[:, 0], float(self.head.chol[0, 0])
            top = np.ones(len(x))
            capped = np.isfinite(below) & (below > 0)
            top[capped] = special.ndtr(
                (self.marginal.forward(below[capped], rng) - mean[capped]) / sd)
            u = np.clip(rng.random(len(x)) * top, 1e-12, 1 - 1e-12)
            z = mean + sd * special.ndtri(u)
        return np.maximum(self.marginal.inverse(z), self.min_gap)

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        marg_meta, marg_arrays = self.marginal.to_state()
        arrays = {"coef": self.head.coef, "chol": self.head.chol, "x_mean": self.x_mean,
                  "x_sd": self.x_sd, **{f"marginal_{k}": v for k, v in marg_arrays.items()}}
        return {"marginal": marg_meta, "min_gap": self.min_gap}, arrays

    @classmethod
    def from_state(cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> GapModel:
        marginal = Marginal.from_state(meta["marginal"], {
            "values": arrays["marginal_values"], "cdf": arrays["marginal_cdf"]})
        head = LinearHead(np.asarray(arrays["coef"], float), np.asarray(arrays["chol"], float))
        return cls(marginal, head, np.asarray(arrays["x_mean"], float),
                   np.asarray(arrays["x_sd"], float), float(meta["min_gap"]))
