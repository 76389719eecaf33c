"""Hybrid releases: real rows with some columns synthesized, or real and synthetic rows mixed.

* :func:`release_partial` — synthpop's partially synthetic data: every real row is kept, the
  named (sensitive) columns are replaced by values sampled from the generator *conditionally on
  the row's kept columns* (one condition row per real row).
* :func:`release_mix` — real rows and fully synthetic rows in a chosen proportion.

Both release the generator's modelled columns only: direct identifiers and free text, which no
generator models, are not released (a real row without them is still the source row on every
released column). Real rows in a release are real records: their disclosure risk is not zero.
"""

from __future__ import annotations

from collections.abc import Sequence
import contextlib
import math
import secrets
from typing import Any

import numpy as np
import pandas as pd

from synthmed._random import RandomState, make_rng
from synthmed.exceptions import DataError, ParameterError, SchemaError
from synthmed.generators.base import (
    COMMON_RECORD_MIN_COUNT,
    BaseGenerator,
    copy_check,
    row_hashes,
)
from synthmed.modes._checks import check_frame, check_generator, check_positive_int, check_schema
from synthmed.modes.provenance import Release, make_provenance
from synthmed.schema import TableSchema

__all__ = ["release_mix", "release_partial"]

#: rounds of redrawing synthetic rows that repeat a released real row
MAX_REDRAW_ROUNDS = 25


def release_partial(
    generator: BaseGenerator,
    real: pd.DataFrame,
    *,
    synthesize: str | Sequence[str],
    schema: TableSchema | None = None,
    condition_on: Sequence[str] | None = None,
    random_state: RandomState = 0,
) -> Release:
    """Keep every real row, replacing the ``synthesize`` columns by conditional samples.

    Each row's synthesized values are drawn from the generator given that row's kept columns
    (``condition_on``, by default all of them), so relationships between the kept and the
    synthesized columns are preserved. Kept columns are the source values, unchanged.

    Parameters
    ----------
    generator : BaseGenerator
        A fitted generator supporting conditions (both built-in tabular generators do).
    real : DataFrame
        The real rows to release (usually the generator's training data). Categories in kept
        columns must have been seen in training.
    synthesize : str or sequence of str
        Columns to replace; modelled columns only (not identifiers or free text), and not all
        of them (that is a full release).
    schema : TableSchema, optional
        The source's schema, to tell identifier columns from missing ones; the generator's
        when omitted.
    condition_on : sequence of str, optional
        Kept columns to condition on (default: all kept columns). A subset is faster for
        generators whose conditional sampling grows with the number of distinct condition rows.
    random_state : int or numpy Generator
        Same seed, same release.

    Returns
    -------
    Release
        ``mode="partial"``, every row ``partial``, ``source_index`` the row's position in
        ``real``; ``stats`` the columns synthesized and conditioned on, and per synthesized
        column the share of rows whose value changed.

    Notes
    -----
    Records identical to a training record are *not* rejected here (unlike full releases): the
    kept columns are real by design, and forcing the synthesized value to differ from the true
    one would tell an attacker what the true value is not.

    Examples
    --------
    >>> from synthmed import get_generator, load_dataset
    >>> data = load_dataset("aids")
    >>> gen = get_generator("bayesian_network").fit(data.frame, schema=data.schema)
    >>> release = release_partial(gen, data.frame, synthesize=["cd4"], schema=data.schema)
    >>> release.counts()["partial"] == len(data.frame)
    True
    """
    generator = check_generator(generator)
    names = generator.schema_.names
    columns = _check_synthesize(synthesize, generator, schema)
    schema = check_schema(schema, generator)
    real = check_frame(real, "real", names)
    kept = [c for c in names if c not in columns]
    cond_cols = kept if condition_on is None else _check_condition_on(condition_on, kept)
    rng = make_rng(random_state)

    data = real[names].copy()
    conditions = data[cond_cols] if cond_cols else None
    sampled = generator.sample(len(data), conditions=conditions, random_state=rng,
                               allow_copies=True)
    changed = {}
    for col in columns:
        before = data[col]
        data[col] = sampled[col].to_numpy()
        same = (before.to_numpy() == data[col].to_numpy()) | (before.isna() & data[col].isna())
        changed[col] = float(1.0 - np.asarray(same, dtype=bool).mean())
    stats: dict[str, Any] = {
        "synthesized": columns,
        "conditioned_on": cond_cols,
        "changed_share": changed,
        "rows": len(data),
    }
    return Release(data=data, provenance=make_provenance(["partial"] * len(data)),
                   mode="partial", source_index=np.arange(len(data)), stats=stats)


