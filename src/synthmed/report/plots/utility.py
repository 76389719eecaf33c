"""Utility plots: ROC curves on the holdout, one panel per model."""

from __future__ import annotations

from collections.abc import Mapping
import math
from typing import Any

import numpy as np

from synthmed.report.plots._common import (
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

MAX_ROC_PANELS = 6


def _roc(data: Any) -> PlotBlock | None:
    if not isinstance(data, Mapping):
        raise _Malformed("roc must be a mapping")
    images: list[PlotImage] = []
    skipped = 0
    for model, curves in list(data.items())[:MAX_ROC_PANELS]:
        image = _safe("utility.roc[model]", _roc_image, (model, curves))
        if image is None:
            skipped += 1
        else:
            images.append(image)
    if not images:
        return None
    return PlotBlock(
        "roc",
        "ROC curves on real holdout patients",
        "Each panel is one model type, tested on the real holdout. Solid blue: trained on real "
        "data; dashed orange: trained on synthetic data. Curves that lie on top of each other "
        "mean the synthetic data teaches a model as well as the real data does.",
        tuple(images),
        grid=True,
        skipped=skipped,
    )


def _roc_curve(curve: Any) -> tuple[np.ndarray, np.ndarray, float | None]:
    if not isinstance(curve, Mapping):
        raise _Malformed("curve must be a mapping")
    fpr = _floats(curve.get("fpr"), what="fpr")
    tpr = _floats(curve.get("tpr"), len(fpr), what="tpr")
    if len(fpr) < 2 or not (np.isfinite(fpr).all() and np.isfinite(tpr).all()):
        raise _Malformed("curve needs finite points")
    auc = curve.get("auc")
    auc_f = float(auc) if isinstance(auc, int | float) and not isinstance(auc, bool) else None
    return fpr, tpr, auc_f if auc_f is not None and math.isfinite(auc_f) else None


def _roc_image(item: tuple[Any, Any]) -> PlotImage:
    model, curves = item
    if not isinstance(curves, Mapping):
        raise _Malformed("curves must be a mapping")
    lines = []
    for key, label, colour, style in (("real", "trained on real", C_TRAIN, "-"),
                                      ("synthetic", "trained on synthetic", C_SYNTH, "--"),
                                      ("augmented", "trained on real + synthetic", C_SYNTH,
                                       "--")):
        if curves.get(key) is not None:
            lines.append((label, colour, style, *_roc_curve(curves[key])))
    if not lines:
        raise _Malformed("no curve")

    def make() -> PlotImage:
        fig = _figure(3.0, 2.8)
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], color="#999999", linewidth=0.8, linestyle=":")
        for label, colour, style, fpr, tpr, auc in lines:
            text = label + (f" (AUROC {auc:.3f})" if auc is not None else "")
            ax.plot(fpr, tpr, color=colour, linestyle=style, linewidth=1.6, label=text)
        ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false-positive rate",
               ylabel="true-positive rate")
        ax.set_aspect("equal")
        ax.set_title(_short(model), loc="left")
        ax.legend(loc="lower right")
        return _encode(fig, f"ROC curves of model {model}, trained on real and on synthetic data")

    return _draw(make)
