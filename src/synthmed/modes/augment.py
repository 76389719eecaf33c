"""Augmentation: the real training data plus synthetic records where data is thin.

The synthetic records are drawn *conditionally* (generator conditions fix the group and/or the
outcome of each new record), never by rejecting unconditional samples:

* ``balance="target"`` — every outcome class up to the majority class's count;
* ``balance=[SENS]`` — every group of a sensitive attribute up to the largest group;
* ``balance=[SENS, "target"]`` — every group × outcome cell up to the largest cell;
* ``factor=K`` — ``K`` times as many rows in all, outcome shares as in the source;
* ``fair=True`` — bias mitigation: every group of the sensitive attribute(s) gets the same
  size *and* the same outcome distribution (the source's overall one), so the downstream
  model cannot learn a group's base rate from the data's composition. Such data deliberately
  departs from the source and must be labelled as mitigated.

Rows with a missing value in a balanced column are kept but form no group of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
import itertools
import math
from typing import Any

import numpy as np
import pandas as pd

from synthmed._random import RandomState, make_rng
from synthmed.exceptions import ParameterError, SchemaError
from synthmed.generators.base import BaseGenerator
from synthmed.modes._checks import GROUP_KINDS, check_frame, check_generator, check_schema
from synthmed.modes.hybrid import _take, sample_avoiding
from synthmed.modes.provenance import Release, make_provenance
from synthmed.schema import TableSchema

__all__ = ["augmentation_plan", "release_augment"]

#: cells with fewer real records than this are flagged: their synthetic records extrapolate
THIN_CELL = 20
TARGET_ALIAS = "target"


def release_augment(
    generator: BaseGenerator,
    train: pd.DataFrame,
    *,
    balance: str | Sequence[str] | None = None,
    factor: float | None = None,
    schema: TableSchema | None = None,
    fair: bool = False,
    random_state: RandomState = 0,
) -> Release:
    """The real training rows plus synthetic rows targeted where data is thin.

    Parameters
    ----------
    generator : BaseGenerator
        A generator fitted on ``train``.
    train : DataFrame
        The real training data; all of it is released (provenance ``real``).
    balance : str or sequence of str, optional
        Categorical or boolean columns whose groups (or, for several, whose combinations) are
        filled up to the largest one. ``"target"`` stands for the schema's target.
    factor : float, optional
        Release ``factor`` times as many rows as ``train`` (greater than 1), outcome shares
        kept. Exclusive with ``balance`` and ``fair``.
    schema : TableSchema, optional
        Kinds and roles (target, sensitive); the generator's schema when omitted.
    fair : bool
        Bias mitigation over the sensitive attribute(s): ``balance`` names them (default: the
        schema's sensitive columns), ``"target"`` in it is ignored. Every group is brought to
        the same size and to the source's overall outcome distribution.
    random_state : int or numpy Generator
        Same seed, same release.

    Returns
    -------
    Release
        ``mode="augment"``: the real rows first, then the synthetic ones; ``stats["cells"]``
        lists per group/cell the real count, the records added and the count reached.

    Raises
    ------
    ParameterError
        Neither or both of ``balance`` and ``factor``; ``factor`` not above 1.
    SchemaError
        A balanced column that is missing or not categorical/boolean; no target where needed;
        a group (or group × outcome cell) with no records.

    Examples
    --------
    >>> from synthmed import get_generator, load_dataset
    >>> data = load_dataset("aids")
    >>> gen = get_generator("bayesian_network").fit(data.frame, schema=data.schema)
    >>> release = release_augment(gen, data.frame, balance="target", schema=data.schema)
    >>> release.data["censor"].value_counts().tolist()
    [1055, 1055]
    """
    generator = check_generator(generator)
    schema = check_schema(schema, generator)
    train = check_frame(train, "train", schema.names)
    plan = augmentation_plan(train, schema, balance=balance, factor=factor, fair=fair)
    rng = make_rng(random_state)

    real = train[schema.names]
    conditions = _conditions(plan)
    n_new = int(sum(cell["added"] for cell in plan["cells"]))
    parts = [real]
    if n_new:
        cond = conditions if conditions is not None and conditions.shape[1] else None
        parts.append(sample_avoiding(generator, n_new, real, conditions=cond, rng=rng))
    data = _take(pd.concat(parts, ignore_index=True), np.arange(len(real) + n_new), real)
    labels = ["real"] * len(real) + ["synthetic"] * n_new
    stats = {k: v for k, v in plan.items() if k != "conditions"}
    stats.update(real_rows=len(real), synthetic_rows=n_new)
    return Release(data=data, provenance=make_provenance(labels), mode="augment",
                   source_index=np.r_[np.arange(len(real)), np.full(n_new, -1)], stats=stats)


def augmentation_plan(train: pd.DataFrame, schema: TableSchema, *,
                      balance: str | Sequence[str] | None = None, factor: float | None = None,
                      fair: bool = False) -> dict[str, Any]:
    """How many synthetic records each group or cell gets, without drawing any.

    Returns a JSON-able dict: ``strategy``, ``columns`` and ``cells`` (each with ``group``:
    column -> value, ``real``, ``added``, ``target`` and ``thin``: fewer than 20 real records).

    Examples
    --------
    >>> from synthmed import load_dataset
    >>> data = load_dataset("aids")
    >>> plan = augmentation_plan(data.frame, data.schema, balance="target")
    >>> [cell["target"] for cell in plan["cells"]]
    [1055, 1055]
    """
    if not isinstance(fair, bool):
        raise ParameterError(f"`fair` must be True or False, got {fair!r}.")
    if factor is not None and (balance is not None or fair):
        raise ParameterError(
            "Give either `balance` (or `fair`) or `factor` for augmentation, not both."
        )
    if factor is not None:
        return _factor_plan(train, schema, factor)
    if balance is None and not fair:
        raise ParameterError(
            "Augmentation needs `balance` (a column, or 'target'), `factor` or `fair=True`."
        )
    columns = _balance_columns(balance, schema, fair)
    if fair:
        target = _target(schema)
        groups = [c for c in columns if c != target]
        if not groups:
            raise ParameterError(
                "`fair=True` needs at least one sensitive column to balance: name it in "
                "`balance` or give the schema sensitive columns."
            )
        counts = _cell_counts(train, [*groups, target])
        return _fair_plan(counts, groups, target)
    counts = _cell_counts(train, columns)
    top = int(counts.max())
    return _plan("balance", columns, counts, pd.Series(top, index=counts.index))


def _target(schema: TableSchema) -> str:
    target = schema.target
    if target is None:
        raise SchemaError(
            "Balancing the outcome needs a target column; set one in the schema "
            "(or with `target=`)."
        )
    if schema.column(target).kind not in GROUP_KINDS:
        raise SchemaError(
            f"The target {target!r} is of kind {schema.column(target).kind!r}; balancing needs a "
            "categorical or boolean outcome."
        )
    return target


def _balance_columns(balance: Any, schema: TableSchema, fair: bool) -> list[str]:
    if balance is None:
        columns = [c for c in schema.sensitive if c in schema]
        if not columns:
            raise SchemaError(
                "`fair=True` without `balance` uses the schema's sensitive columns, and it has "
                "none. Name the group column(s) in `balance` or mark them sensitive."
            )
        return columns
    if isinstance(balance, str):
        balance = [balance]
    if not isinstance(balance, Sequence) or not balance or not all(
            isinstance(c, str) for c in balance):
        raise ParameterError("`balance` must name at least one column (a string or a list).")
    columns = [(_target(schema) if c == TARGET_ALIAS and c not in schema else c)
               for c in dict.fromkeys(balance)]
    columns = list(dict.fromkeys(columns))
    problems = []
    for col in columns:
        if col not in schema:
            problems.append(
                f"Column {col!r} of `balance` is not a modelled column. Modelled columns: "
                f"{', '.join(schema.names)}."
            )
        elif schema.column(col).kind not in GROUP_KINDS:
            problems.append(
                f"Column {col!r} of `balance` is of kind {schema.column(col).kind!r}; groups "
                "need a categorical or boolean column (bin numbers into categories first)."
            )
    if problems:
        raise SchemaError(problems)
    return columns


def _levels(series: pd.Series) -> list[Any]:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return list(series.cat.categories)
    values = series.dropna().unique().tolist()
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def _cell_counts(train: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Real records per combination of the columns' levels (missing values form no group)."""
    levels = [_levels(train[c]) for c in columns]
    empty_cols = [c for c, lv in zip(columns, levels, strict=True) if not lv]
    if empty_cols:
        raise SchemaError(
            f"Column(s) {', '.join(empty_cols)} have no non-missing value: there is no group "
            "to balance."
        )
    index = pd.MultiIndex.from_tuples(list(itertools.product(*levels)), names=columns)
    present = train[columns].dropna()
    observed = _multi(present.groupby(columns, observed=True, dropna=True).size(), columns)
    counts = observed.reindex(index, fill_value=0).astype(int)
    if (counts == 0).any():
        raise SchemaError(
            f"{int((counts == 0).sum())} of the {len(counts)} group(s) formed by "
            f"{', '.join(columns)} have no records: records cannot be synthesized for a group "
            "never seen. Merge rare groups or balance on fewer columns."
        )
    return counts


def _plan(strategy: str, columns: list[str], counts: pd.Series,
          target: pd.Series) -> dict[str, Any]:
    counts, target = _multi(counts, columns), _multi(target, columns)
    goals = target.reindex(counts.index).to_numpy()
    cells = []
    for key, real, goal in zip(counts.index, counts.to_numpy(), goals, strict=True):
        goal = max(int(goal), int(real))
        cells.append({
            "group": {c: _plain(v) for c, v in zip(columns, key, strict=True)},
            "real": int(real), "added": goal - int(real), "target": goal,
            "thin": bool(real < THIN_CELL),
        })
    return {"strategy": strategy, "columns": columns, "cells": cells}


def _fair_plan(counts: pd.Series, groups: list[str], target: str) -> dict[str, Any]:
    """Every group to one size and to the overall outcome distribution, adding records only.

    With overall outcome shares ``p``, group ``g`` needs ``N_g = max_c n_gc / p_c`` records
    to reach shares ``p`` without removing any; all groups then grow to ``max_g N_g``.
    """
    table = counts.unstack(target)
    shares = table.sum(axis=0) / table.to_numpy().sum()
    size = float((table / shares).max(axis=1).max())
    goal = np.ceil(np.outer(np.ones(len(table)), shares.to_numpy()) * size - 1e-9).astype(int)
    goal_frame = pd.DataFrame(goal, index=table.index, columns=table.columns)
    target_counts = goal_frame.stack().reorder_levels(counts.index.names)
    plan = _plan("fair", [*groups, target], counts, target_counts)
    plan["outcome_shares"] = {str(_plain(k)): float(v) for k, v in shares.items()}
    return plan


def _factor_plan(train: pd.DataFrame, schema: TableSchema, factor: Any) -> dict[str, Any]:
    ok = isinstance(factor, int | float | np.number) and not isinstance(factor, bool)
    if not ok or not math.isfinite(factor) or factor <= 1.0:
        raise ParameterError(
            f"`factor` must be a number greater than 1 (the release's size over train's), "
            f"got {factor!r}."
        )
    n_new = round((factor - 1.0) * len(train))
    target = schema.target
    if target is None or schema.column(target).kind not in GROUP_KINDS or \
            train[target].isna().all():
        return {"strategy": "factor", "factor": float(factor), "columns": [],
                "cells": [{"group": {}, "real": len(train), "added": n_new,
                           "target": len(train) + n_new, "thin": False}]}
    counts = train[target].value_counts(dropna=True)
    counts = counts.rename_axis(target)
    # largest remainder: the new rows keep the outcome shares exactly, up to rounding
    raw = counts.to_numpy() / counts.sum() * n_new
    added = np.floor(raw).astype(int)
    rest = n_new - int(added.sum())
    added[np.argsort(-(raw - added), kind="stable")[:rest]] += 1
    plan = _plan("factor", [target], counts, counts + added)
    plan["factor"] = float(factor)
    return plan


def _multi(series: pd.Series, columns: list[str]) -> pd.Series:
    """``series`` indexed by a MultiIndex (one level per column), even for one column."""
    if not isinstance(series.index, pd.MultiIndex):
        series = series.copy()
        series.index = pd.MultiIndex.from_arrays([series.index], names=columns)
    return series


def _conditions(plan: dict[str, Any]) -> pd.DataFrame | None:
    rows = []
    for cell in plan["cells"]:
        rows.extend([cell["group"]] * cell["added"])
    if not rows:
        return None
    return pd.DataFrame(rows, columns=plan["columns"])


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value
