"""One run, start to end: load → schema → split → fit → sample → evaluate → write.

All checks and computation happen before the first file is written, and files are written into
a temporary folder that replaces the output folder's files only at the end: a bad input or a
failure leaves nothing half-written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
import json
from pathlib import Path
import time
from typing import Any, Literal

import pandas as pd

from synthmed._outputs import write_atomically
from synthmed.datasets import list_datasets, load_dataset, read_table
from synthmed.datasets.io import CsvFormat, source_format
from synthmed.datasets.pairs import PairedColumn, paired_columns, split_pairs, with_parts
from synthmed.evaluation import EvaluationResult, Metric, Section, Thresholds, evaluate
from synthmed.exceptions import DataError, ParameterError
from synthmed.generators import BaseGenerator, get_generator
from synthmed.generators.registry import DEFAULT_GENERATOR
from synthmed.modes import (
    Release,
    augmentation_plan,
    release_augment,
    release_full,
    release_mix,
    release_partial,
    write_release,
)
from synthmed.schema import TableSchema, infer_schema, read_notes
from synthmed.split import repeated_identifier, train_holdout_split, unseen_in_train

__all__ = ["ReleaseOptions", "RunResult", "generate", "resolve_data"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ReleaseOptions:
    """What kind of dataset a run releases (see DESIGN.md, "The three release modes").

    Parameters
    ----------
    mode : {"full", "hybrid", "augment"}
        ``full``: only synthetic records. ``hybrid``: real and synthetic combined.
        ``augment``: the real training data plus targeted synthetic records.
    hybrid : {"partial", "mix"}, optional
        Hybrid flavour: ``partial`` replaces the ``synthesize`` columns of real rows by
        conditional samples; ``mix`` releases real and synthetic rows at ``real_fraction``.
    synthesize : sequence of str
        Columns to replace in ``partial`` mode.
    real_fraction : float, optional
        Share of real rows in ``mix`` mode, in [0, 1].
    balance : sequence of str, optional
        ``augment``: columns to balance (``"target"`` stands for the target column).
    factor : float, optional
        ``augment``: grow the data ``factor`` times, proportions kept.
    fair : bool
        ``augment``: the bias-mitigation variant (equal group sizes and outcome rates).
    min_distance, dcr_quantile : float, optional
        ``full``: privacy filter rejecting records too close to a real one.
    provenance_column : str
        Name of the provenance column of ``release.csv``.
    provenance_sidecar : bool
        Write provenance to ``release_provenance.csv`` instead of a column.
    """

    mode: Literal["full", "hybrid", "augment"] = "full"
    hybrid: Literal["partial", "mix"] | None = None
    synthesize: tuple[str, ...] = ()
    real_fraction: float | None = None
    balance: tuple[str, ...] = ()
    factor: float | None = None
    fair: bool = False
    min_distance: float | None = None
    dcr_quantile: float | None = None
    provenance_column: str = "provenance"
    provenance_sidecar: bool = False

    @classmethod
    def checked(cls, release: Any) -> ReleaseOptions | None:
        """``release`` checked (None stays None: a plain full release), else a clear error."""
        if release is None:
            return None
        if not isinstance(release, cls):
            raise ParameterError(
                f"`release` must be a ReleaseOptions, got {type(release).__name__}.")
        release.check()
        return release

    def check(self) -> None:
        """Reject options that do not belong to the mode or conflict, before any work."""
        problems = []
        if self.mode not in ("full", "hybrid", "augment"):
            problems.append(f"`mode` must be 'full', 'hybrid' or 'augment', got {self.mode!r}.")
        if self.mode != "hybrid" and (self.hybrid or self.synthesize
                                      or self.real_fraction is not None):
            problems.append("--hybrid, --synthesize and --real-fraction need --mode hybrid.")
        if self.mode != "augment" and (self.balance or self.factor is not None or self.fair):
            problems.append("--balance, --factor and --fair need --mode augment.")
        if self.mode != "full" and (self.min_distance is not None
                                    or self.dcr_quantile is not None):
            problems.append("--min-distance and --dcr-quantile need --mode full.")
        if self.mode == "hybrid":
            if self.hybrid not in ("partial", "mix"):
                problems.append("--mode hybrid needs --hybrid partial or --hybrid mix.")
            if self.hybrid == "partial" and not self.synthesize:
                problems.append("--hybrid partial needs --synthesize COL [COL ...].")
            if self.hybrid == "partial" and self.real_fraction is not None:
                problems.append("--real-fraction belongs to --hybrid mix, not partial.")
            if self.hybrid == "mix" and self.real_fraction is None:
                problems.append("--hybrid mix needs --real-fraction F (between 0 and 1).")
            if self.hybrid == "mix" and self.synthesize:
                problems.append("--synthesize belongs to --hybrid partial, not mix.")
            if self.real_fraction is not None and not 0 <= self.real_fraction <= 1:
                problems.append(
                    f"--real-fraction must be between 0 and 1, got {self.real_fraction!r}."
                )
        if self.min_distance is not None and self.dcr_quantile is not None:
            problems.append("Give either --min-distance or --dcr-quantile, not both.")
        if self.factor is not None and (self.balance or self.fair):
            problems.append("Give either --balance/--fair or --factor, not both.")
        if self.mode == "augment" and not (self.balance or self.factor is not None or self.fair):
            problems.append("--mode augment needs --balance COL[,COL], --factor K or --fair.")
        if problems:
            raise ParameterError(" ".join(problems))


@dataclass(frozen=True)
class RunResult:
    """What a :func:`generate` run produced and where it wrote it.

    ``synthetic`` is the released table: synthetic records in ``full`` mode, the real and
    synthetic rows of the release otherwise (``release.provenance`` says which is which).
    """

    out_dir: Path
    synthetic: pd.DataFrame
    schema: TableSchema
    generator: BaseGenerator
    evaluation: EvaluationResult | None
    dropped_columns: list[str]
    release: Release
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
    annotated = None  # a bundled dataset's schema, with its roles
    if isinstance(data, pd.DataFrame):
        frame, label = data, "DataFrame"
    elif isinstance(data, str) and not Path(data).exists() and data in _bundled_names():
        bundled = load_dataset(data)
        frame, label, annotated = bundled.frame, data, bundled.schema
    else:
        frame, label = read_table(data), Path(data).name
    if len(frame) == 0:
        raise DataError("The table is empty; it needs rows to learn from.")
    if isinstance(schema, str | Path):
        schema = TableSchema.load(schema)
    if annotated is None:  # "120/80" cells: two number columns (datasets.pairs)
        frame = split_pairs(frame, None if schema is None else schema.names)
    if schema is None:
        schema = annotated if annotated is not None else infer_schema(frame)
    else:
        schema.validate(frame)
    if target is not None or sensitive:
        schema = schema.set_roles(target=target, sensitive=sensitive)
    return frame, schema, label


def _bundled_names() -> set[str]:
    return {d.name for d in list_datasets()}


#: cells (rows x columns) one ``generate`` run holds, evaluates and writes at most; larger
#: releases stream from a saved model (``synthmed sample``, ``sample_chunks``)
MAX_RUN_CELLS = 100_000_000


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
    release: ReleaseOptions | None = None,
    thresholds: Thresholds | None = None,
    sections: Iterable[str] | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Split, fit, release, evaluate against the holdout and write everything to ``out``.

    Writes ``schema.json``, ``metrics.json``, ``report.html``, the fitted model under
    ``model/``, and the data: ``synthetic.csv`` in ``full`` mode, ``release.csv`` (with its
    provenance) in ``hybrid`` and ``augment`` modes.

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
        Synthetic rows (``full`` and ``mix``); default the size of the training part.
    seed : int
        Seed of the split, the fit, the sampling and the evaluation.
    holdout_fraction : float
        Share of real rows kept aside as the holdout (default 0.5). The holdout is never
        released nor learnt from: it is the reference every metric is compared with.
    release : ReleaseOptions, optional
        Release mode and its options (default: ``full``).
    thresholds : Thresholds, optional
        Pass rules of the evaluation.
    sections : iterable of str, optional
        Evaluation sections to run (default: all).
    progress : callable, optional
        Called with a short message at each stage.

    Examples
    --------
    >>> from synthmed.pipeline import ReleaseOptions, generate
    >>> run = generate("aids", "out/aids", release=ReleaseOptions(
    ...     mode="augment", balance=("target",)))  # doctest: +SKIP
    >>> run.release.counts()  # doctest: +SKIP
    {'real': 576, 'partial': 0, 'synthetic': 478}
    """
    say = progress or (lambda _msg: None)
    options = release or ReleaseOptions()
    options.check()
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
    # a column no row records (an export's unused field) is left out, said below
    schema, empty = unseen_in_train(frame, schema)
    schema.validate(frame)
    options = _with_pair_parts(options, paired_columns(frame))
    _check_columns(options, schema)
    if n is not None and n * len(schema.names) > MAX_RUN_CELLS:
        raise ParameterError(
            f"--n {n:,} rows x {len(schema.names)} columns is more than {MAX_RUN_CELLS:,} "
            "cells to hold, evaluate and write in one run. For a release that large, fit once "
            "(synthmed fit DATA -o MODEL) and stream the rows (synthmed sample MODEL -o "
            "big.parquet --n N), which holds one chunk at a time.")
    group = repeated_identifier(frame, schema)
    train, holdout = train_holdout_split(
        frame, holdout_fraction=holdout_fraction, stratify=schema.target, groups=group,
        random_state=seed
    )
    schema, unseen = unseen_in_train(train, schema)
    if options.mode == "augment":  # a group with no training record stops it before fitting
        augmentation_plan(train, schema, balance=list(options.balance) or None,
                          factor=options.factor, fair=options.fair)
    timings["load_split_s"] = time.perf_counter() - start
    say(f"{label}: {len(frame):,} rows x {frame.shape[1]} columns; "
        f"train {len(train):,}, holdout {len(holdout):,}")
    if empty:
        say(f"not modelled, no value in any row: {', '.join(empty)}")
    if unseen:
        say(f"not modelled, no value in the training rows (all fell in the holdout): "
            f"{', '.join(unseen)}")
    csv_format = (source_format(data) or CsvFormat()).with_pairs(paired_columns(frame))
    for note in (csv_format.note(), csv_format.pairs_note()):
        if note:
            say(note)
    if group is not None:
        say(f"{group!r} repeats: rows of one {group} are kept together in train or holdout "
            f"(if they are measurements over time, try --entity {group} --time COLUMN)")
    identifiers = [c for c in schema.dropped_columns if c not in unseen]
    if identifiers:
        say(f"not modelled (identifiers / free text): {', '.join(identifiers)}")
    for note in read_notes(schema):
        say(note)

    say(f"fitting {generator}")
    start = time.perf_counter()
    gen.fit(train, schema=schema, random_state=seed)
    timings["fit_s"] = time.perf_counter() - start
    if getattr(gen, "copy_rule_", {}).get("redrawn") == "none":
        say(f"records equal to a training record are kept: {gen.copy_rule_['reason']}")
    for note in gen.rule_notes():
        say(note)

    say(f"releasing ({_mode_label(options)})")
    start = time.perf_counter()
    released = _release(gen, options, train, holdout, schema, n, seed)
    timings["sample_s"] = time.perf_counter() - start

    say("evaluating against the holdout")
    start = time.perf_counter()
    provenance = {
        "source": label,
        "generator": generator,
        "generator_params": gen.get_params(),
        **({"generator_choice": gen.choice_} if hasattr(gen, "choice_") else {}),
        "seed": seed,
        "holdout_fraction": holdout_fraction,
        **({"split_groups": group} if group is not None else {}),
        "release_mode": _mode_label(options),
        "release_counts": released.counts(),
        "release_stats": dict(released.stats),
        "not_modelled_columns": schema.dropped_columns,
        **({"copy_rule": gen.copy_rule_} if hasattr(gen, "copy_rule_") else {}),
        "dp_epsilon": gen.tags.dp_epsilon,
    }
    result = _evaluate_release(released, options, train, holdout, schema, thresholds, seed,
                               sections, provenance)
    timings["evaluate_s"] = time.perf_counter() - start

    say(f"writing {out_dir}")
    files = _write_outputs(out_dir, released, options, schema, gen, result, title=label,
                           timings=timings, csv_format=csv_format)
    return RunResult(
        out_dir=out_dir, synthetic=released.data, schema=schema, generator=gen,
        evaluation=result, dropped_columns=schema.dropped_columns, release=released,
        timings=timings, files=files,
    )


