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
from dataclasses import dataclass, field, replace
import json
from pathlib import Path
import time as _time
from typing import TYPE_CHECKING, Any

import pandas as pd

from synthmed._outputs import write_atomically
from synthmed.datasets.io import CsvFormat, source_format
from synthmed.datasets.longitudinal import LongitudinalData
from synthmed.datasets.pairs import PAIRS_ATTR, paired_columns, split_pairs, with_parts
from synthmed.datasets.tall import TALL_ATTR, read_measures, tall_layout
from synthmed.evaluation import EvaluationResult, Thresholds
from synthmed.exceptions import DataError, ParameterError
from synthmed.generators import get_generator
from synthmed.generators.base import BaseGenerator
from synthmed.modes.provenance import Release
from synthmed.pipeline import MAX_RUN_CELLS
from synthmed.schema import TableSchema, read_notes, restore_table
from synthmed.split import unseen_in_train

if TYPE_CHECKING:
    from synthmed.pipeline import ReleaseOptions

__all__ = ["LongitudinalRun", "generate_longitudinal", "resolve_longitudinal"]

Progress = Callable[[str], None]

#: a long frame's attribute: what preparing it did (:func:`prepare_long_table`'s notes)
PREPARED_ATTR = "synthmed_prepared"


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
    release: Release | None = None
    #: rows of ``synthetic`` as written: a row per measurement for a tall source
    written_rows: int | None = None


def resolve_longitudinal(
    data: str | Path | pd.DataFrame | LongitudinalData, *, entity: str | None = None,
    time: str | None = None, static: Iterable[str] | None = None, target: str | None = None,
    sensitive: Iterable[str] = (), measure: str | None = None, value: str | None = None,
) -> tuple[pd.DataFrame, TableSchema, str]:
    """A bundled longitudinal dataset name, a long CSV/Parquet file, a DataFrame or a container.

    Returns ``(long frame, schema, label)``; the frame is sorted and de-duplicated as
    documented in :mod:`synthmed.datasets.longitudinal`. With ``measure`` and ``value`` the
    table is tall (a row per measurement: :mod:`synthmed.datasets.tall`); it is pivoted to a
    column per measure, and its layout travels in the frame's ``attrs`` (``tall_layout``).
    """
    long, schema, label, _ = _read_long(data, entity=entity, time=time, static=static,
                                        target=target, sensitive=sensitive, measure=measure,
                                        value=value)
    return long, schema, label


