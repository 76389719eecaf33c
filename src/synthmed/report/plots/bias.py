"""Bias plots: the patient-group table and charts, and any section's extra tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from synthmed.report._format import records_table
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

MAX_GROUP_BARS = 40


def _groups(data: Any) -> PlotBlock | None:
    if isinstance(data, str) or not isinstance(data, Sequence) or not data:
        raise _Malformed("groups must be a non-empty list")
    if not all(isinstance(r, Mapping) and "attribute" in r and "group" in r for r in data):
        raise _Malformed("every group needs attribute and group")
    table = records_table("Groups", data)
    images = []
    share = _safe("bias.groups.share", _group_chart, (data, "share", "share of records"))
    if share is not None:
        images.append(share)
    outcome = _safe("bias.groups.outcome", _group_chart, (data, "outcome", "outcome rate"))
    if outcome is not None:
        images.append(outcome)
    return PlotBlock(
        "groups",
        "Patient groups",
        "How each group is represented in the real and synthetic data, and its outcome rate. "
        "Groups flagged as small (under the threshold) give unstable figures.",
        tuple(images),
        grid=False,
        tables=(table,) if table is not None else (),
    )


def _group_chart(item: tuple[Sequence[Mapping[str, Any]], str, str]) -> PlotImage:
    data, prefix, xlabel = item
    rows = [r for r in data if r.get(f"{prefix}_train") is not None
            and r.get(f"{prefix}_synthetic") is not None][:MAX_GROUP_BARS]
    if not rows:
        raise _Malformed("no rows with both values")
    labels = [_short(f"{r['attribute']} = {r['group']}", 30) for r in rows]
    real = _floats([r[f"{prefix}_train"] for r in rows])
    synth = _floats([r[f"{prefix}_synthetic"] for r in rows])
    hold_raw = [r.get(f"{prefix}_holdout") for r in rows]
    hold = _floats(hold_raw) if all(v is not None for v in hold_raw) else None
    intervals = [r.get(f"{prefix}_synthetic_interval") for r in rows]
    err = None
    if all(isinstance(v, Sequence) and not isinstance(v, str) and len(v) == 2 for v in intervals):
        lo = _floats([v[0] for v in intervals])  # type: ignore[index]
        hi = _floats([v[1] for v in intervals])  # type: ignore[index]
        err = np.vstack([np.abs(synth - lo), np.abs(hi - synth)])

    def make() -> PlotImage:
        n = len(rows)
        fig = _figure(4.4, 0.9 + 0.3 * n)
        ax = fig.add_subplot()
        y = np.arange(n)
        ax.scatter(real, y - 0.15, marker="o", color=C_TRAIN, label="real (train)", zorder=3)
        ax.errorbar(synth, y + 0.15, xerr=err, fmt="s", color=C_SYNTH, markersize=4,
                    capsize=2, label="synthetic", zorder=3)
        if hold is not None:
            ax.scatter(hold, y, marker="^", color=C_HOLD, label="holdout", zorder=3)
        ax.set_yticks(y, labels)
        ax.set_ylim(n - 0.5, -0.5)
        ax.grid(axis="y", color="#dddddd", linewidth=0.5)
        ax.set_xlabel(xlabel)
        ax.legend(loc="best")
        return _encode(fig, f"{xlabel.capitalize()} per group, real versus synthetic")

    return _draw(make)


def _extra_tables(data: Any) -> PlotBlock | None:
    if not isinstance(data, Mapping):
        raise _Malformed("tables must be a mapping")
    tables = []
    for title, records in data.items():
        if isinstance(records, Sequence) and not isinstance(records, str):
            table = records_table(str(title), records)
            if table is not None:
                tables.append(table)
    if not tables:
        return None
    return PlotBlock("tables", "Further tables", "", tables=tuple(tables))
