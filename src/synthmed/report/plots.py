'''Plots of the HTML report, drawn with matplotlib and embedded as ``data:`` SVG images.

The report renders only: every number drawn here was computed by an evaluation section and
handed over in ``EvaluationResult.plots[section]``. Each plot is drawn only when its data is
present and well formed; anything missing or malformed is skipped (a missing plot is simply
not shown, the report never fails because of plot data). Skips are logged at DEBUG level by
the ``synthmed.report`` logger, naming the plot and the error type, never a value.

Plot data accepted
------------------
All values are JSON-able (lists, not arrays, though numpy arrays work too). Counts may be raw
counts or proportions: each series is drawn as a share of its own total. ``null``/NaN in a
matrix is drawn blank. Keys not listed here are ignored.

``plots["fidelity"]["columns"]`` — per-column distributions, drawn as small multiples::

    {column_name: {"kind": "numeric",            # or "integer", or "datetime" (bins in days since
                   "bins": [e0, e1, ..., en],    #   1970-01-01, or ISO date strings)
                   "train": [c1, ..., cn],       # required
                   "synthetic": [c1, ..., cn],   # required
                   "holdout": [c1, ..., cn],     # optional
                   "missing": {"train": 0.02, "synthetic": 0.03, "holdout": 0.02}},  # optional
     column_name: {"kind": "categorical",        # or "boolean"
                   "categories": ["a", "b", ...],  # at most 15 are drawn, in the order given
                   "train": [...], "synthetic": [...], "holdout": [...],          # one per category
                   "missing": {...}}}            # optional, as above

``plots["fidelity"]["association_diff"]`` — heatmaps of association differences::

    {"columns": [c1, ..., ck],
     "synthetic": [[...k...], ...k rows],   # |assoc(synthetic) - assoc(train)|, required
     "holdout": [[...], ...],               # |assoc(holdout) - assoc(train)|, optional
     "threshold": 0.10}                     # optional: cells above it are marked with "×"

``plots["privacy"]["dcr"]`` — distance to the closest training record (and, same shape,
``plots["privacy"]["nndr"]`` for nearest/second-nearest distance ratios)::

    {"bins": [e0, ..., en],
     "synthetic": [c1, ..., cn],   # synthetic -> train, required
     "holdout": [c1, ..., cn]}     # holdout -> train, required

``plots["utility"]["roc"]`` — ROC curves on the holdout, one panel per model (at most 6)::

    {model_name: {"real": {"fpr": [...], "tpr": [...], "auc": 0.81},      # trained on train
                  "synthetic": {"fpr": [...], "tpr": [...], "auc": 0.79}}}  # "auc" optional

``plots["clinical"]["forest"]`` — effect estimates with 95% intervals, as a list of rows or
as a dict with options::

    [{"term": "age", "real": [est, lo, hi], "synthetic": [est, lo, hi],
      "holdout": [est, lo, hi]}, ...]                                      # holdout optional
    {"rows": [...as above...], "reference": 1.0, "log_scale": true,      # defaults 0.0 / false
     "label": "hazard ratio"}

    The rows are also printed as a table (at most 40 are drawn).

``plots["bias"]["groups"]`` — the subgroup table; one flat dict per group, every key shown::

    [{"attribute": "sex", "group": "F",                       # required
      "n_train": 412, "n_synthetic": 398,                     # optional, and any other keys
      "share_train": 0.52, "share_synthetic": 0.50, "share_holdout": 0.51,
      "outcome_train": 0.31, "outcome_synthetic": 0.29,
      "outcome_synthetic_interval": [0.25, 0.33], "flag": "small group"}, ...]

    With ``share_train`` and ``share_synthetic`` a representation chart is drawn; with
    ``outcome_train`` and ``outcome_synthetic`` an outcome-rate chart.

``plots["fidelity"]["signal"]`` — device signals: a stretch of waveform and the average beat
per channel, real versus synthetic, and the RR-interval histogram (drawn when present)::

    {"channel": "II",                                   # the waveform's channel
     "waveforms": {"time": [s0, ...],                   # seconds, required
                   "train": [...], "synthetic": [...],  # required, one value per time
                   "holdout": [...]},                   # optional
     "average_beats": {"time": [...],                   # seconds around the beat peak
                       "channels": {name: {"train": [...], "synthetic": [...],
                                           "holdout": [...]}}},  # at most 12 are drawn
     "rr": {"bins": [e0, ..., en], "train": [...], "synthetic": [...], "holdout": [...]}}

``plots["fidelity"]["trajectories"]`` — longitudinal data: mean and spread of each measure
over time since start, real versus synthetic (at most 12 measures are drawn)::

    {"unit": "hours since start",
     "measures": {name: {"time": [t0, ..., tk],                      # required
                         "train": {"mean": [...], "sd": [...]},      # required, sd optional
                         "synthetic": {"mean": [...], "sd": [...]},  # required
                         "holdout": {"mean": [...], "sd": [...]}}}}  # optional

``plots[section]["tables"]`` — any section, extra tables::

    {"Table title": [{"col": value, ...}, ...]}
'''

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
import io
import logging
import math
from typing import Any
import warnings

