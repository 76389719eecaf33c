"""Clinical plots: the forest plot of effect estimates, with its table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from synthmed.report._format import Table, fmt
from synthmed.report.plots._common import (
    C_HOLD,
    C_SYNTH,
    C_TRAIN,
    PlotBlock,
    PlotImage,
    _draw,
    _encode,
    _figure,
    _Malformed,
    _short,
    _triple,
)

MAX_FOREST_ROWS = 40


def _forest(data: Any) -> PlotBlock | None:
    options: Mapping[str, Any] = {}
    if isinstance(data, Mapping):
        options, data = data, data.get("rows")
    if isinstance(data, str) or not isinstance(data, Sequence) or not data:
        raise _Malformed("forest needs a list of rows")
    rows = []
    for row in data:
        if not isinstance(row, Mapping) or "term" not in row:
            raise _Malformed("forest row needs a term")
        real, synth = _triple(row.get("real")), _triple(row.get("synthetic"))
        hold = _triple(row.get("holdout")) if row.get("holdout") is not None else None
        rows.append((str(row["term"]), real, synth, hold))
    log_scale = options.get("log_scale") is True
    ref_raw = options.get("reference", 1.0 if log_scale else 0.0)
    ref = float(ref_raw) if isinstance(ref_raw, int | float) and not isinstance(
        ref_raw, bool) else (1.0 if log_scale else 0.0)
    label = str(options.get("label", "estimate"))
    if log_scale and any(v is not None and min(v) <= 0 for r in rows for v in r[1:]):
        raise _Malformed("log scale needs positive values")
    shown = rows[:MAX_FOREST_ROWS]
    image = _draw(lambda: _forest_image(shown, ref, log_scale, label))
    table = Table(
        "Effect estimates (95% interval)",
        ("term", f"real ({label})", f"synthetic ({label})", f"holdout ({label})"),
        tuple((t, _est(r), _est(s), _est(h)) for t, r, s, h in rows),
    )
    if all(h is None for *_, h in rows):
        table = Table(table.title, table.header[:3], tuple(r[:3] for r in table.rows))
    return PlotBlock(
        "forest",
        "Effect estimates: real versus synthetic",
        "Each row is one term of the clinical model, with its 95% interval. Circles: fitted on "
        "real data; squares: fitted on synthetic data; triangles: fitted on the real holdout. "
        "Conclusions agree when estimates fall on the same side of the vertical line and the "
        "intervals overlap.",
        (image,),
        tables=(table,),
    )


def _est(value: tuple[float, float, float] | None) -> str:
    return "—" if value is None else f"{fmt(value[0])} ({fmt(value[1])} – {fmt(value[2])})"


def _forest_image(rows: list[Any], ref: float, log_scale: bool, label: str) -> PlotImage:
    n = len(rows)
    fig = _figure(5.6, 1.0 + 0.32 * n)
    ax = fig.add_subplot()
    series = ((1, "real", C_TRAIN, "o", 0.22), (2, "synthetic", C_SYNTH, "s", -0.22),
              (3, "holdout", C_HOLD, "^", 0.0))
    for index, name, colour, marker, offset in series:
        ys, xs, lo, hi = [], [], [], []
        for i, row in enumerate(rows):
            value = row[index]
            if value is not None:
                ys.append(i + offset)
                xs.append(value[0])
                lo.append(value[0] - value[1])
                hi.append(value[2] - value[0])
        if xs:
            ax.errorbar(xs, ys, xerr=[np.abs(lo), np.abs(hi)], fmt=marker, color=colour,
                        markersize=4, linewidth=1.1, capsize=2, label=name)
    ax.axvline(ref, color="#555555", linewidth=0.8, linestyle="--")
    if log_scale:
        import matplotlib.ticker as mticker

        ax.set_xscale("log")
        plain = mticker.FuncFormatter(lambda v, _pos: f"{v:g}")
        ax.xaxis.set_major_locator(mticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    ax.set_yticks(range(n), [_short(r[0], 28) for r in rows])
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xlabel(label)
    ax.legend(loc="best")
    return _encode(fig, f"Forest plot of {n} effect estimates, real versus synthetic")
