"""``render_report`` / ``write_report``: one self-contained HTML page from an EvaluationResult.

The page loads nothing: styles are inline, plots are ``data:`` SVG images, the only script is
inline and allowed by a Content-Security-Policy hash, so it opens offline, in a mail client or
from an archive, and prints well. It renders only; every figure comes from the result.

Order, for a clinician or a data-protection officer: the overall verdict in plain words, the
section verdicts, the data card, one section per concern (metrics table, plots, details), and
the provenance (hashes, versions, seeds, thresholds, threat model).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
import hashlib
from pathlib import Path
from typing import Any

from synthmed.evaluation.result import SECTIONS, EvaluationResult, Metric, Section
from synthmed.exceptions import ParameterError
from synthmed.report._format import Table, fmt, fmt_interval, humanise, tables_from
from synthmed.report.card import DataCard
from synthmed.report.plots import PlotBlock, section_plots

__all__ = ["render_report", "write_report"]

#: opens collapsed details before printing, so that paper shows everything
_PRINT_SCRIPT = (
    'window.addEventListener("beforeprint",function(){'
    'document.querySelectorAll("details").forEach(function(d){d.open=true;});});'
)

_ABOUT: dict[str, tuple[str, str]] = {
    "fidelity": (
        "Fidelity",
        "Does the synthetic table look like the real one, column by column and in how columns "
        "relate to each other?",
    ),
    "utility": (
        "Utility",
        "Does a model trained on {subject} work as well on real patients as one trained on "
        "real data?",
    ),
    "privacy": (
        "Privacy",
        "Could someone learn something about a real patient from {subject}? These checks are "
        "hard gates: one failure blocks release.",
    ),
    "bias": (
        "Bias and fairness",
        "Are all patient groups represented as in the real data, and do models trained on "
        "{subject} treat them alike?",
    ),
    "clinical": (
        "Clinical truth",
        "Do clinical findings (effect estimates, plausibility rules) come out the same in "
        "{subject} as in the real data?",
    ),
}

#: what the report calls the synthetic data of each modality, and its fidelity question
_SUBJECT = {"table": "the synthetic table", "longitudinal": "the synthetic patients",
            "signal": "the synthetic recordings"}
_FIDELITY_ABOUT = {
    "longitudinal": "Do the synthetic patients look like the real ones: their measures, how "
                    "often and how long they are followed, and how their values change over "
                    "time?",
    "signal": "Do the synthetic recordings look like the real ones: beat shapes, heart rhythm "
              "and its variability, and spectrum?",
}


#: a hybrid release judged whole, real records included (the pipelines judge what is released)
_HYBRID_SUBJECT = {"table": "the hybrid table", "longitudinal": "the released real and "
                   "synthetic patients", "signal": "the released real and synthetic recordings"}


def _hybrid(result: EvaluationResult) -> bool:
    return str(result.provenance.get("release_mode", "")).startswith("hybrid")


def _subject(result: EvaluationResult) -> str:
    """"the synthetic table", "... patients" or "... recordings", by the result's modality
    ("the hybrid table", "the released real and synthetic patients"... for a hybrid
    release)."""
    subjects = _HYBRID_SUBJECT if _hybrid(result) else _SUBJECT
    return subjects.get(str(result.provenance.get("modality", "table")), subjects["table"])


_VERDICT_WORDS = {
    "pass": "PASS",
    "warn": "WARNING",
    "fail": "FAIL",
    "skipped": "SKIPPED",
    "not run": "NOT RUN",
    "info": "INFO",
}

_HEADLINES = {
    "pass": "Passed: every check that ran held.",
    "warn": "Passed with warnings: no hard gate failed, but some checks did not hold.",
    "fail": "Failed: at least one hard gate did not hold. Do not release this data as it is.",
}

_PROVENANCE_LABELS = {
    "data_hash": "Data fingerprints (SHA-256, shortened)",
    "rows": "Rows",
    "columns": "Columns",
    "versions": "Software versions",
    "evaluation_seed": "Evaluation seed",
    "max_rows": "Row cap for expensive metrics",
    "threat_model": "Threat model",
    "thresholds": "Thresholds used (pass rules)",
    "split_groups": "Patient id whose rows stay together in train or holdout",
    "split_strata": "Columns whose groups are split evenly between train and holdout",
    "copy_rule": "Synthetic records equal to a training record: which were redrawn",
}


@dataclass(frozen=True)
class _MetricRow:
    name: str
    description: str
    value: str
    holdout: str
    interval: str
    rule: str
    status: str  # pass / warn / fail / info
    gate: bool
    note: str
    modality: str
    tables: tuple[Table, ...]


@dataclass(frozen=True)
class _SectionView:
    key: str
    anchor: str
    title: str
    about: str
    status: str  # pass / warn / fail / skipped / not run
    skipped: str
    notes: tuple[str, ...]
    metrics: tuple[_MetricRow, ...]
    counts: Mapping[str, int]
    problems: tuple[str, ...]
    plots: tuple[PlotBlock, ...]
    threat: tuple[tuple[str, str], ...] = ()


def render_report(
    result: EvaluationResult, *, title: str, data_card: DataCard | None = None
) -> str:
    """Render an evaluation as one self-contained HTML page.

    Parameters
    ----------
    result : EvaluationResult
        What :func:`synthmed.evaluation.evaluate` returned; its ``plots`` feed the figures
        (shapes in :mod:`synthmed.report.plots`; missing or malformed plot data is skipped).
    title : str
        The page title, e.g. ``"Synthetic PBC cohort, release 2"``.
    data_card : DataCard, optional
        Intended use, recipients, limitations, generator. Without one the report says that no
        data card was supplied.

    Returns
    -------
    str
        The HTML page. It loads nothing from the network.

    Examples
    --------
    >>> from synthmed.evaluation import EvaluationResult, Metric, Section
    >>> result = EvaluationResult({"privacy": Section("privacy", (
    ...     Metric("dcr_share", 0.5, threshold=0.53, passed=True, gate=True),))})
    >>> html = render_report(result, title="Demo")
    >>> "PASS" in html
    True
    """
    if not isinstance(result, EvaluationResult):
        raise ParameterError(
            f"`result` must be an EvaluationResult (from synthmed.evaluation.evaluate), "
            f"got {type(result).__name__}."
        )
    if not isinstance(title, str) or not title.strip():
        raise ParameterError("`title` must be a non-empty string, e.g. 'Synthetic PBC cohort'.")
    if data_card is not None and not isinstance(data_card, DataCard):
        raise ParameterError(
            f"`data_card` must be a synthmed.report.DataCard or None, "
            f"got {type(data_card).__name__}."
        )
    sections = _section_views(result)
    summary = _summary(result, sections)
    script_hash = base64.b64encode(hashlib.sha256(_PRINT_SCRIPT.encode()).digest()).decode()
    from synthmed import __version__

    return _template().render(
        title=title.strip(),
        verdict=result.verdict,
        verdict_words=_VERDICT_WORDS,
        summary=summary,
        sections=sections,
        card=_card_view(data_card, sections),
        provenance=_tree(result.provenance, labels=_PROVENANCE_LABELS),
        script=_PRINT_SCRIPT,
        script_hash=script_hash,
        version=__version__,
        subject=_subject(result),
    )


def write_report(
    result: EvaluationResult,
    path: str | Path,
    *,
    title: str,
    data_card: DataCard | None = None,
) -> Path:
    """Render the report (see :func:`render_report`) and write it to ``path`` as UTF-8.

    Missing parent folders are created. Returns the path written.

    Examples
    --------
    >>> write_report(result, "out/report.html", title="Synthetic PBC")  # doctest: +SKIP
    PosixPath('out/report.html')
    """
    if not isinstance(path, str | Path) or not str(path):
        raise ParameterError(f"`path` must be a file path, got {type(path).__name__}.")
    html = render_report(result, title=title, data_card=data_card)
    target = Path(path)
    if target.is_dir():
        raise ParameterError(f"`path` {str(target)!r} is a folder; give a file name such as "
                             f"{str(target / 'report.html')!r}.")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    return target


# --------------------------------------------------------------------------- views


@lru_cache(maxsize=1)
def _template() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("synthmed.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html")


def _metric_status(metric: Metric) -> str:
    if metric.passed is None:
        return "info"
    if metric.passed:
        return "pass"
    return "fail" if metric.gate else "warn"


def _metric_row(metric: Metric) -> _MetricRow:
    rule = metric.rule or (f"threshold {fmt(metric.threshold)}" if metric.threshold is not None
                           else "")
    try:
        tables = tuple(tables_from(metric.details)) if metric.details else ()
    except Exception:  # details are free-form; never let them break the report
        tables = ()
    return _MetricRow(
        name=str(metric.name),
        description=str(metric.description),
        value=fmt(metric.value),
        holdout=fmt(metric.holdout_value),
        interval=fmt_interval(metric.interval),
        rule=str(rule) or "informative only",
        status=_metric_status(metric),
        gate=bool(metric.gate),
        note=str(metric.note),
        modality=str(metric.modality),
        tables=tables,
    )


def _ordered(result: EvaluationResult) -> list[tuple[str, Section | None]]:
    out: list[tuple[str, Section | None]] = [(n, result.sections.get(n)) for n in SECTIONS]
    out += [(n, s) for n, s in result.sections.items() if n not in SECTIONS]
    return out


def _section_views(result: EvaluationResult) -> list[_SectionView]:
    views = []
    modality, subject = str(result.provenance.get("modality", "table")), _subject(result)
    for index, (key, section) in enumerate(_ordered(result)):
        title, about = _ABOUT.get(key, (humanise(key), ""))
        about = (_FIDELITY_ABOUT.get(modality, about) if key == "fidelity" else about).format(
            subject=subject)
        anchor = f"section-{index}"
        if section is None:
            views.append(_SectionView(key, anchor, title, about, "not run", "", (), (), {}, (),
                                      ()))
            continue
        rows = tuple(_metric_row(m) for m in section.metrics)
        counts = {s: sum(r.status == s for r in rows) for s in ("pass", "warn", "fail", "info")}
        problems = tuple(r.name for r in rows if r.status in ("fail", "warn"))
        status = "skipped" if section.skipped else section.verdict
        plots = tuple(section_plots(key, result.plots.get(key)))
        threat = _threat(result.provenance) if key == "privacy" else ()
        views.append(_SectionView(key, anchor, title, about, status, str(section.skipped),
                                  tuple(str(n) for n in section.notes), rows, counts, problems,
                                  plots, threat))
    return views


def _threat(provenance: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    threat = provenance.get("threat_model")
    if not isinstance(threat, Mapping):
        return ()
    out = []
    for key, label in (("assumption", "Assumed attacker"),
                       ("quasi_identifiers", "Known to the attacker (quasi-identifiers)"),
                       ("sensitive", "Sensitive attributes")):
        if key in threat:
            value = threat[key]
            out.append((label, fmt(value) if value not in ([], ()) else "none declared"))
    return tuple(out)


def _join(words: Sequence[str]) -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _summary(result: EvaluationResult, sections: list[_SectionView]) -> dict[str, Any]:
    ran = [s for s in sections if s.status in ("pass", "warn", "fail")]
    passed = [s for s in ran if s.status == "pass"]
    parts = []
    for s in ran:
        if s.status == "fail":
            parts.append(f"{s.key} failed on {_join(s.problems)}")
        elif s.status == "warn":
            parts.append(f"{s.key} raised a warning on {_join(s.problems)}")
    subject = _subject(result)
    sentence = f"{subject[0].upper()}{subject[1:]} passed {len(passed)} of {len(ran)} checks"
    sentence += ("; " + "; ".join(parts) + ".") if parts else "."
    if not ran:
        sentence = "No check ran: the evaluation holds no section with results."

    privacy = next(s for s in sections if s.key == "privacy")
    if privacy.status == "not run":
        privacy_line = ("Privacy was not checked. Without the privacy gates nothing can be said "
                        f"about re-identification risk; do not release {subject}.")
    elif privacy.status == "skipped":
        privacy_line = (f"Privacy checks were skipped ({privacy.skipped}); do not release "
                        f"{subject}.")
    else:
        gates = [m for m in privacy.metrics if m.gate and m.status != "info"]
        failed = [m.name for m in gates if m.status == "fail"]
        warned = [m.name for m in privacy.metrics if m.status == "warn"]
        if failed:
            privacy_line = (f"Privacy: {len(failed)} of {len(gates)} hard gates failed "
                            f"({_join(failed)}). {subject[0].upper()}{subject[1:]} "
                            f"{'is' if subject.endswith('table') else 'are'} too close to real "
                            "patients to be released.")
            if _hybrid(result):
                privacy_line += (" The release holds real patients' records by design: personal "
                                 "data, to be kept under the source data's agreement.")
        elif gates:
            privacy_line = f"Privacy: all {len(gates)} hard gates held."
            if warned:
                privacy_line += f" Warnings on {_join(warned)}."
        else:
            privacy_line = "Privacy: no gate with a pass rule was computed."

    missing = [s.key for s in sections if s.status == "not run"]
    skipped = [f"{s.key} ({s.skipped.rstrip('.')})" for s in sections if s.status == "skipped"]
    totals = {k: sum(s.counts.get(k, 0) for s in sections) for k in ("pass", "warn", "fail",
                                                                         "info")}
    rules = totals["pass"] + totals["warn"] + totals["fail"]
    metric_line = (f"Of {rules} rules checked, {totals['pass']} held, {totals['warn']} gave a "
                   f"warning and {totals['fail']} failed as hard gates; "
                   f"{totals['info']} further figures are informative only.")
    return {
        "headline": _HEADLINES[result.verdict],
        "sentence": sentence,
        "privacy": privacy_line,
        "metrics": metric_line,
        "not_run": _join(missing),
        "skipped": "; ".join(skipped),
    }


def _card_view(card: DataCard | None, sections: list[_SectionView]) -> dict[str, Any] | None:
    checked = [f"{s.title}: {len(s.metrics)} figure{'' if len(s.metrics) == 1 else 's'}, "
               f"verdict {_VERDICT_WORDS[s.status]}" for s in sections
               if s.status in ("pass", "warn", "fail")]
    if card is None:
        return {"missing": True, "checked": checked}
    return {
        "missing": False,
        "intended_use": card.intended_use,
        "recipients": card.recipients,
        "release_mode": card.release_mode,
        "source": card.source,
        "generator": card.generator,
        "parameters": _tree(card.parameters),
        "limitations": card.limitations,
        "checks": card.checks or tuple(checked),
        "contact": card.contact,
    }


def _tree(value: Any, labels: Mapping[str, str] | None = None, depth: int = 0) -> list[Any]:
    """A mapping as ``[(label, text, children)]`` for the template's nested key/value lists."""
    if not isinstance(value, Mapping):
        return []
    out = []
    for key, item in value.items():
        label = (labels or {}).get(str(key), humanise(key))
        if isinstance(item, Mapping) and item and depth < 4:
            out.append((label, "", _tree(item, depth=depth + 1)))
        elif isinstance(item, Mapping):
            out.append((label, "—", []))
        else:
            out.append((label, fmt(item), []))
    return out
