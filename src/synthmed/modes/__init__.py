"""Release modes: what a synthmed release holds, row by row (see DESIGN.md).

* :func:`release_full` — only synthetic records, optionally kept away from real ones;
* :func:`release_partial` / :func:`release_mix` — hybrid releases (real rows with synthesized
  columns; real and synthetic rows mixed);
* :func:`release_augment` — the real training data plus synthetic records where data is thin,
  including the ``fair`` bias-mitigation variant;
* :func:`release_longitudinal_mix` / :func:`release_longitudinal_augment` — the same for
  patients over time, with provenance per patient.

Each returns a :class:`Release`: the rows, their provenance (``real``, ``partial``,
``synthetic``) and what the mode did; :func:`write_release` writes one atomically.

Example
-------
>>> from synthmed import get_generator, load_dataset
>>> from synthmed.modes import release_mix, with_provenance
>>> data = load_dataset("pbc")
>>> gen = get_generator("gaussian_copula").fit(data.frame, schema=data.schema)
>>> table = with_provenance(release_mix(gen, data.frame, real_fraction=0.5))
"""

from synthmed.modes.augment import augmentation_plan, release_augment
from synthmed.modes.full import DistanceFilter, release_full
from synthmed.modes.hybrid import release_mix, release_partial
from synthmed.modes.longitudinal import release_longitudinal_augment, release_longitudinal_mix
from synthmed.modes.provenance import PROVENANCE_LABELS, Release, with_provenance, write_release

__all__ = [
    "PROVENANCE_LABELS",
    "DistanceFilter",
    "Release",
    "augmentation_plan",
    "release_augment",
    "release_full",
    "release_longitudinal_augment",
    "release_longitudinal_mix",
    "release_mix",
    "release_partial",
    "with_provenance",
    "write_release",
]
