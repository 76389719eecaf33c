"""Bias section: source audit, representation, subgroup fidelity, outcome rates, fairness."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _data import make_mixed_frame
import synthmed
from synthmed.evaluation import evaluate


@pytest.fixture(scope="module")
def aids():
    return synthmed.load_dataset("aids")


@pytest.fixture(scope="module")
def aids_split(aids):
    return synthmed.train_holdout_split(aids.frame, random_state=2)


def test_skipped_without_sensitive_column():
    frame = make_mixed_frame(200)
    schema = synthmed.infer_schema(frame, target="died")
    schema = schema.subset(schema.names)  # no sensitive role declared
    assert not schema.sensitive
    train, holdout = synthmed.train_holdout_split(frame)
    section = evaluate(train, holdout, holdout, schema, sections=["bias"])["bias"]
    assert section.skipped and section.metrics == () and section.verdict == "pass"


def test_copy_of_train_is_unbiased(aids, aids_split):
    train, holdout = aids_split
    section = evaluate(train, holdout, train, aids.schema, sections=["bias"])["bias"]
    assert section.metric("representation_gap").value == 0.0
    assert section.metric("subgroup_fidelity_ratio").value == 0.0
    assert section.metric("outcome_rate_mismatches").value == 0.0
    assert section.metric("demographic_parity_gap").value == pytest.approx(0.0, abs=1e-12)
    assert not any(m.gate for m in section.metrics)


def test_audit_groups_and_intersections(aids, aids_split):
    train, holdout = aids_split
    result = evaluate(train, holdout, holdout, aids.schema, sections=["bias"])
    audit = result.metric("bias", "small_groups").details["groups"]
    by = {row["by"] for row in audit.values()}
    assert by == {"sex", "raceth", "raceth x sex"}
    singles = [r for r in audit.values() if r["by"] == "sex"]
    assert sum(r["records"] for r in singles) == len(train)
    assert sum(r["share"] for r in singles) == pytest.approx(1.0)
    assert all(0 <= r["outcome_rate"] <= 1 for r in singles)
    small = result.metric("bias", "small_groups")
    assert small.value == sum(r["small"] for r in audit.values()) and small.passed is None
    result.to_json(include_plots=True)


def test_dropping_a_group_is_flagged(aids, aids_split):
    train, holdout = aids_split
    biased = holdout[holdout["sex"] != holdout["sex"].mode()[0]]
    biased = pd.concat([biased, biased], ignore_index=True)  # same size, one sex only
    section = evaluate(train, holdout, biased, aids.schema, sections=["bias"])["bias"]
    rep = section.metric("representation_gap")
    assert rep.passed is False and rep.value > 0.5
    assert section.verdict == "warn"


@pytest.mark.slow
def test_shifted_outcome_in_one_group_is_flagged(aids, aids_split):
    train, holdout = aids_split
    synthetic = train.copy()
    women = (synthetic["sex"] == synthetic["sex"].mode()[0]).to_numpy()
    synthetic.loc[women, "censor"] = True  # every patient of one sex has the event
    section = evaluate(train, holdout, synthetic, aids.schema, sections=["bias"])["bias"]
    assert section.metric("outcome_rate_mismatches").value >= 1


def test_numeric_sensitive_is_binned_in_quartiles():
    frame = make_mixed_frame(400, seed=2)
    schema = synthmed.infer_schema(frame, target="died", sensitive=["age", "sex"])
    train, holdout = synthmed.train_holdout_split(frame)
    result = evaluate(train, holdout, holdout, schema, sections=["bias"])
    groups = {r["group"] for r in result.metric("bias", "small_groups").details["groups"].values()
              if r["by"] == "age"}
    assert groups == {"Q1", "Q2", "Q3", "Q4"}
    fair = result.metric("bias", "equalized_odds_gap")
    assert set(fair.details["by_attribute"]) == {"age", "sex"}
    assert np.isfinite(fair.value)
