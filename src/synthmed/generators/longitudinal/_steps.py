"""How a measure's later values move: in normal scores, or by steps on the value's own scale.

The sequence model works in normal scores (:class:`._model.Marginal`): every drawn value then
follows the measure's marginal, skewed or bounded, and this is what keeps vital signs and labs
realistic. It fails a measure whose values form separate groups with nothing between (rats
on two diets, ~250 g against ~500 g): the marginal's interpolation cell that spans the empty
band is a thin slice of normal scores, so a small step there jumps from one group to the
other mid-trajectory. On nlme::BodyWeight synthetic rats' weights wandered by 100 g or more
where real ones moved by 20-50 g (next-step forecast error 1.07 training standard deviations,
0.14 when trained on real rats); on a simulated two-diet cohort 24% of the animals jumped by
more than 100 g within a week.

So for each continuous measure both are fitted, and later values move by *steps* where the
real later values are clearly more likely under them (:data:`MIN_EVIDENCE_Z`), else in normal
scores. A step is the change from the patient's last value on
:meth:`._model.Marginal.scaled` (standardised values, logs for positive ones), so that the
ridge penalty shrinks towards "no change", not towards the population mean. The two
likelihoods are of the same values (each density times its transform's slope,
:meth:`._model.Marginal.log_slope`), so they compare fairly. A measure's first value always
comes from normal scores (it is spread over the population); discrete measures stay in
normal scores. The history (:mod:`._history`) keeps each measure in its chosen space.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from synthmed.generators.longitudinal._model import LinearHead, Marginal

__all__ = ["choose_steps", "kept_values", "later_targets", "step_values"]


def kept_values(z: np.ndarray, scaled: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """What the history keeps of each measure: scaled values where it moves by ``steps``,
    normal scores elsewhere."""
    return np.where(steps, scaled, z)


def later_targets(kept: np.ndarray, last: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """The follow-up head's targets: the step from ``last`` (the patient's last kept value)
    where the measure moves by steps, else the kept value itself."""
    return np.where(steps, kept - last, kept)


def step_values(marginals: list[Marginal], drawn: np.ndarray, later: np.ndarray,
                last: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A row's values (numbers, category codes) and what the history keeps of them.

    ``drawn``: the value heads' draw (normal scores of first values, ``later`` False, and
    :func:`later_targets` of later ones); ``last``: the patients' last kept values.
    """
    values = np.empty_like(drawn)
    kept = drawn.copy()
    for i, marg in enumerate(marginals):
        if not steps[i]:
            values[:, i] = marg.inverse(drawn[:, i])
            continue
        values[:, i] = np.where(later[:, i], marg.unscaled(last[:, i] + drawn[:, i]),
                                marg.inverse(drawn[:, i]))
        kept[:, i] = marg.scaled(values[:, i])
    return values, kept


#: steps replace normal scores only where the real later values are more likely under them
#: by this many standard errors (a paired test over patients, Vuong's): normal scores keep
#: every value on the measure's marginal, so they stay unless the evidence is clear
MIN_EVIDENCE_Z = 2.0


def _log_likelihood(head: LinearHead, xs: np.ndarray, target: np.ndarray,
                    log_slope: np.ndarray) -> np.ndarray:
    """Per row and measure: the log-likelihood of the real values under ``head``'s Gaussian
    (each measure's marginal variance), in value units via ``log_slope``."""
    mean = xs @ head.coef[:-1] + head.coef[-1]
    sd = np.sqrt(np.einsum("ij,ij->i", head.chol, head.chol))
    resid = (target - mean) / sd
    return -0.5 * resid**2 - np.log(sd) + log_slope


def choose_steps(marginals: list[Marginal], x: np.ndarray, later_rows: np.ndarray,
                 patients: np.ndarray,
                 fit: Callable[[np.ndarray], tuple[LinearHead, np.ndarray, np.ndarray]],
                 ) -> np.ndarray:
    """Per measure, whether its later values move by steps (True) or in normal scores.

    ``x``: the measures' values; ``later_rows``: the rows that hold a later value of each
    measure (observed, seen before); ``patients``: each row's patient code (0..n-1);
    ``fit(steps)`` fits the sequence model with that choice and returns its follow-up head,
    its standardised inputs and the head's targets. A patient's rows are not independent,
    so the evidence is counted per patient: the sum of their log-likelihood differences.
    """
    continuous = np.array([not m.discrete for m in marginals])
    if not continuous.any() or not later_rows.any():
        return np.zeros(len(marginals), dtype=bool)
    per_row = []
    for steps in (np.zeros_like(continuous), continuous):
        head, xs, target = fit(steps)
        slope = np.zeros_like(x)
        for j, marg in enumerate(marginals):
            if continuous[j]:
                rows = later_rows[:, j]
                slope[rows, j] = marg.log_slope(x[rows, j], scaled=bool(steps[j]))
        per_row.append(_log_likelihood(head, xs, target, slope))
    gain = np.where(later_rows, per_row[1] - per_row[0], 0.0)
    choose = np.zeros(len(marginals), dtype=bool)
    for i in np.flatnonzero(continuous):
        who = np.unique(patients[later_rows[:, i]])
        if len(who) < 2:
            continue
        per_patient = np.bincount(patients, weights=gain[:, i])[who]
        se = per_patient.std(ddof=1) / np.sqrt(len(who))
        choose[i] = per_patient.mean() > MIN_EVIDENCE_Z * se
    return choose
