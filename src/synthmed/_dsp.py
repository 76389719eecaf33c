"""Signal processing shared by the signal generator and the signal evaluation.

Beat detection (ECG R peaks, PPG systolic peaks), normal-to-normal RR intervals, heart-rate and
HRV statistics, power spectra and beat extraction on a common, rate-normalised time grid.
Only numpy and scipy: no detector package is needed at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
import re
from typing import Literal

import numpy as np
from scipy import signal as sps

from synthmed.exceptions import DataError

SignalKind = Literal["ecg", "ppg"]
_PPG_WORDS = ("ppg", "pleth", "bvp", "pulse", "spo2", "photopleth")
#: physiological limits of one RR interval, seconds (30 to 240 beats per minute)
RR_MIN_S, RR_MAX_S = 0.25, 2.0
#: an ECG candidate is a beat at this share of the typical QRS energy...
STRONG_QRS = 0.25
#: ...or, at this share, where its deflection is this share of the strong beats' (a wide beat)
WIDE_QRS_ENERGY, WIDE_QRS_AMPLITUDE = 0.08, 0.6
#: a wide beat is not counted within this many sqrt(median RR) seconds after a strong one:
#: the end of a T wave (Bazett's QT of 0.45 s at 60 bpm)
T_WAVE_S = 0.45
#: a beat whose QRS correlates below this with the record's median QRS is ectopic...
ECTOPIC_CORRELATION = 0.8
#: ...in records of at least this many beats (fewer give no steady template), where at most
#: this share of the beats are so
MIN_TEMPLATE_BEATS, MAX_ECTOPIC_SHARE = 8, 0.4


def signal_kind(channels: Sequence[str]) -> SignalKind:
    """``"ppg"`` when a channel name says pulse/pleth/PPG, else ``"ecg"``."""
    names = " ".join(channels).lower()
    return "ppg" if any(w in names for w in _PPG_WORDS) else "ecg"


#: words of channel names that hold no heartbeat: EEG, EOG, EMG and their electrode sites
#: (10-20 system), breathing, oxygen saturation, temperature, movement, markers
_NON_CARDIAC_WORDS = frozenset((
    "eeg", "eog", "emg", "resp", "respiration", "thor", "thorax", "abdo", "abdomen", "airflow",
    "flow", "nasal", "snore", "sao2", "temp", "temperature", "acc", "accel", "accelerometer",
    "position", "light", "event", "marker", "status", "chin", "leg", "fp1", "fp2", "fpz", "f3",
    "f4", "f7", "f8", "fz", "c3", "c4", "cz", "p3", "p4", "pz", "o1", "o2", "oz", "t3", "t4",
    "t5", "t6", "a1", "a2", "m1", "m2", "loc", "roc"))


def non_cardiac(channel: str) -> bool:
    """Whether a channel's name says it holds no heartbeat ("EEG Fpz-Cz", "Resp oro-nasal",
    "EMG submental"); names that say nothing ("ch0", "MLII") are not."""
    words = set(re.split(r"[^a-z0-9]+", channel.lower())) - {""}
    return bool(words & _NON_CARDIAC_WORDS) and not any(w in channel.lower()
                                                         for w in ("ecg", "ekg", *_PPG_WORDS))


def require_heartbeat(channels: Sequence[str]) -> None:
    """Refuse signals whose every channel's name says it holds no heartbeat: synthmed models
    ECG and PPG (beat shapes, rhythm), and read as heartbeats an EEG is noise."""
    if channels and all(non_cardiac(c) for c in channels):
        raise DataError(
            f"None of the channels ({', '.join(map(repr, channels))}) holds a heartbeat by its "
            "name: synthmed's signal generator and evaluation model ECG and PPG (beat shapes, "
            "heart rhythm), not EEG, breathing or movement. Choose the ECG/PPG channels with "
            "channels=[...] (CLI: --channels CH ...).")


def butter_sos(fs: float, low: float | None, high: float) -> np.ndarray:
    """Second-order Butterworth sections: a band-pass, or a low-pass where ``low`` is None.

    The design is cached: the detection classifier filters every 10 s strip of a record with
    the same few designs, and designing them anew took a quarter of a 4-hour Holter's
    evaluation. A copy is returned (scipy's filter wants a writable array).
    """
    return _butter_sos(float(fs), None if low is None else float(low), float(high)).copy()


@lru_cache(maxsize=64)
def _butter_sos(fs: float, low: float | None, high: float) -> np.ndarray:
    if low is None:
        return sps.butter(2, high, btype="low", fs=fs, output="sos")
    return sps.butter(2, [low, high], btype="band", fs=fs, output="sos")


def _band(x: np.ndarray, fs: float, low: float, high: float) -> np.ndarray:
    sos = butter_sos(fs, low, min(high, 0.45 * fs))
    padlen = min(len(x) - 1, 3 * int(fs))
    return sps.sosfiltfilt(sos, x, padlen=padlen)


def detect_beats(x: np.ndarray, fs: float, kind: SignalKind) -> np.ndarray:
    """Sample indices of the beats of one channel (R peaks for ECG, pulse peaks for PPG)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < int(0.5 * fs) or not np.ptp(x) > 0:
        return np.zeros(0, dtype=np.int64)
    if kind == "ppg":
        y = _band(x, fs, 0.5, 8.0)
        period = 1.0 / dominant_rate(y, fs)
        peaks, props = sps.find_peaks(y, distance=max(1, int(0.6 * period * fs)),
                                      prominence=0.1 * np.std(y))
        if len(peaks) == 0:
            return peaks.astype(np.int64)
        keep = props["prominences"] >= 0.35 * np.percentile(props["prominences"], 90)
        return peaks[keep].astype(np.int64)
    # ECG: QRS energy envelope (Pan-Tompkins style), then the R peak on the wide-band signal
    y = _band(x, fs, 5.0, 15.0)
    energy = np.gradient(y) ** 2
    win = max(1, int(0.12 * fs))
    env = np.convolve(energy, np.ones(win) / win, mode="same")
    cand, props = sps.find_peaks(env, distance=max(1, int(RR_MIN_S * fs)),
                                 height=0.05 * np.percentile(env, 99.5))
    if len(cand) == 0:
        return cand.astype(np.int64)
    heights = props["peak_heights"]
    # adaptive level: beats are the candidates near the typical QRS energy
    level = np.median(heights[heights >= np.percentile(heights, 50)])
    wide = _band(x, fs, 0.5, 40.0)
    half = max(1, int(0.08 * fs))
    lo = np.clip(cand - half, 0, len(x) - 1)
    hi = np.clip(cand + half, 1, len(x))
    extremes = np.array([wide[a:b][np.argmax(np.abs(wide[a:b]))] for a, b in
                         zip(lo, hi, strict=True)])
    keep = heights >= STRONG_QRS * level
    keep |= _wide_beats(cand, heights / level, np.abs(extremes), keep, fs)
    cand, lo, hi, extremes = cand[keep], lo[keep], hi[keep], extremes[keep]
    polarity = 1.0 if np.median(extremes) >= 0 else -1.0
    peaks = np.array([a + int(np.argmax(polarity * wide[a:b])) for a, b in
                      zip(lo, hi, strict=True)], dtype=np.int64)
    peaks = np.unique(peaks)
    if len(peaks) > 1:  # two candidates refined onto one beat
        keep = np.concatenate([[True], np.diff(peaks) >= int(RR_MIN_S * fs)])
        peaks = peaks[keep]
    return peaks


def _wide_beats(cand: np.ndarray, energy: np.ndarray, amplitude: np.ndarray, strong: np.ndarray,
                fs: float) -> np.ndarray:
    """Candidates below the QRS energy level that are wide beats, not T waves or noise.

    A ventricular ectopic beat is wide and slow: in the MIT-BIH excerpt its 5-15 Hz energy is
    0.15-0.28 of a narrow QRS's, below the strong-beat level: 30 wide beats of its 5 minutes
    were missed, each read as one long interval (467 beats found, 497 now). Its deflection is
    as tall as a QRS, though, which a T wave's is not, and it lies beyond a T wave's reach
    after a beat.
    """
    weak = ~strong & (energy >= WIDE_QRS_ENERGY)
    if not strong.any() or not weak.any():
        return np.zeros(len(cand), dtype=bool)
    weak &= amplitude >= WIDE_QRS_AMPLITUDE * np.median(amplitude[strong])
    beats = cand[strong]
    reach = T_WAVE_S * np.sqrt(np.median(np.diff(beats)) / fs) if len(beats) > 1 else T_WAVE_S
    j = np.searchsorted(beats, cand)
    since = (cand - beats[np.maximum(j - 1, 0)]) / fs
    until = (beats[np.minimum(j, len(beats) - 1)] - cand) / fs
    since[j == 0], until[j == len(beats)] = np.inf, np.inf
    return weak & (since >= reach) & (until >= RR_MIN_S - 0.05)


def dominant_rate(y: np.ndarray, fs: float) -> float:
    """The strongest pulse rate (Hz, between 0.6 and 3.5 Hz) of a band-passed signal."""
    f, power = sps.welch(y, fs=fs, nperseg=int(min(len(y), 16 * fs)))
    band = (f >= 0.6) & (f <= 3.5)
    return float(f[band][np.argmax(power[band])]) if band.any() else 1.0


def nn_intervals(peaks: np.ndarray, fs: float, ectopic: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """RR intervals (s) and a mask of the normal ones (physiological, within 30% of local median).

    ``rr[i]`` is the interval ending at ``peaks[i + 1]``. With ``ectopic`` (a mask of the
    peaks, :func:`ectopic_beats`), an interval that begins or ends at an ectopic beat is not
    normal either: heart-rate variability counts normal-to-normal intervals only.
    """
    rr = np.diff(np.asarray(peaks, dtype=np.float64)) / fs
    if len(rr) == 0:
        return rr, np.zeros(0, dtype=bool)
    ok = (rr >= RR_MIN_S) & (rr <= RR_MAX_S)
    if ectopic is not None:
        ok &= ~(ectopic[1:] | ectopic[:-1])
    if ok.sum() >= 3:
        local = local_rr(rr, ok)
        ok &= np.abs(rr - local) <= 0.3 * local
    return rr, ok


def local_rr(rr: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Running median (11 intervals) of the normal intervals around each interval."""
    if not ok.any():
        return np.full(len(rr), np.median(rr) if len(rr) else np.nan)
    k = min(11, len(rr) if len(rr) % 2 else len(rr) - 1)
    return sps.medfilt(np.where(ok, rr, np.median(rr[ok])), kernel_size=max(k, 1))


def ectopic_beats(x: np.ndarray, peaks: np.ndarray, fs: float, kind: SignalKind) -> np.ndarray:
    """Mask of the ECG beats whose QRS is not the record's usual one (ventricular ectopic beats).

    Template matching: the correlation of each beat's QRS window (-0.1 to +0.15 s around
    the peak, baseline removed) with the record's median beat. Of the MIT-BIH excerpt's 497
    beats, 333 correlate above 0.95, 50 at 0.8-0.95 and 114 below 0.8 (106 of them the wide
    beats at 0.5-0.8); PPG pulses and records of under ``MIN_TEMPLATE_BEATS`` beats have none.
    """
    peaks = np.asarray(peaks, dtype=np.int64)
    if kind != "ecg" or len(peaks) < MIN_TEMPLATE_BEATS:
        return np.zeros(len(peaks), dtype=bool)
    x = np.asarray(x, dtype=np.float64)
    hp = x - baseline(x, fs, 0.5)
    qrs = hp[np.clip(peaks[:, None] + np.arange(*qrs_window(fs)), 0, len(x) - 1)]
    qrs -= qrs.mean(axis=1, keepdims=True)
    template = np.median(qrs, axis=0)
    if not np.linalg.norm(template) > 0.2 * np.median(np.linalg.norm(qrs, axis=1)):
        # no usual beat: half the beats of one shape, half of its opposite (a device's test
        # signal of spikes of alternating sign) have a median of nothing
        return np.zeros(len(peaks), dtype=bool)
    odd = qrs_correlation(qrs, template) < ECTOPIC_CORRELATION
    # the usual beat must be clearly the commoner one: with two shapes near half and half
    # (spikes of alternating sign, or bigeminy) which one is ectopic is not known
    return odd if odd.mean() <= MAX_ECTOPIC_SHARE else np.zeros(len(peaks), dtype=bool)


def hrv_stats(rr_list: Sequence[np.ndarray]) -> dict[str, float]:
    """Mean heart rate (60 / mean NN, bpm), SDNN and RMSSD (ms) over normal intervals.

    ``rr_list`` holds arrays of NN intervals (seconds): one per record, or one per run of
    adjacent intervals (:func:`nn_runs`); RMSSD uses successive pairs within an array only.
    """
    nn = np.concatenate([np.asarray(r, dtype=float) for r in rr_list]) if rr_list else np.zeros(0)
    diffs = [np.diff(r) for r in rr_list if len(r) > 1]
    sd = np.concatenate(diffs) if diffs else np.zeros(0)
    return {
        "mean_hr": float(60.0 / nn.mean()) if len(nn) else float("nan"),
        "sdnn": float(nn.std(ddof=1) * 1000) if len(nn) > 1 else float("nan"),
        "rmssd": float(np.sqrt(np.mean(sd**2)) * 1000) if len(sd) else float("nan"),
        "n_intervals": float(len(nn)),
    }


def record_nn(x: np.ndarray, fs: float, kind: SignalKind) -> tuple[np.ndarray, np.ndarray]:
    """Beats of one channel and the NN intervals between consecutive normal beats."""
    peaks, runs = record_nn_runs(x, fs, kind)
    return peaks, np.concatenate(runs) if runs else np.zeros(0)


def nn_runs(rr: np.ndarray, ok: np.ndarray) -> list[np.ndarray]:
    """The normal intervals in runs of adjacent ones: an ectopic beat or a missed one ends a
    run, so that a successive difference never spans it (HRV's "successive NN pairs")."""
    edges = np.flatnonzero(np.diff(np.r_[0, ok.astype(np.int8), 0]))
    return [rr[a:b] for a, b in zip(edges[::2], edges[1::2], strict=True)]


def qrs_window(fs: float) -> tuple[int, int]:
    """Samples around a beat's peak that template matching compares (-0.1 to +0.15 s)."""
    return int(-0.1 * fs), int(0.15 * fs) + 1


def qrs_correlation(qrs: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Correlation of each row of ``qrs`` (beats' QRS windows) with ``template``."""
    qrs = qrs - qrs.mean(axis=-1, keepdims=True)
    template = template - template.mean()
    norms = np.linalg.norm(qrs, axis=-1) * np.linalg.norm(template)
    return np.divide(qrs @ template, norms, out=np.ones(len(qrs)), where=norms > 0)


def record_beats(x: np.ndarray, fs: float, kind: SignalKind) -> tuple[np.ndarray, np.ndarray]:
    """Beats of one channel and the mask of the ectopic ones (:func:`ectopic_beats`)."""
    peaks = detect_beats(x, fs, kind)
    return peaks, ectopic_beats(x, peaks, fs, kind)


def record_nn_runs(x: np.ndarray, fs: float, kind: SignalKind) -> tuple[np.ndarray,
                                                                          list[np.ndarray]]:
    """Beats of one channel and its NN intervals in runs of adjacent ones (:func:`nn_runs`)."""
    peaks, ectopic = record_beats(x, fs, kind)
    rr, ok = nn_intervals(peaks, fs, ectopic)
    return peaks, nn_runs(rr, ok)


def reference_channel(record: np.ndarray, fs: float, kind: SignalKind,
                      channels: Sequence[str] = ()) -> int:
    """The channel with the strongest beats (most band power in the QRS / pulse band), among
    those whose names (``channels``) do not say they hold none: an EMG has more power in the
    QRS band than an ECG."""
    if record.shape[0] == 1:
        return 0
    low, high = (5.0, 15.0) if kind == "ecg" else (0.5, 8.0)
    power = np.array([np.var(_band(ch.astype(np.float64), fs, low, high)) / (np.var(ch) + 1e-12)
                      for ch in record])
    barred = np.array([non_cardiac(c) for c in channels], dtype=bool)
    if len(barred) == len(power) and not barred.all():
        power[barred] = -np.inf
    return int(np.argmax(power))


def baseline(x: np.ndarray, fs: float, cutoff: float) -> np.ndarray:
    """Slow baseline (wander) of each channel: zero-phase low-pass at ``cutoff`` Hz."""
    sos = butter_sos(fs, None, cutoff)
    padlen = min(x.shape[-1] - 1, int(3 * fs / cutoff))
    return sps.sosfiltfilt(sos, x, axis=-1, padlen=padlen)


def warp_times(grid: np.ndarray, factor: np.ndarray | float) -> np.ndarray:
    """Stretch the part of a beat after its peak (t > 0) by ``factor`` (QT follows RR)."""
    f = np.asarray(factor, dtype=float)[..., None]
    return np.where(grid > 0, grid * f, grid)


def extract_beats(record: np.ndarray, peaks: np.ndarray, fs: float, grid: np.ndarray,
                  factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Beats on the common grid (seconds around the peak), each warped by its factor.

    Returns ``(beats, kept)``: an ``n x C x W`` array and the indices of the peaks whose whole
    window lies inside the record.
    """
    n = record.shape[1]
    times = peaks[:, None] / fs + warp_times(grid, factors)  # n x W, seconds
    kept = np.flatnonzero((times[:, 0] >= 0) & (times[:, -1] <= (n - 1) / fs))
    # linear interpolation on the uniform sample grid, by index arithmetic: np.interp per
    # beat searched (and, for a strided record, copied) the whole record each call, which
    # made a 2-hour recording take minutes
    pos = np.clip(times[kept] * fs, 0.0, n - 1)
    left = np.minimum(np.floor(pos).astype(np.int64), max(n - 2, 0))
    frac = pos - left
    right = np.minimum(left + 1, n - 1)
    data = np.asarray(record, dtype=np.float64)
    beats = (data[:, left] * (1.0 - frac) + data[:, right] * frac).transpose(1, 0, 2)
    return np.ascontiguousarray(beats), kept


def welch_psd(x: np.ndarray, fs: float, seconds: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density of each row of ``x`` (frequencies, ``C x F``)."""
    nper = int(min(x.shape[-1], max(16, round(seconds * fs))))
    return sps.welch(x, fs=fs, nperseg=nper, axis=-1)
