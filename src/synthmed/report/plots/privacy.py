"""Privacy plots: histograms of distances to the closest training record (DCR, NNDR)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from synthmed.report.plots._common import (
    C_HOLD,
    C_SYNTH,
    PlotBlock,
    PlotImage,
    _draw,
    _edges,
    _encode,
    _figure,
    _Malformed,
    _shares,
)


def _distance_hist(key: str, title: str, xlabel: str, caption: str) -> Callable[[Any], PlotBlock]:
    def build(data: Any) -> PlotBlock:
        if not isinstance(data, Mapping):
            raise _Malformed(f"{key} must be a mapping")
        edges = _edges(data.get("bins"))
        n = len(edges) - 1
        synth = _shares(data.get("synthetic"), n)
        hold = _shares(data.get("holdout"), n)

        def make() -> PlotImage:
            fig = _figure(5.0, 2.6)
            ax = fig.add_subplot()
            ax.stairs(hold, edges, fill=True, color=C_HOLD, alpha=0.35,
                      label="holdout → nearest train record")
            ax.stairs(synth, edges, color=C_SYNTH, linewidth=1.8, linestyle="--",
                      label="synthetic → nearest train record")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("share of records")
            ax.legend(loc="best")
            return _encode(fig, f"{title}: synthetic records versus real holdout records")

        return PlotBlock(key, title, caption, (_draw(make),))

    return build