def _read_long(
    data: str | Path | pd.DataFrame | LongitudinalData, *, entity: str | None,
    time: str | None, static: Iterable[str] | None, target: str | None,
    sensitive: Iterable[str], measure: str | None, value: str | None,
) -> tuple[pd.DataFrame, TableSchema, str, pd.DataFrame | None]:
    """:func:`resolve_longitudinal`, and the tall source as read (None if not tall): a
    hybrid or augmented release writes real patients' own rows of it."""
    from synthmed.datasets import list_datasets, load_dataset, read_table

    bundled = {d.name for d in list_datasets() if d.modality == "longitudinal"}
    static = None if static is None else list(static)
    if isinstance(data, LongitudinalData):
        return data.frame, data.schema, "LongitudinalData", None
    if isinstance(data, str) and not Path(data).exists() and data in bundled:
        ds = load_dataset(data)
        schema = ds.schema
        if target is not None or sensitive:
            schema = schema.set_roles(target=target, sensitive=list(sensitive))
        container = LongitudinalData.from_frame(ds.frame, schema=schema)
        return container.frame, container.schema, data, None
    if isinstance(data, pd.DataFrame):
        frame, label = data, "DataFrame"
    else:
        frame, label = read_table(data), Path(data).name
    if entity is None or time is None:
        raise ParameterError("A long table needs --entity COL and --time COL (entity=..., "
                             "time=...).")
    source = frame
    frame, static, tall, notes = read_measures(frame, entity=entity, time=time,
                                               measure=measure, value=value, static=static)
    frame = split_pairs(frame)  # "120/80" cells: two number columns (datasets.pairs)
    if static is not None:  # --static bp: both parts of the file's "120/80" column
        static = with_parts(static, paired_columns(frame))
    container = LongitudinalData.from_frame(frame, entity=entity, time=time, static=static,
                                            target=target, sensitive=sensitive)
    long = container.frame
    long.attrs[PAIRS_ATTR] = frame.attrs.get(PAIRS_ATTR, [])
    # what preparing the table did (rows merged at one time of one patient), said by the run
    long.attrs[PREPARED_ATTR] = list(container.notes)
    if tall is not None:
        long.attrs[TALL_ATTR] = {**tall.to_meta(), "notes": notes}
    return long, container.schema, label, source if tall is not None else None


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
    release: ReleaseOptions | None = None,
    measure: str | None = None,
    value: str | None = None,
) -> LongitudinalRun:
    """Split patients, fit, sample, evaluate against held-out patients, write to ``out``.

    Writes ``synthetic.csv`` (long format, fresh entity ids) in ``full`` mode, ``release.csv``
    (real and synthetic patients, provenance per row in a column or
    ``release_provenance.csv``) in ``hybrid`` (``mix``) and ``augment`` modes, and
    ``schema.json``, ``metrics.json``, ``report.html`` and ``model/``.

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
    measure, value : str, optional
        A tall table (a row per measurement, as EHR exports hold vitals and labs): the column
        naming the measure and the column of its value. The synthetic patients are written
        back the same way.
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
    release : ReleaseOptions, optional
        What to release (default ``full``): ``full``; ``hybrid`` with ``hybrid="mix"`` and
        ``real_fraction`` (share of released *patients* that are real training patients,
        each with their whole trajectory); ``augment`` with ``balance`` (static categorical
        columns and/or ``"target"``: training patients plus synthetic patients up to the
        largest cell). ``hybrid="partial"``, ``fair``, ``factor`` and the full-mode distance
        filter are tabular-only and refused here.

    Examples
    --------
    >>> run = generate_longitudinal("pbcseq", "out/pbcseq")  # doctest: +SKIP
    >>> run = generate_longitudinal("vitals.csv", "out/vitals", entity="stay_id",
    ...                             time="hours", target="died")  # doctest: +SKIP
    >>> run.evaluation.verdict, run.files["synthetic.csv"]  # doctest: +SKIP
    """
    from synthmed.evaluation.longitudinal import (
        entity_strata,
        evaluate_longitudinal,
        split_entities,
    )

    say = progress or (lambda _msg: None)
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ParameterError(f"`n` must be a positive integer, got {n!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"`seed` must be a non-negative integer, got {seed!r}.")
    options = _check_release(release)
    gen = get_generator(generator, **dict(params or {}))
    if gen.tags.modality != "longitudinal" or not isinstance(gen, BaseGenerator):
        raise ParameterError(f"Generator {generator!r} is for {gen.tags.modality!r} data; use "
                             "a longitudinal generator such as 'longitudinal'.")
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise ParameterError(f"Output {str(out_dir)!r} exists and is not a folder.")
    timings: dict[str, float] = {}
    start = _time.perf_counter()
    frame, schema, label, source = _read_long(data, entity=entity, time=time, static=static,
                                              target=target, sensitive=sensitive,
                                              measure=measure, value=value)
    if options is None:
        source = None  # only a release of real patients writes their rows as recorded
    tall, tall_notes = tall_layout(frame)
    # a column no row records (an export's unused field) is left out, as for tables
    schema, empty = unseen_in_train(frame, schema)
    train, holdout = split_entities(frame, schema, holdout_fraction=holdout_fraction,
                                    random_state=seed)
    schema, unseen = unseen_in_train(train, schema)
    if options is not None and options.mode == "augment":  # refused before fitting
        from synthmed.modes.longitudinal import longitudinal_augmentation_plan

        longitudinal_augmentation_plan(train, schema, balance=list(options.balance))
    ent = schema.with_role("entity_id")[0]
    n_train = int(train[ent].nunique())
    if n_train < 5 or holdout[ent].nunique() < 5:
        raise DataError(f"Too few entities to split into train and holdout: "
                        f"{frame[ent].nunique()} in total, split {n_train} / "
                        f"{holdout[ent].nunique()}; each side needs at least 5.")
    rows = n * len(frame) / frame[ent].nunique() if n is not None else 0
    if rows * len(schema.names) > MAX_RUN_CELLS:
        raise ParameterError(
            f"--n {n:,} entities of about {len(frame) / frame[ent].nunique():.0f} rows x "
            f"{len(schema.names)} columns is more than {MAX_RUN_CELLS:,} cells to hold, "
            "evaluate and write in one run; ask for fewer entities (runs with other seeds "
            "give more).")
    timings["load_split_s"] = _time.perf_counter() - start
    say(f"{label}: {len(frame):,} rows of {frame[ent].nunique():,} entities; "
        f"train {n_train:,}, holdout {holdout[ent].nunique():,} entities")
    csv_format = (source_format(data) or CsvFormat()).with_pairs(
        paired_columns(frame)).with_tall(tall)
    if empty:
        say(f"not modelled, no value in any row: {', '.join(empty)}")
    if unseen:
        say(f"not modelled, no value among the training entities (all fell in the holdout): "
            f"{', '.join(unseen)}")
    identifiers = [c for c in schema.dropped_columns if c not in (*empty, *unseen, ent)]
    if identifiers:  # as a table's run says them (R's rownames, a second id)
        say(f"not modelled (identifiers / free text): {', '.join(identifiers)}")
    for note in (*frame.attrs.get(PREPARED_ATTR, []), *tall_notes, csv_format.note(),
                 csv_format.pairs_note(), *read_notes(schema)):
        if note:
            say(note)

    say(f"fitting {generator}")
    start = _time.perf_counter()
    gen.fit(train, schema=schema, random_state=seed)
    timings["fit_s"] = _time.perf_counter() - start
    if getattr(gen, "copy_rule_", {}).get("redrawn") == "none":
        say(f"trajectories equal to a training one are kept: {gen.copy_rule_['reason']}")
    written = _written_note(gen)
    if written:
        say(written)
    say("sampling")
    start = _time.perf_counter()
    released = _release(gen, options, train, schema, n, seed)
    synthetic = released.data if released is not None else gen.sample(
        n if n is not None else n_train, random_state=seed)
    timings["sample_s"] = _time.perf_counter() - start
    say("evaluating against the held-out entities")
    start = _time.perf_counter()
    provenance = {"source": label, "generator": generator, "generator_params": gen.get_params(),
                  "seed": seed, "holdout_fraction": holdout_fraction,
                  "split_strata": entity_strata(frame, schema),
                  "release_mode": _mode_label(options),
                  "not_modelled_columns": schema.dropped_columns,
                  "copy_rule": getattr(gen, "copy_rule_", None)}
    if released is not None:
        provenance["release_stats"] = _jsonable(dict(released.stats))
    judged = synthetic
    if released is not None and options is not None and options.mode == "augment":
        # the training patients are handed over as they are: judge the synthetic patients
        judged = released.data[(released.provenance == "synthetic").to_numpy()]
        if len(judged) == 0:
            raise ParameterError("Every group already has as many patients as the largest "
                                 "one: augmentation would add no synthetic patient.")
        judged = judged.reset_index(drop=True)
    result = evaluate_longitudinal(train, holdout, judged, schema, thresholds=thresholds,
                                   random_state=seed, provenance=provenance)
    if released is not None:
        result = _with_release_notes(result, released)
    timings["evaluate_s"] = _time.perf_counter() - start
    say(f"writing {out_dir}")
    shipped = None if released is None else _restored(released, schema)
    shipped_format = None  # the release's own, once laid out below
    if shipped is not None and source is not None and csv_format.tall is not None:
        from synthmed.modes.longitudinal import tall_release

        # real patients' rows as the source records them: laid out here, written as cells
        shipped = tall_release(shipped, train, source, schema, csv_format)
        shipped_format = csv_format.cells_only
    files = _write(out_dir, synthetic, schema, gen, result, label, timings,
                   released=shipped, options=options, csv_format=csv_format,
                   release_format=shipped_format)
    written = (len(shipped.data) if shipped_format is not None
               else csv_format.written_rows(synthetic))
    return LongitudinalRun(out_dir, synthetic, schema, gen, result, timings, files,
                           release=released, written_rows=written)


def _check_release(release: Any) -> ReleaseOptions | None:
    """The release options if they describe a mode longitudinal data supports; None = full."""
    from synthmed.pipeline import ReleaseOptions

    release = ReleaseOptions.checked(release)
    if release is None:
        return None
    problems = []
    if release.mode == "hybrid" and release.hybrid == "partial":
        problems.append("--hybrid partial is not available for longitudinal data (a patient's "
                        "trajectory cannot be partly synthesized yet); use --hybrid mix.")
    if release.fair:
        problems.append("--fair is not available for longitudinal data; use --balance "
                        "SENS,target.")
    if release.factor is not None:
        problems.append("--factor is not available for longitudinal data; use --balance.")
    if release.min_distance is not None or release.dcr_quantile is not None:
        problems.append("--min-distance and --dcr-quantile are not available for longitudinal "
                        "data (copies of training trajectories are always rejected).")
    if problems:
        raise ParameterError(" ".join(problems))
    return None if release.mode == "full" else release


def _mode_label(options: ReleaseOptions | None) -> str:
    if options is None:
        return "full"
    return "hybrid-mix" if options.mode == "hybrid" else "augment"


def _release(gen: BaseGenerator, options: ReleaseOptions | None, train: pd.DataFrame,
             schema: TableSchema, n: int | None, seed: int) -> Release | None:
    from synthmed.modes.longitudinal import (
        release_longitudinal_augment,
        release_longitudinal_mix,
    )

    if options is None:
        return None
    if options.mode == "hybrid":
        return release_longitudinal_mix(gen, train, schema,
                                        real_fraction=float(options.real_fraction or 0.0),
                                        n_entities=n, random_state=seed)
    return release_longitudinal_augment(gen, train, schema, balance=list(options.balance),
                                        random_state=seed)


def _restored(released: Release, schema: TableSchema) -> Release:
    """The release with real and synthetic patients alike in the source's written types (the
    release joins them in the read types: dates would print with seconds); the entity keeps
    its fresh ids, not the source's type."""
    ent = schema.with_role("entity_id")[0]
    data = released.data.copy()
    kept = [c for c in data.columns if c != ent]
    data[kept] = restore_table(data[kept], schema)
    return replace(released, data=data)


def _with_release_notes(result: EvaluationResult, released: Release) -> EvaluationResult:
    """Say in words what was judged and that real patients are in the release."""
    n_real = int(released.stats.get("real_patients", 0))
    if released.mode == "augment":
        text = ("Only the synthetic patients are judged here. They were drawn for chosen groups "
                "and outcomes, so their distributions deliberately differ from the source's.")
        result = result.with_note("fidelity", text)
        result = result.with_note("bias", text)
    if n_real:
        n_all = n_real + int(released.stats.get("synthetic_patients", 0))
        result = result.with_note(
            "privacy", f"{n_real:,} of {n_all:,} released patients are real training patients "
            "whose whole trajectories are released unchanged (under new ids). Their disclosure "
            "risk is not zero: whoever receives this data receives these patients' real values.")
    return result


def _jsonable(value: Any) -> Any:
    """Plain JSON types (numpy scalars and timestamps made plain)."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item")
                                 else str(v)))


_MODE_WORDS = {
    "full": "full: only synthetic patients; copies of training trajectories rejected",
    "hybrid-mix": "hybrid (mix): real training patients' whole trajectories together with "
    "synthetic patients; every row's provenance is given (per patient)",
    "augment": "augment: every training patient plus synthetic patients drawn for the "
    "groups/outcomes with fewer patients; every row's provenance is given (per patient)",
}


def _written_note(gen: Any) -> str | None:
    """Which columns the generator writes from another (see generators/_twins), if any."""
    from synthmed.generators._twins import twins_note

    written = getattr(gen, "written_columns", None)
    return twins_note(written()) if written is not None else None


def _write(out_dir: Path, synthetic: pd.DataFrame, schema: TableSchema, gen: Any,
           result: EvaluationResult, label: str, timings: dict[str, float], *,
           released: Release | None = None,
           options: ReleaseOptions | None = None,
           csv_format: CsvFormat | None = None,
           release_format: CsvFormat | None = None) -> dict[str, Path]:
    from synthmed.modes import write_release
    from synthmed.report import DataCard, write_report

    def write(staging: Path) -> None:
        if released is None or options is None:
            (csv_format or CsvFormat()).write(synthetic, staging / "synthetic.csv")
        else:  # into the staging folder: moved into place with everything else
            write_release(released, staging,
                          provenance="sidecar" if options.provenance_sidecar else "column",
                          column=options.provenance_column,
                          csv_format=release_format or csv_format)
        limits = [
            "Synthetic patients are not real: rare trajectories and long-range patterns "
            "the generator did not capture may be missing or distorted.",
            "Synthetic entity ids are fresh; times beyond the last time seen in training are "
            "cut.",
            f"Columns not modelled: {', '.join(schema.dropped_columns) or 'none'}.",
            *read_notes(schema),
            *filter(None, [(csv_format or CsvFormat()).pairs_note(), _written_note(gen)]),
        ]
        public = released is None
        if released is not None:
            n_real = int(released.stats.get("real_patients", 0))
            limits.append(f"{n_real:,} released patients are real training patients, with "
                          "new entity ids but their real trajectories (see the provenance "
                          "column or sidecar): this release is personal data.")
        schema.save(staging / "schema.json")
        doc = result.to_dict()
        doc["timings"] = {k: round(v, 3) for k, v in timings.items()}
        (staging / "metrics.json").write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
        card = DataCard(
            intended_use="Method development, teaching and analysis prototyping on patients "
            "over time where sharing the real records is not allowed." if public else
            "Model development inside the data holder's secure environment or under the same "
            "agreement as the source data.",
            recipients="People approved by the data holder; not for public release unless "
            "every privacy check passed." if public else
            "Only people allowed to see the source data.",
            limitations=tuple(limits),
            generator=gen.name, parameters=gen.get_params(),
            release_mode=_MODE_WORDS[_mode_label(options)])
        write_report(result, staging / "report.html", title=f"synthmed report: {label}",
                     data_card=card)
        gen.save(staging / "model")
        (csv_format or CsvFormat()).save_beside(staging / "model")

    return write_atomically(out_dir, write)
