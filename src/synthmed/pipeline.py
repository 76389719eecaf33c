"""One run, start to end: load → schema → split → fit → sample → evaluate → write.

All checks and computation happen before the first file is written, and files are written into
a temporary folder that replaces the output folder's files only at the end: a bad input or a
failure leaves nothing half-written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import shutil
import tempfile
import time
from typing import Any

import pandas as pd

from synthmed.datasets import dataset_info, list_datasets, load_dataset, read_table
from synthmed.evaluation import EvaluationResult, Thresholds, evaluate
from synthmed.exceptions import DataError, ParameterError
from synthmed.generators import BaseGenerator, get_generator
from synthmed.generators.registry import DEFAULT_GENERATOR
from synthmed.schema import TableSchema, infer_schema
from synthmed.split import train_holdout_split

__all__ = ["RunResult", "generate", "resolve_data"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunResult:
    """What a :func:`generate` run produced and where it wrote it."""

    out_dir: Path
    synthetic: pd.DataFrame
    schema: TableSchema
    generator: BaseGenerator
    evaluation: EvaluationResult | None
    dropped_columns: list[str]
    timings: dict[str, float] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)


def resolve_data(
    data: str | Path | pd.DataFrame,
    *,
    schema: TableSchema | str | Path | None = None,
    target: str | None = None,
    sensitive: Iterable[str] = (),
) -> tuple[pd.DataFrame, TableSchema, str]:
    """Load a bundled dataset name, a file or a DataFrame, with its schema.

    Returns ``(frame, schema, label)``. A schema file is read and checked against the data;
    ``target`` and ``sensitive`` are applied on top of it.
    """
    sensitive = list(sensitive)
    info = None
    if isinstance(data, pd.DataFrame):
        frame, label = data, "DataFrame"
    elif isinstance(data, str) and data in {d.name for d in list_datasets()} and not Path(data).exists():
        bundled = load_dataset(data)
        frame, label, info = bundled.frame, data, dataset_info(data)
    else:
        frame, label = read_table(data), Path(data).name
    if len(frame) == 0:
        raise DataError("The table is empty; it needs rows to learn from.")
    if isinstance(schema, str | Path):
        schema = TableSchema.load(schema)
    if schema is None:
        schema = infer_schema(
            frame,
            target=target if target is not None else (info.target if info else None),
            sensitive=sensitive or (info.sensitive if info else ()),
            survival=info.survival if info else None,
            event_value=info.event_value if info else None,
        )
    else:
        schema.validate(frame)
    if target is not None or sensitive:
        schema = schema.set_roles(target=target, sensitive=sensitive)
    return frame, schema, label


def generate(
    data: str | Path | pd.DataFrame,
    out: str | Path,
    *,
    generator: str = DEFAULT_GENERATOR,
    params: Mapping[str, Any] | None = None,
    schema: TableSchema | str | Path | None = None,
    target: str | None = None,
    sensitive: Iterable[str] = (),
    n: int | None = None,
    seed: int = 0,
    holdout_fraction: float = 0.5,
    thresholds: Thresholds | None = None,
    sections: Iterable[str] | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Split, fit, sample a fully synthetic table, evaluate it and write everything to ``out``.

    Writes ``synthetic.csv``, ``schema.json``, ``metrics.json``, ``report.html`` and the
    fitted model under ``model/``.

    Parameters
    ----------
    data : str, Path or DataFrame
        A bundled dataset name (see ``synthmed datasets``), a CSV/Parquet file, or a table.
    out : str or Path
        Output folder (created; files of a previous run are replaced).
    generator : str
        Registered generator name.
    params : mapping, optional
        Generator parameters.
    schema, target, sensitive
        Schema (object or JSON file) and roles; inferred when omitted.
    n : int, optional
        Synthetic rows; default the size of the training part.
    seed : int
        Seed of the split, the fit, the sampling and the evaluation.
    holdout_fraction : float
        Share of real rows kept aside as the holdout (default 0.5).
    thresholds : Thresholds, optional
        Pass rules of the evaluation.
    sections : iterable of str, optional
        Evaluation sections to run (default: all).
    progress : callable, optional
        Called with a short message at each stage.

    Examples
    --------
    >>> from synthmed.pipeline import generate
    >>> run = generate("pbc", "out/pbc", generator="gaussian_copula")  # doctest: +SKIP
    >>> run.evaluation.verdict  # doctest: +SKIP
    'pass'
    """
    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ParameterError(f"`n` must be a positive integer, got {n!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"`seed` must be a non-negative integer, got {seed!r}.")
    gen = get_generator(generator, **dict(params or {}))
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise ParameterError(f"Output {str(out_dir)!r} exists and is not a folder.")

    start = time.perf_counter()
    frame, schema, label = resolve_data(data, schema=schema, target=target, sensitive=sensitive)
    schema.validate(frame)
    train, holdout = train_holdout_split(
        frame, holdout_fraction=holdout_fraction, stratify=schema.target, random_state=seed
    )
    timings["load_split_s"] = time.perf_counter() - start
    say(f"{label}: {len(frame):,} rows x {frame.shape[1]} columns; "
        f"train {len(train):,}, holdout {len(holdout):,}")
    if schema.dropped_columns:
        say(f"not modelled (identifiers / free text): {', '.join(schema.dropped_columns)}")

    say(f"fitting {generator}")
    start = time.perf_counter()
    gen.fit(train, schema=schema, random_state=seed)
    timings["fit_s"] = time.perf_counter() - start

    n_rows = n if n is not None else len(train)
    say(f"sampling {n_rows:,} rows")
    start = time.perf_counter()
    synthetic = gen.sample(n_rows, random_state=seed)
    timings["sample_s"] = time.perf_counter() - start

    say("evaluating against the holdout")
    start = time.perf_counter()
    result = evaluate(
        train, holdout, synthetic, schema,
        thresholds=thresholds,
        random_state=seed,
        provenance={
            "source": label,
            "generator": generator,
            "generator_params": gen.get_params(),
            "seed": seed,
            "holdout_fraction": holdout_fraction,
            "release_mode": "full",
            "not_modelled_columns": schema.dropped_columns,
            "dp_epsilon": gen.tags.dp_epsilon,
        },
        **({"sections": list(sections)} if sections is not None else {}),
    )
    timings["evaluate_s"] = time.perf_counter() - start

    say(f"writing {out_dir}")
    files = _write_outputs(out_dir, synthetic, schema, gen, result, title=label,
                           timings=timings)
    return RunResult(
        out_dir=out_dir, synthetic=synthetic, schema=schema, generator=gen,
        evaluation=result, dropped_columns=schema.dropped_columns, timings=timings, files=files,
    )


def _write_outputs(out_dir: Path, synthetic: pd.DataFrame, schema: TableSchema,
                   gen: BaseGenerator, result: EvaluationResult, *, title: str,
                   timings: dict[str, float]) -> dict[str, Path]:
    from synthmed.report import DataCard, write_report

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        synthetic.to_csv(staging / "synthetic.csv", index=False)
        schema.save(staging / "schema.json")
        doc = result.to_dict()
        doc["timings"] = {k: round(v, 3) for k, v in timings.items()}
        (staging / "metrics.json").write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
        card = DataCard(
            intended_use="Method development, teaching and analysis prototyping where "
            "sharing the real patient records is not allowed.",
            recipients="People approved by the data holder; not for public release unless every "
            "privacy check passed.",
            limitations="Synthetic records are not real patients: rare combinations and "
            "relationships not captured by the generator may be missing or distorted. "
            f"Columns not modelled: {', '.join(schema.dropped_columns) or 'none'}.",
            generator=gen.name,
            parameters=gen.get_params(),
            release_mode="full (only synthetic records; copies of training records rejected)",
        )
        write_report(result, staging / "report.html", title=f"synthmed report: {title}",
                     data_card=card)
        gen.save(staging / "model")
        out_dir.mkdir(exist_ok=True)
        files = {}
        for item in sorted(staging.iterdir()):
            target = out_dir / item.name
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(item, target)
            files[item.name] = target
        return files
    finally:
        shutil.rmtree(staging, ignore_errors=True)
