"""What the step models know of a patient's earlier rows.

The previous row alone (its last observed values and which measures it recorded) makes a
first-order Markov chain. Real patients keep a level of their own for years: on nafld2 the
patient's mean cholesterol varies 15.4 (train standard deviation between patients) against
5.7 within a patient. An autoregression on the last value shrinks every step towards the
population mean, so synthetic patients drifted instead (between 11.6, within 8.5) and a
classifier told them apart from their summaries. The same holds for missingness: some
patients have their blood pressure taken at every visit, others never.

So each measure also contributes the mean of the patient's earlier observed values and the
share of earlier rows that recorded it: with them a linear step model can keep a patient's
level and recording habit (a random-effect model, learnt as a regression on the past).

Fitting and sampling go through the same :class:`History`, one step at a time, so the
training inputs are exactly what the sampler will see.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["History", "history_inputs", "own_inputs"]


@dataclass
class History:
    """Running per-patient state of ``k`` measures for ``n`` patients (normal scores)."""

    last: np.ndarray  # n x k: last observed value (0 before any)
    observed_before: np.ndarray  # n x k: recorded at the previous row
    total: np.ndarray  # n x k: sum of observed values
    count: np.ndarray  # n x k: number of rows that recorded the measure
    rows: np.ndarray  # n: rows so far

    @classmethod
    def empty(cls, n: int, k: int) -> History:
        return cls(np.zeros((n, k)), np.zeros((n, k)), np.zeros((n, k)), np.zeros((n, k)),
                   np.zeros(n))

    def inputs(self, idx: np.ndarray) -> np.ndarray:
        """Inputs of the patients ``idx``: last value, recorded at the previous row, mean of
        earlier values, share of earlier rows that recorded the measure (4 k columns)."""
        count = self.count[idx]
        mean = np.where(count > 0, self.total[idx] / np.maximum(count, 1), 0.0)
        rate = count / np.maximum(self.rows[idx], 1)[:, None]
        return np.hstack([self.last[idx], self.observed_before[idx], mean, rate])

    def seen(self, idx: np.ndarray) -> np.ndarray:
        """Which measures the patients ``idx`` have had recorded before (n x k booleans)."""
        return self.count[idx] > 0

    def update(self, idx: np.ndarray, z: np.ndarray, observed: np.ndarray) -> None:
        """Record one row of the patients ``idx`` (``z`` is ignored where not observed)."""
        values = np.where(observed, z, 0.0)
        self.last[idx] = np.where(observed, z, self.last[idx])
        self.observed_before[idx] = observed
        self.total[idx] += values
        self.count[idx] += observed
        self.rows[idx] += 1


def own_inputs(k: int) -> list[list[int]]:
    """Per measure, the positions of its own last value and earlier mean among the
    :meth:`History.inputs` of ``k`` measures (which come first in the step models' inputs)."""
    return [[j, 2 * k + j] for j in range(k)]


def history_inputs(z: np.ndarray, codes: np.ndarray,
                   step: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`History.inputs` and :meth:`History.seen` of every training row.

    ``z`` holds normal scores with NaN where not recorded; ``codes`` the entity of each row
    (0..n-1), ``step`` its position in the entity's trajectory.
    """
    observed = np.isfinite(z)
    history = History.empty(int(codes.max()) + 1 if len(codes) else 0, z.shape[1])
    inputs = np.zeros((len(z), 4 * z.shape[1]))
    seen = np.zeros(z.shape, dtype=bool)
    for j in range(int(step.max()) + 1 if len(step) else 0):
        rows = np.flatnonzero(step == j)
        inputs[rows] = history.inputs(codes[rows])
        seen[rows] = history.seen(codes[rows])
        history.update(codes[rows], z[rows], observed[rows])
    return inputs, seen
