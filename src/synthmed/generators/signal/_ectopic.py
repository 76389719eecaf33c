"""Ectopic beats: how often they come, when, and what they look like.

A ventricular ectopic beat is not a normal beat drawn at a normal time. Its QRS is wide and of
its own shape (:func:`synthmed._dsp.ectopic_beats` finds them by template matching), it comes
at its own coupling interval after the beat before, and the interval after it is its own too
(a compensatory pause). They come in patterns: one after every normal beat (bigeminy), in
pairs, or now and then. Left out, an arrhythmia record's synthetic copy had none: the MIT-BIH
excerpt has 114 in 497 beats.

The model:

* **when**: a two-state Markov chain over beats, normal or ectopic (``onset`` = P(ectopic after
  a normal beat), ``repeat`` = P(ectopic after an ectopic one)). With several records, each
  record draws its own onset rate (a Beta of the records' rates beyond their binomial
  noise): patients differ in ectopic burden (0.12-0.27 of the beats in the training records
  of a 16-record cohort), and one pooled rate gave every record the same;
* **timing**: the log of the interval ending at an ectopic beat, and of the interval after it
  (when a normal beat follows), each relative to the local normal rhythm, as Gaussians;
* **shape**: how an ectopic beat differs from its record's usual beat, on average and as a
  Gaussian in a few directions (a fresh draw each time, never a stored beat). Drawn as a
  difference, an ectopic beat follows the lead axis and amplitude of the record's own normal
  beats; drawn on its own, a fifth to a half of a 16-patient cohort's synthetic ectopic
  beats came out so like their record's normal beats that the template match took them for
  normal ones. With several
  records, a record draws its own difference once (a Gaussian of the records' mean
  differences) and its ectopic beats vary around it: a patient's share a focus.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from synthmed import _dsp
from synthmed.generators.signal._noise import robust_sd

__all__ = ["Ectopy", "fit_ectopy"]

#: ectopic beats (whole windows) needed to learn their shape and timing
MIN_ECTOPIC = 5
#: records needed to learn how patients' ectopic beats differ (shape and rate), and the
#: normal beats a record needs for its rate to count
MIN_RECORDS, MIN_RECORD_BEATS = 3, 20
#: directions in which ectopic shapes vary (within a record, and between records)
MAX_SHAPE_FACTORS = 4
#: records with this many ectopic beats or more give a record mean; this many such records
#: give the between-record part
MIN_RECORD_ECTOPIC = 3


@dataclass(frozen=True)
class Ectopy:
    """Fitted ectopic beats (see the module docstring)."""

    onset: float
    repeat: float
    coupling: tuple[float, float]  # mean, sd of log(interval ending at it / local NN)
    pause: tuple[float, float]     # mean, sd of log(interval after it / local NN)
    difference: np.ndarray         # mean ectopic minus usual beat (flattened channels x window)
    factors: np.ndarray            # k x D: a shape is usual + difference + record + z @ factors
    between: np.ndarray            # m x D: a record's own offset is z @ between (m may be 0)
    onset_beta: tuple[float, float] | None = None  # records' onset rates (several records)

    def record_onset(self, rng: np.random.Generator) -> float:
        """A record's own onset rate (the pooled one without a spread between records)."""
        if self.onset_beta is None:
            return self.onset
        return float(rng.beta(*self.onset_beta))

    def states(self, count: int, onset: float, rng: np.random.Generator) -> np.ndarray:
        """Which of ``count`` successive beats are ectopic (the first beat is normal) for a
        record of this ``onset`` rate; runs repeat as often, relative to it, as pooled."""
        repeat = min(self.repeat * onset / self.onset, 0.9) if self.onset > 0 else 0.0
        u = rng.random(count)
        out = np.zeros(count, dtype=bool)
        for i in range(1, count):  # a chain over beats: hundreds to thousands of steps
            out[i] = u[i] < (repeat if out[i - 1] else onset)
        return out

    def retime(self, log_rr: np.ndarray, ectopic: np.ndarray,
               rng: np.random.Generator) -> np.ndarray:
        """Log RR (``log_rr[i]`` ends at beat ``i``) with each ectopic beat's coupling interval
        and, where a normal beat follows, the pause after it."""
        out = log_rr.copy()
        z = rng.standard_normal((2, len(out)))
        out[ectopic] += self.coupling[0] + self.coupling[1] * z[0][ectopic]
        after = np.zeros_like(ectopic)
        after[1:] = ectopic[:-1] & ~ectopic[1:]
        out[after] += self.pause[0] + self.pause[1] * z[1][after]
        return out

    def record_offset(self, rng: np.random.Generator) -> np.ndarray:
        """A record's own ectopic beat, as an offset from the mean (drawn once per record)."""
        return rng.standard_normal(len(self.between)) @ self.between if len(self.between) \
            else np.zeros_like(self.difference)

    def shapes(self, count: int, usual: np.ndarray, offset: np.ndarray,
               rng: np.random.Generator) -> np.ndarray:
        """``count`` fresh ectopic beats (flattened) of a record whose normal beats have the
        mean ``usual``, around its ``offset``."""
        z = rng.standard_normal((count, len(self.factors)))
        return usual + self.difference + offset + z @ self.factors

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta = {"onset": self.onset, "repeat": self.repeat, "coupling": list(self.coupling),
                "pause": list(self.pause),
                "onset_beta": None if self.onset_beta is None else list(self.onset_beta)}
        return meta, {"difference": self.difference, "factors": self.factors,
                      "between": self.between}

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Ectopy:
        c, p, beta = meta["coupling"], meta["pause"], meta.get("onset_beta")
        return cls(float(meta["onset"]), float(meta["repeat"]), (float(c[0]), float(c[1])),
                   (float(p[0]), float(p[1])),
                   *(np.asarray(arrays[k], dtype=np.float64)
                     for k in ("difference", "factors", "between")),
                   None if beta is None else (float(beta[0]), float(beta[1])))


