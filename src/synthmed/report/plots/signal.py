"""Signal plots: a stretch of waveform, the average beat per channel and the RR histogram."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from synthmed.report.plots._common import (
    C_HOLD,
    C_SYNTH,
    C_TRAIN,
    PlotBlock,
    PlotImage,
    _draw,
    _encode,
    _figure,
    _floats,
    _Malformed,
    _safe,
    _short,
)
from synthmed.report.plots.fidelity import _column_image


def _signal(data: Any) -> PlotBlock | None:
    if not isinstance(data, Mapping):
        raise _Malformed("signal must be a mapping")
    images = []
    waves = _safe("fidelity.signal.waveforms", _waveform_image, data.get("waveforms"))
    if waves is not None:
        images.append(waves)
    beats = data.get("average_beats")
    if isinstance(beats, Mapping) and isinstance(beats.get("channels"), Mapping):
        for name in list(beats["channels"])[:12]:
            image = _safe("fidelity.signal.beat", _beat_image,
                          (name, beats.get("time"), beats["channels"][name]))
            if image is not None:
                images.append(image)
    if isinstance(data.get("rr"), Mapping):
        rr = _safe("fidelity.signal.rr", _column_image,
                   ("RR interval (s)", {"kind": "numeric", **data["rr"]}))
        if rr is not None:
            images.append(rr)
    if not images:
        return None
    return PlotBlock(
        "signal", "Signals: waveform, average beat and rhythm",
        "Top: a few seconds of real training (blue), synthetic (orange, dashed) and holdout "
        "(green, dotted) signal. Then the average beat of each channel, aligned on the beat "
        "peak: the synthetic beat should follow the real ones. Last: the spread of intervals "
        "between beats.",
        tuple(images), grid=True)


def _lines(time: Any, spec: Mapping[str, Any]) -> tuple[np.ndarray, list[Any]]:
    t = _floats(time, what="time")
    series = []
    for key, label, colour, style in (("train", "real (train)", C_TRAIN, "-"),
                                      ("synthetic", "synthetic", C_SYNTH, "--"),
                                      ("holdout", "holdout", C_HOLD, ":")):
        if spec.get(key) is not None:
            series.append((label, colour, style, _floats(spec[key], len(t))))
    if not series:
        raise _Malformed("no series")
    return t, series


def _waveform_image(spec: Any) -> PlotImage:
    if not isinstance(spec, Mapping):
        raise _Malformed("waveforms must be a mapping")
    t, series = _lines(spec.get("time"), spec)

    def make() -> PlotImage:
        fig = _figure(3.1 * 2, 0.9 + 0.8 * len(series))
        axes = fig.subplots(len(series), 1, sharex=True, squeeze=False)[:, 0]
        for ax, (label, colour, style, y) in zip(axes, series, strict=True):
            ax.plot(t, y, color=colour, linestyle=style, linewidth=0.8)
            ax.set_ylabel(label, fontsize=7)
        axes[-1].set_xlabel("seconds")
        return _encode(fig, "A few seconds of real and synthetic signal, one panel each")

    return _draw(make)


def _beat_image(item: tuple[Any, Any, Any]) -> PlotImage:
    name, time, spec = item
    if not isinstance(spec, Mapping):
        raise _Malformed("beat spec must be a mapping")
    t, series = _lines(time, spec)

    def make() -> PlotImage:
        fig = _figure(3.1, 2.1)
        ax = fig.add_subplot()
        for label, colour, style, y in series:
            ax.plot(t, y, color=colour, linestyle=style, linewidth=1.4, label=label)
        ax.set_title(_short(name), loc="left")
        ax.set_xlabel("seconds from the beat peak", fontsize=7)
        ax.legend(loc="best")
        return _encode(fig, f"Average beat of channel {name}: real and synthetic")

    return _draw(make)
