"""The one explicit registry of generators, imported lazily by name.

Built-in generators are listed below as ``"module:Class"`` strings so that a heavy dependency
(PyTorch...) loads only when its generator is asked for. Third-party packages add generators
through the ``synthmed.generators`` entry-point group.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from synthmed.exceptions import UnknownNameError
from synthmed.generators.base import BaseModel

__all__ = ["generator_class", "get_generator", "list_generators"]

_BUILTIN: dict[str, str] = {
    "gaussian_copula": "synthmed.generators.tabular.gaussian_copula:GaussianCopula",
    "bayesian_network": "synthmed.generators.tabular.bayesian_network:BayesianNetwork",
    "neural_ar": "synthmed.generators.tabular.autoregressive:NeuralAutoregressive",
    "arf": "synthmed.generators.tabular.arf:AdversarialRandomForest",
    "longitudinal": "synthmed.generators.longitudinal.generator:LongitudinalGenerator",
    "signal_beats": "synthmed.generators.signal.beats:SignalBeats",
    "auto": "synthmed.generators.tabular.auto:AutoGenerator",
}

DEFAULT_GENERATOR = "auto"


def _all_paths() -> dict[str, str]:
    paths = dict(_BUILTIN)
    for ep in entry_points(group="synthmed.generators"):
        paths.setdefault(ep.name, ep.value)
    return paths


def list_generators() -> list[str]:
    """Names of every registered generator (built-in and plug-ins)."""
    return sorted(_all_paths())


def generator_class(name: str) -> type[BaseModel]:
    """The class registered under ``name``; unknown names suggest the close ones."""
    paths = _all_paths()
    if name not in paths:
        raise UnknownNameError("generator", name, paths)
    module, _, attr = paths[name].partition(":")
    cls = getattr(import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
        raise TypeError(f"Generator {name!r} ({paths[name]}) is not a BaseModel subclass.")
    return cls


def get_generator(name: str, **params: Any) -> BaseModel:
    """Build the generator registered under ``name`` with keyword parameters.

    Examples
    --------
    >>> gen = get_generator("gaussian_copula")
    >>> gen.name
    'gaussian_copula'
    """
    return generator_class(name)(**params)