def _with_pair_parts(options: ReleaseOptions, pairs: tuple[PairedColumn, ...]
                     ) -> ReleaseOptions:
    """``--synthesize bp`` where the file's "120/80" column ``bp`` is modelled as two
    columns: both of them (a number and its unit too)."""
    names = tuple(with_parts(options.synthesize, pairs))
    return options if names == options.synthesize else replace(options, synthesize=names)


def _check_columns(options: ReleaseOptions, schema: TableSchema) -> None:
    """Columns named by the options exist and can be used, checked before fitting."""
    problems = []
    for name in options.synthesize:
        if name not in schema:
            problems.append(f"--synthesize column {name!r} is not in the data.")
        elif not schema.column(name).modelled:
            problems.append(f"--synthesize column {name!r} is an identifier or free text; "
                            "such columns are never released, so there is nothing to synthesize.")
    for name in options.balance:
        if name == "target":
            if schema.target is None:
                problems.append("--balance target needs a target column (--target COL).")
                continue
            name = schema.target
        if name not in schema:
            problems.append(f"--balance column {name!r} is not in the data.")
        elif schema.column(name).kind not in ("categorical", "boolean"):
            problems.append(f"--balance column {name!r} is {schema.column(name).kind}; only "
                            "categorical or boolean columns define groups.")
    if problems:
        raise ParameterError(" ".join(problems))


