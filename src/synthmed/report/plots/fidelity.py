"""Fidelity plots: column-by-column distributions and association-difference heatmaps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import math
from typing import Any

import numpy as np

from synthmed.report._format import fmt
from synthmed.report.plots._common import (
    C_HOLD,
    C_SYNTH,
    C_TRAIN,
    PlotBlock,
    PlotImage,
    _draw,
    _edges,
    _encode,
    _figure,
    _floats,
    _Malformed,
    _safe,
    _shares,
    _short,
)

MAX_CATEGORIES = 15


def _columns(data: Any) -> PlotBlock | None:
    if not isinstance(data, Mapping):
        raise _Malformed("columns must be a mapping")
    images: list[PlotImage] = []
    skipped = 0
    for name, spec in data.items():
        image = _safe(f"fidelity.columns[{len(images) + skipped}]", _column_image, (name, spec))
        if image is None:
            skipped += 1
        else:
            images.append(image)
    if not images:
        return None
    return PlotBlock(
        "columns",
        "Column by column: real, synthetic and holdout",
        "Each panel shows one column as shares of records. Filled blue: the real training data; "
        "dashed or outlined orange: the synthetic data; dotted or light green: the real holdout "
        "(fresh real patients, "
        "the best a generator can reach). Synthetic should differ from training no more than "
        "the holdout does.",
        tuple(images),
        grid=True,
        skipped=skipped,
    )


def _column_image(item: tuple[Any, Any]) -> PlotImage:
    name, spec = item
    if not isinstance(spec, Mapping):
        raise _Malformed("column spec must be a mapping")
    kind = spec.get("kind", "numeric")
    if kind in ("numeric", "integer", "datetime"):
        return _draw(lambda: _numeric_column(str(name), spec, kind == "datetime"))
    if kind in ("categorical", "boolean"):
        return _draw(lambda: _categorical_column(str(name), spec))
    raise _Malformed("unknown column kind")


def _missing_note(spec: Mapping[str, Any]) -> str:
    miss = spec.get("missing")
    if not isinstance(miss, Mapping):
        return ""
    parts = []
    for key, label in (("train", "train"), ("synthetic", "synth"), ("holdout", "holdout")):
        value = miss.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            parts.append(f"{label} {value:.0%}")
    return "missing: " + ", ".join(parts) if parts else ""


def _numeric_column(name: str, spec: Mapping[str, Any], dates: bool) -> PlotImage:
    edges = _edges(spec.get("bins"), dates=dates)
    n = len(edges) - 1
    train = _shares(spec.get("train"), n)
    synth = _shares(spec.get("synthetic"), n)
    hold = _shares(spec["holdout"], n) if spec.get("holdout") is not None else None
    fig = _figure(3.1, 2.1)
    ax = fig.add_subplot()
    ax.stairs(train, edges, fill=True, color=C_TRAIN, alpha=0.35, label="real (train)")
    ax.stairs(synth, edges, color=C_SYNTH, linewidth=1.6, linestyle="--", label="synthetic")
    if hold is not None:
        ax.stairs(hold, edges, color=C_HOLD, linewidth=1.3, linestyle=":", label="holdout")
    if dates:
        import matplotlib.dates as mdates

        locator = mdates.AutoDateLocator(maxticks=4)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    else:
        ax.locator_params(axis="x", nbins=5)
    ax.set_ylabel("share of records")
    _column_title(ax, name, spec, "")
    ax.legend(loc="best")
    alt = f"Distribution of column {name}: real training data, synthetic data" + (
        " and real holdout" if hold is not None else ""
    )
    return _encode(fig, alt)


def _categorical_column(name: str, spec: Mapping[str, Any]) -> PlotImage:
    cats = spec.get("categories")
    if isinstance(cats, str) or not isinstance(cats, Sequence) or not cats:
        raise _Malformed("categories must be a non-empty list")
    n = len(cats)
    train = _shares(spec.get("train"), n)
    synth = _shares(spec.get("synthetic"), n)
    hold = _shares(spec["holdout"], n) if spec.get("holdout") is not None else None
    shown = min(n, MAX_CATEGORIES)
    labels = [_short(c, 18) for c in cats[:shown]]
    # filled / outlined / filled-light, always in this order within a category
    series = [("real (train)", train, C_TRAIN, True), ("synthetic", synth, C_SYNTH, False)]
    if hold is not None:
        series.append(("holdout", hold, C_HOLD, True))
    fig = _figure(3.1, max(2.1, 0.9 + 0.22 * shown * len(series) / 2))
    ax = fig.add_subplot()
    y = np.arange(shown)
    height = 0.8 / len(series)
    for i, (label, values, colour, filled) in enumerate(series):
        ax.barh(
            y - 0.4 + height * (i + 0.5), values[:shown], height * 0.9, label=label,
            facecolor=colour if filled else "white", edgecolor=colour,
            alpha=0.7 if filled else 1.0, linewidth=0.4 if filled else 1.3,
        )
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    _column_title(ax, name, spec, "share of records"
                  + (f" ({shown} of {n} categories)" if shown < n else ""))
    ax.legend(loc="best")
    return _encode(fig, f"Category shares of column {name}: real, synthetic and holdout")


def _column_title(ax: Any, name: str, spec: Mapping[str, Any], xlabel: str) -> None:
    ax.set_title(_short(name), loc="left")
    note = _missing_note(spec)
    text = "\n".join(t for t in (xlabel, note) if t)
    if text:
        ax.set_xlabel(text, fontsize=7)


def _association(data: Any) -> PlotBlock | None:
    if not isinstance(data, Mapping):
        raise _Malformed("association_diff must be a mapping")
    cols = data.get("columns")
    if isinstance(cols, str) or not isinstance(cols, Sequence) or not cols:
        raise _Malformed("columns must be a non-empty list")
    k = len(cols)
    panels = []
    for key, label in (("synthetic", "synthetic vs train"), ("holdout", "holdout vs train")):
        if data.get(key) is None:
            continue
        rows = data[key]
        if isinstance(rows, str) or not isinstance(rows, Sequence) or len(rows) != k:
            raise _Malformed("matrix must be k x k")
        matrix = np.vstack([_floats(r, k) for r in rows])
        panels.append((label, matrix))
    if not panels or panels[0][0] != "synthetic vs train":
        raise _Malformed("the synthetic matrix is required")
    threshold = data.get("threshold")
    thr = float(threshold) if isinstance(threshold, int | float) and not isinstance(
        threshold, bool) else None
    image = _draw(lambda: _heatmaps([_short(c, 20) for c in cols], panels, thr))
    caption = (
        "How much each pairwise association (correlation, Cramér's V or correlation ratio) "
        "differs from the real training data. Darker cells differ more. The holdout panel "
        "shows the difference fresh real data shows by chance."
    )
    if thr is not None:
        caption += f" Cells marked × differ by more than {fmt(thr)}."
    return PlotBlock("association_diff", "Associations between columns", caption, (image,))


def _heatmaps(labels: list[str], panels: list[tuple[str, np.ndarray]],
              thr: float | None) -> PlotImage:
    k = len(labels)
    finite = np.concatenate([m[np.isfinite(m)] for _, m in panels])
    signed = bool((finite < 0).any())
    top = float(np.abs(finite).max()) if finite.size else 1.0
    top = max(top, thr or 0.0, 1e-9)
    side = min(6.0, 1.6 + 0.16 * k)
    fig = _figure(side * len(panels) + 0.8, side + 0.3)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    image = None
    for ax, (label, matrix) in zip(axes, panels, strict=True):
        image = ax.imshow(
            np.ma.masked_invalid(matrix),
            cmap="RdBu_r" if signed else "viridis_r",
            vmin=-top if signed else 0.0, vmax=top, interpolation="nearest",
        )
        step = max(1, math.ceil(k / 40))
        ticks = np.arange(0, k, step)
        size = 7 if k <= 15 else 5
        ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=90, fontsize=size)
        ax.set_yticks(ticks, [labels[i] for i in ticks], fontsize=size)
        ax.set_title(label)
        ax.spines[:].set_visible(False)
        if thr is not None:
            yy, xx = np.nonzero(np.abs(np.nan_to_num(matrix)) > thr)
            ax.scatter(xx, yy, marker="x", s=max(4.0, 120.0 / k), color="white",
                       linewidths=0.8)
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="difference in association")
    alt = "Heatmap of association differences: " + ", ".join(p[0] for p in panels)
    return _encode(fig, alt)
