"""The longitudinal generator's saved state: what ``_get_state`` writes and ``_set_state`` reads.

Kept in one module because the keys of the state and of its arrays are a contract with
model files already written: the patient-level model is nested (its arrays prefixed ``s_``),
marginals and the gap model are flattened (``m{i}_``, ``gap_``), and a file of another
sequence model version is refused rather than misread.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from synthmed.exceptions import ModelFileError
from synthmed.generators._smoothing import KernelSmoother
from synthmed.generators._twins import Twin
from synthmed.generators.base import BaseGenerator
from synthmed.generators.longitudinal._clocks import Clocks
from synthmed.generators.longitudinal._gaps import GapModel
from synthmed.generators.longitudinal._held import HeldValues
from synthmed.generators.longitudinal._labels import RowLabels
from synthmed.generators.longitudinal._model import (
    FirstSpread,
    LinearHead,
    LogisticHeads,
    Marginal,
    StaticFeatures,
    ValueHeads,
    VolatilityModel,
)
from synthmed.generators.longitudinal._patient import ExtentRanks

if TYPE_CHECKING:
    from synthmed.generators.longitudinal.generator import LongitudinalGenerator

__all__ = ["SEQUENCE_MODEL_VERSION", "get_state", "set_state"]

#: version of the sequence model's saved state (2: history inputs, chained missingness, gaps
#: steered by the rows and span left; 3: later values of a continuous measure may move by
#: steps on its own scale, ``steps``; 4: the recording chain also sees which measures were
#: ever recorded before); older files are refused with a clear message
SEQUENCE_MODEL_VERSION = 4


def get_state(gen: LongitudinalGenerator) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """JSON metadata and named arrays of a fitted generator (its static model nested)."""
    sm = gen.static_model_
    s_meta, s_arrays = sm._get_state()
    gap_meta, gap_arrays = gen._gaps.to_state()
    meta: dict[str, Any] = {
        "entity": gen.entity_, "time": gen.time_, "time_kind": gen.time_kind_,
        "static_columns": gen.static_columns_, "measures": gen.measures_,
        "codes": gen._codes, "target": gen._target, "target_levels": gen._target_levels,
        "static_features": gen._static_features.to_meta(),
        "marginals": [m.to_state()[0] for m in gen._marginals],
        "sequence_model": SEQUENCE_MODEL_VERSION, "gaps": gap_meta,
        "t_range": list(gen._t_range), "max_len": gen._max_len,
        "time_grid": None if gen._time_grid is None else gen._time_grid.tolist(),
        "time_extent": gen.time_extent_, "steps": [bool(b) for b in gen._steps],
        "time_bounds": gen._time_bounds,
        "empty_rows": gen._empty_rows,
        "held": None if gen._held is None else gen._held.to_meta(),
        "labels": None if gen._labels is None else gen._labels.to_state()[0],
        "volatility": None if gen._volatility is None else {
            "coef": gen._volatility.coef.tolist(), "spread": gen._volatility.spread.tolist()},
        "smoother": gen._smoother.to_meta(),
        "extent_ranks": None if gen._extent_ranks is None else gen._extent_ranks.to_meta(),
        "measure_twins": [t.to_meta() for t in gen._measure_twins],
        "clocks": gen._clocks.to_meta(),
        "static_model": {"generator": sm.name, "params": sm.get_params(),
                         "schema": sm.schema_.to_dict(), "n_train_rows": sm.n_train_rows_,
                         "hash_key": sm._hash_key_, "state": s_meta,
                         # written columns and orders among the static columns (the twins
                         # were left out before: a loaded model drew them apart)
                         "twins": [t.to_meta() for t in sm.twins_],
                         "orders": [o.to_meta() for o in sm.orders_],
                         "formulas": [f.to_meta() for f in sm.formulas_],
                         "gates": [g.to_meta() for g in sm.gates_],
                         "exclusions": [e.to_meta() for e in sm.exclusions_],
                         "heaps": [h.to_meta() for h in sm.heaps_]},
    }
    arrays: dict[str, np.ndarray] = {
        "x_mean": gen._x_mean, "x_sd": gen._x_sd,
        "first_values_coef": gen._values.first.coef,
        "first_values_chol": gen._values.first.chol,
        "values_coef": gen._values.follow_up.coef,
        "values_chol": gen._values.follow_up.chol,
        **({} if gen._values.follow_up.shape is None else {
            "values_shape": gen._values.follow_up.shape}),
        **({} if gen._values.first_spread is None else {
            "first_spread_coef": gen._values.first_spread.coef,
            "first_spread_level": gen._values.first_spread.level}),
        "missing_coef": gen._missing.coef,
        "missing_order": (gen._missing.order if gen._missing.order is not None
                          else np.arange(gen._missing.coef.shape[1])),
        "s___train_hashes": sm._train_hashes_,
    }
    if gen._labels is not None:
        arrays.update(gen._labels.to_state()[1])
    for i, marg in enumerate(gen._marginals):
        arrays.update({f"m{i}_{k}": v for k, v in marg.to_state()[1].items()})
    arrays.update({f"gap_{k}": v for k, v in gap_arrays.items()})
    arrays.update({f"s_{k}": v for k, v in s_arrays.items()})
    return meta, arrays


def set_state(gen: LongitudinalGenerator, meta: Mapping[str, Any],
              arrays: Mapping[str, np.ndarray]) -> None:
    """Restore ``gen`` from :func:`get_state`'s output, as read back from a model file."""
    from synthmed.generators.registry import generator_class

    version = meta.get("sequence_model", 1)
    if version != SEQUENCE_MODEL_VERSION:
        raise ModelFileError(
            f"This longitudinal model was saved with sequence model version {version!r}; "
            f"this synthmed reads version {SEQUENCE_MODEL_VERSION}. Fit the generator "
            "again (the model file cannot be upgraded).")
    gen.entity_, gen.time_ = str(meta["entity"]), str(meta["time"])
    gen.time_kind_ = str(meta["time_kind"])
    gen.static_columns_ = list(meta["static_columns"])
    gen.measures_ = list(meta["measures"])
    gen._codes = {k: (None if v is None else list(v)) for k, v in meta["codes"].items()}
    gen._target = meta["target"]
    gen._target_levels = list(meta["target_levels"])
    gen._static_features = StaticFeatures.from_meta(meta["static_features"])
    gen._marginals = [
        Marginal.from_state(m, {"values": arrays[f"m{i}_values"], "cdf": arrays[f"m{i}_cdf"]})
        for i, m in enumerate(meta["marginals"])]
    gen._gaps = GapModel.from_state(
        meta["gaps"], {k[4:]: v for k, v in arrays.items() if k.startswith("gap_")})
    gen._t_range = (float(meta["t_range"][0]), float(meta["t_range"][1]))
    grid = meta.get("time_grid")  # absent from models saved before schedules were kept
    gen._time_grid = None if grid is None else np.asarray(grid, dtype=float)
    gen._max_len = int(meta["max_len"])
    gen.time_extent_ = str(meta["time_extent"])
    gen._steps = np.asarray(meta["steps"], dtype=bool)
    gen._time_bounds = [str(c) for c in meta.get("time_bounds", [])]
    gen._empty_rows = bool(meta.get("empty_rows", False))  # older models: rows record something
    gen._held = HeldValues.from_meta(meta.get("held"))  # absent from older models: none held
    # absent from older models, which drew labels with the other measures' normal scores
    gen._labels = RowLabels.from_state(meta.get("labels"), arrays)
    vol = meta.get("volatility")  # absent from older models: one residual scale for all
    gen._volatility = None if vol is None else VolatilityModel(
        np.asarray(vol["coef"], dtype=float), np.asarray(vol["spread"], dtype=float))
    gen._smoother = KernelSmoother.from_meta(meta.get("smoother", {}))
    # absent from older models, whose patient-level model drew the extent itself
    gen._extent_ranks = ExtentRanks.from_meta(meta.get("extent_ranks"))
    # absent from older models, which drew every measure
    gen._measure_twins = [Twin.from_meta(m) for m in meta.get("measure_twins") or []]
    # absent from older models, which wrote dates that change within patients blank
    gen._clocks = Clocks.from_meta(meta.get("clocks"))
    gen._x_mean = np.asarray(arrays["x_mean"], float)
    gen._x_sd = np.asarray(arrays["x_sd"], float)
    gen._values = ValueHeads(
        LinearHead(np.asarray(arrays["first_values_coef"], float),
                   np.asarray(arrays["first_values_chol"], float)),
        # models saved before residual shapes drew later values' residuals normal
        LinearHead(np.asarray(arrays["values_coef"], float),
                   np.asarray(arrays["values_chol"], float),
                   np.asarray(arrays["values_shape"], float) if "values_shape" in arrays
                   else None),
        # models saved before it drew first values with one residual scale for all
        FirstSpread(np.asarray(arrays["first_spread_coef"], float),
                    np.asarray(arrays["first_spread_level"], float))
        if "first_spread_coef" in arrays else None)
    # models saved before the chain was ordered kept the measures' own order
    order = arrays.get("missing_order")
    gen._missing = LogisticHeads(np.asarray(arrays["missing_coef"], float),
                                 None if order is None else np.asarray(order, dtype=np.int64))
    sub = meta["static_model"]
    sub_arrays = {k[2:]: v for k, v in arrays.items() if k.startswith("s_")}
    static_model = generator_class(str(sub["generator"]))._from_saved(sub, sub_arrays)
    if not isinstance(static_model, BaseGenerator):
        raise ValueError("the patient-level model is not a tabular generator")
    gen.static_model_ = static_model
    if not len(gen._marginals) == len(gen._steps) == len(gen.measures_):
        raise ValueError(f"{len(gen._marginals)} marginals for {len(gen.measures_)} "
                         "measures")
