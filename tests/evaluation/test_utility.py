"""Utility section: train-on-synthetic vs train-on-real, classification, regression, survival."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synthmed import infer_schema, load_dataset, train_holdout_split
from synthmed.evaluation import evaluate
from synthmed.evaluation._models import bootstrap_weights, feature_columns
from synthmed.evaluation._survival import harrell_c


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    site = rng.choice(["a", "b", "c"], n)
    logit = 1.5 * x1 - x2 + (site == "a")
    x2[rng.random(n) < 0.1] = np.nan  # missing values must be handled
    return pd.DataFrame({
        "x1": x1, "x2": x2, "site": site,
        "outcome": np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no"),
        "level": 3 * x1 + rng.normal(size=n),
    })


@pytest.fixture(scope="module")
def toy():
    train, holdout = _frame(600, 1), _frame(600, 2)
    return infer_schema(train, target="outcome"), train, holdout


@pytest.fixture(scope="module")
def pbc_result():
    data = load_dataset("pbc")
    train, holdout = train_holdout_split(data.frame)
    syn = train.sample(frac=1, random_state=0).reset_index(drop=True)  # real rows: best case
    return data.schema, evaluate(train, holdout, syn, data.schema, sections=["utility"])


def test_skipped_without_outcome(toy):
    _, train, holdout = toy
    schema = infer_schema(train)
    section = evaluate(train, holdout, holdout, schema, sections=["utility"])["utility"]
    assert section.skipped and section.verdict == "pass" and not section.metrics


def test_real_data_passes_and_noise_fails(toy):
    schema, train, holdout = toy
    good = evaluate(train, holdout, _frame(600, 3), schema, sections=["utility"])["utility"]
    assert good.verdict == "pass"
    noise = _frame(600, 3)
    noise["outcome"] = np.random.default_rng(0).permutation(noise["outcome"].to_numpy())
    bad = evaluate(train, holdout, noise, schema, sections=["utility"])["utility"]
    for model in ("gradient_boosting", "logistic"):
        ok, worse = good.metric(f"auroc_{model}"), bad.metric(f"auroc_{model}")
        assert worse.value < ok.value - 0.15
        assert worse.passed is False
        assert worse.holdout_value == pytest.approx(ok.holdout_value)  # same TRTR reference
        assert 0.0 <= worse.value <= 1.0
        lo, hi = ok.interval
        assert lo <= ok.value <= hi


def test_pbc_classification_and_survival(pbc_result):
    _, result = pbc_result
    names = {m.name for m in result["utility"].metrics}
    assert {"auroc_gradient_boosting", "brier_logistic", "cindex_cox",
            "cindex_gradient_boosting_survival"} <= names
    roc = result.plots["utility"]["roc"]["logistic"]
    assert roc["synthetic"]["average"] == "micro"  # status has three classes
    assert len(roc["real"]["fpr"]) <= 100
    json.loads(result.to_json(include_plots=True))


def test_outcomes_are_never_features():
    schema = load_dataset("pbc").schema.subset(load_dataset("pbc").schema.modelled_columns)
    features = feature_columns(schema)
    assert "time" not in features and "status" not in features and "age" in features


def test_numeric_target(toy):
    _, train, holdout = toy
    schema = infer_schema(train, target="level")
    section = evaluate(train, holdout, _frame(600, 4), schema, sections=["utility"])["utility"]
    r2 = section.metric("r2_ridge")
    assert r2.passed and r2.value > 0.8
    assert section.metric("mae_gradient_boosting").value > 0


def test_a_numeric_target_is_stratified_on_its_deciles():
    # stratified on its values, each row of a continuous target was a stratum of one, half of
    # one rounded to none, and the holdout came out empty
    frame = _frame(120, 5)
    train, holdout = train_holdout_split(frame, stratify="level", random_state=0)
    assert len(train) == len(holdout) == 60
    deciles = np.quantile(frame["level"], np.linspace(0.1, 0.9, 9))
    counts = np.bincount(np.searchsorted(deciles, holdout["level"]), minlength=10)
    assert counts.min() >= 5 and counts.max() <= 7  # six of each decile's twelve rows


def test_deterministic(toy):
    schema, train, holdout = toy
    syn = _frame(600, 5)
    a = evaluate(train, holdout, syn, schema, sections=["utility"], random_state=1)
    b = evaluate(train, holdout, syn, schema, sections=["utility"], random_state=1)
    assert a.to_json(include_plots=True) == b.to_json(include_plots=True)


def test_harrell_c_matches_sksurv():
    from sksurv.metrics import concordance_index_censored

    rng = np.random.default_rng(0)
    time = rng.exponential(size=200).round(2)
    event = rng.random(200) < 0.6
    risk = np.round(-time + rng.normal(size=200), 1)
    expected = concordance_index_censored(event, time, risk)[0]
    assert harrell_c(time, event, risk)[0] == pytest.approx(expected, abs=0.01)
    weights = bootstrap_weights(200, rng, 20)
    assert weights.shape == (20, 200) and (weights.sum(1) == 200).all()
    assert np.all((harrell_c(time, event, risk, weights) >= 0)
                  & (harrell_c(time, event, risk, weights) <= 1))


def test_boosted_survival_model_on_a_small_censored_table():
    """gbsg2 once crashed sksurv's out-of-bag censoring weights and lost the whole section."""
    data = load_dataset("gbsg2")
    train, holdout = train_holdout_split(data.frame, stratify="cens")
    third = train.sample(frac=0.5, random_state=3)
    result = evaluate(train, holdout, third, data.schema, sections=["utility"])
    names = [m.name for m in result["utility"].metrics]
    assert "cindex_gradient_boosting_survival" in names and "auroc_logistic" in names