import numpy as np

from synthmed.report._format import Table, fmt, records_table

__all__ = ["PlotBlock", "PlotImage", "section_plots"]

logger = logging.getLogger("synthmed.report")

# Okabe-Ito colours (safe for colour-blind readers); every series also differs in line style,
# hatch or marker so that nothing is told by colour alone.
C_TRAIN = "#0072B2"
C_SYNTH = "#D55E00"
C_HOLD = "#009E73"
MAX_CATEGORIES = 15
MAX_ROC_PANELS = 6
MAX_FOREST_ROWS = 40
MAX_GROUP_BARS = 40

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


def section_plots(section: str, data: Any) -> list[PlotBlock]:
    """The plot blocks of one section, from ``EvaluationResult.plots[section]``.

    Unknown sections and keys are ignored; malformed entries are skipped.
    """
    if not isinstance(data, Mapping):
        return []
    builders: dict[str, Callable[[Any], PlotBlock | None]] = _BUILDERS.get(section, {})
    blocks: list[PlotBlock] = []
    for key, build in builders.items():
        if key in data and data[key] is not None:
            block = _safe(f"{section}.{key}", build, data[key])
            if block is not None:
                blocks.append(block)
    if "tables" in data:
        block = _safe(f"{section}.tables", _extra_tables, data["tables"])
        if block is not None:
            blocks.append(block)
    return blocks


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


# --------------------------------------------------------------------------- fidelity


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


# --------------------------------------------------------------------------- privacy


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


# --------------------------------------------------------------------------- utility


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


# --------------------------------------------------------------------------- clinical


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


# --------------------------------------------------------------------------- bias


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


_BUILDERS: dict[str, dict[str, Callable[[Any], PlotBlock | None]]] = {
    "fidelity": {"columns": _columns, "association_diff": _association, "signal": _signal,
                 "trajectories": _trajectories},
    "privacy": {
        "dcr": _distance_hist(
            "dcr",
            "Distance to the closest real training record (DCR)",
            "distance to the closest training record",
            "For every synthetic record, and for every real holdout record, the distance to "
            "the most similar real training record. If the synthetic curve piles up closer to "
            "zero than the holdout curve, synthetic records sit closer to real training "
            "patients than fresh real patients do: a sign of copying.",
        ),
        "nndr": _distance_hist(
            "nndr",
            "Nearest-neighbour distance ratio (NNDR)",
            "nearest / second-nearest distance to training records",
            "Ratios near zero mean a record sits right next to one particular training patient. "
            "The synthetic curve should look like the holdout curve.",
        ),
    },
    "utility": {"roc": _roc},
    "clinical": {"forest": _forest, "forest_cox": _forest},
    "bias": {"groups": _groups},
    "augmentation": {"roc": _roc},
}
