"""Names of the patient-level sequence summaries, and which one says how long a trajectory lasts.

The static generator learns one row per patient: the static columns plus these summaries
(``__`` names, so they cannot clash with data columns). They live here, not in the generator,
because both fitting and assembling long records (:mod:`._records`) name them, and saved
models store them (the patient-level schema, ``time_extent``): they must not change.
:func:`drawn_span` turns a drawn extent back into the span that steers the gaps.

Where a static column ends every patient's follow-up (:func:`time_bounds`), the extent is the
share of the follow-up window (first row to end of follow-up) that the rows cover
(``__coverage``, :func:`follow_up_coverage`). On nafld2 real rows cover a median 95% of it;
a span or mean gap drawn beside the end of follow-up by a Gaussian copula, which cannot hold
"span = window less a little", covered 83%, and the span was the summary that told synthetic
patients from real ones best (AUC 0.63 alone).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["COVERAGE", "MEAN_GAP", "N_STEPS", "SPAN", "T0", "drawn_span",
           "follow_up_coverage", "steadier_extent", "time_bounds"]

N_STEPS, T0, SPAN, MEAN_GAP = "__n_steps", "__t0", "__span", "__mean_gap"
COVERAGE = "__coverage"


def steadier_extent(span: np.ndarray, lengths: np.ndarray,
                    coverage: np.ndarray | None = None) -> str:
    """The patient-level column that describes how long a trajectory lasts: its span, the
    mean time between its rows, or (where follow-up bounds the times) the share of the
    follow-up window it covers, whichever varies least between patients (log scale).

    The patient-level model draws it together with the number of rows, and the span follows.
    A tabular model keeps a loose link loosely: drawing the span of hourly vitals (mean gap 1
    hour for nearly every stay) gave stays too long or too short for their rows, and drawing
    the mean gap of nafld2's irregular labs gave spans that ended years before follow-up did
    (its coverage varies least: sd of the logs 0.61, against 0.89 for the gap). pbcseq's
    visits are yearly (gap 0.29 against coverage 0.62-0.72): drawn as a coverage, its spans
    lost their tie to the number of rows (Spearman 0.78 against 0.98 real), which alone told
    synthetic patients apart at AUC 0.69. The steadiest quantity is the one the data fixes.
    """
    several = (lengths > 1) & (span > 0)
    if several.sum() < 2:
        return SPAN
    log_span = np.log(span[several])
    spreads = {SPAN: log_span.std(), MEAN_GAP: (log_span - np.log(lengths[several] - 1)).std()}
    if coverage is not None:
        share = coverage[several]
        share = share[np.isfinite(share) & (share > 0)]
        if len(share) >= 2:
            spreads[COVERAGE] = np.log(share).std()
    return min(spreads, key=lambda k: spreads[k])


def follow_up_coverage(span: np.ndarray, window: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Share of the follow-up ``window`` (first row to end of follow-up) that each patient's
    rows span, in [0, 1]; undefined (NaN) for one row or no window."""
    known = (lengths > 1) & np.isfinite(window) & (window > 0)
    return np.where(known, np.clip(span / np.where(known, window, 1.0), 0.0, 1.0), np.nan)


def drawn_span(can: pd.DataFrame, extent: str, lengths: np.ndarray,
               window: np.ndarray) -> np.ndarray:
    """Each drawn patient's span, from the drawn ``extent`` column (:func:`steadier_extent`,
    or the coverage of the follow-up ``window``) and number of rows; a mean gap or coverage
    left undrawn (one row, no window) takes the median of the others'."""
    values = np.maximum(can[extent].to_numpy(dtype=float), 0.0)
    if extent == SPAN:
        return np.nan_to_num(values)
    if extent == COVERAGE:
        drawn = np.isfinite(values) & np.isfinite(window) & (lengths > 1)
        span = np.where(drawn, np.minimum(values, 1.0) * np.where(drawn, window, 0.0), np.nan)
        fallback = float(np.median(span[drawn])) if drawn.any() else 0.0
        return np.where(drawn, span, fallback)
    drawn = np.isfinite(values) & (lengths > 1)
    fallback = float(np.median(values[drawn])) if drawn.any() else 0.0
    return np.where(drawn, values, fallback) * (lengths - 1)


def time_bounds(static_tbl: pd.DataFrame, numeric: list[str], times: np.ndarray,
                codes: np.ndarray) -> list[str]:
    """Static numeric columns that bound every training patient's times from above: an end
    of follow-up (``futime``: no lab after a patient's death or censoring).

    A column qualifies when every recorded time is at or below the patient's value and the
    column can bind (its smallest value lies below the largest time; a weight of 225-569 g
    beside weeks 1-64 bounds nothing). The sampler ends each synthetic patient's trajectory
    there; drawn freely, over 10% of synthetic nafld2 patients had labs past their follow-up
    (up to 1,367 days; 36% in the regression test), which a classifier told from real
    patients at AUC 0.84 from that alone.
    """
    found: list[str] = []
    finite_times = np.isfinite(times)
    if not finite_times.any():
        return found
    latest = float(times[finite_times].max())
    for name in numeric:
        bound = pd.to_numeric(static_tbl[name], errors="coerce").to_numpy(dtype=float)
        known = np.isfinite(bound)
        if known.sum() < 2 or float(bound[known].min()) >= latest:
            continue
        row_bound = bound[codes]
        rows = finite_times & np.isfinite(row_bound)
        if rows.any() and bool((times[rows] <= row_bound[rows]).all()):
            found.append(name)
    return found
