"""Coloured, cross-channel-coupled Gaussian noise with a learnt cross-spectrum.

The residual of a record (what the beat model does not explain: baseline wander, muscle and
mains noise, beat-to-beat detail) is summarised by its Welch cross-spectral matrix per frequency
``S(f)`` (``C x C``, Hermitian). New noise is white Gaussian noise shaped in the frequency domain
by the Cholesky factor of ``S(f) * fs / 2``, so that each channel's power spectrum and every
pair's coherence match the source on average. Only spectra are kept, never the residual itself.
Segments with more than four times the median power (artefacts) are left out of the average.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["fit_cross_spectrum", "synth_noise"]

_CHUNK = 4096


def fit_cross_spectrum(residuals: Sequence[np.ndarray], fs: float,
                       seconds: float = 8.0) -> tuple[float, np.ndarray]:
    """Frequency step (Hz) and the ``F x C x C`` complex shaping factor of the residuals."""
    nper = int(min(min(r.shape[1] for r in residuals), max(16, round(seconds * fs))))
    step = max(1, nper // 2)
    win = np.hanning(nper + 1)[:-1]
    n_ch = residuals[0].shape[0]
    specs = []
    for rec in residuals:
        for start in range(0, rec.shape[1] - nper + 1, step):
            seg = rec[:, start:start + nper].astype(np.float64)
            specs.append(np.fft.rfft(win * (seg - seg.mean(axis=1, keepdims=True)), axis=1))
    # artefact segments (electrode off, saturation) would dominate a plain average: drop
    # segments with more than 4 times the median power
    power = np.array([np.sum(np.abs(x) ** 2) for x in specs])
    keep = power <= 4 * np.median(power)
    acc = np.zeros((nper // 2 + 1, n_ch, n_ch), dtype=np.complex128)
    for spec in (x for x, k in zip(specs, keep, strict=True) if k):
        acc += np.einsum("cf,df->fcd", spec, spec.conj())
    density = acc / max(int(keep.sum()), 1) * 2.0 / (fs * float(np.sum(win**2)))
    shaping = density * fs / 2.0
    scale = np.abs(np.trace(shaping, axis1=1, axis2=2)).max() / n_ch
    jitter = (1e-9 * scale + 1e-30) * np.eye(n_ch)
    factor = np.linalg.cholesky(shaping + jitter)
    return fs / nper, factor


def synth_noise(df: float, factor: np.ndarray, fs: float, n_samples: int,
                rng: np.random.Generator) -> np.ndarray:
    """``C x n_samples`` noise whose cross-spectrum follows ``factor`` (see module doc)."""
    n_ch = factor.shape[1]
    white = np.fft.rfft(rng.standard_normal((n_ch, n_samples)), axis=1)
    freqs = np.fft.rfftfreq(n_samples, 1.0 / fs)
    idx = np.clip(np.rint(freqs / df).astype(np.int64), 0, factor.shape[0] - 1)
    shaped = np.empty_like(white)
    for a in range(0, len(freqs), _CHUNK):
        b = min(len(freqs), a + _CHUNK)
        shaped[:, a:b] = np.einsum("kij,jk->ik", factor[idx[a:b]], white[:, a:b])
    shaped[:, 0] = 0.0  # offsets are added separately
    return np.fft.irfft(shaped, n=n_samples, axis=1)
