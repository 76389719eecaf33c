"""``evaluate``: check the inputs once, run every section, collect verdicts and provenance."""

from __future__ import annotations

from collections.abc import Callable, Iterable
import hashlib
from importlib import import_module
import platform
from typing import Any

import numpy as np
import pandas as pd

from synthmed.evaluation._models import labels
from synthmed.evaluation.context import EvalContext, SectionOutput, Thresholds
from synthmed.evaluation.result import SECTIONS, EvaluationResult, Metric, Section
from synthmed.exceptions import DataError, ParameterError, SchemaError
from synthmed.generators.base import repeated_share, row_hashes
from synthmed.schema import (
    TableSchema,
    coerce_table,
    incompatible_values,
    infer_schema,
    without_codes,
)
from synthmed.split import group_codes, repeated_identifier

__all__ = ["evaluate"]

_SECTION_FUNCS = {name: f"synthmed.evaluation.{name}:evaluate_{name}" for name in SECTIONS}


def evaluate(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: TableSchema | None = None,
    *,
    thresholds: Thresholds | None = None,
    sections: Iterable[str] = SECTIONS,
    random_state: int = 0,
    max_rows: int = 20_000,
    provenance: dict[str, Any] | None = None,
    check_overlap: bool = True,
) -> EvaluationResult:
    """Measure how faithful, useful, private and fair ``synthetic`` is, against real data.

    Every metric is computed for the synthetic table and, as the reference, for the real
    holdout used as if it were synthetic.

    Parameters
    ----------
    train, holdout : DataFrame
        The real data the generator was fitted on, and real data it never saw.
    synthetic : DataFrame
        The data to judge; it must hold the schema's modelled columns.
    schema : TableSchema, optional
        Kinds and roles (target, sensitive attributes, quasi-identifiers); inferred from
        ``train`` when omitted.
    thresholds : Thresholds, optional
        Pass rules; the defaults of VALIDATION.md when omitted.
    sections : iterable of str
        Which of ``fidelity``, ``utility``, ``privacy``, ``bias``, ``clinical`` to run.
    random_state : int
        Seed of every random step (subsampling, classifiers, attacks).
    max_rows : int
        Expensive metrics subsample each table to this many rows (the report says so).
    provenance : dict, optional
        Extra provenance (generator, parameters, seeds) to record with the result.
    check_overlap : bool
        Refuse a holdout that repeats training rows more than chance explains (the default).
        ``False`` where the caller has checked that the parts hold different patients: a
        table of per-patient summaries can repeat by chance on few, coarse columns.

    Returns
    -------
    EvaluationResult

    Examples
    --------
    >>> from synthmed import load_dataset, train_holdout_split
    >>> from synthmed.evaluation import evaluate
    >>> data = load_dataset("pbc")
    >>> train, holdout = train_holdout_split(data.frame)
    >>> result = evaluate(train, holdout, holdout, data.schema, sections=["fidelity"])
    >>> result["fidelity"].verdict
    'pass'
    """
    sections = list(sections)
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise ParameterError(f"Unknown section(s) {', '.join(unknown)}; use {', '.join(SECTIONS)}.")
    if not isinstance(max_rows, int) or max_rows < 100:
        raise ParameterError(f"`max_rows` must be an integer of at least 100, got {max_rows!r}.")
    for label, frame in (("train", train), ("holdout", holdout), ("synthetic", synthetic)):
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"`{label}` must be a pandas DataFrame, got {type(frame).__name__}.")
        if len(frame) == 0:
            raise DataError(f"The {label} table is empty; it needs at least one row.")
    schema = infer_schema(train) if schema is None else schema
    patient = repeated_identifier(train, schema)
    try:
        prepared, unreadable = _prepare(synthetic, schema, "synthetic"), []
    except SchemaError:
        # another tool's output may hold tokens its kinds cannot read: scored as missing,
        # and said (the check runs only when the strict reading failed)
        unreadable = _unreadable(synthetic, schema)
        if not unreadable:
            raise
        prepared = _prepare(synthetic, schema, "synthetic", lenient=True)
    ctx = EvalContext(
        train=_prepare(train, schema, "train"),
        holdout=_prepare(holdout, schema, "holdout"),
        synthetic=prepared,
        schema=schema.subset(schema.modelled_columns),
        thresholds=thresholds or Thresholds(),
        random_state=random_state,
        max_rows=max_rows,
        train_groups=None if patient is None else group_codes(train[patient]),
        holdout_groups=(group_codes(holdout[patient])
                        if patient is not None and patient in holdout.columns else None),
    )
    if check_overlap:
        _check_overlap(ctx)
    if unreadable:
        ctx.notes.setdefault("fidelity", []).append(
            "The synthetic table holds values its columns' kinds cannot read ("
            + "; ".join(f"{name!r}: {bad:,} of {total:,} values, not {kind}"
                        for name, kind, bad, total in unreadable)
            + "): they are scored as missing, so the fidelity figures count them as defects. "
            "The generator wrote values the source never had (a placeholder such as a rare-value "
            "token, or another format).")

    results: dict[str, Section] = {}
    plots: dict[str, Any] = {}
    for name in sections:
        section, section_plots = _section_func(name)(ctx)
        extra = (*ctx.notes.get(name, ()), *reference_caveats(section, len(ctx.train)))
        if extra:
            section = Section(section.name, section.metrics, section.notes + extra, section.skipped)
        results[name] = section
        plots[name] = section_plots
    return EvaluationResult(
        sections=results,
        provenance=_provenance(ctx, train, holdout, synthetic, provenance or {}),
        plots=plots,
    )


