"""Fidelity section: distances against independent computations, and behaviour on known cases."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.stats.contingency import association

from synthmed import infer_schema, load_dataset, train_holdout_split
from synthmed.evaluation import evaluate
from synthmed.evaluation._models import detection_auc, macro_auc, weighted_auc
from synthmed.evaluation._stats import (
    association_matrix,
    correlation_ratio,
    cramers_v,
    ks_distance,
    tv_distance,
)
from synthmed.exceptions import SchemaError


def _correlated(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame({
        "x": x,
        "y": x + 0.3 * rng.normal(size=n),
        "z": np.round(50 + 10 * x + rng.normal(size=n)),
        "group": np.where(x + 0.3 * rng.normal(size=n) > 0, "high", "low"),
        "flag": rng.random(n) < 0.3,
    })


def _shuffled(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: frame[c].to_numpy()[rng.permutation(len(frame))] for c in frame})


@pytest.fixture(scope="module")
def pbc_split():
    data = load_dataset("pbc")
    train, holdout = train_holdout_split(data.frame)
    return data.schema, train, holdout


@pytest.fixture(scope="module")
def toy():
    train, holdout = _correlated(800, 1), _correlated(800, 2)
    return infer_schema(train), train, holdout


# ------------------------------------------------------------------ independent checks
def test_ks_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=300), np.round(rng.normal(0.3, 1.2, size=200), 1)
    assert ks_distance(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic)
    a_nan = np.r_[a, np.nan, np.nan]
    assert ks_distance(a_nan, b) == pytest.approx(stats.ks_2samp(a, b).statistic)


def test_tv_matches_hand_computation():
    a = pd.Series(["x"] * 6 + ["y"] * 3 + ["z"] + [None] * 5)
    b = pd.Series(["x"] * 2 + ["y"] * 2 + ["w"] * 4)
    # shares a: x .6 y .3 z .1 ; b: x .25 y .25 w .5
    assert tv_distance(a, b) == pytest.approx(0.5 * (0.35 + 0.05 + 0.1 + 0.5))


def test_cramers_v_and_eta_match_independent_computations():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, 500)
    y = (x + rng.integers(0, 3, 500)) % 5
    table = pd.crosstab(x, y).to_numpy()
    assert cramers_v(x, y) == pytest.approx(association(table, method="cramer"))
    v = x * 2.0 + rng.normal(size=500)
    frame = pd.DataFrame({"g": x, "v": v})
    between = frame.groupby("g")["v"].agg(["size", "mean"])
    ss_b = (between["size"] * (between["mean"] - v.mean()) ** 2).sum()
    assert correlation_ratio(x, v) == pytest.approx(np.sqrt(ss_b / ((v - v.mean()) ** 2).sum()))


def test_spearman_block_matches_scipy(toy):
    _, train, _ = toy
    names, mat = association_matrix(train, ["x", "y", "z"], {"group": ["high", "low"]})
    assert names == ["x", "y", "z", "group"]
    assert mat[0, 2] == pytest.approx(stats.spearmanr(train["x"], train["z"]).statistic)
    assert np.allclose(mat, mat.T)


def test_spearman_with_and_without_gaps_matches_scipy_pair_by_pair():
    rng = np.random.default_rng(3)
    block = rng.normal(size=(40, 6))
    block[:, 1] = np.round(block[:, 0] + rng.normal(size=40))  # ties
    block[:, 2] = 1.0  # constant: no correlation defined, 0
    block[rng.random(40) < 0.3, 4] = np.nan  # gaps: each pair on the rows it shares
    names = [f"c{i}" for i in range(6)]
    _, mat = association_matrix(pd.DataFrame(block, columns=names), names, {})
    for i in range(6):
        for j in range(i + 1, 6):
            both = np.isfinite(block[:, i]) & np.isfinite(block[:, j])
            if np.ptp(block[both, i]) == 0 or np.ptp(block[both, j]) == 0:
                assert mat[i, j] == 0.0
                continue
            rho = stats.spearmanr(block[both, i], block[both, j]).statistic
            assert mat[i, j] == pytest.approx(rho, abs=1e-12), (i, j)


def test_detection_of_one_repeated_row_is_chance_not_a_crash():
    # every row the same: one group of identical rows, so two of three folds are empty
    x = np.ones((30, 3))
    assert detection_auc(x, x.copy(), np.random.default_rng(0), n_splits=3) == 0.5


def test_auc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 400)
    proba = rng.dirichlet(np.ones(3), 400) + np.eye(3)[y] * 0.3
    proba /= proba.sum(1, keepdims=True)
    score = np.round(proba[:, 1], 2)  # ties
    assert weighted_auc(y == 1, score)[0] == pytest.approx(roc_auc_score(y == 1, score))
    assert macro_auc(y, proba)[0] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"))


# ------------------------------------------------------------------------- behaviour
def test_holdout_as_synthetic_passes(pbc_split):
    schema, train, holdout = pbc_split
    result = evaluate(train, holdout, holdout, schema, sections=["fidelity"])
    section = result["fidelity"]
    assert section.verdict == "pass", [m.name for m in section.metrics if m.passed is False]
    for m in section.metrics:
        assert m.description and m.rule and m.gate is False
    json.loads(result.to_json(include_plots=True))


def test_shuffled_columns_fail_association_and_detection(toy):
    schema, train, holdout = toy
    result = evaluate(train, holdout, _shuffled(train, 9), schema, sections=["fidelity"])
    assert result.metric("fidelity", "association_max_diff").passed is False
    assert result.metric("fidelity", "detection_auc").passed is False
    assert result.metric("fidelity", "column_distance").passed is True  # marginals intact
    reference = result.metric("fidelity", "detection_auc").holdout_value
    assert reference < 0.6


def test_shuffled_pbc_fails_association(pbc_split):
    schema, train, holdout = pbc_split
    result = evaluate(train, holdout, _shuffled(train, 4), schema, sections=["fidelity"])
    assert result.metric("fidelity", "association_max_diff").passed is False


def test_detection_of_an_exact_copy_is_chance(toy):
    _, train, _ = toy
    x = train[["x", "y", "z"]].to_numpy()
    auc = detection_auc(x, x.copy(), np.random.default_rng(0))
    assert abs(auc - 0.5) < 0.05


def test_impossible_and_out_of_support_values_are_caught(toy):
    schema, train, holdout = toy
    bad = holdout.copy()
    bad.loc[:20, "z"] = -5.5          # negative and fractional in a non-negative count
    bad.loc[:50, "y"] = 1e6           # far outside the train range
    result = evaluate(train, holdout, bad, schema, sections=["fidelity"])
    impossible = result.metric("fidelity", "impossible_values")
    assert impossible.value == 42 and impossible.passed is False
    assert result.metric("fidelity", "out_of_support").passed is False


def test_unreadable_synthetic_values_are_scored_as_defects_not_a_crash(pbc_split):
    """Another tool's output may hold tokens its columns' kinds cannot read (TabularARGN writes
    ``_RARE_`` in place of rare dates): the evaluation goes on, counts them as missing, and
    says which columns and how many, never which values. A real table stays strict."""
    schema, train, holdout = pbc_split
    synthetic = holdout.copy()
    synthetic["bili"] = synthetic["bili"].astype(object)
    synthetic.loc[synthetic.index[:30], "bili"] = "_RARE_"
    result = evaluate(train, holdout, synthetic, schema, sections=["fidelity"])
    note = next(n for n in result["fidelity"].notes if "cannot read" in n)
    present = int(holdout["bili"].notna().sum())
    assert f"'bili': 30 of {present:,} values, not numeric" in note
    assert "_RARE_" not in note
    clean = evaluate(train, holdout, holdout, schema, sections=["fidelity"])
    assert not any("cannot read" in n for n in clean["fidelity"].notes)
    # bili's missing rate is now off: one column fails its distance, detection sees it
    assert result.metric("fidelity", "column_distance").value < clean.metric(
        "fidelity", "column_distance").value
    assert result.metric("fidelity", "detection_auc").value > clean.metric(
        "fidelity", "detection_auc").value
    bad_train = train.copy()
    bad_train["bili"] = bad_train["bili"].astype(object)
    bad_train.loc[bad_train.index[:3], "bili"] = "_RARE_"
    with pytest.raises(SchemaError, match="declared 'numeric'"):
        evaluate(bad_train, holdout, holdout, schema, sections=["fidelity"])


def test_missing_rare_category_fails_coverage(toy):
    schema, train, holdout = toy
    synthetic = holdout.copy()
    synthetic["group"] = "high"
    metric = evaluate(train, holdout, synthetic, schema, sections=["fidelity"]).metric(
        "fidelity", "rare_category_coverage")
    assert metric.passed is False and metric.value == pytest.approx(3 / 4)


def test_plots_are_shared_bins(pbc_split):
    schema, train, holdout = pbc_split
    plots = evaluate(train, holdout, holdout, schema, sections=["fidelity"]).plots["fidelity"]
    bili = plots["columns"]["bili"]
    assert len(bili["bins"]) == len(bili["train"]) + 1 == len(bili["synthetic"]) + 1
    assert sum(bili["train"]) == pytest.approx(1.0, abs=1e-3)
    assert "categories" in plots["columns"]["sex"]
    k = len(plots["association_diff"]["columns"])
    assert np.asarray(plots["association_diff"]["synthetic"]).shape == (k, k)


def test_deterministic_under_seed(toy):
    schema, train, holdout = toy
    syn = _shuffled(train, 2)
    a = evaluate(train, holdout, syn, schema, sections=["fidelity"], random_state=3)
    b = evaluate(train, holdout, syn, schema, sections=["fidelity"], random_state=3)
    assert a.to_json(include_plots=True) == b.to_json(include_plots=True)


def test_column_metrics_invariant_to_row_order(toy):
    schema, train, holdout = toy
    syn = _shuffled(train, 2)
    a = evaluate(train, holdout, syn, schema, sections=["fidelity"])
    b = evaluate(train, holdout, syn.sample(frac=1, random_state=1), schema,
                 sections=["fidelity"])
    for name in ("column_distance", "column_similarity", "association_max_diff",
                 "out_of_support", "rare_category_coverage"):
        assert a.metric("fidelity", name).value == pytest.approx(b.metric("fidelity", name).value)


# ------------------------------------------------------------------------ properties
_floats = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(_floats, _floats, st.randoms(use_true_random=False))
def test_ks_is_bounded_symmetric_and_order_free(a, b, rnd):
    a, b = np.array(a), np.array(b)
    d = ks_distance(a, b)
    assert 0.0 <= d <= 1.0
    assert d == pytest.approx(ks_distance(b, a))
    shuffled = a.copy()
    rnd.shuffle(shuffled)
    assert d == ks_distance(shuffled, b)


_codes = st.lists(st.integers(0, 4), min_size=2, max_size=80)


@settings(max_examples=60, deadline=None)
@given(_codes, st.data())
def test_cramers_v_tv_eta_bounded_and_order_free(x, data):
    x = np.array(x)
    y = np.array(data.draw(st.lists(st.integers(0, 3), min_size=len(x), max_size=len(x))))
    v = np.array(data.draw(st.lists(st.floats(-100, 100), min_size=len(x), max_size=len(x))))
    perm = np.random.default_rng(len(x)).permutation(len(x))
    assert 0.0 <= cramers_v(x, y) <= 1.0
    assert cramers_v(x, y) == pytest.approx(cramers_v(x[perm], y[perm]))
    assert 0.0 <= correlation_ratio(x, v) <= 1.0
    assert correlation_ratio(x, v) == pytest.approx(correlation_ratio(x[perm], v[perm]),
                                                    abs=1e-9)
    tv = tv_distance(pd.Series(x), pd.Series(y))
    assert 0.0 <= tv <= 1.0 + 1e-12


def test_categories_compare_equal_whatever_their_storage():
    """A copy of train read back from CSV (codes "1" become 1) is still a copy of train."""
    import io

    from synthmed import load_dataset, train_holdout_split

    data = load_dataset("aids")  # categories stored as strings "1", "2"...
    train, holdout = train_holdout_split(data.frame, stratify="censor")
    buffer = io.StringIO()
    holdout.to_csv(buffer, index=False)
    reread = pd.read_csv(io.StringIO(buffer.getvalue()))  # now integers
    result = evaluate(train, holdout, reread, data.schema, sections=["fidelity"])
    fid = result["fidelity"]
    assert fid.metric("detection_auc").value < 0.6
    assert fid.metric("association_max_diff").value == pytest.approx(
        fid.metric("association_max_diff").holdout_value)


def test_detection_keeps_a_patients_rows_in_one_fold():
    """Two rows per patient (a visit and a near-copy): split by patient, fresh patients are
    indistinguishable, but folds that split a patient let the classifier recognise the twin
    of a training-fold row. The evaluation groups the rows of a repeated identifier."""
    from _data import make_mixed_frame

    base = make_mixed_frame(400)
    visits = pd.concat([base, base.assign(age=base["age"] + 1)], ignore_index=True)
    schema = infer_schema(visits, target="died")
    train, holdout = train_holdout_split(visits, stratify="died", groups="patient_id")
    result = evaluate(train, holdout, holdout, schema, sections=["fidelity"])
    grouped = result["fidelity"].metric("detection_auc").holdout_value
    assert grouped < 0.6
    ungrouped = evaluate(train.drop(columns="patient_id"), holdout.drop(columns="patient_id"),
                         holdout, schema.subset(schema.modelled_columns),
                         sections=["fidelity"])["fidelity"].metric("detection_auc")
    assert ungrouped.holdout_value > grouped + 0.1


def test_a_synthetic_column_with_no_value_is_judged_not_refused():
    """A column recorded for 3 of 99 patients: a synthetic table may draw none. That is a
    fidelity finding, not a schema error (it was one, and the run ended with exit 2)."""
    data = _correlated(200, 0).assign(rare=np.where(np.arange(200) % 40 == 0, 1.5, np.nan))
    schema = infer_schema(data)
    train, holdout = train_holdout_split(data, random_state=0)
    synthetic = holdout.assign(rare=np.nan)
    result = evaluate(train, holdout, synthetic, schema, sections=["fidelity"])
    assert result["fidelity"].metric("column_distance") is not None
