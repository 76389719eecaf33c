"""Helpers shared by the plot modules: the plot types, data validation and drawing.

Every builder raises :class:`_Malformed` (or any other exception) on data that does not have
its documented shape; :func:`_safe` turns that into a skipped plot and a DEBUG log line.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
import io
import logging
from typing import Any
import warnings

import numpy as np

from synthmed.report._format import Table

logger = logging.getLogger("synthmed.report")

# Okabe-Ito colours (safe for colour-blind readers); every series also differs in line style,
# hatch or marker so that nothing is told by colour alone.
C_TRAIN = "#0072B2"
C_SYNTH = "#D55E00"
C_HOLD = "#009E73"

_RC: dict[Any, Any] = {
    "svg.fonttype": "none",  # text stays text: smaller files, selectable, crisp in print
    "svg.hashsalt": "synthmed-report",  # deterministic ids
    "font.size": 8,
    "font.family": "sans-serif",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 9,
    "legend.fontsize": 7,
    "legend.frameon": False,
}


@dataclass(frozen=True)
class PlotImage:
    """One drawn image: a ``data:image/svg+xml;base64,...`` URI and its alternative text."""

    src: str
    alt: str


@dataclass(frozen=True)
class PlotBlock:
    """A titled group of images (small multiples when ``grid``) with an optional data table."""

    key: str
    title: str
    caption: str
    images: tuple[PlotImage, ...] = ()
    grid: bool = False
    tables: tuple[Table, ...] = ()
    skipped: int = 0


class _Malformed(ValueError):
    """Plot data that does not have the documented shape."""


def _safe(label: str, build: Callable[[Any], Any], payload: Any) -> Any:
    try:
        return build(payload)
    except Exception as exc:  # never let plot data break the report
        logger.debug("Plot %s skipped: %s", label, type(exc).__name__)
        return None


# --------------------------------------------------------------------------- validation


def _floats(values: Any, n: int | None = None, *, what: str = "values") -> np.ndarray:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        raise _Malformed(f"{what} must be a list")
    arr = np.array([np.nan if v is None else v for v in values], dtype=float)
    if arr.ndim != 1 or (n is not None and len(arr) != n):
        raise _Malformed(f"{what} has the wrong length")
    return arr


def _shares(values: Any, n: int) -> np.ndarray:
    arr = _floats(values, n)
    arr = np.where(np.isfinite(arr), arr, 0.0)
    if (arr < 0).any():
        raise _Malformed("negative count")
    total = arr.sum()
    return arr / total if total > 0 else arr


def _triple(values: Any) -> tuple[float, float, float] | None:
    if values is None:
        return None
    arr = _floats(values, 3)
    if not np.isfinite(arr).all():
        return None
    return float(arr[0]), float(arr[1]), float(arr[2])


def _edges(values: Any, *, dates: bool = False) -> np.ndarray:
    if dates and isinstance(values, Sequence) and values and isinstance(values[0], str):
        arr = np.array(values, dtype="datetime64[s]").astype(float) / 86_400.0
    else:
        arr = _floats(values, what="bins")
    if len(arr) < 2 or not np.isfinite(arr).all() or (np.diff(arr) <= 0).any():
        raise _Malformed("bins must be increasing finite edges")
    return arr


def _short(name: Any, limit: int = 32) -> str:
    """A label for matplotlib: shortened, with ``$`` escaped so that it is never mathtext."""
    text = str(name)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("$", r"\$")


# --------------------------------------------------------------------------- drawing


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure  # never pyplot: no GUI backend, no global state

    return Figure(figsize=(width, height), layout="constrained")


def _encode(fig: Any, alt: str) -> PlotImage:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return PlotImage(f"data:image/svg+xml;base64,{data}", alt)


def _draw(make: Callable[[], PlotImage]) -> PlotImage:
    import matplotlib as mpl

    with warnings.catch_warnings(), mpl.rc_context(_RC):
        warnings.simplefilter("ignore")  # layout hints are not the reader's business
        return make()
