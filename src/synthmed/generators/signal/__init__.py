"""Generators of device signals (ECG, PPG...): ``SignalSet`` in, ``SignalSet`` out."""

from synthmed.generators.signal.base import SignalGenerator

__all__ = ["SignalGenerator"]