def _mode_label(options: ReleaseOptions) -> str:
    if options.mode == "hybrid":
        return f"hybrid-{options.hybrid}"
    if options.mode == "augment":
        return "augment-fair" if options.fair else "augment"
    filtered = options.min_distance is not None or options.dcr_quantile is not None
    return "full-filtered" if filtered else "full"


def _release(gen: BaseGenerator, options: ReleaseOptions, train: pd.DataFrame,
             holdout: pd.DataFrame, schema: TableSchema, n: int | None, seed: int) -> Release:
    if options.mode == "hybrid" and options.hybrid == "partial":
        return release_partial(gen, train, synthesize=list(options.synthesize), schema=schema,
                               random_state=seed)
    if options.mode == "hybrid":
        return release_mix(gen, train, real_fraction=float(options.real_fraction or 0.0),
                           n=n, random_state=seed)
    if options.mode == "augment":
        return release_augment(gen, train, balance=list(options.balance) or None,
                               factor=options.factor, schema=schema, fair=options.fair,
                               random_state=seed)
    return release_full(gen, n if n is not None else len(train), train=train, schema=schema,
                        holdout=holdout, min_distance=options.min_distance,
                        dcr_quantile=options.dcr_quantile, random_state=seed)


def _evaluate_release(released: Release, options: ReleaseOptions, train: pd.DataFrame,
                      holdout: pd.DataFrame, schema: TableSchema,
                      thresholds: Thresholds | None, seed: int,
                      sections: Iterable[str] | None,
                      provenance: dict[str, Any]) -> EvaluationResult:
    """Evaluate what is handed over; add the mode's own section and plain-words notes."""
    chosen = {"sections": list(sections)} if sections is not None else {}
    synthetic_rows = released.data[(released.provenance == "synthetic").to_numpy()]
    # augment hands over real training rows as they are: judge the synthetic records;
    # full and hybrid: judge exactly what is released, real rows included
    judged = synthetic_rows if options.mode == "augment" else released.data
    result = evaluate(train, holdout, judged.reset_index(drop=True), schema,
                      thresholds=thresholds, random_state=seed, provenance=provenance, **chosen)
    found = dict(result.sections)
    plots = dict(result.plots)
    if options.mode == "augment":
        note = ("Only the synthetic records are judged here. They were drawn for chosen groups "
                "and outcomes, so their distributions deliberately differ from the source's.")
        for name in ("fidelity", "bias"):
            if name in found:
                sec = found[name]
                found[name] = Section(sec.name, sec.metrics, (note, *sec.notes), sec.skipped)
    counts = released.counts()
    if counts["real"] or counts["partial"]:
        note = (f"{counts['real'] + counts['partial']:,} of {len(released):,} released rows are "
                f"real patients' records ({counts['real']:,} unchanged, {counts['partial']:,} "
                "with some columns synthesized). Their disclosure risk is not zero: whoever "
                "receives this data receives these patients' real values.")
        if "privacy" in found:
            section = found["privacy"]
            found["privacy"] = Section(section.name, section.metrics, (note, *section.notes),
                                       section.skipped)
    if options.mode == "augment":
        from synthmed.evaluation.augmentation import evaluate_augmentation

        if schema.target is None or schema.column(schema.target).kind not in (
                "categorical", "boolean"):
            found["augmentation"] = Section(
                "augmentation", skipped="No categorical target: the downstream model "
                "comparison needs one (--target COL).")
        else:
            section, section_plots = evaluate_augmentation(
                train, released.data, holdout, schema, thresholds=thresholds, random_state=seed)
            if options.fair:
                section = Section(section.name, section.metrics, (
                    "MITIGATED DATA: the fair variant deliberately changes group sizes and "
                    "outcome rates; it does not describe the source population.",
                    *section.notes), section.skipped)
            found["augmentation"] = section
            plots["augmentation"] = section_plots
    if released.unfiltered is not None:
        found["privacy_filter"] = _filter_cost(released, train, holdout, schema, thresholds,
                                               seed, found.get("fidelity"))
    return EvaluationResult(sections=found, provenance=result.provenance, plots=plots)


