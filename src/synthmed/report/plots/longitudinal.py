"""Longitudinal plots: the mean and spread of each measure over time since start."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def _trajectories(data: Any) -> PlotBlock | None:
    if not isinstance(data, Mapping) or not isinstance(data.get("measures"), Mapping):
        raise _Malformed("trajectories need a measures mapping")
    unit = str(data.get("unit", "time since start"))
    images = []
    skipped = 0
    for name, spec in list(data["measures"].items())[:12]:
        image = _safe("fidelity.trajectories[measure]", _trajectory_image, (name, spec, unit))
        if image is None:
            skipped += 1
        else:
            images.append(image)
    if not images:
        return None
    return PlotBlock(
        "trajectories", "Trajectories: each measure over time",
        "Mean of each measure over time since the start of the record. Solid blue with a "
        "shaded band (± one standard deviation): real training patients; dashed orange: "
        "synthetic patients (thin dashed: ± one standard deviation); dotted green: real "
        "holdout patients. Synthetic curves should stay as close to the blue ones as the "
        "holdout's do.", tuple(images), grid=True, skipped=skipped)


def _trajectory_image(item: tuple[Any, Any, str]) -> PlotImage:
    name, spec, unit = item
    if not isinstance(spec, Mapping):
        raise _Malformed("measure spec must be a mapping")
    t = _floats(spec.get("time"), what="time")
    curves = {}
    for key in ("train", "synthetic", "holdout"):
        curve = spec.get(key)
        if curve is None and key == "holdout":
            continue
        if not isinstance(curve, Mapping):
            raise _Malformed(f"{key} curve missing")
        mean = _floats(curve.get("mean"), len(t), what="mean")
        sd = (_floats(curve["sd"], len(t), what="sd") if curve.get("sd") is not None
              else None)
        curves[key] = (mean, sd)

    def make() -> PlotImage:
        fig = _figure(3.1, 2.2)
        ax = fig.add_subplot()
        mean, sd = curves["train"]
        ax.plot(t, mean, color=C_TRAIN, linewidth=1.6, label="real (train)")
        if sd is not None:
            ax.fill_between(t, mean - sd, mean + sd, color=C_TRAIN, alpha=0.15, linewidth=0)
        mean, sd = curves["synthetic"]
        ax.plot(t, mean, color=C_SYNTH, linewidth=1.6, linestyle="--", label="synthetic")
        if sd is not None:
            for band in (mean - sd, mean + sd):
                ax.plot(t, band, color=C_SYNTH, linewidth=0.7, linestyle="--")
        if "holdout" in curves:
            ax.plot(t, curves["holdout"][0], color=C_HOLD, linewidth=1.3, linestyle=":",
                    label="holdout")
        ax.set_title(_short(name), loc="left")
        ax.set_xlabel(_short(unit, 40), fontsize=7)
        ax.legend(loc="best")
        return _encode(fig, f"Mean of {name} over time since start: real, synthetic"
                       + (" and holdout" if "holdout" in curves else ""))

    return _draw(make)
