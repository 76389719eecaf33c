"""The HTML report: self-contained, plain-language verdicts, escaping, plots, a real browser."""

from __future__ import annotations

from html.parser import HTMLParser
import os
from pathlib import Path
import re
import shutil
import tempfile

import numpy as np
import pytest

from synthmed.evaluation.result import EvaluationResult, Metric, Section
from synthmed.exceptions import ParameterError
from synthmed.report import DataCard, render_report, write_report
from synthmed.report.plots import section_plots

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
EVIL = "<script>alert(1)</script>"


def _hist(rng: np.random.Generator, n_bins: int = 20) -> dict:
    edges = np.linspace(0.0, 100.0, n_bins + 1)
    base = np.exp(-0.5 * ((edges[:-1] - 50) / 15) ** 2)
    return {
        "kind": "numeric",
        "bins": edges.tolist(),
        "train": (base * 400).round().tolist(),
        "synthetic": (base * 400 * rng.uniform(0.8, 1.2, n_bins)).round().tolist(),
        "holdout": (base * 400 * rng.uniform(0.9, 1.1, n_bins)).round().tolist(),
        "missing": {"train": 0.02, "synthetic": 0.03, "holdout": 0.02},
    }


def _categorical(categories: list[str]) -> dict:
    k = len(categories)
    return {
        "kind": "categorical",
        "categories": categories,
        "train": list(range(k, 0, -1)),
        "synthetic": [max(1, v - 1) for v in range(k, 0, -1)],
        "holdout": list(range(k, 0, -1)),
    }