def _filter_cost(released: Release, train: pd.DataFrame, holdout: pd.DataFrame,
                 schema: TableSchema, thresholds: Thresholds | None, seed: int,
                 filtered: Section | None) -> Section:
    """What the privacy filter cost in fidelity: the same figures before and after it."""
    before = evaluate(train, holdout, released.unfiltered, schema, thresholds=thresholds,
                      random_state=seed, sections=["fidelity"])["fidelity"]
    stats = released.stats
    metrics = [Metric(
        name="filter_rejected_share",
        value=float(stats.get("rejected", 0)) / max(1, float(stats.get("drawn", 1))),
        direction="none",
        description="Share of drawn synthetic records the privacy filter rejected because they "
        "were too close to a real patient.",
        details={k: v for k, v in stats.items() if isinstance(v, int | float | str)},
    )]
    if filtered is not None:
        for name in ("column_similarity", "detection_auc", "association_mean_diff"):
            try:
                after_m, before_m = filtered.metric(name), before.metric(name)
            except KeyError:
                continue
            metrics.append(Metric(
                name=f"{name}_after_filter", value=after_m.value,
                holdout_value=before_m.value, direction=after_m.direction,
                description=f"{after_m.description} Here the reference column shows the same "
                "figure before the privacy filter, so the difference is the filter's cost.",
            ))
    return Section("privacy_filter", tuple(metrics), notes=(
        "The reference value in this section is the synthetic data before filtering.",))


