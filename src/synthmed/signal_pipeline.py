"""One signal run, start to end: read → split → fit → sample → evaluate → write, atomically.

Like :func:`synthmed.generate` for tables: every check and computation happens before the
first file is written, and the files are written into a temporary sibling folder that
replaces the output folder only at the end.

Output folder::

    synthetic/           the synthetic records, in the input's format where a writer exists
                         (WFDB, EDF), else CSV (a ``time`` column, one column per channel)
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
from typing import Any

from synthmed.datasets.signal_io import read_signals, signal_format, write_metadata, write_signals
from synthmed.datasets.signals import SignalDataset, SignalSet
from synthmed.evaluation.result import EvaluationResult
from synthmed.exceptions import ParameterError

__all__ = ["SignalRunResult", "generate_signals"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SignalRunResult:
    """What :func:`generate_signals` produced and where it wrote it."""

    out_dir: Path
    synthetic: SignalSet
    generator: Any
    evaluation: EvaluationResult
    timings: dict[str, float] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)


def _resolve(data: str | Path | SignalSet | SignalDataset, fs: float | None,
             channels: Sequence[str] | None) -> tuple[SignalSet, str, str]:
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
    return signals, path.name, kind if kind in ("wfdb", "edf") else "csv"


def generate_signals(
    data: str | Path | SignalSet | SignalDataset,
    out: str | Path,
    *,
    length_s: float | None = None,
    n: int = 3,
    fs: float | None = None,
    channels: Sequence[str] | None = None,
    generator: str = "signal_beats",
    params: Mapping[str, Any] | None = None,
    conditions: Mapping[str, Any] | None = None,
    holdout_fraction: float = 0.5,
    seed: int = 0,
    progress: Progress | None = None,
) -> SignalRunResult:
    """Split, fit, sample, evaluate against the holdout and write everything to ``out``.

    Parameters
    ----------
    data : str, Path, SignalSet or SignalDataset
        A bundled signal dataset name (``ecg_mitbih``, ``ecg_12lead``, ``ppg_heartpy``), a
        WFDB/EDF/DICOM/CSV/NPY file, or signals in memory.
    out : str or Path
        Output folder (created; files of a previous run are replaced).
    length_s : float, optional
        Seconds per synthetic record (default: as long as the training records, at most 300).
    n : int
        Number of synthetic records.
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

    Examples
    --------
    >>> run = generate_signals("ecg_mitbih", "out/ecg", length_s=60, n=3)  # doctest: +SKIP
    >>> run.evaluation.verdict  # doctest: +SKIP
    'pass'
    """
    from synthmed.evaluation.signal import evaluate_signals
    from synthmed.generators import get_generator
    from synthmed.generators.signal import SignalGenerator
    from synthmed.report import DataCard

    say = progress or (lambda _msg: None)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ParameterError(f"`n` must be a positive integer, got {n!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"`seed` must be a non-negative integer, got {seed!r}.")
    gen = get_generator(generator, **dict(params or {}))
    if not isinstance(gen, SignalGenerator):
        raise ParameterError(f"Generator {generator!r} does not generate signals "
                             f"(modality {gen.tags.modality!r}); use 'signal_beats'.")
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise ParameterError(f"Output {str(out_dir)!r} exists and is not a folder.")
    timings: dict[str, float] = {}

    start = time.perf_counter()
    signals, label, fmt = _resolve(data, fs, channels)
    train, holdout = signals.split(holdout_fraction)
    timings["load_split_s"] = time.perf_counter() - start
    say(f"{label}: {signals.n_records} record(s), {signals.n_channels} channel(s) at "
        f"{signals.fs:g} Hz, {sum(signals.durations):.1f} s; train {sum(train.durations):.1f} s, "
        f"holdout {sum(holdout.durations):.1f} s")

    say(f"fitting {generator}")
    start = time.perf_counter()
    gen.fit(train, random_state=seed)
    timings["fit_s"] = time.perf_counter() - start

    say(f"sampling {n} record(s)")
    start = time.perf_counter()
    synthetic = gen.sample(n, length_s=length_s, conditions=conditions, random_state=seed)
    timings["sample_s"] = time.perf_counter() - start

    say("evaluating against the holdout")
    start = time.perf_counter()
    provenance = {"source": label, "generator": generator, "generator_params": gen.get_params(),
                  "seed": seed, "holdout_fraction": holdout_fraction,
                  "conditions": dict(conditions or {})}
    result = evaluate_signals(train, holdout, synthetic, random_state=seed,
                              provenance=provenance)
    timings["evaluate_s"] = time.perf_counter() - start

    say(f"writing {out_dir}")
    card = DataCard(
        intended_use="Developing and testing signal-processing and monitoring methods "
        "without sharing patients' recordings.",
        recipients="Not stated: whoever releases the data decides.",
        generator=generator, parameters=gen.get_params(), source=label,
        release_mode="full (synthetic signals only)",
        limitations=["Synthetic device signals drawn beat by beat from a model of the "
                     "source's beat shapes, rhythm and noise; rare events (arrhythmias, "
                     "artefacts) are smoothed out or absent."],
    )
    files = _write(out_dir, gen, synthetic, result, fmt, label, card, timings)
    return SignalRunResult(out_dir, synthetic, gen, result, timings, files)


def _write(out_dir: Path, gen: Any, synthetic: SignalSet, result: EvaluationResult, fmt: str,
           label: str, card: Any, timings: dict[str, float]) -> dict[str, Path]:
    from synthmed.report import write_report

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        written = write_signals(synthetic, tmp / "synthetic", fmt=fmt)  # type: ignore[arg-type]
        write_metadata(synthetic, tmp / "signal_schema.json", format=fmt,
                       files=[p.name for p in written])
        doc = result.to_dict()
        doc["timings"] = {k: round(v, 3) for k, v in timings.items()}
        (tmp / "metrics.json").write_text(json.dumps(doc, indent=2, allow_nan=False))
        write_report(result, tmp / "report.html", title=f"Synthetic signals from {label}",
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
    names = ["synthetic", "signal_schema.json", "metrics.json", "report.html", "model"]
    return {name: out_dir / name for name in names}
