"""Full release: only synthetic records, optionally filtered away from real records.

Exact copies of training records are already rejected (and redrawn) by every generator's
``sample``. The optional privacy filter goes further: it rejects records whose distance to the
closest training record (DCR: L1 on the shared :class:`~synthmed.evaluation.context.MixedEncoder`
encoding, where every column weighs at most 1) is below a bound, and draws again until ``n``
records pass. The bound is either absolute (``min_distance``) or a quantile of how close real
records naturally are to train (``dcr_quantile``: of the holdout→train distances, or of the
train leave-one-out distances when no holdout is given).

The filter changes the distribution (it carves holes around real records), so the release keeps
the unfiltered first draw (``Release.unfiltered``) for the report to show what it cost.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from synthmed._random import RandomState, make_rng
from synthmed.evaluation.context import MixedEncoder
from synthmed.exceptions import ParameterError, SynthmedError
from synthmed.generators.base import BaseGenerator
from synthmed.modes._checks import (
    canonical,
    check_frame,
    check_generator,
    check_positive_int,
    check_schema,
)
from synthmed.modes.provenance import Release, make_provenance
from synthmed.schema import TableSchema

__all__ = ["DistanceFilter", "release_full"]

#: the filter draws again at most this many times before giving up
MAX_FILTER_ROUNDS = 20
#: one round draws at most this many times the rows still needed
MAX_OVERDRAW = 20.0
#: give up early when none of this many records (at least) passed the filter
GIVE_UP_AFTER = 1_000


class DistanceFilter:
    """Distance to the closest training record (DCR), on the shared mixed-type encoding.

    Parameters
    ----------
    train : DataFrame
        The training records (the generator's modelled columns).
    schema : TableSchema
        Kinds of those columns.

    Examples
    --------
    >>> from synthmed import load_dataset
    >>> data = load_dataset("pbc")
    >>> names = data.schema.modelled_columns
    >>> f = DistanceFilter(data.frame[names], data.schema.subset(names))
    >>> float(f.dcr(data.frame[names].head(3)).max())
    0.0
    """

    def __init__(self, train: pd.DataFrame, schema: TableSchema) -> None:
        from sklearn.neighbors import NearestNeighbors

        self.schema = schema
        self.encoder = MixedEncoder(schema).fit(canonical(train, schema))
        self._train = self.encoder.transform(canonical(train, schema))
        self._nn = NearestNeighbors(metric="manhattan").fit(self._train)

    def dcr(self, frame: pd.DataFrame) -> np.ndarray:
        """L1 distance of each row of ``frame`` to its closest training record."""
        dist, _ = self._nn.kneighbors(self.encoder.transform(canonical(frame, self.schema)),
                                      n_neighbors=1)
        return dist[:, 0]

    def leave_one_out(self) -> np.ndarray:
        """Each training record's distance to its closest *other* training record."""
        if len(self._train) < 2:
            return np.zeros(len(self._train))
        dist, _ = self._nn.kneighbors(self._train, n_neighbors=2)
        return dist[:, 1]


def release_full(
    generator: BaseGenerator,
    n: int,
    *,
    train: pd.DataFrame,
    schema: TableSchema | None = None,
    holdout: pd.DataFrame | None = None,
    min_distance: float | None = None,
    dcr_quantile: float | None = None,
    random_state: RandomState = 0,
) -> Release:
    """Sample ``n`` fully synthetic records, optionally kept away from real records.

    Parameters
    ----------
    generator : BaseGenerator
        A generator fitted on ``train``; it already rejects exact copies of training records.
    n : int
        Number of records to release.
    train : DataFrame
        The training records (needed by the privacy filter; checked for the modelled columns).
    schema : TableSchema, optional
        Column kinds; the generator's schema when omitted.
    holdout : DataFrame, optional
        Real records the generator never saw: with ``dcr_quantile``, the bound is that quantile
        of their distances to train. Without it, train's leave-one-out distances are used.
    min_distance : float, optional
        Reject records whose DCR is below this bound (each column contributes at most 1).
    dcr_quantile : float, optional
        Reject records whose DCR is below this quantile (in (0, 1)) of the real reference
        distances. Exclusive with ``min_distance``.
    random_state : int or numpy Generator
        Same seed, same release.

    Returns
    -------
    Release
        ``mode="full"``, every row ``synthetic``; ``stats`` holds the filter's cost
        (``drawn``, ``rejected``, ``rounds``, ``acceptance_rate``, ``threshold``, median DCR
        before and after); ``unfiltered`` the first draw when a filter ran.

    Raises
    ------
    ParameterError
        Both or invalid filter options.
    SynthmedError
        The filter could not find ``n`` records far enough from train.

    Examples
    --------
    >>> from synthmed import get_generator, load_dataset
    >>> data = load_dataset("pbc")
    >>> gen = get_generator("gaussian_copula").fit(data.frame, schema=data.schema)
    >>> release = release_full(gen, 100, train=data.frame, dcr_quantile=0.05)
    >>> release.counts()["synthetic"], release.stats["filter"]
    (100, 'dcr_quantile')
    """
    generator = check_generator(generator)
    n = check_positive_int(n, "n")
    schema = check_schema(schema, generator)
    train = check_frame(train, "train", schema.names)
    _check_filter_options(min_distance, dcr_quantile)
    rng = make_rng(random_state)

    if min_distance is None and dcr_quantile is None:
        data = generator.sample(n, random_state=rng)
        stats: dict[str, Any] = {"filter": None, "drawn": n, "rejected": 0, "rounds": 1}
        return Release(data=data, provenance=make_provenance(["synthetic"] * n), mode="full",
                       source_index=np.full(n, -1), stats=stats)

    dfilter = DistanceFilter(train, schema)
    if min_distance is not None:
        threshold, reference = float(min_distance), None
    else:
        if holdout is not None:
            holdout = check_frame(holdout, "holdout", schema.names)
            ref, reference = dfilter.dcr(holdout), "holdout_to_train"
        else:
            ref, reference = dfilter.leave_one_out(), "train_leave_one_out"
        threshold = float(np.quantile(ref, float(dcr_quantile)))  # type: ignore[arg-type]
    data, unfiltered, stats = _filtered_draw(generator, dfilter, n, threshold, rng)
    stats = {
        "filter": "min_distance" if min_distance is not None else "dcr_quantile",
        "threshold": threshold,
        "dcr_quantile": dcr_quantile,
        "reference": reference,
        **stats,
    }
    return Release(data=data, provenance=make_provenance(["synthetic"] * n), mode="full",
                   source_index=np.full(n, -1), stats=stats, unfiltered=unfiltered)


def _check_filter_options(min_distance: Any, dcr_quantile: Any) -> None:
    if min_distance is not None and dcr_quantile is not None:
        raise ParameterError(
            "Give either `min_distance` or `dcr_quantile` for the privacy filter, not both."
        )
    if min_distance is not None and (
            not _is_number(min_distance) or not math.isfinite(min_distance) or min_distance < 0):
        raise ParameterError(
            f"`min_distance` must be a non-negative finite number, got {min_distance!r}."
        )
    if dcr_quantile is not None and (
            not _is_number(dcr_quantile) or not 0.0 < dcr_quantile < 1.0):
        raise ParameterError(
            f"`dcr_quantile` must be a number strictly between 0 and 1, got {dcr_quantile!r}."
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool)


def _filtered_draw(generator: BaseGenerator, dfilter: DistanceFilter, n: int, threshold: float,
                   rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Draw until ``n`` records have a DCR of at least ``threshold``.

    Each round draws what is still needed, scaled by the acceptance rate seen so far. Records
    drawn after the last one needed are not examined (they count neither way).
    """
    kept: list[pd.DataFrame] = []
    kept_dcr: list[np.ndarray] = []
    examined = accepted = rounds = 0
    unfiltered: pd.DataFrame | None = None
    first_dcr = np.empty(0)
    while accepted < n and rounds < MAX_FILTER_ROUNDS:
        need = n - accepted
        rate = accepted / examined if examined else 1.0
        size = need if not examined else int(min(math.ceil(need / max(rate, 1e-9) * 1.2) + 10,
                                                 MAX_OVERDRAW * need + 10))
        batch = generator.sample(size, random_state=rng)
        dcr = dfilter.dcr(batch)
        if unfiltered is None:
            unfiltered, first_dcr = batch, dcr
        ok = np.flatnonzero(dcr >= threshold)
        if len(ok) >= need:
            ok = ok[:need]
            examined += int(ok[-1]) + 1
        else:
            examined += size
        kept.append(batch.iloc[ok])
        kept_dcr.append(dcr[ok])
        accepted += len(ok)
        rounds += 1
        if not accepted and examined >= max(GIVE_UP_AFTER, 20 * n):
            break  # nothing passes: more rounds would only cost time
    if accepted < n:
        raise SynthmedError(
            f"The privacy filter kept only {accepted} of the {examined} records drawn in "
            f"{rounds} rounds ({n} needed): the generator's records are rarely that far from "
            "the training data. Lower `min_distance` / `dcr_quantile`, or release fewer rows."
        )
    assert unfiltered is not None
    stats = {
        "drawn": examined,
        "rejected": examined - accepted,
        "rounds": rounds,
        "acceptance_rate": accepted / examined,
        "median_dcr_unfiltered": float(np.median(first_dcr)),
        "median_dcr_released": float(np.median(np.concatenate(kept_dcr))),
    }
    return pd.concat(kept, ignore_index=True), unfiltered.reset_index(drop=True), stats
