"""Random state handling: a fresh ``numpy.random.Generator`` per call, never global seeding."""

from __future__ import annotations

import numpy as np

from synthmed.exceptions import ParameterError

RandomState = int | np.random.Generator | None


def make_rng(random_state: RandomState) -> np.random.Generator:
    """Return a Generator: a new one from an int seed (or None), or the one given."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or (
        isinstance(random_state, int | np.integer) and not isinstance(random_state, bool)
        and random_state >= 0
    ):
        return np.random.default_rng(random_state)
    raise ParameterError(
        f"`random_state` must be a non-negative integer, a numpy Generator or None, "
        f"got {random_state!r}."
    )