def release_mix(
    generator: BaseGenerator,
    real: pd.DataFrame,
    *,
    real_fraction: float,
    n: int | None = None,
    random_state: RandomState = 0,
) -> Release:
    """Real rows and synthetic rows together, ``real_fraction`` of them real, shuffled.

    Parameters
    ----------
    generator : BaseGenerator
        A fitted generator.
    real : DataFrame
        The real rows to draw from (without replacement).
    real_fraction : float
        Share of released rows that are real, in [0, 1].
    n : int, optional
        Rows to release (default ``len(real)``); ``round(real_fraction * n)`` are real.
    random_state : int or numpy Generator
        Same seed, same release.

    Returns
    -------
    Release
        ``mode="mix"``; real rows labelled ``real`` (identical to their source rows on the
        released columns), the others ``synthetic`` (neither a copy of a training record nor
        of a row in ``real``).

    Examples
    --------
    >>> from synthmed import get_generator, load_dataset
    >>> data = load_dataset("pbc")
    >>> gen = get_generator("gaussian_copula").fit(data.frame, schema=data.schema)
    >>> release = release_mix(gen, data.frame, real_fraction=0.25, n=200)
    >>> release.counts()
    {'real': 50, 'partial': 0, 'synthetic': 150}
    """
    generator = check_generator(generator)
    names = generator.schema_.names
    ok = isinstance(real_fraction, int | float | np.number) and not isinstance(real_fraction, bool)
    if not ok or not 0.0 <= real_fraction <= 1.0:
        raise ParameterError(f"`real_fraction` must be a number in [0, 1], got {real_fraction!r}.")
    real = check_frame(real, "real", names)
    n = len(real) if n is None else check_positive_int(n, "n")
    n_real = math.floor(real_fraction * n + 0.5)
    if n_real > len(real):
        raise ParameterError(
            f"A release of {n} rows with `real_fraction`={real_fraction} needs {n_real} real "
            f"rows, but the real table has {len(real)}. Lower `n` or `real_fraction`."
        )
    rng = make_rng(random_state)
    pick = np.sort(rng.choice(len(real), n_real, replace=False))
    parts = [real.iloc[pick][names]]
    if n - n_real:
        parts.append(sample_avoiding(generator, n - n_real, real[names], rng=rng))
    data = pd.concat(parts, ignore_index=True)
    source = np.r_[pick, np.full(n - n_real, -1)]
    labels = np.where(source >= 0, "real", "synthetic")
    order = rng.permutation(n)
    data = _take(data, order, real[names])
    return Release(data=data, provenance=make_provenance(labels[order]), mode="mix",
                   source_index=source[order],
                   stats={"rows": n, "real_rows": n_real, "synthetic_rows": n - n_real,
                          "real_fraction": real_fraction})


def sample_avoiding(generator: BaseGenerator, n: int, avoid: pd.DataFrame, *,
                    conditions: pd.DataFrame | None = None,
                    rng: np.random.Generator) -> pd.DataFrame:
    """``n`` synthetic rows, none identical to a training record or to a row of ``avoid``.

    ``avoid`` may hold real records the generator never saw (a holdout released alongside);
    matching rows are redrawn with the same conditions. As for training records
    (:func:`synthmed.generators.base.copy_check`), a record 10 or more rows of ``avoid``
    share is not avoided, nor is any where its rows repeat so often that equality is chance.
    """
    schema = generator.schema_
    out = generator.sample(n, conditions=conditions, random_state=rng)
    key = secrets.token_hex(8)
    known = copy_check(row_hashes(avoid[schema.names], schema, key))[0]
    for _ in range(MAX_REDRAW_ROUNDS):
        idx = np.flatnonzero(np.isin(row_hashes(out, schema, key), known))
        if not len(idx):
            return out
        sub = None if conditions is None else conditions.iloc[idx].reset_index(drop=True)
        redraw = generator.sample(len(idx), conditions=sub, random_state=rng)
        order = np.arange(len(out))
        order[idx] = len(out) + np.arange(len(idx))
        out = pd.concat([out, redraw], ignore_index=True).iloc[order].reset_index(drop=True)
    raise DataError(
        f"Could not avoid copying real records after {MAX_REDRAW_ROUNDS} rounds: the model "
        f"keeps drawing combinations that fewer than {COMMON_RECORD_MIN_COUNT} real records "
        "share."
    )


def _take(data: pd.DataFrame, order: np.ndarray, like: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``data`` in ``order``, with the source's dtypes where they survived concat."""
    out = data.iloc[order].reset_index(drop=True)
    for col in out.columns:
        if out[col].dtype != like[col].dtype:
            with contextlib.suppress(TypeError, ValueError):
                out[col] = out[col].astype(like[col].dtype)
    return out


def _check_synthesize(synthesize: Any, generator: BaseGenerator,
                      schema: TableSchema | None) -> list[str]:
    if isinstance(synthesize, str):
        synthesize = [synthesize]
    if not isinstance(synthesize, Sequence) or not synthesize or not all(
            isinstance(c, str) for c in synthesize):
        raise ParameterError("`synthesize` must name at least one column (a string or a list).")
    columns = list(dict.fromkeys(synthesize))
    modelled = generator.schema_
    problems = []
    for col in columns:
        if col in modelled:
            continue
        if schema is not None and col in schema:
            problems.append(
                f"Column {col!r} is an identifier or free text (kind "
                f"{schema.column(col).kind!r}); such columns are never modelled, so they cannot "
                "be synthesized. Drop it from the release or change its kind in the schema."
            )
        else:
            problems.append(
                f"Column {col!r} of `synthesize` is not a modelled column. Modelled columns: "
                f"{', '.join(modelled.names)}."
            )
    if problems:
        raise SchemaError(problems)
    if len(columns) == len(modelled.names):
        raise ParameterError(
            "`synthesize` names every modelled column: nothing real would be kept. Use a full "
            "release (release_full) instead."
        )
    return columns


def _check_condition_on(condition_on: Any, kept: list[str]) -> list[str]:
    if isinstance(condition_on, str):
        condition_on = [condition_on]
    bad = [c for c in condition_on if c not in kept]
    if bad:
        raise ParameterError(
            f"`condition_on` may only name kept columns; not so for: {', '.join(map(str, bad))}."
        )
    return list(dict.fromkeys(condition_on))