def make_plots(columns: list[str], seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    cols: dict = {}
    for i, name in enumerate(columns):
        cols[name] = _hist(rng) if i % 3 else _categorical(["a", "b", "c", "d"])
    k = len(columns)
    diff = np.abs(rng.normal(0, 0.05, (k, k)))
    diff = (diff + diff.T) / 2
    np.fill_diagonal(diff, 0.0)
    fpr = np.linspace(0, 1, 50)
    edges = np.linspace(0, 2, 26)
    return {
        "fidelity": {
            "columns": cols,
            "association_diff": {
                "columns": columns,
                "synthetic": diff.tolist(),
                "holdout": (diff / 2).tolist(),
                "threshold": 0.10,
            },
        },
        "privacy": {
            "dcr": {
                "bins": edges.tolist(),
                "synthetic": np.histogram(rng.gamma(2, 0.3, 500), edges)[0].tolist(),
                "holdout": np.histogram(rng.gamma(2, 0.32, 500), edges)[0].tolist(),
            },
        },
        "utility": {
            "roc": {
                "logistic regression": {
                    "real": {"fpr": fpr.tolist(), "tpr": (fpr ** 0.35).tolist(), "auc": 0.81},
                    "synthetic": {"fpr": fpr.tolist(), "tpr": (fpr ** 0.4).tolist(), "auc": 0.79},
                },
                "random forest": {
                    "real": {"fpr": fpr.tolist(), "tpr": (fpr ** 0.3).tolist()},
                    "synthetic": {"fpr": fpr.tolist(), "tpr": (fpr ** 0.45).tolist()},
                },
            }
        },
        "clinical": {
            "forest": {
                "rows": [
                    {"term": "age", "real": [1.04, 1.02, 1.06], "synthetic": [1.03, 1.01, 1.05]},
                    {"term": "bilirubin", "real": [1.6, 1.3, 1.9], "synthetic": [1.4, 1.1, 1.8],
                     "holdout": [1.5, 1.2, 1.9]},
                    {"term": "sex = F", "real": [0.8, 0.6, 1.1], "synthetic": [1.1, 0.8, 1.4]},
                ],
                "reference": 1.0,
                "log_scale": True,
                "label": "hazard ratio",
            }
        },
        "bias": {
            "groups": [
                {"attribute": "sex", "group": "F", "n_train": 300, "n_synthetic": 290,
                 "share_train": 0.6, "share_synthetic": 0.58, "outcome_train": 0.3,
                 "outcome_synthetic": 0.28, "outcome_synthetic_interval": [0.23, 0.33]},
                {"attribute": "sex", "group": "M", "n_train": 200, "n_synthetic": 210,
                 "share_train": 0.4, "share_synthetic": 0.42, "outcome_train": 0.4,
                 "outcome_synthetic": 0.43, "outcome_synthetic_interval": [0.36, 0.5]},
                {"attribute": "stage", "group": "4", "n_train": 12, "n_synthetic": 9,
                 "share_train": 0.024, "share_synthetic": 0.018, "outcome_train": 0.7,
                 "outcome_synthetic": 0.6, "outcome_synthetic_interval": [0.3, 0.85],
                 "flag": "small group"},
            ]
        },
    }


def make_result(columns: list[str] | None = None, *, privacy_fails: bool = True,
                plots: dict | None = None) -> EvaluationResult:
    columns = columns or ["age", "sex", "bilirubin", "albumin", "stage", EVIL]
    per_column = {c: {"synthetic_gap": 0.04, "holdout_gap": 0.03, "passed": True} for c in columns}
    fidelity = Section("fidelity", (
        Metric("column_distance", 0.04, 0.03, threshold=1.5, passed=True,
               description="Largest per-column distance between synthetic and train.",
               rule="<= 1.5 x holdout gap", details=per_column),
        Metric("detection_auc", 0.64, 0.51, threshold=0.60, passed=False,
               interval=(0.61, 0.67), description="A classifier tells synthetic from real.",
               rule="<= 0.60", note="computed on 20,000 of 100,000 rows"),
    ))
    utility = Section("utility", (
        Metric("auroc_drop", 0.02, 0.0, threshold=0.05, passed=True, interval=(0.0, 0.04),
               description="Loss of AUROC when training on synthetic data.", rule="<= 0.05"),
    ))
    privacy = Section("privacy", (
        Metric("dcr_share", 0.61 if privacy_fails else 0.50, 0.50, threshold=0.53,
               passed=not privacy_fails, gate=True, interval=(0.57, 0.65),
               description="Share of synthetic records closer to train than to holdout.",
               rule="<= 0.53"),
        Metric("exact_copies", 0.0, 0.0, threshold=0.0, passed=True, gate=True,
               description="Share of synthetic records that copy a training record.",
               rule="not above holdout rate"),
        Metric("mean_distance", 0.4, 0.41, passed=None, direction="none",
               description="Mean distance to the closest training record."),
    ))
    bias = Section("bias", (
        Metric("representation_gap", 0.02, 0.01, threshold=0.01, passed=True,
               description="Largest gap in group share.", rule="within 1 point or 20%",
               details={"sex": {"F": 0.02, "M": -0.02}, "stage": {"4": 0.006}}),
    ), notes=("Group 'stage = 4' has fewer than 20 records.",))
    clinical = Section("clinical", (), skipped="no survival outcome in the schema")
    provenance = {
        "data_hash": {"train": "ab12cd34ef56ab12", "holdout": "0011223344556677",
                      "synthetic": "8899aabbccddeeff"},
        "rows": {"train": 500, "holdout": 500, "synthetic": 500},
        "columns": columns,
        "versions": {"synthmed": "0.1.0", "numpy": "2.0"},
        "evaluation_seed": 0,
        "threat_model": {"quasi_identifiers": ["age", "sex"], "sensitive": ["stage"],
                         "assumption": "The attacker knows the quasi-identifiers."},
        "thresholds": {"dcr_share": 0.53, "detection_auc": 0.6},
        "generator": {"name": "gaussian_copula", "seed": 7},
    }
    return EvaluationResult(
        sections={"fidelity": fidelity, "utility": utility, "privacy": privacy, "bias": bias,
                  "clinical": clinical},
        provenance=provenance,
        plots=make_plots(columns) if plots is None else plots,
    )


CARD = DataCard(
    intended_use="Teaching survival analysis to residents.",
    recipients="Residents of the oncology department.",
    limitations=["Rare stages are under-represented.", "Dates are shifted."],
    generator="gaussian_copula",
    parameters={"seed": 7, "marginals": "empirical"},
    release_mode="internal sharing",
)


class _Loads(HTMLParser):
    """Every attribute that would make a browser fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[tuple[str, str, str]] = []
        self.scripts_with_src = 0
        self.images = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "srcset", "poster", "data", "action") and value:
                self.loads.append((tag, name, value))
            if tag == "script" and name == "src":
                self.scripts_with_src += 1
        if tag == "img":
            self.images += 1


def _parse(html: str) -> _Loads:
    parser = _Loads()
    parser.feed(html)
    return parser


@pytest.fixture(scope="module")
def html() -> str:
    return render_report(make_result(), title="Synthetic PBC <release 2>", data_card=CARD)


def test_self_contained(html: str) -> None:
    found = _parse(html)
    assert found.scripts_with_src == 0
    assert "<script src" not in html.lower()
    for _tag, _attr, value in found.loads:
        assert value.startswith(("data:", "#")), value[:60]
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert "@import" not in html and "url(http" not in html
    assert "Content-Security-Policy" in html


def test_verdict_in_plain_words_first(html: str) -> None:
    verdict_at = html.index("Failed: at least one hard gate did not hold")
    assert "The synthetic table passed 2 of 4 checks" in html
    assert "fidelity raised a warning on detection_auc" in html
    assert "privacy failed on dcr_share" in html
    assert "Privacy: 1 of 2 hard gates failed (dcr_share)" in html
    assert "Skipped: clinical (no survival outcome in the schema)" in html
    assert verdict_at < html.index('id="data-card"') < html.index('id="section-0"')
    # status words are in text, not colour alone
    for word in ("✓&nbsp;PASS", "!&nbsp;WARNING", "✗&nbsp;FAIL", "–&nbsp;SKIPPED", "i&nbsp;INFO"):
        assert word in html


def test_every_section_and_card_and_provenance(html: str) -> None:
    for heading in ("Fidelity", "Utility", "Privacy", "Bias and fairness", "Clinical truth",
                    "Data card", "Provenance"):
        assert f">{heading}" in html
    assert "Teaching survival analysis to residents." in html
    assert "Rare stages are under-represented." in html
    assert "ab12cd34ef56ab12" in html  # data hash
    assert "The attacker knows the quasi-identifiers." in html
    assert "computed on 20,000 of 100,000 rows" in html  # metric note
    assert "fewer than 20 records" in html  # section note
    assert "0.61 – 0.67" in html  # interval
    assert "&lt;= 0.53" in html  # rule, escaped


def test_plots_present(html: str) -> None:
    result = make_result()
    n_columns = len(result.plots["fidelity"]["columns"])
    # columns + heatmap + dcr + 2 roc + forest + 2 bias charts
    assert _parse(html).images == n_columns + 1 + 1 + 2 + 1 + 2
    for title in ("Column by column", "Associations between columns",
                  "Distance to the closest real training record", "ROC curves",
                  "Effect estimates: real versus synthetic", "Patient groups"):
        assert title in html
    assert "small group" in html  # subgroup table
    assert "1.6 (1.3 – 1.9)" in html  # forest table


def test_column_names_are_escaped(html: str) -> None:
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.lower().count("<script") == 1  # ours, inline
    assert "Synthetic PBC &lt;release 2&gt;" in html


def test_missing_and_malformed_plot_data_is_skipped() -> None:
    bad = {
        "fidelity": {
            "columns": {"age": {"kind": "numeric", "bins": [0, 1], "train": [1, 2, 3]},
                        "ok": {"kind": "numeric", "bins": [0, 1, 2], "train": [1, 2],
                               "synthetic": [2, 1]},
                        "weird": "nope", "cat": {"kind": "categorical", "categories": []}},
            "association_diff": {"columns": ["a", "b"], "synthetic": [[0.1]]},
        },
        "privacy": {"dcr": {"bins": [2, 1, 0], "synthetic": [1], "holdout": [1]}},
        "utility": {"roc": {"m": {"real": {"fpr": [0, 1], "tpr": [0]}}}, "other": object()},
        "clinical": {"forest": [{"term": "x", "real": "nan"}]},
        "bias": {"groups": [{"group": "no attribute"}]},
    }
    html = render_report(make_result(plots=bad), title="t")
    assert _parse(html).images == 1  # only the well-formed "ok" column
    assert "1 panel(s) could not be drawn" not in html
    assert "3 panel(s) could not be drawn" in html
    for plots in ({}, {"fidelity": None}, {"fidelity": []}, {"privacy": {"dcr": None}}):
        assert "<img" not in render_report(make_result(plots=plots), title="t")


def test_section_plots_ignores_unknown() -> None:
    assert section_plots("nonsense", {"columns": {}}) == []
    assert section_plots("fidelity", "not a mapping") == []


def test_passing_result_and_no_card() -> None:
    html = render_report(make_result(privacy_fails=False, plots={}), title="t")
    assert "Passed with warnings" in html  # detection_auc still warns
    assert "Privacy: all 2 hard gates held." in html
    assert "No data card was supplied" in html


@pytest.mark.parametrize(("modality", "subject", "about"), [
    ("signal", "The synthetic recordings", "beat shapes, heart rhythm"),
    ("longitudinal", "The synthetic patients", "how their values change over time"),
])
def test_signals_and_patients_over_time_are_not_called_a_table(modality, subject, about):
    """An ECG release read "This synthetic table passed 3 of 3 checks" and asked whether it
    looked like the real one "column by column": each modality is named as what it is."""
    result = make_result(privacy_fails=True)
    result = EvaluationResult(result.sections, {**result.provenance, "modality": modality})
    html = render_report(result, title="t")
    assert f"{subject} passed 2 of 4 checks" in html
    assert f"{subject} are too close to real patients" in html
    assert about in html and "column by column" not in html
    assert "synthetic table" not in html


@pytest.mark.parametrize(("modality", "mode", "subject"), [
    ("table", "hybrid-mix", "The hybrid table is"),
    ("table", "hybrid-partial", "The hybrid table is"),
    ("longitudinal", "hybrid-mix", "The released real and synthetic patients are"),
    ("signal", "hybrid-mix", "The released real and synthetic recordings are"),
])
def test_a_hybrid_release_is_not_called_synthetic(modality, mode, subject):
    """A hybrid release is judged whole, its real patients included: the verdict read "The
    synthetic patients passed ... are too close to real patients" of a release half of whose
    patients are real. It names the release, and says that real records are in it."""
    result = make_result(privacy_fails=True)
    result = EvaluationResult(result.sections, {**result.provenance, "modality": modality,
                                                "release_mode": mode})
    html = render_report(result, title="t")
    assert f"{subject} too close to real patients" in html
    assert "The release holds real patients&#39; records by design" in html
    full = EvaluationResult(result.sections, {**result.provenance, "release_mode": "full"})
    assert "by design" not in render_report(full, title="t")


def test_partial_result_says_what_was_not_run() -> None:
    result = EvaluationResult({"fidelity": Section("fidelity", (
        Metric("detection_auc", 0.5, 0.5, threshold=0.6, passed=True, rule="<= 0.60"),))})
    html = render_report(result, title="t")
    assert "The synthetic table passed 1 of 1 checks." in html
    assert "Privacy was not checked" in html
    assert "Not run: utility, privacy, bias and clinical." in html
    assert "NOT RUN" in html


def test_details_tables() -> None:
    html = render_report(make_result(plots={}), title="t")
    assert "Details of column_distance" in html
    assert "synthetic_gap" in html and "holdout_gap" in html


def test_large_report_stays_small() -> None:
    columns = [f"column_{i}" for i in range(30)]
    html = render_report(make_result(columns), title="30 columns", data_card=CARD)
    assert _parse(html).images == 30 + 1 + 1 + 2 + 1 + 2
    assert len(html.encode()) < 3_000_000


def test_bad_arguments() -> None:
    with pytest.raises(ParameterError, match="EvaluationResult"):
        render_report({"verdict": "pass"}, title="t")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="title"):
        render_report(make_result(plots={}), title=" ")
    with pytest.raises(ParameterError, match="data_card"):
        render_report(make_result(plots={}), title="t", data_card={"x": 1})  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="intended_use"):
        DataCard(intended_use="", recipients="x")


def test_data_card_normalises_lists() -> None:
    card = DataCard(intended_use="x", recipients="y", limitations="one limit", checks=["a"])
    assert card.limitations == ("one limit",)
    assert card.checks == ("a",)


def test_write_report(tmp_path: Path) -> None:
    target = write_report(make_result(plots={}), tmp_path / "sub" / "report.html", title="t")
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(ParameterError, match="folder"):
        write_report(make_result(plots={}), tmp_path, title="t")


def test_deterministic() -> None:
    result = make_result()
    assert render_report(result, title="t") == render_report(result, title="t")


@pytest.mark.browser
def test_report_in_real_browser(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing; install it with: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI must run the browser test)")
        pytest.skip(reason)
    try:
        from playwright import sync_api
    except ImportError:
        reason = "playwright is missing; install it with: pip install -e '.[dev]'"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI must run the browser test)")
        pytest.skip(reason)

    result = make_result()
    report = write_report(result, tmp_path / "report.html",
                          title="Synthetic PBC <release 2>", data_card=CARD)
    user_data = tempfile.mkdtemp(prefix="synthmed-chromium-")
    errors: list[str] = []
    failed: list[str] = []
    try:
        with sync_api.sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                user_data,
                executable_path=CHROMIUM,
                headless=True,
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                      "--no-first-run", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync"],
                viewport={"width": 1280, "height": 900},
            )
            try:
                page = context.new_page()
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("requestfailed", lambda r: failed.append(r.url[:80]))
                requests: list[str] = []
                page.on("request", lambda r: requests.append(r.url[:80]))
                page.goto(report.as_uri(), wait_until="load")
                sizes = page.eval_on_selector_all(
                    "img, svg",
                    "els => els.map(e => [e.complete !== false && (e.naturalWidth ?? 1) > 0,"
                    " e.getBoundingClientRect().width, e.getBoundingClientRect().height])",
                )
                title = page.title()
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
            finally:
                context.close()
    finally:
        shutil.rmtree(user_data, ignore_errors=True)

    assert title == "Synthetic PBC <release 2>"
    assert errors == []
    assert failed == []
    assert all(not u.startswith(("http:", "https:")) for u in requests)
    assert len(sizes) == _parse(report.read_text(encoding="utf-8")).images == 13
    for loaded, width, height in sizes:
        assert loaded and width > 0 and height > 0
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


def test_dollar_signs_are_not_mathtext() -> None:
    columns = [r"cost $\frac{", "price $ usd $"]
    plots = make_plots(columns)
    for key in ("columns", "association_diff"):
        blocks = section_plots("fidelity", {key: plots["fidelity"][key]})
        assert len(blocks) == 1 and blocks[0].skipped == 0, key
    assert len(section_plots("fidelity", plots["fidelity"])[0].images) == 2
