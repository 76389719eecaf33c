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

Layout
------
``__init__`` holds :func:`section_plots` and the dispatch table (section -> plot key ->
builder); ``_common`` the :class:`PlotBlock`/:class:`PlotImage` types, the data validation
and the drawing helpers; one module per concern draws its plots: ``fidelity`` (columns,
association heatmaps, used also for the RR histogram), ``privacy`` (DCR, NNDR), ``utility``
(ROC), ``clinical`` (forest), ``bias`` (groups, extra tables), ``signal`` (waveforms, beats)
and ``longitudinal`` (trajectories). The plot-data shapes above are the contract of all of them.
'''

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from synthmed.report.plots._common import PlotBlock, PlotImage, _safe
from synthmed.report.plots.bias import _extra_tables, _groups
from synthmed.report.plots.clinical import _forest
from synthmed.report.plots.fidelity import _association, _columns
from synthmed.report.plots.longitudinal import _trajectories
from synthmed.report.plots.privacy import _distance_hist
from synthmed.report.plots.signal import _signal
from synthmed.report.plots.utility import _roc

__all__ = ["PlotBlock", "PlotImage", "section_plots"]


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