def fit_ectopy(records: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
               shapes: np.ndarray, owners: np.ndarray, usual: np.ndarray) -> Ectopy | None:
    """Fit from each record's (RR intervals, normal mask, ectopic mask of the peaks), the
    ectopic beats' shapes (``n x D``, whole windows of ordinary amplitude), the record each
    comes from and each record's mean normal beat (``records x D``); None with fewer than
    ``MIN_ECTOPIC`` ectopic beats."""
    if len(shapes) < MIN_ECTOPIC:
        return None
    counts = np.zeros((2, 2))  # [previous state, this state]
    coupling, pause, onsets = [], [], []
    for rr, ok, ectopic in records:
        e = ectopic.astype(int)
        own = np.zeros((2, 2))
        np.add.at(own, (e[:-1], e[1:]), 1)
        counts += own
        onsets.append(own[0])
        if len(rr) == 0:
            continue
        local = _dsp.local_rr(rr, ok)
        log_ratio = np.log(rr / local)
        at = np.flatnonzero(ectopic[1:])  # interval ending at an ectopic beat
        coupling.append(log_ratio[at])
        follows = np.flatnonzero(ectopic[:-1] & ~ectopic[1:])  # interval after one
        pause.append(log_ratio[follows])

    def gaussian(values: list[np.ndarray]) -> tuple[float, float]:
        # robust: an "interval" that spans an artefact or a missed beat is 5-10 x the
        # local rhythm (2 of the excerpt's 114), and would make the sd 0.28 instead of 0.08
        v = np.concatenate(values) if values else np.zeros(0)
        v = v[np.isfinite(v)]
        if len(v) < 2:
            return 0.0, 0.0
        centre = float(np.median(v))
        return centre, float(robust_sd(v - centre, axis=0))

    rates = counts[:, 1] / np.maximum(counts.sum(axis=1), 1)
    diffs = shapes - usual[owners]
    mean = diffs.mean(axis=0)
    within, between = diffs - mean, np.zeros((0, shapes.shape[1]))
    own = [r for r in np.unique(owners) if (owners == r).sum() >= MIN_RECORD_ECTOPIC]
    if len(own) >= MIN_RECORDS:
        means = np.array([diffs[owners == r].mean(axis=0) for r in own])
        mean = means.mean(axis=0)
        between = _factors(means - mean)
        within = np.vstack([diffs[owners == r] - m for r, m in zip(own, means, strict=True)])
    return Ectopy(float(rates[0]), float(rates[1]), gaussian(coupling), gaussian(pause),
                  mean, _factors(within), between, _onset_beta(np.array(onsets)))


def _onset_beta(onsets: np.ndarray) -> tuple[float, float] | None:
    """A Beta of the records' onset rates, from each record's (normal -> normal, normal ->
    ectopic) counts: its mean the pooled rate, its variance the rates' spread beyond the
    binomial noise of their counts (method of moments). None with fewer than MIN_RECORDS
    records of MIN_RECORD_BEATS normal beats, or no spread beyond the noise."""
    trials = onsets.sum(axis=1)
    keep = trials >= MIN_RECORD_BEATS
    if keep.sum() < MIN_RECORDS:
        return None
    rates = onsets[keep, 1] / trials[keep]
    mean = float(onsets[keep, 1].sum() / trials[keep].sum())
    noise = float(np.mean(mean * (1 - mean) / trials[keep]))
    spread = float(rates.var(ddof=1)) - noise
    if not 0 < mean < 1 or spread <= 0:
        return None
    size = mean * (1 - mean) / spread - 1
    return (mean * size, (1 - mean) * size) if size > 0 else None


def _factors(centred: np.ndarray) -> np.ndarray:
    """The largest ``MAX_SHAPE_FACTORS`` directions of ``centred`` rows, scaled so that
    ``z @ factors`` (z standard normal) has their sample covariance in those directions."""
    _, sing, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(MAX_SHAPE_FACTORS, len(centred) - 1)
    return sing[:k, None] * vt[:k] / np.sqrt(max(len(centred) - 1, 1))
