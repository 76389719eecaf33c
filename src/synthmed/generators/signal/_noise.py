"""Coloured, cross-channel-coupled Gaussian noise with a learnt cross-spectrum and slow gains.

The residual of a record (what the beat model does not explain: baseline wander, muscle and
mains noise, beat-to-beat detail) is summarised by its Welch cross-spectral matrix per frequency
``S(f)`` (``C x C``, Hermitian). New noise is white Gaussian noise shaped in the frequency domain
by the Cholesky factor of ``S(f) * fs / 2``, so that each channel's power spectrum and every
pair's coherence match the source. Only spectra are kept, never the residual itself.

* Baseline wander lives below ``split_hz`` (a few tenths of a hertz): its spectrum is read
  from 32 s segments, the rest from 8 s ones (more of them, so steadier). Read from 8 s
  segments alone, the wander of the bundled MIT-BIH excerpt came out at 0.79 of its real RMS
  (0.55 on a 16-record cohort).
* Real noise is not stationary: wander comes in episodes (a patient moves, breathes deeply) and
  muscle noise in bursts. Within 10 s strips of the MIT-BIH excerpt's first half the wander's
  log RMS varies with sd 0.49, where stationary noise of the same spectrum varies by 0.33-0.37
  (``test_baseline_wander_comes_in_episodes_as_loud_as_the_records``). So each band (below and
  above ``split_hz``) carries a slow gain: a log envelope, AR(1) from one window of
  ``ENVELOPE_S`` seconds to the next and held over each, whose variance is what the records'
  window log level (:func:`window_logs`) varies by *beyond* what stationary noise of the learnt
  spectrum already varies by (found by simulating it), and whose lag-1 correlation is theirs.
* The level of each band is the *geometric* mean of its segments' power (the spectrum is the
  mean of the segments' spectra, each divided by its band power, times that level): a gain
  that is 1 in the log mean then gives windows as loud as the records' typical window.
  Segments with more than four times a band's median power (artefacts) are left out of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ENVELOPE_S", "Envelope", "fit_cross_spectrum", "fit_envelopes", "robust_sd",
           "synth_noise", "window_logs"]

_CHUNK = 4096
#: window of the noise envelope (seconds): long enough for a window's RMS to be steady, short
#: enough to follow an episode of wander
ENVELOPE_S = 5.0
#: at least this many windows in all before an envelope is learnt
MIN_WINDOWS = 6
#: at most this many seconds of stationary noise are simulated to find its own spread
_SIMULATED_S = 600.0


@dataclass(frozen=True)
class Envelope:
    """Slow gain of one frequency band: log-envelope sd per channel and its lag-1 correlation
    from one window to the next (one AR(1) process shared by the channels)."""

    sd: np.ndarray
    phi: float


def fit_cross_spectrum(residuals: Sequence[np.ndarray], fs: float, split_hz: float = 0.0,
                       seconds: float = 8.0, wander_seconds: float = 32.0
                       ) -> tuple[float, np.ndarray]:
    """Frequency step (Hz) and the ``F x C x C`` complex shaping factor of the residuals: below
    ``split_hz`` from ``wander_seconds`` segments, above from ``seconds`` ones (module doc)."""
    shortest = min(r.shape[1] for r in residuals)
    coarse_n = int(min(shortest, max(16, round(seconds * fs))))
    # two wander segments at least in the shortest record: an artefact can then stand out
    fine_n = max(coarse_n, int(min(shortest // 2, round(wander_seconds * fs))))
    fine_f, density = _band_density(residuals, fs, fine_n, split_hz)
    if coarse_n < fine_n:
        coarse_f, coarse = _band_density(residuals, fs, coarse_n, split_hz)
        above = fine_f >= split_hz
        nearest = np.clip(np.rint(fine_f[above] * coarse_n / fs).astype(np.int64), 0,
                          len(coarse_f) - 1)
        density[above] = coarse[nearest]
    shaping = density * fs / 2.0
    n_ch = shaping.shape[1]
    scale = np.abs(np.trace(shaping, axis1=1, axis2=2)).max() / n_ch
    jitter = (1e-9 * scale + 1e-30) * np.eye(n_ch)
    return fs / fine_n, np.linalg.cholesky(shaping + jitter)


def _band_density(residuals: Sequence[np.ndarray], fs: float, nper: int,
                  split_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Welch cross-spectral density (``F x C x C``) from ``nper``-sample segments, each band's
    level the geometric mean of its segments' power (module doc). A segment with more than
    four times the band's median power (an artefact: electrode off, saturation, a motion burst
    in a PPG) is left out of that band."""
    step = max(1, nper // 2)
    win = np.hanning(nper + 1)[:-1]
    freqs = np.fft.rfftfreq(nper, 1.0 / fs)
    low = freqs < split_hz
    specs, powers = [], []
    for rec in residuals:
        for start in range(0, rec.shape[1] - nper + 1, step):
            seg = rec[:, start:start + nper].astype(np.float64)
            spec = np.fft.rfft(win * (seg - seg.mean(axis=1, keepdims=True)), axis=1)
            power = (np.abs(spec) ** 2).sum(axis=0)
            specs.append(spec)
            powers.append([power[low].sum(), power[~low].sum()])
    band_power = np.array(powers) + 1e-30
    keep = band_power <= 4 * np.median(band_power, axis=0)
    n_ch = residuals[0].shape[0]
    density = np.zeros((len(freqs), n_ch, n_ch), dtype=np.complex128)
    for j, band in enumerate((low, ~low)):
        if not band.any():
            continue
        acc = np.zeros((int(band.sum()), n_ch, n_ch), dtype=np.complex128)
        for spec, p, k in zip(specs, band_power[:, j], keep[:, j], strict=True):
            if k:
                part = spec[:, band] / np.sqrt(p)
                acc += np.einsum("cf,df->fcd", part, part.conj())
        level = np.exp(np.mean(np.log(band_power[keep[:, j], j])))
        density[band] = acc * level / int(keep[:, j].sum())
    return freqs, density * 2.0 / (fs * float(np.sum(win ** 2)))


def synth_noise(df: float, factor: np.ndarray, fs: float, n_samples: int,
                rng: np.random.Generator, envelopes: Sequence[Envelope] = (),
                split_hz: float = 0.0, levels: np.ndarray | None = None) -> np.ndarray:
    """``C x n_samples`` noise whose cross-spectrum follows ``factor`` (see module doc); with
    ``envelopes`` (below and above ``split_hz``), each band under its own slow gain, and with
    ``levels`` (``2 x C``), each band and channel scaled by its factor (a record's own level)."""
    n_ch = factor.shape[1]
    white = np.fft.rfft(rng.standard_normal((n_ch, n_samples)), axis=1)
    freqs = np.fft.rfftfreq(n_samples, 1.0 / fs)
    idx = np.clip(np.rint(freqs / df).astype(np.int64), 0, factor.shape[0] - 1)
    shaped = np.empty_like(white)
    for a in range(0, len(freqs), _CHUNK):
        b = min(len(freqs), a + _CHUNK)
        shaped[:, a:b] = np.einsum("kij,jk->ik", factor[idx[a:b]], white[:, a:b])
    shaped[:, 0] = 0.0  # offsets are added separately
    if not envelopes and levels is None:
        return np.fft.irfft(shaped, n=n_samples, axis=1)
    low = freqs < split_hz
    out = np.zeros((n_ch, n_samples))
    for j, band in enumerate((low, ~low)):
        part = np.fft.irfft(np.where(band, shaped, 0.0), n=n_samples, axis=1)
        if envelopes:
            part *= _gain(envelopes[j], fs, n_samples, rng)
        if levels is not None:
            part *= levels[j][:, None]
        out += part
    return out


def fit_envelopes(residuals: Sequence[np.ndarray], fs: float, df: float, factor: np.ndarray,
                  split_hz: float, rng: np.random.Generator,
                  keep: Sequence[np.ndarray] | None = None) -> tuple[Envelope, ...]:
    """The slow gain of the bands below and above ``split_hz`` (see module doc); none when
    the records hold fewer than ``MIN_WINDOWS`` windows. ``keep`` masks each record's samples
    that are noise (not a beat the model left out, such as an ectopic one).

    The window log level of noise under a gain varies by the stationary noise's own spread plus
    the gain's, which holds over each window (:func:`_gain`).
    """
    width = round(ENVELOPE_S * fs)
    if sum(r.shape[1] // width for r in residuals) < MIN_WINDOWS:
        return ()
    masks = list(keep) if keep is not None else [None] * len(residuals)
    logs = [window_logs(r, fs, width, split_hz, m) for r, m in zip(residuals, masks, strict=True)]
    real = [_spread([x[band] for x in logs]) for band in range(2)]
    steady = [window_logs(synth_noise(df, factor, fs, n, rng), fs, width, split_hz)
              for n in _simulated_lengths(residuals, width)]
    flat = [_spread([x[band] for x in steady]) for band in range(2)]
    envelopes = []
    for (var_real, cov_real), (var_flat, cov_flat) in zip(real, flat, strict=True):
        extra = np.clip(var_real - var_flat, 0.0, None)
        phi = float(np.clip(np.sum(cov_real - cov_flat) / np.sum(extra), 0.0, 0.95)) \
            if extra.sum() > 0 else 0.0
        envelopes.append(Envelope(np.sqrt(extra), phi))
    return tuple(envelopes) if any(np.any(e.sd > 0) for e in envelopes) else ()


def _simulated_lengths(residuals: Sequence[np.ndarray], width: int) -> list[int]:
    """Lengths of stationary noise to simulate: the records' lengths (each at most
    ``_SIMULATED_S``), cycled until ``_SIMULATED_S`` seconds in all, so that the stationary
    spread is read on as many windows as a 10-minute record holds, however short the data."""
    budget = int(_SIMULATED_S * width / ENVELOPE_S)
    lengths = [min(r.shape[1], budget) for r in residuals if r.shape[1] >= 2 * width]
    out: list[int] = []
    while lengths and sum(out) < budget:
        out.extend(lengths)
    return out


def window_logs(x: np.ndarray, fs: float, width: int, split_hz: float,
                keep: np.ndarray | None = None) -> list[np.ndarray]:
    """Log noise level of each window (``C x windows``) of the bands below and above
    ``split_hz``: the log of :func:`robust_sd` (the sd of Gaussian noise), which a few samples
    of beat misfit do not move (a QRS reconstructed a sample off leaves a spike of 1-1.5 mV in
    the residual of the MIT-BIH excerpt, above a floor of 0.1); with ``keep`` (a mask of
    samples), over the kept samples only, NaN for a window less than half kept."""
    k = x.shape[1] // width
    spec = np.fft.rfft(x[:, :k * width], axis=1)
    low = np.fft.rfftfreq(k * width, 1.0 / fs) < split_hz
    mask = np.ones((k, width), dtype=bool) if keep is None else \
        keep[:k * width].reshape(k, width)
    out = []
    for band in (low, ~low):
        part = np.abs(np.fft.irfft(np.where(band, spec, 0.0), n=k * width, axis=1))
        part = part.reshape(x.shape[0], k, width)
        if keep is not None:
            part = np.where(mask[None], part, np.nan)
        logs = np.log(robust_sd(part, axis=2) + 1e-30)
        logs[:, mask.sum(axis=1) < 0.5 * width] = np.nan
        out.append(logs)
    return out


def robust_sd(x: np.ndarray, axis: int, keepdims: bool = False) -> np.ndarray:
    """1.4826 x the median absolute value along ``axis`` (NaN left out): the sd of centred
    Gaussian noise, which a few outlying samples do not move."""
    return 1.4826 * np.nanmedian(np.abs(x), axis=axis, keepdims=keepdims)


def _spread(logs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Within-record variance of the window log level per channel, and its lag-1 covariance
    (NaN windows left out); deviations are first clipped at three robust sds
    (:func:`robust_sd`), so that a window holding an artefact does not pass for a burst of
    noise."""
    dev = [x - np.nanmedian(x, axis=1, keepdims=True) for x in logs
           if np.isfinite(x[0]).sum() >= 2]
    if not dev:
        return np.zeros(1), np.zeros(1)
    scale = robust_sd(np.concatenate(dev, axis=1), axis=1, keepdims=True)
    dev = [np.clip(d, -3 * scale, 3 * scale) for d in dev]
    dev = [d - np.nanmean(d, axis=1, keepdims=True) for d in dev]
    n = sum(int(np.isfinite(d[0]).sum()) - 1 for d in dev)
    pairs = sum(int(np.isfinite(d[0, 1:] * d[0, :-1]).sum()) for d in dev)
    var = sum(np.nansum(d ** 2, axis=1) for d in dev) / max(n, 1)
    cov = sum(np.nansum(d[:, 1:] * d[:, :-1], axis=1) for d in dev) / max(pairs, 1)
    return var, cov


def _gain(env: Envelope, fs: float, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """``C x n_samples`` slow gain: an AR(1) log envelope held over each window, with a short
    linear ramp (a tenth of a window) between windows. Held, not interpolated between window
    centres: a smoothed gain would vary less over a window than the records do, and scaling
    it up to make up for that overshot the mean noise power (the excerpt's PSD distance
    doubled)."""
    if not np.any(env.sd > 0):
        return np.ones((len(env.sd), 1))
    width = ENVELOPE_S * fs
    k = int(np.ceil(n_samples / width))
    z = np.empty(k)
    z[0] = rng.standard_normal()
    step = np.sqrt(1.0 - env.phi ** 2) * rng.standard_normal(k)
    for j in range(1, k):
        z[j] = env.phi * z[j - 1] + step[j]
    ramp = 0.05 * width
    edges = np.arange(k) * width
    knots = np.column_stack([edges + ramp, edges + width - ramp]).ravel()
    held = np.interp(np.arange(n_samples), knots, np.repeat(z, 2))
    return np.exp(np.asarray(env.sd)[:, None] * held[None, :])
