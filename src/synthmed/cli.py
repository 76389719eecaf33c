"""The ``synthmed`` command: a thin layer over the public API.

Bad input (any :class:`synthmed.exceptions.InputError`, a bad model file...) prints one clear
line and exits with code 2, without a traceback. Messages never contain patient values; for an
unexpected error the CLI prints only its type unless ``-v`` asks for the traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import json
from pathlib import Path
import sys
import time
import traceback
from typing import Any

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 1


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors also exit 2 with one line (its default is 2 as well)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"synthmed: error: {message}\n")


def _int_at_least(low: int, what: str):  # type: ignore[no-untyped-def]
    """An argparse type: an integer >= ``low``; usage errors say ``must be <what>``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_seed = _int_at_least(0, "a non-negative integer")


def _param(text: str) -> tuple[str, object]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"must look like NAME=VALUE, got {text!r}")
    try:
        value: object = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def build_parser() -> argparse.ArgumentParser:
    from synthmed import __version__
    from synthmed.generators.registry import DEFAULT_GENERATOR

    parser = _Parser(prog="synthmed", description="Synthetic healthcare data, validated "
                     "against its source: fidelity, utility, privacy, bias.")
    parser.add_argument("--version", action="version", version=f"synthmed {__version__}")
    verbosity = argparse.ArgumentParser(add_help=False)
    verbosity.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    verbosity.add_argument("-v", "--verbose", action="store_true",
                           help="more detail (and tracebacks of unexpected errors)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("datasets", parents=[verbosity], help="list the bundled real datasets")
    sub.add_parser("generators", parents=[verbosity], help="list the registered generators")

    def add_roles(p: argparse.ArgumentParser) -> None:
        p.add_argument("--target", help="outcome column")
        p.add_argument("--sensitive", nargs="+", default=[], metavar="COL",
                       help="sensitive attributes (groups for bias checks)")
        p.add_argument("--schema", type=Path, help="schema JSON (see schema.json of a run)")

    def add_generator(p: argparse.ArgumentParser) -> None:
        p.add_argument("--generator", default=DEFAULT_GENERATOR,
                       help=f"generator name (default {DEFAULT_GENERATOR}; "
                       "see 'synthmed generators')")
        p.add_argument("--param", action="append", type=_param, default=[], metavar="NAME=VALUE",
                       help="generator parameter, repeatable (e.g. --param n_bins=10)")
        p.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")

    def add_long(group: Any) -> None:
        group.add_argument("--entity", help="long table: the patient / stay id column")
        group.add_argument("--time", help="long table: the measurement time column")
        group.add_argument("--static", nargs="+", metavar="COL",
                           help="long table: columns constant per patient (default: detected)")
        group.add_argument("--measure", metavar="COL",
                           help="tall long table (a row per measurement): the column naming "
                           "the measure (with --value; written back the same way)")
        group.add_argument("--value", metavar="COL",
                           help="tall long table: the column of the measure's value")

    def add_signal_source(group: Any, *, channels: bool = True) -> None:
        group.add_argument("--fs", type=float, metavar="HZ",
                           help="signals: sampling rate of a CSV/NPY signal file")
        if channels:
            group.add_argument("--channels", nargs="+", metavar="CH",
                               help="signals: keep only these channels (one sampling rate)")

    gen = sub.add_parser("generate", parents=[verbosity],
                         help="split, fit, sample, evaluate and write a report in one go")
    gen.add_argument("data", help="CSV/Parquet file or bundled dataset name")
    gen.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    add_roles(gen)
    add_generator(gen)
    gen.add_argument("-n", "--n", type=_positive_int,
                     help="synthetic rows, patients or signal records (default: as many as "
                     "train holds; signals: at least 3)")
    gen.add_argument("--thresholds", type=Path, help="JSON file overriding pass rules")
    over_time = gen.add_argument_group(
        "longitudinal records and device signals (default: a table)")
    add_long(over_time)
    over_time.add_argument("--length", type=float, metavar="SECONDS",
                           help="signals: length of each synthetic recording")
    add_signal_source(over_time)
    modes = gen.add_argument_group("release mode (default: full)")
    modes.add_argument("--mode", choices=["full", "hybrid", "augment"], default="full",
                       help="full: only synthetic records; hybrid: real and synthetic combined; "
                       "augment: real training data plus targeted synthetic records")
    modes.add_argument("--min-distance", type=float,
                       help="full: reject records closer than this to a real record")
    modes.add_argument("--dcr-quantile", type=float,
                       help="full: reject records closer to a real one than this quantile of "
                       "real-to-real distances")
    modes.add_argument("--hybrid", choices=["partial", "mix"],
                       help="hybrid flavour: partial (synthesize columns of real rows) or mix")
    modes.add_argument("--synthesize", nargs="+", default=[], metavar="COL",
                       help="hybrid partial: columns replaced by conditional synthetic values")
    modes.add_argument("--real-fraction", type=float,
                       help="hybrid mix: share of real rows, between 0 and 1")
    modes.add_argument("--balance", type=lambda t: [c.strip() for c in t.split(",") if c.strip()],
                       default=[], metavar="COL[,COL]",
                       help="augment: 'target', a sensitive column, or 'SENSITIVE,target'; "
                       "signals: 'heart_rate'")
    modes.add_argument("--factor", type=float, help="augment: grow the data K times")
    modes.add_argument("--fair", action="store_true",
                       help="augment: bias mitigation (equal group sizes and outcome rates)")
    modes.add_argument("--provenance-column", default="provenance",
                       help="name of release.csv's provenance column (default provenance)")
    modes.add_argument("--provenance-sidecar", action="store_true",
                       help="write provenance to release_provenance.csv instead of a column")

    demo = sub.add_parser("demo", parents=[verbosity], help="the main job on the default data")
    demo.add_argument("-o", "--out", type=Path, default=Path("demo-output"),
                      help="output folder (default demo-output)")
    demo.add_argument("--dataset", default=None, help="bundled dataset (default pbc)")

    fit = sub.add_parser("fit", parents=[verbosity], help="fit a generator and save the model")
    fit.add_argument("data", help="CSV/Parquet file or bundled dataset name (all rows are used)")
    fit.add_argument("-o", "--out", type=Path, required=True, help="model folder")
    add_roles(fit)
    add_generator(fit)
    add_long(fit.add_argument_group("longitudinal records (default: a table)"))
    add_signal_source(fit.add_argument_group("signals (WFDB, EDF, DICOM; CSV/NPY with --fs)"))

    sample = sub.add_parser("sample", parents=[verbosity], help="sample from a saved model")
    sample.add_argument("model", type=Path, help="model folder written by 'synthmed fit'")
    sample.add_argument("-o", "--out", type=Path, required=True,
                        help="output CSV or Parquet (signals: out/NAME.hea, .edf, .dcm, .csv "
                        "or .npy)")
    sample.add_argument("-n", "--n", type=_positive_int, required=True,
                        help="rows to sample (long tables: patients; signals: records)")
    sample.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    sample.add_argument("--chunk-rows", type=_positive_int, default=100_000, metavar="N",
                        help="tables: rows drawn and written at a time; memory does not grow "
                        "with --n (default 100000)")
    sample.add_argument("--length", type=float, metavar="SECONDS",
                        help="signals: length of each record (default: the training length); "
                        "-o out/ecg.edf writes out/ecg_0.edf... in the suffix's format")

    ev = sub.add_parser("evaluate", parents=[verbosity],
                        help="evaluate synthetic data (a table, long table or signals) "
                        "against train and holdout")
    ev.add_argument("--train", required=True, help="real training table (file)")
    ev.add_argument("--holdout", required=True, help="real holdout table (file)")
    ev.add_argument("--synthetic", required=True, help="synthetic table (file)")
    add_roles(ev)
    ev.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    ev.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    ev.add_argument("--thresholds", type=Path, help="JSON file overriding pass rules")
    add_long(ev.add_argument_group("longitudinal records (default: tables)"))
    add_signal_source(ev.add_argument_group("device signals (WFDB, EDF, DICOM files or folders)"),
                      channels=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``synthmed`` command; returns the exit code."""
    from synthmed.exceptions import ModelFileError, NotFittedError, SynthmedError

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # usage errors (exit 2), --help and --version (exit 0)
        return int(exc.code or 0)
    try:
        handler = _HANDLERS[args.command]
        handler(args)
        return 0
    except (SynthmedError, NotFittedError, ModelFileError) as exc:
        print(f"synthmed: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT if _is_input_problem(exc) else EXIT_INTERNAL
    except KeyboardInterrupt:
        print("synthmed: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        # The message of a third-party error may quote data: show its type only, unless -v.
        print(f"synthmed: internal error ({type(exc).__name__}). Re-run with -v for the "
              "traceback and report it.", file=sys.stderr)
        if getattr(args, "verbose", False):
            traceback.print_exc()
        return EXIT_INTERNAL


def _is_input_problem(exc: Exception) -> bool:
    from synthmed.exceptions import InputError, ModelFileError

    return isinstance(exc, InputError | ModelFileError)


def _say(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    start = time.perf_counter()

    def say(message: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - start:6.1f}s] {message}", file=sys.stderr)

    return say


def _cmd_datasets(args: argparse.Namespace) -> None:
    from synthmed.datasets import list_datasets, load_dataset

    rows = []
    for info in list_datasets():
        survival = f"{info.survival[0]}/{info.survival[1]}" if info.survival else "-"
        rows.append([info.name, info.modality, _shape_text(info, load_dataset(info.name)),
                     info.target or "-", survival, ", ".join(info.sensitive) or "-",
                     info.source, info.licence])
    header = ["name", "modality", "rows x cols", "target", "time/event", "sensitive",
              "source", "licence"]
    _print_table(header, rows)


def _shape_text(info, data) -> str:  # type: ignore[no-untyped-def]
    """Rows x columns; patients for long tables; records, channels and length for signals."""
    if info.modality == "signal":
        sig = data.signals
        seconds = sum(r.shape[1] for r in sig.records) / sig.fs
        return (f"{len(sig.records)} rec x {sig.records[0].shape[0]} ch, {seconds:,.0f} s "
                f"@ {sig.fs:g} Hz")
    frame = data.frame
    text = f"{frame.shape[0]:,} x {frame.shape[1]}"
    entity = getattr(info, "entity", None)
    if info.modality == "longitudinal" and entity in frame.columns:
        text += f" ({frame[entity].nunique():,} patients)"
    return text


def _cmd_generators(args: argparse.Namespace) -> None:
    from synthmed.generators import generator_class, list_generators

    rows = []
    for name in list_generators():
        cls = generator_class(name)
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        rows.append([name, cls._tags.modality, doc])
    _print_table(["name", "modality", "description"], rows)


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


_SIGNAL_SUFFIXES = {".hea", ".dat", ".edf", ".bdf", ".dcm", ".npy"}


def _modality(args: argparse.Namespace) -> str:
    """Which pipeline a `generate` call goes to: table, longitudinal or signal."""
    from synthmed.datasets import list_datasets

    bundled = {d.name: d.modality for d in list_datasets()}
    if not Path(args.data).exists() and args.data in bundled:
        return bundled[args.data]
    if args.entity or args.time or getattr(args, "measure", None) or getattr(args, "value", None):
        return "longitudinal"
    # without signal options, a signal file is known by its suffix (a folder by its files)
    if getattr(args, "fs", None) is not None or getattr(args, "length", None) is not None \
            or getattr(args, "channels", None) or _is_signal(args.data):
        return "signal"
    return "table"


def _fit_modality(args: argparse.Namespace) -> str:
    """What `fit` fits: a long table (--entity/--time, or a bundled long dataset), signals
    (a signal file, --fs/--channels, or a bundled signal dataset) or a table."""
    modality = "longitudinal" if args.static else _modality(args)
    _check_over_time_options(args, modality)
    return modality


def _check_over_time_options(args: argparse.Namespace, modality: str) -> None:
    from synthmed.exceptions import ParameterError

    problems = []
    if modality != "longitudinal" and (args.entity or args.time or args.static
                                       or args.measure or args.value):
        problems.append("--entity, --time, --static, --measure and --value describe a long "
                        f"table; this input is {modality} data.")
    # `fit` has no --length (a model is fitted, not a length drawn)
    if modality != "signal" and (getattr(args, "length", None) is not None
                                 or args.fs is not None or args.channels):
        named = "--length, --fs and --channels" if hasattr(args, "length") else \
            "--fs and --channels"
        problems.append(f"{named} describe signals; this input is {modality} data.")
    if modality == "signal" and (args.target or args.sensitive or args.schema):
        problems.append("--target, --sensitive and --schema describe tables, not signals.")
    if problems:
        raise ParameterError(" ".join(problems))


def _cmd_generate(args: argparse.Namespace) -> None:
    from synthmed.evaluation import Thresholds
    from synthmed.pipeline import generate

    modality = _modality(args)
    _check_over_time_options(args, modality)
    if modality != "table":
        _generate_over_time(args, modality)
        return

    options = _release_options(args)
    thresholds = Thresholds.from_file(args.thresholds) if args.thresholds else None
    run = generate(
        args.data, args.out, generator=args.generator, params=dict(args.param),
        schema=args.schema, target=args.target, sensitive=args.sensitive, n=args.n,
        seed=args.seed, release=options, thresholds=thresholds, progress=_say(args),
    )
    _summarise(run, quiet=args.quiet)


def _release_options(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from synthmed.pipeline import ReleaseOptions

    options = ReleaseOptions(
        mode=args.mode, hybrid=args.hybrid, synthesize=tuple(args.synthesize),
        real_fraction=args.real_fraction, balance=tuple(args.balance), factor=args.factor,
        fair=args.fair, min_distance=args.min_distance, dcr_quantile=args.dcr_quantile,
        provenance_column=args.provenance_column, provenance_sidecar=args.provenance_sidecar,
    )
    options.check()
    return options


def _generate_over_time(args: argparse.Namespace, modality: str) -> None:
    from synthmed.evaluation import Thresholds

    generator = None if args.generator == "auto" else args.generator
    params = dict(args.param)
    if modality == "longitudinal":
        from synthmed.longitudinal_pipeline import generate_longitudinal

        thresholds = Thresholds.from_file(args.thresholds) if args.thresholds else None
        run = generate_longitudinal(
            args.data, args.out, entity=args.entity, time=args.time, static=args.static,
            measure=args.measure, value=args.value,
            target=args.target, sensitive=args.sensitive, n=args.n, seed=args.seed,
            params=params, thresholds=thresholds, progress=_say(args),
            release=_release_options(args),
            **({"generator": generator} if generator else {}),
        )
        stats = run.release.stats if run.release is not None else {}
        real, made = stats.get("real_patients", 0), stats.get("synthetic_patients", 0)
        patients = (f"{real + made:,} patients ({real:,} real, {made:,} synthetic)" if real
                    else f"{run.synthetic[run.schema.with_role('entity_id')[0]].nunique():,} "
                    "synthetic patients")
        what = f"{run.written_rows or len(run.synthetic):,} rows of {patients}"
    else:
        from synthmed.signal_pipeline import generate_signals

        run = generate_signals(
            args.data, args.out, length_s=args.length, fs=args.fs, channels=args.channels,
            seed=args.seed,
            params=params, progress=_say(args), n=args.n, release=_release_options(args),
            **({"generator": generator} if generator else {}),
        )
        what = f"{len(run.synthetic.records):,} synthetic recordings at {run.synthetic.fs:g} Hz"
        if run.release is not None:
            counts = run.release.counts()
            what = (f"{len(run.synthetic.records):,} recordings at {run.synthetic.fs:g} Hz "
                    f"({counts['real']:,} real, {counts['synthetic']:,} synthetic)")
    if args.quiet:
        return
    print(f"\n{modality}: {what}")
    _print_verdicts(run.evaluation)
    _print_files(run.files)


def _cmd_demo(args: argparse.Namespace) -> None:
    from synthmed.datasets import DEFAULT_DATASET
    from synthmed.pipeline import generate

    dataset = args.dataset or DEFAULT_DATASET
    run = generate(dataset, args.out, progress=_say(args))
    _summarise(run, quiet=args.quiet)


def _summarise(run, *, quiet: bool) -> None:  # type: ignore[no-untyped-def]
    if quiet:
        return
    ev = run.evaluation
    counts = ", ".join(f"{v:,} {k}" for k, v in run.release.counts().items() if v)
    print(f"\nreleased table: {len(run.synthetic):,} rows x {run.synthetic.shape[1]} columns "
          f"({counts}); mode {run.release.mode}")
    print(f"timings: "
          f"generator {run.generator.name}; fit {run.timings['fit_s']:.1f}s, "
          f"sample {run.timings['sample_s']:.1f}s, evaluate {run.timings['evaluate_s']:.1f}s")
    if run.dropped_columns:
        print("not modelled (identifiers, free text, or no value in the training rows): "
              f"{', '.join(run.dropped_columns)}")
    if ev is not None:
        _print_verdicts(ev)
    _print_files(run.files)


def _print_verdicts(result) -> None:  # type: ignore[no-untyped-def]
    print(f"overall verdict: {result.verdict.upper()}")
    for name, section in result.sections.items():
        state = "skipped" if section.skipped else section.verdict
        failed = [m.name for m in section.metrics if m.passed is False]
        extra = f" (not met: {', '.join(failed)})" if failed else ""
        print(f"  {name:<9} {state}{extra}")


def _print_files(files: dict[str, Path]) -> None:
    print("\nfiles:")
    for path in files.values():
        print(f"  {path}")


def _cmd_fit(args: argparse.Namespace) -> None:
    from synthmed.datasets.io import CsvFormat, source_format
    from synthmed.datasets.pairs import paired_columns
    from synthmed.datasets.tall import tall_layout
    from synthmed.exceptions import ParameterError
    from synthmed.generators import get_generator
    from synthmed.generators.registry import DEFAULT_GENERATOR
    from synthmed.pipeline import resolve_data
    from synthmed.split import unseen_in_train

    say = _say(args)
    modality = _fit_modality(args)
    if modality == "signal":
        _fit_signals(args, say)
        return
    long = modality == "longitudinal"
    name = "longitudinal" if long and args.generator == DEFAULT_GENERATOR else args.generator
    gen = get_generator(name, **dict(args.param))
    if long != (gen.tags.modality == "longitudinal"):
        raise ParameterError(f"Generator {name!r} is for {gen.tags.modality} data; this input "
                             f"is {'a long table' if long else 'a table'}.")
    if long:
        if args.schema is not None:
            raise ParameterError("--schema describes a table; a long table's schema comes "
                                 "from --entity, --time and --static.")
        from synthmed.longitudinal_pipeline import resolve_longitudinal

        frame, schema, label = resolve_longitudinal(
            args.data, entity=args.entity, time=args.time, static=args.static,
            target=args.target, sensitive=args.sensitive, measure=args.measure,
            value=args.value)
    else:
        frame, schema, label = resolve_data(args.data, schema=args.schema, target=args.target,
                                            sensitive=args.sensitive)
    # a column no row records (an export's empty code column) is left out, as generate does
    schema, empty = unseen_in_train(frame, schema)
    if empty:
        say(f"not modelled, no value in any row: {', '.join(empty)}")
    say(f"fitting {name} on {label}: {len(frame):,} rows")
    gen.fit(frame, schema=schema, random_state=args.seed)
    gen.save(args.out)
    schema.save(Path(args.out) / "schema.json")
    (source_format(args.data) or CsvFormat()).with_pairs(
        paired_columns(frame)).with_tall(tall_layout(frame)[0]).save_beside(args.out)
    if not args.quiet:
        print(f"model written to {args.out}")


def _fit_signals(args: argparse.Namespace, say: Any) -> None:
    """`fit` on signals: every record (there is no holdout to keep), the model saved for
    `synthmed sample MODEL -o out/ecg.edf --n N --length S`."""
    from synthmed.exceptions import ParameterError
    from synthmed.generators import get_generator
    from synthmed.generators.registry import DEFAULT_GENERATOR
    from synthmed.signal_pipeline import resolve_signals

    name = "signal_beats" if args.generator == DEFAULT_GENERATOR else args.generator
    gen = get_generator(name, **dict(args.param))
    if gen.tags.modality != "signal":
        raise ParameterError(f"Generator {name!r} is for {gen.tags.modality} data; this input "
                             "is signals (use 'signal_beats').")
    signals, label, _ = resolve_signals(args.data, args.fs, args.channels)
    say(f"fitting {name} on {label}: {signals.n_records} record(s), {signals.n_channels} "
        f"channel(s) at {signals.fs:g} Hz, {sum(signals.durations):.1f} s")
    gen.fit(signals, random_state=args.seed)
    gen.save(args.out)
    if not args.quiet:
        print(f"model written to {args.out}")


def _cmd_sample(args: argparse.Namespace) -> None:
    from synthmed.datasets.io import CSV_FORMAT_FILE, CsvFormat
    from synthmed.exceptions import ParameterError
    from synthmed.generators import load_generator

    suffix = args.out.suffix.lower()
    gen = load_generator(args.model)
    if gen.tags.modality == "signal":
        _sample_signals(gen, args)
        return
    if args.length is not None:
        raise ParameterError("--length is for signal models; this model draws "
                             f"{gen.tags.modality} data.")
    if suffix not in (".csv", ".parquet"):
        raise ParameterError(f"Output must end in .csv or .parquet, got {args.out.name!r}.")
    saved = Path(args.model) / CSV_FORMAT_FILE
    fmt = CsvFormat.from_meta(json.loads(saved.read_text())) if saved.is_file() else CsvFormat()
    if gen.tags.modality == "table":  # streamed chunk by chunk, written atomically
        from synthmed.generators.streaming import sample_to_csv, sample_to_parquet

        if suffix == ".csv":
            sample_to_csv(gen, args.out, args.n, chunk_rows=args.chunk_rows,
                          random_state=args.seed, csv_format=fmt)
        else:
            sample_to_parquet(gen, args.out, args.n, chunk_rows=args.chunk_rows,
                              random_state=args.seed)
        rows = args.n
    else:  # a long table: n counts patients, drawn whole
        frame = gen.sample(args.n, random_state=args.seed)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_name(f".{args.out.name}.tmp")
        if fmt.tall is not None:  # a row per measurement, as the source was written
            frame, fmt = fmt.laid_out(frame), fmt.cells_only
        try:
            if suffix == ".csv":
                fmt.write(frame, tmp)
            else:
                from synthmed.generators.streaming import missing_as_null

                missing_as_null(frame, gen.schema_).to_parquet(tmp, index=False)
            tmp.replace(args.out)
        finally:
            tmp.unlink(missing_ok=True)  # nothing half-written is left behind
        rows = len(frame)
    if not args.quiet:
        print(f"{rows:,} synthetic rows written to {args.out}")


def _sample_signals(gen: Any, args: argparse.Namespace) -> None:
    """`sample` from a signal model: ``-o out/ecg.edf`` writes out/ecg_0.edf, ecg_1.edf...
    (the suffix picks the format), all at once or nothing."""
    import shutil
    import tempfile

    from synthmed.datasets.signal_io import SIGNAL_SUFFIXES, write_signals
    from synthmed.exceptions import ParameterError

    # each format's first suffix is the one write_signals gives its files
    written_as: dict[str, str] = {}
    for suffix, kind in SIGNAL_SUFFIXES.items():
        written_as.setdefault(kind, suffix)
    fmt = SIGNAL_SUFFIXES.get(args.out.suffix.lower())
    if fmt is None or written_as[fmt] != args.out.suffix.lower():
        raise ParameterError(f"A signal model's -o names its records and their format: "
                             f"give a suffix of {', '.join(written_as.values())} (e.g. "
                             f"out/ecg.edf); got {args.out.name!r}.")
    records = gen.sample(args.n, length_s=args.length, random_state=args.seed)
    folder = args.out.parent
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        written = write_signals(records, tmp, fmt=fmt, prefix=args.out.stem)  # type: ignore[arg-type]
        for path in written:
            shutil.move(str(path), folder / path.name)
    if not args.quiet:
        print(f"{args.n:,} synthetic records written to {folder} ({args.out.stem}_*"
              f"{args.out.suffix})")


def _cmd_evaluate(args: argparse.Namespace) -> None:
    import tempfile

    from synthmed.datasets import read_table
    from synthmed.datasets.pairs import split_pairs
    from synthmed.evaluation import Thresholds, evaluate
    from synthmed.pipeline import resolve_data
    from synthmed.report import write_report

    thresholds = Thresholds.from_file(args.thresholds) if args.thresholds else None
    if args.fs is not None or any(_is_signal(p) for p in (args.train, args.holdout,
                                                         args.synthetic)):
        result = _evaluate_signals(args)
    elif args.entity or args.time or args.static or args.measure or args.value:
        result = _evaluate_long(args, thresholds)
    else:
        train, schema, _ = resolve_data(args.train, schema=args.schema, target=args.target,
                                        sensitive=args.sensitive)
        holdout, _, _ = resolve_data(args.holdout, schema=schema)
        # evaluate() checks its columns; "120/80" cells read as the schema's two parts
        synthetic = split_pairs(read_table(args.synthetic), schema.names)
        _say(args)("evaluating")
        result = evaluate(train, holdout, synthetic, schema, thresholds=thresholds,
                          random_state=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        (Path(tmp) / "metrics.json").write_text(result.to_json() + "\n")
        write_report(result, Path(tmp) / "report.html", title="synthmed evaluation")
        for name in ("metrics.json", "report.html"):
            (Path(tmp) / name).replace(args.out / name)
    if not args.quiet:
        print(f"overall verdict: {result.verdict.upper()}")
        print(f"files:\n  {args.out / 'metrics.json'}\n  {args.out / 'report.html'}")


def _is_signal(path: str) -> bool:
    """A signal file, or a folder holding signal files (a set of records, such as a
    release's synthetic/ folder)."""
    target = Path(path)
    if target.is_dir():
        return any(p.suffix.lower() in _SIGNAL_SUFFIXES for p in target.iterdir())
    return target.suffix.lower() in _SIGNAL_SUFFIXES


def _evaluate_signals(args: argparse.Namespace) -> Any:
    """`evaluate` on signals: train, holdout and synthetic records (files or folders)."""
    from synthmed.datasets.signal_io import read_signals
    from synthmed.evaluation.signal import evaluate_signals
    from synthmed.exceptions import ParameterError

    used = [flag for flag, value in (("--target", args.target), ("--schema", args.schema),
                                     ("--sensitive", args.sensitive),
                                     ("--thresholds", args.thresholds),
                                     ("--entity", args.entity), ("--time", args.time),
                                     ("--measure", args.measure), ("--value", args.value))
            if value]
    if used:
        raise ParameterError(f"{', '.join(used)} {'is' if len(used) == 1 else 'are'} for "
                             "tables, not signals.")
    train, holdout, synthetic = (read_signals(p, fs=args.fs)
                                 for p in (args.train, args.holdout, args.synthetic))
    for label, other in (("holdout", holdout), ("synthetic", synthetic)):
        if other.fs != train.fs or other.channels != train.channels:
            raise ParameterError(
                f"The {label} records ({other.fs:g} Hz; {', '.join(other.channels)}) differ "
                f"from train ({train.fs:g} Hz; {', '.join(train.channels)}): compare records "
                "of the same channels at one rate.")
    _say(args)("evaluating signals")
    return evaluate_signals(train, holdout, synthetic, random_state=args.seed)


def _evaluate_long(args: argparse.Namespace, thresholds: Any) -> Any:
    """`evaluate --entity --time`: three long tables judged per patient, as `generate` does
    (the train file's schema read, the holdout and synthetic files read with it)."""
    from synthmed.datasets import read_table
    from synthmed.datasets.longitudinal import LongitudinalData
    from synthmed.datasets.pairs import split_pairs
    from synthmed.datasets.tall import pivot_tall, tall_layout
    from synthmed.evaluation.longitudinal import evaluate_longitudinal
    from synthmed.exceptions import DataError, ParameterError
    from synthmed.longitudinal_pipeline import resolve_longitudinal
    from synthmed.split import unseen_in_train

    if args.schema is not None:
        raise ParameterError("--schema describes a table; long tables are described by "
                             "--entity, --time and --static.")
    train, schema, _ = resolve_longitudinal(args.train, entity=args.entity, time=args.time,
                                            static=args.static, target=args.target,
                                            sensitive=args.sensitive, measure=args.measure,
                                            value=args.value)
    layout, _ = tall_layout(train)
    # a column no training row records is not modelled (as generate and fit leave it out):
    # the other files need not hold it
    schema, empty = unseen_in_train(train, schema)
    others = []
    for label, path in (("holdout", args.holdout), ("synthetic", args.synthetic)):
        frame = read_table(path)
        if layout is not None:  # pivoted as train was, onto train's measures
            frame = pivot_tall(frame, entity=layout.entity, time=layout.time,
                               measure=layout.measure, value=layout.value)[0]
            frame = frame.reindex(columns=[c for c in train.columns if c in frame.columns]
                                  + [m for m in layout.measures if m not in frame.columns])
        frame = split_pairs(frame, schema.names)
        frame = frame.assign(**{c: float("nan") for c in empty if c not in frame.columns})
        missing = [c for c in schema.names if c not in frame.columns]
        if missing:
            raise DataError(f"The {label} table lacks {len(missing)} column(s) of the train "
                            f"table: {', '.join(missing)}. All three tables must share the "
                            "source's columns.")
        try:
            others.append(LongitudinalData.from_frame(frame, schema=schema).frame)
        except DataError as exc:  # say which file
            raise DataError(f"The {label} table: {exc}") from None
    _say(args)("evaluating per patient")
    return evaluate_longitudinal(train, others[0], others[1], schema, thresholds=thresholds,
                                 random_state=args.seed)


_HANDLERS = {
    "datasets": _cmd_datasets,
    "generators": _cmd_generators,
    "generate": _cmd_generate,
    "demo": _cmd_demo,
    "fit": _cmd_fit,
    "sample": _cmd_sample,
    "evaluate": _cmd_evaluate,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
