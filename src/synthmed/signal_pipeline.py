"""One signal run, start to end: read → split → fit → sample → evaluate → write, atomically.

Like :func:`synthmed.generate` for tables: every check and computation happens before the
first file is written, and the files are written into a temporary sibling folder that
replaces the output folder only at the end.

Output folder::

    synthetic/           the synthetic records, in the input's format where a writer exists
                         (WFDB, EDF), else CSV (a ``time`` column, one column per channel)
    release/             instead, in hybrid and augment modes: the released recordings, real
                         pieces of the training recordings and synthetic ones
    provenance.csv       with release/: one row per released recording (file stem,
                         ``real``/``synthetic``, seconds, heart rate in augment mode)
    signal_schema.json   sampling rate, channels, units, record lengths, format
    metrics.json         the evaluation (fidelity, privacy) with the holdout reference
    report.html          the self-contained report
    model/               the fitted generator (model.json + arrays.npz)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import shutil
import tempfile
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from synthmed.datasets.io import CsvFormat, source_format
from synthmed.datasets.signal_io import read_signals, signal_format, write_metadata, write_signals
from synthmed.datasets.signals import SignalDataset, SignalSet
from synthmed.evaluation.result import EvaluationResult
from synthmed.exceptions import ParameterError

if TYPE_CHECKING:
    from synthmed.modes.signal import SignalRelease
    from synthmed.pipeline import ReleaseOptions

__all__ = ["SignalRunResult", "generate_signals", "resolve_signals"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SignalRunResult:
    """What :func:`generate_signals` produced and where it wrote it.

    ``synthetic`` is what was released: synthetic records in ``full`` mode, the real and
    synthetic recordings otherwise (``release.provenance`` says which is which).
    """

    out_dir: Path
    synthetic: SignalSet
    generator: Any
    evaluation: EvaluationResult
    timings: dict[str, float] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    release: SignalRelease | None = None


def resolve_signals(data: str | Path | SignalSet | SignalDataset, fs: float | None = None,
                    channels: Sequence[str] | None = None) -> tuple[SignalSet, str, str]:
    """(signals, label, output format) from a bundled name, a file or a SignalSet."""
    if isinstance(data, SignalDataset):
        return data.signals, data.info.name, "csv"
    if isinstance(data, SignalSet):
        return data, "SignalSet", "csv"
    from synthmed.datasets.registry import _INFO

    if isinstance(data, str) and not Path(data).exists() and data in _INFO:
        from synthmed.datasets.signals import load_signal_dataset

        return load_signal_dataset(data).signals, data, "csv"
    path = Path(data)
    kind = signal_format(path)
    signals = read_signals(path, fs=fs, channels=channels)
    return signals, path.name, kind if kind in ("wfdb", "edf", "dicom") else "csv"


def generate_signals(
    data: str | Path | SignalSet | SignalDataset,
    out: str | Path,
    *,
    length_s: float | None = None,
    n: int | None = None,
    fs: float | None = None,
    channels: Sequence[str] | None = None,
    generator: str = "signal_beats",
    params: Mapping[str, Any] | None = None,
    conditions: Mapping[str, Any] | None = None,
    holdout_fraction: float = 0.5,
    seed: int = 0,
    progress: Progress | None = None,
    release: ReleaseOptions | None = None,
) -> SignalRunResult:
    """Split, fit, sample, evaluate against the holdout and write everything to ``out``.

    Parameters
    ----------
    data : str, Path, SignalSet or SignalDataset
        A bundled signal dataset name (``ecg_mitbih``, ``ecg_12lead``, ``ppg_heartpy``), a
        WFDB/EDF/DICOM/CSV/NPY file, a folder of them (one record each, one rate and the same
        channels: four or more are split by record), or signals in memory.
    out : str or Path
        Output folder (created; files of a previous run are replaced).
    length_s : float, optional
        Seconds per synthetic record (default: as long as the training records, at most 300;
        in hybrid and augment modes 10 s, at most the shortest training record).
    n : int, optional
        Number of synthetic records (default: as many as the training records, at least 3);
        in hybrid mode the number of released recordings (default: as many as the training
        recordings give real pieces).
    fs : float, optional
        Sampling rate of a CSV/NPY input (required there; other formats record it).
    channels : sequence of str, optional
        Channels to keep.
    generator, params
        Registered signal generator and its parameters.
    conditions : mapping, optional
        ``{"heart_rate": bpm}`` or static attributes (see the generator's ``sample``).
    holdout_fraction : float
        Share kept aside as the holdout: whole records when there are four or more, else the
        end of each record in time.
    seed : int
        Seed of the fit, the sampling and the evaluation.
    progress : callable, optional
        Called with a short message at each stage.
    release : ReleaseOptions, optional
        What to release (default ``full``). ``hybrid`` with ``hybrid="mix"`` and
        ``real_fraction``: real ``length_s`` pieces of the training recordings, released
        sample for sample, mixed with synthetic recordings. ``augment`` with
        ``balance=("heart_rate",)`` (every 10-bpm heart-rate band between the slowest and the
        fastest seen filled up to the fullest, with recordings conditioned on a heart rate in
        that band) or ``factor=K``. Provenance per recording goes to ``provenance.csv``.
        ``hybrid="partial"``, ``fair``, other ``balance`` values and the distance filter are
        refused for signals, before anything is fitted.

    Examples
    --------
    >>> run = generate_signals("ecg_mitbih", "out/ecg", length_s=60, n=3)  # doctest: +SKIP
    >>> run.evaluation.verdict  # doctest: +SKIP
    'pass'
    >>> from synthmed.pipeline import ReleaseOptions
    >>> run = generate_signals("ecg_mitbih", "out/more", release=ReleaseOptions(
    ...     mode="augment", balance=("heart_rate",)))  # doctest: +SKIP
    >>> run.release.counts()  # doctest: +SKIP
    {'real': 15, 'synthetic': 18}
    """
    from synthmed.evaluation.signal import evaluate_signals
    from synthmed.generators import get_generator
    from synthmed.generators.signal import SignalGenerator
    from synthmed.generators.signal.base import check_length
    from synthmed.report import DataCard

    say = progress or (lambda _msg: None)
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ParameterError(f"`n` must be a positive integer, got {n!r}.")
    options = _check_release(release, n=n, conditions=conditions)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"`seed` must be a non-negative integer, got {seed!r}.")
    if length_s is not None:  # before reading and fitting, not after
        check_length(length_s)
    gen = get_generator(generator, **dict(params or {}))
    if not isinstance(gen, SignalGenerator):
        raise ParameterError(f"Generator {generator!r} does not generate signals "
                             f"(modality {gen.tags.modality!r}); use 'signal_beats'.")
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise ParameterError(f"Output {str(out_dir)!r} exists and is not a folder.")
    timings: dict[str, float] = {}

    start = time.perf_counter()
    signals, label, fmt = resolve_signals(data, fs, channels)
    train, holdout = signals.split(holdout_fraction)
    unit_s = _release_unit(options, train, length_s, n)
    timings["load_split_s"] = time.perf_counter() - start
    say(f"{label}: {signals.n_records} record(s), {signals.n_channels} channel(s) at "
        f"{signals.fs:g} Hz, {sum(signals.durations):.1f} s; train {sum(train.durations):.1f} s, "
        f"holdout {sum(holdout.durations):.1f} s")

    say(f"fitting {generator}")
    start = time.perf_counter()
    gen.fit(train, random_state=seed)
    timings["fit_s"] = time.perf_counter() - start

    start = time.perf_counter()
    released = _release(gen, options, train, unit_s, n, seed)
    if released is None:
        # a folder of patients' records gets as many synthetic ones as train holds
        n = n or max(3, train.n_records)
        say(f"sampling {n} record(s)")
        synthetic = gen.sample(n, length_s=length_s, conditions=conditions,
                               random_state=seed)
    else:
        say(f"releasing ({_mode_label(options)}): {released.counts()}")
        synthetic = released.signals
    timings["sample_s"] = time.perf_counter() - start

    say("evaluating against the holdout")
    start = time.perf_counter()
    provenance = {"source": label, "generator": generator, "generator_params": gen.get_params(),
                  "seed": seed, "holdout_fraction": holdout_fraction,
                  "conditions": dict(conditions or {}), "release_mode": _mode_label(options)}
    judged = synthetic
    if released is not None:
        provenance.update(release_counts=released.counts(), release_stats=released.stats)
        if released.mode == "augment":  # the training pieces go out as they are: judge the new
            judged = released.part("synthetic") or synthetic
    result = evaluate_signals(train, holdout, judged, random_state=seed,
                              provenance=provenance,
                              augmentation=released is not None and released.mode == "augment")
    if released is not None:
        result = _with_release_notes(result, released)
    timings["evaluate_s"] = time.perf_counter() - start

    say(f"writing {out_dir}")
    card = DataCard(
        intended_use="Developing and testing signal-processing and monitoring methods "
        "without sharing patients' recordings.",
        recipients="Not stated: whoever releases the data decides.",
        generator=generator, parameters=gen.get_params(), source=label,
        release_mode=_MODE_WORDS[_mode_label(options)],
        limitations=("Synthetic device signals drawn beat by beat from a model of the "
                     "source's beat shapes, rhythm and noise; rare events (arrhythmias, "
                     "artefacts) are smoothed out or absent.",
                     *(() if released is None else (
                         f"{released.counts()['real']:,} released recordings are real pieces "
                         "of patients' recordings, unchanged (see provenance.csv): this "
                         "release is personal data.",))),
    )
    files = _write(out_dir, gen, synthetic, result, fmt, label, card, timings, released,
                   options.provenance_column if options else "provenance",
                   csv_format=source_format(data))
    return SignalRunResult(out_dir, synthetic, gen, result, timings, files, released)


def _check_release(release: Any, *, n: int | None,
                   conditions: Mapping[str, Any] | None) -> ReleaseOptions | None:
    """The options if they describe a mode signals support (None = full); else one error."""
    from synthmed.modes.signal import HEART_RATE
    from synthmed.pipeline import ReleaseOptions

    release = ReleaseOptions.checked(release)
    if release is None:
        return None
    problems = []
    if release.mode == "hybrid" and release.hybrid == "partial":
        problems.append("--hybrid partial is not available for signals (a recording has no "
                        "columns to synthesize); use --hybrid mix.")
    if release.fair:
        problems.append("--fair is not available for signals; use --balance heart_rate.")
    if any(b != HEART_RATE for b in release.balance):
        problems.append("Signals can be balanced on heart_rate only: --balance heart_rate.")
    if release.min_distance is not None or release.dcr_quantile is not None:
        problems.append("--min-distance and --dcr-quantile are not available for signals "
                        "(the privacy section checks beat copies instead).")
    if release.factor is not None and not release.factor > 1:
        problems.append(f"--factor must be above 1 (how many times the data grows), got "
                        f"{release.factor:g}.")
    if release.mode == "augment" and n is not None:
        problems.append("--n does not apply to --mode augment: the heart-rate bands (or "
                        "--factor) decide how many recordings are added.")
    if release.mode != "full" and conditions:
        problems.append("Conditions apply to --mode full only.")
    if release.provenance_column in ("record", "seconds", "heart_rate_bpm"):
        problems.append(f"--provenance-column {release.provenance_column!r} is a column of "
                        "provenance.csv already; choose another name.")
    if problems:
        raise ParameterError(" ".join(problems))
    return None if release.mode == "full" else release


def _release_unit(options: ReleaseOptions | None, train: SignalSet, length_s: float | None,
                  n: int | None) -> float:
    """Seconds per released recording; checks, before fitting, that real pieces exist."""
    from synthmed.modes.signal import DEFAULT_UNIT_S

    if options is None:
        return 0.0
    shortest = min(train.durations)
    unit = float(length_s) if length_s is not None else min(DEFAULT_UNIT_S, shortest)
    if not 1.5 <= unit <= shortest:
        raise ParameterError(f"--length must be between 1.5 s and the shortest training "
                             f"recording ({shortest:.1f} s) in --mode {options.mode}, since "
                             f"real pieces of that length are released; got {unit:g}.")
    pieces = sum(int(d // unit) for d in train.durations)
    if options.mode == "hybrid":
        total = pieces if n is None else n
        n_real = int(float(options.real_fraction or 0.0) * total + 0.5)
        if n_real > pieces:
            raise ParameterError(
                f"A release of {total} recordings with --real-fraction "
                f"{options.real_fraction} needs {n_real} real {unit:g} s pieces, but the "
                f"training recordings give {pieces}. Lower --n or --real-fraction, or "
                "shorten --length.")
    if options.mode == "augment" and options.balance:
        from synthmed.modes.signal import band_targets, piece_heart_rates, real_units

        targets, _ = band_targets(piece_heart_rates(real_units(train, unit)[0]), 10.0,
                                   np.random.default_rng(0))
        if len(targets) == 0:
            raise ParameterError("Every heart-rate band already has as many pieces as the "
                                 "fullest one: augmentation would add no synthetic recording.")
    return unit


def _mode_label(options: ReleaseOptions | None) -> str:
    if options is None:
        return "full"
    return "hybrid-mix" if options.mode == "hybrid" else "augment"


def _release(gen: Any, options: ReleaseOptions | None, train: SignalSet, unit_s: float,
             n: int | None, seed: int) -> SignalRelease | None:
    from synthmed.modes.signal import release_signal_augment, release_signal_mix

    if options is None:
        return None
    if options.mode == "hybrid":
        return release_signal_mix(gen, train, real_fraction=float(options.real_fraction or 0.0),
                                  length_s=unit_s, n=n, random_state=seed)
    return release_signal_augment(gen, train, balance=list(options.balance) or None,
                                  factor=options.factor, length_s=unit_s, random_state=seed)


def _with_release_notes(result: EvaluationResult, released: SignalRelease) -> EvaluationResult:
    """Say in words what was judged, and that real recordings are in the release."""
    counts = released.counts()
    if released.mode == "augment":
        text = (f"Only the {counts['synthetic']:,} synthetic recordings are judged here. They "
                "were drawn at chosen heart rates, so their rhythm deliberately differs from "
                "the source's.")
        for name in ("fidelity", "utility", "privacy"):
            result = result.with_note(name, text)
    if counts["real"]:
        result = result.with_note(
            "privacy", f"{counts['real']:,} of {sum(counts.values()):,} released recordings "
            "are real pieces of the training recordings, released sample for sample. Their "
            "disclosure risk is not zero: whoever receives this data receives these patients' "
            "real signals." + (" The beat copy gates read them as copies, as they are."
                               if released.mode == "mix" else ""))
    return result


_MODE_WORDS = {
    "full": "full (synthetic signals only)",
    "hybrid-mix": "hybrid (mix): real pieces of the training recordings together with "
    "synthetic recordings; each recording's provenance is in provenance.csv",
    "augment": "augment: every piece of the training recordings plus synthetic recordings "
    "drawn at the heart rates with fewer pieces; each recording's provenance is in "
    "provenance.csv",
}


def _write(out_dir: Path, gen: Any, synthetic: SignalSet, result: EvaluationResult, fmt: str,
           label: str, card: Any, timings: dict[str, float],
           released: SignalRelease | None = None,
           provenance_column: str = "provenance",
           csv_format: CsvFormat | None = None) -> dict[str, Path]:
    from synthmed.report import write_report

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        folder = "synthetic" if released is None else "release"
        written = write_signals(synthetic, tmp / folder, fmt=fmt,  # type: ignore[arg-type]
                                prefix=folder, csv_format=csv_format)
        write_metadata(synthetic, tmp / "signal_schema.json", format=fmt,
                       files=[p.name for p in written])
        if released is not None:
            released.provenance.rename(columns={"provenance": provenance_column}).to_csv(
                tmp / "provenance.csv", index=False)
        doc = result.to_dict()
        doc["timings"] = {k: round(v, 3) for k, v in timings.items()}
        (tmp / "metrics.json").write_text(json.dumps(doc, indent=2, allow_nan=False))
        write_report(result, tmp / "report.html", title=f"synthmed report: {label}",
                     data_card=card)
        gen.save(tmp / "model")
        if out_dir.exists():
            backup = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-old-", dir=out_dir.parent))
            os.replace(out_dir, backup / "old")
            os.replace(tmp, out_dir)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    names = (["synthetic"] if released is None else ["release", "provenance.csv"]) + [
        "signal_schema.json", "metrics.json", "report.html", "model"]
    return {name: out_dir / name for name in names}
