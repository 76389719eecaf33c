"""Clinical section: effect estimates and their agreement between synthetic and real data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synthmed import infer_schema, load_dataset, train_holdout_split
from synthmed.evaluation import evaluate
from synthmed.evaluation.clinical import ci_overlap


def _frame(n: int, seed: int, *, flip: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age, dose = rng.normal(60, 10, n), rng.normal(size=n)
    sex = rng.choice(["f", "m"], n)
    sign = -1 if flip else 1
    logit = sign * (0.08 * (age - 60) - 0.8 * dose) + 0.5 * (sex == "m")
    return pd.DataFrame({
        "age": age, "dose": dose, "sex": sex,
        "died": rng.random(n) < 1 / (1 + np.exp(-logit)),
    })


@pytest.fixture(scope="module")
def toy():
    train, holdout = _frame(1500, 1), _frame(1500, 2)
    return infer_schema(train, target="died"), train, holdout


def test_ci_overlap_known_values():
    assert ci_overlap(np.array([0.0]), np.array([1.0]), np.array([0.0]), np.array([1.0]))[0] == 1
    assert ci_overlap(np.array([0.0]), np.array([1.0]), np.array([2.0]), np.array([3.0]))[0] == 0
    half = ci_overlap(np.array([0.0]), np.array([2.0]), np.array([1.0]), np.array([3.0]))[0]
    assert half == pytest.approx(0.5)


def test_same_population_agrees_flipped_effects_fail(toy):
    schema, train, holdout = toy
    good = evaluate(train, holdout, _frame(1500, 3), schema, sections=["clinical"])["clinical"]
    assert good.metric("sign_agreement_logistic").value == 1.0
    assert good.metric("ci_overlap_logistic").passed is True
    bad = evaluate(train, holdout, _frame(1500, 3, flip=True), schema,
                   sections=["clinical"])["clinical"]
    assert bad.metric("sign_agreement_logistic").value < 1.0
    assert bad.metric("sign_agreement_logistic").passed is False
    assert bad.metric("ci_overlap_logistic").value < good.metric("ci_overlap_logistic").value
    terms = good.metric("ci_overlap_logistic").details["terms"]
    dose = next(t for t in terms if t["term"].startswith("dose"))
    assert dose["train"]["estimate"] < 0 and dose["train"]["low"] < dose["train"]["high"]


def test_pbc_logistic_and_cox():
    data = load_dataset("pbc")
    train, holdout = train_holdout_split(data.frame)
    result = evaluate(train, holdout, holdout, data.schema, sections=["clinical"])
    section = result["clinical"]
    names = [m.name for m in section.metrics]
    assert names == ["sign_agreement_logistic", "ci_overlap_logistic",
                     "sign_agreement_cox", "ci_overlap_cox"]
    for m in section.metrics:
        assert m.value is None or 0.0 <= m.value <= 1.0
        assert m.value == pytest.approx(m.holdout_value)  # synthetic = holdout
    forest = result.plots["clinical"]["forest_cox"]
    terms = [row["term"] for row in forest["rows"]]
    assert all(len(row["real"]) == len(row["synthetic"]) == 3 for row in forest["rows"])
    assert not any(t.startswith(("time", "status")) for t in terms)
    json.loads(result.to_json(include_plots=True))


def test_skipped_without_outcome(toy):
    _, train, holdout = toy
    section = evaluate(train, holdout, holdout, infer_schema(train),
                       sections=["clinical"])["clinical"]
    assert section.skipped and not section.metrics


def test_row_order_and_seed_invariance(toy):
    schema, train, holdout = toy
    syn = _frame(1500, 4)
    a = evaluate(train, holdout, syn, schema, sections=["clinical"])
    b = evaluate(train, holdout, syn.sample(frac=1, random_state=2), schema,
                 sections=["clinical"], random_state=7)
    for m in a["clinical"].metrics:
        assert m.value == pytest.approx(b.metric("clinical", m.name).value, abs=1e-6)


def test_cox_fit_matches_lifelines():
    from lifelines import CoxPHFitter

    from synthmed.evaluation.clinical import cox_fit

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    time = rng.exponential(np.exp(-(0.7 * x[:, 0] - 0.4 * x[:, 1])))  # no ties
    event = rng.random(300) < 0.7
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "t": time, "e": event.astype(int)})
    ref = CoxPHFitter().fit(frame, "t", "e")
    beta, se, _ = cox_fit(x, time, event, ridge=0.0)
    assert beta == pytest.approx(ref.params_.to_numpy(), abs=1e-4)
    assert se == pytest.approx(ref.standard_errors_.to_numpy(), rel=1e-3)
