"""Hybrid and augmented releases of longitudinal data (patients over time).

A record here is a patient's (or stay's) whole trajectory, so provenance is per patient:
every row of a patient carries the same label.

* :func:`release_longitudinal_mix` — real patients' whole trajectories, unchanged, together
  with synthetic patients; the patients are shuffled (each patient's rows stay together and in
  time order).
* :func:`release_longitudinal_augment` — every real patient plus synthetic patients drawn
  *conditionally on static values* (the generator's ``conditions``), so that every group /
  outcome cell reaches the largest cell's patient count.

Synthetic patients never repeat a real patient's whole trajectory, and their entity ids never
collide with a real patient's id. Only the generator's modelled columns are released (the
entity, time, static and measure columns; identifiers and free text are not).

Example
-------
>>> from synthmed.longitudinal_pipeline import resolve_longitudinal  # doctest: +SKIP
>>> release = release_longitudinal_mix(gen, train, schema, real_fraction=0.5,
...                                    random_state=0)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
import contextlib
import hashlib
import math
import secrets
from typing import TYPE_CHECKING, Any
import warnings

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
from synthmed.modes._checks import GROUP_KINDS, check_frame, check_generator, check_positive_int
from synthmed.modes.augment import TARGET_ALIAS, _conditions, augmentation_plan
from synthmed.modes.provenance import Release, make_provenance
from synthmed.schema import NUMERIC_KINDS, TableSchema, restore_table

if TYPE_CHECKING:
    from synthmed.datasets.io import CsvFormat

__all__ = ["longitudinal_augmentation_plan", "release_longitudinal_augment",
           "release_longitudinal_mix", "tall_release"]

#: rounds of redrawing synthetic patients whose whole trajectory repeats a real one
MAX_REDRAW_ROUNDS = 25


def release_longitudinal_mix(
    generator: BaseGenerator,
    real_long: pd.DataFrame,
    schema: TableSchema,
    *,
    real_fraction: float,
    n_entities: int | None = None,
    random_state: RandomState = 0,
) -> Release:
    """Real patients' whole trajectories and synthetic patients, ``real_fraction`` real.

    Parameters
    ----------
    generator : BaseGenerator
        A fitted longitudinal generator (usually fitted on ``real_long``).
    real_long : DataFrame
        The real long frame (one row per entity and time).
    schema : TableSchema
        The long frame's schema (roles ``entity_id``, ``time_index``, ``static``).
    real_fraction : float
        Share of released *patients* that are real, in [0, 1];
        ``round(real_fraction * n_entities)`` real patients are picked at random.
    n_entities : int, optional
        Patients to release (default: the number of real patients).
    random_state : int or numpy Generator
        Same seed, same release.

    Returns
    -------
    Release
        ``mode="mix"``; ``provenance`` per row (the same for all rows of a patient);
        ``source_index`` the row's position in ``real_long`` (``-1`` for synthetic rows);
        ``stats`` the patients and rows per provenance.

    Examples
    --------
    >>> from synthmed import get_generator, load_dataset
    >>> data = load_dataset("pbcseq")
    >>> gen = get_generator("longitudinal").fit(data.frame, schema=data.schema)  # doctest: +SKIP
    >>> release = release_longitudinal_mix(gen, data.frame, data.schema,
    ...                                    real_fraction=0.3)  # doctest: +SKIP
    """
    generator, names, entity = _check_inputs(generator, real_long, schema)
    ok = isinstance(real_fraction, int | float | np.number) and not isinstance(real_fraction, bool)
    if not ok or not math.isfinite(real_fraction) or not 0.0 <= real_fraction <= 1.0:
        raise ParameterError(f"`real_fraction` must be a number in [0, 1], got {real_fraction!r}.")
    real = check_frame(real_long, "real_long", names)
    ids = pd.unique(real[entity])
    n = len(ids) if n_entities is None else check_positive_int(n_entities, "n_entities")
    n_real = math.floor(real_fraction * n + 0.5)
    if n_real > len(ids):
        raise ParameterError(
            f"A release of {n} patients with `real_fraction`={real_fraction} needs {n_real} "
            f"real patients, but the real table has {len(ids)}. Lower `n_entities` or "
            "`real_fraction`."
        )
    rng = make_rng(random_state)
    picked = ids[np.sort(rng.choice(len(ids), n_real, replace=False))]
    n_syn = n - n_real
    synthetic = _sample_fresh(generator, n_syn, real, names, entity, None, rng)
    # shuffle patients (not rows): each patient's rows stay together, in time order
    blocks: list[tuple[str, Any]] = [("real", e) for e in picked]
    blocks += [("synthetic", e) for e in pd.unique(synthetic[entity])] if n_syn else []
    order = rng.permutation(len(blocks))
    real_rows = _rows_by_entity(real[entity])
    syn_rows = _rows_by_entity(synthetic[entity]) if n_syn else {}
    parts, labels, source = [], [], []
    for i in order:
        kind, ent = blocks[i]
        if kind == "real":
            idx = real_rows[ent]
            parts.append(real.iloc[idx][names])
            source.append(idx)
        else:
            idx = syn_rows[ent]
            parts.append(synthetic.iloc[idx][names])
            source.append(np.full(len(idx), -1))
        labels.append(np.full(len(idx), kind, dtype=object))
    data = _relabel_entities(_concat(parts, real[names]), entity)
    n_real_rows = int(sum(len(idx) for idx in source if len(idx) and idx[0] >= 0))
    stats = {"patients": n, "real_patients": n_real, "synthetic_patients": n_syn,
             "real_fraction": real_fraction, "rows": len(data),
             "real_rows": n_real_rows, "synthetic_rows": len(data) - n_real_rows,
             "entity_column": entity}
    return Release(data=data, provenance=make_provenance(np.concatenate(labels)), mode="mix",
                   source_index=np.concatenate(source).astype(np.int64), stats=stats)


def release_longitudinal_augment(
    generator: BaseGenerator,
    real_long: pd.DataFrame,
    schema: TableSchema,
    *,
    balance: str | Sequence[str],
    random_state: RandomState = 0,
) -> Release:
    """Every real patient plus synthetic patients where groups or outcomes are thin.

    Parameters
    ----------
    generator : BaseGenerator
        A fitted longitudinal generator supporting conditions on static columns.
    real_long : DataFrame
        The real long frame; all of it is released (provenance ``real``).
    schema : TableSchema
        The long frame's schema.
    balance : str or sequence of str
        Static categorical or boolean columns (``"target"`` stands for the schema's target,
        which must be static). Patients are counted per combination of their values (a cell);
        every cell is filled up to the largest cell's patient count.
    random_state : int or numpy Generator
        Same seed, same release.

    Returns
    -------
    Release
        ``mode="augment"``: the real rows first (in ``real_long``'s order), then the synthetic
        patients; ``stats["cells"]`` lists per cell the real patients, the patients added and
        the count reached (cell values appear there, never in error messages).

    Examples
    --------
    >>> release = release_longitudinal_augment(gen, data.frame, data.schema,
    ...                                        balance="target")  # doctest: +SKIP
    >>> release.stats["synthetic_patients"] > 0  # doctest: +SKIP
    True
    """
    generator, names, entity = _check_inputs(generator, real_long, schema)
    real = check_frame(real_long, "real_long", names)
    plan = longitudinal_augmentation_plan(real, schema, balance=balance, names=names)
    n_patients = int(real[entity].nunique())
    rng = make_rng(random_state)
    conditions = _conditions(plan)
    n_new = int(sum(cell["added"] for cell in plan["cells"]))
    parts = [real[names]]
    if n_new:
        parts.append(_sample_fresh(generator, n_new, real, names, entity, conditions, rng))
    data = _relabel_entities(_concat(parts, real[names]), entity)
    n_syn_rows = len(data) - len(real)
    labels = ["real"] * len(real) + ["synthetic"] * n_syn_rows
    stats = {k: v for k, v in plan.items() if k != "conditions"}
    stats.update(unit="patients", real_patients=n_patients, synthetic_patients=n_new,
                 real_rows=len(real), synthetic_rows=n_syn_rows, entity_column=entity)
    return Release(data=data, provenance=make_provenance(labels), mode="augment",
                   source_index=np.r_[np.arange(len(real)), np.full(n_syn_rows, -1)].astype(
                       np.int64), stats=stats)


def longitudinal_augmentation_plan(real_long: pd.DataFrame, schema: TableSchema, *,
                                   balance: str | Sequence[str],
                                   names: Sequence[str] | None = None) -> dict[str, Any]:
    """How many synthetic patients each cell of ``balance`` gets (see
    :func:`release_longitudinal_augment`), without drawing any; a clear error where the
    columns cannot be balanced or a cell has no patient. ``names``: the modelled columns
    (default: the schema's)."""
    entity = schema.with_role("entity_id")[0]
    columns = _balance_columns(balance, schema, list(names or schema.names))
    patients = real_long.drop_duplicates(entity, keep="first").reset_index(drop=True)
    try:
        return augmentation_plan(patients, schema.subset(columns), balance=columns)
    except SchemaError as exc:  # e.g. an empty cell: a parameter problem for this mode
        raise ParameterError(str(exc)) from None


# ---------------------------------------------------------------------------- helpers
def _check_inputs(generator: Any, real_long: Any,
                  schema: Any) -> tuple[BaseGenerator, list[str], str]:
    generator = check_generator(generator)
    if getattr(generator.tags, "modality", None) != "longitudinal":
        raise ParameterError(
            f"`generator` must be a longitudinal generator, got {type(generator).__name__}."
        )
    if not isinstance(schema, TableSchema):
        raise ParameterError(f"`schema` must be a TableSchema, got {type(schema).__name__}.")
    entities = schema.with_role("entity_id")
    if len(entities) != 1:
        raise ParameterError("The schema must mark exactly one entity column (role entity_id).")
    names = list(generator.schema_.names)
    return generator, names, entities[0]


def _balance_columns(balance: Any, schema: TableSchema, names: list[str]) -> list[str]:
    if isinstance(balance, str):
        balance = [balance]
    if not isinstance(balance, Sequence) or not balance or not all(
            isinstance(c, str) for c in balance):
        raise ParameterError("`balance` must name at least one static column (a string or a "
                             "list), or 'target'.")
    static = set(schema.with_role("static"))
    columns = []
    problems = []
    for col in dict.fromkeys(balance):
        if col == TARGET_ALIAS and col not in schema:
            if schema.target is None:
                problems.append("`balance` names 'target' but the schema has no target column.")
                continue
            col = schema.target
        if col not in schema or col not in names:
            problems.append(f"Column {col!r} of `balance` is not a modelled column.")
        elif col not in static:
            problems.append(
                f"Column {col!r} of `balance` is not static (one value per patient); only "
                "static columns can be balanced, since patients are what is counted.")
        elif schema.column(col).kind not in GROUP_KINDS:
            problems.append(
                f"Column {col!r} of `balance` is of kind {schema.column(col).kind!r}; groups "
                "need a categorical or boolean column (bin numbers into categories first).")
        elif col not in columns:
            columns.append(col)
    if problems:
        raise ParameterError(" ".join(problems))
    return columns


def tall_release(release: Release, real_long: pd.DataFrame, source: pd.DataFrame,
                 schema: TableSchema, fmt: CsvFormat) -> Release:
    """A hybrid or augmented release of a tall source (a row per measurement) in its layout.

    A real patient's rows are that patient's own rows of ``source`` (every column as recorded:
    the export's labels, order and result times, repeated and value-less measurements; only
    the id is new), numbers written with their measure's decimals; a synthetic patient's are
    melted as :meth:`synthmed.datasets.tall.TallLayout.melt` writes them (labels and other
    dates drawn). Melting a real patient too would attach drawn labels and dates to rows
    released as real. Patients keep the release's order; ``release.data`` holds the released
    patients a row per time (``source_index`` into ``real_long``), already restored.
    """
    layout = fmt.tall
    if layout is None or release.source_index is None:
        raise ValueError("tall_release needs a tall layout and the release's source_index")
    entity, key, order = layout.entity, "__provenance", "__patient"
    wide = release.data.copy()
    wide[key] = release.provenance.astype(str).to_numpy()
    wide[order] = pd.factorize(wide[entity])[0]
    real = release.source_index >= 0
    melted = fmt.laid_out(wide[~real])
    columns = [c for c in melted.columns if c not in (key, order)]
    # each real patient's source id -> its new id and place in the release
    ids = real_long[entity].iloc[release.source_index[real]].astype(str).to_numpy()
    new_id = dict(zip(ids, wide.loc[real, entity], strict=True))
    place = dict(zip(ids, wide.loc[real, order], strict=True))
    source_ids = source[entity].astype(str)
    rows = source[source_ids.isin(new_id)].copy()
    picked = source_ids[rows.index]
    rows[entity], rows[order] = picked.map(new_id), picked.map(place)
    rows[key] = "real"
    rows[layout.value] = _written_values(rows, layout.measure, layout.value, schema)
    data = pd.concat([melted, rows[[c for c in melted.columns if c in rows.columns]]],
                     ignore_index=True).sort_values(order, kind="stable")
    return Release(data=data[columns].reset_index(drop=True),
                   provenance=make_provenance(data[key]), mode=release.mode,
                   source_index=None, stats=release.stats)


def _written_values(rows: pd.DataFrame, measure: str, value: str,
                    schema: TableSchema) -> pd.Series:
    """Each real row's value as its measure's synthetic values are written (whole numbers
    without ".0", the measure's decimals), so that real and synthetic rows read alike."""
    out = rows[value].astype(object).copy()
    names = rows[measure].astype(str).str.strip()
    for name, at in names.groupby(names, sort=False).groups.items():
        if name in schema and schema.column(name).kind in NUMERIC_KINDS:
            numbers = pd.to_numeric(rows.loc[at, value], errors="coerce")
            written = restore_table(numbers.rename(name).to_frame(), schema)[name]
            if schema.column(name).kind == "integer" and written.dtype == float:
                written = written.astype("Int64")  # as the melted rows print it: "43"
            out.loc[at] = np.where(numbers.notna(), written.astype(object).to_numpy(),
                                   rows.loc[at, value].to_numpy())
    return out


def _rows_by_entity(ids: pd.Series) -> dict[Any, np.ndarray]:
    return {k: np.asarray(v) for k, v in ids.reset_index(drop=True).groupby(
        ids.reset_index(drop=True), sort=False).indices.items()}


def _concat(parts: list[pd.DataFrame], like: pd.DataFrame) -> pd.DataFrame:
    with warnings.catch_warnings():
        # a patient with a measure never recorded has an all-empty column: pandas warns that
        # such columns will one day count for the joined dtype; each is cast to the source's
        # dtype below either way
        warnings.simplefilter("ignore", FutureWarning)
        out = pd.concat(parts, ignore_index=True) if parts else like.iloc[:0].copy()
    for col in out.columns:
        if out[col].dtype != like[col].dtype:
            with contextlib.suppress(TypeError, ValueError):
                out[col] = out[col].astype(like[col].dtype)
    return out.reset_index(drop=True)


def _trajectory_hashes(frame: pd.DataFrame, names: list[str], entity: str,
                       schema: TableSchema, key: str) -> pd.Series:
    """One keyed hash per entity over its whole trajectory (entity id excluded)."""
    cols = [c for c in names if c != entity]
    rows = row_hashes(frame[cols], schema.subset(cols), key)
    codes, uniques = pd.factorize(frame[entity])
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    digest_key = bytes.fromhex(key.ljust(16, "0")[:16])
    hashes = [int.from_bytes(hashlib.blake2b(chunk.tobytes(), key=digest_key,
                                             digest_size=8).digest(), "little")
              for chunk in np.split(rows[order], bounds)]
    return pd.Series(hashes, index=uniques[np.unique(codes)], dtype=object)


def _sample_fresh(generator: BaseGenerator, n: int, real: pd.DataFrame, names: list[str],
                  entity: str, conditions: pd.DataFrame | None,
                  rng: np.random.Generator) -> pd.DataFrame:
    """``n`` synthetic patients: no whole trajectory equal to a real one, ids not real ids."""
    if n == 0:
        return real[names].iloc[:0].copy()
    schema = generator.schema_
    key = secrets.token_hex(8)
    # as for training trajectories: those 10+ real patients share, or all where real
    # trajectories repeat so often that equality is chance, are not avoided (geepack::ohio)
    real_hashes = _trajectory_hashes(real, names, entity, schema, key)
    known = set(copy_check(real_hashes.to_numpy(dtype=np.uint64))[0].tolist())
    out = generator.sample(n, conditions=conditions, random_state=rng)
    for _ in range(MAX_REDRAW_ROUNDS):
        hashes = _trajectory_hashes(out, names, entity, schema, key)
        order = pd.unique(out[entity])  # entity i of the draw = row i of conditions
        copied = [i for i, e in enumerate(order) if hashes[e] in known]
        if not copied:
            break
        sub = None if conditions is None else conditions.iloc[copied].reset_index(drop=True)
        redraw = generator.sample(len(copied), conditions=sub, random_state=rng)
        redraw_ids = pd.unique(redraw[entity])
        mapping = {r: order[i] for r, i in zip(redraw_ids, copied, strict=True)}
        redraw[entity] = redraw[entity].map(mapping)
        drop = out[entity].isin([order[i] for i in copied])
        out = pd.concat([out[~drop], redraw], ignore_index=True)
        pos = {e: i for i, e in enumerate(order)}
        out = out.iloc[np.argsort(out[entity].map(pos).to_numpy(), kind="stable")]
        out = out.reset_index(drop=True)
    else:
        raise DataError(
            f"Could not avoid repeating real patients' trajectories after {MAX_REDRAW_ROUNDS} "
            f"rounds: the model keeps drawing trajectories fewer than "
            f"{COMMON_RECORD_MIN_COUNT} real patients share.")
    out = out[names].copy()
    out[entity] = _fresh_ids(out[entity], real[entity], rng)
    return out


def _relabel_entities(data: pd.DataFrame, entity: str) -> pd.DataFrame:
    """Every released patient gets a new id, in order of appearance.

    A real patient's id is a direct identifier, and real ids next to synthetic ones would also
    give provenance away even when it goes to a sidecar; ``source_index`` keeps the link.
    """
    codes, _ = pd.factorize(data[entity])
    width = max(5, len(str(codes.max() + 1 if len(codes) else 0)))
    out = data.copy()
    out[entity] = [f"patient-{c + 1:0{width}d}" for c in codes]
    return out


def _fresh_ids(synthetic_ids: pd.Series, real_ids: pd.Series,
               rng: np.random.Generator) -> pd.Series:
    """Synthetic entity ids that are no real entity's id, of the real ids' type."""
    uniq = pd.unique(synthetic_ids)
    n = len(uniq)
    taken = pd.unique(real_ids.dropna())
    if pd.api.types.is_integer_dtype(real_ids.dtype) and len(taken):
        hi = int(np.max(taken))
        new = np.arange(hi + 1, hi + 1 + n, dtype=np.int64)
        mapping = dict(zip(uniq, new, strict=True))
        return synthetic_ids.map(mapping).astype(real_ids.dtype)
    taken_str = {str(t) for t in taken}
    width = max(5, len(str(n)))
    prefix = "syn-"
    while True:
        fresh = [f"{prefix}{i + 1:0{width}d}" for i in range(n)]
        if not taken_str.intersection(fresh):
            break
        prefix = f"syn{rng.integers(10**6):06d}-"
    return synthetic_ids.map(dict(zip(uniq, fresh, strict=True))).astype(object)
