"""One longitudinal run: load → schema → split by entity → fit → sample → evaluate → write.

Like :func:`synthmed.pipeline.generate`, every check and computation happens before the first
file is written, and the files are written into a temporary sibling folder moved into place
at the end.

Example
-------
>>> from synthmed.longitudinal_pipeline import generate_longitudinal
>>> run = generate_longitudinal("pbcseq", "out/pbcseq")  # doctest: +SKIP
>>> run.evaluation.verdict  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import shutil
import tempfile
import time as _time
from typing import Any

import pandas as pd

from synthmed.datasets.longitudinal import LongitudinalData
from synthmed.evaluation import EvaluationResult, Thresholds
from synthmed.exceptions import DataError, ParameterError
from synthmed.generators import get_generator
from synthmed.generators.base import BaseGenerator
from synthmed.schema import TableSchema

__all__ = ["LongitudinalRun", "generate_longitudinal", "resolve_longitudinal"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class LongitudinalRun:
    """What :func:`generate_longitudinal` produced and where it wrote it."""

    out_dir: Path
    synthetic: pd.DataFrame
    schema: TableSchema
    generator: Any
    evaluation: EvaluationResult
    timings: dict[str, float] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)


def resolve_longitudinal(
    data: str | Path | pd.DataFrame | LongitudinalData, *, entity: str | None = None,
    time: str | None = None, static: Iterable[str] | None = None, target: str | None = None,
    sensitive: Iterable[str] = (),
) -> tuple[pd.DataFrame, TableSchema, str]:
    """A bundled longitudinal dataset name, a long CSV/Parquet file, a DataFrame or a container.

    Returns ``(long frame, schema, label)``; the frame is sorted and de-duplicated as
    documented in :mod:`synthmed.datasets.longitudinal`.
    """
    from synthmed.datasets import list_datasets, load_dataset, read_table

    bundled = {d.name for d in list_datasets() if d.modality == "longitudinal"}
    static = None if static is None else list(static)
    if isinstance(data, LongitudinalData):
        return data.frame, data.schema, "LongitudinalData"
    if isinstance(data, str) and not Path(data).exists() and data in bundled:
        ds = load_dataset(data)
        schema = ds.schema
        if target is not None or sensitive:
            schema = schema.set_roles(target=target, sensitive=list(sensitive))
        container = LongitudinalData.from_frame(ds.frame, schema=schema)
        return container.frame, container.schema, data
    if isinstance(data, pd.DataFrame):
        frame, label = data, "DataFrame"
    else:
        frame, label = read_table(data), Path(data).name
    if entity is None or time is None:
        raise ParameterError("A long table needs --entity COL and --time COL (entity=..., "
                             "time=...).")
    container = LongitudinalData.from_frame(frame, entity=entity, time=time, static=static,
                                            target=target, sensitive=sensitive)
    return container.frame, container.schema, label


def generate_longitudinal(
    data: str | Path | pd.DataFrame | LongitudinalData,
    out: str | Path,
    *,
    entity: str | None = None,
    time: str | None = None,
    static: Iterable[str] | None = None,
    target: str | None = None,
    sensitive: Iterable[str] = (),
    generator: str = "longitudinal",
    params: Mapping[str, Any] | None = None,
    n: int | None = None,
    seed: int = 0,
    holdout_fraction: float = 0.5,
    thresholds: Thresholds | None = None,
    progress: Progress | None = None,
) -> LongitudinalRun:
    """Split patients, fit, sample, evaluate against held-out patients, write to ``out``.

    Writes ``synthetic.csv`` (long format, fresh entity ids), ``schema.json``,
    ``metrics.json``, ``report.html`` and ``model/``.

    Parameters
    ----------
    data : str, Path, DataFrame or LongitudinalData
        A bundled longitudinal dataset (``pbcseq``, ``nafld2``, ``clif_vitals``), a long
        CSV/Parquet file or frame (one row per entity and time), or a container.
    out : str or Path
        Output folder (created; files of a previous run are replaced).
    entity, time : str, optional
        Entity and time columns (required for files and frames).
    static : iterable of str, optional
        Columns with one value per entity; default: those constant within every entity.
    target : str, optional
        A static outcome (e.g. in-hospital death) for the utility task and the outcome link.
    sensitive : iterable of str
        Static columns whose groups the bias checks compare.
    generator : str
        A registered generator of modality ``"longitudinal"``.
    params : mapping, optional
        Generator parameters.
    n : int, optional
        Synthetic entities; default the number of training entities.
    seed : int
        Seed of the split, the fit, the sampling and the evaluation.
    holdout_fraction : float
        Share of entities held out (never learnt from) as the reference.
    thresholds : Thresholds, optional
    progress : callable, optional
        Called with a short message at each stage.
    """
    from synthmed.evaluation.longitudinal import evaluate_longitudinal, split_entities

    say = progress or (lambda _msg: None)
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ParameterError(f"`n` must be a positive integer, got {n!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"`seed` must be a non-negative integer, got {seed!r}.")
    gen = get_generator(generator, **dict(params or {}))
    if gen.tags.modality != "longitudinal" or not isinstance(gen, BaseGenerator):
        raise ParameterError(f"Generator {generator!r} is for {gen.tags.modality!r} data; use "
                             "a longitudinal generator such as 'longitudinal'.")
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise ParameterError(f"Output {str(out_dir)!r} exists and is not a folder.")
    timings: dict[str, float] = {}
    start = _time.perf_counter()
    frame, schema, label = resolve_longitudinal(data, entity=entity, time=time, static=static,
                                                target=target, sensitive=sensitive)
    train, holdout = split_entities(frame, schema, holdout_fraction=holdout_fraction,
                                    random_state=seed)
    ent = schema.with_role("entity_id")[0]
    n_train = int(train[ent].nunique())
    if n_train < 5 or holdout[ent].nunique() < 5:
        raise DataError(f"Too few entities to split into train and holdout: "
                        f"{frame[ent].nunique()} in total; at least 10 are needed.")
    timings["load_split_s"] = _time.perf_counter() - start
    say(f"{label}: {len(frame):,} rows of {frame[ent].nunique():,} entities; "
        f"train {n_train:,}, holdout {holdout[ent].nunique():,} entities")

    say(f"fitting {generator}")
    start = _time.perf_counter()
    gen.fit(train, schema=schema, random_state=seed)
    timings["fit_s"] = _time.perf_counter() - start
    say("sampling")
    start = _time.perf_counter()
    synthetic = gen.sample(n if n is not None else n_train, random_state=seed)
    timings["sample_s"] = _time.perf_counter() - start
    say("evaluating against the held-out entities")
    start = _time.perf_counter()
    provenance = {"source": label, "generator": generator, "generator_params": gen.get_params(),
                  "seed": seed, "holdout_fraction": holdout_fraction, "release_mode": "full",
                  "not_modelled_columns": schema.dropped_columns}
    result = evaluate_longitudinal(train, holdout, synthetic, schema, thresholds=thresholds,
                                   random_state=seed, provenance=provenance)
    timings["evaluate_s"] = _time.perf_counter() - start
    say(f"writing {out_dir}")
    files = _write(out_dir, synthetic, schema, gen, result, label, timings)
    return LongitudinalRun(out_dir, synthetic, schema, gen, result, timings, files)


def _write(out_dir: Path, synthetic: pd.DataFrame, schema: TableSchema, gen: Any,
           result: EvaluationResult, label: str, timings: dict[str, float]) -> dict[str, Path]:
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
            intended_use="Method development, teaching and analysis prototyping on patients "
            "over time where sharing the real records is not allowed.",
            recipients="People approved by the data holder; not for public release unless "
            "every privacy check passed.",
            limitations=(
                "Synthetic patients are not real: rare trajectories and long-range patterns "
                "the generator did not capture may be missing or distorted.",
                "Entity ids are fresh; times beyond the last time seen in training are cut.",
                f"Columns not modelled: {', '.join(schema.dropped_columns) or 'none'}.",
            ),
            generator=gen.name, parameters=gen.get_params(),
            release_mode="full: only synthetic patients; copies of training trajectories "
            "rejected")
        write_report(result, staging / "report.html", title=f"synthmed report: {label}",
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
