"""What every metric reads: the three tables, the schema, thresholds, seeds and shared encodings.

Section modules (``fidelity``, ``utility``, ``privacy``, ``bias``, ``clinical``) each expose one
function ``evaluate_<section>(ctx: EvalContext) -> SectionOutput``. They read the data from the
context, never from elsewhere, and derive their randomness from :meth:`EvalContext.rng` so that
a seed fixes every figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
import json
from pathlib import Path
from typing import Any
import zlib

import numpy as np
import pandas as pd

from synthmed.evaluation.result import Section
from synthmed.exceptions import ParameterError
from synthmed.schema import NUMERIC_KINDS, TableSchema

__all__ = ["EvalContext", "MixedEncoder", "SectionOutput", "Thresholds"]

#: A section's metrics and the JSON-able data its plots need.
SectionOutput = tuple[Section, dict[str, Any]]


@dataclass(frozen=True)
class Thresholds:
    """Default pass rules (../VALIDATION.md); a user can override any of them from a file."""

    # fidelity
    column_gap_ratio: float = 1.5          # synthetic-train gap <= ratio x holdout-train gap
    column_gap_floor: float = 0.05         # ...or an absolute gap below this (tiny holdout gaps)
    max_association_diff: float = 0.10
    detection_auc: float = 0.60
    rare_category_min_count: int = 10
    # utility
    max_auroc_drop: float = 0.05
    max_brier_relative_increase: float = 0.10
    max_cindex_drop: float = 0.05
    # privacy
    dcr_share: float = 0.53
    dcr_binomial_alpha: float = 0.05
    nndr_ratio: float = 0.9
    attack_risk: float = 0.09               # singling out / linkability / inference, upper 95%
    membership_auc: float = 0.55
    membership_tpr_at_1fpr: float = 0.03
    membership_chance_alpha: float = 0.05   # ...unless chance reaches that TPR this often
    attribute_protection_ratio: float = 0.9
    # bias
    small_group: int = 20
    representation_abs: float = 0.01
    representation_rel: float = 0.20
    subgroup_fidelity_factor: float = 2.0
    fairness_diff: float = 0.05
    # clinical
    sign_agreement: float = 1.0
    ci_overlap: float = 0.5

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Thresholds:
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise ParameterError(
                f"Unknown threshold(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
            )
        bad = [k for k, v in raw.items() if not isinstance(v, int | float) or isinstance(v, bool)]
        if bad:
            raise ParameterError(f"Thresholds must be numbers; not so for: {', '.join(bad)}.")
        return cls(**{k: type(getattr(cls(), k))(v) for k, v in raw.items()})

    @classmethod
    def from_file(cls, path: str | Path) -> Thresholds:
        """Read overrides from a JSON file (``{"detection_auc": 0.65, ...}``)."""
        path = Path(path)
        if not path.is_file():
            raise ParameterError(f"Thresholds file {str(path)!r} does not exist.")
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ParameterError(
                f"Thresholds file {str(path)!r} is not valid JSON: {exc.msg}."
            ) from None
        if not isinstance(raw, dict):
            raise ParameterError("A thresholds file must hold a JSON object.")
        return cls.from_mapping(raw)

    def to_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class MixedEncoder:
    """Mixed-type table -> numeric matrix, fitted on train, for distances and classifiers.

    Numbers (and datetimes) are scaled to [0, 1] by the train range with a missing indicator;
    categories are one-hot encoded (the ``max_levels`` most frequent; others share a column),
    with missing as its own level. Every original column then weighs at most 1 in an L1
    distance, so no single column dominates nearest-neighbour searches.
    """

    def __init__(self, schema: TableSchema, *, max_levels: int = 20) -> None:
        self.schema = schema
        self.max_levels = max_levels

    def fit(self, frame: pd.DataFrame) -> MixedEncoder:
        self.numeric_: dict[str, tuple[float, float]] = {}
        self.levels_: dict[str, list[Any]] = {}
        for name in self.schema.names:
            values = frame[name]
            if self._is_numeric(name):
                arr = _as_float(values)
                finite = arr[np.isfinite(arr)]
                lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
                self.numeric_[name] = (lo, hi if hi > lo else lo + 1.0)
            else:
                counts = values.astype(object).value_counts(dropna=True)
                self.levels_[name] = list(counts.index[: self.max_levels])
        return self

    def _is_numeric(self, name: str) -> bool:
        return self.schema.column(name).kind in NUMERIC_KINDS | {"datetime"}

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        blocks: list[np.ndarray] = []
        for name in self.schema.names:
            values = frame[name]
            if name in self.numeric_:
                lo, hi = self.numeric_[name]
                arr = (_as_float(values) - lo) / (hi - lo)
                missing = ~np.isfinite(arr)
                blocks.append(np.where(missing, 0.0, np.clip(arr, -0.5, 1.5))[:, None])
                blocks.append(missing.astype(float)[:, None])
            else:
                levels = self.levels_[name]
                obj = values.astype(object)
                codes = np.full(len(obj), len(levels), dtype=np.int64)  # "other"
                for i, level in enumerate(levels):
                    codes[(obj == level).to_numpy()] = i
                codes[obj.isna().to_numpy()] = len(levels) + 1
                onehot = np.zeros((len(obj), len(levels) + 2))
                onehot[np.arange(len(obj)), codes] = 0.5  # two cells differ -> L1 distance 1
                blocks.append(onehot)
        return np.hstack(blocks).astype(np.float32) if blocks else np.zeros((len(frame), 0))


def _as_float(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(values):
        out = values.astype("int64").to_numpy(dtype=float) / 86_400e9
        out[values.isna().to_numpy()] = np.nan
        return out
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)


@dataclass
class EvalContext:
    """The inputs of one evaluation, shared by every section.

    ``train``, ``holdout`` and ``synthetic`` hold the schema's modelled columns only, in the
    canonical dtypes of :func:`synthmed.schema.coerce_table`.
    """

    train: pd.DataFrame
    holdout: pd.DataFrame
    synthetic: pd.DataFrame
    schema: TableSchema
    thresholds: Thresholds = field(default_factory=Thresholds)
    random_state: int = 0
    #: expensive metrics (nearest neighbours, classifiers) use at most this many rows per table
    max_rows: int = 20_000
    #: section name -> notes to show (e.g. subsampling)
    notes: dict[str, list[str]] = field(default_factory=dict)
    #: patient of each train / holdout row when an identifier repeats (rows of one patient),
    #: so that a classifier's folds keep a patient's rows together; None: a row per patient
    train_groups: np.ndarray | None = None
    holdout_groups: np.ndarray | None = None

    def rng(self, purpose: str) -> np.random.Generator:
        """A fresh Generator for one metric: same seed and purpose give the same stream."""
        return np.random.default_rng([self.random_state, zlib.crc32(purpose.encode())])

    def capped(self, frame: pd.DataFrame, purpose: str) -> pd.DataFrame:
        """``frame`` itself, or a seeded subsample of ``max_rows`` rows when larger."""
        idx = self.capped_index(len(frame), purpose)
        return frame if idx is None else frame.iloc[idx].reset_index(drop=True)

    def capped_index(self, n: int, purpose: str) -> np.ndarray | None:
        """The rows :meth:`capped` keeps of a table of ``n`` rows (None: all of them)."""
        if n <= self.max_rows:
            return None
        return np.sort(self.rng(purpose).choice(n, self.max_rows, replace=False))

    @cached_property
    def encoder(self) -> MixedEncoder:
        return MixedEncoder(self.schema).fit(self.train)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        return self.encoder.transform(frame)

    @property
    def target(self) -> str | None:
        return self.schema.target

    @property
    def survival(self) -> tuple[str, str] | None:
        return self.schema.survival

    def event_indicator(self, frame: pd.DataFrame) -> np.ndarray:
        """The event column of a survival outcome as booleans."""
        from synthmed.datasets.registry import event_indicator

        if self.survival is None:
            raise ValueError("The schema has no survival outcome.")
        return event_indicator(frame[self.survival[1]], self.schema.event_value)

    @property
    def sensitive(self) -> list[str]:
        return [c for c in self.schema.sensitive if c in self.train.columns]

    @property
    def quasi_identifiers(self) -> list[str]:
        return [c for c in self.schema.quasi_identifiers if c in self.train.columns]