def reference_caveats(section: Section, n_train: int) -> list[str]:
    """Say so when the real holdout fails a gate too: at that size the gate cannot separate a
    generator's memorisation from chance, so its fail means "not demonstrated", not "copied".

    The fail stands (a release is never passed on a technicality); the note tells the reader
    how to read it. Only metric figures are quoted, never a data value.
    """
    out = []
    for m in section.metrics:
        if not (m.gate and m.passed is False and m.threshold is not None
                and m.holdout_value is not None):
            continue
        if m.direction == "lower":
            also_fails = m.holdout_value > m.threshold
        elif m.direction == "higher":
            also_fails = m.holdout_value < m.threshold
        else:
            also_fails = False
        if also_fails:
            out.append(
                f"The real holdout itself fails `{m.name}` ({m.holdout_value:.3f} against the "
                f"bound {m.threshold}): with {n_train:,} training records this gate cannot tell "
                "memorisation from chance, so this fail means the property is not demonstrated "
                "at this size. More records (or a larger holdout) make the gate decisive.")
        elif _interval_only(m):
            assert m.interval is not None and m.value is not None
            out.append(
                f"`{m.name}` is {m.value:.3f}, within its bound {m.threshold}, but its 95% "
                f"interval reaches {m.interval[1]:.3f}: with {n_train:,} training records the "
                "attack cannot show the risk lower than the bound, so this fail means the "
                "property is not demonstrated at this size, not that the attack succeeded.")
    return out


def _interval_only(m: Metric) -> bool:
    """A gate that fails on its interval's far end alone (the figure itself within bounds)."""
    if m.interval is None or m.value is None or m.threshold is None:
        return False
    if m.direction == "lower":
        return m.value <= m.threshold < m.interval[1]
    if m.direction == "higher":
        return m.value >= m.threshold > m.interval[0]
    return False


def _section_func(name: str) -> Callable[[EvalContext], SectionOutput]:
    module, _, attr = _SECTION_FUNCS[name].partition(":")
    return getattr(import_module(module), attr)  # type: ignore[no-any-return]


