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

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["COVERAGE", "MEAN_GAP", "N_STEPS", "SPAN", "T0", "WINDOW", "ExtentRanks", "drawn_span",
           "follow_up_coverage", "steadier_extent", "time_bounds"]

N_STEPS, T0, SPAN, MEAN_GAP = "__n_steps", "__t0", "__span", "__mean_gap"
COVERAGE = "__coverage"
#: where follow-up bounds the times: the window from the first time to its end, drawn beside
#: the first time, which it then sets (a calendar period bounds both: see the generator)
WINDOW = "__window"


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


def drawn_span(can: pd.DataFrame, extent: str, lengths: np.ndarray, window: np.ndarray,
               rng: np.random.Generator) -> np.ndarray:
    """Each drawn patient's span, from the drawn ``extent`` column (:func:`steadier_extent`,
    or the coverage of the follow-up ``window``) and number of rows (0 for one row).

    A patient of several rows whose extent was drawn missing or (a span) zero, as one-row
    patients' are, borrows the extent of another drawn patient of the nearest number of
    rows: given the median, 3 % of the whole nafld2 export's synthetic patients shared one
    span; given 0, 4.4 % of them spanned under 30 days against 0.5 % of real ones.
    """
    values = np.maximum(can[extent].to_numpy(dtype=float), 0.0)
    several = lengths > 1
    drawn = np.isfinite(values) & several
    if extent == SPAN:
        drawn &= values > 0
    elif extent == COVERAGE:
        drawn &= np.isfinite(window)
    values = _borrowed(values, drawn, several & ~drawn, lengths, rng)
    if extent == SPAN:
        span = values
    elif extent == COVERAGE:
        span = np.minimum(values, 1.0) * np.where(np.isfinite(window), window, np.nan)
    else:
        span = values * (lengths - 1)
    return np.where(several, np.nan_to_num(span), 0.0)


def _borrowed(values: np.ndarray, drawn: np.ndarray, wanting: np.ndarray, lengths: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
    """``values`` with each ``wanting`` entry taken from a ``drawn`` one (at random among
    those of the nearest length); no draw from ``rng`` when none is wanting."""
    if not wanting.any() or not drawn.any():
        return values
    donors = np.flatnonzero(drawn)
    donors = donors[np.argsort(lengths[donors], kind="stable")]
    sorted_lengths = lengths[donors]
    need = lengths[wanting]
    lo = np.searchsorted(sorted_lengths, need, side="left")
    hi = np.searchsorted(sorted_lengths, need, side="right")
    # no donor of that length: the nearer of the neighbours below and above
    below, above = np.clip(lo - 1, 0, len(donors) - 1), np.clip(lo, 0, len(donors) - 1)
    nearest = np.where(np.abs(sorted_lengths[below] - need) <= np.abs(sorted_lengths[above]
                                                                      - need), below, above)
    pick = np.where(hi > lo, lo + (rng.random(len(need)) * (hi - lo)).astype(int), nearest)
    out = values.copy()
    out[wanting] = values[donors[np.minimum(pick, len(donors) - 1)]]
    return out


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


#: a group of sequence lengths holds at least this many patients with a known extent
RANK_GROUP_PATIENTS = 30
#: a group's quantile function is kept at about one knot per this many patients
PATIENTS_PER_KNOT = 5
#: and at most this many intervals
MAX_KNOTS = 20


class ExtentRanks:
    """A patient's extent as its rank among patients with about as many rows, and back.

    The patient-level model draws the number of rows and the extent together, but a Gaussian
    copula holds their link as one correlation. On nafld2 a patient with two labs has its
    second a median 63% of the way to the end of follow-up, one with twenty 98%; drawn by the
    copula, two-lab patients covered 84% (rank correlation 0.44 against 0.49 real), and the
    rows and span together told synthetic patients apart at AUC 0.56. So the model learns the
    extent's conditional rank given the number of rows (a randomised probability integral
    transform within groups of lengths holding ``RANK_GROUP_PATIENTS`` patients or more,
    uniform whatever the length), and each drawn rank is read back through the group's
    quantile function at the drawn length. The quantile function is kept at knots about
    ``PATIENTS_PER_KNOT`` patients apart and interpolated between them, so a drawn extent does
    not land on a training patient's own.
    """

    def __init__(self, upper: np.ndarray, knots: list[np.ndarray]) -> None:
        self.upper = np.asarray(upper, dtype=float)  # each group's largest length
        self.knots = [np.asarray(k, dtype=float) for k in knots]

    @classmethod
    def fit(cls, extent: np.ndarray, lengths: np.ndarray) -> ExtentRanks | None:
        """Groups of lengths and their quantile knots; None with too few known extents to
        form two groups (the extent is then modelled as it is)."""
        known = np.isfinite(extent)
        counts = pd.Series(lengths[known]).value_counts().sort_index()
        upper, size = [], 0
        for length, count in counts.items():
            size += int(count)
            if size >= RANK_GROUP_PATIENTS:
                upper.append(float(length))
                size = 0
        if size and upper:  # a short tail joins the last full group
            upper[-1] = float(counts.index[-1])
        if len(upper) < 2:
            return None
        group = np.searchsorted(upper, lengths[known])
        values = extent[known]
        knots = []
        for g in range(len(upper)):
            mine = np.sort(values[group == g])
            intervals = int(np.clip(len(mine) // PATIENTS_PER_KNOT, 1, MAX_KNOTS))
            knots.append(np.quantile(mine, np.linspace(0.0, 1.0, intervals + 1)))
        return cls(np.asarray(upper), knots)

    def _groups(self, lengths: np.ndarray) -> np.ndarray:
        return np.minimum(np.searchsorted(self.upper, lengths), len(self.upper) - 1)

    def forward(self, extent: np.ndarray, lengths: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
        """Each known extent's rank in (0, 1) among its group's (ties broken at random)."""
        out = np.full(len(extent), np.nan)
        known = np.isfinite(extent)
        group = self._groups(lengths)
        for g in range(len(self.upper)):
            rows = np.flatnonzero(known & (group == g))
            mine = np.sort(extent[rows])
            below = np.searchsorted(mine, extent[rows], side="left")
            tied = np.searchsorted(mine, extent[rows], side="right") - below
            out[rows] = (below + rng.random(len(rows)) * tied) / max(len(mine), 1)
        return np.clip(out, 1e-6, 1 - 1e-6)

    def inverse(self, rank: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The extent at each drawn rank, through the drawn length's group (NaN kept)."""
        rank = np.asarray(rank, dtype=float)
        out = np.full(len(rank), np.nan)
        group = self._groups(lengths)
        for g, knots in enumerate(self.knots):
            rows = np.flatnonzero(np.isfinite(rank) & (group == g))
            grid = np.linspace(0.0, 1.0, len(knots))
            out[rows] = np.interp(np.clip(rank[rows], 0.0, 1.0), grid, knots)
        return out

    def to_meta(self) -> dict[str, Any]:
        return {"upper": self.upper.tolist(), "knots": [k.tolist() for k in self.knots]}

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any] | None) -> ExtentRanks | None:
        return None if not meta else cls(np.asarray(meta["upper"]), list(meta["knots"]))
