"""The typed result of an evaluation: sections of metrics, verdicts, provenance, plot data.

Every metric is reported next to the same metric computed for the real holdout (the best any
generator can reach) and carries its pass rule. ``to_dict`` is what ``metrics.json`` holds.

A section's verdict: ``fail`` when a *gate* metric fails, ``warn`` when a non-gate metric
fails, ``pass`` otherwise (metrics without a pass rule are informative and never fail).
The overall verdict is the worst section verdict, and at best ``warn`` when privacy was not
checked: an unchecked release is never called a pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
import json
import math
from typing import Any, Literal

import numpy as np

__all__ = ["SECTIONS", "EvaluationResult", "Metric", "Section", "Verdict", "worst"]

Verdict = Literal["pass", "warn", "fail"]
Direction = Literal["lower", "higher", "none"]
SECTIONS: tuple[str, ...] = ("fidelity", "utility", "privacy", "bias", "clinical")
_ORDER: dict[str, int] = {"pass": 0, "warn": 1, "fail": 2}


def worst(verdicts: Sequence[str]) -> Verdict:
    """The worst of several verdicts (``pass`` when there are none)."""
    return max(verdicts, key=_ORDER.__getitem__, default="pass")  # type: ignore[return-value]


@dataclass(frozen=True)
class Metric:
    """One measured figure with its holdout reference and pass rule.

    Parameters
    ----------
    name : str
        Stable identifier, e.g. ``"dcr_share"``.
    value : float or None
        The figure for the synthetic data (None when it could not be computed).
    holdout_value : float or None
        The same figure for the real holdout used as if it were synthetic.
    threshold : float or None
        The pass rule's bound (see ``direction``); None for informative metrics.
    passed : bool or None
        Whether the pass rule holds; None for informative metrics.
    direction : {"lower", "higher", "none"}
        Whether lower or higher values are better.
    gate : bool
        A failed gate makes the section ``fail``; a failed non-gate makes it ``warn``.
    interval : (float, float), optional
        95% interval of ``value`` (bootstrap or exact) where computed.
    description : str
        One sentence in plain words, for the report.
    rule : str
        The pass rule in words, e.g. ``"<= 0.60"`` or ``"<= 1.5 x holdout gap"``.
    modality : str
        The data modality the metric reads.
    details : mapping
        JSON-able extra numbers (per column, per group...), shown in tables.
    note : str
        Caveats such as subsampling ("computed on 20,000 of 100,000 rows").
    """

    name: str
    value: float | None
    holdout_value: float | None = None
    threshold: float | None = None
    passed: bool | None = None
    direction: Direction = "lower"
    gate: bool = False
    interval: tuple[float, float] | None = None
    description: str = ""
    rule: str = ""
    modality: str = "table"
    details: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "name": self.name,
                "value": self.value,
                "holdout_value": self.holdout_value,
                "interval": list(self.interval) if self.interval is not None else None,
                "threshold": self.threshold,
                "rule": self.rule,
                "passed": self.passed,
                "direction": self.direction,
                "gate": self.gate,
                "modality": self.modality,
                "description": self.description,
                "note": self.note,
                "details": dict(self.details),
            }
        )


@dataclass(frozen=True)
class Section:
    """One concern (fidelity, utility, privacy, bias, clinical) and its metrics."""

    name: str
    metrics: tuple[Metric, ...] = ()
    notes: tuple[str, ...] = ()
    #: set when the section could not run at all (e.g. no target column for utility)
    skipped: str = ""

    @property
    def verdict(self) -> Verdict:
        found: list[str] = []
        for m in self.metrics:
            if m.passed is False:
                found.append("fail" if m.gate else "warn")
        return worst(found)

    def metric(self, name: str) -> Metric:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(f"No metric {name!r} in section {self.name!r}.")

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "skipped": self.skipped or None,
            "notes": list(self.notes),
            "metrics": [m.to_dict() for m in self.metrics],
        }


@dataclass(frozen=True)
class EvaluationResult:
    """Everything an evaluation found, ready for ``metrics.json`` and the HTML report.

    Attributes
    ----------
    sections : mapping of section name to Section
    provenance : mapping
        Data hashes, versions, seeds, parameters, threat model, thresholds used.
    plots : mapping
        JSON-able data the report draws (histograms, heatmaps, ROC curves...). The report
        renders only; it computes nothing.
    """

    sections: Mapping[str, Section]
    provenance: Mapping[str, Any] = field(default_factory=dict)
    plots: Mapping[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> Verdict:
        """Worst section verdict; never ``pass`` when privacy was not checked."""
        verdicts = [s.verdict for s in self.sections.values()]
        privacy = self.sections.get("privacy")
        if privacy is None or privacy.skipped:
            verdicts.append("warn")
        return worst(verdicts)

    def __getitem__(self, name: str) -> Section:
        return self.sections[name]

    def with_note(self, section: str, text: str) -> EvaluationResult:
        """The same result with ``text`` first among ``section``'s notes (unchanged when
        that section was not evaluated)."""
        if section not in self.sections:
            return self
        sec = self.sections[section]
        sections = {**self.sections, section: replace(sec, notes=(text, *sec.notes))}
        return replace(self, sections=sections)

    def metric(self, section: str, name: str) -> Metric:
        return self.sections[section].metric(name)

    def to_dict(self, *, include_plots: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"verdict": self.verdict}
        for name in SECTIONS:
            if name in self.sections:
                out[name] = self.sections[name].to_dict()
        for name, section in self.sections.items():
            if name not in out:
                out[name] = section.to_dict()
        out["provenance"] = _clean(dict(self.provenance))
        if include_plots:
            out["plots"] = _clean(dict(self.plots))
        return out

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(**kwargs), indent=2, allow_nan=False)


def _clean(value: Any) -> Any:
    """Make a value strictly JSON-able: numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_clean(v) for v in value.tolist()]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    return value