def _unreadable(frame: pd.DataFrame, schema: TableSchema) -> list[tuple[str, str, int, int]]:
    """(column, kind, values its kind cannot read, values present) for each modelled column
    of ``frame`` (a synthetic table) holding such values."""
    out = []
    for col in schema.subset([c for c in schema.modelled_columns if c in frame.columns]).columns:
        values = without_codes(frame[col.name], col)
        bad = incompatible_values(values, col.kind, col.date_format)
        if bad:
            out.append((col.name, col.kind, bad, int(values.notna().sum())))
    return out


def _prepare(frame: pd.DataFrame, schema: TableSchema, label: str,
             lenient: bool = False) -> pd.DataFrame:
    """The modelled columns in canonical dtypes; extra unmodelled columns are ignored.

    ``lenient`` (a synthetic table, never a real one): values a column's kind cannot read
    become missing instead of stopping the evaluation; the caller says so in the report.
    """
    modelled = schema.modelled_columns
    missing = [c for c in modelled if c not in frame.columns]
    if missing:
        raise DataError(
            f"The {label} table lacks {len(missing)} column(s) of the schema: "
            f"{', '.join(missing)}. All tables must share the source's columns."
        )
    # the generator learnt from train, so train needs a value in every column; a synthetic
    # table (or a small holdout) may have none where the source has a handful
    out = coerce_table(frame[modelled], schema.subset(modelled), validate=not lenient,
                       allow_empty=label != "train")
    # one key per category whatever the storage: a table read back from CSV holds 1 where the
    # source held "1" (or 1.0); compared as they are, every record would look different
    for col in schema.subset(modelled).columns:
        if col.kind in ("categorical", "boolean"):
            out[col.name] = labels(out[col.name])
    return out


def _check_overlap(ctx: EvalContext) -> None:
    """A holdout that repeats train rows would make every privacy figure meaningless."""
    key = "overlap-check"
    train_h = row_hashes(ctx.train, ctx.schema, key)
    hold_h = row_hashes(ctx.holdout, ctx.schema, key)
    overlap = float(np.isin(hold_h, train_h).mean())
    # how often a fresh record equals a training one by chance: read within train and within
    # the holdout, the larger of the two. On strep_tb (24% of its 107 rows repeat another),
    # train's own share alone put a random half split over the bound on 7% of splits
    # (0.5% with both); a holdout copied from train still repeats it at once.
    natural = max(repeated_share(np.unique(h, return_counts=True)[1])
                  for h in (train_h, hold_h))
    if overlap > max(0.05, 2 * natural):
        raise DataError(
            f"{overlap:.0%} of holdout rows also appear in train: the holdout must be real data "
            "the generator never saw. Split the source once (synthmed.train_holdout_split) and "
            "fit on the train part only."
        )


def _table_hash(frame: pd.DataFrame) -> str:
    hashed = pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]


def _provenance(ctx: EvalContext, train: pd.DataFrame, holdout: pd.DataFrame,
                synthetic: pd.DataFrame, extra: dict[str, Any]) -> dict[str, Any]:
    import scipy
    import sklearn

    from synthmed import __version__

    return {
        "data_hash": {
            "train": _table_hash(train),
            "holdout": _table_hash(holdout),
            "synthetic": _table_hash(synthetic),
        },
        "rows": {"train": len(train), "holdout": len(holdout), "synthetic": len(synthetic)},
        "columns": ctx.schema.names,
        "versions": {
            "synthmed": __version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "scikit-learn": sklearn.__version__,
            "scipy": scipy.__version__,
        },
        "evaluation_seed": ctx.random_state,
        "max_rows": ctx.max_rows,
        "threat_model": {
            "quasi_identifiers": ctx.quasi_identifiers,
            "sensitive": ctx.sensitive,
            "assumption": "The attacker knows the quasi-identifiers of a target person and "
            "holds the released synthetic data.",
        },
        "thresholds": ctx.thresholds.to_dict(),
        **extra,
    }
