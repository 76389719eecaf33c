"""Augmentation: requested counts reached by conditional sampling; the thin class gains."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _data import make_mixed_frame
from synthmed import ParameterError, SchemaError, get_generator, infer_schema, load_dataset
from synthmed.modes import augmentation_plan, release_augment
from synthmed.split import train_holdout_split


@pytest.fixture(scope="module")
def setup():
    frame = make_mixed_frame(300)
    frame["sex"] = np.where(np.arange(300) < 240, "f", "m")  # an under-represented group
    schema = infer_schema(frame, target="died", sensitive=["sex"])
    gen = get_generator("bayesian_network").fit(frame, schema=schema, random_state=0)
    return gen, frame, schema


def _real_part_is_source(release, frame, names):
    real = (release.provenance == "real").to_numpy()
    pd.testing.assert_frame_equal(release.data[real].reset_index(drop=True), frame[names])


def test_balance_target(setup):
    gen, frame, schema = setup
    release = release_augment(gen, frame, balance="target", schema=schema, random_state=0)
    counts = release.data["died"].value_counts()
    assert counts[True] == counts[False] == frame["died"].value_counts().max()
    _real_part_is_source(release, frame, gen.schema_.names)
    assert release.counts()["synthetic"] == release.stats["synthetic_rows"]


def test_balance_group(setup):
    gen, frame, schema = setup
    release = release_augment(gen, frame, balance=["sex"], schema=schema, random_state=0)
    assert release.data["sex"].value_counts().to_dict() == {"f": 240, "m": 240}
    synthetic = release.data[(release.provenance == "synthetic").to_numpy()]
    assert (synthetic["sex"] == "m").all()


def test_balance_group_and_target_cells(setup):
    gen, frame, schema = setup
    release = release_augment(gen, frame, balance=["sex", "target"], schema=schema)
    cells = release.data.groupby(["sex", "died"]).size()
    assert cells.nunique() == 1 and cells.iloc[0] == frame.groupby(["sex", "died"]).size().max()


def test_factor_keeps_outcome_shares(setup):
    gen, frame, schema = setup
    release = release_augment(gen, frame, factor=3, schema=schema)
    assert len(release) == 900
    share = release.data["died"].mean()
    assert share == pytest.approx(frame["died"].mean(), abs=1 / 900)


def test_fair_equalises_group_size_and_outcome_share(setup):
    gen, frame, schema = setup
    release = release_augment(gen, frame, fair=True, schema=schema, random_state=0)
    sizes = release.data["sex"].value_counts()
    rates = release.data.groupby("sex")["died"].mean()
    assert abs(sizes["f"] - sizes["m"]) <= 2
    assert rates.max() - rates.min() < 0.01
    assert rates.mean() == pytest.approx(frame["died"].mean(), abs=0.01)
    assert release.stats["strategy"] == "fair"
    assert release.counts()["real"] == len(frame)


def test_plan_matches_release(setup):
    _, frame, schema = setup
    plan = augmentation_plan(frame, schema, balance=["sex"])
    assert [(c["group"], c["added"]) for c in plan["cells"]] == [({"sex": "f"}, 0),
                                                                ({"sex": "m"}, 180)]


@pytest.mark.parametrize("kwargs, error, match", [
    ({"balance": "sex", "factor": 2}, ParameterError, "not both"),
    ({"fair": True, "factor": 2}, ParameterError, "not both"),
    ({}, ParameterError, "needs `balance`"),
    ({"factor": 1.0}, ParameterError, "greater than 1"),
    ({"balance": ["age"]}, SchemaError, "categorical or boolean"),
    ({"balance": ["nope"]}, SchemaError, "not a modelled column"),
    ({"balance": ["patient_id"]}, SchemaError, "not a modelled column"),
])
def test_bad_input(setup, kwargs, error, match):
    gen, frame, schema = setup
    with pytest.raises(error, match=match):
        release_augment(gen, frame, schema=schema, **kwargs)


def test_group_without_records(setup):
    gen, frame, schema = setup
    frame = frame.copy()
    frame["sex"] = pd.Categorical(frame["sex"], categories=["f", "m", "x"])
    with pytest.raises(SchemaError, match="1 of the 3 group"):
        release_augment(gen, frame, balance="sex", schema=schema)
    frame["sex"] = frame["sex"].astype(object)
    frame.loc[frame["sex"] == "m", "died"] = False  # no death among men
    with pytest.raises(SchemaError, match="no records"):
        release_augment(gen, frame, balance=["sex", "target"], schema=schema)


def test_no_target(setup):
    gen, frame, _ = setup
    with pytest.raises(SchemaError, match="target"):
        release_augment(gen, frame, balance="target",
                        schema=infer_schema(frame, sensitive=["sex"]))


@pytest.mark.slow
def test_balancing_target_improves_rare_class_recall_on_aids():
    from synthmed.evaluation.augmentation import evaluate_augmentation

    data = load_dataset("aids")
    train, holdout = train_holdout_split(data.frame, stratify="censor", random_state=0)
    gen = get_generator("bayesian_network").fit(train, schema=data.schema, random_state=0)
    release = release_augment(gen, train, balance="target", schema=data.schema, random_state=0)
    section, plots = evaluate_augmentation(train, release.data, holdout, data.schema,
                                           groups=["sex"])
    assert section.name == "augmentation"
    recall = section.metric("recall")
    assert recall.value > recall.holdout_value + 0.3
    auroc = section.metric("auroc")
    assert auroc.value > auroc.holdout_value - 0.05 and auroc.passed
    assert set(plots["groups"]["sex"]) == {"1", "2"}
    section.metric("eod_sex")  # present


def test_augmentation_section_needs_a_categorical_target(setup):
    from synthmed.evaluation.augmentation import evaluate_augmentation

    _, frame, _ = setup
    schema = infer_schema(frame, target="age")
    with pytest.raises(SchemaError, match="categorical or boolean target"):
        evaluate_augmentation(frame, frame, frame, schema)