def _write_outputs(out_dir: Path, released: Release, options: ReleaseOptions,
                   schema: TableSchema, gen: BaseGenerator, result: EvaluationResult, *,
                   title: str, timings: dict[str, float],
                   csv_format: CsvFormat) -> dict[str, Path]:
    from synthmed.report import write_report

    def write(staging: Path) -> None:
        if options.mode == "full":
            csv_format.write(released.data, staging / "synthetic.csv")
        else:
            write_release(released, staging,
                          provenance="sidecar" if options.provenance_sidecar else "column",
                          column=options.provenance_column, csv_format=csv_format)
        schema.save(staging / "schema.json")
        doc = result.to_dict()
        doc["timings"] = {k: round(v, 3) for k, v in timings.items()}
        (staging / "metrics.json").write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
        write_report(result, staging / "report.html", title=f"synthmed report: {title}",
                     data_card=_data_card(released, options, schema, gen, csv_format))
        gen.save(staging / "model")
        csv_format.save_beside(staging / "model")

    return write_atomically(out_dir, write)


_MODE_WORDS = {
    "full": "full: only synthetic records; copies of training records rejected",
    "full-filtered": "full, privacy-filtered: only synthetic records, none closer to a real "
    "patient than the filter allows",
    "hybrid-partial": "hybrid (partial): real patients' rows with some columns replaced by "
    "synthetic values",
    "hybrid-mix": "hybrid (mix): real patients' rows and synthetic rows together",
    "augment": "augment: the real training data plus synthetic records where data is thin",
    "augment-fair": "augment (fair) - MITIGATED DATA: real training data plus synthetic records "
    "that equalise group sizes and outcome rates; it deliberately departs from the source",
}


