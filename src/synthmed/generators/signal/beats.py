"""``signal_beats``: beat-by-beat synthesis of ECG and PPG with learnt morphology and rhythm.

Fit
    1. Beats are detected on a reference channel (R peaks for ECG, pulse peaks for PPG) and
       normal-to-normal (NN) intervals kept (see :mod:`synthmed._dsp`).
    2. Each beat of every channel is cut on a common grid around its peak (0.4 median RR
       before, 0.75 after), after the slow baseline is removed; the part after the peak is
       stretched back by ``(RR / median RR) ** e`` (``e = 0.5`` for ECG, Bazett's law for
       QT; ``1`` for PPG) so that beats at different rates line up.
    3. Morphology: PCA of the stacked multichannel beats (channel coupling lives in the
       components) and a Gaussian mixture over the PCA scores, so every new beat is a fresh
       draw, never a stored beat.
    4. Rhythm: the centred log NN series is a slow AR drift plus beat-to-beat changes, mostly
       small and now and then large (see ``_fit_rhythm``): this gives realistic SDNN and RMSSD.
       With several records, each record's mean log RR and log RR sd are a patient's own (a
       Gaussian of the two, fitted on the records): patients differ in heart rate and in
       variability, and a slow heart often varies more.
    5. Everything the beats do not explain (baseline wander, noise, beat detail) is the
       residual, its misfit spikes clipped; its cross-spectral matrix and the slow gains of its
       wander and its faster noise are kept (:mod:`._noise`), and with several records the
       spread of each record's noise level per band and channel (electrode contact, muscle
       tone differ between recordings).
    6. Categorical static attributes (per record) shift the mean log RR and the mean beat
       scores of their group.
    7. With several records (patients), each record's mean beat scores beyond its groups'
       shifts: their spread is a Gaussian, and the mixture of step 3 models the beats around
       their own record's mean.

Sample
    Each record draws its own mean beat, rate, variability and noise level once (several
    training records; one record: its mean rate from the spread of record means, if any);
    RR intervals are drawn from the drift and beat-to-beat model (scaled to a requested heart
    rate), beats from the
    mixture around that mean are stretched for their RR and placed at the beat times by
    weighted overlap-add, and coupled noise is added: any length at the native sampling
    rate. The beat positions are returned with the records (``SignalSet.beats``): exact
    labels for a downstream task.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from synthmed import _dsp
from synthmed.datasets.signals import SignalSet
from synthmed.exceptions import DataError, ParameterError
from synthmed.generators.base import int_in, one_of
from synthmed.generators.signal._ectopic import Ectopy, fit_ectopy
from synthmed.generators.signal._noise import (
    ENVELOPE_S,
    Envelope,
    fit_cross_spectrum,
    fit_envelopes,
    robust_sd,
    synth_noise,
    window_logs,
)
from synthmed.generators.signal.base import SignalGenerator

__all__ = ["SignalBeats"]

MIN_BEATS = 4
#: records (of MIN_BEATS beats or more) needed to learn how patients' beats differ...
MIN_RECORDS = 3
#: ...and the most directions in which their mean beats are drawn apart
MAX_RECORD_FACTORS = 16
#: a record's rhythm (mean rate, variability) counts from this many normal intervals
MIN_RHYTHM_BEATS = 20
#: lags beyond the AR order that fit the slow drift of the rhythm (see ``_slow_drift``)
DRIFT_LAGS = 8
#: the residual's fast part is clipped at this many robust sds (beat misfit, not noise)
SPIKE_SDS = 5.0
#: largest beat-to-beat change of log RR drawn: log(1.3), the normal-interval rule's bound
MAX_BEAT_STEP = float(np.log(1.3))
#: an ectopic beat whose QRS correlates with its record's usual one above this is drawn
#: again, up to MAX_REDRAWS times (see ``_ectopic_shapes``): the template match's bound, less
#: a margin for the noise and the neighbouring beats that the record adds
ECTOPIC_BOUND, MAX_REDRAWS = _dsp.ECTOPIC_CORRELATION - 0.05, 10
_PRE, _POST = 0.4, 0.75  # beat window around the peak, in median RR


def _optional_channel(value: Any) -> str | None:
    if value is None:
        return None
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= 0
    return None if ok else "None or a channel index (a non-negative integer)"


class SignalBeats(SignalGenerator):
    """Beat-by-beat synthesis of ECG/PPG: PCA beat morphology + AR rhythm + coupled noise.

    Parameters
    ----------
    n_components : int
        PCA components of the multichannel beat (fewer when there are few beats).
    n_mixtures : int
        Gaussian mixture components over the beat scores (fewer when there are few beats).
    ar_order : int
        Order of the autoregressive model of the log RR series (0: independent intervals).
    kind : {"auto", "ecg", "ppg"}
        Signal type; ``auto`` reads the channel names (pleth/PPG/pulse are PPG).
    reference_channel : int, optional
        Channel on which beats are detected; default the one with the strongest beats.
    noise : bool
        Add the learnt residual noise (baseline wander included).
    max_beats : int
        At most this many beats feed the morphology model (a seeded subsample).

    Examples
    --------
    >>> from synthmed import get_generator, load_dataset
    >>> ecg = load_dataset("ecg_mitbih").signals
    >>> gen = get_generator("signal_beats").fit(ecg)
    >>> fake = gen.sample(2, length_s=30, conditions={"heart_rate": 80}, random_state=0)
    >>> fake.array.shape
    (2, 1, 10800)
    """

    name = "signal_beats"
    _param_checks: ClassVar[dict[str, Any]] = {
        "n_components": int_in(1, 64),
        "n_mixtures": int_in(1, 10),
        "ar_order": int_in(0, 20),
        "kind": one_of("auto", "ecg", "ppg"),
        "reference_channel": _optional_channel,
        "noise": one_of(True, False),
        "max_beats": int_in(10, 1_000_000),
    }

    def __init__(self, *, n_components: int = 8, n_mixtures: int = 3, ar_order: int = 4,
                 kind: str = "auto", reference_channel: int | None = None, noise: bool = True,
                 max_beats: int = 5000) -> None:
        self.n_components = n_components
        self.n_mixtures = n_mixtures
        self.ar_order = ar_order
        self.kind = kind
        self.reference_channel = reference_channel
        self.noise = noise
        self.max_beats = max_beats

    @classmethod
    def get_test_params(cls) -> list[dict[str, Any]]:
        return [{}, {"n_components": 3, "n_mixtures": 1, "ar_order": 0, "noise": False}]

    # ------------------------------------------------------------------ fit
    def _fit(self, signals: SignalSet, rng: np.random.Generator) -> None:
        fs = signals.fs
        _dsp.require_heartbeat(signals.channels)
        kind = _dsp.signal_kind(signals.channels) if self.kind == "auto" else self.kind
        ref = self.reference_channel
        if ref is None:
            ref = _dsp.reference_channel(signals.records[0], fs, kind, signals.channels)
        elif ref >= signals.n_channels:
            raise ParameterError(f"`reference_channel` is {ref}, but the data has "
                                 f"{signals.n_channels} channels.")
        detected, ectopics = [], []
        for rec in signals.records:
            peaks, ectopic = _dsp.record_beats(rec[ref], fs, kind)
            rr, ok = _dsp.nn_intervals(peaks, fs, ectopic)
            detected.append((peaks, rr, ok))
            ectopics.append(ectopic)
        nn_all = np.concatenate([rr[ok] for _, rr, ok in detected])
        total_s = sum(signals.durations)
        if len(nn_all) < MIN_BEATS:
            raise DataError(
                f"Found {len(nn_all)} normal beat intervals in {total_s:.1f} s of "
                f"{signals.n_records} record(s); at least {MIN_BEATS} are needed. The signal "
                f"is shorter than a few heartbeats, or channel {signals.channels[ref]!r} holds "
                f"no recognisable {kind.upper()} (set kind= or reference_channel=)."
            )
        med_rr = float(np.median(nn_all))
        n_pre, n_post = round(_PRE * med_rr * fs), round(_POST * med_rr * fs)
        grid = np.arange(-n_pre, n_post) / fs
        exponent = 0.5 if kind == "ecg" else 1.0
        cutoff = float(np.clip(0.3 / med_rr, 0.05, 0.5))
        self.kind_, self.ref_channel_, self.med_rr_ = kind, int(ref), med_rr
        self.n_pre_, self.n_post_, self.exponent_ = n_pre, n_post, exponent

        beats_all, owner, placed, odd, odd_placed, odd_owner = [], [], [], [], [], []
        for r, (rec, (peaks, rr, ok)) in enumerate(zip(signals.records, detected, strict=True)):
            hp = rec.astype(np.float64) - _dsp.baseline(rec.astype(np.float64), fs, cutoff)
            factors = self._factors(np.concatenate([[med_rr], np.where(ok, rr, med_rr)]))
            beats, kept = _dsp.extract_beats(hp, peaks, fs, grid, factors)
            good = _plausible(beats, ok, kept)
            ectopic = ectopics[r][kept] & _ordinary(beats, good)
            odd.append(beats[ectopic].reshape(-1, signals.n_channels * len(grid)))
            odd_placed.append((peaks[kept][ectopic].astype(np.float64), factors[kept][ectopic]))
            odd_owner.append(np.full(int(ectopic.sum()), r))
            beats, kept = beats[good], kept[good]
            beats_all.append(beats)
            owner.append(np.full(len(kept), r))
            placed.append((peaks[kept].astype(np.float64), factors[kept]))
        beats = np.concatenate(beats_all)
        owners = np.concatenate(owner)
        if len(beats) < MIN_BEATS:
            raise DataError(f"Only {len(beats)} whole beats fit inside the records; at least "
                            f"{MIN_BEATS} are needed.")
        # each record's mean normal beat (the pooled one for a record without any)
        pooled = beats.mean(axis=0).ravel()
        usual = np.array([b.mean(axis=0).ravel() if len(b) else pooled for b in beats_all])
        self.ectopy_ = fit_ectopy([(rr, ok, e) for (_, rr, ok), e in
                                   zip(detected, ectopics, strict=True)], np.concatenate(odd),
                                  np.concatenate(odd_owner), usual)
        flat = beats.reshape(len(beats), -1)
        use = np.arange(len(flat))
        if len(flat) > self.max_beats:
            use = np.sort(rng.choice(len(flat), self.max_beats, replace=False))
        self.mean_beat_ = flat[use].mean(axis=0)
        _, sing, vt = np.linalg.svd(flat[use] - self.mean_beat_, full_matrices=False)
        rank = int((sing > sing[0] * 1e-9).sum()) if len(sing) and sing[0] > 0 else 0
        k = max(1, min(self.n_components, (len(use) - 1) // 3, rank))
        self.components_ = vt[:k]
        scores = (flat - self.mean_beat_) @ self.components_.T
        own_rhythm = self._fit_rhythm(detected)
        self._fit_static(signals, owners, scores, detected)
        self._fit_record_rhythm(signals, own_rhythm)
        own_scores, own_rest = self._fit_records(signals, owners, scores, flat)
        self._fit_mixture((scores - own_scores)[use], len(use), k, rng)

        # residual = signal - beats the model can express; kept only as a cross-spectrum
        residuals, offsets = [], []
        for r, (rec, beat_idx, (pos, factors)) in enumerate(zip(
                signals.records, _split_by(owners, signals.n_records), placed, strict=True)):
            # a patient's own beat, beyond the components, is the patient's, not noise
            proj = self.mean_beat_ + scores[beat_idx] @ self.components_ + own_rest[r]
            if self.ectopy_ is not None and len(odd[r]):  # ectopic beats are beats, not noise
                proj = np.vstack([proj, self._ectopic_fit(odd[r], usual[r])])
                pos = np.concatenate([pos, odd_placed[r][0]])
                factors = np.concatenate([factors, odd_placed[r][1]])
                placed[r] = (pos, factors)
            recon = self._overlap_add(proj.reshape(len(pos), signals.n_channels, -1),
                                      pos, factors, rec.shape[1], fs)
            res = rec.astype(np.float64) - recon
            offsets.append(res.mean(axis=1))
            residuals.append(_clip_spikes(res - offsets[-1][:, None], fs, cutoff))
        self.offsets_ = np.mean(offsets, axis=0)
        self.noise_df_, self.noise_factor_ = fit_cross_spectrum(residuals, fs, cutoff)
        self.wander_hz_ = cutoff
        # a beat the model left out (artefact, an ectopic one it cannot draw) stays whole in
        # the residual: it is not noise, and read as such it made bursts of noise
        keep = [self._noise_only(len(res[0]), peaks, pos)
                for res, (peaks, _, _), (pos, _) in zip(residuals, detected, placed, strict=True)]
        self.envelopes_ = fit_envelopes(residuals, fs, self.noise_df_, self.noise_factor_,
                                        cutoff, rng, keep)
        self._fit_noise_levels(residuals, keep, owners, signals.n_records, fs, rng)

    def _ectopic_shapes(self, count: int, usual: np.ndarray,
                        rng: np.random.Generator) -> np.ndarray:
        """``count`` ectopic beats for a record whose normal beats have the mean ``usual``.

        The shape model was learnt from beats the template match calls ectopic (QRS
        correlation with the record's usual beat below ``_dsp.ECTOPIC_CORRELATION``), and so
        were the coupling and the pause; beats nearer the usual shape are in the normal beats'
        mixture, their timing in the rhythm's irregular steps. The Gaussian reaches past that
        bound; a draw past it is drawn again. Kept, such a beat looked normal, so its ectopic
        timing entered the normal rhythm a second time (RMSSD 1.7 times the real one on a
        16-record cohort)."""
        assert self.ectopy_ is not None
        offset = self.ectopy_.record_offset(rng)
        width = self.n_pre_ + self.n_post_
        lo, hi = _dsp.qrs_window(self.schema_.fs)
        qrs = slice(self.ref_channel_ * width + max(0, self.n_pre_ + lo),
                    self.ref_channel_ * width + min(width, self.n_pre_ + hi))
        out = self.ectopy_.shapes(count, usual, offset, rng)
        for _ in range(MAX_REDRAWS):
            like = _dsp.qrs_correlation(out[:, qrs], usual[qrs]) >= ECTOPIC_BOUND
            if not like.any():
                break
            out[like] = self.ectopy_.shapes(int(like.sum()), usual, offset, rng)
        return out

    def _ectopic_fit(self, shapes: np.ndarray, usual: np.ndarray) -> np.ndarray:
        """Ectopic beats of a record whose normal beats have the mean ``usual``, as the model
        can express them (projected on its shape factors)."""
        assert self.ectopy_ is not None
        e = self.ectopy_
        basis = np.vstack([e.between, e.factors])
        centre = usual + e.difference
        if not len(basis):
            return np.broadcast_to(centre, shapes.shape).copy()
        coef = np.linalg.lstsq(basis.T, (shapes - centre).T, rcond=None)[0]
        return centre + coef.T @ basis

    def _factors(self, prev_rr: np.ndarray) -> np.ndarray:
        return np.clip((np.asarray(prev_rr) / self.med_rr_) ** self.exponent_, 0.7, 1.4)

    def _fit_mixture(self, scores: np.ndarray, n: int, k: int, rng: np.random.Generator) -> None:
        from sklearn.mixture import GaussianMixture

        m = max(1, min(self.n_mixtures, n // (10 * (k + 1))))
        reg = 1e-3 * float(scores.var(axis=0).mean()) + 1e-12
        gmm = GaussianMixture(m, covariance_type="full", reg_covar=reg, n_init=1,
                              random_state=int(rng.integers(2**31 - 1)))
        gmm.fit(scores)
        self.mix_weights_ = gmm.weights_
        self.mix_means_ = gmm.means_
        self.mix_chol_ = np.linalg.cholesky(gmm.covariances_)

    def _fit_records(self, signals: SignalSet, owners: np.ndarray, scores: np.ndarray,
                     flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each patient's own beat: the record means of the beats, beyond the static groups'
        offsets, as a Gaussian with their sample covariance in the whole beat space (its
        largest ``MAX_RECORD_FACTORS`` directions). A synthetic record draws its own mean
        once, so its beats keep one morphology, as a patient's do; pooled, every beat was
        drawn from every patient's shapes at once (between-record share of beat variance 0.69
        real, 0.01 synthetic on a 16-record cohort). The part of a record's mean beat beyond
        the PCA components is drawn with it: left to the noise model, it became noise spread
        over the whole record (more 8-16 Hz power than real records had).

        Returns each beat's record mean scores (subtracted before the within-record mixture
        is fitted) and each record's mean beat beyond the components (``n_records x D``);
        zeros with fewer than ``MIN_RECORDS`` records of ``MIN_BEATS`` beats.
        """
        counts = np.bincount(owners, minlength=signals.n_records)
        enough = np.flatnonzero(counts >= MIN_BEATS)
        self.record_offset_ = self.record_factor_ = None
        rest = np.zeros((signals.n_records, flat.shape[1]))
        if len(enough) < MIN_RECORDS:
            return np.zeros_like(scores), rest
        full = np.zeros((signals.n_records, flat.shape[1]))
        for r in enough:
            full[r] = flat[owners == r].mean(axis=0) - self.mean_beat_
        means = full @ self.components_.T  # = each record's mean scores
        rest[enough] = full[enough] - means[enough] @ self.components_
        groups = np.zeros_like(means)  # the static groups' share of each record's mean
        if self.static_:
            assert signals.static is not None
            for col, cats, _, _, sc_off in self.static_:
                labels = signals.static[col].astype(str).to_numpy()
                groups += np.array([sc_off[cats.index(v)] if v in cats else 0.0
                                    for v in labels])
        own = (full - groups @ self.components_)[enough]
        centre = own.mean(axis=0)
        # the sample covariance: draws stay in the directions in which patients differ
        _, sing, vt = np.linalg.svd(own - centre, full_matrices=False)
        m = min(MAX_RECORD_FACTORS, len(enough) - 1)
        self.record_offset_ = centre
        self.record_factor_ = sing[:m, None] * vt[:m] / np.sqrt(len(enough) - 1)
        return means[owners], rest

    def _fit_rhythm(self, detected: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
                    ) -> list[tuple[int, float, float]]:
        """Log RR = the record's mean + a slow AR(p) drift + a beat-to-beat part; returns each
        record's (index, mean log RR, log sd of its log RR) for :meth:`_fit_record_rhythm`.

        The log NN series of the MIT-BIH excerpt has autocorrelations 0.34 / 0.36 / 0.43 /
        0.36 at lags 1-4: a slow drift (about 40% of the variance) plus beat-to-beat changes
        that do not persist, and come mostly small, now and then large (successive
        differences with a median of 0.04 and a 95th percentile of 0.26). One AR model of both
        made every beat's change equally large and carried a large one on to the next beats.
        So the drift's coefficients come from the lags >= 1 alone (modified Yule-Walker: the
        beat-to-beat part adds to lag 0 only), and the beat-to-beat part gets the rest of the
        variance, drawn from two Gaussians, calm and irregular beats (``_beat_mixture``).
        Only runs of adjacent normal intervals are used: the NN series joined across an
        ectopic beat jumps where no heart did.
        """
        index = [r for r, (_, _, ok) in enumerate(detected) if ok.sum() >= 2]
        usable = [detected[r][1:] for r in index]
        means = np.array([np.log(rr[ok]).mean() for rr, ok in usable])
        runs = [[np.log(run) - m for run in _dsp.nn_runs(rr, ok)]
                for (rr, ok), m in zip(usable, means, strict=True)]
        longest = max(len(run) for record in runs for run in record)
        p = min(self.ar_order, max(0, longest // 4))
        gamma = _autocovariances([run for record in runs for run in record], p + DRIFT_LAGS)
        coefs, slow = _slow_drift(gamma, p)
        self.ar_coefs_ = coefs
        self.ar_sigma_ = float(np.sqrt(slow / _ar_gain(coefs))) if slow > 0 else 0.0
        steps = np.concatenate([np.diff(run) for record in runs for run in record
                                if len(run) > 1] or [np.zeros(0)])
        # the drift's own step variance: 2 (var - lag-1 cov), and its lag-1 cov is gamma_1
        drift_steps = 2 * (slow - gamma[1]) if slow > 0 else 0.0
        self.beat_mix_ = _beat_mixture(steps, max(gamma[0] - slow, 0.0), drift_steps)
        self.rr_sd_ = float(np.sqrt(gamma[0]))
        self.log_rr_mean_ = float(means.mean())
        self.log_rr_spread_ = float(means.std(ddof=1)) if len(means) > 1 else 0.0
        # each record's rate and variability: records of MIN_RHYTHM_BEATS intervals or more
        # give a steady estimate of both
        own = []
        for r, m, record in zip(index, means, runs, strict=True):
            values = np.concatenate(record)
            if len(values) >= MIN_RHYTHM_BEATS and values.std() > 0:
                own.append((r, float(m), float(np.log(np.sqrt(np.mean(values ** 2))))))
        return own

    def _fit_record_rhythm(self, signals: SignalSet,
                           own: list[tuple[int, float, float]]) -> None:
        """Each patient's rate and variability, drawn together: a Gaussian of the records'
        (mean log RR beyond their static groups' offsets, log sd of the log RR)."""
        self.rhythm_centre_ = self.rhythm_factor_ = self.rhythm_range_ = None
        if len(own) < MIN_RECORDS:
            return
        pairs = np.array([[m, log_sd] for _, m, log_sd in own])
        for col, cats, _, rr_off, _ in self.static_:
            assert signals.static is not None
            labels = signals.static[col].astype(str).to_numpy()
            pairs[:, 0] -= [rr_off[cats.index(labels[r])] for r, _, _ in own]
        self.rhythm_centre_ = pairs.mean(axis=0)
        _, sing, vt = np.linalg.svd(pairs - self.rhythm_centre_, full_matrices=False)
        self.rhythm_factor_ = sing[:, None] * vt / np.sqrt(len(pairs) - 1)
        # draws stay within the records' range widened by one sd on each side
        sd = pairs.std(axis=0, ddof=1)
        self.rhythm_range_ = np.vstack([pairs.min(axis=0) - sd, pairs.max(axis=0) + sd])

    def _noise_only(self, n: int, peaks: np.ndarray, placed: np.ndarray) -> np.ndarray:
        """Samples of a record's residual that are noise: not within the window of a detected
        beat that the model left out."""
        keep = np.ones(n, dtype=bool)
        left_out = np.setdiff1d(np.asarray(peaks, dtype=np.int64),
                                np.round(placed).astype(np.int64))
        after = round(self.n_post_ * 1.4)  # the window after the peak, stretched at most
        for peak in left_out:
            keep[max(0, peak - self.n_pre_):min(n, peak + after)] = False
        return keep

    def _fit_noise_levels(self, residuals: list[np.ndarray], keep: list[np.ndarray],
                          owners: np.ndarray, n_records: int, fs: float,
                          rng: np.random.Generator) -> None:
        """Each record's own noise level per band (wander, the rest) and channel: the spread
        of the records' mean window log level (:func:`window_logs`) beyond what the slow gains
        alone give records of their length (found by simulating them), with the records'
        correlations; centred in the log, as the spectrum's level is. Recordings differ in
        electrode contact and muscle tone; a record's mean over a few windows of wander
        episodes differs by chance too."""
        counts = np.bincount(owners, minlength=n_records)
        width = round(ENVELOPE_S * fs)
        kept = [(r, m) for r, m, c in zip(residuals, keep, counts, strict=True)
                if c >= MIN_BEATS and r.shape[1] >= width]
        self.noise_level_factor_ = None
        if len(kept) < MIN_RECORDS:
            return

        def means(records: list[tuple[np.ndarray, np.ndarray | None]]) -> np.ndarray:
            return np.array([np.concatenate([np.nanmean(b, axis=1) for b in window_logs(
                r, fs, width, self.wander_hz_, m)]) for r, m in records])

        real = means(kept)
        if not np.isfinite(real).all():
            return
        length = int(min(np.median([r.shape[1] for r, _ in kept]), 600 * fs))
        flat = means([(synth_noise(self.noise_df_, self.noise_factor_, fs, length, rng,
                                   self.envelopes_, self.wander_hz_), None)
                      for _ in range(max(MIN_RECORDS, len(kept)))])
        sd = np.sqrt(np.clip(real.var(axis=0, ddof=1) - flat.var(axis=0, ddof=1), 0.0, None))
        if not np.any(sd > 0):
            return
        corr = np.corrcoef(real, rowvar=False) if len(real) > 2 else np.eye(real.shape[1])
        cov = np.nan_to_num(corr) * np.outer(sd, sd)
        vals, vecs = np.linalg.eigh(cov)
        self.noise_level_factor_ = (np.sqrt(np.clip(vals, 0.0, None))[:, None] * vecs.T)

    def _fit_static(self, signals: SignalSet, owners: np.ndarray, scores: np.ndarray,
                    detected: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
        self.static_ = []  # (column, categories, freqs, rr offsets, score offsets)
        if signals.static is None:
            return
        # each record's mean log NN interval, from the beats already found
        record_rr = np.array([np.log(rr[ok]).mean() if ok.any() else self.log_rr_mean_
                              for _, rr, ok in detected])
        for col in signals.static.columns:
            values = signals.static[col]
            if not (values.dtype == object or values.dtype == bool
                    or isinstance(values.dtype, pd.CategoricalDtype) or values.nunique() <= 10):
                continue  # numeric attributes are not modelled
            labels = values.astype(str).to_numpy()
            cats = sorted(set(labels))
            freqs = np.array([(labels == c).mean() for c in cats])
            rr_off = np.array([record_rr[labels == c].mean() - record_rr.mean() for c in cats])
            beat_labels = labels[owners]
            sc_off = np.array([scores[beat_labels == c].mean(axis=0) - scores.mean(axis=0)
                               if (beat_labels == c).any() else np.zeros(scores.shape[1])
                               for c in cats])
            self.static_.append((str(col), cats, freqs, rr_off, sc_off))

    # ------------------------------------------------------------------ sample
    def _condition_names(self) -> list[str]:
        return [col for col, *_ in self.static_]

    def _unknown_condition_values(self, name: str, values: np.ndarray) -> int:
        cats = next(c for col, c, *_ in self.static_ if col == name)
        return int(sum(str(v) not in cats for v in values))

    def _sample(self, n: int, n_samples: int, conditions: Mapping[str, np.ndarray],
                rng: np.random.Generator) -> tuple[list[np.ndarray], pd.DataFrame | None,
                                                   list[np.ndarray]]:
        fs = self.schema_.fs
        n_ch = len(self.schema_.channels)
        records, rows, placed = [], [], []
        for i in range(n):
            rr_shift, score_shift, row = 0.0, np.zeros(self.components_.shape[0]), {}
            for col, cats, freqs, rr_off, sc_off in self.static_:
                if col in conditions:
                    j = cats.index(str(conditions[col][i]))
                else:
                    j = int(rng.choice(len(cats), p=freqs))
                row[col] = cats[j]
                rr_shift += rr_off[j]
                score_shift = score_shift + sc_off[j]
            rows.append(row)
            own = None
            if self.record_factor_ is not None:  # this record's own beat, drawn once
                own = self.record_offset_ + rng.standard_normal(
                    len(self.record_factor_)) @ self.record_factor_
            hr = conditions["heart_rate"][i] if "heart_rate" in conditions else None
            times, prev_rr, ectopic = self._beat_times(n_samples / fs, rr_shift, hr, rng)
            beats = self._draw_beats(len(times), score_shift, rng)
            if own is not None:
                beats = beats + own
            factors = self._factors(prev_rr)
            if self.ectopy_ is not None and ectopic.any():
                usual = self.mean_beat_ + score_shift @ self.components_
                if own is not None:
                    usual = usual + own
                beats[ectopic] = self._ectopic_shapes(int(ectopic.sum()), usual, rng)
                # as fitted: beats next to an ectopic interval are not stretched
                factors[ectopic | np.r_[False, ectopic[:-1]]] = 1.0
            beats = beats.reshape(len(times), n_ch, -1)
            signal = self._overlap_add(beats, times * fs, factors, n_samples, fs)
            if self.noise:
                signal += synth_noise(self.noise_df_, self.noise_factor_, fs, n_samples, rng,
                                      self.envelopes_, self.wander_hz_, self._noise_levels(rng))
            records.append(signal + self.offsets_[:, None])
            at = np.round(times * fs).astype(np.int64)  # beat peaks, known exactly
            placed.append(at[(at >= 0) & (at < n_samples)])
        static = pd.DataFrame(rows) if self.static_ else None
        return records, static, placed

    def _beat_times(self, seconds: float, rr_shift: float, hr: float | None,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Beat times (s) covering ``[0, seconds]``, the RR interval ending at each beat and
        which beats are ectopic."""
        mean, scale = self._record_rhythm(rng)
        mean += rr_shift
        if hr is not None:
            mean = float(np.log(60.0 / hr))
        count = int((seconds + 2 * _dsp.RR_MAX_S) / _dsp.RR_MIN_S) + 8
        count = min(count, int(2.0 * (seconds + 4.0) / np.exp(mean)) + 16)
        p = len(self.ar_coefs_)
        burn = 50 if p else 0
        z = np.zeros(count + burn + p)
        eps = scale * self.ar_sigma_ * rng.standard_normal(len(z))
        for t in range(p, len(z)):
            z[t] = z[t - p:t][::-1] @ self.ar_coefs_ + eps[t] if p else eps[t]
        log_rr = mean + z[burn + p:] + self._beat_steps(count, scale, rng)
        ectopic = np.zeros(count, dtype=bool)
        if self.ectopy_ is not None:
            ectopic = self.ectopy_.states(count, self.ectopy_.record_onset(rng), rng)
            log_rr = self.ectopy_.retime(log_rr, ectopic, rng)
        rr = np.clip(np.exp(log_rr), _dsp.RR_MIN_S, _dsp.RR_MAX_S)
        start = -rng.uniform(0.0, 0.6) * rr[0]
        times = start + np.concatenate([[0.0], np.cumsum(rr[1:])])
        inside = times <= seconds
        if hr is not None:  # the mean heart rate over normal intervals is the one asked for
            normal = inside & ~ectopic & ~np.r_[False, ectopic[:-1]]
            normal[0] = False
            rr = rr * (60.0 / hr) / rr[normal].mean() if normal.any() else rr
            times = start + np.concatenate([[0.0], np.cumsum(rr[1:])])
        last = int(np.searchsorted(times, seconds + _PRE * self.med_rr_ * 1.5)) + 1
        return times[:last], rr[:last], ectopic[:last]

    def _beat_steps(self, count: int, scale: float, rng: np.random.Generator) -> np.ndarray:
        """Beat-to-beat part of the log RR, cut at ``MAX_BEAT_STEP``: the fit saw only intervals
        within 30% of their neighbours (others are not normal), so larger changes would be
        ectopic beats, which the model does not draw."""
        share, calm, irregular = self.beat_mix_
        sd = scale * np.where(rng.random(count) < share, irregular, calm)
        return _cut_normal(sd, rng.random(count))

    def _record_rhythm(self, rng: np.random.Generator) -> tuple[float, float]:
        """This record's mean log RR and the factor on its variability: a patient's own where
        several records were learnt from, else the pooled variability around a drawn mean."""
        if self.rhythm_factor_ is None:
            return self.log_rr_mean_ + self.log_rr_spread_ * rng.standard_normal(), 1.0
        assert self.rhythm_centre_ is not None and self.rhythm_range_ is not None
        draw = self.rhythm_centre_ + rng.standard_normal(len(self.rhythm_factor_)) \
            @ self.rhythm_factor_
        mean, log_sd = np.clip(draw, self.rhythm_range_[0], self.rhythm_range_[1])
        return float(mean), float(np.exp(log_sd) / self.rr_sd_)

    def _noise_levels(self, rng: np.random.Generator) -> np.ndarray | None:
        """This record's noise level factor per band and channel (``2 x C``); None with fewer
        than MIN_RECORDS records."""
        if self.noise_level_factor_ is None:
            return None
        f = self.noise_level_factor_
        return np.exp(rng.standard_normal(len(f)) @ f).reshape(2, -1)

    def _draw_beats(self, count: int, shift: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        comp = rng.choice(len(self.mix_weights_), size=count, p=self.mix_weights_)
        noise = rng.standard_normal((count, self.mix_means_.shape[1]))
        scores = self.mix_means_[comp] + np.einsum("nij,nj->ni", self.mix_chol_[comp], noise)
        return self.mean_beat_ + (scores + shift) @ self.components_

    def _overlap_add(self, beats: np.ndarray, positions: np.ndarray, factors: np.ndarray,
                     n_samples: int, fs: float) -> np.ndarray:
        """Weighted overlap-add of warped beats at (fractional) sample positions."""
        n_ch, width = beats.shape[1], beats.shape[2]
        grid = np.arange(-self.n_pre_, self.n_post_) / fs
        ramp = max(1, int(0.05 * width))
        taper = np.ones(width)
        taper[:ramp] = np.sin(np.linspace(0, np.pi / 2, ramp + 2)[1:-1]) ** 2
        taper[-ramp:] = taper[:ramp][::-1]
        acc = np.zeros((n_ch, n_samples))
        weight = np.zeros(n_samples)
        for beat, pos, f in zip(beats, positions, factors, strict=True):
            where = pos + _dsp.warp_times(grid, f) * fs
            a, b = max(0, int(np.ceil(where[0]))), min(n_samples - 1, int(np.floor(where[-1])))
            if b < a:
                continue
            idx = np.arange(a, b + 1)
            w = np.interp(idx, where, taper)
            weight[a:b + 1] += w
            for c in range(n_ch):
                acc[c, a:b + 1] += w * np.interp(idx, where, beat[c])
        covered = weight > 1e-3
        out = np.zeros((n_ch, n_samples))
        out[:, covered] = acc[:, covered] / weight[covered]
        if covered.any() and not covered.all():
            gaps = np.flatnonzero(~covered)
            good = np.flatnonzero(covered)
            for c in range(n_ch):
                out[c, gaps] = np.interp(gaps, good, out[c, good])
        return out

    # ------------------------------------------------------------------ state
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta = {
            "kind": self.kind_, "ref_channel": self.ref_channel_, "med_rr": self.med_rr_,
            "n_pre": self.n_pre_, "n_post": self.n_post_, "exponent": self.exponent_,
            "ar_sigma": self.ar_sigma_, "log_rr_mean": self.log_rr_mean_,
            "beat_mix": list(self.beat_mix_), "rr_sd": self.rr_sd_,
            "log_rr_spread": self.log_rr_spread_, "noise_df": self.noise_df_,
            "wander_hz": self.wander_hz_,
            "static": [{"column": col, "categories": cats} for col, cats, *_ in self.static_],
        }
        arrays = {
            "mean_beat": self.mean_beat_, "components": self.components_,
            "mix_weights": self.mix_weights_, "mix_means": self.mix_means_,
            "mix_chol": self.mix_chol_, "ar_coefs": self.ar_coefs_, "offsets": self.offsets_,
            "noise_re": self.noise_factor_.real, "noise_im": self.noise_factor_.imag,
        }
        if self.record_factor_ is not None:
            arrays.update({"record_offset": self.record_offset_,
                           "record_factor": self.record_factor_})
        if self.rhythm_factor_ is not None:
            arrays.update({"rhythm_centre": self.rhythm_centre_,
                           "rhythm_factor": self.rhythm_factor_,
                           "rhythm_range": self.rhythm_range_})
        if self.noise_level_factor_ is not None:
            arrays["noise_level_factor"] = self.noise_level_factor_
        if self.ectopy_ is not None:
            meta["ectopy"], ectopy = self.ectopy_.to_state()
            arrays.update({f"ectopic_{k}": v for k, v in ectopy.items()})
        for j, env in enumerate(self.envelopes_):
            arrays[f"envelope{j}_sd"] = env.sd
            arrays[f"envelope{j}_phi"] = np.array([env.phi])
        for j, (_, _, freqs, rr_off, sc_off) in enumerate(self.static_):
            arrays.update({f"static{j}_freqs": freqs, f"static{j}_rr": rr_off,
                           f"static{j}_scores": sc_off})
        return meta, arrays

    def _set_state(self, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.kind_, self.ref_channel_ = str(meta["kind"]), int(meta["ref_channel"])
        self.med_rr_, self.exponent_ = float(meta["med_rr"]), float(meta["exponent"])
        self.n_pre_, self.n_post_ = int(meta["n_pre"]), int(meta["n_post"])
        self.ar_sigma_, self.noise_df_ = float(meta["ar_sigma"]), float(meta["noise_df"])
        self.log_rr_mean_ = float(meta["log_rr_mean"])
        # models saved before the beat-to-beat part: the AR model carried all the variability
        self.beat_mix_ = tuple(float(v) for v in meta.get("beat_mix", (0.0, 0.0, 0.0)))
        self.rr_sd_ = float(meta.get("rr_sd", 1.0))
        self.log_rr_spread_ = float(meta["log_rr_spread"])
        for name in ("mean_beat", "components", "mix_weights", "mix_means", "mix_chol",
                     "ar_coefs", "offsets"):
            setattr(self, f"{name}_", np.asarray(arrays[name], dtype=np.float64))
        self.noise_factor_ = arrays["noise_re"] + 1j * arrays["noise_im"]
        # models saved before record effects existed draw every beat from the pooled mixture
        self.record_offset_ = (np.asarray(arrays["record_offset"], dtype=np.float64)
                               if "record_offset" in arrays else None)
        self.record_factor_ = (np.asarray(arrays["record_factor"], dtype=np.float64)
                               if "record_factor" in arrays else None)
        # ...those saved before noise envelopes draw stationary noise...
        self.wander_hz_ = float(meta.get("wander_hz", 0.0))
        self.envelopes_ = tuple(
            Envelope(np.asarray(arrays[f"envelope{j}_sd"], dtype=np.float64),
                     float(arrays[f"envelope{j}_phi"][0]))
            for j in range(2) if f"envelope{j}_sd" in arrays)
        # ...and those saved before per-record rhythm and noise level share them
        for name in ("rhythm_centre", "rhythm_factor", "rhythm_range", "noise_level_factor"):
            setattr(self, f"{name}_", np.asarray(arrays[name], dtype=np.float64)
                    if name in arrays else None)
        # ...and those saved before ectopic beats draw none
        self.ectopy_ = Ectopy.from_state(
            dict(meta["ectopy"]),
            {k: arrays[f"ectopic_{k}"] for k in ("difference", "factors", "between")}
        ) if "ectopy" in meta else None
        self.static_ = [
            (str(s["column"]), [str(c) for c in s["categories"]], arrays[f"static{j}_freqs"],
             arrays[f"static{j}_rr"], arrays[f"static{j}_scores"])
            for j, s in enumerate(meta["static"])
        ]


def _plausible(beats: np.ndarray, ok: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Beats next to at least one normal interval, with an ordinary amplitude (no artefact)."""
    n_peaks = len(ok) + 1
    near_normal = np.zeros(n_peaks, dtype=bool)
    near_normal[1:] |= ok
    near_normal[:-1] |= ok
    span = _span(beats)
    typical = np.median(span) if len(span) else 0.0
    return near_normal[kept] & (span <= 3 * typical) & (span >= typical / 3)


def _ordinary(beats: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Beats of an amplitude an ectopic beat may have: a fifth to five times the normal
    beats' typical peak-to-peak span (beyond, an artefact)."""
    span = _span(beats)
    typical = np.median(span[normal] if normal.any() else span) if len(span) else 0.0
    return (span <= 5 * typical) & (span >= typical / 5)


def _span(beats: np.ndarray) -> np.ndarray:
    """Each beat's peak-to-peak span on its widest channel (``n x C x W`` beats)."""
    return np.ptp(beats, axis=2).max(axis=1) if len(beats) else np.zeros(0)


def _autocovariances(runs: list[np.ndarray], lags: int) -> np.ndarray:
    """Pooled autocovariances at lags 0..``lags`` of centred runs, read from the variogram:
    ``gamma_k = gamma_0 - E[(x_(t+k) - x_t)^2] / 2`` over pairs within a run.

    Taking ``gamma_k`` as the mean product of pairs instead put a different set of values
    behind each lag: in an arrhythmia record whose ectopic beats end a run every few beats,
    the intervals in runs of one counted in ``gamma_0`` only, and the successive differences
    the fit implied were 1.3 times the real ones."""
    values = np.concatenate(runs) if runs else np.zeros(0)
    gamma0 = float(values @ values / len(values)) if len(values) else 0.0
    num, den = np.zeros(lags + 1), np.zeros(lags + 1)
    for x in runs:
        for k in range(1, min(lags, len(x) - 1) + 1):
            d = x[k:] - x[:len(x) - k]
            num[k] += float(d @ d) / 2
            den[k] += len(d)
    out = np.where(den > 0, gamma0 - num / np.maximum(den, 1), 0.0)
    out[0] = gamma0
    return out


def _slow_drift(gamma: np.ndarray, p: int) -> tuple[np.ndarray, float]:
    """AR(p) coefficients of the slow drift and its variance, from lags >= 1 only (modified
    Yule-Walker, least squares over k = p+1..p+DRIFT_LAGS of gamma_k = sum_j a_j gamma_(k-j);
    a white beat-to-beat part adds to gamma_0 alone). No drift (zeros, 0) where the lags show
    none or the fit is not a stationary process within the total variance.

    A drift slower than the runs it is read from (an arrhythmia record whose ectopic beats
    end a run every few beats: autocorrelation still 0.9 at lag 10) gives no such AR(p); it
    is then an AR(1) from lags 1 and 2 alone (``phi = gamma_2 / gamma_1``)."""
    if p == 0 or gamma[0] <= 0 or len(gamma) < p + DRIFT_LAGS + 1:
        return np.zeros(p), 0.0
    lags = range(p + 1, p + DRIFT_LAGS + 1)
    design = np.array([[gamma[k - j] for j in range(1, p + 1)] for k in lags])
    coefs = np.linalg.lstsq(design, gamma[p + 1:p + DRIFT_LAGS + 1], rcond=None)[0]
    while np.abs(np.roots(np.r_[1.0, -coefs])).max() >= 0.98:
        coefs = coefs * 0.9
    # the drift's lag-1 correlation under these coefficients gives its variance from gamma_1
    h = _impulse(coefs)
    rho1 = float(h[1:] @ h[:-1] / (h @ h))
    slow = gamma[1] / rho1 if rho1 > 1e-3 else 0.0
    if 0 < slow <= gamma[0]:
        return coefs, float(slow)
    phi = min(gamma[2] / gamma[1], 0.98) if gamma[1] > 0 else 0.0
    slow = gamma[1] / phi if phi > 1e-3 else 0.0
    if not 0 < slow <= gamma[0]:
        return np.zeros(p), 0.0
    return np.r_[phi, np.zeros(p - 1)], float(slow)


def _beat_mixture(steps: np.ndarray, variance: float,
                  drift_steps: float) -> tuple[float, float, float]:
    """Beat-to-beat part of the rhythm as two Gaussians, each cut at +-MAX_BEAT_STEP: most
    beats change a little (sd ``calm``), a share of them much more (sd ``irregular``: a
    premature beat within the normal range, a sigh).

    Chosen on a grid by simulation (the same uniforms for every candidate): the successive
    differences it gives (w_t - w_(t-1) plus the drift's step, of variance ``drift_steps``)
    must put the quantiles of ``|steps|`` where they are (the MIT-BIH excerpt: median 0.033,
    sd 0.078: a Gaussian of that sd has a median of 0.052) and keep ``variance``, the part of
    the log RR variance the drift leaves. Returns ``(share, calm, irregular)``; one Gaussian of
    ``variance`` with too few steps.
    """
    sd = float(np.sqrt(variance))
    if len(steps) < MIN_RHYTHM_BEATS or variance <= 0:
        return 0.0, sd, sd
    probs = np.array([0.25, 0.5, 0.75, 0.9, 0.95, 0.99])
    target = np.log(np.quantile(np.abs(steps), probs) + 1e-9)
    draws = np.random.default_rng(0)  # fixed: the fit is a deterministic search
    u = draws.random((3, 2000))
    drift = np.sqrt(drift_steps) * draws.standard_normal(2000)
    best, best_loss = (0.0, sd, sd), np.inf
    for share in np.linspace(0.0, 0.5, 11):
        pick = u[2] < share
        for calm in sd * np.geomspace(0.1, 1.5, 15):
            for ratio in np.geomspace(1.0, 20.0, 15) if share > 0 else (1.0,):
                scale = np.where(pick, calm * ratio, calm)
                w = _cut_normal(scale, u[:2])
                d = w[0] - w[1] + drift
                var = float(np.mean(np.where(pick, _cut_var(calm * ratio), _cut_var(calm))))
                loss = float(np.sum((np.log(np.quantile(np.abs(d), probs) + 1e-9) - target) ** 2)
                             + (np.log(var / variance)) ** 2)
                if loss < best_loss:
                    best, best_loss = (float(share), float(calm), float(calm * ratio)), loss
    return best


def _cut_normal(sd: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Draws of N(0, sd^2) cut at +-MAX_BEAT_STEP, by the inverse CDF of uniforms ``u``."""
    from scipy.special import ndtr, ndtri

    edge = ndtr(-MAX_BEAT_STEP / np.maximum(sd, 1e-12))
    return sd * ndtri(edge + u * (1 - 2 * edge))


def _cut_var(sd: float) -> float:
    """Variance of N(0, sd^2) cut at +-MAX_BEAT_STEP."""
    from scipy.special import ndtr

    if sd <= 0:
        return 0.0
    b = MAX_BEAT_STEP / sd
    return float(sd ** 2 * (1 - 2 * b * np.exp(-b * b / 2) / np.sqrt(2 * np.pi)
                            / max(2 * ndtr(b) - 1, 1e-12)))


def _impulse(coefs: np.ndarray, steps: int = 2000) -> np.ndarray:
    """Impulse response of the AR filter with ``coefs``."""
    p = len(coefs)
    h = np.zeros(steps + p)
    h[p] = 1.0
    for t in range(p + 1, steps + p):
        h[t] = h[t - p:t][::-1] @ coefs
    return h[p:]


def _ar_gain(coefs: np.ndarray) -> float:
    """Variance of a stationary AR process with unit innovations (sum of its squared impulse
    response; the coefficients are kept inside the unit circle)."""
    return float(np.sum(_impulse(coefs) ** 2))


def _clip_spikes(residual: np.ndarray, fs: float, cutoff: float) -> np.ndarray:
    """The residual with its fast part clipped at ``SPIKE_SDS`` robust sds per channel: a QRS
    reconstructed a sample off leaves a spike of 1-1.5 mV above a floor of 0.1 (MIT-BIH
    excerpt), which is the beat model's misfit, not noise; read as noise it thickened the
    synthetic records' whole noise floor. The wander below ``cutoff`` is kept whole."""
    slow = _dsp.baseline(residual, fs, cutoff)
    fast = residual - slow
    bound = SPIKE_SDS * robust_sd(fast, axis=1, keepdims=True)
    return slow + np.clip(fast, -bound, bound)


def _split_by(owners: np.ndarray, n: int) -> list[np.ndarray]:
    return [np.flatnonzero(owners == r) for r in range(n)]