def _data_card(released: Release, options: ReleaseOptions, schema: TableSchema,
               gen: BaseGenerator, csv_format: CsvFormat):  # type: ignore[no-untyped-def]
    from synthmed.report import DataCard

    mode = _mode_label(options)
    limits = [
        "Synthetic records are not real patients: rare combinations and relationships the "
        "generator did not capture may be missing or distorted.",
        f"Columns not modelled (identifiers, free text, or no value in the training rows): "
        f"{', '.join(schema.dropped_columns) or 'none'}.",
        *read_notes(schema),
        *filter(None, [csv_format.pairs_note()]),
        *gen.rule_notes(),
    ]
    rule = getattr(gen, "copy_rule_", {})
    if rule.get("redrawn") == "none":
        limits.append(f"Records equal to a real training record were kept: {rule['reason']}.")
    counts = released.counts()
    if counts["real"] or counts["partial"]:
        limits.append(f"{counts['real'] + counts['partial']:,} rows are real patients' records "
                      "(see the provenance column): this release is personal data.")
    if mode == "augment-fair":
        limits.append("Mitigated data: group sizes and outcome rates were deliberately changed "
                      "to reduce bias in models trained on it; do not use it to estimate "
                      "prevalence or rates in the source population.")
    public = mode.startswith("full")
    return DataCard(
        intended_use="Method development, teaching and analysis prototyping where sharing the "
        "real patient records is not allowed." if public else "Model development inside the "
        "data holder's secure environment or under the same agreement as the source data.",
        recipients="People approved by the data holder; not for public release unless every "
        "privacy check passed." if public else "Only people allowed to see the source data.",
        limitations=limits,
        generator=(f"auto, which chose {gen.choice_['chosen']} ({gen.choice_['reason']})"
                   if hasattr(gen, "choice_") else gen.name),
        parameters=gen.get_params(),
        release_mode=_MODE_WORDS[mode],
    )
